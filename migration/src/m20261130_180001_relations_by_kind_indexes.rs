//! An element's relations of one kind, in list order, from an index: without these the
//! list walked all of the element's relations in `created_at` order and tested each one's
//! kind, so a rare kind on an element with 50,000 relations read all 50,000 for a page.
//!
//! Built in the revision's transaction, not `CONCURRENTLY`: a migrator waiting for the
//! migration lock holds a snapshot, which `CREATE INDEX CONCURRENTLY` waits for while the
//! waiter waits for the lock (a deadlock PostgreSQL breaks by failing one of them). The
//! finding is accepted in `migration/lint-accepted.txt`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, the end the list starts from).
const INDEXES: [(&str, &str); 2] = [
    ("element_relations_source_kind_created_idx", "source_id"),
    ("element_relations_target_kind_created_idx", "target_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, end) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX \"{name}\" ON \"element_relations\" \
                     (\"{end}\", \"kind\", \"created_at\", \"id\")"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX \"{name}\""))
                .await?;
        }
        Ok(())
    }
}
