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
//! 1. **Probe**: the next rows of the world in list order (the keyset index, no sort),
//!    each tested against the filter, under a `LIMIT`: the probe stops when the page is
//!    full, so a common filter costs its page. The first probe reads at most 1,024 rows.
//! 2. **Second probe**: from the first probe's hit rate, the rows still to walk are
//!    `missing / rate` and the matches the filter's index would read `rate × world size`;
//!    when walking on is the cheaper, the probe goes on (at most 20,000 rows).
//! 3. **Fallback**: otherwise the filter is rare, and the rest of the page is read through
//!    the filter's own index (GIN for `where` and tags, btree for kind and parent, trigram
//!    GIN of `lower(name)` and `lower(summary)` for `q`), after
//!    the last probed row, with plain index scans and sequential scans switched off for
//!    that one statement, so that the planner cannot walk the world in order whatever it
//!    estimates.
//!
//! So a rare filter costs 1,024 rows walked plus its matches, a common one its page, and
//! one in between the cheaper of the two plans as its own rate predicts it. A `q` without
//! three letters or digits in a row gives the trigram indexes nothing to look up (they
//! would hand back every row), so alone it stays the ordered walk, and so does every
//! filtered list on SQLite, which has no index over JSON contents, tags or substrings.
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Query, QueryStatementBuilder, UnionType,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use super::{ElementDto, ElementFilter, ElementText, SortOrder, in_order};
use crate::error::Result;
use crate::paging::Cursor;
use entity::world_elements;

/// Planner settings for the fallback's one statement: what is left are bitmap scans of
/// the filters' indexes.
pub const FALLBACK_SETTINGS: &str = "SET LOCAL enable_indexscan = off; \
     SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_seqscan = off";

const HIT: &str = "lb_hit";

impl ElementFilter {
    /// Whether some part of the filter has an index of its own to fall back on.
    fn has_own_index(&self) -> bool {
        self.attributes.is_some()
            || !self.tags.is_empty()
            || self.parent_id.is_some()
            || self.kind.is_some()
            || self.text.as_deref().is_some_and(has_trigram)
    }

    /// Whether the fallback must test the world outside its subquery: every index it may
    /// read but the kind's `(world_id, kind, id)` spans all worlds, and inside,
    /// `world_id = $1` would offer the planner a bitmap of the whole world instead.
    fn world_outside(&self) -> bool {
        self.kind.is_none()
            || self.attributes.is_some()
            || !self.tags.is_empty()
            || self.parent_id.is_some()
    }
}

/// Whether pg_trgm finds a trigram to look up in `%text%`: only within a run of three
/// word characters (letters, digits) that no wildcard ends.
fn has_trigram(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_alphanumeric() { run + 1 } else { 0 };
        if run == 3 {
            return true;
        }
    }
    false
}

/// Rows the first probe reads at most: it stops as soon as the page is full, so a common
/// filter costs its page and a rare one at most this (about 1 ms at 1,000,000 elements).
/// Its hit rate decides the next step, so it must tell a filter of 0.1% from one of 0.5%:
/// 1 hit expected against 5 here. At 512 rows (0.5 against 2.6) one unlucky sample sent
/// the 0.1% filter walking 20,000 rows before its index (27.6 against 7.2 ms); 2,048 rows
/// cost the rarest filters 1 to 2 ms more each (`bench/README.md`).
pub const FIRST_PROBE_ROWS: u64 = 1_024;
/// Rows a second probe reads at most.
pub const PROBE_ROWS: u64 = 20_000;
/// Reading a match through a filter's index costs about this many rows walked in order
/// (`bench/stability.sh` at 1,000,000 elements: 3.7 to 5 µs a match through GIN, each on
/// a heap page of its own, against about 0.9 µs a row walked, whose neighbours share
/// its page).
const INDEX_MATCH_COST: f64 = 5.0;

/// The next step after a first probe that read `probed` rows and found `found` of the
/// `need` matches, in a world of `world_size` elements: how many more rows to walk in
/// order, or `None` for the filter's index. The hit rate seen so far estimates both costs:
/// walking on takes `(need - found) / rate` rows, the index reads `rate × world size`
/// matches.
pub fn second_probe_rows(found: u64, probed: u64, need: u64, world_size: i64) -> Option<u64> {
    if found == 0 || probed == 0 {
        return None;
    }
    let rate = found as f64 / probed as f64;
    let walk = need.saturating_sub(found) as f64 / rate;
    let index = INDEX_MATCH_COST * rate * std::cmp::max(world_size, 0) as f64;
    // Twice the estimate, so an unlucky sample rarely ends the walk short of the page.
    (walk <= index && walk <= PROBE_ROWS as f64)
        .then(|| ((2.0 * walk).ceil() as u64).clamp(FIRST_PROBE_ROWS, PROBE_ROWS))
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
        Some(condition) if backend == DatabaseBackend::Postgres && filter.has_own_index() => {
            condition
        }
        // No filter: the keyset index serves the page as it is. Only a `q` without a
        // trigram: no index can find its matches, and the walk in order is the plan that
        // stops at the page's end. SQLite: see above.
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

    let (mut rows, mut end) = probe(
        db,
        world_id,
        &condition,
        sort,
        cursor,
        need,
        FIRST_PROBE_ROWS,
    )
    .await?;
    if let Some(after) = end.clone().filter(|_| (rows.len() as u64) < need) {
        let found = rows.len() as u64;
        if let Some(window) = second_probe_rows(found, FIRST_PROBE_ROWS, need, world_size) {
            let (more, more_end) = probe(
                db,
                world_id,
                &condition,
                sort,
                Some(&after),
                need - found,
                window,
            )
            .await?;
            rows.extend(more);
            end = more_end;
        }
    }
    let Some(probe_end) = end.filter(|_| (rows.len() as u64) < need) else {
        // Enough matches, or the world ended within the probes.
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

/// Runs a probe ([`probe_statement`]): the first `need` matches among the next `window`
/// rows after `cursor`, and where the window ended (`None` when the world ended first).
async fn probe(
    db: &DatabaseConnection,
    world_id: Uuid,
    condition: &Expr,
    sort: SortOrder,
    cursor: Option<&Cursor>,
    need: u64,
    window: u64,
) -> Result<(Vec<ElementDto>, Option<Cursor>)> {
    let statement = probe_statement(world_id, condition.clone(), sort, cursor, need, window)?;
    let mut rows = Vec::new();
    let mut end = None;
    for probed in Probed::find_by_statement(statement).all(db).await? {
        let element = ElementDto::try_from(probed.row)?;
        if probed.hit {
            rows.push(element);
        } else {
            end = Some(sort.cursor_at(&element));
        }
    }
    Ok((rows, end))
}

/// The probe, as one statement of two parts:
/// - the hits: the next `window` rows of the world in order (the keyset index under a
///   `LIMIT`), tested against `condition` as the walk reads them, up to `need` that pass;
/// - the end: the window's last row, when the world has that many after `cursor`, found
///   by counting through the keyset index alone (an index-only scan), so the caller knows
///   where to go on.
///
/// The window is not numbered with `row_number()`: that copied every row read into the
/// window function's store and tripled the walk's cost (30 against 11 ms for 11,500 rows,
/// `bench/README.md`).
pub fn probe_statement(
    world_id: Uuid,
    condition: Expr,
    sort: SortOrder,
    cursor: Option<&Cursor>,
    need: u64,
    window: u64,
) -> Result<Statement> {
    let next_rows = in_order(world_id, sort, cursor)?.limit(window).into_query();
    // Read under the table's own name, so the list's columns and order apply as written;
    // the world filter repeats the window's.
    let mut hits =
        ElementText::select(in_order(world_id, sort, None)?).expr_as(Expr::val(true), HIT);
    QueryTrait::query(&mut hits)
        .from_clear()
        .from_subquery(next_rows, world_elements::Entity)
        .and_where(condition)
        .limit(need);
    let last_id = in_order(world_id, sort, cursor)?
        .select_only()
        .column(world_elements::Column::Id)
        .offset(window.saturating_sub(1))
        .limit(1)
        .into_query();
    let end = ElementText::select(world_elements::Entity::find().filter(
        Expr::col((world_elements::Entity, world_elements::Column::Id)).eq(Expr::SubQuery(
            None,
            Box::new(last_id.into_sub_query_statement()),
        )),
    ))
    .expr_as(Expr::val(false), HIT)
    .into_query();
    let mut both = Query::select();
    both.column(Asterisk)
        .from_subquery(hits.into_query(), Alias::new("lb_hits"))
        .union(UnionType::All, end);
    // The hits in list order, then the end.
    let mut query = sort
        .keyset()
        .order(world_elements::Entity::find().order_by_desc(Expr::col(Alias::new(HIT))))
        .into_query();
    query
        .clear_selects()
        .column(Asterisk)
        .from_clear()
        .from_subquery(both, world_elements::Entity);
    Ok(DatabaseBackend::Postgres.build(&query))
}

/// The fallback: the first `need` rows after `after` that pass `filter`, for a
/// connection whose plain index scans and sequential scans are off (see
/// [`FALLBACK_SETTINGS`]), which leaves bitmap scans.
///
/// The matches are found in a subquery the keyset order cannot reach (`OFFSET 0` keeps
/// the cursor and the order outside it), so the planner's only way in is the filter's
/// own index, whatever it believes the filter matches. The world goes inside only with
/// the kind as the one filter with an index, which serves it (`ElementFilter::world_outside`).
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
    if !filter.world_outside() {
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

/// A probed row: the element, and whether it passed the filter (or is the window's end).
struct Probed {
    row: ElementText,
    hit: bool,
}

impl FromQueryResult for Probed {
    fn from_query_result(row: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            row: ElementText::from_query_result(row, pre)?,
            hit: row.try_get(pre, HIT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_probe_walks_on_only_where_walking_is_cheaper() {
        let first = FIRST_PROBE_ROWS;
        // Nothing found: the filter's index.
        assert_eq!(second_probe_rows(0, first, 51, 1_000_000), None);
        // 2%: about 1,600 more rows against 100,000 index reads; twice that.
        assert_eq!(second_probe_rows(20, first, 51, 1_000_000), Some(3_175));
        // 0.5%: about 9,400 more rows against 24,000 index reads.
        assert_eq!(second_probe_rows(5, first, 51, 1_000_000), Some(18_842));
        // 0.3%: 16,400 more rows against 14,600 index reads.
        assert_eq!(second_probe_rows(3, first, 51, 1_000_000), None);
        // 0.1%: 51,000 more rows, over the cap.
        assert_eq!(second_probe_rows(1, first, 51, 1_000_000), None);
        // 0.5% for a smaller page: 4,100 more rows.
        assert_eq!(second_probe_rows(5, first, 25, 1_000_000), Some(8_192));
        // A small world: its index is the cheaper.
        assert_eq!(second_probe_rows(5, first, 51, 3_000), None);
        // Never more than the cap.
        assert_eq!(second_probe_rows(5, first, 200, 100_000_000), None);
    }

    #[test]
    fn only_a_run_of_three_word_characters_gives_a_trigram() {
        assert!(has_trigram("zyxw"));
        assert!(has_trigram("a%bcd"));
        assert!(has_trigram("Éow"));
        assert!(!has_trigram("ab"));
        assert!(!has_trigram("a_b%c d"));
        assert!(!has_trigram(""));
    }
}
