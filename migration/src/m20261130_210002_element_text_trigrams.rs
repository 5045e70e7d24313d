//! Trigram GIN indexes of `lower(name)` and `lower(summary)`, which the element list's
//! `q` (`lower(name) LIKE '%text%' OR lower(summary) LIKE '%text%'`) reads for a rare
//! text instead of walking the whole world in order (`service/src/elements/list_plan.rs`).
//! Built `CONCURRENTLY` outside a transaction, without a pending list like the other GIN
//! indexes. PostgreSQL only: SQLite keeps the walk.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_210002_element_text_trigrams"
    }
}

/// (index, the column it folds).
const INDEXES: [(&str, &str); 2] = [
    ("world_elements_name_trgm_idx", "name"),
    ("world_elements_summary_trgm_idx", "summary"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (name, column) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX CONCURRENTLY \"{name}\" ON \"world_elements\" \
                     USING gin (lower(\"{column}\") gin_trgm_ops) WITH (fastupdate = off)"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS \"{name}\""))
                .await?;
        }
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
