//! Idempotency keys: the first answer to a request sent with `Idempotency-Key`, kept 24
//! hours per (user, key) so that a repeat gets it again, from any server. A row with no
//! `status` is a request still running: a repeat meanwhile is 409.
use sea_orm_migration::prelude::*;

use crate::m20261124_020001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::Key)
                            .string_len(255)
                            .not_null(),
                    )
                    // SHA-256 (hex) of method, path and body: a repeat with another body is
                    // told apart from a retry.
                    .col(
                        ColumnDef::new(IdempotencyKeys::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::Status).integer().null())
                    // `[[name, value], ...]` of the answer's headers worth replaying.
                    .col(ColumnDef::new(IdempotencyKeys::Headers).json().null())
                    .col(ColumnDef::new(IdempotencyKeys::Body).text().null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("idempotency_keys_pkey")
                            .col(IdempotencyKeys::UserId)
                            .col(IdempotencyKeys::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("idempotency_keys_user_id_fkey")
                            .from(IdempotencyKeys::Table, IdempotencyKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // Expiry: the periodic job deletes rows older than 24 hours.
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_created_at_idx")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    RequestHash,
    Status,
    Headers,
    Body,
    CreatedAt,
}
