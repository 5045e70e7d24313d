//! Elements of a world: characters, places, factions, items, lore.
use chrono::{DateTime, Utc};
use entity::world_elements::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult,
    Order, QueryFilter, QueryOrder, QuerySelect, Select, Statement, prelude::DateTimeWithTimeZone,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::access::{Role, world_access, world_access_with_element};
use crate::auth::{Actor, Caller};
use crate::changes::{self, Resource, WorldWrite};
use crate::element_write::{self, ElementEdit, NewElement};
use crate::error::{Error, Result};
use crate::json_filters::{WhereFilter, attributes_contain, has_tag};
use crate::paging::{Cursor, Page, PageRequest, into_page};
use crate::patch::{double_option, merge_document, reject_null};
use crate::values::{Checks, Kind, Name, Tags, parse_document, parse_object, parse_text};
use crate::versioning::check_if_match;

mod list_plan;

pub use list_plan::{
    FALLBACK_SETTINGS, FIRST_PROBE_ROWS, fallback_statement, probe_statement, second_probe_rows,
};

/// How deep a parent chain may be; also bounds the cycle check.
const MAX_DEPTH: usize = 1_000;

/// `Element` in the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ElementDto {
    pub id: Uuid,
    pub world_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: String,
    pub name: String,
    pub summary: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: JsonDocument,
    pub tags: Vec<String>,
    pub version: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<world_elements::Model> for ElementDto {
    fn from(e: world_elements::Model) -> Self {
        let tags = match e.tags {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Self {
            id: e.id,
            world_id: e.world_id,
            parent_id: e.parent_id,
            kind: e.kind,
            name: e.name,
            summary: e.summary,
            attributes: JsonDocument::Parsed(e.attributes),
            tags,
            version: e.version,
            created_by: e.created_by,
            created_at: e.created_at.with_timezone(&Utc),
            updated_at: e.updated_at.with_timezone(&Utc),
        }
    }
}

/// A JSON document for a response: a tree the server holds anyway, or the database's own
/// text of it, which a list writes out as it is (see [`ElementText`]). Either way it is
/// serialized once.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum JsonDocument {
    Parsed(Value),
    Stored(Box<RawValue>),
}

/// An element as a list reads it: `attributes` and `tags` arrive as the database's own
/// JSON text (`CAST(... AS text)`) and `attributes` goes into the response as it is.
/// Parsing each document into a tree and serializing it back took most of a 50-element
/// list's CPU time in the server.
#[derive(Debug, FromQueryResult)]
struct ElementText {
    id: Uuid,
    world_id: Uuid,
    parent_id: Option<Uuid>,
    kind: String,
    name: String,
    summary: Option<String>,
    attributes: String,
    tags: String,
    version: i32,
    created_by: Option<Uuid>,
    created_at: DateTimeWithTimeZone,
    updated_at: DateTimeWithTimeZone,
}

impl ElementText {
    /// Selects the columns of [`ElementText`] in place of the whole model.
    fn select(query: Select<world_elements::Entity>) -> Select<world_elements::Entity> {
        let as_text = |column: Column| Expr::col((world_elements::Entity, column)).cast_as("text");
        query
            .select_only()
            .columns([
                Column::Id,
                Column::WorldId,
                Column::ParentId,
                Column::Kind,
                Column::Name,
                Column::Summary,
                Column::Version,
                Column::CreatedBy,
                Column::CreatedAt,
                Column::UpdatedAt,
            ])
            .column_as(as_text(Column::Attributes), "attributes")
            .column_as(as_text(Column::Tags), "tags")
    }
}

impl TryFrom<ElementText> for ElementDto {
    type Error = Error;

    fn try_from(e: ElementText) -> Result<Self> {
        let id = e.id;
        let corrupt = |what: &str, err: serde_json::Error| {
            Error::Internal(format!(
                "element {id}: stored {what} is not valid JSON: {err}"
            ))
        };
        let attributes = RawValue::from_string(e.attributes)
            .map(JsonDocument::Stored)
            .map_err(|err| corrupt("attributes", err))?;
        let tags = serde_json::from_str(&e.tags).map_err(|err| corrupt("tags", err))?;
        Ok(Self {
            id: e.id,
            world_id: e.world_id,
            parent_id: e.parent_id,
            kind: e.kind,
            name: e.name,
            summary: e.summary,
            attributes,
            tags,
            version: e.version,
            created_by: e.created_by,
            created_at: e.created_at.with_timezone(&Utc),
            updated_at: e.updated_at.with_timezone(&Utc),
        })
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateElementRequest {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
    /// At most 64 tags of 1 to 64 characters.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, max_items = 64)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateElementRequest {
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// A new summary, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub summary: Option<Option<String>>,
    /// A JSON Merge Patch (RFC 7396) applied to the stored attributes.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(value_type = Object)]
    pub attributes: Option<Value>,
    /// Replaces the tags: at most 64 of 1 to 64 characters.
    #[serde(default, deserialize_with = "reject_null")]
    #[schema(nullable = false, max_items = 64)]
    pub tags: Option<Vec<String>>,
    /// A new parent in the same world, or `null` to make the element a root.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}

/// Sort orders of the element list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementSort {
    CreatedAt,
    Name,
    UpdatedAt,
}

/// A parsed `sort` parameter: a key and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortOrder {
    pub key: ElementSort,
    pub descending: bool,
}

impl SortOrder {
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        let raw = raw.unwrap_or("created_at");
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = match name {
            "created_at" => ElementSort::CreatedAt,
            "name" => ElementSort::Name,
            "updated_at" => ElementSort::UpdatedAt,
            _ => {
                return Err(Error::validation(
                    "sort",
                    "must be one of created_at, -created_at, name, -name, updated_at, -updated_at",
                ));
            }
        };
        Ok(Self { key, descending })
    }

    fn column(self) -> Column {
        match self.key {
            ElementSort::CreatedAt => Column::CreatedAt,
            ElementSort::Name => Column::Name,
            ElementSort::UpdatedAt => Column::UpdatedAt,
        }
    }

    fn ordering_name(self) -> String {
        let key = match self.key {
            ElementSort::CreatedAt => "created_at",
            ElementSort::Name => "name",
            ElementSort::UpdatedAt => "updated_at",
        };
        format!("elements:{}{key}", if self.descending { "-" } else { "" })
    }

    /// The cursor that points just after `e` in this order.
    fn cursor_at(self, e: &ElementDto) -> Cursor {
        Cursor {
            ordering: self.ordering_name(),
            key: self.key_of(e),
            id: e.id,
        }
    }

    /// This order as SQL, for a window function over `world_elements`' rows.
    fn order_sql(self) -> String {
        let direction = if self.descending { "DESC" } else { "ASC" };
        format!(
            r#""world_elements"."{}" {direction}, "world_elements"."id" {direction}"#,
            sea_orm::IdenStatic::as_str(&self.column())
        )
    }

    fn key_of(self, e: &ElementDto) -> String {
        match self.key {
            ElementSort::CreatedAt => e.created_at.to_rfc3339(),
            ElementSort::Name => e.name.clone(),
            ElementSort::UpdatedAt => e.updated_at.to_rfc3339(),
        }
    }

    /// `(sort_key, id)` strictly after the cursor in this order.
    fn after(self, cursor: &Cursor) -> Result<Condition> {
        let column = self.column();
        let key: sea_orm::Value = match self.key {
            ElementSort::Name => cursor.key.clone().into(),
            ElementSort::CreatedAt | ElementSort::UpdatedAt => {
                DateTime::parse_from_rfc3339(&cursor.key)
                    .map_err(|_| {
                        Error::BadRequest(
                            "invalid cursor; use next_cursor from the previous page".into(),
                        )
                    })?
                    .into()
            }
        };
        Ok(if self.descending {
            Condition::any()
                .add(column.lt(key.clone()))
                .add(column.eq(key).and(Column::Id.lt(cursor.id)))
        } else {
            Condition::any()
                .add(column.gt(key.clone()))
                .add(column.eq(key).and(Column::Id.gt(cursor.id)))
        })
    }
}

/// The element list's filters, parsed.
#[derive(Debug, Default)]
pub struct ElementFilter {
    pub kind: Option<Kind>,
    pub tags: Vec<String>,
    pub parent_id: Option<Uuid>,
    pub text: Option<String>,
    pub attributes: Option<WhereFilter>,
}

/// `q` may be at most this many characters: each is matched against every name and
/// summary the other filters leave.
pub const MAX_Q_CHARS: usize = 200;

fn parse_search_text(raw: String) -> Result<String, crate::FieldError> {
    if raw.chars().count() > MAX_Q_CHARS {
        Err(crate::FieldError::new(
            "q",
            format!("must be at most {MAX_Q_CHARS} characters"),
        ))
    } else {
        Ok(raw)
    }
}

impl ElementFilter {
    /// Parses the raw query parameters; `where_json` is the `where` parameter's text.
    pub fn parse(
        kind: Option<String>,
        tags: Vec<String>,
        parent_id: Option<Uuid>,
        text: Option<String>,
        where_json: Option<String>,
    ) -> Result<Self> {
        let mut checks = Checks::default();
        let kind = kind.and_then(|k| checks.check(Kind::parse("kind", k)));
        let tags = checks
            .check(Tags::parse("tag", tags))
            .map(Tags::into_vec)
            .unwrap_or_default();
        let text = text
            .filter(|t| !t.is_empty())
            .and_then(|t| checks.check(parse_search_text(t)));
        checks.finish()?;
        let attributes = match where_json.filter(|w| !w.trim().is_empty()) {
            Some(raw) => Some(WhereFilter::parse(&raw)?),
            None => None,
        };
        Ok(Self {
            kind,
            tags,
            parent_id,
            text,
            attributes,
        })
    }
}

/// `%text%` for `lower(column) LIKE ... ESCAPE '\\'`, lower-cased the way the database's
/// `lower()` does it: PostgreSQL folds all of Unicode, SQLite's built-in `lower()` only
/// ASCII. Folding more than the database would make a non-ASCII search miss even the
/// exact spelling on SQLite ("Éowyn" would look for "éowyn" in "Éowyn").
fn escape_like(backend: sea_orm::DatabaseBackend, text: &str) -> String {
    let folded = match backend {
        sea_orm::DatabaseBackend::Sqlite => text.to_ascii_lowercase(),
        _ => text.to_lowercase(),
    };
    let mut escaped = String::with_capacity(folded.len() + 2);
    escaped.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

impl ElementFilter {
    /// Every filter, as one condition on `world_elements`' columns; `None` without filters.
    pub fn condition(&self, backend: sea_orm::DatabaseBackend) -> Result<Option<Expr>> {
        let mut parts: Vec<Expr> = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(Expr::col((world_elements::Entity, Column::Kind)).eq(kind.as_str()));
        }
        for tag in &self.tags {
            parts.push(has_tag(backend, tag));
        }
        if let Some(parent_id) = self.parent_id {
            parts.push(Expr::col((world_elements::Entity, Column::ParentId)).eq(parent_id));
        }
        if let Some(text) = &self.text {
            // `%` and `_` in the search text are literal.
            let pattern = escape_like(backend, text);
            let like = |column: Column| {
                Func::lower(Expr::col((world_elements::Entity, column)))
                    .like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            parts.push(like(Column::Name).or(like(Column::Summary)));
        }
        if let Some(attributes) = &self.attributes {
            parts.push(attributes_contain(backend, attributes)?);
        }
        Ok(parts.into_iter().reduce(|all, part| all.and(part)))
    }
}

/// A world's elements in `sort` order from just after `cursor`: what the keyset index
/// `(world_id, sort key, id)` serves as it is.
fn in_order(
    world_id: Uuid,
    sort: SortOrder,
    cursor: Option<&Cursor>,
) -> Result<Select<world_elements::Entity>> {
    let mut query = world_elements::Entity::find().filter(Column::WorldId.eq(world_id));
    if let Some(cursor) = cursor {
        query = query.filter(sort.after(cursor)?);
    }
    let order = if sort.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    Ok(query
        .order_by(sort.column(), order.clone())
        .order_by(Column::Id, order))
}

/// The element list's query parameters, as the client sent them.
#[derive(Debug, Default)]
pub struct ElementListQuery {
    pub kind: Option<String>,
    pub tags: Vec<String>,
    pub parent_id: Option<Uuid>,
    pub text: Option<String>,
    pub where_json: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

pub async fn list(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    query: ElementListQuery,
) -> Result<Page<ElementDto>> {
    // Authorize before validating: a stranger learns nothing from 422s.
    let access = world_access(db, caller, world_id).await?;
    let filter = ElementFilter::parse(
        query.kind,
        query.tags,
        query.parent_id,
        query.text,
        query.where_json,
    )?;
    let sort = SortOrder::parse(query.sort.as_deref())?;
    let page = PageRequest::parse(query.limit, query.cursor)?;
    let ordering = sort.ordering_name();
    let cursor = page
        .cursor
        .as_deref()
        .map(|raw| Cursor::decode(raw, &ordering))
        .transpose()?;
    let rows = list_plan::fetch(
        db,
        world_id,
        access.world.element_count,
        &filter,
        sort,
        cursor.as_ref(),
        page.limit + 1,
    )
    .await?;
    Ok(into_page(
        rows,
        page.limit,
        &ordering,
        |e| (sort.key_of(e), e.id),
        |e| e,
    ))
}

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
    let found = world_elements::Entity::find_by_id(parent_id)
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
    // Authorize before validating: a stranger learns nothing from 422s.
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    w.defer_final_write();
    let element = create_in(&mut w, request).await?;
    w.commit().await?;
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
    let summary = match request.summary {
        Some(s) => checks.check(parse_text("summary", s)).map(Some),
        None => Some(None),
    };
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
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    delete_in(&mut w, element_id, if_match).await?;
    w.commit().await
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
    let (mut w, access) = WorldWrite::begin_as(db, actor, world_id).await?;
    access.require(Role::Editor)?;
    let element = element_write::restore(&mut w, element_id).await?;
    w.commit().await?;
    Ok(element.into())
}
