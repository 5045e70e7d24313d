//! The GIN indexes behind `where` and tag filters take each write at once, instead of
//! queueing it in a pending list (`fastupdate = off`; PostgreSQL only).
//!
//! With the default `fastupdate = on`, new and changed elements go to an unsorted pending
//! list that every GIN search reads in full until VACUUM (or 4 MB of it) merges the list
//! into the index. Five seconds of element creates (about 5,000 rows) left 37 pending
//! pages and cut a selective `where` list from 1,704 to 1,185 queries/s; reads came back
//! to 1,678/s with the setting off. Creates went at the same rate either way (983 and
//! 999/s), and no request pays for a 4 MB merge any more. Bulk loads are slower
//! (`lorebase seed`: 12,000 instead of 20,000 elements/s), a price paid once.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::schema_util::is_postgres;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_073327_gin_without_pending_list"
    }
}

const GIN_INDEXES: [&str; 2] = ["world_elements_attributes_idx", "world_elements_tags_idx"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let db = manager.get_connection();
        for index in GIN_INDEXES {
            db.execute_unprepared(&format!("ALTER INDEX {index} SET (fastupdate = off)"))
                .await?;
            // What is pending already goes into the index now, not at the next VACUUM.
            db.execute_unprepared(&format!("SELECT gin_clean_pending_list('{index}')"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let db = manager.get_connection();
        for index in GIN_INDEXES {
            db.execute_unprepared(&format!("ALTER INDEX {index} RESET (fastupdate)"))
                .await?;
        }
        Ok(())
    }
}
