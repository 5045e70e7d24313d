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

/// Where the longest wait for a table lock is configured, in seconds (0: no limit).
pub const LOCK_TIMEOUT_VARIABLE: &str = "MIGRATION_LOCK_TIMEOUT_SECS";
const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 5;

/// How long a revision's statement may wait for a lock before it fails: a revision that
/// queues behind a long transaction would otherwise queue every query behind itself.
pub fn lock_timeout_secs() -> Result<u64, WorkflowError> {
    match std::env::var(LOCK_TIMEOUT_VARIABLE) {
        Err(_) => Ok(DEFAULT_LOCK_TIMEOUT_SECS),
        Ok(text) => text.trim().parse().map_err(|_| {
            WorkflowError::new(format!(
                "{LOCK_TIMEOUT_VARIABLE} must be a whole number of seconds, not `{text}`"
            ))
        }),
    }
}

/// `SET lock_timeout`, for the session that applies revisions (PostgreSQL).
pub fn set_lock_timeout_sql(secs: u64) -> String {
    format!("SET lock_timeout = '{secs}s'")
}

/// Runs `work` with the session's `lock_timeout` set, then resets it (PostgreSQL; SQLite
/// has no lock queue to wait in).
pub async fn with_lock_timeout<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce() -> Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        db.execute_unprepared(&set_lock_timeout_sql(lock_timeout_secs()?))
            .await?;
    }
    let outcome = work().await;
    if postgres {
        let _ = db.execute_unprepared("RESET lock_timeout").await;
    }
    outcome
}
