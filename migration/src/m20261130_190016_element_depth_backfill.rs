//! Gives existing elements their `depth` (revision `..._element_depth` added the column,
//! 0 everywhere): one walk down from the roots. In a revision of its own, so that the
//! update takes row locks only, not the exclusive lock of the `ADD COLUMN` before it (on
//! 1,000,000 elements the walk and the update of the 200,000 with a parent take tens of
//! seconds). Both backends take `WITH RECURSIVE ... UPDATE ... FROM` (SQLite since 3.33).
//! `down` puts the 0s back.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190016_element_depth_backfill"
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

const UNDO: &str = "UPDATE world_elements SET depth = 0 WHERE depth <> 0";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(BACKFILL)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UNDO).await?;
        Ok(())
    }
}
