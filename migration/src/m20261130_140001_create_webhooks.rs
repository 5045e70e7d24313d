//! Webhooks: a world's subscriptions, the deliveries waiting to be made (the outbox) and
//! the log of attempts.
//!
//! `webhook_outbox` is written in the same transaction as the changes it delivers (by
//! `WorldWrite::commit`), so a change and its pending deliveries commit together or not at
//! all. It holds only `(webhook_id, seq)` and the retry state: the body is the change
//! itself, read from `world_changes` when the attempt is made. No foreign key to the
//! change: retention may remove a change first, and the worker must see that and record
//! it, not lose the delivery silently.
use sea_orm_migration::prelude::*;

use crate::m20261124_020002_create_worlds::Worlds;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(ColumnDef::new(Webhooks::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Webhooks::WorldId).uuid().not_null())
                    .col(ColumnDef::new(Webhooks::Url).string_len(2048).not_null())
                    .col(ColumnDef::new(Webhooks::Events).json().not_null())
                    .col(ColumnDef::new(Webhooks::Description).text().null())
                    // Kept as issued: the server signs with it on every delivery.
                    .col(ColumnDef::new(Webhooks::Secret).string_len(64).not_null())
                    .col(ColumnDef::new(Webhooks::Active).boolean().not_null())
                    .col(ColumnDef::new(Webhooks::DisabledReason).text().null())
                    .col(
                        ColumnDef::new(Webhooks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Webhooks::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhooks_world_id_fkey")
                            .from(Webhooks::Table, Webhooks::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // Every write with changes looks up its world's active webhooks.
        manager
            .create_index(
                Index::create()
                    .name("webhooks_world_id_idx")
                    .table(Webhooks::Table)
                    .col(Webhooks::WorldId)
                    .col(Webhooks::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookOutbox::Table)
                    .col(ColumnDef::new(WebhookOutbox::WebhookId).uuid().not_null())
                    .col(ColumnDef::new(WebhookOutbox::Seq).big_integer().not_null())
                    .col(ColumnDef::new(WebhookOutbox::Attempts).integer().not_null())
                    // Due time; while an attempt runs, the end of its lease.
                    .col(
                        ColumnDef::new(WebhookOutbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookOutbox::FirstAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookOutbox::Lease).uuid().null())
                    .primary_key(
                        Index::create()
                            .name("webhook_outbox_pkey")
                            .col(WebhookOutbox::WebhookId)
                            .col(WebhookOutbox::Seq),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_outbox_webhook_id_fkey")
                            .from(WebhookOutbox::Table, WebhookOutbox::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::WebhookId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Seq)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::StatusCode)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::DurationMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Error).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("webhook_deliveries_webhook_id_fkey")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // The log, newest first (ids are UUID v7: time-ordered).
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_webhook_idx")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        // Retention of the log.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_at_idx")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    WorldId,
    Url,
    Events,
    Description,
    Secret,
    Active,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookOutbox {
    Table,
    WebhookId,
    Seq,
    Attempts,
    NextAttemptAt,
    FirstAttemptAt,
    Lease,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Seq,
    Attempt,
    StatusCode,
    DurationMs,
    Error,
    At,
}
