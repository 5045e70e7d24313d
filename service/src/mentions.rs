//! Mentions: a summary mentions an element by writing `[[<element_id>]]` or
//! `[[<element_id>|shown text]]` ([`mentioned_ids`] reads the markup). The element
//! write path calls [`sync`] on every write, so `element_mentions` always says which
//! elements a summary links; ids that are not elements of the same world stay text.
use entity::{element_mentions, world_elements};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use crate::access::world_access_with_element;
use crate::auth::Caller;
use crate::elements::ElementDto;
use crate::error::Result;
use crate::paging::{Keyset, Page, PageRequest};

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
    let mut rest = text;
    while let Some(start) = rest.find("[[") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("]]") else { break };
        let inner = &rest[..end];
        let id_text = inner.split_once('|').map_or(inner, |(id, _)| id);
        // Only the hyphenated form: `[[...]]` holding anything else is plain text.
        if id_text.len() == 36
            && let Ok(id) = Uuid::try_parse(id_text)
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
            rest = &rest[end + 2..];
        }
    }
    ids
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
}
