//! Optimistic concurrency: every change is one conditional UPDATE that bumps `version`
//! only if it still has the value the change was computed from.
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, prelude::DateTimeWithTimeZone};
use uuid::Uuid;

use entity::Versioned;

use crate::error::{Error, Result};

/// The one clock (`entity::now`): to the microsecond, what PostgreSQL keeps.
pub use entity::now;

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

/// Whether `edit` gives `field` another value; if so, the value goes into both `field`
/// and the column's `change`.
pub fn changed_to<T>(edit: Option<T>, field: &mut T, change: &mut sea_orm::ActiveValue<T>) -> bool
where
    T: PartialEq + Clone + Into<sea_orm::Value>,
{
    match edit {
        Some(value) if value != *field => {
            *change = sea_orm::ActiveValue::Set(value.clone());
            *field = value;
            true
        }
        _ => false,
    }
}

/// Applies `changes` to the row `id` of a versioned table, bumping `version` and
/// `updated_at` in the same statement, and returns the row as stored. The caller read the
/// row at `expected` under its world's write lock, which every writer of the world holds:
/// the version cannot have moved, and a row that did not match is a broken invariant, not
/// a conflict to retry. A unique key the change collides with is 409.
pub async fn update_versioned<E, Db>(
    db: &Db,
    id: Uuid,
    expected: i32,
    changes: E::ActiveModel,
) -> Result<E::Model>
where
    E: Versioned,
    Db: ConnectionTrait,
{
    let updated = E::update_many()
        .set(changes)
        .col_expr(E::version_column(), Expr::col(E::version_column()).add(1))
        .col_expr(E::updated_at_column(), Expr::value(now()))
        .filter(E::id_column().eq(id))
        .filter(E::version_column().eq(expected))
        .exec_with_returning(db)
        .await
        .map_err(|e| {
            if crate::error::is_unique_violation(&e) {
                Error::Conflict("the change conflicts with an existing resource".into())
            } else {
                e.into()
            }
        })?;
    updated.into_iter().next().ok_or_else(|| {
        Error::Internal(format!(
            "{} {id} changed under its world's lock",
            E::default().table_name()
        ))
    })
}

/// Deletes row `id`, only at version `if_match` when one was given: 412 when that version
/// is no longer current, 404 when the row is already gone.
pub async fn delete_if_version<E, Db>(db: &Db, id: Uuid, if_match: Option<i32>) -> Result<()>
where
    E: Versioned,
    Db: ConnectionTrait,
{
    let mut query = E::delete_many().filter(E::id_column().eq(id));
    if let Some(expected) = if_match {
        query = query.filter(E::version_column().eq(expected));
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
