//! An element's relations of one kind, in list order, from an index: without these the
//! list walked all of the element's relations in `created_at` order and tested each one's
//! kind, so a rare kind on an element with 50,000 relations read all 50,000 for a page.
//!
//! `element_relations` exists and takes writes, so on PostgreSQL the indexes are built
//! `CONCURRENTLY`, outside a transaction (`migrate lint`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, the end the list starts from).
const INDEXES: [(&str, &str); 2] = [
    ("element_relations_source_kind_created_idx", "source_id"),
    ("element_relations_target_kind_created_idx", "target_id"),
];

fn concurrently(manager: &SchemaManager) -> &'static str {
    if manager.get_database_backend() == DatabaseBackend::Postgres {
        " CONCURRENTLY"
    } else {
        ""
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = concurrently(manager);
        for (name, end) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX{concurrently} \"{name}\" ON \"element_relations\" \
                     (\"{end}\", \"kind\", \"created_at\", \"id\")"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let concurrently = concurrently(manager);
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX{concurrently} \"{name}\""))
                .await?;
        }
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}
