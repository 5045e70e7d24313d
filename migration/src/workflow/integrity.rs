//! What `up` checks before it touches the schema: every applied revision still renders the
//! SQL it had when it was applied (by checksum), and no pending revision sorts before an
//! applied one. The checksum is a column added to sea-orm-migration's own
//! `seaql_migrations` (its queries name their columns, so they do not mind), which keeps it
//! out of `sea-orm-cli generate entity` (it skips that table) and lets `down` drop it with
//! the row.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, StatementBuilder, TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, SchemaManager};
use sha2::{Digest, Sha256};

use super::WorkflowError;
use super::render::{self, Direction};
use super::revisions;
use crate::Migrator;

const CHECKSUM: &str = "checksum";

/// The checksum of a revision: SHA-256 of the SQL its `up` renders for `backend`.
pub async fn checksum(
    revision: &dyn MigrationTrait,
    backend: DbBackend,
) -> Result<String, WorkflowError> {
    let statements = render::statements(revision, backend, Direction::Up).await?;
    let mut hasher = Sha256::new();
    for statement in statements {
        hasher.update(statement.as_bytes());
        hasher.update(b";\n");
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn migration_table() -> String {
    Migrator::migration_table_name().to_string()
}

/// `ALTER TABLE seaql_migrations ADD COLUMN checksum`, for a database that lacks it.
pub fn add_checksum_column() -> TableAlterStatement {
    Table::alter()
        .table(migration_table())
        .add_column(ColumnDef::new(CHECKSUM).string_len(64).null())
        .to_owned()
}

/// Records `checksum` for `version` where none is recorded yet (or, accepting a changed
/// revision, over the old one).
pub fn set_checksum(version: &str, checksum: &str, overwrite: bool) -> UpdateStatement {
    let mut update = Query::update()
        .table(migration_table())
        .value(CHECKSUM, checksum)
        .and_where(Expr::col("version").eq(version))
        .to_owned();
    if !overwrite {
        update.and_where(Expr::col(CHECKSUM).is_null());
    }
    update
}

/// Adds the checksum column when `seaql_migrations` exists without it; false when there
/// is no `seaql_migrations` yet.
async fn ensure_checksum_column(db: &DatabaseConnection) -> Result<bool, WorkflowError> {
    let manager = SchemaManager::new(db);
    if !manager.has_table(migration_table()).await? {
        return Ok(false);
    }
    if !manager.has_column(migration_table(), CHECKSUM).await? {
        db.execute(&add_checksum_column()).await?;
    }
    Ok(true)
}

/// `(version, checksum)` of every applied revision with a recorded checksum.
async fn recorded(db: &DatabaseConnection) -> Result<Vec<(String, String)>, WorkflowError> {
    if !ensure_checksum_column(db).await? {
        return Ok(Vec::new());
    }
    let select = Query::select()
        .columns(["version", CHECKSUM])
        .from(migration_table())
        .and_where(Expr::col(CHECKSUM).is_not_null())
        .to_owned();
    let rows = db.query_all(&select).await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "version")?,
                row.try_get::<String>("", CHECKSUM)?,
            ))
        })
        .collect::<Result<_, DbErr>>()
        .map_err(|e: DbErr| WorkflowError::from(e).context("reading revision checksums"))
}

/// Refuses `up` when it would build on revisions that are not what was applied.
/// `accept` names changed revisions whose new checksum the operator accepts.
pub async fn verify_before_up(
    db: &DatabaseConnection,
    accept: &[String],
) -> Result<(), WorkflowError> {
    let in_code = revisions::in_code();
    let applied = revisions::applied(db).await?;
    for name in accept {
        if !applied.contains(name) {
            return Err(WorkflowError::new(format!(
                "--accept-changed {name}: that revision is not applied"
            )));
        }
    }

    // Strict order: a pending revision that sorts before the newest applied one would be
    // applied out of order, after revisions written on the assumption that it was not there.
    if let Some(newest) = in_code
        .iter()
        .rposition(|revision| applied.iter().any(|name| name == revision.name()))
    {
        let out_of_order: Vec<&str> = in_code[..newest]
            .iter()
            .map(|revision| revision.name())
            .filter(|name| !applied.iter().any(|applied| applied == name))
            .collect();
        if !out_of_order.is_empty() {
            return Err(WorkflowError::new(format!(
                "pending revision(s) {} sort before the newest applied revision {}; \
                 give them a later timestamp (rename the file, module and name) or roll back first",
                out_of_order.join(", "),
                in_code[newest].name()
            )));
        }
    }

    let backend = db.get_database_backend();
    let mut changed = Vec::new();
    for (version, stored) in recorded(db).await? {
        let Some(revision) = in_code.iter().find(|revision| revision.name() == version) else {
            continue; // sea-orm-migration itself refuses revisions missing from the code
        };
        let current = checksum(revision.as_ref(), backend).await?;
        if current == stored {
            continue;
        }
        if accept.contains(&version) {
            db.execute(&set_checksum(&version, &current, true)).await?;
            log_line(&format!("accepted the changed revision {version}"));
        } else {
            changed.push(version);
        }
    }
    if !changed.is_empty() {
        return Err(WorkflowError::new(format!(
            "applied revision(s) changed since they were applied: {}; \
             restore them, or accept the new text with --accept-changed <REVISION>",
            changed.join(", ")
        )));
    }
    Ok(())
}

/// Records the checksum of each applied revision that has none yet: the ones this run
/// applied, and all of them the first time a database meets this workflow.
pub async fn record(db: &DatabaseConnection) -> Result<(), WorkflowError> {
    let stored = recorded(db).await?;
    let applied = revisions::applied(db).await?;
    let backend = db.get_database_backend();
    let in_code = revisions::in_code();
    // Migrate commands run on a single connection: nothing may query `db` from here on.
    let txn = db.begin().await?;
    for version in applied {
        if stored.iter().any(|(v, _)| *v == version) {
            continue;
        }
        if let Some(revision) = in_code.iter().find(|r| r.name() == version) {
            let sum = checksum(revision.as_ref(), backend).await?;
            txn.execute(&set_checksum(&version, &sum, false)).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Where a statement is needed as text (the `sql` command), in the backend's dialect.
pub fn render(backend: DbBackend, statement: &impl StatementBuilder) -> String {
    backend.build(statement).to_string()
}

fn log_line(message: &str) {
    println!("{message}");
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use sea_orm_migration::MigratorTrait;
    use sea_orm_migration::sea_orm::DbBackend;

    use super::checksum;
    use crate::Migrator;

    /// The committed checksums of every revision, as databases recorded them when they
    /// applied it.
    const GOLDEN: &str = include_str!("../../checksums.txt");

    /// Every revision still renders the SQL it had when databases applied it: tidying a
    /// helper in `schema_util.rs` or upgrading sea-orm must not change it, or every database
    /// that applied the revision refuses to start. A new revision adds its lines
    /// (`LOREBASE_UPDATE_CHECKSUMS=1 cargo test -p migration golden` rewrites the file);
    /// an existing line never changes.
    #[tokio::test]
    async fn golden_checksums_of_applied_revisions_do_not_change() {
        let mut rendered = String::new();
        for revision in Migrator::migrations() {
            for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
                let sum = checksum(revision.as_ref(), backend)
                    .await
                    .expect("revision renders");
                writeln!(rendered, "{} {backend:?} {sum}", revision.name()).expect("write");
            }
        }
        if std::env::var_os("LOREBASE_UPDATE_CHECKSUMS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/checksums.txt");
            std::fs::write(path, &rendered).expect("write checksums.txt");
            return;
        }
        let golden: Vec<&str> = GOLDEN.lines().collect();
        let now: Vec<&str> = rendered.lines().collect();
        for line in &golden {
            assert!(
                now.contains(line),
                "a revision's checksum changed (or a revision was removed): {line}\n\
                 now:\n{rendered}"
            );
        }
        for line in &now {
            assert!(
                golden.contains(line),
                "a revision is missing from migration/checksums.txt: {line}\n\
                 add it with LOREBASE_UPDATE_CHECKSUMS=1 cargo test -p migration golden"
            );
        }
    }
}
