//! The index on `element_relations (world_id)` becomes `(world_id, id)`: it still serves
//! every lookup by world, and an export pages through a world's relations by id with it
//! (a page reads its rows in order and stops, instead of sorting the whole world's).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("element_relations_world_id_idx")
                    .table(ElementRelations::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("element_relations_world_id_idx")
                    .table(ElementRelations::Table)
                    .col(ElementRelations::WorldId)
                    .col(ElementRelations::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("element_relations_world_id_idx")
                    .table(ElementRelations::Table)
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
}

#[derive(DeriveIden)]
enum ElementRelations {
    Table,
    Id,
    WorldId,
}
