use sea_orm_migration::prelude::*;

use crate::m20261124_020002_create_worlds::Worlds;
use crate::m20261124_020004_create_world_elements::WorldElements;
use crate::schema_util::{created_now, jsonb_object, version_column};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ElementRelations::Table)
                    .col(
                        ColumnDef::new(ElementRelations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ElementRelations::WorldId).uuid().not_null())
                    .col(ColumnDef::new(ElementRelations::SourceId).uuid().not_null())
                    .col(ColumnDef::new(ElementRelations::TargetId).uuid().not_null())
                    .col(
                        ColumnDef::new(ElementRelations::Kind)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(jsonb_object(ElementRelations::Attributes))
                    .col(version_column(ElementRelations::Version))
                    .col(created_now(ElementRelations::CreatedAt))
                    .col(created_now(ElementRelations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_relations_world_id_fkey")
                            .from(ElementRelations::Table, ElementRelations::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_relations_source_id_fkey")
                            .from(ElementRelations::Table, ElementRelations::SourceId)
                            .to(WorldElements::Table, WorldElements::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_relations_target_id_fkey")
                            .from(ElementRelations::Table, ElementRelations::TargetId)
                            .to(WorldElements::Table, WorldElements::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // Also serves "relations going out of an element" (leading column source_id).
        manager
            .create_index(
                Index::create()
                    .name("element_relations_source_target_kind_key")
                    .table(ElementRelations::Table)
                    .col(ElementRelations::SourceId)
                    .col(ElementRelations::TargetId)
                    .col(ElementRelations::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_relations_target_id_idx")
                    .table(ElementRelations::Table)
                    .col(ElementRelations::TargetId)
                    .col(ElementRelations::CreatedAt)
                    .col(ElementRelations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_relations_source_created_idx")
                    .table(ElementRelations::Table)
                    .col(ElementRelations::SourceId)
                    .col(ElementRelations::CreatedAt)
                    .col(ElementRelations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_relations_world_id_idx")
                    .table(ElementRelations::Table)
                    .col(ElementRelations::WorldId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ElementRelations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum ElementRelations {
    Table,
    Id,
    WorldId,
    SourceId,
    TargetId,
    Kind,
    Attributes,
    Version,
    CreatedAt,
    UpdatedAt,
}
