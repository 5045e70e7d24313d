//! The element list: its sort orders, its filters, and the query that reads a page (the
//! plan that keeps a filtered page bounded is `list_plan`).
use entity::world_elements::{self, Column};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use super::{ElementDto, list_plan};
use crate::access::world_access;
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::json_filters::{WhereFilter, attributes_contain, has_tag};
use crate::paging::{Cursor, KeyType, Keyset, Page, PageRequest};
use crate::values::{Checks, Kind, Tags};

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

    pub(super) fn column(self) -> Column {
        match self.key {
            ElementSort::CreatedAt => Column::CreatedAt,
            ElementSort::Name => Column::Name,
            ElementSort::UpdatedAt => Column::UpdatedAt,
        }
    }

    /// This order as a keyset: what names its cursors and pages through it.
    pub(crate) fn keyset(self) -> Keyset<Column> {
        let (ordering, key_type) = match (self.key, self.descending) {
            (ElementSort::CreatedAt, false) => ("elements:created_at", KeyType::Time),
            (ElementSort::CreatedAt, true) => ("elements:-created_at", KeyType::Time),
            (ElementSort::Name, false) => ("elements:name", KeyType::Text),
            (ElementSort::Name, true) => ("elements:-name", KeyType::Text),
            (ElementSort::UpdatedAt, false) => ("elements:updated_at", KeyType::Time),
            (ElementSort::UpdatedAt, true) => ("elements:-updated_at", KeyType::Time),
        };
        Keyset {
            ordering,
            key: Some((self.column(), key_type)),
            id: Some(Column::Id),
            descending: self.descending,
        }
    }

    /// The cursor that points just after `e` in this order.
    pub(super) fn cursor_at(self, e: &ElementDto) -> Cursor {
        Cursor {
            ordering: self.keyset().ordering.to_owned(),
            key: self.key_of(e),
            id: e.id,
        }
    }

    pub(super) fn key_of(self, e: &ElementDto) -> String {
        match self.key {
            ElementSort::CreatedAt => e.created_at.to_rfc3339(),
            ElementSort::Name => e.name.clone(),
            ElementSort::UpdatedAt => e.updated_at.to_rfc3339(),
        }
    }

    /// `(sort_key, id)` strictly after the cursor in this order.
    pub(super) fn after(self, cursor: &Cursor) -> Result<Condition> {
        self.keyset().after_cursor(cursor)
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

pub(super) fn parse_search_text(raw: String) -> Result<String, crate::FieldError> {
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
pub(super) fn escape_like(backend: sea_orm::DatabaseBackend, text: &str) -> String {
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
pub(crate) fn in_order(
    world_id: Uuid,
    sort: SortOrder,
    cursor: Option<&Cursor>,
) -> Result<Select<world_elements::Entity>> {
    let mut query = world_elements::Entity::find().filter(Column::WorldId.eq(world_id));
    if let Some(cursor) = cursor {
        query = query.filter(sort.after(cursor)?);
    }
    Ok(sort.keyset().order(query))
}

/// The element list's query parameters, as the client sent them.
#[derive(Debug, Default, Clone)]
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
    let keyset = sort.keyset();
    let cursor = page
        .cursor
        .as_deref()
        .map(|raw| Cursor::decode(raw, keyset.ordering))
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
    Ok(keyset.page(rows, &page, |e| (sort.key_of(e), e.id), |e| e))
}
