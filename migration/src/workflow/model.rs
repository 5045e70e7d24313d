//! The schema the entity crate describes, in the same form as the live one: the models'
//! `CREATE TABLE`s, their declared columns, defaults, CHECK constraints and indexes are run
//! in a scratch schema inside a transaction that is rolled back, and PostgreSQL's catalog is
//! read from there. Nothing is left behind; the role needs the right to create a schema in
//! the database.
use entity::schema::{
    DECLARED_CHECKS, DECLARED_COLUMNS, DECLARED_INDEXES, DeclaredColumn, EXTENSIONS,
    SERVER_DEFAULTS, model_tables,
};
use sea_orm_migration::sea_orm::sea_query::{Table, TableCreateStatement};
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};

use super::WorkflowError;
use super::catalog::{self, Catalog};

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Adds a column the entities declare beside their models (`entity::schema`) to the
/// scratch copy of the schema, on either backend.
pub async fn add_declared_column<C: ConnectionTrait>(
    db: &C,
    column: &DeclaredColumn,
) -> Result<(), WorkflowError> {
    db.execute_unprepared(&format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        quote(column.table),
        quote(column.column),
        column.definition
    ))
    .await
    .map_err(|e| {
        WorkflowError::from(e).context(&format!(
            "declared column {}.{}",
            column.table, column.column
        ))
    })?;
    Ok(())
}

/// `CREATE INDEX` for a declared index, as PostgreSQL takes it.
pub fn declared_index_sql(index: &entity::schema::DeclaredIndex) -> String {
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} USING {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote(index.name),
        quote(index.table),
        index.method,
        index.keys.join(", ")
    );
    if let Some(options) = index.options {
        sql.push_str(&format!(" WITH ({options})"));
    }
    if let Some(predicate) = index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql
}

/// A model's `CREATE TABLE` with its columns and primary key only.
fn without_foreign_keys(create: &TableCreateStatement) -> TableCreateStatement {
    let mut bare = Table::create();
    if let Some(name) = create.get_table_name() {
        bare.table(name.clone());
    }
    for column in create.get_columns() {
        bare.col(column.clone());
    }
    for index in create.get_indexes() {
        bare.index(&mut index.clone());
    }
    bare
}

pub async fn entities_catalog(db: &DatabaseConnection) -> Result<Catalog, WorkflowError> {
    let scratch = format!("lorebase_entities_{}", std::process::id());
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("CREATE SCHEMA {}", quote(&scratch)))
        .await?;
    // Declared indexes may name an extension's operator class (`gin_trgm_ops`): a missing
    // extension is created (and rolled back with the rest), and the schemas the extensions
    // live in are searched after the scratch one.
    let mut search_path = vec![quote(&scratch)];
    for extension in EXTENSIONS {
        txn.execute_unprepared(&format!(
            "CREATE EXTENSION IF NOT EXISTS {}",
            quote(extension)
        ))
        .await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT n.nspname AS name FROM pg_extension e \
                 JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1",
                [(*extension).into()],
            ))
            .await?
            .ok_or_else(|| WorkflowError::new(format!("extension {extension} is missing")))?;
        search_path.push(quote(&row.try_get::<String>("", "name")?));
    }
    txn.execute_unprepared(&format!(
        "SET LOCAL search_path TO {}",
        search_path.join(", ")
    ))
    .await?;
    let built = async {
        // Foreign keys go last: a composite one references a unique key that is an index
        // of its table (`(id, world_id)`), which must exist before the key does.
        let tables = model_tables(DbBackend::Postgres);
        for table in &tables {
            txn.execute(&without_foreign_keys(&table.create)).await?;
            for index in &table.indexes {
                txn.execute(index).await?;
            }
        }
        for table in &tables {
            let Some(name) = table.create.get_table_name() else {
                continue;
            };
            for key in table.create.get_foreign_key_create_stmts() {
                txn.execute(&key.clone().from_tbl(name.clone()).to_owned())
                    .await?;
            }
        }
        for column in DECLARED_COLUMNS {
            add_declared_column(&txn, column).await?;
        }
        for default in SERVER_DEFAULTS {
            txn.execute_unprepared(&format!(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
                quote(default.table),
                quote(default.column),
                default.sql
            ))
            .await
            .map_err(|e| {
                WorkflowError::from(e).context(&format!(
                    "declared default of {}.{}",
                    default.table, default.column
                ))
            })?;
        }
        for check in DECLARED_CHECKS {
            txn.execute_unprepared(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})",
                quote(check.table),
                quote(check.name),
                check.expression
            ))
            .await
            .map_err(|e| {
                WorkflowError::from(e).context(&format!("declared check {}", check.name))
            })?;
        }
        for index in DECLARED_INDEXES {
            txn.execute_unprepared(&declared_index_sql(index))
                .await
                .map_err(|e| {
                    WorkflowError::from(e).context(&format!("declared index {}", index.name))
                })?;
        }
        catalog::introspect(&txn, &scratch).await
    }
    .await;
    txn.rollback().await?;
    built.map_err(|e| e.context("building the entities' schema"))
}
