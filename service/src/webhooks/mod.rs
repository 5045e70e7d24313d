//! Webhooks: a world's owner subscribes a URL to the world's changes. Each matching change
//! of the change log is POSTed to it, signed (Standard Webhooks), in `seq` order, at least
//! once, with retries.
//!
//! - Management ([`create`], [`list`], [`update`], [`delete`], [`deliveries`]) is the
//!   owner's alone.
//! - [`outbox`]: pending deliveries are written by `WorldWrite::commit` in the transaction
//!   of the changes they deliver, so a change and its deliveries commit together or not
//!   at all.
//! - [`worker`]: the delivery job that runs in every server.
//! - [`target`]: the URL type and the SSRF guard; [`signing`]: the signature.
pub mod outbox;
pub mod signing;
pub mod target;
pub mod worker;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{webhook_deliveries, webhook_outbox, webhooks};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Role, world_access};
use crate::auth::Actor;
use crate::changes::{ChangeType, begin_write, lock_world};
use crate::error::{Error, Result};
use crate::paging::{Keyset, Page, PageRequest};
use crate::versioning::now;

pub use target::{TargetPolicy, WebhookUrl};

/// Webhooks one world may have: each one is an HTTP request per change.
pub const MAX_WEBHOOKS_PER_WORLD: u64 = 20;
/// Patterns one webhook may list.
pub const MAX_EVENT_PATTERNS: usize = 32;
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Which changes a webhook wants: a change type (`element.created`), every type of one
/// resource (`element.*`), or everything (`*`). Nothing else parses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPattern(String);

impl EventPattern {
    pub fn parse(raw: &str) -> std::result::Result<Self, String> {
        let known = |t: &str| ChangeType::ALL.iter().any(|c| c.as_str() == t);
        let valid = match raw.strip_suffix('*') {
            Some("") => true,
            Some(prefix) => {
                prefix.ends_with('.')
                    && ChangeType::ALL
                        .iter()
                        .any(|c| c.as_str().starts_with(prefix))
            }
            None => known(raw),
        };
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is neither a change type (e.g. element.created) nor a pattern such as element.* or *"
            ))
        }
    }

    pub fn matches(&self, change_type: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => change_type.starts_with(prefix),
            None => self.0 == change_type,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EventPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A webhook's patterns: 1 to [`MAX_EVENT_PATTERNS`], duplicates dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPatterns(Vec<EventPattern>);

impl EventPatterns {
    pub fn new(patterns: Vec<EventPattern>) -> std::result::Result<Self, String> {
        let unique: BTreeSet<EventPattern> = patterns.into_iter().collect();
        if unique.is_empty() {
            return Err("must list at least one change type or pattern".into());
        }
        if unique.len() > MAX_EVENT_PATTERNS {
            return Err(format!("must list at most {MAX_EVENT_PATTERNS} patterns"));
        }
        Ok(Self(unique.into_iter().collect()))
    }

    /// The patterns as stored; entries that no longer parse (none should) match nothing.
    pub fn from_stored(value: &serde_json::Value) -> Self {
        let patterns = value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().and_then(|s| EventPattern::parse(s).ok()))
                    .collect()
            })
            .unwrap_or_default();
        Self(patterns)
    }

    pub fn matches(&self, change_type: &str) -> bool {
        self.0.iter().any(|p| p.matches(change_type))
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::from(self.strings())
    }

    fn strings(&self) -> Vec<String> {
        self.0.iter().map(|p| p.as_str().to_owned()).collect()
    }
}

impl<'de> Deserialize<'de> for EventPatterns {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let patterns = Vec::<EventPattern>::deserialize(d)?;
        Self::new(patterns).map_err(serde::de::Error::custom)
    }
}

/// `Webhook` in the contract. The secret is never part of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookDto {
    pub id: Uuid,
    pub world_id: Uuid,
    pub url: String,
    #[schema(example = json!(["element.*", "relation.created"]))]
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    /// Why the server deactivated it (deliveries failed for 24 hours); `null` otherwise.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhooks::Model> for WebhookDto {
    fn from(m: webhooks::Model) -> Self {
        Self {
            id: m.id,
            world_id: m.world_id,
            url: m.url,
            events: EventPatterns::from_stored(&m.events).strings(),
            description: m.description,
            active: m.active,
            disabled_reason: m.disabled_reason,
            created_at: m.created_at.with_timezone(&Utc),
            updated_at: m.updated_at.with_timezone(&Utc),
        }
    }
}

/// A new webhook, with its signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhookDto {
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// `whsec_` + base64 of 32 random bytes; keep it, it is not shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// An `http(s)` URL whose host resolves to public addresses only.
    #[schema(value_type = String, example = "https://hooks.example.com/lorebase")]
    pub url: WebhookUrl,
    /// Change types (`element.created`), prefix patterns (`element.*`), or `*`.
    #[schema(value_type = Vec<String>, example = json!(["element.*"]))]
    pub events: EventPatterns,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default, deserialize_with = "crate::patch::reject_null")]
    #[schema(value_type = Option<String>)]
    pub url: Option<WebhookUrl>,
    #[serde(default, deserialize_with = "crate::patch::reject_null")]
    #[schema(value_type = Option<Vec<String>>)]
    pub events: Option<EventPatterns>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "crate::patch::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` reactivates a deactivated webhook (and clears `disabled_reason`); `false`
    /// pauses it. Changes made while it is inactive are not delivered.
    #[serde(default, deserialize_with = "crate::patch::reject_null")]
    pub active: Option<bool>,
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDto {
    pub id: Uuid,
    /// The change delivered: `webhook-id` was `<world_id>:<seq>`.
    pub seq: i64,
    /// 1 for the first attempt at this change, 2 for the first retry, ...
    pub attempt: i32,
    /// The receiver's HTTP status; `null` when there was no answer.
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// Why the attempt failed, when it did without a status (or was refused).
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<webhook_deliveries::Model> for DeliveryDto {
    fn from(m: webhook_deliveries::Model) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            attempt: m.attempt,
            status_code: m.status_code,
            duration_ms: m.duration_ms,
            error: m.error,
            at: m.at.with_timezone(&Utc),
        }
    }
}

fn check_description(description: &Option<String>) -> Result<()> {
    match description {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(Error::validation(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// 422 on `url` when the guard refuses its host.
async fn check_url(url: &WebhookUrl, policy: TargetPolicy) -> Result<()> {
    target::check(url, policy)
        .await
        .map(|_| ())
        .map_err(|message| Error::validation("url", message))
}

/// Creates a webhook (owner only). Changes committed from now on are delivered to it.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    request: CreateWebhookRequest,
    policy: TargetPolicy,
) -> Result<CreatedWebhookDto> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    check_description(&request.description)?;
    check_url(&request.url, policy).await?;
    // Under the world's lock, so the cap holds against concurrent creations.
    let txn = begin_write(db).await?;
    lock_world(&txn, world_id).await?;
    let existing = webhooks::Entity::find()
        .filter(webhooks::Column::WorldId.eq(world_id))
        .count(&txn)
        .await?;
    if existing >= MAX_WEBHOOKS_PER_WORLD {
        return Err(Error::validation(
            "url",
            format!("a world may have at most {MAX_WEBHOOKS_PER_WORLD} webhooks"),
        ));
    }
    let secret = signing::new_secret();
    let model = webhooks::ActiveModel {
        world_id: Set(world_id),
        url: Set(request.url.as_str().to_owned()),
        events: Set(request.events.to_json()),
        description: Set(request.description),
        secret: Set(secret.clone()),
        active: Set(true),
        disabled_reason: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(CreatedWebhookDto {
        webhook: model.into(),
        secret,
    })
}

/// The world's webhooks, oldest first (owner only). At most [`MAX_WEBHOOKS_PER_WORLD`].
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
) -> Result<Vec<WebhookDto>> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    let rows = webhooks::Entity::find()
        .filter(webhooks::Column::WorldId.eq(world_id))
        .order_by_asc(webhooks::Column::CreatedAt)
        .order_by_asc(webhooks::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(WebhookDto::from).collect())
}

async fn find(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    webhook_id: Uuid,
) -> Result<webhooks::Model> {
    world_access(db, Some(actor), world_id)
        .await?
        .require(Role::Owner)?;
    webhooks::Entity::find_by_id((webhook_id, world_id))
        .filter(webhooks::Column::WorldId.eq(world_id))
        .one(db)
        .await?
        .ok_or(Error::NotFound)
}

/// Changes a webhook (owner only). Deactivating it drops its pending deliveries, in the
/// same transaction: an inactive webhook is owed nothing.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    webhook_id: Uuid,
    request: UpdateWebhookRequest,
    policy: TargetPolicy,
) -> Result<WebhookDto> {
    let current = find(db, actor, world_id, webhook_id).await?;
    if let Some(description) = &request.description {
        check_description(description)?;
    }
    if let Some(url) = &request.url {
        check_url(url, policy).await?;
    }
    // Only what differs is set: a PATCH that changes nothing keeps `updated_at`.
    let mut model: webhooks::ActiveModel = current.clone().into();
    if let Some(url) = request.url.filter(|u| u.as_str() != current.url) {
        model.url = Set(url.as_str().to_owned());
    }
    if let Some(events) = request
        .events
        .map(|e| e.to_json())
        .filter(|e| *e != current.events)
    {
        model.events = Set(events);
    }
    if let Some(description) = request.description.filter(|d| *d != current.description) {
        model.description = Set(description);
    }
    if let Some(active) = request.active.filter(|a| *a != current.active) {
        model.active = Set(active);
        if active {
            model.disabled_reason = Set(None);
        }
    }
    if !sea_orm::ActiveModelTrait::is_changed(&model) {
        return Ok(current.into());
    }
    // Under the world's lock, like a creation: a write to the world learns whether it has
    // an active webhook when it takes that lock (`access::world_access_locked`).
    let txn = begin_write(db).await?;
    lock_world(&txn, world_id).await?;
    let updated = model.update(&txn).await?;
    if !updated.active {
        webhook_outbox::Entity::delete_many()
            .filter(webhook_outbox::Column::WebhookId.eq(webhook_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(updated.into())
}

/// Deletes a webhook with its pending deliveries and its log (owner only).
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    webhook_id: Uuid,
) -> Result<()> {
    find(db, actor, world_id, webhook_id).await?;
    webhooks::Entity::delete_by_id((webhook_id, world_id))
        .exec(db)
        .await?;
    Ok(())
}

const DELIVERIES_ORDERING: &str = "deliveries:-id";

/// The webhook's delivery log, newest first (owner only). Ids are UUID v7, so their order
/// is the order the attempts were recorded.
pub async fn deliveries(
    db: &DatabaseConnection,
    actor: &Actor,
    world_id: Uuid,
    webhook_id: Uuid,
    page: PageRequest,
) -> Result<Page<DeliveryDto>> {
    find(db, actor, world_id, webhook_id).await?;
    let query = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::WorldId.eq(world_id))
        .filter(webhook_deliveries::Column::WebhookId.eq(webhook_id));
    let keyset = Keyset::by_id(DELIVERIES_ORDERING, webhook_deliveries::Column::Id, true);
    let rows = keyset.apply(query, &page)?.all(db).await?;
    Ok(keyset.page(
        rows,
        &page,
        |row| (String::new(), row.id),
        DeliveryDto::from,
    ))
}

/// Removes delivery-log entries older than `keep`.
pub async fn prune_deliveries(db: &DatabaseConnection, keep: std::time::Duration) -> Result<u64> {
    let keep = chrono::Duration::from_std(keep)
        .map_err(|e| Error::internal("retention period out of range", e))?;
    Ok(webhook_deliveries::Entity::delete_many()
        .filter(webhook_deliveries::Column::At.lt(now() - keep))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let p = |s: &str| EventPattern::parse(s);
        assert!(p("element.*").unwrap().matches("element.created"));
        assert!(!p("element.*").unwrap().matches("relation.created"));
        assert!(p("*").unwrap().matches("member.added"));
        assert!(p("relation.deleted").unwrap().matches("relation.deleted"));
        assert!(!p("relation.deleted").unwrap().matches("relation.created"));
        for bad in [
            "element",
            "elem*",
            "element.unknown",
            "nothing.*",
            "",
            "**",
            "element.*.x",
        ] {
            assert!(p(bad).is_err(), "{bad} parsed");
        }
        assert!(EventPatterns::new(vec![]).is_err());
        let dup = EventPatterns::new(vec![p("*").unwrap(), p("*").unwrap()]).unwrap();
        assert_eq!(dup.strings(), vec!["*"]);
    }
}
