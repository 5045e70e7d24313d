//! The index on `element_relations (world_id)` becomes `(world_id, id)`: it still serves
//! every lookup by world, and an export pages through a world's relations by id with it
//! (a page reads its rows in order and stops, instead of sorting the whole world's).
//!
//! `element_relations` exists and takes writes, so on PostgreSQL both steps run
//! `CONCURRENTLY`, outside a transaction (`migrate lint`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "element_relations_world_id_idx";

async fn rebuild(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    let concurrently = if manager.get_database_backend() == DatabaseBackend::Postgres {
        " CONCURRENTLY"
    } else {
        ""
    };
    let db = manager.get_connection();
    db.execute_unprepared(&format!("DROP INDEX{concurrently} \"{INDEX}\""))
        .await?;
    db.execute_unprepared(&format!(
        "CREATE INDEX{concurrently} \"{INDEX}\" ON \"element_relations\" ({columns})"
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

    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
