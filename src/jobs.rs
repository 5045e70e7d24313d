//! Periodic work inside the server process. Its state lives in the database, so any
//! number of servers may run it at once.
use std::time::Duration;

use sea_orm::DatabaseConnection;
use service::auth::AuthLimits;

use crate::config::ChangesConfig;
use tokio::task::JoinHandle;

/// Deletes rate-limit events older than the longest window, every `interval` (the first
/// right away): no limit looks back further, so they can never count again, and
/// without this every login with a random email would leave a row forever. Idempotency
/// keys older than their 24 hours go in the same round.
pub fn prune_rate_limits(
    db: DatabaseConnection,
    limits: AuthLimits,
    interval: Duration,
) -> JoinHandle<()> {
    let longest = [
        limits.login_failures_per_account,
        limits.login_failures_per_account_total,
        limits.login_failures_per_ip,
        limits.registrations_per_ip,
    ]
    .iter()
    .map(|limit| limit.window_secs)
    .max()
    .unwrap_or(0);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match service::rate_limit::prune(&db, longest).await {
                Ok(0) => {}
                Ok(deleted) => log::debug!("pruned {deleted} expired rate-limit events"),
                Err(e) => log::warn!("pruning rate-limit events failed: {e}"),
            }
            match service::idempotency::prune(&db).await {
                Ok(0) => {}
                Ok(deleted) => log::debug!("pruned {deleted} expired idempotency keys"),
                Err(e) => log::warn!("pruning idempotency keys failed: {e}"),
            }
        }
    })
}

/// Removes changes and trashed elements older than `CHANGES_RETENTION_DAYS`, every
/// `CHANGES_PRUNE_INTERVAL_SECS` (the first right away). The deletes are idempotent, so
/// servers running it at once only repeat each other's work.
pub fn prune_changes(db: DatabaseConnection, config: ChangesConfig) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(config.prune_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match service::changes::prune(&db, config.retention).await {
                Ok(pruned) if pruned.changes > 0 || pruned.trashed_elements > 0 => log::info!(
                    "retention: removed {} changes and {} trashed elements",
                    pruned.changes,
                    pruned.trashed_elements
                ),
                Ok(_) => {}
                Err(e) => log::warn!("retention: {e}"),
            }
            match service::webhooks::prune_deliveries(&db, config.retention).await {
                Ok(0) => {}
                Ok(n) => log::info!("retention: removed {n} webhook delivery-log entries"),
                Err(e) => log::warn!("retention of the webhook delivery log: {e}"),
            }
        }
    })
}

/// Delivers webhooks: takes due deliveries from the outbox in the database, so every
/// server runs it and each attempt is still made by one of them.
pub fn deliver_webhooks(
    db: DatabaseConnection,
    config: service::webhooks::worker::DeliveryConfig,
) -> JoinHandle<()> {
    tokio::spawn(service::webhooks::worker::run(db, config))
}
