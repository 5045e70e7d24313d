use sea_orm_migration::prelude::*;

use crate::m20261124_020001_create_users::Users;
use crate::schema_util::{created_now, jsonb_object, version_column};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Worlds::Table)
                    .col(ColumnDef::new(Worlds::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Worlds::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(Worlds::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Worlds::Description).text().null())
                    .col(jsonb_object(Worlds::Settings))
                    .col(
                        ColumnDef::new(Worlds::Visibility)
                            .string_len(16)
                            .not_null()
                            .default("private"),
                    )
                    // Kept by the element use cases in the same transaction, so listing
                    // worlds never counts a million rows.
                    .col(
                        ColumnDef::new(Worlds::ElementCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(version_column(Worlds::Version))
                    .col(created_now(Worlds::CreatedAt))
                    .col(created_now(Worlds::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("worlds_owner_id_fkey")
                            .from(Worlds::Table, Worlds::OwnerId)
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
                    .name("worlds_owner_id_idx")
                    .table(Worlds::Table)
                    .col(Worlds::OwnerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Worlds::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Worlds {
    Table,
    Id,
    OwnerId,
    Name,
    Description,
    Settings,
    Visibility,
    ElementCount,
    Version,
    CreatedAt,
    UpdatedAt,
}
