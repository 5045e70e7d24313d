//! The unique `(id, world_id)` keys that the composite foreign keys of the next revision
//! reference, and the relation key with `world_id` in front (issue 19). Written by
//! `migrate autogenerate world_id_in_every_key` (its `_concurrently` part), then reviewed:
//! the indexes are named as the entities name them, and they come first, since a foreign key
//! needs its unique key to exist. Outside a transaction, so PostgreSQL builds them
//! `CONCURRENTLY`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

/// The unique keys that composite foreign keys reference: `(table, key)`.
const REFERENCED_KEYS: [(&str, &str); 2] = [
    ("world_elements", "world_elements_world_id_id_key"),
    ("webhooks", "webhooks_world_id_id_key"),
];

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190001_world_id_unique_keys"
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
        let db = manager.get_connection();
        for statement in [
            "CREATE UNIQUE INDEX{c} world_elements_world_id_id_key ON world_elements (id, world_id)",
            "CREATE UNIQUE INDEX{c} webhooks_world_id_id_key ON webhooks (id, world_id)",
            "CREATE UNIQUE INDEX{c} element_relations_world_source_target_kind_key \
             ON element_relations (world_id, source_id, target_id, kind)",
            "DROP INDEX{c} IF EXISTS element_relations_source_target_kind_key",
        ] {
            db.execute_unprepared(&statement.replace("{c}", concurrently))
                .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // As constraints, so that the catalog (and `sea-orm-cli generate entity`, which
            // reads `information_schema`) can tell which key a composite foreign key uses.
            for (table, key) in REFERENCED_KEYS {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {key} UNIQUE USING INDEX {key}"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = if manager.get_database_backend() == DatabaseBackend::Postgres {
            " CONCURRENTLY"
        } else {
            ""
        };
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Dropping the constraint drops its index.
            for (table, key) in REFERENCED_KEYS {
                db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {key}"))
                    .await?;
            }
        }
        for statement in [
            "CREATE UNIQUE INDEX{c} element_relations_source_target_kind_key \
             ON element_relations (source_id, target_id, kind)",
            "DROP INDEX{c} IF EXISTS element_relations_world_source_target_kind_key",
            "DROP INDEX{c} IF EXISTS webhooks_world_id_id_key",
            "DROP INDEX{c} IF EXISTS world_elements_world_id_id_key",
        ] {
            db.execute_unprepared(&statement.replace("{c}", concurrently))
                .await?;
        }
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
