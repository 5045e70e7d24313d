//! Full-text search over a world's elements, ranked, with highlights. The index is the
//! database's (revision `..._create_element_search`): PostgreSQL's `tsvector` with GIN,
//! SQLite's FTS5, each written by triggers in the transaction of every element write. The
//! two engines differ only in [`sql`].
mod query;
mod sql;

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use query::SearchQuery;

use crate::access::world_access;
use crate::auth::Caller;
use crate::error::{Error, FieldError, Result};
use crate::values::{Checks, Kind};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 50;
/// The search text may be at most this many characters.
pub const MAX_Q_CHARS: usize = 200;

/// The element as a search result shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchElement {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub summary: Option<String>,
    pub tags: Vec<String>,
}

/// One result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub element: SearchElement,
    /// Higher is better: PostgreSQL's `ts_rank_cd`, SQLite's `bm25` negated, both with
    /// the weights name 1.0, tags 0.4, summary 0.2, attributes 0.1. Comparable within
    /// one answer only.
    pub score: f64,
    /// For each field the search matched (`name`, `tags`, `summary`, `attributes`: the
    /// string values inside them), a short excerpt with the matches wrapped in
    /// `<mark>`…`</mark>`; the rest of the excerpt is HTML-escaped.
    #[schema(value_type = BTreeMap<String, String>)]
    pub highlights: BTreeMap<&'static str, String>,
}

/// The answer of a search, best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
}

/// A search request as the client sent it: the query string of the search endpoint.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchRequest {
    /// What to look for, 1 to 200 characters: words (all must appear; English stemming,
    /// case and accents ignored), `"quoted phrases"`, `-excluded` words, `or` between
    /// alternatives. The last word also matches as a prefix (`drag` finds `dragon`).
    #[param(min_length = 1, max_length = 200, pattern = "^[^\\u0000]*$")]
    pub q: Option<String>,
    /// Only elements of this kind.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub kind: Option<String>,
    /// Results, 1 to 50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    #[serde(default, deserialize_with = "crate::values::query_number")]
    pub limit: Option<u64>,
}

/// A validated search.
pub struct Search {
    pub query: SearchQuery,
    pub kind: Option<Kind>,
    pub limit: u64,
}

impl Search {
    pub fn parse(request: SearchRequest) -> Result<Self> {
        let mut checks = Checks::default();
        let q = match request.q {
            Some(q) if !q.trim().is_empty() && q.chars().count() <= MAX_Q_CHARS => Some(q),
            _ => {
                checks.extend(vec![FieldError::new(
                    "q",
                    format!("must be 1 to {MAX_Q_CHARS} characters, not only spaces"),
                )]);
                None
            }
        };
        let kind = request
            .kind
            .and_then(|k| checks.check(Kind::parse("kind", k)));
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            checks.extend(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )]);
        }
        checks.finish()?;
        Ok(Self {
            query: SearchQuery::parse(q.as_deref().unwrap_or_default()),
            kind,
            limit,
        })
    }
}

/// A result row, from either backend.
struct Row {
    id: Uuid,
    kind: String,
    name: String,
    summary: Option<String>,
    tags: String,
    score: f64,
    highlights: [Option<String>; 4],
}

const FIELDS: [&str; 4] = ["name", "tags", "summary", "attributes"];

pub async fn search(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    request: SearchRequest,
) -> Result<SearchResults> {
    // Authorize before validating: a stranger learns nothing from 422s.
    world_access(db, caller, world_id).await?;
    let search = Search::parse(request)?;
    if search.query.is_empty() {
        return Ok(SearchResults { items: Vec::new() });
    }
    let rows = run(db, world_id, &search).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let tags = serde_json::from_str(&row.tags).map_err(|e| {
                Error::Internal(format!("element {}: stored tags are not JSON: {e}", row.id))
            })?;
            let highlights = FIELDS
                .iter()
                .zip(row.highlights)
                .filter_map(|(field, excerpt)| Some((*field, excerpt?)))
                .collect();
            Ok(SearchHit {
                element: SearchElement {
                    id: row.id,
                    kind: row.kind,
                    name: row.name,
                    summary: row.summary,
                    tags,
                },
                score: row.score,
                highlights,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SearchResults { items })
}

async fn run<C: ConnectionTrait>(db: &C, world_id: Uuid, search: &Search) -> Result<Vec<Row>> {
    let backend = db.get_database_backend();
    let statement = sql::statement(backend, world_id, search);
    let found = db.query_all_raw(statement).await?;
    found
        .iter()
        .map(|r| {
            let highlight = |i: usize| -> Result<Option<String>> {
                let raw: Option<String> = r.try_get("", &format!("hl_{}", FIELDS[i]))?;
                Ok(raw.and_then(|text| sql::highlight(backend, &text)))
            };
            Ok(Row {
                id: r.try_get("", "id")?,
                kind: r.try_get("", "kind")?,
                name: r.try_get("", "name")?,
                summary: r.try_get("", "summary")?,
                tags: r.try_get("", "tags")?,
                score: r.try_get("", "score")?,
                highlights: [highlight(0)?, highlight(1)?, highlight(2)?, highlight(3)?],
            })
        })
        .collect()
}

/// The SQL a search runs, for `EXPLAIN` in benchmarks.
pub fn statement(
    backend: sea_orm::DatabaseBackend,
    world_id: Uuid,
    search: &Search,
) -> sea_orm::Statement {
    sql::statement(backend, world_id, search)
}
