//! The retention job: removes changes and trashed elements older than
//! `CHANGES_RETENTION_DAYS`, every `CHANGES_PRUNE_INTERVAL_SECS`. Every server runs it; the
//! deletes are idempotent, so servers running it at once only repeat each other's work.
use sea_orm::DatabaseConnection;

use crate::config::ChangesConfig;

/// Starts the job on the current runtime. It runs once at start, then at each interval.
pub fn spawn(db: DatabaseConnection, config: ChangesConfig) {
    let keep = config.retention;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(config.prune_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match service::changes::prune(&db, keep).await {
                Ok(pruned) if pruned.changes > 0 || pruned.trashed_elements > 0 => log::info!(
                    "retention: removed {} changes and {} trashed elements",
                    pruned.changes,
                    pruned.trashed_elements
                ),
                Ok(_) => {}
                Err(e) => log::warn!("retention: {e}"),
            }
        }
    });
}
