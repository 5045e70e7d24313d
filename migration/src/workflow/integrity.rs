//! What `up` checks before it touches the schema: every applied revision still renders the
//! SQL it had when it was applied (by checksum), and no pending revision sorts before an
//! applied one. Checksums live beside `seaql_migrations`, in a table of their own, so
//! sea-orm-migration's own bookkeeping stays as it expects.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, StatementBuilder, TransactionTrait,
};
use sha2::{Digest, Sha256};

use super::WorkflowError;
use super::render::{self, Direction};
use super::revisions;

pub const CHECKSUM_TABLE: &str = "seaql_migration_checksums";

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

pub fn create_checksum_table() -> TableCreateStatement {
    Table::create()
        .table(CHECKSUM_TABLE)
        .if_not_exists()
        .col(ColumnDef::new("version").string().not_null().primary_key())
        .col(ColumnDef::new("checksum").string_len(64).not_null())
        .to_owned()
}

pub fn insert_checksum(version: &str, checksum: &str) -> InsertStatement {
    Query::insert()
        .into_table(CHECKSUM_TABLE)
        .columns(["version", "checksum"])
        .values_panic([version.into(), checksum.into()])
        .to_owned()
}

pub fn delete_checksum(version: &str) -> DeleteStatement {
    Query::delete()
        .from_table(CHECKSUM_TABLE)
        .and_where(Expr::col("version").eq(version))
        .to_owned()
}

async fn recorded(db: &DatabaseConnection) -> Result<Vec<(String, String)>, WorkflowError> {
    let backend = db.get_database_backend();
    db.execute(&create_checksum_table()).await?;
    let select = Query::select()
        .columns(["version", "checksum"])
        .from(CHECKSUM_TABLE)
        .to_owned();
    let rows = db.query_all(&select).await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<String>("", "version")?,
                row.try_get::<String>("", "checksum")?,
            ))
        })
        .collect::<Result<_, DbErr>>()
        .map_err(|e: DbErr| {
            WorkflowError::from(e).context(&format!("reading {CHECKSUM_TABLE} on {backend:?}"))
        })
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
            db.execute(&delete_checksum(&version)).await?;
            db.execute(&insert_checksum(&version, &current)).await?;
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

/// Brings the checksum table in line with `seaql_migrations`: a row for each applied
/// revision (recorded when first seen applied) and none for rolled-back ones.
pub async fn record(db: &DatabaseConnection) -> Result<(), WorkflowError> {
    let applied = revisions::applied(db).await?;
    let stored = recorded(db).await?;
    let backend = db.get_database_backend();
    let in_code = revisions::in_code();
    let txn = db.begin().await?;
    for (version, _) in stored.iter().filter(|(v, _)| !applied.contains(v)) {
        txn.execute(&delete_checksum(version)).await?;
    }
    for version in applied
        .iter()
        .filter(|v| !stored.iter().any(|(s, _)| s == *v))
    {
        if let Some(revision) = in_code.iter().find(|r| r.name() == version) {
            let sum = checksum(revision.as_ref(), backend).await?;
            txn.execute(&insert_checksum(version, &sum)).await?;
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
