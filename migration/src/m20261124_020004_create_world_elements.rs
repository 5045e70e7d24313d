use sea_orm_migration::prelude::*;

use crate::m20261124_020001_create_users::Users;
use crate::m20261124_020002_create_worlds::Worlds;
use crate::schema_util::{created_now, is_postgres, jsonb_array, jsonb_object, version_column};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Keyset pagination indexes: one per sort order the list offers, each ending in `id`
/// so `(sort_key, id) > (?, ?)` is a single index range.
const KEYSET_INDEXES: [(&str, WorldElements); 3] = [
    ("world_elements_world_created_idx", WorldElements::CreatedAt),
    ("world_elements_world_name_idx", WorldElements::Name),
    ("world_elements_world_updated_idx", WorldElements::UpdatedAt),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorldElements::Table)
                    .col(
                        ColumnDef::new(WorldElements::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WorldElements::WorldId).uuid().not_null())
                    .col(ColumnDef::new(WorldElements::ParentId).uuid().null())
                    .col(
                        ColumnDef::new(WorldElements::Kind)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorldElements::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WorldElements::Summary).text().null())
                    .col(jsonb_object(WorldElements::Attributes))
                    .col(jsonb_array(WorldElements::Tags))
                    .col(version_column(WorldElements::Version))
                    .col(ColumnDef::new(WorldElements::CreatedBy).uuid().null())
                    .col(created_now(WorldElements::CreatedAt))
                    .col(created_now(WorldElements::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_elements_world_id_fkey")
                            .from(WorldElements::Table, WorldElements::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_elements_parent_id_fkey")
                            .from(WorldElements::Table, WorldElements::ParentId)
                            .to(WorldElements::Table, WorldElements::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_elements_created_by_fkey")
                            .from(WorldElements::Table, WorldElements::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, sort_key) in KEYSET_INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(WorldElements::Table)
                        .col(WorldElements::WorldId)
                        .col(sort_key)
                        .col(WorldElements::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("world_elements_parent_id_idx")
                    .table(WorldElements::Table)
                    .col(WorldElements::ParentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("world_elements_created_by_idx")
                    .table(WorldElements::Table)
                    .col(WorldElements::CreatedBy)
                    .to_owned(),
            )
            .await?;
        // GIN indexes for `attributes @> $1` and tag containment. The schema builder has
        // no operator classes, hence SQL. SQLite has no GIN and no equivalent index over
        // JSON contents, so there the filters scan the world's rows (via the keyset index).
        if is_postgres(manager) {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE INDEX world_elements_attributes_idx ON world_elements \
                 USING GIN (attributes jsonb_path_ops)",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX world_elements_tags_idx ON world_elements USING GIN (tags)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its indexes on both backends.
        manager
            .drop_table(Table::drop().table(WorldElements::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
pub enum WorldElements {
    Table,
    Id,
    WorldId,
    ParentId,
    Kind,
    Name,
    Summary,
    Attributes,
    Tags,
    Version,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
