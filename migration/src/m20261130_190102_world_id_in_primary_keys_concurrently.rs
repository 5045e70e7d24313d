//! PostgreSQL's part of `m20261130_190101_world_id_in_primary_keys`: each primary key
//! becomes `(id, world_id)` (`element_search`: `(element_id, world_id)`) over a unique
//! index built `CONCURRENTLY`, so the swap itself is one quick `ALTER`. The search
//! trigger's `ON CONFLICT` names the new key in the same transaction as the swap.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190102_world_id_in_primary_keys_concurrently"
    }
}

/// `(table, its own id column)`.
const TABLES: [(&str, &str); 8] = [
    ("world_elements", "id"),
    ("element_relations", "id"),
    ("element_kinds", "id"),
    ("relation_kinds", "id"),
    ("invitations", "id"),
    ("webhooks", "id"),
    ("webhook_deliveries", "id"),
    ("element_search", "element_id"),
];

/// The search trigger's function, with the `ON CONFLICT` target `conflict`.
fn index_element(conflict: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION lorebase_index_element() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
             INSERT INTO element_search (element_id, world_id, document) \
             VALUES (NEW.id, NEW.world_id, \
                     lorebase_search_document(NEW.name, NEW.tags, NEW.summary, NEW.attributes)) \
             ON CONFLICT ({conflict}) DO UPDATE \
                 SET world_id = EXCLUDED.world_id, document = EXCLUDED.document; \
             RETURN NULL; \
         END $$"
    )
}

async fn swap(manager: &SchemaManager<'_>, table: &str, key: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {table}_key_next ON {table} ({key})"
    ))
    .await?;
    // One statement string is one transaction: the swap, and for the search table the
    // trigger that must name the key it conflicts on.
    let mut swap = format!(
        "ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, \
         ADD CONSTRAINT {table}_pkey PRIMARY KEY USING INDEX {table}_key_next"
    );
    if table == "element_search" {
        swap = format!("{swap}; {}", index_element(key));
    }
    db.execute_unprepared(&swap).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, id) in TABLES {
            swap(manager, table, &format!("{id}, world_id")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        for (table, id) in TABLES.iter().rev() {
            swap(manager, table, id).await?;
        }
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
