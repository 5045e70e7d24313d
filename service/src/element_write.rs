//! The one write path of elements. Every entry point that creates, changes, deletes or
//! restores an element (the endpoints, revert, restore, and later batch and import) calls
//! these inside a [`WorldWrite`], so what reacts to an element write (the change log, the
//! world's element count, the trash, mentions) is written once, here. The search index
//! is the database's own, written by triggers on `world_elements` in the same transaction.
use entity::{element_relations, element_trash, world_elements};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Statement,
    prelude::DateTimeWithTimeZone,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::changes::{ChangeType, WorldWrite};
use crate::elements::{ElementDto, check_parent, check_parent_in_world};
use crate::error::is_unique_violation;
use crate::error::{Error, Result};
use crate::kinds;
use crate::mentions;
use crate::relations::write::relation_json;
use crate::values::{Kind, Name, Tags};
use crate::versioning::{self, Preserved, changed_to};

mod bulk;
pub(crate) use bulk::in_chunks;
pub use bulk::{BulkError, create_many};

/// A new element's fields, validated.
pub struct NewElement {
    pub kind: Kind,
    pub name: Name,
    pub summary: Option<String>,
    pub attributes: Value,
    pub tags: Tags,
    pub parent_id: Option<Uuid>,
    /// Set by an import: the id and timestamps to keep.
    pub preserved: Option<Preserved>,
}

/// New values for an element's fields; `None` leaves a field as it is. `attributes` is
/// the whole new document (a merge patch is applied by the caller).
#[derive(Default)]
pub struct ElementEdit {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub summary: Option<Option<String>>,
    pub attributes: Option<Value>,
    pub tags: Option<Value>,
    pub parent_id: Option<Option<Uuid>>,
}

/// The element's JSON as its GET shows it, for the change log and the trash.
pub fn element_json(element: &world_elements::Model) -> Value {
    serde_json::to_value(ElementDto::from(element.clone())).unwrap_or(Value::Null)
}

/// Reads an element of the locked world.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<world_elements::Model> {
    world_elements::Entity::find_by_id((element_id, world_id))
        .filter(world_elements::Column::WorldId.eq(world_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn create(w: &mut WorldWrite, new: NewElement) -> Result<world_elements::Model> {
    let depth = match new.parent_id {
        Some(parent_id) => check_parent_in_world(w.txn(), w.world_id(), parent_id).await?,
        None => 0,
    };
    let id = new_id(&new);
    let element = new_row(w, id, new, depth).await?;
    // Every column is known here, so the insert needs no `RETURNING` and can ride with
    // the commit's statement.
    let row = element.clone().into_active_model().reset_all();
    let insert = world_elements::Entity::insert(row).build(w.backend());
    w.execute_with_commit(insert).await.map_err(|e| {
        if is_unique_violation(&e) {
            id_taken()
        } else {
            e.into()
        }
    })?;
    sync_mentions(w, element.id, None, element.summary.as_deref()).await?;
    created(w, &element);
    Ok(element)
}

/// The id a new element gets: the one an import keeps, or a new one.
pub fn new_id(new: &NewElement) -> Uuid {
    new.preserved.map_or_else(Uuid::now_v7, |p| p.id)
}

fn id_taken() -> Error {
    Error::Conflict("an element with this id exists".into())
}

/// What every create of an element (one or many) checks and makes once its parent is
/// known to be there (and so its `depth`, one more than the parent's): the kind's schema,
/// then the row. An import keeps the times it maps.
async fn new_row(
    w: &WorldWrite,
    id: Uuid,
    new: NewElement,
    depth: i32,
) -> Result<world_elements::Model> {
    kinds::check_attributes(
        w.txn(),
        w.world_id(),
        w.kinds_version(),
        new.kind.as_str(),
        &new.attributes,
    )
    .await?;
    let at = versioning::now();
    let (created_at, updated_at) = new
        .preserved
        .map_or((at, at), |p| (p.created_at, p.updated_at));
    Ok(world_elements::Model {
        id,
        world_id: w.world_id(),
        parent_id: new.parent_id,
        kind: new.kind.into_inner(),
        name: new.name.into_inner(),
        summary: new.summary,
        attributes: new.attributes,
        tags: new.tags.into_json(),
        version: 1,
        created_by: Some(w.actor_id()),
        created_at,
        updated_at,
        depth,
    })
}

/// What reacts to a new element once its row (and its mentions) are written, for every
/// create (one or many): the world's count and the change log.
fn created(w: &mut WorldWrite, element: &world_elements::Model) {
    w.count_elements(1);
    w.record(
        ChangeType::ElementCreated,
        element.id,
        Some(element.version),
        Some(element_json(element)),
    );
}

/// Applies `edit` to `current` (read inside `w`) as one new version. Values equal to the
/// current ones are no change: an edit that changes nothing keeps the version and records
/// nothing.
pub async fn update(
    w: &mut WorldWrite,
    current: world_elements::Model,
    edit: ElementEdit,
) -> Result<world_elements::Model> {
    let mut updated = current.clone();
    let mut changes = <world_elements::ActiveModel as Default>::default();
    let mut changed = changed_to(edit.kind, &mut updated.kind, &mut changes.kind);
    changed |= changed_to(edit.name, &mut updated.name, &mut changes.name);
    changed |= changed_to(edit.summary, &mut updated.summary, &mut changes.summary);
    changed |= changed_to(
        edit.attributes,
        &mut updated.attributes,
        &mut changes.attributes,
    );
    changed |= changed_to(edit.tags, &mut updated.tags, &mut changes.tags);
    if let Some(parent_id) = edit.parent_id.filter(|p| *p != current.parent_id) {
        let depth = match parent_id {
            // The world row lock serializes moves, so two concurrent moves cannot each
            // pass the check and together close a cycle.
            Some(parent_id) => check_parent(w.txn(), w.world_id(), current.id, parent_id).await?,
            None => 0,
        };
        changes.parent_id = Set(parent_id);
        updated.parent_id = parent_id;
        if depth != current.depth {
            changes.depth = Set(depth);
            updated.depth = depth;
        }
        changed = true;
    }
    if !changed {
        return Ok(current);
    }
    // Every change is checked against the kind's schema as the element will be, also one
    // that touches neither kind nor attributes: an element that no longer satisfies a
    // changed schema is fixed before it is changed otherwise.
    kinds::check_attributes(
        w.txn(),
        w.world_id(),
        w.kinds_version(),
        &updated.kind,
        &updated.attributes,
    )
    .await?;
    if updated.depth != current.depth {
        // Before the element's own statement, which may wait for the commit: the walk
        // goes down from it by `parent_id`, which the move does not change below it.
        set_descendant_depths(w.txn(), w.world_id(), current.id, updated.depth + 1).await?;
    }
    updated.version = current.version + 1;
    updated.updated_at = versioning::now();
    changes.version = Set(updated.version);
    changes.updated_at = Set(updated.updated_at);
    // Every writer of the world holds its lock, so nobody can have changed the row since
    // `current` was read in this transaction: the new row is known without `RETURNING`,
    // and the update can ride with the commit's statement.
    let statement = world_elements::Entity::update_many()
        .set(changes)
        .filter(world_elements::Column::Id.eq(current.id))
        .filter(world_elements::Column::WorldId.eq(w.world_id()))
        .filter(world_elements::Column::Version.eq(current.version))
        .build(w.backend());
    w.execute_with_commit(statement).await?;
    sync_mentions(
        w,
        updated.id,
        current.summary.as_deref(),
        updated.summary.as_deref(),
    )
    .await?;
    w.record(
        ChangeType::ElementUpdated,
        updated.id,
        Some(updated.version),
        Some(element_json(&updated)),
    );
    Ok(updated)
}

/// Deletes `current`: its children become roots (a new version each), its relations go
/// with it, and it goes to the trash with them.
pub async fn delete(w: &mut WorldWrite, current: world_elements::Model) -> Result<()> {
    let world_id = w.world_id();
    // The children become roots, and what is below them moves up with them: the depths
    // first (the walk follows the children's `parent_id`), then the children's rows.
    set_descendant_depths(w.txn(), world_id, current.id, 0).await?;
    // The foreign key's ON DELETE SET NULL would clear the children too, but silently:
    // doing it here bumps their version, so their ETags and the log change with them.
    let children = world_elements::Entity::update_many()
        .col_expr(
            world_elements::Column::ParentId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            world_elements::Column::Version,
            Expr::col(world_elements::Column::Version).add(1),
        )
        .col_expr(
            world_elements::Column::UpdatedAt,
            Expr::value(versioning::now()),
        )
        .filter(world_elements::Column::ParentId.eq(current.id))
        .filter(world_elements::Column::WorldId.eq(world_id))
        .exec_with_returning(w.txn())
        .await?;
    for child in &children {
        w.record(
            ChangeType::ElementUpdated,
            child.id,
            Some(child.version),
            Some(element_json(child)),
        );
    }
    let relations = element_relations::Entity::delete_many()
        .filter(element_relations::Column::WorldId.eq(world_id))
        .filter(
            Condition::any()
                .add(element_relations::Column::SourceId.eq(current.id))
                .add(element_relations::Column::TargetId.eq(current.id)),
        )
        .exec_with_returning(w.txn())
        .await?;
    for relation in &relations {
        w.record(
            ChangeType::RelationDeleted,
            relation.id,
            Some(relation.version),
            None,
        );
    }
    mentions::sync(
        w.txn(),
        world_id,
        current.id,
        current.summary.as_deref(),
        None,
    )
    .await?;
    world_elements::Entity::delete_by_id((current.id, current.world_id))
        .exec(w.txn())
        .await?;
    let trashed = element_trash::ActiveModel {
        world_id: Set(world_id),
        element_id: Set(current.id),
        kind: Set(current.kind.clone()),
        name: Set(current.name.clone()),
        deleted_at: Set(versioning::now()),
        deleted_by: Set(Some(w.actor_id())),
        element: Set(element_json(&current)),
        relations: Set(Value::Array(relations.iter().map(relation_json).collect())),
    };
    // An element deleted, restored and deleted again has one row: the latest deletion.
    element_trash::Entity::insert(trashed)
        .on_conflict(
            OnConflict::columns([
                element_trash::Column::WorldId,
                element_trash::Column::ElementId,
            ])
            .update_columns([
                element_trash::Column::Kind,
                element_trash::Column::Name,
                element_trash::Column::DeletedAt,
                element_trash::Column::DeletedBy,
                element_trash::Column::Element,
                element_trash::Column::Relations,
            ])
            .to_owned(),
        )
        .exec(w.txn())
        .await?;
    w.count_elements(-1);
    w.record(
        ChangeType::ElementDeleted,
        current.id,
        Some(current.version),
        None,
    );
    Ok(())
}

/// An element as the trash keeps it (its GET JSON).
#[derive(Deserialize)]
struct TrashedElement {
    id: Uuid,
    parent_id: Option<Uuid>,
    kind: String,
    name: String,
    summary: Option<String>,
    attributes: Value,
    tags: Value,
    version: i32,
    created_by: Option<Uuid>,
    created_at: DateTimeWithTimeZone,
}

/// A relation as the trash keeps it (its GET JSON).
#[derive(Deserialize)]
struct TrashedRelation {
    id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
    kind: String,
    attributes: Value,
    version: i32,
    created_at: DateTimeWithTimeZone,
}

/// Brings an element back from the trash with its id and a new version, under its old
/// parent when that still exists (a root otherwise), with the relations deleted with it
/// whose other end still exists (and that no relation made since duplicates). 409 when
/// the element is not in the trash.
pub async fn restore(w: &mut WorldWrite, element_id: Uuid) -> Result<world_elements::Model> {
    let world_id = w.world_id();
    let not_in_trash = || Error::Conflict("the element is not in the trash".into());
    let trashed = element_trash::Entity::find_by_id((world_id, element_id))
        .one(w.txn())
        .await?
        .ok_or_else(not_in_trash)?;
    let stored: TrashedElement = serde_json::from_value(trashed.element.clone())
        .map_err(|e| Error::internal("trashed element is not an element", e))?;
    let relations: Vec<TrashedRelation> = serde_json::from_value(trashed.relations.clone())
        .map_err(|e| Error::internal("trashed relations are not relations", e))?;
    // A restored element has no children: its children became roots when it was deleted.
    let (parent_id, depth) = match stored.parent_id {
        Some(parent) => match depth_of(w.txn(), world_id, parent).await? {
            Some(parent_depth) => (Some(parent), parent_depth + 1),
            None => (None, 0),
        },
        None => (None, 0),
    };
    // A restore is a write like any other: the element comes back only if it satisfies its
    // kind's schema as it is now.
    kinds::check_attributes(
        w.txn(),
        world_id,
        w.kinds_version(),
        &stored.kind,
        &stored.attributes,
    )
    .await?;
    let now = versioning::now();
    let element = world_elements::ActiveModel {
        id: Set(stored.id),
        world_id: Set(world_id),
        parent_id: Set(parent_id),
        kind: Set(stored.kind),
        name: Set(stored.name),
        summary: Set(stored.summary),
        attributes: Set(stored.attributes),
        tags: Set(stored.tags),
        version: Set(stored.version + 1),
        created_by: Set(stored.created_by),
        created_at: Set(stored.created_at),
        updated_at: Set(now),
        depth: Set(depth),
    }
    .insert(w.txn())
    .await?;
    element_trash::Entity::delete_by_id((world_id, element_id))
        .exec(w.txn())
        .await?;
    mentions::sync(
        w.txn(),
        world_id,
        element.id,
        None,
        element.summary.as_deref(),
    )
    .await?;
    w.count_elements(1);
    w.record(
        ChangeType::ElementRestored,
        element.id,
        Some(element.version),
        Some(element_json(&element)),
    );
    for relation in relations {
        let other = if relation.source_id == element.id {
            relation.target_id
        } else {
            relation.source_id
        };
        if other != element.id && !exists(w.txn(), world_id, other).await? {
            continue;
        }
        let inserted = element_relations::Entity::insert(element_relations::ActiveModel {
            id: Set(relation.id),
            world_id: Set(world_id),
            source_id: Set(relation.source_id),
            target_id: Set(relation.target_id),
            kind: Set(relation.kind),
            attributes: Set(relation.attributes),
            version: Set(relation.version + 1),
            created_at: Set(relation.created_at),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing()
        .exec_with_returning(w.txn())
        .await?;
        if let sea_orm::TryInsertResult::Inserted(restored) = inserted {
            w.record(
                ChangeType::RelationCreated,
                restored.id,
                Some(restored.version),
                Some(relation_json(&restored)),
            );
        }
    }
    Ok(element)
}

/// The depth of an element of the world, if it is one.
async fn depth_of<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    element_id: Uuid,
) -> Result<Option<i32>> {
    Ok(world_elements::Entity::find_by_id((element_id, world_id))
        .filter(world_elements::Column::WorldId.eq(world_id))
        .select_only()
        .column(world_elements::Column::Depth)
        .into_tuple::<i32>()
        .one(db)
        .await?)
}

/// The deepest a walk down the hierarchy goes: far below any hierarchy the write path
/// makes, a bound should rows written around it ever have closed a cycle.
const DEPTH_WALK_CAP: i32 = 100_000;

/// Gives every element below `element_id` its depth under it, its children `first`: after
/// a move (`first` is one more than the element's new depth), and when a delete makes its
/// children roots (`first` = 0). One statement however big the subtree; rows already
/// right are not written. Depth is not part of an element's representation, so the rows
/// keep their versions and nothing is logged.
async fn set_descendant_depths<C: ConnectionTrait>(
    db: &C,
    world_id: Uuid,
    element_id: Uuid,
    first: i32,
) -> Result<()> {
    let backend = db.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let sql = format!(
        "WITH RECURSIVE below (id, depth) AS ( \
             SELECT id, CAST({p1} AS INTEGER) FROM world_elements \
             WHERE parent_id = {p2} AND world_id = {p3} \
             UNION ALL \
             SELECT e.id, b.depth + 1 FROM world_elements e JOIN below b ON e.parent_id = b.id \
             WHERE b.depth < {p4} \
         ) \
         UPDATE world_elements SET depth = below.depth FROM below \
         WHERE world_elements.id = below.id AND world_elements.depth <> below.depth",
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
        p4 = p(4),
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            first.into(),
            element_id.into(),
            world_id.into(),
            DEPTH_WALK_CAP.into(),
        ],
    ))
    .await?;
    Ok(())
}

async fn exists<C: ConnectionTrait>(db: &C, world_id: Uuid, element_id: Uuid) -> Result<bool> {
    Ok(world_elements::Entity::find_by_id((element_id, world_id))
        .filter(world_elements::Column::WorldId.eq(world_id))
        .count(db)
        .await?
        > 0)
}

/// Brings the element's mentions in line with its summary ([`mentions::sync`]). Only when
/// the mentioned ids change, which most writes do not: the element's own statement is
/// sent first then, since the mentions refer to its row.
async fn sync_mentions(
    w: &mut WorldWrite,
    element_id: Uuid,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<()> {
    if !mentions::differ(before, after) {
        return Ok(());
    }
    w.send_pending().await?;
    mentions::sync(w.txn(), w.world_id(), element_id, before, after).await
}
