//! Validates what `m20261130_190002_world_id_in_every_key` added `NOT VALID` (PostgreSQL
//! only; SQLite rebuilt its tables there): the foreign keys with `world_id`, and the
//! `CHECK (world_id IS NOT NULL)` that lets `SET NOT NULL` skip its scan, after which the
//! check goes. `VALIDATE CONSTRAINT` reads the rows without blocking writes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261130_190002_world_id_in_every_key::{FILLED_FROM, NEW_KEYS, filled_check};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190003_validate_world_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, name, _) in NEW_KEYS {
            db.execute_unprepared(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))
                .await?;
        }
        for (table, _) in FILLED_FROM {
            let check = filled_check(table);
            db.execute_unprepared(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {check}"))
                .await?;
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ALTER COLUMN world_id SET NOT NULL"
            ))
            .await?;
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {check}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, _) in FILLED_FROM {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ALTER COLUMN world_id DROP NOT NULL"
            ))
            .await?;
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} CHECK (world_id IS NOT NULL) NOT VALID",
                filled_check(table)
            ))
            .await?;
        }
        Ok(())
    }
}
