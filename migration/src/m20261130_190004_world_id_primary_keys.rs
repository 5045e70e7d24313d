//! The primary keys of `element_mentions` and `webhook_outbox` gain `world_id` (last, in
//! column order, as `sea-orm-cli generate entity` writes a key). PostgreSQL only (SQLite
//! rebuilt both tables in `m20261130_190002_world_id_in_every_key`): the new keys' indexes
//! are built `CONCURRENTLY`, outside a transaction, and each swap is one quick `ALTER`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190004_world_id_primary_keys"
    }
}

/// `(table, new key columns, old key columns)`.
const KEYS: [(&str, &str, &str); 2] = [
    (
        "element_mentions",
        "source_id, target_id, world_id",
        "source_id, target_id",
    ),
    (
        "webhook_outbox",
        "webhook_id, seq, world_id",
        "webhook_id, seq",
    ),
];

async fn swap(manager: &SchemaManager<'_>, table: &str, columns: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {table}_key_next ON {table} ({columns})"
    ))
    .await?;
    // Renames the index to the constraint's name.
    db.execute_unprepared(&format!(
        "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
         ADD CONSTRAINT {table}_pkey PRIMARY KEY USING INDEX {table}_key_next"
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, new, _) in KEYS {
            swap(manager, table, new).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, _, old) in KEYS {
            swap(manager, table, old).await?;
        }
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
