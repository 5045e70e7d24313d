use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::m20261124_020001_create_users::Users;
use crate::m20261124_020002_create_worlds::Worlds;
use crate::schema_util::created_now;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An owner's offer of a role to an email address (trimmed, lower-cased). People join
        // a world only by accepting one. A pending invitation past `expires_at` is expired.
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(
                        ColumnDef::new(Invitations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Invitations::WorldId).uuid().not_null())
                    .col(
                        ColumnDef::new(Invitations::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Invitations::Role).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Invitations::Status)
                            .string_len(16)
                            .not_null()
                            .default("pending"),
                    )
                    .col(ColumnDef::new(Invitations::InvitedBy).uuid().not_null())
                    .col(created_now(Invitations::CreatedAt))
                    .col(
                        ColumnDef::new(Invitations::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_world_id_fkey")
                            .from(Invitations::Table, Invitations::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_invited_by_fkey")
                            .from(Invitations::Table, Invitations::InvitedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // The world's list, newest first (keyset).
        manager
            .create_index(
                Index::create()
                    .name("invitations_world_created_idx")
                    .table(Invitations::Table)
                    .col(Invitations::WorldId)
                    .col(Invitations::CreatedAt)
                    .col(Invitations::Id)
                    .to_owned(),
            )
            .await?;
        // The invited account's list.
        manager
            .create_index(
                Index::create()
                    .name("invitations_email_created_idx")
                    .table(Invitations::Table)
                    .col(Invitations::Email)
                    .col(Invitations::CreatedAt)
                    .col(Invitations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_invited_by_idx")
                    .table(Invitations::Table)
                    .col(Invitations::InvitedBy)
                    .to_owned(),
            )
            .await?;
        // At most one pending invitation per world and email, also under concurrent
        // invites. A partial index: the schema builder cannot say WHERE, hence SQL (the
        // same on both backends).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX invitations_pending_key ON invitations (world_id, email) \
                 WHERE status = 'pending'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its indexes on both backends.
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Invitations {
    Table,
    Id,
    WorldId,
    Email,
    Role,
    Status,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
}
