//! Moving the database to a named revision: `up --to`, `down --to` and `stamp`, which
//! records a revision as applied without running it (adopting a database whose schema
//! was made some other way), as Alembic's `upgrade REV`, `downgrade REV` and `stamp` do.
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use super::{WorkflowError, revisions};
use crate::Migrator;

/// How many pending revisions `up` must apply so that `target` is applied: every
/// pending one up to it, in order. Zero when it is applied already.
pub async fn pending_through(db: &DatabaseConnection, target: &str) -> Result<u32, WorkflowError> {
    let in_code = revisions::in_code();
    let at = revisions::position(&in_code, target)?;
    let applied = revisions::applied(db).await?;
    let count = in_code[..=at]
        .iter()
        .filter(|revision| !applied.iter().any(|name| name == revision.name()))
        .count();
    Ok(count.min(u32::MAX as usize) as u32)
}

/// How many applied revisions `down` must roll back so that `target` is the newest one
/// left applied.
pub async fn applied_after(db: &DatabaseConnection, target: &str) -> Result<u32, WorkflowError> {
    let in_code = revisions::in_code();
    let at = revisions::position(&in_code, target)?;
    let applied = revisions::applied(db).await?;
    if !applied.iter().any(|name| name == target) {
        return Err(WorkflowError::new(format!(
            "down --to {target}: that revision is not applied; `up --to` it instead"
        )));
    }
    let count = in_code[at + 1..]
        .iter()
        .filter(|revision| applied.iter().any(|name| name == revision.name()))
        .count();
    Ok(count.min(u32::MAX as usize) as u32)
}

/// Records `target` and every revision before it as applied, and every later one as not
/// applied, running none of them. Returns the versions added and removed.
pub async fn stamp(
    db: &DatabaseConnection,
    target: &str,
) -> Result<(Vec<String>, Vec<String>), WorkflowError> {
    let in_code = revisions::in_code();
    let at = revisions::position(&in_code, target)?;
    Migrator::install(db).await?;
    let applied = revisions::applied(db).await?;
    let is_applied = |name: &str| applied.iter().any(|a| a == name);
    let added: Vec<String> = in_code[..=at]
        .iter()
        .map(|r| r.name().to_owned())
        .filter(|name| !is_applied(name))
        .collect();
    let removed: Vec<String> = in_code[at + 1..]
        .iter()
        .map(|r| r.name().to_owned())
        .filter(|name| is_applied(name))
        .collect();
    let table = Migrator::migration_table_name().to_string();
    let now = chrono::Utc::now().timestamp();
    let txn = db.begin().await?;
    for name in &added {
        let insert = Query::insert()
            .into_table(table.clone())
            .columns(["version", "applied_at"])
            .values_panic([name.as_str().into(), now.into()])
            .to_owned();
        txn.execute(&insert).await?;
    }
    for name in &removed {
        let delete = Query::delete()
            .from_table(table.clone())
            .and_where(Expr::col("version").eq(name.as_str()))
            .to_owned();
        txn.execute(&delete).await?;
    }
    txn.commit().await?;
    Ok((added, removed))
}
