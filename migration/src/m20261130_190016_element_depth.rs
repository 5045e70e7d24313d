//! `world_elements.depth`: how many ancestors an element has (0 for a root), kept by the
//! element write path (create, move, delete, restore, batch, import, seed), so that an
//! export can write every parent before its children in one pass over the world in
//! `(depth)` order instead of walking the hierarchy and sorting what it found. Existing
//! elements get theirs in the next revision (`..._element_depth_backfill`), outside the
//! exclusive lock `ADD COLUMN` holds until this one commits; the index comes after it
//! (`..._element_depth_concurrently`), built without blocking writes.
//!
//! Written by `migrate autogenerate`.
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190016_element_depth"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("world_elements")
                    .add_column(ColumnDef::new("depth").integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("world_elements")
                    .drop_column("depth")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
