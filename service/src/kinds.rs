//! Typed kinds: a world may give an element kind a JSON Schema (draft 2020-12) for its
//! `attributes`, and a relation kind the element kinds its ends must have.
//!
//! The checks run inside the one write path of each resource ([`crate::element_write`],
//! [`crate::relations::write`]), in the write's transaction and under the world's lock. A
//! kind is changed under the same lock ([`WorldWrite`]), so the kind row a write reads is
//! the current one, whichever server changed it: compiled schemas are cached per
//! (world, kind, row id, version), and the version is read in the write's transaction
//! before the cache is asked.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Utc};
use entity::{element_kinds, relation_kinds, world_elements};
use jsonschema::Validator;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait,
    ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Iterable, ModelTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::{Role, world_access};
use crate::auth::{Actor, Caller};
use crate::changes::{ChangeType, WorldWrite};
use crate::error::{Error, FieldError, Result};
use crate::paging::{Cursor, KeyType, Keyset, Page, PageRequest};
use crate::values::{Checks, Kind, parse_text};
use crate::versioning::{check_if_match, delete_if_version, update_versioned};

/// A schema may be at most this large, as compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// The only `$schema` a kind's schema may name (or leave out).
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
/// One write reports at most this many violations: enough to fill a form's messages,
/// bounded however many a large document breaks.
const MAX_REPORTED_VIOLATIONS: usize = 100;
/// A relation kind names at most this many kinds for each end.
const MAX_END_KINDS: usize = 64;

// ---------------------------------------------------------------------------------------
// Schemas

/// A JSON Schema that is valid against the draft 2020-12 meta-schema, refers to nothing
/// outside itself, is at most [`MAX_SCHEMA_BYTES`], and compiles.
#[derive(Debug, Clone)]
pub struct KindSchema(Value);

impl KindSchema {
    pub fn parse(field: &str, schema: Value) -> std::result::Result<Self, Vec<FieldError>> {
        let size = serde_json::to_vec(&schema).map_or(usize::MAX, |b| b.len());
        if size > MAX_SCHEMA_BYTES {
            return Err(vec![FieldError::new(
                field,
                format!("must be at most {MAX_SCHEMA_BYTES} bytes as compact JSON"),
            )]);
        }
        if !(schema.is_object() || schema.is_boolean()) {
            return Err(vec![FieldError::new(
                field,
                "must be a JSON Schema (an object or a boolean)",
            )]);
        }
        let mut errors = Vec::new();
        if let Some(dialect) = schema.get("$schema")
            && dialect.as_str().map(|d| d.trim_end_matches('#')) != Some(DRAFT_2020_12)
        {
            errors.push(FieldError::new(
                format!("{field}/$schema"),
                format!("must be {DRAFT_2020_12} (the only draft supported), or left out"),
            ));
        }
        outside_references(&schema, &mut String::new(), field, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        // The meta-schema is built into the crate: checking against it fetches nothing.
        if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
            return Err(vec![FieldError::new(
                pointer_field(field, &e.instance_path().to_string()),
                format!("is not valid JSON Schema (draft 2020-12): {}", e.masked()),
            )]);
        }
        if let Err(e) = build(&schema) {
            // The error's instance is the schema: its path names the part that failed.
            return Err(vec![FieldError::new(
                pointer_field(field, &e.instance_path().to_string()),
                format!("cannot be used: {}", e.masked()),
            )]);
        }
        Ok(Self(schema))
    }

    pub fn into_inner(self) -> Value {
        self.0
    }
}

/// Refuses what would make the server fetch anything: every `$ref` and `$dynamicRef` must
/// be a fragment of this document (`#...`). Keywords whose values are instances, not
/// schemas (`const`, `enum`, `default`, `examples`), are not walked: a `$ref` key inside
/// them is data.
fn outside_references(value: &Value, at: &mut String, field: &str, out: &mut Vec<FieldError>) {
    const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                if key == "$ref" || key == "$dynamicRef" {
                    if !child.as_str().is_some_and(|r| r.starts_with('#')) {
                        out.push(FieldError::new(
                            format!("{field}{at}"),
                            "may only refer inside this schema (a reference starting with #)",
                        ));
                    }
                } else if !DATA_KEYWORDS.contains(&key.as_str()) {
                    outside_references(child, at, field, out);
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                outside_references(child, at, field, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// Refuses every retrieval. [`outside_references`] keeps URLs out of schemas already; this
/// makes sure that whatever slips past it fails instead of reaching the network or disk.
struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> std::result::Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(
            format!("{uri} is outside this schema; a kind's schema may not refer outside itself")
                .into(),
        )
    }
}

fn build(schema: &Value) -> std::result::Result<Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(NoRetrieval)
        // Draft 2020-12 makes `format` an annotation by default; someone who writes
        // `"format": "date"` into a world's schema means it.
        .should_validate_formats(true)
        .build(schema)
}

fn compile(schema: &Value) -> std::result::Result<Validator, String> {
    build(schema).map_err(|e| format!("cannot be used: {}", e.masked()))
}

/// `attributes` + a JSON Pointer: `attributes/stats/level`.
fn pointer_field(field: &str, pointer: &str) -> String {
    format!("{field}{pointer}")
}

/// Compiled schemas by (world, kind): the row id and version they were compiled from, so
/// a changed or re-created kind is compiled again. Bounded: when full it starts over.
type Compiled = HashMap<(Uuid, String), (Uuid, i32, Arc<Validator>)>;
static CACHE: LazyLock<Mutex<Compiled>> = LazyLock::new(|| Mutex::new(HashMap::new()));
const CACHE_CAPACITY: usize = 4096;

/// What a world's kinds were at one `worlds.kinds_version`: for each kind asked about, its
/// compiled schema or none. Every kind change bumps that number under the world's lock,
/// so while a write reads the same number with its locked world row, the entry is exact
/// and the write needs no query for it.
type Known = HashMap<(Uuid, i64, String), Option<Arc<Validator>>>;
static KNOWN: LazyLock<Mutex<Known>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn cached(world_id: Uuid, kind: &str, id: Uuid, version: i32) -> Option<Arc<Validator>> {
    let cache = CACHE.lock().ok()?;
    match cache.get(&(world_id, kind.to_owned())) {
        Some((cached_id, cached_version, validator))
            if *cached_id == id && *cached_version == version =>
        {
            Some(validator.clone())
        }
        _ => None,
    }
}

fn remember(world_id: Uuid, kind: &str, id: Uuid, version: i32, validator: Arc<Validator>) {
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert((world_id, kind.to_owned()), (id, version, validator));
    }
}

/// The compiled schema of `kind` in `world_id` as it is in this transaction, if it has one.
/// `kinds_version` is the world's `kinds_version` read under the world's lock in the same
/// transaction (`None` when unknown): with it, a known answer costs no query.
async fn validator_for<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kinds_version: Option<i64>,
    kind: &str,
) -> Result<Option<Arc<Validator>>> {
    if let Some(kinds_version) = kinds_version
        && let Ok(known) = KNOWN.lock()
        && let Some(validator) = known.get(&(world_id, kinds_version, kind.to_owned()))
    {
        return Ok(validator.clone());
    }
    let validator = validator_from_row(db, world_id, kind).await?;
    if let Some(kinds_version) = kinds_version
        && let Ok(mut known) = KNOWN.lock()
    {
        if known.len() >= CACHE_CAPACITY {
            known.clear();
        }
        known.insert(
            (world_id, kinds_version, kind.to_owned()),
            validator.clone(),
        );
    }
    Ok(validator)
}

async fn validator_from_row<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kind: &str,
) -> Result<Option<Arc<Validator>>> {
    let current: Option<(Uuid, i32)> = element_kinds::Entity::find()
        .select_only()
        .column(element_kinds::Column::Id)
        .column(element_kinds::Column::Version)
        .filter(element_kinds::Column::WorldId.eq(world_id))
        .filter(element_kinds::Column::Kind.eq(kind))
        .into_tuple()
        .one(db)
        .await?;
    let Some((id, version)) = current else {
        return Ok(None);
    };
    if let Some(validator) = cached(world_id, kind, id, version) {
        return Ok(Some(validator));
    }
    let row = element_kinds::Entity::find_by_id((id, world_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(format!("kind {id} vanished inside a transaction")))?;
    let validator = Arc::new(
        compile(&row.schema)
            .map_err(|e| Error::internal(&format!("stored schema of kind {id}"), e))?,
    );
    remember(world_id, kind, row.id, row.version, validator.clone());
    Ok(Some(validator))
}

/// One entry per violation of `attributes` against `validator`, `field` = `attributes`
/// followed by the JSON Pointer of the offending value. A missing required property is
/// reported at the property's own pointer (`attributes/race`), where a form shows it.
fn violations(validator: &Validator, attributes: &Value) -> Vec<FieldError> {
    validator
        .iter_errors(attributes)
        .take(MAX_REPORTED_VIOLATIONS)
        .map(|e| {
            let mut pointer = e.instance_path().to_string();
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                && let Some(name) = property.as_str()
            {
                pointer.push('/');
                pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                return FieldError::new(pointer_field("attributes", &pointer), "is required");
            }
            FieldError::new(
                pointer_field("attributes", &pointer),
                e.masked().to_string(),
            )
        })
        .collect()
}

/// Fails with 422 when `kind` has a schema in `world_id` that `attributes` breaks. Called
/// by every element write, inside its transaction.
pub async fn check_attributes<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kinds_version: Option<i64>,
    kind: &str,
    attributes: &Value,
) -> Result<()> {
    let Some(validator) = validator_for(db, world_id, kinds_version, kind).await? else {
        return Ok(());
    };
    let errors = violations(&validator, attributes);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

// ---------------------------------------------------------------------------------------
// Element kinds

/// `Kind` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KindDto {
    pub kind: String,
    pub description: Option<String>,
    /// A JSON Schema (draft 2020-12) for the `attributes` of elements of this kind.
    #[schema(schema_with = json_schema_document)]
    pub schema: Value,
    pub version: i32,
    /// How many elements of the world have this kind now.
    pub element_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KindDto {
    fn new(row: element_kinds::Model, element_count: i64) -> Self {
        Self {
            kind: row.kind,
            description: row.description,
            schema: row.schema,
            version: row.version,
            element_count,
            created_at: row.created_at.with_timezone(&Utc),
            updated_at: row.updated_at.with_timezone(&Utc),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutKindRequest {
    /// Left out: no description (a PUT replaces the whole kind).
    #[serde(default)]
    pub description: Option<String>,
    /// A JSON Schema, draft 2020-12, at most 64 KiB, referring to nothing outside itself.
    #[schema(schema_with = json_schema_document)]
    pub schema: Value,
}

/// How the OpenAPI document shows a JSON Schema: draft 2020-12 allows an object or a
/// boolean (`true` accepts anything, `false` nothing).
fn json_schema_document() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Object))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .build(),
    )
}

/// What a PUT did.
pub struct Put<T> {
    pub resource: T,
    pub created: bool,
}

async fn count_elements<C: ConnectionTrait>(db: &C, world_id: Uuid, kind: &str) -> Result<i64> {
    // An index-only count over world_elements_world_kind_idx.
    let n = world_elements::Entity::find()
        .filter(world_elements::Column::WorldId.eq(world_id))
        .filter(world_elements::Column::Kind.eq(kind))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The two tables of kinds, element kinds and relation kinds: versioned rows named by
/// their world and kind.
trait KindTable: entity::Versioned {
    const WORLD: Self::Column;
    const KIND: Self::Column;
    fn id_and_version(row: &Self::Model) -> (Uuid, i32);
}

impl KindTable for element_kinds::Entity {
    const WORLD: Self::Column = element_kinds::Column::WorldId;
    const KIND: Self::Column = element_kinds::Column::Kind;
    fn id_and_version(row: &Self::Model) -> (Uuid, i32) {
        (row.id, row.version)
    }
}

impl KindTable for relation_kinds::Entity {
    const WORLD: Self::Column = relation_kinds::Column::WorldId;
    const KIND: Self::Column = relation_kinds::Column::Kind;
    fn id_and_version(row: &Self::Model) -> (Uuid, i32) {
        (row.id, row.version)
    }
}

async fn find_row<E: KindTable, C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kind: &str,
) -> Result<Option<E::Model>> {
    Ok(E::find()
        .filter(E::WORLD.eq(world_id))
        .filter(E::KIND.eq(kind))
        .one(db)
        .await?)
}

async fn find_kind<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kind: &str,
) -> Result<Option<element_kinds::Model>> {
    find_row::<element_kinds::Entity, _>(db, world_id, kind).await
}

/// Gives kind `kind` of table `E` the values set in `fields`: a new row at version 1, or a
/// new version of the row there when a value differs (a PUT equal to the current kind
/// keeps its version). 412 when `If-Match` names another version, or any version of a
/// kind that does not exist (RFC 9110: no current representation fails the
/// precondition). Returns the row, whether it was created, and whether it changed.
async fn put_row<E: KindTable>(
    w: &mut WorldWrite,
    kind: Kind,
    if_match: Option<i32>,
    mut fields: E::ActiveModel,
) -> Result<(E::Model, bool, bool)>
where
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelBehavior + Send,
{
    let world_id = w.world_id();
    let Some(current) = find_row::<E, _>(w.txn(), world_id, kind.as_str()).await? else {
        if if_match.is_some() {
            return Err(Error::PreconditionFailed);
        }
        fields.set(E::WORLD, world_id.into());
        fields.set(E::KIND, kind.into_inner().into());
        fields.set(E::version_column(), 1.into());
        return Ok((fields.insert(w.txn()).await?, true, true));
    };
    let (id, version) = E::id_and_version(&current);
    check_if_match(if_match, version)?;
    let unchanged = E::Column::iter().all(|column| match fields.get(column) {
        ActiveValue::Set(value) => current.get(column) == value,
        _ => true,
    });
    if unchanged {
        return Ok((current, false, false));
    }
    let row = update_versioned::<E, _>(w.txn(), id, version, fields).await?;
    Ok((row, false, true))
}

/// Removes a kind of table `E` (editor), at the version `If-Match` names if it names one.
async fn delete_row<E: KindTable>(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    kind: String,
    if_match: Option<i32>,
) -> Result<()> {
    WorldWrite::edit(db, actor, world_id, async |w| {
        let kind = path_kind(kind)?;
        let current = find_row::<E, _>(w.txn(), world_id, kind.as_str())
            .await?
            .ok_or(Error::NotFound)?;
        let (id, version) = E::id_and_version(&current);
        check_if_match(if_match, version)?;
        delete_if_version::<E, _>(w.txn(), id, Some(version)).await?;
        w.record(ChangeType::KindDeleted, id, Some(version), None);
        Ok(())
    })
    .await
}

/// A kind named in a path: a malformed one can name no kind, so it is 404.
fn path_kind(raw: String) -> Result<Kind> {
    Kind::parse("kind", raw).map_err(|_| Error::NotFound)
}

/// Creates or replaces an element kind's schema (editor). Existing elements are neither
/// checked nor changed; the violations list shows the ones that no longer satisfy it.
pub async fn put_kind(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    kind: String,
    if_match: Option<i32>,
    request: PutKindRequest,
) -> Result<Put<KindDto>> {
    WorldWrite::edit(db, actor, world_id, async |w| {
        put_kind_in(w, kind, if_match, request).await
    })
    .await
}

/// Validates a PUT and applies it inside `w`, whose caller was authorized: what the
/// endpoint and an import's kind lines share.
pub async fn put_kind_in(
    w: &mut WorldWrite,
    kind: String,
    if_match: Option<i32>,
    request: PutKindRequest,
) -> Result<Put<KindDto>> {
    let world_id = w.world_id();
    let kind = path_kind(kind)?;
    let mut checks = Checks::default();
    let description = checks.optional(request.description, |d| parse_text("description", d));
    let schema = match KindSchema::parse("schema", request.schema) {
        Ok(schema) => Some(schema),
        Err(errors) => {
            checks.extend(errors);
            None
        }
    };
    checks.finish()?;
    let (Some(description), Some(schema)) = (description, schema) else {
        return Err(Error::Internal("validated fields missing".into()));
    };
    let schema = schema.into_inner();

    let fields = element_kinds::ActiveModel {
        description: Set(description),
        schema: Set(schema),
        ..Default::default()
    };
    let (row, created, changed) =
        put_row::<element_kinds::Entity>(w, kind, if_match, fields).await?;
    let count = count_elements(w.txn(), world_id, &row.kind).await?;
    let dto = KindDto::new(row.clone(), count);
    if changed {
        let data = serde_json::to_value(&dto).map_err(|e| Error::internal("kind JSON", e))?;
        w.record(
            ChangeType::KindUpdated,
            row.id,
            Some(row.version),
            Some(data),
        );
    }
    Ok(Put {
        resource: dto,
        created,
    })
}

pub async fn get_kind(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    kind: String,
) -> Result<KindDto> {
    world_access(db, caller, world_id).await?;
    let kind = path_kind(kind)?;
    let row = find_kind(db, world_id, kind.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    let count = count_elements(db, world_id, &row.kind).await?;
    Ok(KindDto::new(row, count))
}

const KINDS_ORDERING: &str = "kinds:kind";
const RELATION_KINDS_ORDERING: &str = "relation-kinds:kind";

/// The world's element kinds by name, paginated; element counts in one grouped query for
/// the page.
pub async fn list_kinds(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    page: PageRequest,
) -> Result<Page<KindDto>> {
    world_access(db, caller, world_id).await?;
    let query = element_kinds::Entity::find().filter(element_kinds::Column::WorldId.eq(world_id));
    let keyset = Keyset::by_key(
        KINDS_ORDERING,
        element_kinds::Column::Kind,
        KeyType::Text,
        false,
    );
    let rows = keyset.apply(query, &page)?.all(db).await?;
    let kinds: Vec<String> = rows.iter().map(|r| r.kind.clone()).collect();
    let counts: HashMap<String, i64> = world_elements::Entity::find()
        .select_only()
        .column(world_elements::Column::Kind)
        .column_as(world_elements::Column::Id.count(), "n")
        .filter(world_elements::Column::WorldId.eq(world_id))
        .filter(world_elements::Column::Kind.is_in(kinds))
        .group_by(world_elements::Column::Kind)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(keyset.page(
        rows,
        &page,
        |r| (r.kind.clone(), r.id),
        |r| {
            let count = counts.get(&r.kind).copied().unwrap_or(0);
            KindDto::new(r, count)
        },
    ))
}

/// Removes a kind's schema (editor): its elements keep their kind, unvalidated.
pub async fn delete_kind(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    kind: String,
    if_match: Option<i32>,
) -> Result<()> {
    delete_row::<element_kinds::Entity>(db, actor, world_id, kind, if_match).await
}

/// An element that does not satisfy its kind's schema.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViolationDto {
    pub element: ViolatingElement,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViolatingElement {
    pub id: Uuid,
    pub name: String,
}

const VIOLATIONS_ORDERING: &str = "violations:id";
/// Elements read per statement while looking for violations.
const VIOLATIONS_BATCH: u64 = 500;
/// Elements one page looks at, at most: a page of a kind whose elements mostly satisfy
/// its schema would otherwise read the whole kind. A page may therefore hold fewer than
/// `limit` items (even none) and still have a `next_cursor`; the list ends when
/// `next_cursor` is null.
const VIOLATIONS_SCAN_PER_PAGE: usize = 10_000;

/// The elements of `kind` whose attributes do not satisfy its schema, in id order
/// (whoever can read the world). Walks the elements of the kind by keyset over
/// `world_elements_world_kind_idx`, validating each with the cached compiled schema.
pub async fn violations_page(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    kind: String,
    page: PageRequest,
) -> Result<Page<ViolationDto>> {
    world_access(db, caller, world_id).await?;
    let kind = path_kind(kind)?;
    let mut after = match &page.cursor {
        Some(raw) => Some(Cursor::decode(raw, VIOLATIONS_ORDERING)?.id),
        None => None,
    };
    let validator = validator_for(db, world_id, None, kind.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let mut items: Vec<(Uuid, ViolationDto)> = Vec::new();
    let mut scanned = 0usize;
    let mut exhausted = false;
    while items.len() <= limit && scanned < VIOLATIONS_SCAN_PER_PAGE {
        let mut query = world_elements::Entity::find()
            .select_only()
            .column(world_elements::Column::Id)
            .column(world_elements::Column::Name)
            .column(world_elements::Column::Attributes)
            .filter(world_elements::Column::WorldId.eq(world_id))
            .filter(world_elements::Column::Kind.eq(kind.as_str()));
        if let Some(after) = after {
            query = query.filter(world_elements::Column::Id.gt(after));
        }
        let rows: Vec<(Uuid, String, Value)> = query
            .order_by_asc(world_elements::Column::Id)
            .limit(VIOLATIONS_BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let read = rows.len();
        for (id, name, attributes) in rows {
            scanned += 1;
            after = Some(id);
            let errors = violations(&validator, &attributes);
            if !errors.is_empty() {
                items.push((
                    id,
                    ViolationDto {
                        element: ViolatingElement { id, name },
                        errors,
                    },
                ));
                if items.len() > limit {
                    break;
                }
            }
        }
        if (read as u64) < VIOLATIONS_BATCH && items.len() <= limit {
            exhausted = true;
            break;
        }
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|(id, _)| *id)
    } else if exhausted {
        None
    } else {
        // The scan budget ran out: go on after the last element looked at.
        after
    };
    Ok(Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next_cursor: next_cursor.map(|id| {
            Cursor {
                ordering: VIOLATIONS_ORDERING.to_owned(),
                key: String::new(),
                id,
            }
            .encode()
        }),
    })
}

// ---------------------------------------------------------------------------------------
// Relation kinds

/// `RelationKind`: which element kinds a relation kind's ends must have (`null`: any),
/// and the name it is shown under from its target.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelationKindDto {
    pub kind: String,
    pub description: Option<String>,
    pub source_kinds: Option<Vec<String>>,
    pub target_kinds: Option<Vec<String>>,
    pub inverse: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored list of end kinds. Only [`put_relation_kind`] writes the column, always as an
/// array of kinds, so anything else cannot occur and reads as "any kind".
fn kinds_list(value: Option<Value>) -> Option<Vec<String>> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

impl From<relation_kinds::Model> for RelationKindDto {
    fn from(r: relation_kinds::Model) -> Self {
        Self {
            kind: r.kind,
            description: r.description,
            source_kinds: kinds_list(r.source_kinds),
            target_kinds: kinds_list(r.target_kinds),
            inverse: r.inverse,
            version: r.version,
            created_at: r.created_at.with_timezone(&Utc),
            updated_at: r.updated_at.with_timezone(&Utc),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRelationKindRequest {
    #[serde(default)]
    pub description: Option<String>,
    /// The kinds a source may have; left out or `null`: any.
    #[serde(default)]
    pub source_kinds: Option<Vec<String>>,
    /// The kinds a target may have; left out or `null`: any.
    #[serde(default)]
    pub target_kinds: Option<Vec<String>>,
    /// The name the relation is shown under from its target.
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub inverse: Option<String>,
}

/// 1 to 64 distinct kinds, kept in the order given.
fn parse_end_kinds(field: &str, raw: Vec<String>) -> std::result::Result<Value, FieldError> {
    if raw.is_empty() || raw.len() > MAX_END_KINDS {
        return Err(FieldError::new(
            field,
            format!("must list 1 to {MAX_END_KINDS} kinds (leave it out to allow any)"),
        ));
    }
    let mut kinds: Vec<String> = Vec::with_capacity(raw.len());
    for (i, k) in raw.into_iter().enumerate() {
        let kind = Kind::parse(&format!("{field}[{i}]"), k)?.into_inner();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(Value::from(kinds))
}

async fn find_relation_kind<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kind: &str,
) -> Result<Option<relation_kinds::Model>> {
    find_row::<relation_kinds::Entity, _>(db, world_id, kind).await
}

/// Creates or replaces a relation kind (editor). Existing relations are not checked.
pub async fn put_relation_kind(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    kind: String,
    if_match: Option<i32>,
    request: PutRelationKindRequest,
) -> Result<Put<RelationKindDto>> {
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    let kind = path_kind(kind)?;
    let mut checks = Checks::default();
    let description = checks.optional(request.description, |d| parse_text("description", d));
    let source_kinds =
        checks.optional(request.source_kinds, |k| parse_end_kinds("source_kinds", k));
    let target_kinds =
        checks.optional(request.target_kinds, |k| parse_end_kinds("target_kinds", k));
    let inverse = checks.optional(request.inverse, |i| {
        Kind::parse("inverse", i).map(Kind::into_inner)
    });
    checks.finish()?;
    let (Some(description), Some(source_kinds), Some(target_kinds), Some(inverse)) =
        (description, source_kinds, target_kinds, inverse)
    else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    let fields = relation_kinds::ActiveModel {
        description: Set(description),
        source_kinds: Set(source_kinds),
        target_kinds: Set(target_kinds),
        inverse: Set(inverse),
        ..Default::default()
    };
    let (row, created, changed) =
        put_row::<relation_kinds::Entity>(&mut w, kind, if_match, fields).await?;
    let dto = RelationKindDto::from(row.clone());
    if changed {
        let data =
            serde_json::to_value(&dto).map_err(|e| Error::internal("relation kind JSON", e))?;
        w.record(
            ChangeType::KindUpdated,
            row.id,
            Some(row.version),
            Some(data),
        );
    }
    w.commit().await?;
    Ok(Put {
        resource: dto,
        created,
    })
}

pub async fn list_relation_kinds(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    page: PageRequest,
) -> Result<Page<RelationKindDto>> {
    world_access(db, caller, world_id).await?;
    let query = relation_kinds::Entity::find().filter(relation_kinds::Column::WorldId.eq(world_id));
    let keyset = Keyset::by_key(
        RELATION_KINDS_ORDERING,
        relation_kinds::Column::Kind,
        KeyType::Text,
        false,
    );
    let rows = keyset.apply(query, &page)?.all(db).await?;
    Ok(keyset.page(
        rows,
        &page,
        |r| (r.kind.clone(), r.id),
        RelationKindDto::from,
    ))
}

pub async fn delete_relation_kind(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    kind: String,
    if_match: Option<i32>,
) -> Result<()> {
    delete_row::<relation_kinds::Entity>(db, actor, world_id, kind, if_match).await
}

/// Fails with 422 when `kind` is a registered relation kind of `world_id` and an end's
/// element kind is not among those it allows. Called by every relation write that sets
/// a kind or ends, inside its transaction.
pub async fn check_relation_ends<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kind: &str,
    source_kind: &str,
    target_kind: &str,
) -> Result<()> {
    let rule = find_relation_kind(db, world_id, kind).await?;
    relation_ends_allowed(rule.as_ref(), kind, source_kind, target_kind)
}

/// The registered relation kinds among `kinds` in `world_id`, by kind: one query for the
/// rules of many new relations (a bulk create), each checked with
/// [`relation_ends_allowed`].
pub async fn relation_kinds_among<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kinds: Vec<String>,
) -> Result<std::collections::HashMap<String, relation_kinds::Model>> {
    if kinds.is_empty() {
        return Ok(Default::default());
    }
    Ok(relation_kinds::Entity::find()
        .filter(relation_kinds::Column::WorldId.eq(world_id))
        .filter(relation_kinds::Column::Kind.is_in(kinds))
        .all(db)
        .await?
        .into_iter()
        .map(|rule| (rule.kind.clone(), rule))
        .collect())
}

/// Fails with 422 when `rule` (the relation kind `kind`'s, if registered) does not allow
/// a relation between elements of `source_kind` and `target_kind`.
pub fn relation_ends_allowed(
    rule: Option<&relation_kinds::Model>,
    kind: &str,
    source_kind: &str,
    target_kind: &str,
) -> Result<()> {
    let Some(rule) = rule else {
        return Ok(());
    };
    let mut errors = Vec::new();
    for (field, allowed, actual) in [
        (
            "source_id",
            kinds_list(rule.source_kinds.clone()),
            source_kind,
        ),
        (
            "target_id",
            kinds_list(rule.target_kinds.clone()),
            target_kind,
        ),
    ] {
        if let Some(allowed) = allowed
            && !allowed.iter().any(|k| k == actual)
        {
            errors.push(FieldError::new(
                field,
                format!(
                    "a {kind} relation's {} must be an element of kind {} (this one is {actual})",
                    if field == "source_id" {
                        "source"
                    } else {
                        "target"
                    },
                    allowed.join(", "),
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// The `inverse` of each of `kinds` that is a registered relation kind with one.
pub async fn inverses<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    kinds: HashSet<String>,
) -> Result<HashMap<String, String>> {
    if kinds.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Option<String>)> = relation_kinds::Entity::find()
        .select_only()
        .column(relation_kinds::Column::Kind)
        .column(relation_kinds::Column::Inverse)
        .filter(relation_kinds::Column::WorldId.eq(world_id))
        .filter(relation_kinds::Column::Kind.is_in(kinds))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, inverse)| inverse.map(|i| (kind, i)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_that_refer_outside_are_refused() {
        assert!(
            KindSchema::parse("schema", json!({"$ref": "https://example.com/s.json"})).is_err()
        );
        assert!(
            KindSchema::parse(
                "schema",
                json!({"properties": {"a": {"$ref": "other.json"}}})
            )
            .is_err()
        );
        assert!(KindSchema::parse(
            "schema",
            json!({"$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}})
        )
        .is_ok());
        // A `$ref` key inside data is data.
        assert!(KindSchema::parse("schema", json!({"const": {"$ref": "http://x"}})).is_ok());
    }

    #[test]
    fn invalid_schemas_are_refused() {
        assert!(KindSchema::parse("schema", json!({"type": "nonsense"})).is_err());
        assert!(KindSchema::parse("schema", json!({"minimum": "three"})).is_err());
        assert!(KindSchema::parse("schema", json!([1])).is_err());
        assert!(
            KindSchema::parse(
                "schema",
                json!({"$schema": "http://json-schema.org/draft-07/schema#"})
            )
            .is_err()
        );
        assert!(
            KindSchema::parse(
                "schema",
                json!({"$schema": DRAFT_2020_12, "type": "object"})
            )
            .is_ok()
        );
    }

    #[test]
    fn violations_name_the_pointer() {
        let schema = json!({
            "type": "object",
            "required": ["race"],
            "properties": {"stats": {"type": "object", "properties": {"level": {"type": "integer", "minimum": 1}}}}
        });
        let validator = compile(&schema).unwrap();
        let errors = violations(&validator, &json!({"stats": {"level": 0}}));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"attributes/stats/level"), "{errors:?}");
        assert!(fields.contains(&"attributes/race"), "{errors:?}");
        assert_eq!(errors.len(), 2);
    }
}
