//! Schema revisions from the binary: at start (auto-migrate) and through `lorebase migrate`,
//! by the same workflow as the migration crate's own binary (lock, checksums, ordering).
use migration::workflow::{self, Command, Verdict, WorkflowError};

use crate::config::DatabaseConfig;
use crate::startup::connect_without_statement_timeout;

/// The command `lorebase migrate` runs without a subcommand, and auto-migrate runs.
pub fn up_all() -> Command {
    Command::Up {
        num: None,
        to: None,
        accept_changed: Vec::new(),
    }
}

/// Runs one migrate command on its own single connection (see [`connect`]).
pub async fn run(config: &DatabaseConfig, command: Command) -> Result<Verdict, WorkflowError> {
    let command = match workflow::run_offline(command).await? {
        Ok(verdict) => return Ok(verdict),
        Err(command) => command,
    };
    let db = connect(config)
        .await
        .map_err(|e| WorkflowError::from(e).context("connecting to the database"))?;
    let outcome = workflow::run(&db, command).await;
    let _ = db.close().await;
    outcome
}

/// The migrator's connection: a single one, since the advisory lock is held per session
/// and SQLite's `PRAGMA foreign_keys = OFF` (used by `fresh`) per connection; and without
/// the statement timeout, since a revision may run longer than a request may, and so may
/// the wait for another server's migration lock.
pub async fn connect(
    config: &DatabaseConfig,
) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
    let mut single = config.clone();
    single.max_connections = 1;
    single.min_connections = 0;
    connect_without_statement_timeout(&single).await
}
