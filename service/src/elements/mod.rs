//! Elements of a world: characters, places, factions, items, lore. The use cases live
//! here; the wire shapes in `dto`, the list and its query in `list` and `list_plan`.
use entity::world_elements::{self, Column};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    Statement,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::access::{Role, world_access, world_access_with_element};
use crate::auth::{Actor, Caller};
use crate::changes::{self, Resource, WorldWrite};
use crate::element_write::{self, ElementEdit, NewElement};
use crate::error::{Error, Result};
use crate::patch::merge_document;
use crate::values::{Checks, Kind, Name, Tags, parse_document, parse_object, parse_text};
use crate::versioning::check_if_match;

mod dto;
mod list;
mod list_plan;

pub(crate) use dto::ElementText;
pub use dto::{
    CreateElementRequest, ElementDto, JsonDocument, KindSchema, TagSchema, UpdateElementRequest,
};
pub(crate) use list::in_order;
pub use list::{ElementFilter, ElementListQuery, ElementSort, MAX_Q_CHARS, SortOrder, list};

pub use list_plan::{
    FALLBACK_SETTINGS, FIRST_PROBE_ROWS, fallback_statement, probe_statement, second_probe_rows,
};

/// How deep a parent chain may be; also bounds the cycle check.
const MAX_DEPTH: usize = 1_000;

pub async fn get(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<ElementDto> {
    let (_, element) = world_access_with_element(db, caller, world_id, element_id).await?;
    Ok(ElementDto::from(element))
}

/// Fails unless `parent_id` is an element of `world_id` and making it the parent of
/// `element_id` closes no cycle, in one recursive query: the ancestors of `parent_id`
/// (itself included), up to [`MAX_DEPTH`] of them, and whether `element_id` is among
/// them. A move runs it inside the world's write lock (on SQLite the database's), so it is
/// one statement however deep the hierarchy, never a round trip per level. Returns the
/// depth the element gets under `parent_id`: the number of ancestors it will have, as
/// the walk counted them.
pub(crate) async fn check_parent<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    element_id: Uuid,
    parent_id: Uuid,
) -> Result<i32> {
    let backend = db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    // The walk stops at the element itself: above it lies the cycle, which would
    // otherwise only end at the depth cap.
    let sql = format!(
        "WITH RECURSIVE ancestors (id, parent_id, depth) AS ( \
             SELECT id, parent_id, 1 FROM world_elements WHERE id = {p1} AND world_id = {p2} \
             UNION ALL \
             SELECT e.id, e.parent_id, a.depth + 1 FROM world_elements e \
             JOIN ancestors a ON e.id = a.parent_id \
             WHERE a.depth < {p3} AND a.id <> {p4} AND e.world_id = {p5} \
         ) \
         SELECT CAST(COUNT(*) AS BIGINT) AS found, \
                CAST(COALESCE(MAX(depth), 0) AS BIGINT) AS depth, \
                CAST(COALESCE(SUM(CASE WHEN id = {p6} THEN 1 ELSE 0 END), 0) AS BIGINT) AS hits \
         FROM ancestors",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
        p5 = p(5),
        p6 = p(6),
    );
    let cap = (MAX_DEPTH + 1) as i64;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                parent_id.into(),
                world_id.into(),
                cap.into(),
                element_id.into(),
                world_id.into(),
                element_id.into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::Internal("an aggregate returned no row".into()))?;
    let found: i64 = row.try_get("", "found")?;
    let depth: i64 = row.try_get("", "depth")?;
    let hits: i64 = row.try_get("", "hits")?;
    if found == 0 {
        return Err(Error::validation(
            "parent_id",
            "must name an element of the same world",
        ));
    }
    if hits > 0 {
        return Err(Error::validation(
            "parent_id",
            "would make the element its own ancestor",
        ));
    }
    if depth > MAX_DEPTH as i64 {
        return Err(Error::validation(
            "parent_id",
            format!("the hierarchy may be at most {MAX_DEPTH} levels deep"),
        ));
    }
    // At most MAX_DEPTH, checked just above.
    i32::try_from(depth).map_err(|e| Error::internal("hierarchy depth", e))
}

/// Fails unless `parent_id` is an element of `world_id`. All a create needs: a new
/// element has no descendants, so naming a parent cannot close a cycle. Returns the
/// depth a child of it has.
pub(crate) async fn check_parent_in_world<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    parent_id: Uuid,
) -> Result<i32> {
    let found = world_elements::Entity::find_by_id((parent_id, world_id))
        .filter(Column::WorldId.eq(world_id))
        .select_only()
        .column(Column::Depth)
        .into_tuple::<i32>()
        .one(db)
        .await?;
    match found {
        Some(depth) => Ok(depth + 1),
        None => Err(parent_not_in_world()),
    }
}

/// A create's parent is not an element of the world (yet).
pub(crate) fn parent_not_in_world() -> Error {
    Error::validation("parent_id", "must name an element of the same world")
}

/// Validated fields of a create or update request.
struct ParsedChanges {
    kind: Option<Kind>,
    name: Option<Name>,
    summary: Option<Option<String>>,
    attributes: Option<Value>,
    tags: Option<Tags>,
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    request: CreateElementRequest,
) -> Result<ElementDto> {
    let element = WorldWrite::edit(db, actor, world_id, async |w| {
        w.defer_final_write();
        create_in(w, request).await
    })
    .await?;
    Ok(element.into())
}

/// Validates a create request and creates the element inside `w`, whose caller was
/// authorized: what the endpoint and a batch's `create_element` share.
pub async fn create_in(
    w: &mut WorldWrite,
    request: CreateElementRequest,
) -> Result<world_elements::Model> {
    element_write::create(w, parse_create(request)?).await
}

/// Validates a create request's fields (the parent and the kind's schema are checked in
/// the write).
pub fn parse_create(request: CreateElementRequest) -> Result<NewElement> {
    let mut checks = Checks::default();
    let kind = checks.check(Kind::parse("kind", request.kind));
    let name = checks.check(Name::parse("name", request.name));
    let summary = checks.optional(request.summary, |s| parse_text("summary", s));
    let attributes = checks.check(parse_document(
        "attributes",
        request.attributes.unwrap_or_else(|| serde_json::json!({})),
    ));
    let tags = checks.check(Tags::parse("tags", request.tags.unwrap_or_default()));
    checks.finish()?;
    let (Some(kind), Some(name), Some(summary), Some(attributes), Some(tags)) =
        (kind, name, summary, attributes, tags)
    else {
        return Err(Error::Internal("validated fields missing".into()));
    };

    Ok(NewElement {
        kind,
        name,
        summary,
        attributes,
        tags,
        parent_id: request.parent_id,
        preserved: None,
    })
}

pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    element_id: Uuid,
    if_match: Option<i32>,
    request: UpdateElementRequest,
) -> Result<ElementDto> {
    // Authorize before validating: a stranger learns nothing from 422s.
    let (mut w, access, current) =
        WorldWrite::begin_as_with_element(db, actor, world_id, element_id).await?;
    access.require(Role::Editor)?;
    w.defer_final_write();
    let updated = update_read(&mut w, element_id, current, if_match, request).await?;
    w.commit().await?;
    Ok(updated.into())
}

/// Validates an update request and applies it inside `w`, whose caller was authorized:
/// what the endpoint and a batch's `update_element` share.
pub async fn update_in(
    w: &mut WorldWrite,
    element_id: Uuid,
    if_match: Option<i32>,
    request: UpdateElementRequest,
) -> Result<world_elements::Model> {
    update_read(w, element_id, None, if_match, request).await
}

/// [`update_in`] for an element that may have been read (and locked) already in `w`.
async fn update_read(
    w: &mut WorldWrite,
    element_id: Uuid,
    current: Option<world_elements::Model>,
    if_match: Option<i32>,
    request: UpdateElementRequest,
) -> Result<world_elements::Model> {
    let world_id = w.world_id();
    let mut checks = Checks::default();
    let parsed = ParsedChanges {
        kind: request
            .kind
            .and_then(|k| checks.check(Kind::parse("kind", k))),
        name: request
            .name
            .and_then(|n| checks.check(Name::parse("name", n))),
        summary: match request.summary {
            Some(Some(s)) => checks.check(parse_text("summary", s)).map(Some),
            Some(None) => Some(None),
            None => None,
        },
        attributes: request
            .attributes
            .and_then(|a| checks.check(parse_object("attributes", a))),
        tags: request
            .tags
            .and_then(|t| checks.check(Tags::parse("tags", t))),
    };
    checks.finish()?;

    let current = match current {
        Some(current) => current,
        None => element_write::find(w.txn(), world_id, element_id).await?,
    };
    check_if_match(if_match, current.version)?;
    let edit = ElementEdit {
        kind: parsed.kind.map(Kind::into_inner),
        name: parsed.name.map(Name::into_inner),
        summary: parsed.summary,
        attributes: parsed
            .attributes
            .map(|patch| merge_document("attributes", current.attributes.clone(), &patch))
            .transpose()?,
        tags: parsed.tags.map(Tags::into_json),
        parent_id: request.parent_id,
    };
    element_write::update(w, current, edit).await
}

/// Deletes an element: its relations go with it, its children become roots, and it
/// waits in the trash.
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    element_id: Uuid,
    if_match: Option<i32>,
) -> Result<()> {
    WorldWrite::edit(db, actor, world_id, async |w| {
        delete_in(w, element_id, if_match).await
    })
    .await
}

/// Deletes an element inside `w`, whose caller was authorized: what the endpoint and a
/// batch's `delete_element` share.
pub async fn delete_in(w: &mut WorldWrite, element_id: Uuid, if_match: Option<i32>) -> Result<()> {
    let current = element_write::find(w.txn(), w.world_id(), element_id).await?;
    check_if_match(if_match, current.version)?;
    element_write::delete(w, current).await
}

/// The element as it was at `version`, from the change log.
pub async fn get_version(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    element_id: Uuid,
    version: i32,
) -> Result<Value> {
    world_access(db, caller, world_id).await?;
    if version < 1 {
        return Err(Error::validation("version", "must be 1 or more"));
    }
    changes::data_at_version(db, world_id, Resource::Element(element_id), version).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertRequest {
    /// The version whose fields become current again.
    #[schema(minimum = 1)]
    pub version: i32,
}

/// Makes `kind, name, summary, attributes, tags, parent_id` those of an earlier version,
/// as a new version (editor).
pub async fn revert(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    element_id: Uuid,
    if_match: Option<i32>,
    request: RevertRequest,
) -> Result<ElementDto> {
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    if request.version < 1 {
        return Err(Error::validation("version", "must be 1 or more"));
    }
    let current = element_write::find(w.txn(), world_id, element_id).await?;
    check_if_match(if_match, current.version)?;
    let old = changes::data_at_version(
        w.txn(),
        world_id,
        Resource::Element(element_id),
        request.version,
    )
    .await
    .map_err(|e| match e {
        Error::NotFound => Error::validation("version", "the element has no such version"),
        e => e,
    })?;
    let old: RevertedFields = serde_json::from_value(old)
        .map_err(|e| Error::internal("a logged element is not an element", e))?;
    let edit = ElementEdit {
        kind: Some(old.kind),
        name: Some(old.name),
        summary: Some(old.summary),
        attributes: Some(old.attributes),
        tags: Some(old.tags),
        parent_id: Some(old.parent_id),
    };
    let reverted = element_write::update(&mut w, current, edit).await?;
    w.commit().await?;
    Ok(reverted.into())
}

/// The fields a revert takes from a logged version.
#[derive(Deserialize)]
struct RevertedFields {
    kind: String,
    name: String,
    summary: Option<String>,
    attributes: Value,
    tags: Value,
    parent_id: Option<Uuid>,
}

/// Brings a deleted element back from the trash (editor).
pub async fn restore(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<ElementDto> {
    let element = WorldWrite::edit(db, actor, world_id, async |w| {
        element_write::restore(w, element_id).await
    })
    .await?;
    Ok(element.into())
}
