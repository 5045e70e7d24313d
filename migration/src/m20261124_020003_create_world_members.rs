use sea_orm_migration::prelude::*;

use crate::m20261124_020001_create_users::Users;
use crate::m20261124_020002_create_worlds::Worlds;
use crate::schema_util::created_now;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The owner has a row here too (role `owner`), so "may this user see this world"
        // is one primary-key lookup.
        manager
            .create_table(
                Table::create()
                    .table(WorldMembers::Table)
                    .col(ColumnDef::new(WorldMembers::WorldId).uuid().not_null())
                    .col(ColumnDef::new(WorldMembers::UserId).uuid().not_null())
                    .col(ColumnDef::new(WorldMembers::Role).string_len(16).not_null())
                    .col(created_now(WorldMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(WorldMembers::WorldId)
                            .col(WorldMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_members_world_id_fkey")
                            .from(WorldMembers::Table, WorldMembers::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_members_user_id_fkey")
                            .from(WorldMembers::Table, WorldMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // Serves "the worlds I belong to".
        manager
            .create_index(
                Index::create()
                    .name("world_members_user_id_idx")
                    .table(WorldMembers::Table)
                    .col(WorldMembers::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorldMembers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum WorldMembers {
    Table,
    WorldId,
    UserId,
    Role,
    CreatedAt,
}
