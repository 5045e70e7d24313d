//! The revisions in code and the ones the database says it has applied.
use sea_orm_migration::sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager, seaql_migrations};

use super::WorkflowError;
use crate::Migrator;

/// Revisions in the order they apply.
pub fn in_code() -> Vec<Box<dyn MigrationTrait>> {
    Migrator::migrations()
}

/// Versions recorded in `seaql_migrations`, oldest first; none when the table is absent.
pub async fn applied(db: &DatabaseConnection) -> Result<Vec<String>, WorkflowError> {
    let manager = SchemaManager::new(db);
    if !manager
        .has_table(Migrator::migration_table_name().to_string())
        .await?
    {
        return Ok(Vec::new());
    }
    let rows = seaql_migrations::Entity::find()
        .order_by_asc(seaql_migrations::Column::Version)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| row.version).collect())
}

/// Position of a revision named on the command line; the name must be exact.
pub fn position(revisions: &[Box<dyn MigrationTrait>], name: &str) -> Result<usize, WorkflowError> {
    revisions
        .iter()
        .position(|revision| revision.name() == name)
        .ok_or_else(|| WorkflowError::new(format!("no revision named `{name}` in this build")))
}
