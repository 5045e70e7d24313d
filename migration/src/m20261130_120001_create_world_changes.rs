//! The change log: one append-only record of every change to a world and its contents,
//! written in the same transaction as the change. It serves the feed (`/changes`), each
//! resource's history and, later, webhook deliveries.
//!
//! `worlds.change_seq` is the last `seq` handed out in the world. A writer bumps it while
//! holding the world row's lock, so within a world `seq` grows in commit order.
//! `worlds.change_floor` is the highest `seq` the retention job has removed: a feed read
//! from below it would miss changes (410).
use sea_orm_migration::prelude::*;

use crate::m20261124_020002_create_worlds::Worlds;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Worlds::Table)
                    .add_column(
                        ColumnDef::new(ChangeLogColumns::ChangeSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Worlds::Table)
                    .add_column(
                        ColumnDef::new(ChangeLogColumns::ChangeFloor)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorldChanges::Table)
                    .col(ColumnDef::new(WorldChanges::WorldId).uuid().not_null())
                    .col(ColumnDef::new(WorldChanges::Seq).big_integer().not_null())
                    .col(ColumnDef::new(WorldChanges::Type).string_len(32).not_null())
                    .col(ColumnDef::new(WorldChanges::ResourceId).uuid().not_null())
                    .col(ColumnDef::new(WorldChanges::Version).integer().null())
                    .col(ColumnDef::new(WorldChanges::ActorId).uuid().null())
                    .col(
                        ColumnDef::new(WorldChanges::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // Stored as written and never searched: `json`, not `jsonb`.
                    .col(ColumnDef::new(WorldChanges::Data).json().null())
                    .primary_key(
                        Index::create()
                            .name("world_changes_pkey")
                            .col(WorldChanges::WorldId)
                            .col(WorldChanges::Seq),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("world_changes_world_id_fkey")
                            .from(WorldChanges::Table, WorldChanges::WorldId)
                            .to(Worlds::Table, Worlds::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        // History: one resource's changes, newest first.
        manager
            .create_index(
                Index::create()
                    .name("world_changes_resource_idx")
                    .table(WorldChanges::Table)
                    .col(WorldChanges::WorldId)
                    .col(WorldChanges::ResourceId)
                    .col(WorldChanges::Seq)
                    .to_owned(),
            )
            .await?;
        // Retention: the oldest changes of every world.
        manager
            .create_index(
                Index::create()
                    .name("world_changes_at_idx")
                    .table(WorldChanges::Table)
                    .col(WorldChanges::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorldChanges::Table).to_owned())
            .await?;
        for column in [ChangeLogColumns::ChangeFloor, ChangeLogColumns::ChangeSeq] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Worlds::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// The columns this revision adds to `worlds`.
#[derive(DeriveIden)]
enum ChangeLogColumns {
    ChangeSeq,
    ChangeFloor,
}

#[derive(DeriveIden)]
pub enum WorldChanges {
    Table,
    WorldId,
    Seq,
    Type,
    ResourceId,
    Version,
    ActorId,
    At,
    Data,
}
