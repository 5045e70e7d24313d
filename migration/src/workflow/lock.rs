//! Several Lorebase processes may migrate at once (auto-migrate on start); on PostgreSQL a
//! session advisory lock lets one at a time through, so each revision is applied once.
//!
//! The lock is polled with `pg_try_advisory_lock`, never waited for in
//! `pg_advisory_lock`: a statement blocked there keeps its snapshot, and the lock holder's
//! `CREATE INDEX CONCURRENTLY` waits for every older snapshot to go away, so the two would
//! wait for each other (PostgreSQL breaks that by failing one of them). Between tries the
//! waiting session runs nothing and holds no snapshot.
use std::time::{Duration, Instant};

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbBackend, Statement,
};

use super::WorkflowError;

/// The advisory lock key every Lorebase migrator takes ("lorebase" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x6c6f_7265_6261_7365;

/// Where the longest wait for another migrator's lock is configured, in seconds.
pub const LOCK_WAIT_VARIABLE: &str = "MIGRATION_LOCK_WAIT_SECS";
/// Long enough for another server to build an index on a large table.
const DEFAULT_LOCK_WAIT_SECS: u64 = 1800;
/// How long a waiting migrator sleeps between tries.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

fn seconds_from_env(variable: &str, default: u64) -> Result<u64, WorkflowError> {
    match std::env::var(variable) {
        Err(_) => Ok(default),
        Ok(text) => text.trim().parse().map_err(|_| {
            WorkflowError::new(format!(
                "{variable} must be a whole number of seconds, not `{text}`"
            ))
        }),
    }
}

/// How long a migrator waits for another one to finish (`MIGRATION_LOCK_WAIT_SECS`).
pub fn lock_wait() -> Result<Duration, WorkflowError> {
    seconds_from_env(LOCK_WAIT_VARIABLE, DEFAULT_LOCK_WAIT_SECS).map(Duration::from_secs)
}

/// Runs `work` holding the lock, waiting at most `MIGRATION_LOCK_WAIT_SECS` for it. The
/// connection must be a single one (a pool of one): an advisory lock belongs to the
/// session that took it.
pub async fn with_migration_lock<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce() -> Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    with_migration_lock_within(db, lock_wait()?, work).await
}

/// [`with_migration_lock`] with the longest wait given.
pub async fn with_migration_lock_within<T>(
    db: &DatabaseConnection,
    longest_wait: Duration,
    work: impl AsyncFnOnce() -> Result<T, WorkflowError>,
) -> Result<T, WorkflowError> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        take_lock(db, longest_wait).await?;
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

async fn take_lock(db: &DatabaseConnection, longest_wait: Duration) -> Result<(), WorkflowError> {
    let started = Instant::now();
    let try_lock = Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT pg_try_advisory_lock({MIGRATION_LOCK_KEY}) AS taken"),
    );
    loop {
        // One statement in autocommit: its snapshot ends with it.
        let taken = db
            .query_one_raw(try_lock.clone())
            .await
            .map_err(|e| WorkflowError::from(e).context("taking the migration lock"))?
            .map(|row| row.try_get::<bool>("", "taken"))
            .transpose()?
            .unwrap_or(false);
        if taken {
            return Ok(());
        }
        if started.elapsed() >= longest_wait {
            return Err(WorkflowError::new(format!(
                "another migrator has held the migration lock (advisory lock {MIGRATION_LOCK_KEY}) \
                 for over {} s; it may still be applying a long revision. Wait for it, or raise \
                 {LOCK_WAIT_VARIABLE}; pg_locks shows the session that holds it \
                 (locktype = 'advisory')",
                longest_wait.as_secs()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Where the longest wait for a table lock is configured, in seconds (0: no limit).
pub const LOCK_TIMEOUT_VARIABLE: &str = "MIGRATION_LOCK_TIMEOUT_SECS";
const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 5;

/// How long a revision's statement may wait for a lock before it fails: a revision that
/// queues behind a long transaction would otherwise queue every query behind itself.
pub fn lock_timeout_secs() -> Result<u64, WorkflowError> {
    seconds_from_env(LOCK_TIMEOUT_VARIABLE, DEFAULT_LOCK_TIMEOUT_SECS)
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
