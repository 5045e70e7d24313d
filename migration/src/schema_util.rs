//! Column shapes shared by several revisions. Defaults are server-side so that rows
//! written by any client (psql, another service) get them too.
use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

/// A `NOT NULL` JSONB column defaulting to `{}`.
pub fn jsonb_object<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .json_binary()
        .not_null()
        .default(Expr::cust("'{}'"))
        .take()
}

/// A `NOT NULL` JSONB column defaulting to `[]`.
pub fn jsonb_array<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .json_binary()
        .not_null()
        .default(Expr::cust("'[]'"))
        .take()
}

/// A `NOT NULL timestamptz` column defaulting to the current time.
pub fn created_now<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .default(Expr::current_timestamp())
        .take()
}

/// The optimistic-concurrency counter: starts at 1, bumped by every change.
pub fn version_column<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().default(1).take()
}

pub fn is_postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == DatabaseBackend::Postgres
}
