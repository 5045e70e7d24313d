//! Sliding-window counters kept in the database, so a limit holds across every server
//! process behind a load balancer.
use chrono::{DateTime, Utc};
use entity::rate_limit_events::{self, Column};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, prelude::DateTimeWithTimeZone,
};
use uuid::Uuid;

use crate::error::{Error, Result};

/// At most `max` events per `window_secs`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u64,
    pub window_secs: i64,
}

/// What is being counted; each scope has its own limit.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Failed logins of an account from all addresses (the backstop).
    LoginFailureAccount,
    /// Failed logins of an account from one client address.
    LoginFailureAccountIp,
    LoginFailureIp,
    RegistrationIp,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::LoginFailureAccount => "login_failure_account",
            Scope::LoginFailureAccountIp => "login_failure_account_ip",
            Scope::LoginFailureIp => "login_failure_ip",
            Scope::RegistrationIp => "registration_ip",
        }
    }
}

fn window_start(limit: Limit) -> DateTimeWithTimeZone {
    (Utc::now() - chrono::Duration::seconds(limit.window_secs)).fixed_offset()
}

/// Fails with `RateLimited` when `subject` already has `limit.max` events in the window;
/// `retry_after` is when the oldest of them leaves it.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    subject: &str,
    limit: Limit,
) -> Result<()> {
    let recent: Vec<DateTimeWithTimeZone> = rate_limit_events::Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .filter(Column::Scope.eq(scope.as_str()))
        .filter(Column::Subject.eq(subject))
        .filter(Column::CreatedAt.gt(window_start(limit)))
        .order_by_asc(Column::CreatedAt)
        .limit(limit.max)
        .into_tuple()
        .all(db)
        .await?;
    if (recent.len() as u64) < limit.max {
        return Ok(());
    }
    let oldest = recent[0].with_timezone(&Utc);
    let frees_at = oldest + chrono::Duration::seconds(limit.window_secs);
    Err(refused(scope, subject, frees_at))
}

/// Counts one event, and forgets this subject's events that have left the window.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    subject: &str,
    limit: Limit,
) -> Result<()> {
    forget_expired(db, scope, subject, limit).await?;
    insert_event(db, scope, subject).await?;
    Ok(())
}

/// An event counted by [`acquire`]; [`release`] takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an attempt stays counted unless it is released"]
pub struct Attempt(Uuid);

/// Counts one event for `subject` *before* the work it guards, and fails with
/// `RateLimited` (taking the event back) when that makes more than `limit.max` in the
/// window. Writing first and counting second is what makes the limit hold under
/// concurrency: of any number of simultaneous attempts at most `limit.max` get through,
/// where a check followed later by a record would let all of them through. Refused
/// attempts are not counted, so hammering a limited subject does not extend its lockout.
pub async fn acquire<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    subject: &str,
    limit: Limit,
) -> Result<Attempt> {
    forget_expired(db, scope, subject, limit).await?;
    let own = insert_event(db, scope, subject).await?;
    let in_window: Vec<(Uuid, DateTimeWithTimeZone)> = rate_limit_events::Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::CreatedAt)
        .filter(Column::Scope.eq(scope.as_str()))
        .filter(Column::Subject.eq(subject))
        .filter(Column::CreatedAt.gt(window_start(limit)))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let others: Vec<DateTimeWithTimeZone> = in_window
        .iter()
        .filter(|(id, _)| *id != own)
        .map(|(_, at)| *at)
        .collect();
    if (others.len() as u64) < limit.max {
        return Ok(Attempt(own));
    }
    release(db, Attempt(own)).await?;
    // A slot frees when enough of the others have left the window for fewer than `max`
    // to remain.
    let blocking = others.len() - limit.max as usize;
    let frees_at = match others.get(blocking) {
        Some(at) => at.with_timezone(&Utc) + chrono::Duration::seconds(limit.window_secs),
        None => Utc::now() + chrono::Duration::seconds(limit.window_secs),
    };
    Err(refused(scope, subject, frees_at))
}

/// The refusal of a subject that reached its limit: counted, logged as a security event
/// (the subject is an address or an account, never a secret), and answered 429.
fn refused(scope: Scope, subject: &str, frees_at: DateTime<Utc>) -> Error {
    metrics::counter!(crate::metrics::RATE_LIMIT_REFUSALS, "scope" => scope.as_str()).increment(1);
    let retry_after_secs = retry_after_secs(frees_at);
    log::warn!(
        target: crate::auth::SECURITY,
        "limit reached: {} for {subject}, free again in {retry_after_secs}s",
        scope.as_str()
    );
    Error::RateLimited { retry_after_secs }
}

/// Deletes every event older than `older_than_secs`, whatever its scope: no limit looks
/// further back than its window, so such rows can never count again. Without it, every
/// login with a random email would leave a row forever.
pub async fn prune<C: ConnectionTrait>(db: &C, older_than_secs: i64) -> Result<u64> {
    let cutoff = (Utc::now() - chrono::Duration::seconds(older_than_secs)).fixed_offset();
    let deleted = rate_limit_events::Entity::delete_many()
        .filter(Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Takes back an event counted by [`acquire`] (the guarded work turned out fine).
pub async fn release<C: ConnectionTrait>(db: &C, attempt: Attempt) -> Result<()> {
    rate_limit_events::Entity::delete_by_id(attempt.0)
        .exec(db)
        .await?;
    Ok(())
}

async fn forget_expired<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    subject: &str,
    limit: Limit,
) -> Result<()> {
    rate_limit_events::Entity::delete_many()
        .filter(Column::Scope.eq(scope.as_str()))
        .filter(Column::Subject.eq(subject))
        .filter(Column::CreatedAt.lte(window_start(limit)))
        .exec(db)
        .await?;
    Ok(())
}

async fn insert_event<C: ConnectionTrait>(db: &C, scope: Scope, subject: &str) -> Result<Uuid> {
    let event = rate_limit_events::ActiveModel {
        scope: Set(scope.as_str().to_owned()),
        subject: Set(subject.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(event.id)
}

/// Seconds until `frees_at`, rounded up: a client that waits exactly this long must find
/// the slot free.
fn retry_after_secs(frees_at: DateTime<Utc>) -> u64 {
    let remaining_ms = (frees_at - Utc::now()).num_milliseconds().max(0) as u64;
    remaining_ms.div_ceil(1000).max(1)
}

/// Forgets every event of `subject` (a successful login clears its failures).
pub async fn clear<C: ConnectionTrait>(db: &C, scope: Scope, subject: &str) -> Result<()> {
    rate_limit_events::Entity::delete_many()
        .filter(Column::Scope.eq(scope.as_str()))
        .filter(Column::Subject.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}
