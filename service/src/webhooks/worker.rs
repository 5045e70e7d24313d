//! The delivery job: runs in every server, takes due deliveries from the outbox
//! ([`super::outbox`]), POSTs each change, signed, and records the outcome. No transaction
//! is open while a request is on the network.
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::webhooks;
use sea_orm::{
    DatabaseConnection, EntityTrait, FromQueryResult, QuerySelect, prelude::DateTimeWithTimeZone,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::outbox::{self, AfterFailure, Claimed, Disposition, Outcome};
use super::target::{self, TargetPolicy, WebhookUrl};
use crate::error::{Error, Result};
use crate::versioning::now;

/// A receiver must answer within this long, or the attempt failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery stays ours: the request's timeout, name resolution and the
/// two short transactions around it, with room to spare. A server that dies holding a
/// lease delays that webhook by at most this long.
pub const LEASE: Duration = Duration::from_secs(30);
/// Deliveries in flight at once per server (each to a different webhook).
const MAX_IN_FLIGHT: usize = 16;
/// The longest the job sleeps without looking: other servers queue deliveries too.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// Longest error message kept in the delivery log.
const MAX_ERROR_CHARS: usize = 500;

/// The delays between attempts: about 5 s, 30 s, 2 min, 10 min, 1 h, then every 4 h, for
/// 24 h from the first failure. `scale` multiplies all of it (`WEBHOOK_RETRY_SCALE`), so
/// tests and drills can run the whole schedule in seconds.
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    pub scale: f64,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self { scale: 1.0 }
    }
}

const DELAYS_SECS: [u64; 5] = [5, 30, 120, 600, 3600];
const LATER_DELAY_SECS: u64 = 4 * 3600;
const GIVE_UP_AFTER_SECS: u64 = 24 * 3600;

impl RetrySchedule {
    fn scaled(&self, secs: u64) -> chrono::Duration {
        chrono::Duration::microseconds((secs as f64 * 1e6 * self.scale).round() as i64)
    }

    /// The wait after the `failures`-th failed attempt (1 = the first).
    pub fn delay_after(&self, failures: u32) -> chrono::Duration {
        let secs = failures
            .checked_sub(1)
            .and_then(|i| DELAYS_SECS.get(i as usize).copied())
            .unwrap_or(LATER_DELAY_SECS);
        self.scaled(secs)
    }

    /// The failure window: deliveries failing this long deactivate the webhook.
    pub fn give_up_after(&self) -> chrono::Duration {
        self.scaled(GIVE_UP_AFTER_SECS)
    }

    /// After a failure at `now`, the `failures`-th, of a delivery first attempted at
    /// `first`: retry, with the last retry at the end of the window, or give up once the
    /// window is over.
    pub fn after_failure(
        &self,
        failures: u32,
        first: DateTimeWithTimeZone,
        now: DateTimeWithTimeZone,
        error: &str,
    ) -> AfterFailure {
        let deadline = first + self.give_up_after();
        if now >= deadline {
            return AfterFailure::Deactivate(format!(
                "deliveries failed for 24 hours ({failures} attempts); last error: {error}"
            ));
        }
        AfterFailure::RetryAt(std::cmp::min(now + self.delay_after(failures), deadline))
    }
}

/// What the delivery job needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryConfig {
    pub policy: TargetPolicy,
    pub retry: RetrySchedule,
}

/// Wakes this process's delivery job early: a write has just queued deliveries. Other
/// servers find them within [`MAX_IDLE`].
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

pub(crate) fn wake() {
    WAKE.notify_waiters();
}

/// Runs the delivery job until the task is dropped.
pub async fn run(db: DatabaseConnection, config: DeliveryConfig) {
    let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::seconds(30));
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut gauge_at: Option<Instant> = None;
    loop {
        while in_flight.try_join_next().is_some() {}
        if gauge_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            gauge_at = Some(Instant::now());
            match outbox::pending(&db).await {
                Ok(n) => crate::metrics::set_pending_webhook_deliveries(n),
                Err(e) => log::warn!("webhooks: counting pending deliveries: {e}"),
            }
        }
        // A read first: the claim is a write transaction (on SQLite it takes the
        // database's write lock), not worth taking when nothing is due.
        let due = outbox::next_due(&db).await.unwrap_or_else(|e| {
            log::warn!("webhooks: {e}");
            None
        });
        let wait = due.map(|due| (due.with_timezone(&Utc) - Utc::now()).to_std());
        let free = MAX_IN_FLIGHT.saturating_sub(in_flight.len()) as u64;
        if free > 0 && matches!(wait, Some(Err(_)) | Some(Ok(Duration::ZERO))) {
            let claimed = outbox::claim(&db, free, lease).await.unwrap_or_else(|e| {
                log::warn!("webhooks: claiming deliveries: {e}");
                Vec::new()
            });
            if !claimed.is_empty() {
                for delivery in claimed {
                    let db = db.clone();
                    in_flight.spawn(async move { deliver(&db, config, delivery).await });
                }
                continue;
            }
        }
        // Sleep until the next head is due (at most MAX_IDLE: other servers queue
        // deliveries too), a write of this server queues one, or an attempt ends. Never
        // spin: a due head that another server holds is not ours to take.
        let idle = match wait {
            Some(Ok(wait)) => wait.min(MAX_IDLE),
            Some(Err(_)) | None => MAX_IDLE,
        }
        .max(Duration::from_millis(5));
        let idle = if in_flight.len() >= MAX_IN_FLIGHT {
            MAX_IDLE
        } else {
            idle
        };
        tokio::select! {
            _ = WAKE.notified() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
}

/// What an attempt needs from the webhook.
#[derive(Debug, FromQueryResult)]
struct Hook {
    world_id: uuid::Uuid,
    url: String,
    secret: String,
    active: bool,
}

/// One attempt at one delivery, start to finish; errors are logged, and the lease makes
/// the delivery due again.
async fn deliver(db: &DatabaseConnection, config: DeliveryConfig, claimed: Claimed) {
    if let Err(e) = try_deliver(db, config, &claimed).await {
        log::warn!(
            "webhooks: delivery of seq {} to webhook {}: {e}",
            claimed.seq,
            claimed.webhook_id
        );
    }
}

async fn try_deliver(
    db: &DatabaseConnection,
    config: DeliveryConfig,
    claimed: &Claimed,
) -> Result<()> {
    let Some(hook) = webhooks::Entity::find_by_id((claimed.webhook_id, claimed.world_id))
        .select_only()
        .columns([
            webhooks::Column::WorldId,
            webhooks::Column::Url,
            webhooks::Column::Secret,
            webhooks::Column::Active,
        ])
        .into_model::<Hook>()
        .one(db)
        .await?
    else {
        return Ok(()); // deleted: its deliveries went with it
    };
    let started = now();
    if !hook.active {
        return Ok(()); // deactivated since the claim, which dropped its deliveries
    }
    let Some(body) = change_body(db, hook.world_id, claimed.seq).await? else {
        let outcome = Outcome {
            status_code: None,
            duration_ms: 0,
            error: Some("the change is no longer kept (retention); skipped".into()),
            success: false,
        };
        return outbox::finish(db, claimed, &outcome, started, Disposition::Remove).await;
    };
    let outcome = post(&hook, claimed.seq, body, config.policy).await;
    let disposition = if outcome.success {
        Disposition::Remove
    } else {
        let failures = u32::try_from(claimed.attempts + 1).unwrap_or(u32::MAX);
        Disposition::Failed(config.retry.after_failure(
            failures,
            claimed.first_attempt_at.unwrap_or(started),
            now(),
            outcome.error.as_deref().unwrap_or("non-2xx answer"),
        ))
    };
    if let Disposition::Failed(AfterFailure::Deactivate(reason)) = &disposition {
        log::warn!(
            "webhooks: deactivating webhook {}: {reason}",
            claimed.webhook_id
        );
    }
    outbox::finish(db, claimed, &outcome, started, disposition).await
}

/// The change's JSON, exactly as the feed shows it; `None` when retention removed it.
async fn change_body(
    db: &DatabaseConnection,
    world_id: uuid::Uuid,
    seq: i64,
) -> Result<Option<Vec<u8>>> {
    let Some(change) = crate::changes::one_change(db, world_id, seq).await? else {
        return Ok(None);
    };
    serde_json::to_vec(&change)
        .map(Some)
        .map_err(|e| Error::internal("serializing a change", e))
}

fn failed(started: Instant, error: String) -> Outcome {
    Outcome {
        status_code: None,
        duration_ms: started.elapsed().as_millis() as i64,
        error: Some(error.chars().take(MAX_ERROR_CHARS).collect()),
        success: false,
    }
}

/// Checks the target again, then POSTs the signed change to the checked address.
async fn post(hook: &Hook, seq: i64, body: Vec<u8>, policy: TargetPolicy) -> Outcome {
    let started = Instant::now();
    let url = match WebhookUrl::parse(&hook.url) {
        Ok(url) => url,
        Err(e) => return failed(started, format!("url {e}")),
    };
    let target = match target::check(&url, policy).await {
        Ok(target) => target,
        Err(e) => return failed(started, format!("refused: url {e}")),
    };
    let id = format!("{}:{seq}", hook.world_id);
    let timestamp = Utc::now().timestamp();
    let signature = match super::signing::sign(&hook.secret, &id, timestamp, &body) {
        Ok(signature) => signature,
        Err(e) => return failed(started, e),
    };
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        // Straight to the checked address: a proxy from the environment would connect on
        // its own terms.
        .no_proxy()
        .user_agent(concat!("Lorebase-Webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some((host, address)) = &target.pinned {
        client = client.resolve(host, *address);
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(e) => return failed(started, format!("cannot build the HTTP client: {e}")),
    };
    let sent = client
        .post(url.url().clone())
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status();
            Outcome {
                status_code: Some(i32::from(status.as_u16())),
                duration_ms: started.elapsed().as_millis() as i64,
                error: (!status.is_success()).then(|| format!("answered {status}, expected 2xx")),
                success: status.is_success(),
            }
        }
        Err(e) if e.is_timeout() => failed(
            started,
            format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
        ),
        Err(e) => failed(started, format!("request failed: {}", error_chain(&e))),
    }
}

/// An error with its causes: reqwest's own message alone rarely says what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_then_gives_up_after_24_hours() {
        let s = RetrySchedule::default();
        let secs: Vec<i64> = (1..=7).map(|n| s.delay_after(n).num_seconds()).collect();
        assert_eq!(secs, [5, 30, 120, 600, 3600, 14400, 14400]);
        let first = now();
        match s.after_failure(7, first, first + chrono::Duration::hours(23), "x") {
            AfterFailure::RetryAt(at) => assert_eq!(at, first + chrono::Duration::hours(24)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.after_failure(9, first, first + chrono::Duration::hours(24), "x"),
            AfterFailure::Deactivate(_)
        ));
        let fast = RetrySchedule { scale: 0.001 };
        assert_eq!(fast.delay_after(1).num_milliseconds(), 5);
        assert_eq!(fast.give_up_after().num_milliseconds(), 86_400);
    }
}
