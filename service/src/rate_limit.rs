//! Sliding-window counters kept in the database, so a limit holds across every server
//! process behind a load balancer.
use chrono::Utc;
use entity::rate_limit_events::{self, Column};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, prelude::DateTimeWithTimeZone,
};

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
    LoginFailureAccount,
    LoginFailureIp,
    RegistrationIp,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::LoginFailureAccount => "login_failure_account",
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
pub async fn check<C: ConnectionTrait>(db: &C, scope: Scope, subject: &str, limit: Limit) -> Result<()> {
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
    let retry_after_secs = (frees_at - Utc::now()).num_seconds().max(1) as u64;
    Err(Error::RateLimited { retry_after_secs })
}

/// Counts one event, and forgets this subject's events that have left the window.
pub async fn record<C: ConnectionTrait>(db: &C, scope: Scope, subject: &str, limit: Limit) -> Result<()> {
    rate_limit_events::Entity::delete_many()
        .filter(Column::Scope.eq(scope.as_str()))
        .filter(Column::Subject.eq(subject))
        .filter(Column::CreatedAt.lte(window_start(limit)))
        .exec(db)
        .await?;
    rate_limit_events::ActiveModel {
        scope: Set(scope.as_str().to_owned()),
        subject: Set(subject.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
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
