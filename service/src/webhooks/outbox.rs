//! The outbox: deliveries waiting to be made, one row per (webhook, change).
//!
//! - [`enqueue`] runs inside the write that records the changes, so they commit together.
//! - Only the *head* of each webhook's queue (its lowest `seq`) is ever due: that keeps
//!   deliveries in `seq` order per webhook, one at a time, however many servers run.
//! - [`claim`] takes due heads in a short transaction and leases them by moving
//!   `next_attempt_at` past the attempt's longest duration; on PostgreSQL with `FOR UPDATE
//!   SKIP LOCKED`, so servers claiming at once never take the same row, and SQLite's one
//!   writer serializes claims anyway. The HTTP request runs after that transaction has
//!   committed; [`finish`] records the outcome in another. A server killed in between
//!   leaves the lease to expire, and the delivery is attempted again.
use chrono::Duration;
use entity::{webhook_deliveries, webhook_outbox, webhooks, world_changes};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QuerySelect,
    prelude::DateTimeWithTimeZone,
};
use uuid::Uuid;

use super::EventPatterns;
use crate::changes::begin_write;
use crate::error::Result;
use crate::versioning::now;

/// Whether the world of the row being selected (`worlds.id`) has an active webhook, as a
/// column of the query that locks the world for a write.
pub(crate) fn has_active_webhooks() -> sea_orm::sea_query::SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(webhooks::Entity)
            .and_where(
                Expr::col((webhooks::Entity, webhooks::Column::WorldId))
                    .equals((entity::worlds::Entity, entity::worlds::Column::Id)),
            )
            .and_where(Expr::col((webhooks::Entity, webhooks::Column::Active)).eq(true))
            .to_owned(),
    )
}

/// Inserts the pending deliveries of `changes` for the world's active webhooks whose
/// patterns match. Returns whether it queued any (the caller then wakes the worker).
pub(crate) async fn enqueue(
    txn: &DatabaseTransaction,
    world_id: Uuid,
    changes: &[world_changes::ActiveModel],
    at: DateTimeWithTimeZone,
) -> Result<bool> {
    let hooks: Vec<(Uuid, serde_json::Value)> = webhooks::Entity::find()
        .select_only()
        .column(webhooks::Column::Id)
        .column(webhooks::Column::Events)
        .filter(webhooks::Column::WorldId.eq(world_id))
        .filter(webhooks::Column::Active.eq(true))
        .into_tuple()
        .all(txn)
        .await?;
    if hooks.is_empty() {
        return Ok(false);
    }
    let mut rows = Vec::new();
    for (webhook_id, events) in hooks {
        let patterns = EventPatterns::from_stored(&events);
        for change in changes {
            let (Some(seq), Some(change_type)) =
                (change.seq.try_as_ref(), change.r#type.try_as_ref())
            else {
                continue;
            };
            if patterns.matches(change_type) {
                rows.push(webhook_outbox::ActiveModel {
                    world_id: Set(world_id),
                    webhook_id: Set(webhook_id),
                    seq: Set(*seq),
                    attempts: Set(0),
                    next_attempt_at: Set(at),
                    first_attempt_at: Set(None),
                    lease: Set(None),
                });
            }
        }
    }
    let queued = !rows.is_empty();
    // Bounded statements: SQLite takes at most 32,766 bound values.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        webhook_outbox::Entity::insert_many(chunk).exec(txn).await?;
    }
    Ok(queued)
}

/// A delivery this server has leased.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Claimed {
    pub world_id: Uuid,
    pub webhook_id: Uuid,
    pub seq: i64,
    /// Attempts made before this one.
    pub attempts: i32,
    pub first_attempt_at: Option<DateTimeWithTimeZone>,
    #[sea_orm(skip)]
    pub lease: Uuid,
}

/// The `webhook_outbox` rows that head their webhook's queue: no row of the same webhook
/// has a lower `seq`.
fn is_head() -> sea_orm::sea_query::SimpleExpr {
    let inner = Alias::new("head");
    Expr::col((webhook_outbox::Entity, webhook_outbox::Column::Seq)).in_subquery(
        Query::select()
            .expr(Expr::col((inner.clone(), webhook_outbox::Column::Seq)).min())
            .from_as(webhook_outbox::Entity, inner.clone())
            .and_where(
                Expr::col((inner, webhook_outbox::Column::WebhookId))
                    .equals((webhook_outbox::Entity, webhook_outbox::Column::WebhookId)),
            )
            .to_owned(),
    )
}

/// Leases up to `limit` due heads for `lease_for`.
pub async fn claim(
    db: &DatabaseConnection,
    limit: u64,
    lease_for: Duration,
) -> Result<Vec<Claimed>> {
    let txn = begin_write(db).await?;
    let now = now();
    let mut select = Query::select();
    select
        .columns([
            (webhook_outbox::Entity, webhook_outbox::Column::WorldId),
            (webhook_outbox::Entity, webhook_outbox::Column::WebhookId),
            (webhook_outbox::Entity, webhook_outbox::Column::Seq),
            (webhook_outbox::Entity, webhook_outbox::Column::Attempts),
            (
                webhook_outbox::Entity,
                webhook_outbox::Column::FirstAttemptAt,
            ),
        ])
        .from(webhook_outbox::Entity)
        .inner_join(
            webhooks::Entity,
            Expr::col((webhooks::Entity, webhooks::Column::Id))
                .equals((webhook_outbox::Entity, webhook_outbox::Column::WebhookId)),
        )
        .and_where(Expr::col((webhooks::Entity, webhooks::Column::Active)).eq(true))
        .and_where(
            Expr::col((
                webhook_outbox::Entity,
                webhook_outbox::Column::NextAttemptAt,
            ))
            .lte(now),
        )
        .and_where(is_head())
        .order_by(
            (
                webhook_outbox::Entity,
                webhook_outbox::Column::NextAttemptAt,
            ),
            sea_orm::sea_query::Order::Asc,
        )
        .limit(limit);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        select.lock_with_tables_behavior(
            LockType::Update,
            [webhook_outbox::Entity],
            LockBehavior::SkipLocked,
        );
    }
    let statement = db.get_database_backend().build(&select);
    let mut due = Claimed::find_by_statement(statement).all(&txn).await?;
    let until = now + lease_for;
    for claimed in &mut due {
        claimed.lease = Uuid::now_v7();
        webhook_outbox::Entity::update_many()
            .col_expr(webhook_outbox::Column::NextAttemptAt, Expr::value(until))
            .col_expr(webhook_outbox::Column::Lease, Expr::value(claimed.lease))
            .filter(webhook_outbox::Column::WebhookId.eq(claimed.webhook_id))
            .filter(webhook_outbox::Column::Seq.eq(claimed.seq))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(due)
}

/// When the next head falls due (a lease's end counts), if any delivery is pending.
pub async fn next_due(db: &DatabaseConnection) -> Result<Option<DateTimeWithTimeZone>> {
    let mut select = Query::select();
    select
        .expr_as(
            Expr::col((
                webhook_outbox::Entity,
                webhook_outbox::Column::NextAttemptAt,
            ))
            .min(),
            Alias::new("due"),
        )
        .from(webhook_outbox::Entity)
        .and_where(is_head());
    let row = db.query_one(&select).await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<DateTimeWithTimeZone>>("", "due")?,
        None => None,
    })
}

/// Deliveries waiting, for the metric.
pub async fn pending(db: &DatabaseConnection) -> Result<u64> {
    Ok(webhook_outbox::Entity::find().count(db).await?)
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub success: bool,
}

/// What to do with the delivery after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTimeWithTimeZone),
    /// Give up: deactivate the webhook with this reason.
    Deactivate(String),
}

/// What becomes of the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done: delivered, or not deliverable at all (the change is no longer kept).
    Remove,
    Failed(AfterFailure),
}

/// Records an attempt in the log and settles the delivery, in one short transaction. A
/// lease that is no longer ours (it expired and another server took the delivery) leaves
/// the row to that server; the attempt is still logged.
pub async fn finish(
    db: &DatabaseConnection,
    claimed: &Claimed,
    outcome: &Outcome,
    attempted_at: DateTimeWithTimeZone,
    disposition: Disposition,
) -> Result<()> {
    let txn = begin_write(db).await?;
    // Deleted during the attempt: its log and deliveries went with it.
    if webhooks::Entity::find_by_id((claimed.webhook_id, claimed.world_id))
        .count(&txn)
        .await?
        == 0
    {
        return Ok(());
    }
    webhook_deliveries::Entity::insert(webhook_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        world_id: Set(claimed.world_id),
        webhook_id: Set(claimed.webhook_id),
        seq: Set(claimed.seq),
        attempt: Set(claimed.attempts + 1),
        status_code: Set(outcome.status_code),
        duration_ms: Set(outcome.duration_ms),
        error: Set(outcome.error.clone()),
        at: Set(attempted_at),
    })
    .exec(&txn)
    .await?;
    let ours = || {
        webhook_outbox::Column::WebhookId
            .eq(claimed.webhook_id)
            .and(webhook_outbox::Column::Seq.eq(claimed.seq))
            .and(webhook_outbox::Column::Lease.eq(claimed.lease))
    };
    match disposition {
        Disposition::Remove => {
            webhook_outbox::Entity::delete_many()
                .filter(ours())
                .exec(&txn)
                .await?;
        }
        Disposition::Failed(AfterFailure::RetryAt(at)) => {
            webhook_outbox::Entity::update_many()
                .col_expr(webhook_outbox::Column::NextAttemptAt, Expr::value(at))
                .col_expr(
                    webhook_outbox::Column::Attempts,
                    Expr::value(claimed.attempts + 1),
                )
                .col_expr(
                    webhook_outbox::Column::FirstAttemptAt,
                    Expr::value(claimed.first_attempt_at.unwrap_or(attempted_at)),
                )
                .col_expr(
                    webhook_outbox::Column::Lease,
                    Expr::value(Option::<Uuid>::None),
                )
                .filter(ours())
                .exec(&txn)
                .await?;
        }
        Disposition::Failed(AfterFailure::Deactivate(reason)) => {
            let taken = webhook_outbox::Entity::delete_many()
                .filter(ours())
                .exec(&txn)
                .await?
                .rows_affected;
            // Only the holder of the lease decides; the webhook owes nothing more.
            if taken > 0 {
                webhooks::Entity::update_many()
                    .col_expr(webhooks::Column::Active, Expr::value(false))
                    .col_expr(webhooks::Column::DisabledReason, Expr::value(reason))
                    .col_expr(webhooks::Column::UpdatedAt, Expr::value(now()))
                    .filter(webhooks::Column::Id.eq(claimed.webhook_id))
                    .exec(&txn)
                    .await?;
                webhook_outbox::Entity::delete_many()
                    .filter(webhook_outbox::Column::WebhookId.eq(claimed.webhook_id))
                    .exec(&txn)
                    .await?;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}
