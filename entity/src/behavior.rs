//! `ActiveModelBehavior` for every entity: new rows get a UUID v7 id and timestamps, and
//! every update refreshes `updated_at`. Version bumps happen in the service's conditional
//! UPDATE, where they can be checked against `If-Match` atomically.
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, ConnectionTrait};

use crate::generated::{
    element_kinds, element_mentions, element_relations, element_search, element_trash,
    idempotency_keys, invitations, personal_tokens, rate_limit_events, refresh_tokens,
    relation_kinds, sessions, users, webhook_deliveries, webhook_outbox, webhooks, world_changes,
    world_elements, world_members, worlds,
};

/// Now, to the microsecond (what PostgreSQL keeps): the one clock for every timestamp
/// stored, here and in the service, so that a value read back equals the value written on
/// both backends.
pub fn now() -> DateTimeWithTimeZone {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).fixed_offset()
}

/// Fills `id` with a fresh UUID v7 when the caller did not choose one.
fn ensure_id(id: &mut ActiveValue<Uuid>) {
    if matches!(id, ActiveValue::NotSet) {
        *id = ActiveValue::Set(Uuid::now_v7());
    }
}

/// Sets `created_at` on insert and `updated_at` on every save, unless the caller set them.
fn stamp(
    insert: bool,
    created_at: &mut ActiveValue<DateTimeWithTimeZone>,
    updated_at: &mut ActiveValue<DateTimeWithTimeZone>,
) {
    let now = now();
    if insert && matches!(created_at, ActiveValue::NotSet) {
        *created_at = ActiveValue::Set(now);
    }
    if !matches!(updated_at, ActiveValue::Set(_)) {
        *updated_at = ActiveValue::Set(now);
    }
}

macro_rules! timestamped_behavior {
    ($($module:ident),+ $(,)?) => {$(
        #[async_trait::async_trait]
        impl ActiveModelBehavior for $module::ActiveModel {
            async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                if insert {
                    ensure_id(&mut self.id);
                }
                stamp(insert, &mut self.created_at, &mut self.updated_at);
                Ok(self)
            }
        }
    )+};
}

timestamped_behavior!(
    users,
    worlds,
    world_elements,
    element_relations,
    element_kinds,
    relation_kinds,
    webhooks
);

macro_rules! created_only_behavior {
    ($($module:ident),+ $(,)?) => {$(
        #[async_trait::async_trait]
        impl ActiveModelBehavior for $module::ActiveModel {
            async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                if insert {
                    ensure_id(&mut self.id);
                    if matches!(self.created_at, ActiveValue::NotSet) {
                        self.created_at = ActiveValue::Set(now());
                    }
                }
                Ok(self)
            }
        }
    )+};
}

created_only_behavior!(
    sessions,
    refresh_tokens,
    rate_limit_events,
    personal_tokens,
    invitations
);

#[async_trait::async_trait]
impl ActiveModelBehavior for world_members::ActiveModel {
    async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if insert && matches!(self.created_at, ActiveValue::NotSet) {
            self.created_at = ActiveValue::Set(now());
        }
        Ok(self)
    }
}

// The change log and the trash are written whole by the service, inside the write they
// record (with the time of that write), so they need nothing filled in.
impl ActiveModelBehavior for world_changes::ActiveModel {}
impl ActiveModelBehavior for element_trash::ActiveModel {}

// The outbox and the delivery log are written whole by the webhook service, with the
// times it decides (the write's, or the attempt's).
impl ActiveModelBehavior for webhook_outbox::ActiveModel {}
impl ActiveModelBehavior for webhook_deliveries::ActiveModel {}

// A stored answer is written whole by the idempotency service.
impl ActiveModelBehavior for idempotency_keys::ActiveModel {}
impl ActiveModelBehavior for element_search::ActiveModel {}
impl ActiveModelBehavior for element_mentions::ActiveModel {}
