//! A revision's SQL without a database: its `up` or `down` runs against SeaORM's recording
//! connection, which keeps each statement instead of sending it. Revisions must therefore
//! not read the database to decide what to do (Alembic's `--sql` mode asks the same).
use sea_orm::{DbBackend, MockDatabase, MockExecResult};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use super::WorkflowError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Statements a revision runs, in order, for `backend`, without the trailing `;`.
pub async fn statements(
    revision: &dyn MigrationTrait,
    backend: DbBackend,
    direction: Direction,
) -> Result<Vec<String>, WorkflowError> {
    // Every statement takes one result; no revision comes near this many.
    let results = std::iter::repeat_with(|| MockExecResult {
        last_insert_id: 0,
        rows_affected: 0,
    })
    .take(4096);
    let recorder = MockDatabase::new(backend)
        .append_exec_results(results)
        .into_connection();
    {
        let manager = SchemaManager::new(&recorder);
        let ran = match direction {
            Direction::Up => revision.up(&manager).await,
            Direction::Down => revision.down(&manager).await,
        };
        ran.map_err(|e| {
            WorkflowError::new(format!(
                "revision {} cannot be rendered without a database: {e}",
                revision.name()
            ))
        })?;
    }
    Ok(recorder
        .into_transaction_log()
        .iter()
        .flat_map(|transaction| transaction.statements())
        .map(|statement| statement.to_string())
        .collect())
}
