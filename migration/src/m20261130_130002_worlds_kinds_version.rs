//! `worlds.kinds_version`: bumped by every change to the world's element or relation
//! kinds, in the transaction of that change. A write reads it with the world's row (which
//! it locks anyway), so a server can keep what it knows of a world's kinds (which have a
//! schema, compiled) for as long as the number stays the same, and skip a query per write.
use sea_orm_migration::prelude::*;

use crate::m20261124_020002_create_worlds::Worlds;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Worlds::Table)
                    .add_column(
                        ColumnDef::new(KindsVersion::KindsVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Worlds::Table)
                    .drop_column(KindsVersion::KindsVersion)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum KindsVersion {
    KindsVersion,
}
