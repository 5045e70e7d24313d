//! Applying schema revisions from the binary: at start (auto-migrate) and through
//! `lorebase migrate`. Several processes may do it at once, so on PostgreSQL the whole run
//! holds an advisory lock and each revision is applied exactly once.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr};

use crate::cli::MigrateCommand;
use crate::config::DatabaseConfig;
use crate::startup::connect;

/// The advisory lock key every Lorebase migrator takes ("lorebase" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6c6f_7265_6261_7365;

/// Runs one migrate command on its own single connection: the advisory lock is held per
/// session, and SQLite's `PRAGMA foreign_keys = OFF` (used by `fresh`) per connection.
pub async fn run(config: &DatabaseConfig, command: MigrateCommand) -> Result<(), DbErr> {
    let mut single = config.clone();
    single.max_connections = 1;
    single.min_connections = 0;
    let db = connect(&single).await?;
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            .await?;
    }
    let outcome = apply(&db, command).await;
    if postgres {
        // Closing the session would release it too; unlock explicitly all the same.
        let _ = db
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
            .await;
    }
    let _ = db.close().await;
    outcome
}

async fn apply(db: &DatabaseConnection, command: MigrateCommand) -> Result<(), DbErr> {
    match command {
        MigrateCommand::Up { num } => Migrator::up(db, num).await,
        MigrateCommand::Down { num } => Migrator::down(db, Some(num)).await,
        MigrateCommand::Status => Migrator::status(db).await,
        MigrateCommand::Fresh => Migrator::fresh(db).await,
        MigrateCommand::Refresh => Migrator::refresh(db).await,
        MigrateCommand::Reset => Migrator::reset(db).await,
    }
}
