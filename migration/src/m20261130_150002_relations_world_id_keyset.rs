//! The index on `element_relations (world_id)` becomes `(world_id, id)`: it still serves
//! every lookup by world, and an export pages through a world's relations by id with it
//! (a page reads its rows in order and stops, instead of sorting the whole world's).
//!
//! In the revision's transaction, not `CONCURRENTLY` (see
//! `m20261130_180001_relations_by_kind_indexes`); accepted in `migration/lint-accepted.txt`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "element_relations_world_id_idx";

async fn rebuild(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!("DROP INDEX \"{INDEX}\""))
        .await?;
    db.execute_unprepared(&format!(
        "CREATE INDEX \"{INDEX}\" ON \"element_relations\" ({columns})"
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, "\"world_id\", \"id\"").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, "\"world_id\"").await
    }
}
