//! Typed kinds: a JSON Schema for an element kind's `attributes`, and the kinds a relation
//! kind's ends must have. One row per (world, kind) each; an index that serves the
//! elements of one kind (violations, element counts) in id order.
use sea_orm_migration::prelude::*;

use crate::m20261124_020002_create_worlds::Worlds;
use crate::m20261124_020004_create_world_elements::WorldElements;
use crate::schema_util::{created_now, version_column};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ElementKinds::Table)
                    // A stable id for the change log's `resource_id` (kinds are named by
                    // their `kind`, which a delete and a new PUT reuse).
                    .col(
                        ColumnDef::new(ElementKinds::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ElementKinds::WorldId).uuid().not_null())
                    .col(ColumnDef::new(ElementKinds::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(ElementKinds::Description).text().null())
                    // Only ever read whole, never searched: JSON, no JSONB indexing.
                    .col(ColumnDef::new(ElementKinds::Schema).json().not_null())
                    .col(version_column(ElementKinds::Version))
                    .col(created_now(ElementKinds::CreatedAt))
                    .col(created_now(ElementKinds::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_kinds_world_id_fkey")
                            .from(ElementKinds::Table, ElementKinds::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_kinds_world_kind_key")
                    .table(ElementKinds::Table)
                    .col(ElementKinds::WorldId)
                    .col(ElementKinds::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RelationKinds::Table)
                    .col(
                        ColumnDef::new(RelationKinds::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RelationKinds::WorldId).uuid().not_null())
                    .col(
                        ColumnDef::new(RelationKinds::Kind)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RelationKinds::Description).text().null())
                    // JSON arrays of element kinds; NULL allows any kind at that end.
                    .col(ColumnDef::new(RelationKinds::SourceKinds).json().null())
                    .col(ColumnDef::new(RelationKinds::TargetKinds).json().null())
                    .col(ColumnDef::new(RelationKinds::Inverse).string_len(64).null())
                    .col(version_column(RelationKinds::Version))
                    .col(created_now(RelationKinds::CreatedAt))
                    .col(created_now(RelationKinds::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("relation_kinds_world_id_fkey")
                            .from(RelationKinds::Table, RelationKinds::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("relation_kinds_world_kind_key")
                    .table(RelationKinds::Table)
                    .col(RelationKinds::WorldId)
                    .col(RelationKinds::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The elements of one kind in id order: the violations list walks it by keyset,
        // and a kind's element_count is an index-only count over it.
        manager
            .create_index(
                Index::create()
                    .name("world_elements_world_kind_idx")
                    .table(WorldElements::Table)
                    .col(WorldElements::WorldId)
                    .col(WorldElements::Kind)
                    .col(WorldElements::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("world_elements_world_kind_idx")
                    .table(WorldElements::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RelationKinds::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ElementKinds::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum ElementKinds {
    Table,
    Id,
    WorldId,
    Kind,
    Description,
    Schema,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum RelationKinds {
    Table,
    Id,
    WorldId,
    Kind,
    Description,
    SourceKinds,
    TargetKinds,
    Inverse,
    Version,
    CreatedAt,
    UpdatedAt,
}
