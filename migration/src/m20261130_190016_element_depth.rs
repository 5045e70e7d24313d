//! `world_elements.depth`: how many ancestors an element has (0 for a root), kept by the
//! element write path (create, move, delete, restore, batch, import, seed), so that an
//! export can write every parent before its children in one pass over the world in
//! `(depth)` order instead of walking the hierarchy and sorting what it found. Its index
//! comes in the next revision (`..._element_depth_concurrently`), built without blocking
//! writes.
//!
//! Written by `migrate autogenerate`; the backfill is added by hand: existing elements get
//! their depth from one walk down from the roots (both backends take `WITH RECURSIVE ...
//! UPDATE ... FROM`; SQLite since 3.33).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190016_element_depth"
    }
}

/// Every element below a root gets its distance from that root. The walk is capped well
/// above the deepest hierarchy a move allows (1,000 levels), should a row written around
/// the application ever have closed a cycle.
const BACKFILL: &str = "WITH RECURSIVE tree (id, depth) AS ( \
         SELECT id, 0 FROM world_elements WHERE parent_id IS NULL \
         UNION ALL \
         SELECT e.id, t.depth + 1 FROM world_elements e JOIN tree t ON e.parent_id = t.id \
         WHERE t.depth < 100000 \
     ) \
     UPDATE world_elements SET depth = tree.depth FROM tree \
     WHERE world_elements.id = tree.id AND tree.depth > 0";

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
        manager
            .get_connection()
            .execute_unprepared(BACKFILL)
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
