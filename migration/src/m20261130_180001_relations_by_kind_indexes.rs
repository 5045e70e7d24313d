//! An element's relations of one kind, in list order, from an index: without these the
//! list walked all of the element's relations in `created_at` order and tested each one's
//! kind, so a rare kind on an element with 50,000 relations read all 50,000 for a page.
use sea_orm_migration::prelude::*;

use crate::m20261124_020005_create_element_relations::ElementRelations;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, the end the list starts from).
const INDEXES: [(&str, ElementRelations); 2] = [
    (
        "element_relations_source_kind_created_idx",
        ElementRelations::SourceId,
    ),
    (
        "element_relations_target_kind_created_idx",
        ElementRelations::TargetId,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, end) in INDEXES {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ElementRelations::Table)
                        .col(end)
                        .col(ElementRelations::Kind)
                        .col(ElementRelations::CreatedAt)
                        .col(ElementRelations::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(ElementRelations::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
