//! A finer statistics sample for `world_elements.attributes` (PostgreSQL only).
//!
//! PostgreSQL estimates how many rows `attributes @> $filter` matches by testing the
//! filter against the column's histogram, a sample of whole documents: 101 of them by
//! default. A filter matching 2.5% of a world hits 0–2 of those often enough that the
//! planner takes it for a rare one: it then reads every match through the GIN index and
//! sorts them (25,000 heap pages, 150–200 ms), instead of walking the world's keyset
//! index and stopping after a page of matches (about 5 ms). Seen on a 1,000,000-element
//! world after one `ANALYZE` of two (`bench/README.md`). With 500 documents the estimate is
//! steady for filters down to about 1%; planning a `where` list costs about 0.1 ms more.
//! SQLite has neither the planner choice nor the setting: nothing to do there.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::schema_util::is_postgres;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_071539_attributes_statistics"
    }
}

/// Documents in the `attributes` histogram (PostgreSQL's default target is 100).
const ATTRIBUTES_STATISTICS: i32 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_statistics(manager, ATTRIBUTES_STATISTICS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // -1: back to `default_statistics_target`.
        set_statistics(manager, -1).await
    }
}

/// Sets the target and samples again at once (`ANALYZE` reads a sample, not the table,
/// and blocks no reads or writes), so the next plans already use it.
async fn set_statistics(manager: &SchemaManager<'_>, target: i32) -> Result<(), DbErr> {
    if !is_postgres(manager) {
        return Ok(());
    }
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "ALTER TABLE world_elements ALTER COLUMN attributes SET STATISTICS {target}"
    ))
    .await?;
    db.execute_unprepared("ANALYZE world_elements").await?;
    Ok(())
}
