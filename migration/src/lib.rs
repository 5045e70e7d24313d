//! Schema revisions for Lorebase, one file per logical change, applied in order.
pub use sea_orm_migration::prelude::*;

mod m20261124_020001_create_users;
mod m20261124_020002_create_worlds;
mod m20261124_020003_create_world_members;
mod m20261124_020004_create_world_elements;
mod m20261124_020005_create_element_relations;
mod m20261124_020006_create_sessions;
mod m20261124_020007_create_refresh_tokens;
mod m20261124_020008_create_rate_limit_events;
mod m20261124_071539_attributes_statistics;
mod m20261124_073327_gin_without_pending_list;
mod m20261130_110001_create_personal_tokens;
mod m20261130_110002_create_invitations;
mod m20261130_110003_sessions_last_used_at;
mod m20261130_120001_create_world_changes;
mod m20261130_120002_create_element_trash;
mod m20261130_130001_create_kinds;
mod m20261130_130002_worlds_kinds_version;
mod m20261130_140001_create_webhooks;
mod m20261130_150001_create_idempotency_keys;
mod m20261130_150002_relations_world_id_keyset;
mod m20261130_160001_create_element_search;
mod m20261130_160002_create_element_mentions;
mod m20261130_180001_relations_by_kind_indexes;
mod m20261130_190001_world_id_unique_keys;
mod m20261130_190002_world_id_in_every_key;
mod m20261130_190003_validate_world_keys;
mod m20261130_190004_world_id_primary_keys;
mod m20261130_190016_element_depth;
mod m20261130_190016_element_depth_backfill;
mod m20261130_190016_element_depth_concurrently;
mod m20261130_190101_world_id_in_primary_keys;
mod m20261130_190102_world_id_in_primary_keys_concurrently;
mod m20261130_210001_trigram_extension;
mod m20261130_210002_element_text_trigrams;
pub mod schema_util;
pub mod workflow;

pub struct Migrator;

/// Revisions written by `migrate squash`, each with the revisions it replaced: a database
/// that applied those records the squashed one as applied instead.
pub fn squashed() -> Vec<(&'static str, &'static [&'static str])> {
    vec![]
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_020001_create_users::Migration),
            Box::new(m20261124_020002_create_worlds::Migration),
            Box::new(m20261124_020003_create_world_members::Migration),
            Box::new(m20261124_020004_create_world_elements::Migration),
            Box::new(m20261124_020005_create_element_relations::Migration),
            Box::new(m20261124_020006_create_sessions::Migration),
            Box::new(m20261124_020007_create_refresh_tokens::Migration),
            Box::new(m20261124_020008_create_rate_limit_events::Migration),
            Box::new(m20261124_071539_attributes_statistics::Migration),
            Box::new(m20261124_073327_gin_without_pending_list::Migration),
            Box::new(m20261130_110001_create_personal_tokens::Migration),
            Box::new(m20261130_110002_create_invitations::Migration),
            Box::new(m20261130_110003_sessions_last_used_at::Migration),
            Box::new(m20261130_120001_create_world_changes::Migration),
            Box::new(m20261130_120002_create_element_trash::Migration),
            Box::new(m20261130_130001_create_kinds::Migration),
            Box::new(m20261130_130002_worlds_kinds_version::Migration),
            Box::new(m20261130_140001_create_webhooks::Migration),
            Box::new(m20261130_150001_create_idempotency_keys::Migration),
            Box::new(m20261130_150002_relations_world_id_keyset::Migration),
            Box::new(m20261130_160001_create_element_search::Migration),
            Box::new(m20261130_160002_create_element_mentions::Migration),
            Box::new(m20261130_180001_relations_by_kind_indexes::Migration),
            Box::new(m20261130_190001_world_id_unique_keys::Migration),
            Box::new(m20261130_190002_world_id_in_every_key::Migration),
            Box::new(m20261130_190003_validate_world_keys::Migration),
            Box::new(m20261130_190004_world_id_primary_keys::Migration),
            Box::new(m20261130_190016_element_depth::Migration),
            Box::new(m20261130_190016_element_depth_backfill::Migration),
            Box::new(m20261130_190016_element_depth_concurrently::Migration),
            Box::new(m20261130_190101_world_id_in_primary_keys::Migration),
            Box::new(m20261130_190102_world_id_in_primary_keys_concurrently::Migration),
            Box::new(m20261130_210001_trigram_extension::Migration),
            Box::new(m20261130_210002_element_text_trigrams::Migration),
        ]
    }
}
