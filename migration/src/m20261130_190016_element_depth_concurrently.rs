//! The index an export reads a world's elements through in `(depth, id)` order (see
//! `..._element_depth`), built `CONCURRENTLY` outside a transaction on PostgreSQL, as
//! `migrate autogenerate` writes an index on an existing table.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190016_element_depth_concurrently"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = if manager.get_database_backend() == DatabaseBackend::Postgres {
            " CONCURRENTLY"
        } else {
            ""
        };
        manager.get_connection().execute_unprepared(&format!("CREATE INDEX{concurrently} \"world_elements_world_depth_idx\" ON \"world_elements\" (\"world_id\", \"depth\", \"id\")")).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = if manager.get_database_backend() == DatabaseBackend::Postgres {
            " CONCURRENTLY"
        } else {
            ""
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "DROP INDEX{concurrently} IF EXISTS \"world_elements_world_depth_idx\""
            ))
            .await?;
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
