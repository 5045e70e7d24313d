//! Mentions: a summary mentions an element by writing `[[<element_id>]]` or
//! `[[<element_id>|shown text]]` ([`mentioned_ids`] reads the markup). The element
//! write path calls [`sync`] on every write, so `element_mentions` always says which
//! elements a summary links; ids that are not elements of the same world stay text.
use entity::{element_mentions, world_elements};
use std::collections::HashSet;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Statement,
};
use uuid::Uuid;

use crate::access::world_access_with_element;
use crate::auth::Caller;
use crate::elements::ElementDto;
use crate::error::Result;
use crate::paging::{Keyset, Page, PageRequest};
use crate::seed::batch_rows;

const ORDERING: &str = "mentions:id";

/// Whether a summary changed from `before` to `after` mentions other ids.
pub fn differ(before: Option<&str>, after: Option<&str>) -> bool {
    mentioned_ids(before.unwrap_or_default()) != mentioned_ids(after.unwrap_or_default())
}

/// Brings the mentions made by `element_id`'s summary in line with its new text
/// (`after`; `None` when it has none or the element goes). `before` is the summary it
/// replaces (`None` for a new element): when both mention the same ids nothing is
/// written. Runs in the caller's transaction; bulk writers call it once per element.
pub async fn sync<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    element_id: Uuid,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<()> {
    let ids = mentioned_ids(after.unwrap_or_default());
    let previous = mentioned_ids(before.unwrap_or_default());
    if ids == previous {
        return Ok(());
    }
    if !previous.is_empty() {
        element_mentions::Entity::delete_many()
            .filter(element_mentions::Column::WorldId.eq(world_id))
            .filter(element_mentions::Column::SourceId.eq(element_id))
            .exec(db)
            .await?;
    }
    if ids.is_empty() {
        return Ok(());
    }
    // Only elements of the same world are linked; the rest stays text.
    let targets = Query::select()
        .expr(Expr::val(world_id))
        .expr(Expr::val(element_id))
        .column(world_elements::Column::Id)
        .from(world_elements::Entity)
        .and_where(world_elements::Column::WorldId.eq(world_id))
        .and_where(world_elements::Column::Id.is_in(ids))
        .to_owned();
    let insert = Query::insert()
        .into_table(element_mentions::Entity)
        .columns([
            element_mentions::Column::WorldId,
            element_mentions::Column::SourceId,
            element_mentions::Column::TargetId,
        ])
        .select_from(targets)
        .map_err(|e| crate::Error::Internal(format!("mentions insert: {e}")))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// Links every mention in the world's summaries that names an element of the world and is
/// not linked yet. For an import, which is one write: a summary may mention an element
/// that comes later in the file, which a create (linking what exists when it is written)
/// cannot link. A page of summaries at a time, in the order of the index
/// `(world_id, depth, id)`, so memory stays flat however big the world.
pub async fn link_all<C: ConnectionTrait>(db: &C, world_id: Uuid) -> Result<()> {
    const PAGE_ROWS: i64 = 1000;
    let backend = db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let sql = format!(
        "SELECT id, depth, summary FROM world_elements \
         WHERE world_id = {p1} AND (depth, id) > ({p2}, {p3}) AND summary LIKE '%[[%' \
         ORDER BY depth, id LIMIT {p4}",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
    );
    let mut after = (-1i32, Uuid::nil());
    loop {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                &sql,
                [
                    world_id.into(),
                    after.0.into(),
                    after.1.into(),
                    PAGE_ROWS.into(),
                ],
            ))
            .await?;
        let mut links = Vec::new();
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let summary: Option<String> = row.try_get("", "summary")?;
            after = (row.try_get("", "depth")?, id);
            links.extend(
                mentioned_ids(summary.as_deref().unwrap_or_default())
                    .into_iter()
                    .map(|target_id| (id, target_id)),
            );
        }
        let mut targets: Vec<Uuid> = links.iter().map(|(_, target)| *target).collect();
        targets.sort_unstable();
        targets.dedup();
        let mut elements = HashSet::with_capacity(targets.len());
        for part in targets.chunks(batch_rows(backend, 1)) {
            let found: Vec<Uuid> = world_elements::Entity::find()
                .select_only()
                .column(world_elements::Column::Id)
                .filter(world_elements::Column::WorldId.eq(world_id))
                .filter(world_elements::Column::Id.is_in(part.to_vec()))
                .into_tuple()
                .all(db)
                .await?;
            elements.extend(found);
        }
        links.retain(|(_, target)| elements.contains(target));
        for part in links.chunks(batch_rows(backend, 3)) {
            element_mentions::Entity::insert_many(part.iter().map(|&(source_id, target_id)| {
                element_mentions::ActiveModel::from(element_mentions::Model {
                    source_id,
                    target_id,
                    world_id,
                })
            }))
            .on_conflict(
                // The primary key, all of it.
                OnConflict::columns([
                    element_mentions::Column::SourceId,
                    element_mentions::Column::TargetId,
                    element_mentions::Column::WorldId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
        if rows.len() < PAGE_ROWS as usize {
            return Ok(());
        }
    }
}

/// The elements whose summary mentions `element_id`, by id, paginated.
pub async fn list(
    db: &DatabaseConnection,
    caller: Option<&Caller>,
    world_id: Uuid,
    element_id: Uuid,
    page: PageRequest,
) -> Result<Page<ElementDto>> {
    world_access_with_element(db, caller, world_id, element_id).await?;
    let mentioning = element_mentions::Entity::find()
        .select_only()
        .column(element_mentions::Column::SourceId)
        .filter(element_mentions::Column::TargetId.eq(element_id))
        .into_query();
    let query = world_elements::Entity::find()
        .filter(world_elements::Column::WorldId.eq(world_id))
        .filter(world_elements::Column::Id.in_subquery(mentioning));
    let keyset = Keyset::by_id(ORDERING, world_elements::Column::Id, false);
    let rows = keyset.apply(query, &page)?.all(db).await?;
    Ok(keyset.page(rows, &page, |e| (String::new(), e.id), ElementDto::from))
}

/// The ids a text mentions, each once, in the order they first appear. Whether an id is
/// an element of the same world is for the caller to check.
pub fn mentioned_ids(text: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = Vec::new();
    for (_, id) in mentions_in(text) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The text with the id of every mention replaced by `map(id)`, the rest as it was: what
/// an import does to a summary, whose mentions name elements by their old ids.
pub fn map_mentions(text: &str, map: impl Fn(Uuid) -> Uuid) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, id) in mentions_in(text) {
        out.push_str(&text[copied..at]);
        out.push_str(&map(id).hyphenated().to_string());
        copied = at + ID_LEN;
    }
    out.push_str(&text[copied..]);
    out
}

/// An id's length in the markup: only the hyphenated form is a mention.
const ID_LEN: usize = 36;

/// Every mention of a text, in order: where its id starts (a byte offset) and the id.
fn mentions_in(text: &str) -> Vec<(usize, Uuid)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("[[") {
        from += start + 2;
        let Some(end) = text[from..].find("]]") else {
            break;
        };
        let inner = &text[from..from + end];
        let id_text = inner.split_once('|').map_or(inner, |(id, _)| id);
        // Only the hyphenated form: `[[...]]` holding anything else is plain text.
        if id_text.len() == ID_LEN
            && let Ok(id) = Uuid::try_parse(id_text)
        {
            found.push((from, id));
            from += end + 2;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_once_each() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let text = format!("[[{a}]] met [[{b}|the dragon]], then [[{a}|her]]; [[nope]] [[{b}");
        assert_eq!(mentioned_ids(&text), vec![a, b]);
        assert!(mentioned_ids("[[ not an id ]] [[]]").is_empty());
        assert_eq!(mentioned_ids(&format!("[[x [[{a}]]")), vec![a]);
    }

    #[test]
    fn mapping_replaces_the_ids_of_mentions_only() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let new_a = Uuid::now_v7();
        let new_b = Uuid::now_v7();
        let map = |id: Uuid| if id == a { new_a } else { new_b };
        let text = format!("{a} [[{a}]] met [[{b}|the dragon]], then [[{a}|her]]; [[nope]] [[{b}");
        assert_eq!(
            map_mentions(&text, map),
            format!(
                "{a} [[{new_a}]] met [[{new_b}|the dragon]], then [[{new_a}|her]]; [[nope]] [[{b}"
            )
        );
        assert_eq!(map_mentions("no mentions [[", map), "no mentions [[");
        assert_eq!(
            map_mentions(&format!("[[x [[{a}]]"), map),
            format!("[[x [[{new_a}]]")
        );
    }
}
