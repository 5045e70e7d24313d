use sea_orm_migration::prelude::*;

use crate::schema_util::{created_now, jsonb_object};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Users::Email).string_len(320).not_null())
                    .col(ColumnDef::new(Users::DisplayName).string_len(200).null())
                    .col(ColumnDef::new(Users::PasswordHash).text().not_null())
                    .col(jsonb_object(Users::Preferences))
                    .col(
                        ColumnDef::new(Users::TokenVersion)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .col(created_now(Users::CreatedAt))
                    .col(created_now(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Emails are stored trimmed and lower-cased, so a plain unique index is
        // case-insensitive in effect.
        manager
            .create_index(
                Index::create()
                    .name("users_email_key")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Preferences,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
}
