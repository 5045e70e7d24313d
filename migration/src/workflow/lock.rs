//! Several Lorebase processes may migrate at once (auto-migrate on start); on PostgreSQL a
//! session advisory lock lets one at a time through, so each revision is applied once.
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};

use super::WorkflowError;

/// The advisory lock key every Lorebase migrator takes ("lorebase" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x6c6f_7265_6261_7365;

/// Runs `work` holding the lock. The connection must be a single one (a pool of one):
/// an advisory lock belongs to the session that took it.
pub async fn with_migration_lock<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce() -> Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            .await
            .map_err(|e| WorkflowError::from(e).context("taking the migration lock"))?;
    }
    let outcome = work().await;
    if postgres {
        // Ending the session would release it too; unlock explicitly all the same.
        let _ = db
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
            .await;
    }
    outcome
}
