//! The trash: each deleted element as it was, with the relations deleted with it, so a
//! restore can bring them back with their ids. Kept as long as the change log.
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
                    .table(ElementTrash::Table)
                    .col(ColumnDef::new(ElementTrash::WorldId).uuid().not_null())
                    .col(ColumnDef::new(ElementTrash::ElementId).uuid().not_null())
                    .col(ColumnDef::new(ElementTrash::Kind).string_len(64).not_null())
                    .col(
                        ColumnDef::new(ElementTrash::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ElementTrash::DeletedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ElementTrash::DeletedBy).uuid().null())
                    // The element's JSON as its GET answered it, and an array of the
                    // relations' JSON; restored, never searched.
                    .col(ColumnDef::new(ElementTrash::Element).json().not_null())
                    .col(ColumnDef::new(ElementTrash::Relations).json().not_null())
                    .primary_key(
                        Index::create()
                            .name("element_trash_pkey")
                            .col(ElementTrash::WorldId)
                            .col(ElementTrash::ElementId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_trash_world_id_fkey")
                            .from(ElementTrash::Table, ElementTrash::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // The trash list: most recently deleted first.
        manager
            .create_index(
                Index::create()
                    .name("element_trash_world_deleted_idx")
                    .table(ElementTrash::Table)
                    .col(ElementTrash::WorldId)
                    .col(ElementTrash::DeletedAt)
                    .col(ElementTrash::ElementId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_trash_deleted_at_idx")
                    .table(ElementTrash::Table)
                    .col(ElementTrash::DeletedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ElementTrash::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum ElementTrash {
    Table,
    WorldId,
    ElementId,
    Kind,
    Name,
    DeletedAt,
    DeletedBy,
    Element,
    Relations,
}
