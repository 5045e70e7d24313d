use sea_orm_migration::prelude::*;

use crate::schema_util::created_now;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Sliding-window limits (failed logins per account and per IP, registrations per
        // IP) live in the database so they hold across every server process.
        manager
            .create_table(
                Table::create()
                    .table(RateLimitEvents::Table)
                    .col(
                        ColumnDef::new(RateLimitEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RateLimitEvents::Scope)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RateLimitEvents::Subject)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(created_now(RateLimitEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rate_limit_events_scope_subject_created_idx")
                    .table(RateLimitEvents::Table)
                    .col(RateLimitEvents::Scope)
                    .col(RateLimitEvents::Subject)
                    .col(RateLimitEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimitEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum RateLimitEvents {
    Table,
    Id,
    Scope,
    Subject,
    CreatedAt,
}
