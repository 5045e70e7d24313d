//! Column shapes shared by several revisions. Defaults are server-side so that rows
//! written by any client (psql, another service) get them too.
//!
//! **What these helpers render never changes.** Every applied revision is checked by the
//! checksum of the SQL it renders (`workflow::integrity`), and revisions call these
//! helpers: a helper that renders differently makes every database that applied such a
//! revision refuse to start. `migration/checksums.txt` pins the checksums, and the unit
//! test `golden_checksums_of_applied_revisions_do_not_change` fails when one moves. To
//! change a shape, add a new helper (and a new revision that uses it); never edit one that
//! a revision already calls.
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

/// Rebuilds a SQLite table into a new shape, for the changes SQLite's `ALTER TABLE`
/// cannot make (a column's type, nullability or default, a dropped column, a CHECK or
/// foreign key), the way SQLite's documentation describes and Alembic's batch mode does:
/// `create` makes the new table as `_new_<table>`, the values of `columns` are copied
/// into it, the old table is dropped and the new one renamed, then `after` (its indexes
/// and triggers, which went with the old table) runs. All of it in one transaction, with
/// foreign keys off (dropping a parent table would otherwise run its children's `ON
/// DELETE` actions) and checked before the commit; foreign keys are on again afterwards,
/// as Lorebase's connections have them.
///
/// The revision runs outside sea-orm-migration's transaction (SQLite's default) and on
/// one connection, as the migrate commands use. Its statements are the revision's SQL:
/// changing what this emits changes the checksum of every revision that calls it.
pub async fn rebuild_sqlite_table(
    manager: &SchemaManager<'_>,
    table: &str,
    create: &str,
    columns: &[&str],
    after: &[&str],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

    let db = manager.get_connection();
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let new_name = quote(&format!("_new_{table}"));
    let list = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    // `foreign_keys` cannot change inside a transaction.
    db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
    db.execute_unprepared("BEGIN").await?;
    let rebuilt = async {
        db.execute_unprepared(create).await?;
        db.execute_unprepared(&format!(
            "INSERT INTO {new_name} ({list}) SELECT {list} FROM {}",
            quote(table)
        ))
        .await?;
        db.execute_unprepared(&format!("DROP TABLE {}", quote(table)))
            .await?;
        db.execute_unprepared(&format!(
            "ALTER TABLE {new_name} RENAME TO {}",
            quote(table)
        ))
        .await?;
        for statement in after {
            db.execute_unprepared(statement).await?;
        }
        let broken = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA foreign_key_check",
            ))
            .await?;
        if !broken.is_empty() {
            return Err(DbErr::Migration(format!(
                "rebuilding table {table} leaves {} rows whose foreign keys point nowhere",
                broken.len()
            )));
        }
        Ok(())
    }
    .await;
    let ended = match rebuilt {
        Ok(()) => db.execute_unprepared("COMMIT").await.map(|_| ()),
        Err(error) => {
            let _ = db.execute_unprepared("ROLLBACK").await;
            Err(error)
        }
    };
    db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    ended
}
