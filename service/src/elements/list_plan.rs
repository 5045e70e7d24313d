//! How a filtered element list finds its page at a cost that does not hang on the
//! planner's guess of how many rows a filter matches.
//!
//! PostgreSQL can serve `where world = $1 and <filter> order by <key> limit n` two ways:
//! walk the keyset index in order and test each row (cheap when the filter is common,
//! ruinous when it is rare: 270,699 rows read for 51 in one measured plan), or read every
//! match through the filter's own index and sort them (cheap when the filter is rare,
//! ruinous when it is common). Which one it takes depends on the sample `ANALYZE` drew,
//! so the same list could take 1 ms or 1.5 s. Here the choice is made from what the data
//! says, in two bounded steps:
//!
//! 1. **Probe**: the next `probe` rows of the world in list order (the keyset index, no
//!    sort), each tested against the filter. A filter that matches more than `need` of
//!    them is answered here, having read at most `probe` rows.
//! 2. **Fallback**: otherwise the filter is rare (under `need / probe` of the rows), and
//!    the rest of the page is read through the filter's own index (GIN for `where` and
//!    tags, btree for kind and parent), after the last probed row, with plain index scans
//!    and sequential scans switched off for that one statement, so that the planner
//!    cannot walk the world in order whatever it estimates.
//!
//! The probe's length is `sqrt(need × world size)`: reading that many rows in order costs
//! about what reading the matches of a filter at the switching point costs, so the worst
//! case is about twice the better plan's cost. SQLite has no index over JSON contents,
//! tags or text, so there every filtered list is the ordered walk.
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryResult, QuerySelect, QueryTrait, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use super::{ElementDto, ElementFilter, ElementText, SortOrder, in_order};
use crate::error::Result;
use crate::paging::Cursor;
use entity::world_elements;

/// The probe never reads fewer rows than this (small worlds end within it anyway)...
const MIN_PROBE_ROWS: u64 = 500;
/// ...nor more.
pub const PROBE_ROWS: u64 = 20_000;

/// Planner settings for the fallback's one statement: what is left are bitmap scans of
/// the filters' indexes.
pub const FALLBACK_SETTINGS: &str = "SET LOCAL enable_indexscan = off; \
     SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_seqscan = off";

const HIT: &str = "lb_hit";
const POSITION: &str = "lb_position";

/// How many rows the probe reads for `need` rows of a world of `world_size` elements.
pub fn probe_rows(need: u64, world_size: i64) -> u64 {
    let size = std::cmp::max(world_size, 0) as f64;
    ((need as f64 * size).sqrt().ceil() as u64).clamp(MIN_PROBE_ROWS, PROBE_ROWS)
}

/// Up to `need` elements of the world after `cursor`, in `sort` order, that pass `filter`.
pub(super) async fn fetch(
    db: &DatabaseConnection,
    world_id: Uuid,
    world_size: i64,
    filter: &ElementFilter,
    sort: SortOrder,
    cursor: Option<&Cursor>,
    need: u64,
) -> Result<Vec<ElementDto>> {
    let backend = db.get_database_backend();
    let condition = match filter.condition(backend)? {
        Some(condition) if backend == DatabaseBackend::Postgres => condition,
        // No filter: the keyset index serves the page as it is. SQLite: see above.
        condition => {
            let mut query = in_order(world_id, sort, cursor)?;
            if let Some(condition) = condition {
                query = QueryFilter::filter(query, condition);
            }
            return ElementText::select(query)
                .limit(need)
                .into_model::<ElementText>()
                .all(db)
                .await?
                .into_iter()
                .map(ElementDto::try_from)
                .collect();
        }
    };

    let probe = probe_rows(need, world_size);
    let statement = probe_statement(world_id, condition, sort, cursor, need, probe)?;
    let mut rows = Vec::new();
    let mut probe_end = None;
    for probed in Probed::find_by_statement(statement).all(db).await? {
        let element = ElementDto::try_from(probed.row)?;
        if probed.position == probe as i64 {
            probe_end = Some(sort.cursor_at(&element));
        }
        if probed.hit {
            rows.push(element);
        }
    }
    rows.truncate(need as usize);
    let Some(probe_end) = probe_end.filter(|_| (rows.len() as u64) < need) else {
        // Enough matches, or the world ended within the probe.
        return Ok(rows);
    };

    let statement =
        fallback_statement(world_id, filter, sort, &probe_end, need - rows.len() as u64)?;
    let txn = db.begin().await?;
    txn.execute_unprepared(FALLBACK_SETTINGS).await?;
    let more = ElementText::find_by_statement(statement).all(&txn).await?;
    txn.commit().await?;
    for row in more {
        rows.push(ElementDto::try_from(row)?);
    }
    Ok(rows)
}

/// The probe: the next `probe` rows of the world in order, numbered, each marked with
/// whether it passes `condition`; of those, the first `need` that pass, and the last row
/// read (so the fallback knows where to go on).
pub fn probe_statement(
    world_id: Uuid,
    condition: Expr,
    sort: SortOrder,
    cursor: Option<&Cursor>,
    need: u64,
    probe: u64,
) -> Result<Statement> {
    let window = in_order(world_id, sort, cursor)?.limit(probe).into_query();
    let mut marked = Query::select();
    marked
        .column(Asterisk)
        .expr_as(condition, Alias::new(HIT))
        .expr_as(
            Expr::cust(format!("row_number() OVER (ORDER BY {})", sort.order_sql())),
            Alias::new(POSITION),
        )
        .from_subquery(window, world_elements::Entity);
    // The outer query reads the marked rows under the table's own name, so the list's
    // columns and order apply to them as written; its world filter repeats the window's.
    let mut query = ElementText::select(in_order(world_id, sort, None)?);
    QueryTrait::query(&mut query)
        .from_clear()
        .from_subquery(marked, world_elements::Entity)
        .column(Alias::new(HIT))
        .column(Alias::new(POSITION))
        .and_where(Expr::col(Alias::new(HIT)).or(Expr::col(Alias::new(POSITION)).eq(probe as i64)))
        .limit(need + 1);
    Ok(query.build(DatabaseBackend::Postgres))
}

/// The fallback: the first `need` rows after `after` that pass `filter`, for a
/// connection whose plain index scans and sequential scans are off (see
/// [`FALLBACK_SETTINGS`]), which leaves bitmap scans.
///
/// The matches are found in a subquery the keyset order cannot reach (`OFFSET 0` keeps
/// the cursor and the order outside it), so the planner's only way in is the filter's
/// own index, whatever it believes the filter matches. The GIN indexes (`where`, tags)
/// and the parent index do not hold the world, so with one of those filters the world is
/// tested outside too: inside, `world_id = $1` would offer a bitmap of the whole world.
/// Without them (kind, `q`), the world goes inside, where the kind index serves it.
pub fn fallback_statement(
    world_id: Uuid,
    filter: &ElementFilter,
    sort: SortOrder,
    after: &Cursor,
    need: u64,
) -> Result<Statement> {
    let backend = DatabaseBackend::Postgres;
    let mut matches = world_elements::Entity::find();
    if let Some(condition) = filter.condition(backend)? {
        matches = QueryFilter::filter(matches, condition);
    }
    let world_outside =
        filter.attributes.is_some() || !filter.tags.is_empty() || filter.parent_id.is_some();
    if !world_outside {
        matches = QueryFilter::filter(matches, world_elements::Column::WorldId.eq(world_id));
    }
    let mut matches = matches.into_query();
    matches.offset(0);
    let mut query = ElementText::select(in_order(world_id, sort, Some(after))?);
    QueryTrait::query(&mut query)
        .from_clear()
        .from_subquery(matches, world_elements::Entity)
        .limit(need);
    Ok(query.build(backend))
}

/// A probed row: the element, whether it passed the filter, and its position in the probe.
struct Probed {
    row: ElementText,
    hit: bool,
    position: i64,
}

impl FromQueryResult for Probed {
    fn from_query_result(row: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            row: ElementText::from_query_result(row, pre)?,
            hit: row.try_get::<Option<bool>>(pre, HIT)?.unwrap_or(false),
            position: row.try_get(pre, POSITION)?,
        })
    }
}
