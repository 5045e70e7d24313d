//! `POST .../batch`: up to 1,000 element and relation writes applied all or nothing, in
//! one [`WorldWrite`]. Each operation is validated and written exactly as a single request
//! would be: updates and deletes by the single endpoint's use case (`*_in`); creates by
//! its request parsing (`parse_create`) and the bulk form of the same write path
//! (`create_many`), consecutive creates together. Only `$ref` resolution and naming the
//! failing operation are batch's own.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Role;
use crate::auth::Actor;
use crate::changes::WorldWrite;
use crate::element_write::{self, BulkError, NewElement};
use crate::elements::{self, ElementDto};
use crate::error::{Error, FieldError, Result};
use crate::json_body;
use crate::relations::{self, NewRelation, RelationDto};

/// At most this many operations in one batch.
pub const MAX_OPERATIONS: usize = 1000;

/// The fields of a body where an id may be given as `"$<ref>"`.
const REFERENCE_FIELDS: [&str; 3] = ["parent_id", "source_id", "target_id"];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 operations, applied in order.
    #[schema(min_items = 1, max_items = 1000)]
    pub operations: Vec<BatchOperation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchOp {
    CreateElement,
    UpdateElement,
    DeleteElement,
    CreateRelation,
    UpdateRelation,
    DeleteRelation,
}

impl BatchOp {
    fn creates(self) -> bool {
        matches!(self, BatchOp::CreateElement | BatchOp::CreateRelation)
    }

    fn takes_body(self) -> bool {
        !matches!(self, BatchOp::DeleteElement | BatchOp::DeleteRelation)
    }
}

/// One operation: `body` is what the single endpoint takes; `id` names the resource an
/// update or delete is about; `if_match` is a version, as the endpoint's `If-Match`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchOperation {
    pub op: BatchOp,
    /// On a create: a name, unique in the batch, that later operations write as
    /// `"$<ref>"` wherever an id is expected (`id`, `parent_id`, `source_id`, `target_id`).
    #[serde(rename = "ref", default)]
    #[schema(max_length = 200)]
    pub reference: Option<String>,
    /// The element or relation of an update or delete: a UUID or `"$<ref>"`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub if_match: Option<i32>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub body: Option<Value>,
}

/// The resource an operation left behind, as its single endpoint returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BatchResource {
    Element(ElementDto),
    Relation(RelationDto),
}

/// One operation's result: the status its single endpoint would have answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    #[schema(example = 201)]
    pub status: u16,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `null` for a delete.
    pub resource: Option<BatchResource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

/// Applies every operation in order in one transaction, or none: the first failure rolls
/// everything back and is answered with its own status, `errors[].field` naming the
/// operation (`operations[3].body.name`).
pub async fn apply(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    request: BatchRequest,
) -> Result<BatchResponse> {
    // Authorize before validating: a stranger learns nothing from 422s.
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    let count = request.operations.len();
    if !(1..=MAX_OPERATIONS).contains(&count) {
        return Err(Error::validation(
            "operations",
            format!("must hold 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    let mut refs: HashMap<String, Uuid> = HashMap::new();
    let mut results = Vec::with_capacity(count);
    let mut pending = Pending::None;
    for (index, operation) in request.operations.into_iter().enumerate() {
        let step = match check(&mut refs, operation) {
            Ok(step) => step,
            Err(error) => {
                // The creates waiting to be written come first: one of them may fail.
                pending.write(&mut w, &mut results).await?;
                return Err(error.in_operation(index));
            }
        };
        match step {
            Step::CreateElement(reference, row) => {
                if !matches!(pending, Pending::Elements(_)) {
                    pending.write(&mut w, &mut results).await?;
                    pending = Pending::Elements(Vec::new());
                }
                if let Pending::Elements(creates) = &mut pending {
                    creates.push((index, reference, row));
                }
            }
            Step::CreateRelation(reference, row) => {
                if !matches!(pending, Pending::Relations(_)) {
                    pending.write(&mut w, &mut results).await?;
                    pending = Pending::Relations(Vec::new());
                }
                if let Pending::Relations(creates) = &mut pending {
                    creates.push((index, reference, row));
                }
            }
            Step::Other(checked) => {
                pending.write(&mut w, &mut results).await?;
                let result = run(&mut w, checked)
                    .await
                    .map_err(|e| e.in_operation(index))?;
                results.push(result);
            }
        }
    }
    pending.write(&mut w, &mut results).await?;
    // Dropping `w` on an error above rolls the whole batch back.
    w.commit().await?;
    Ok(BatchResponse { results })
}

/// Creates read and checked on their own but not yet written: consecutive operations
/// that create elements (or relations), written together with the bulk form of the
/// write path, which checks and writes them as one by one, in order. Each with its
/// operation's index and `ref`.
enum Pending {
    None,
    Elements(Vec<(usize, Option<String>, (Uuid, NewElement))>),
    Relations(Vec<(usize, Option<String>, (Uuid, NewRelation))>),
}

impl Pending {
    /// Writes the waiting creates and adds their results; a failure names its operation.
    async fn write(&mut self, w: &mut WorldWrite, results: &mut Vec<BatchResult>) -> Result<()> {
        let failed = |indices: &[usize], e: BulkError| match e.index {
            Some(i) => OpError::from(e.error).in_operation(indices.get(i).copied().unwrap_or(0)),
            None => e.error,
        };
        match std::mem::replace(self, Pending::None) {
            Pending::None => {}
            Pending::Elements(creates) => {
                let (indices, references, rows) = split(creates);
                let made = element_write::create_many(w, rows)
                    .await
                    .map_err(|e| failed(&indices, e))?;
                for (element, reference) in made.into_iter().zip(references) {
                    results.push(BatchResult {
                        status: 201,
                        reference,
                        resource: Some(BatchResource::Element(element.into())),
                    });
                }
            }
            Pending::Relations(creates) => {
                let (indices, references, rows) = split(creates);
                let made = relations::write::create_many(w, rows)
                    .await
                    .map_err(|e| failed(&indices, e))?;
                for (relation, reference) in made.into_iter().zip(references) {
                    results.push(BatchResult {
                        status: 201,
                        reference,
                        resource: Some(BatchResource::Relation(relation.into())),
                    });
                }
            }
        }
        Ok(())
    }
}

type Split<T> = (Vec<usize>, Vec<Option<String>>, Vec<(Uuid, T)>);

fn split<T>(creates: Vec<(usize, Option<String>, (Uuid, T))>) -> Split<T> {
    let mut split = (
        Vec::with_capacity(creates.len()),
        Vec::with_capacity(creates.len()),
        Vec::with_capacity(creates.len()),
    );
    for (index, reference, row) in creates {
        split.0.push(index);
        split.1.push(reference);
        split.2.push(row);
    }
    split
}

/// Where in an operation a failure lies, before it is placed under `operations[i]`.
struct OpError {
    error: Error,
    /// The field of the operation the error is about (`id`, `if_match`, `body`...);
    /// validation errors carry their own fields, placed under `body`.
    field: &'static str,
}

impl From<Error> for OpError {
    fn from(error: Error) -> Self {
        let field = match &error {
            Error::NotFound => "id",
            Error::PreconditionFailed => "if_match",
            _ => "body",
        };
        OpError { error, field }
    }
}

impl OpError {
    fn validation(field: &'static str, message: impl Into<String>) -> Self {
        OpError {
            error: Error::validation(field, message),
            field: "",
        }
    }

    /// The error as the batch answers it. Failures that are not about the operation
    /// (the database is unavailable, say) pass through as they are.
    fn in_operation(self, index: usize) -> Error {
        let at = format!("operations[{index}]");
        let errors = match &self.error {
            Error::Validation(errors) => errors
                .iter()
                .map(|e| {
                    let field = if self.field.is_empty() {
                        format!("{at}.{}", e.field)
                    } else {
                        format!("{at}.{}.{}", self.field, e.field)
                    };
                    FieldError::new(field, e.message.clone())
                })
                .collect(),
            Error::NotFound | Error::PreconditionFailed | Error::Conflict(_) => {
                let message = match &self.error {
                    Error::NotFound => "no such resource".to_owned(),
                    Error::PreconditionFailed => "does not match the current version".to_owned(),
                    Error::Conflict(why) => why.clone(),
                    other => other.to_string(),
                };
                vec![FieldError::new(format!("{at}.{}", self.field), message)]
            }
            _ => return self.error,
        };
        Error::InOperation {
            cause: Box::new(self.error),
            errors,
        }
    }
}

/// An operation, checked on its own.
enum Step {
    /// A create, its id chosen (later operations may name its `ref`), to be written with
    /// the creates next to it.
    CreateElement(Option<String>, (Uuid, NewElement)),
    CreateRelation(Option<String>, (Uuid, NewRelation)),
    /// An update or delete, with its id and body resolved.
    Other(Checked),
}

struct Checked {
    op: BatchOp,
    id: Option<Uuid>,
    if_match: Option<i32>,
    body: Option<Value>,
}

/// Checks an operation's shape, resolves its `$ref`s and, for a create, its body as the
/// single endpoint does; a create's `ref` is known from here on.
fn check(refs: &mut HashMap<String, Uuid>, operation: BatchOperation) -> Result<Step, OpError> {
    let op = operation.op;
    if operation.reference.is_some() && !op.creates() {
        return Err(OpError::validation("ref", "only a create may carry a ref"));
    }
    if let Some(reference) = &operation.reference {
        if reference.is_empty() || reference.chars().count() > 200 {
            return Err(OpError::validation("ref", "must be 1 to 200 characters"));
        }
        if refs.contains_key(reference) {
            return Err(OpError::validation(
                "ref",
                "is already used by an earlier operation of this batch",
            ));
        }
    }
    if op.creates() && (operation.id.is_some() || operation.if_match.is_some()) {
        return Err(OpError::validation(
            if operation.id.is_some() {
                "id"
            } else {
                "if_match"
            },
            "a create takes no id or if_match",
        ));
    }
    let id = match (op.creates(), operation.id) {
        (true, _) => None,
        (false, Some(raw)) => {
            Some(resolve_id(refs, &raw).map_err(|m| OpError::validation("id", m))?)
        }
        (false, None) => return Err(OpError::validation("id", "is required")),
    };
    let body = match (op.takes_body(), operation.body) {
        (true, Some(body)) => Some(resolve_body(refs, body)?),
        (true, None) => return Err(OpError::validation("body", "is required")),
        (false, Some(_)) => return Err(OpError::validation("body", "a delete takes no body")),
        (false, None) => None,
    };
    let reference = operation.reference;
    let mut remember = |id: Uuid| {
        if let Some(reference) = &reference {
            refs.insert(reference.clone(), id);
        }
    };
    Ok(match (op, body) {
        (BatchOp::CreateElement, Some(body)) => {
            let new = elements::parse_create(parse(body)?)?;
            let id = element_write::new_id(&new);
            remember(id);
            Step::CreateElement(reference, (id, new))
        }
        (BatchOp::CreateRelation, Some(body)) => {
            let new = relations::parse_create(parse(body)?)?;
            let id = relations::write::new_id(&new);
            remember(id);
            Step::CreateRelation(reference, (id, new))
        }
        (op, body) => Step::Other(Checked {
            op,
            id,
            if_match: operation.if_match,
            body,
        }),
    })
}

/// Applies an update or delete, as its single endpoint would.
async fn run(w: &mut WorldWrite, checked: Checked) -> Result<BatchResult, OpError> {
    let Checked {
        op,
        id,
        if_match,
        body,
    } = checked;
    let (status, resource) = match (op, id, body) {
        (BatchOp::UpdateElement, Some(id), Some(body)) => {
            let element = elements::update_in(w, id, if_match, parse(body)?).await?;
            (200, Some(BatchResource::Element(element.into())))
        }
        (BatchOp::DeleteElement, Some(id), None) => {
            elements::delete_in(w, id, if_match).await?;
            (204, None)
        }
        (BatchOp::UpdateRelation, Some(id), Some(body)) => {
            let relation = relations::update_in(w, id, if_match, parse(body)?).await?;
            (200, Some(BatchResource::Relation(relation.into())))
        }
        (BatchOp::DeleteRelation, Some(id), None) => {
            relations::delete_in(w, id, if_match).await?;
            (204, None)
        }
        _ => return Err(Error::Internal("batch operation checks out of step".into()).into()),
    };
    Ok(BatchResult {
        status,
        reference: None,
        resource,
    })
}

/// The body as the single endpoint's request type; a field error is placed under `body`.
fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, OpError> {
    json_body::from_value(body).map_err(|e| OpError {
        error: Error::Validation(vec![e]),
        field: "body",
    })
}

/// An id as a batch may write it: a UUID, or `"$<ref>"` of an earlier create.
fn resolve_id(refs: &HashMap<String, Uuid>, raw: &str) -> std::result::Result<Uuid, String> {
    match raw.strip_prefix('$') {
        Some(reference) => refs
            .get(reference)
            .copied()
            .ok_or_else(|| format!("no earlier operation of this batch has ref `{reference}`")),
        None => raw
            .parse()
            .map_err(|_| "must be a UUID or \"$<ref>\"".to_owned()),
    }
}

/// Replaces `"$<ref>"` in the body's id fields with the ids they stand for.
fn resolve_body(refs: &HashMap<String, Uuid>, mut body: Value) -> Result<Value, OpError> {
    if let Value::Object(fields) = &mut body {
        for name in REFERENCE_FIELDS {
            if let Some(Value::String(raw)) = fields.get(name)
                && raw.starts_with('$')
            {
                let id = resolve_id(refs, raw).map_err(|m| OpError {
                    error: Error::validation(name, m),
                    field: "body",
                })?;
                fields.insert(name.to_owned(), Value::String(id.to_string()));
            }
        }
    }
    Ok(body)
}
