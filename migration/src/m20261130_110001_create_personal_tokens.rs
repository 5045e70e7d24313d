use sea_orm_migration::prelude::*;

use crate::m20261124_020001_create_users::Users;
use crate::schema_util::created_now;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Personal access tokens for tools. Only the SHA-256 of the secret is stored, and
        // a request finds its token by that hash (unique index): no password-hash cost.
        // `world_ids` NULL means every world the user can read.
        manager
            .create_table(
                Table::create()
                    .table(PersonalTokens::Table)
                    .col(
                        ColumnDef::new(PersonalTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PersonalTokens::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(PersonalTokens::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PersonalTokens::Scope)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PersonalTokens::WorldIds)
                            .json_binary()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(PersonalTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PersonalTokens::Prefix)
                            .string_len(12)
                            .not_null(),
                    )
                    .col(created_now(PersonalTokens::CreatedAt))
                    .col(
                        ColumnDef::new(PersonalTokens::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PersonalTokens::LastUsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("personal_tokens_user_id_fkey")
                            .from(PersonalTokens::Table, PersonalTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("personal_tokens_token_hash_key")
                    .table(PersonalTokens::Table)
                    .col(PersonalTokens::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("personal_tokens_user_created_idx")
                    .table(PersonalTokens::Table)
                    .col(PersonalTokens::UserId)
                    .col(PersonalTokens::CreatedAt)
                    .col(PersonalTokens::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersonalTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum PersonalTokens {
    Table,
    Id,
    UserId,
    Name,
    Scope,
    WorldIds,
    TokenHash,
    Prefix,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}
