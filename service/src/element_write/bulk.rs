//! The bulk form of the element create: many rows as [`super::create`] would write them
//! one after the other (the same checks, the same row, the same change and count, the
//! same mentions), with a few multi-row statements per chunk instead of a round trip or
//! two per row. Batch and import call it; the per-row steps ([`super::new_row`],
//! [`super::created`]) are the single create's own, so a feature that hooks element
//! creates still adds one call there.
use std::collections::{HashMap, HashSet};

use entity::{element_mentions, world_elements};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{NewElement, created, id_taken, new_row};
use crate::bulk_insert;
use crate::changes::WorldWrite;
use crate::elements::parent_not_in_world;
use crate::error::{Error, is_unique_violation};
use crate::mentions;
use crate::seed::{ELEMENT_COLUMNS, batch_rows};

/// A bulk write's failure: the row that failed (its index in what the caller passed),
/// when it is about a row, and the error the single write would have answered for it.
#[derive(Debug)]
pub struct BulkError {
    pub index: Option<usize>,
    pub error: Error,
}

impl BulkError {
    pub(crate) fn at(index: usize, error: Error) -> Self {
        Self {
            index: Some(index),
            error,
        }
    }

    /// The same failure, for rows counted from `offset` on.
    pub(crate) fn after(self, offset: usize) -> Self {
        Self {
            index: self.index.map(|i| i + offset),
            error: self.error,
        }
    }
}

impl From<Error> for BulkError {
    fn from(error: Error) -> Self {
        Self { index: None, error }
    }
}

impl From<sea_orm::DbErr> for BulkError {
    fn from(error: sea_orm::DbErr) -> Self {
        Error::from(error).into()
    }
}

/// Creates `rows` (each with the id [`super::new_id`] chose for it, so that a caller can
/// name it before it is written) as [`super::create`] would, one after the other: a row
/// may have an earlier row as its parent, and its summary links the elements that exist
/// when it is written (earlier rows among them). On failure: the first row that fails,
/// with the error the single create would have answered; the caller rolls back.
pub async fn create_many(
    w: &mut WorldWrite,
    rows: Vec<(Uuid, NewElement)>,
) -> Result<Vec<world_elements::Model>, BulkError> {
    let per_statement = batch_rows(w.backend(), ELEMENT_COLUMNS);
    in_chunks(w, rows, per_statement, create_chunk).await
}

/// Writes `rows` with `create_chunk`, `per_statement` rows at a time (one multi-row
/// statement each), and gives a failure the index of its row among all `rows`.
pub(crate) async fn in_chunks<Row, Made>(
    w: &mut WorldWrite,
    rows: Vec<Row>,
    per_statement: usize,
    mut create_chunk: impl AsyncFnMut(&mut WorldWrite, Vec<Row>) -> Result<Vec<Made>, BulkError>,
) -> Result<Vec<Made>, BulkError> {
    let mut made = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(per_statement).collect();
        let offset = made.len();
        let models = create_chunk(w, chunk).await.map_err(|e| e.after(offset))?;
        made.extend(models);
    }
    Ok(made)
}

async fn create_chunk(
    w: &mut WorldWrite,
    chunk: Vec<(Uuid, NewElement)>,
) -> Result<Vec<world_elements::Model>, BulkError> {
    // Where each id of the chunk is (its first row, if the chunk repeats it).
    let mut position: HashMap<Uuid, usize> = HashMap::with_capacity(chunk.len());
    for (index, (id, _)) in chunk.iter().enumerate() {
        position.entry(*id).or_insert(index);
    }
    let mentioned: Vec<Vec<Uuid>> = chunk
        .iter()
        .map(|(_, new)| mentions::mentioned_ids(new.summary.as_deref().unwrap_or_default()))
        .collect();
    // Parents and mentioned elements written before this chunk: one query for all.
    let mut outside: Vec<Uuid> = chunk
        .iter()
        .filter_map(|(_, new)| new.parent_id)
        .chain(mentioned.iter().flatten().copied())
        .filter(|id| !position.contains_key(id))
        .collect();
    outside.sort_unstable();
    outside.dedup();
    // With their depths: a child's is one more than its parent's.
    let before = elements_among(w, outside).await?;
    // Whether `id` is an element when row `index` is written.
    let there = |id: &Uuid, index: usize| match position.get(id) {
        Some(&at) => at < index,
        None => before.contains_key(id),
    };

    // Ids an import keeps may exist already; new ones (UUID v7) do not, and their rows go
    // in without the cost of `ON CONFLICT` and `RETURNING`.
    let kept_ids = chunk.iter().any(|(_, new)| new.preserved.is_some());
    let mut models: Vec<world_elements::Model> = Vec::with_capacity(chunk.len());
    let mut failure = None;
    for (index, (id, new)) in chunk.into_iter().enumerate() {
        if position.get(&id) != Some(&index) {
            failure = Some(BulkError::at(index, id_taken()));
            break;
        }
        let depth = match new.parent_id {
            None => 0,
            Some(parent_id) => {
                // An earlier row of the chunk (written, so in `models`), or an element
                // written before the chunk.
                let parent_depth = match position.get(&parent_id) {
                    Some(&at) if at < index => models.get(at).map(|m| m.depth),
                    Some(_) => None,
                    None => before.get(&parent_id).copied(),
                };
                match parent_depth {
                    Some(parent_depth) => parent_depth + 1,
                    None => {
                        failure = Some(BulkError::at(index, parent_not_in_world()));
                        break;
                    }
                }
            }
        };
        match new_row(w, id, new, depth).await {
            Ok(model) => models.push(model),
            Err(error) => {
                failure = Some(BulkError::at(index, error));
                break;
            }
        }
    }
    if kept_ids {
        // The rows before a failing one are inserted too: one of them may have an id that
        // exists already, which the single create would have refused first.
        let inserted = insert_new(w, &models).await?;
        if let Some(index) = models.iter().position(|m| !inserted.contains(&m.id)) {
            return Err(BulkError::at(index, id_taken()));
        }
    } else if failure.is_none() {
        insert(w, &models).await?;
    }
    if let Some(failure) = failure {
        return Err(failure);
    }

    // A summary links what is there when its element is written: itself and earlier
    // rows, and elements written before.
    let links: Vec<element_mentions::Model> = models
        .iter()
        .zip(&mentioned)
        .enumerate()
        .flat_map(|(index, (model, targets))| {
            targets
                .iter()
                .filter(move |t| **t == model.id || there(t, index))
                .map(|&target_id| element_mentions::Model {
                    world_id: model.world_id,
                    source_id: model.id,
                    target_id,
                })
        })
        .collect();
    for part in links.chunks(batch_rows(w.backend(), 2)) {
        element_mentions::Entity::insert_many(
            part.iter()
                .cloned()
                .map(element_mentions::ActiveModel::from),
        )
        .exec_without_returning(w.txn())
        .await?;
    }
    for model in &models {
        created(w, model);
    }
    Ok(models)
}

/// Which of `ids` are elements of the write's world, with their depths.
async fn elements_among(w: &WorldWrite, ids: Vec<Uuid>) -> Result<HashMap<Uuid, i32>, BulkError> {
    let mut found = HashMap::with_capacity(ids.len());
    for part in ids.chunks(batch_rows(w.backend(), 1)) {
        // By id alone, the world compared here: with the world in the condition,
        // PostgreSQL may read a world that is being imported (and has no statistics yet)
        // through a world index, every row of it for every chunk.
        let rows: Vec<(Uuid, Uuid, i32)> = world_elements::Entity::find()
            .select_only()
            .column(world_elements::Column::Id)
            .column(world_elements::Column::WorldId)
            .column(world_elements::Column::Depth)
            .filter(world_elements::Column::Id.is_in(part.to_vec()))
            .into_tuple()
            .all(w.txn())
            .await?;
        found.extend(
            rows.into_iter()
                .filter(|(_, world_id, _)| *world_id == w.world_id())
                .map(|(id, _, depth)| (id, depth)),
        );
    }
    Ok(found)
}

/// Inserts `models` (whose ids are new) in one statement.
async fn insert(w: &WorldWrite, models: &[world_elements::Model]) -> Result<(), BulkError> {
    if models.is_empty() {
        return Ok(());
    }
    let statement = match w.backend() {
        DbBackend::Postgres => bulk_insert::elements(models, "")?,
        backend => world_elements::Entity::insert_many(
            models
                .iter()
                .cloned()
                .map(world_elements::ActiveModel::from),
        )
        .build(backend),
    };
    w.txn().execute_raw(statement).await.map_err(|e| {
        if is_unique_violation(&e) {
            BulkError::at(0, id_taken())
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Inserts `models` in one statement, skipping any whose id exists; returns the ids
/// inserted. Every column is known, so nothing else needs to come back.
async fn insert_new(
    w: &WorldWrite,
    models: &[world_elements::Model],
) -> Result<HashSet<Uuid>, BulkError> {
    if models.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = match w.backend() {
        DbBackend::Postgres => {
            let insert = bulk_insert::elements(models, "ON CONFLICT DO NOTHING RETURNING id")?;
            w.txn().query_all_raw(insert).await?
        }
        _ => {
            let mut insert = world_elements::Entity::insert_many(
                models
                    .iter()
                    .cloned()
                    .map(world_elements::ActiveModel::from),
            )
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .into_query();
            insert.returning_col(world_elements::Column::Id);
            w.txn().query_all(&insert).await?
        }
    };
    let mut ids = HashSet::with_capacity(rows.len());
    for row in rows {
        ids.insert(row.try_get::<Uuid>("", "id")?);
    }
    Ok(ids)
}
