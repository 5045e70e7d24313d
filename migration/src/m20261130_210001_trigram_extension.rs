//! `pg_trgm`, for the trigram indexes of the next revision (`..._element_text_trigrams`):
//! the list's `q` is a substring match (`lower(name) LIKE '%text%'`), which no B-tree
//! and no full-text index can serve, and a trigram GIN index can. `pg_trgm` is a trusted
//! extension, so the database owner may create it. SQLite has no use for it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_210001_trigram_extension"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("DROP EXTENSION IF EXISTS pg_trgm")
            .await?;
        Ok(())
    }
}
