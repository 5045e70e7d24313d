//! Which element's summary mentions which element (`[[<element_id>]]` in the summary),
//! kept by the element write path, so "what mentions this element" is an index lookup.
//! A mention goes with the element whose summary makes it; the mentioned element's
//! deletion leaves it, so that restoring that element from the trash links it again.
//! The summaries of existing elements are read by this revision.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::m20261124_020004_create_world_elements::WorldElements;
use crate::schema_util::is_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ElementMentions::Table)
                    .col(ColumnDef::new(ElementMentions::SourceId).uuid().not_null())
                    .col(ColumnDef::new(ElementMentions::TargetId).uuid().not_null())
                    .primary_key(
                        Index::create()
                            .name("element_mentions_pkey")
                            .col(ElementMentions::SourceId)
                            .col(ElementMentions::TargetId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("element_mentions_source_id_fkey")
                            .from(ElementMentions::Table, ElementMentions::SourceId)
                            .to(WorldElements::Table, WorldElements::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // "What mentions this element", in the order of the mentioning elements' ids.
        manager
            .create_index(
                Index::create()
                    .name("element_mentions_target_idx")
                    .table(ElementMentions::Table)
                    .col(ElementMentions::TargetId)
                    .col(ElementMentions::SourceId)
                    .to_owned(),
            )
            .await?;
        fill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ElementMentions::Table).to_owned())
            .await
    }
}

/// Links the mentions in the summaries of existing elements, to elements of the same world,
/// in SQL (a revision never reads the database to decide what to run): each `[[` followed
/// by an id and `]]` or `|`.
async fn fill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let sql = if is_postgres(manager) {
        "INSERT INTO element_mentions (source_id, target_id) \
         SELECT DISTINCT e.id, t.id \
         FROM world_elements e \
         CROSS JOIN LATERAL regexp_matches(e.summary, \
             '\\[\\[([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(\\]\\]|\\|)', 'g') AS m \
         JOIN world_elements t ON t.id = CAST(m[1] AS uuid) AND t.world_id = e.world_id \
         WHERE e.summary LIKE '%[[%'"
    } else {
        // SQLite keeps ids as 16-byte blobs.
        "WITH RECURSIVE after_brackets (source_id, world_id, rest) AS ( \
             SELECT id, world_id, substr(summary, instr(summary, '[[') + 2) \
             FROM world_elements WHERE summary LIKE '%[[%' \
             UNION ALL \
             SELECT source_id, world_id, substr(rest, instr(rest, '[[') + 2) \
             FROM after_brackets WHERE instr(rest, '[[') > 0 \
         ) \
         INSERT INTO element_mentions (source_id, target_id) \
         SELECT DISTINCT a.source_id, t.id \
         FROM after_brackets a \
         JOIN world_elements t \
             ON t.id = unhex(replace(substr(a.rest, 1, 36), '-', '')) AND t.world_id = a.world_id \
         WHERE substr(a.rest, 37, 2) = ']]' OR substr(a.rest, 37, 1) = '|'"
    };
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[derive(DeriveIden)]
pub enum ElementMentions {
    Table,
    SourceId,
    TargetId,
}
