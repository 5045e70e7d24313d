//! Relations between two elements of one world ("Ada *mentors* Bran").
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::element_relations::{self, Column};
use entity::world_elements;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::world_access;
use crate::auth::{Actor, Caller};
use crate::changes::{ChangeType, WorldWrite};
use crate::error::{Error, Result, is_unique_violation};
use crate::kinds;
use crate::paging::{Keyset, Page, PageRequest, into_page};
use crate::patch::{merge_document, reject_null};
use crate::values::{Checks, Kind, parse_document, parse_object};
use crate::versioning::{changed_to, check_if_match, update_versioned};

/// `Relation` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelationDto {
    pub id: Uuid,
    pub world_id: Uuid,
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub kind: String,
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<element_relations::Model> for RelationDto {
    fn from(r: element_relations::Model) -> Self {
        Self {
            id: r.id,
            world_id: r.world_id,
            source_id: r.source_id,
            target_id: r.target_id,
            kind: r.kind,
            attributes: r.attributes,
            version: r.version,
            created_at: r.created_at.with_timezone(&Utc),
            updated_at: r.updated_at.with_timezone(&Utc),
        }
    }
}

/// The far end of a relation, as embedded in an element's relation list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OtherEnd {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
}

/// A relation of an element, with its other end.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ElementRelationDto {
    #[serde(flatten)]
    pub relation: RelationDto,
    pub other: OtherEnd,
    /// Only with `direction=in`: the name the relation is shown under from its target
    /// (its relation kind's `inverse`), `null` when its kind has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub inverse_kind: Option<Option<String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRelationRequest {
    pub source_id: Uuid,
    pub target_id: Uuid,
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: String,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRelationRequest {
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    /// A JSON Merge Patch (RFC 7396) applied to the stored attributes.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
}

/// Which relations of an element to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The element is the source.
    Out,
    /// The element is the target.
    In,
    #[default]
    Both,
}

fn duplicate() -> Error {
    Error::Conflict("a relation of this kind between these elements already exists".into())
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    request: CreateRelationRequest,
) -> Result<RelationDto> {
    let relation =
        WorldWrite::edit(db, actor, world_id, async |w| create_in(w, request).await).await?;
    Ok(relation.into())
}

/// Validates a create request and creates the relation inside `w`, whose caller was
/// authorized: what the endpoint and a batch's `create_relation` share.
pub async fn create_in(
    w: &mut WorldWrite,
    request: CreateRelationRequest,
) -> Result<element_relations::Model> {
    write::create(w, parse_create(request)?).await
}

/// Validates a create request's fields (the ends are checked in the write).
pub fn parse_create(request: CreateRelationRequest) -> Result<NewRelation> {
    let mut checks = Checks::default();
    let kind = checks.check(Kind::parse("kind", request.kind));
    let attributes = checks.check(parse_document(
        "attributes",
        request.attributes.unwrap_or_else(|| serde_json::json!({})),
    ));
    checks.finish()?;
    let (Some(kind), Some(attributes)) = (kind, attributes) else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    Ok(NewRelation {
        source_id: request.source_id,
        target_id: request.target_id,
        kind,
        attributes,
        preserved: None,
    })
}

/// The kinds of a relation's ends. Fails with a 422 naming each end that is not an
/// element of `world_id`.
async fn check_ends<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
) -> Result<(String, String)> {
    let found = element_kinds(db, world_id, vec![source_id, target_id]).await?;
    ends_in(&found, source_id, target_id)
}

/// The kind of each of `ids` that is an element of `world_id`.
async fn element_kinds<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    // By id alone, the world compared here: with the world in the condition, PostgreSQL
    // may read a world that is being imported (and has no statistics yet) through a
    // world index, every row of it for every chunk of relations.
    Ok(world_elements::Entity::find()
        .select_only()
        .column(world_elements::Column::Id)
        .column(world_elements::Column::WorldId)
        .column(world_elements::Column::Kind)
        .filter(world_elements::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .filter(|(_, world, _)| *world == world_id)
        .map(|(id, _, kind)| (id, kind))
        .collect())
}

/// The kinds of a relation's ends among the elements `found` (by id), or a 422 naming
/// each end that is not one of them.
fn ends_in(
    found: &HashMap<Uuid, String>,
    source_id: Uuid,
    target_id: Uuid,
) -> Result<(String, String)> {
    if let (Some(source), Some(target)) = (found.get(&source_id), found.get(&target_id)) {
        return Ok((source.clone(), target.clone()));
    }
    let errors = [("source_id", source_id), ("target_id", target_id)]
        .into_iter()
        .filter(|(_, id)| !found.contains_key(id))
        .map(|(field, _)| crate::FieldError::new(field, "must name an element of this world"))
        .collect();
    Err(Error::Validation(errors))
}

async fn find_in_world<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    relation_id: Uuid,
) -> Result<element_relations::Model> {
    element_relations::Entity::find_by_id((relation_id, world_id))
        .filter(Column::WorldId.eq(world_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn get(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    relation_id: Uuid,
) -> Result<RelationDto> {
    world_access(db, caller, world_id).await?;
    find_in_world(db, world_id, relation_id)
        .await
        .map(RelationDto::from)
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    relation_id: Uuid,
    if_match: Option<i32>,
    request: UpdateRelationRequest,
) -> Result<RelationDto> {
    let updated = WorldWrite::edit(db, actor, world_id, async |w| {
        update_in(w, relation_id, if_match, request).await
    })
    .await?;
    Ok(updated.into())
}

/// Validates an update request and applies it inside `w`, whose caller was authorized:
/// what the endpoint and a batch's `update_relation` share.
pub async fn update_in(
    w: &mut WorldWrite,
    relation_id: Uuid,
    if_match: Option<i32>,
    request: UpdateRelationRequest,
) -> Result<element_relations::Model> {
    let world_id = w.world_id();
    let mut checks = Checks::default();
    let kind = request
        .kind
        .and_then(|k| checks.check(Kind::parse("kind", k)));
    let patch = request
        .attributes
        .and_then(|a| checks.check(parse_object("attributes", a)));
    checks.finish()?;

    let current = find_in_world(w.txn(), world_id, relation_id).await?;
    check_if_match(if_match, current.version)?;
    let edit = RelationEdit {
        attributes: patch
            .map(|patch| merge_document("attributes", current.attributes.clone(), &patch))
            .transpose()?,
        kind: kind.map(Kind::into_inner),
    };
    write::update(w, current, edit).await
}

pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    relation_id: Uuid,
    if_match: Option<i32>,
) -> Result<()> {
    WorldWrite::edit(db, actor, world_id, async |w| {
        delete_in(w, relation_id, if_match).await
    })
    .await
}

/// Deletes a relation inside `w`, whose caller was authorized: what the endpoint and a
/// batch's `delete_relation` share.
pub async fn delete_in(w: &mut WorldWrite, relation_id: Uuid, if_match: Option<i32>) -> Result<()> {
    let current = find_in_world(w.txn(), w.world_id(), relation_id).await?;
    check_if_match(if_match, current.version)?;
    write::delete(w, current).await
}

/// The relation's revisions, newest first.
pub async fn history(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    relation_id: Uuid,
    page: PageRequest,
) -> Result<Page<crate::changes::RevisionDto>> {
    crate::changes::history(
        db,
        caller,
        world_id,
        crate::changes::Resource::Relation(relation_id),
        page,
    )
    .await
}

/// A new relation's fields, validated (the ends are checked in the write).
pub struct NewRelation {
    pub source_id: Uuid,
    pub target_id: Uuid,
    pub kind: Kind,
    pub attributes: Value,
    /// Set by an import: the id and timestamps to keep.
    pub preserved: Option<crate::versioning::Preserved>,
}

/// New values for a relation's fields; `None` leaves a field as it is.
#[derive(Default)]
pub struct RelationEdit {
    pub kind: Option<String>,
    pub attributes: Option<Value>,
}

/// The one write path of relations: every entry point that creates, changes or deletes a
/// relation calls these inside a [`WorldWrite`].
pub mod write {
    use super::*;

    use crate::element_write::BulkError;
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{IntoActiveModel, QueryTrait};

    pub fn relation_json(relation: &element_relations::Model) -> Value {
        serde_json::to_value(RelationDto::from(relation.clone())).unwrap_or(Value::Null)
    }

    pub async fn create(w: &mut WorldWrite, new: NewRelation) -> Result<element_relations::Model> {
        let (source_kind, target_kind) =
            check_ends(w.txn(), w.world_id(), new.source_id, new.target_id).await?;
        kinds::check_relation_ends(
            w.txn(),
            w.world_id(),
            new.kind.as_str(),
            &source_kind,
            &target_kind,
        )
        .await?;
        let row = new_row(w, new_id(&new), new);
        let relation = row.into_active_model().insert(w.txn()).await.map_err(|e| {
            if is_unique_violation(&e) {
                duplicate()
            } else {
                e.into()
            }
        })?;
        created(w, &relation);
        Ok(relation)
    }

    /// The id a new relation gets: the one an import keeps, or a new one.
    pub fn new_id(new: &NewRelation) -> Uuid {
        new.preserved.map_or_else(Uuid::now_v7, |p| p.id)
    }

    /// A new relation's row, for every create (one or many), once its ends and kind are
    /// checked. An import keeps the times it maps.
    fn new_row(w: &WorldWrite, id: Uuid, new: NewRelation) -> element_relations::Model {
        let at = crate::versioning::now();
        let (created_at, updated_at) = new
            .preserved
            .map_or((at, at), |p| (p.created_at, p.updated_at));
        element_relations::Model {
            id,
            world_id: w.world_id(),
            source_id: new.source_id,
            target_id: new.target_id,
            kind: new.kind.into_inner(),
            attributes: new.attributes,
            version: 1,
            created_at,
            updated_at,
        }
    }

    /// What reacts to a new relation once its row is written, for every create (one or
    /// many): the change log.
    fn created(w: &mut WorldWrite, relation: &element_relations::Model) {
        w.record(
            ChangeType::RelationCreated,
            relation.id,
            Some(relation.version),
            Some(relation_json(relation)),
        );
    }

    /// Creates `rows` (each with the id [`new_id`] chose for it) as [`create`] would, one
    /// after the other, but with one query for the ends, one for the relation kinds and
    /// one multi-row `INSERT` per chunk of rows. On failure: the first row that fails,
    /// with the error [`create`] would have answered for it. The caller rolls back.
    pub async fn create_many(
        w: &mut WorldWrite,
        rows: Vec<(Uuid, NewRelation)>,
    ) -> std::result::Result<Vec<element_relations::Model>, BulkError> {
        let per_statement = crate::seed::batch_rows(w.backend(), crate::seed::RELATION_COLUMNS);
        crate::element_write::in_chunks(w, rows, per_statement, create_chunk).await
    }

    async fn create_chunk(
        w: &mut WorldWrite,
        chunk: Vec<(Uuid, NewRelation)>,
    ) -> std::result::Result<Vec<element_relations::Model>, BulkError> {
        let world_id = w.world_id();
        let mut ends: Vec<Uuid> = chunk
            .iter()
            .flat_map(|(_, r)| [r.source_id, r.target_id])
            .collect();
        ends.sort_unstable();
        ends.dedup();
        let mut found = HashMap::with_capacity(ends.len());
        for part in ends.chunks(crate::seed::batch_rows(w.backend(), 1)) {
            found.extend(element_kinds(w.txn(), world_id, part.to_vec()).await?);
        }
        let mut kind_names: Vec<String> = chunk
            .iter()
            .map(|(_, r)| r.kind.as_str().to_owned())
            .collect();
        kind_names.sort_unstable();
        kind_names.dedup();
        let rules = kinds::relation_kinds_among(w.txn(), world_id, kind_names).await?;
        let mut models = Vec::with_capacity(chunk.len());
        let mut failure = None;
        let mut ids = std::collections::HashSet::with_capacity(chunk.len());
        for (index, (id, new)) in chunk.into_iter().enumerate() {
            if !ids.insert(id) {
                // The same id twice (an import's file can say so).
                failure = Some(BulkError::at(index, duplicate()));
                break;
            }
            let checked = ends_in(&found, new.source_id, new.target_id).and_then(|(s, t)| {
                let kind = new.kind.as_str();
                kinds::relation_ends_allowed(rules.get(kind), kind, &s, &t)
            });
            if let Err(error) = checked {
                failure = Some(BulkError::at(index, error));
                break;
            }
            models.push(new_row(w, id, new));
        }
        // The rows before a failing one are inserted too: one of them may be a duplicate,
        // which the single create would have refused first.
        let inserted = insert_new(w, &models).await?;
        if let Some(index) = models.iter().position(|m| !inserted.contains(&m.id)) {
            return Err(BulkError::at(index, duplicate()));
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        for relation in &models {
            created(w, relation);
        }
        Ok(models)
    }

    /// Inserts `models` in one statement, skipping those that break a unique key (their id,
    /// or their ends and kind); returns the ids inserted.
    async fn insert_new(
        w: &WorldWrite,
        models: &[element_relations::Model],
    ) -> Result<std::collections::HashSet<Uuid>> {
        if models.is_empty() {
            return Ok(Default::default());
        }
        let rows = match w.backend() {
            sea_orm::DbBackend::Postgres => {
                let insert =
                    crate::bulk_insert::relations(models, "ON CONFLICT DO NOTHING RETURNING id")?;
                w.txn().query_all_raw(insert).await?
            }
            _ => {
                let mut insert = element_relations::Entity::insert_many(
                    models
                        .iter()
                        .cloned()
                        .map(element_relations::ActiveModel::from),
                )
                .on_conflict(OnConflict::new().do_nothing().to_owned())
                .into_query();
                insert.returning_col(Column::Id);
                w.txn().query_all(&insert).await?
            }
        };
        rows.iter()
            .map(|row| row.try_get::<Uuid>("", "id").map_err(Error::from))
            .collect()
    }

    /// Applies `edit` as one new version; values equal to the current ones are no
    /// change, and an edit that changes nothing keeps the version and records nothing.
    pub async fn update(
        w: &mut WorldWrite,
        current: element_relations::Model,
        edit: RelationEdit,
    ) -> Result<element_relations::Model> {
        let mut changes = <element_relations::ActiveModel as Default>::default();
        let mut edited = current.clone();
        let mut changed = changed_to(edit.kind, &mut edited.kind, &mut changes.kind);
        changed |= changed_to(
            edit.attributes,
            &mut edited.attributes,
            &mut changes.attributes,
        );
        if !changed {
            return Ok(current);
        }
        // Every change is checked against the relation kind's rule as the relation will
        // be (a new kind may allow other ends), like every change of an element against
        // its kind's schema.
        let kind = match &changes.kind {
            sea_orm::ActiveValue::Set(kind) => kind.as_str(),
            _ => current.kind.as_str(),
        };
        let (source_kind, target_kind) =
            check_ends(w.txn(), w.world_id(), current.source_id, current.target_id).await?;
        kinds::check_relation_ends(w.txn(), w.world_id(), kind, &source_kind, &target_kind).await?;
        let updated = update_versioned::<element_relations::Entity, _>(
            w.txn(),
            current.id,
            current.version,
            changes,
        )
        .await
        .map_err(|e| match e {
            // Renaming the kind onto an existing (source, target, kind).
            Error::Conflict(_) => duplicate(),
            e => e,
        })?;
        w.record(
            ChangeType::RelationUpdated,
            updated.id,
            Some(updated.version),
            Some(relation_json(&updated)),
        );
        Ok(updated)
    }

    pub async fn delete(w: &mut WorldWrite, current: element_relations::Model) -> Result<()> {
        element_relations::Entity::delete_by_id((current.id, current.world_id))
            .exec(w.txn())
            .await?;
        w.record(
            ChangeType::RelationDeleted,
            current.id,
            Some(current.version),
            None,
        );
        Ok(())
    }
}

const ELEMENT_RELATIONS_ORDERING: &str = "relations:created_at";

/// An element's relations, oldest first, each with its other end embedded.
pub async fn list_for_element(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    element_id: Uuid,
    direction: Direction,
    kind: Option<String>,
    page: PageRequest,
) -> Result<Page<ElementRelationDto>> {
    world_access(db, caller, world_id).await?;
    let kind = kind
        .map(|k| Kind::parse("kind", k))
        .transpose()
        .map_err(|e| Error::Validation(vec![e]))?;
    world_elements::Entity::find_by_id((element_id, world_id))
        .filter(world_elements::Column::WorldId.eq(world_id))
        .count(db)
        .await
        .map_err(Error::from)
        .and_then(|n| if n == 0 { Err(Error::NotFound) } else { Ok(()) })?;

    let keyset = Keyset::oldest_first(ELEMENT_RELATIONS_ORDERING, Column::CreatedAt, Column::Id);
    // Each end is read from its own index, `(end, kind, created_at, id)` with a kind and
    // `(end, created_at, id)` without, in list order: a page costs a page, however many
    // relations the element has. Both ends: the two ordered reads, merged.
    let one_end = |end: Condition| {
        let mut query = element_relations::Entity::find().filter(end);
        if let Some(kind) = &kind {
            query = query.filter(Column::Kind.eq(kind.as_str()));
        }
        keyset.apply(query, &page)
    };
    let rows = match direction {
        Direction::Out => {
            one_end(Condition::all().add(Column::SourceId.eq(element_id)))?
                .all(db)
                .await?
        }
        Direction::In => {
            one_end(Condition::all().add(Column::TargetId.eq(element_id)))?
                .all(db)
                .await?
        }
        Direction::Both => {
            let outgoing = one_end(Condition::all().add(Column::SourceId.eq(element_id)))?;
            // A relation from the element to itself is in the outgoing half already.
            let incoming = one_end(
                Condition::all()
                    .add(Column::TargetId.eq(element_id))
                    .add(Column::SourceId.ne(element_id)),
            )?;
            let (mut outgoing, mut incoming) = (outgoing.all(db).await?, incoming.all(db).await?);
            outgoing.append(&mut incoming);
            outgoing.sort_by_key(|r| (r.created_at, r.id));
            outgoing.truncate(page.limit as usize + 1);
            outgoing
        }
    };

    // One query for every other end on the page, not one per relation.
    let other_ids: Vec<Uuid> = rows
        .iter()
        .map(|r| {
            if r.source_id == element_id {
                r.target_id
            } else {
                r.source_id
            }
        })
        .collect();
    let others: HashMap<Uuid, OtherEnd> = world_elements::Entity::find()
        .select_only()
        .column(world_elements::Column::Id)
        .column(world_elements::Column::Kind)
        .column(world_elements::Column::Name)
        .filter(world_elements::Column::Id.is_in(other_ids))
        .into_tuple::<(Uuid, String, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, kind, name)| (id, OtherEnd { id, kind, name }))
        .collect();
    // Incoming relations are shown under their kind's inverse name: one query for the
    // kinds on the page.
    let inverses = if direction == Direction::In {
        Some(kinds::inverses(db, world_id, rows.iter().map(|r| r.kind.clone()).collect()).await?)
    } else {
        None
    };

    let mut page = into_page(
        rows,
        page.limit,
        ELEMENT_RELATIONS_ORDERING,
        |r| (r.created_at.to_rfc3339(), r.id),
        |r| r,
    );
    let items = std::mem::take(&mut page.items)
        .into_iter()
        .filter_map(|r| {
            let other_id = if r.source_id == element_id {
                r.target_id
            } else {
                r.source_id
            };
            let other = others.get(&other_id)?;
            let inverse_kind = inverses.as_ref().map(|i| i.get(&r.kind).cloned());
            Some(ElementRelationDto {
                inverse_kind,
                other: OtherEnd {
                    id: other.id,
                    kind: other.kind.clone(),
                    name: other.name.clone(),
                },
                relation: r.into(),
            })
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}
