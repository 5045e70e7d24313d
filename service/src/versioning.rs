//! Optimistic concurrency: every change is one conditional UPDATE that bumps `version`
//! only if it still has the value the change was computed from.
use chrono::SubsecRound;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, prelude::DateTimeWithTimeZone,
};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Now, to the microsecond (what PostgreSQL keeps): the one clock for every timestamp the
/// server stores, so that a value read back equals the value written on both backends.
pub fn now() -> DateTimeWithTimeZone {
    chrono::Utc::now().trunc_subsecs(6).fixed_offset()
}

/// An id and timestamps a write keeps rather than making new ones: an import's.
#[derive(Debug, Clone, Copy)]
pub struct Preserved {
    pub id: Uuid,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// 412 when the client's `If-Match` names another version than the current one.
pub fn check_if_match(if_match: Option<i32>, current: i32) -> Result<()> {
    match if_match {
        Some(expected) if expected != current => Err(Error::PreconditionFailed),
        _ => Ok(()),
    }
}

/// The columns every versioned table shares.
pub struct VersionedColumns<C> {
    pub id: C,
    pub version: C,
    pub updated_at: C,
}

/// Applies `changes` to row `id` if its version is still `expected`, bumping the version
/// and `updated_at` in the same statement. `None` means another writer got there first.
pub async fn update_if_version<E, Db>(
    db: &Db,
    columns: VersionedColumns<E::Column>,
    id: Uuid,
    expected: i32,
    changes: E::ActiveModel,
) -> Result<Option<E::Model>>
where
    E: EntityTrait,
    Db: ConnectionTrait,
{
    let updated = E::update_many()
        .set(changes)
        .col_expr(columns.version, Expr::col(columns.version).add(1))
        .col_expr(columns.updated_at, Expr::value(now()))
        .filter(columns.id.eq(id))
        .filter(columns.version.eq(expected))
        .exec_with_returning(db)
        .await
        .map_err(|e| {
            if crate::error::is_unique_violation(&e) {
                Error::Conflict("the change conflicts with an existing resource".into())
            } else {
                e.into()
            }
        })?;
    Ok(updated.into_iter().next())
}

/// Deletes row `id`, only at version `if_match` when one was given: 412 when that version
/// is no longer current, 404 when the row is already gone.
pub async fn delete_if_version<E, Db>(
    db: &Db,
    id_column: E::Column,
    id: Uuid,
    version_column: E::Column,
    if_match: Option<i32>,
) -> Result<()>
where
    E: EntityTrait,
    Db: ConnectionTrait,
{
    let mut query = E::delete_many().filter(id_column.eq(id));
    if let Some(expected) = if_match {
        query = query.filter(version_column.eq(expected));
    }
    if query.exec(db).await?.rows_affected == 0 {
        return Err(if if_match.is_some() {
            Error::PreconditionFailed
        } else {
            Error::NotFound
        });
    }
    Ok(())
}
