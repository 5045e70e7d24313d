//! A PostgreSQL schema read from the system catalog into plain values, so that the live
//! database and the entities' schema can be compared field by field. PostgreSQL prints
//! types, defaults and index keys itself (`format_type`, `pg_get_expr`,
//! `pg_get_indexdef`), so both sides come out in the same canonical spelling.
use std::collections::BTreeMap;

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};

use super::WorkflowError;

/// Tables of sea-orm-migration's and this workflow's own bookkeeping, never compared.
pub const BOOKKEEPING: &[&str] = &["seaql_migrations", "seaql_migration_checksums"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// As `format_type` prints it: `character varying(64)`, `timestamp with time zone`.
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `SET DEFAULT`, `RESTRICT` or `NO ACTION`.
    pub on_delete: String,
    pub on_update: String,
}

impl ForeignKey {
    /// Two keys are the same when everything but the name agrees.
    pub fn same_as(&self, other: &ForeignKey) -> bool {
        self.columns == other.columns
            && self.ref_table == other.ref_table
            && self.ref_columns == other.ref_columns
            && self.on_delete == other.on_delete
            && self.on_update == other.on_update
    }
}

/// A uniqueness rule over plain columns, whether a constraint or a unique index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unique {
    pub name: String,
    pub columns: Vec<String>,
    /// Dropping a constraint and dropping an index are different statements.
    pub is_constraint: bool,
}

impl Unique {
    pub fn sorted_columns(&self) -> Vec<String> {
        let mut columns = self.columns.clone();
        columns.sort();
        columns
    }
}

/// A CHECK constraint; `definition` is PostgreSQL's own spelling of it
/// (`pg_get_constraintdef`): `CHECK ((length(name) > 0))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub definition: String,
    /// The expression as written, for SQLite's `CREATE TABLE` in a rebuild (on
    /// PostgreSQL the definition itself).
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    /// The access method: `btree`, `gin`, `gist`, ...
    pub method: String,
    /// Key columns or expressions, each followed by its operator class when that is not
    /// the type's default: `attributes jsonb_path_ops`.
    pub keys: Vec<String>,
    pub predicate: Option<String>,
    /// Storage parameters, as `pg_class.reloptions` lists them: `fastupdate=off`.
    pub options: Option<String>,
}

impl Index {
    /// How the index reads in a `CREATE INDEX`, for messages.
    pub fn definition(&self) -> String {
        let mut text = format!(
            "{}USING {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.method,
            self.keys.join(", ")
        );
        if let Some(options) = &self.options {
            text.push_str(&format!(" WITH ({options})"));
        }
        if let Some(predicate) = &self.predicate {
            text.push_str(&format!(" WHERE {predicate}"));
        }
        text
    }

    /// A plain btree over columns, which the schema builder can create by itself.
    pub fn is_plain(&self) -> bool {
        self.method == "btree"
            && self.predicate.is_none()
            && self.options.is_none()
            && self.keys.iter().all(|key| is_identifier(key))
    }
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub uniques: Vec<Unique>,
    pub foreign_keys: Vec<ForeignKey>,
    pub checks: Vec<Check>,
    pub indexes: Vec<Index>,
    /// On SQLite, what a table rebuild needs to put the table back as it was.
    pub sqlite: Option<SqliteSource>,
}

/// A SQLite table as `sqlite_master` keeps it: its `CREATE TABLE`, its indexes' `CREATE
/// INDEX` (name, statement) and its triggers' `CREATE TRIGGER`, which go with the table
/// when it is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SqliteSource {
    pub create: String,
    pub indexes: Vec<(String, String)>,
    pub triggers: Vec<String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|column| column.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    pub tables: BTreeMap<String, Table>,
}

/// Separates list items inside one text cell; no identifier contains it.
const SEPARATOR: char = '\u{1f}';

fn split(cell: String) -> Vec<String> {
    if cell.is_empty() {
        Vec::new()
    } else {
        cell.split(SEPARATOR).map(str::to_owned).collect()
    }
}

fn action(code: &str) -> String {
    match code {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    }
    .to_owned()
}

const COLUMNS: &str = r#"
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS data_type, NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default_sql
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"#;

const CONSTRAINTS: &str = r#"
SELECT c.relname AS table_name, con.conname AS name, con.contype::text AS kind,
       array_to_string(ARRAY(
           SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
           ORDER BY k.ord), chr(31)) AS columns,
       coalesce(f.relname, '') AS ref_table,
       array_to_string(ARRAY(
           SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
           ORDER BY k.ord), chr(31)) AS ref_columns,
       con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class f ON f.oid = con.confrelid
WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c')
ORDER BY c.relname, con.conname
"#;

const INDEXES: &str = r#"
SELECT t.relname AS table_name, i.relname AS name, ix.indisunique AS is_unique,
       am.amname AS method, coalesce(pg_get_expr(ix.indpred, ix.indrelid), '') AS predicate,
       coalesce(array_to_string(i.reloptions, ', '), '') AS options,
       array_to_string(ARRAY(
           SELECT pg_get_indexdef(ix.indexrelid, k.ord::int, true)
                  || CASE WHEN opc.opcdefault THEN '' ELSE ' ' || opc.opcname END
           FROM unnest(ix.indclass::oid[]) WITH ORDINALITY k(opclass, ord)
           JOIN pg_opclass opc ON opc.oid = k.opclass
           WHERE k.ord <= ix.indnkeyatts
           ORDER BY k.ord), chr(31)) AS keys
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = $1
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid
                  AND con.conrelid = ix.indrelid AND con.contype IN ('p', 'u'))
ORDER BY t.relname, i.relname
"#;

async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    schema: &str,
) -> Result<Vec<QueryResult>, WorkflowError> {
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, [schema.into()]);
    Ok(db.query_all_raw(statement).await?)
}

fn text(row: &QueryResult, column: &str) -> Result<String, WorkflowError> {
    Ok(row.try_get::<String>("", column)?)
}

/// Reads every table of `schema` except the bookkeeping ones.
pub async fn introspect(db: &impl ConnectionTrait, schema: &str) -> Result<Catalog, WorkflowError> {
    let mut catalog = Catalog::default();
    for row in rows(db, COLUMNS, schema).await? {
        let table_name = text(&row, "table_name")?;
        if BOOKKEEPING.contains(&table_name.as_str()) {
            continue;
        }
        let table = catalog
            .tables
            .entry(table_name.clone())
            .or_insert_with(|| Table {
                name: table_name,
                ..Table::default()
            });
        table.columns.push(Column {
            name: text(&row, "column_name")?,
            data_type: text(&row, "data_type")?,
            nullable: row.try_get::<bool>("", "nullable")?,
            default: row.try_get::<Option<String>>("", "default_sql")?,
        });
    }
    for row in rows(db, CONSTRAINTS, schema).await? {
        let Some(table) = catalog.tables.get_mut(&text(&row, "table_name")?) else {
            continue;
        };
        let name = text(&row, "name")?;
        let columns = split(text(&row, "columns")?);
        match text(&row, "kind")?.as_str() {
            "p" => table.primary_key = columns,
            "u" => table.uniques.push(Unique {
                name,
                columns,
                is_constraint: true,
            }),
            "c" => {
                let definition = text(&row, "definition")?;
                table.checks.push(Check {
                    name,
                    expression: definition.clone(),
                    definition,
                })
            }
            _ => table.foreign_keys.push(ForeignKey {
                name,
                columns,
                ref_table: text(&row, "ref_table")?,
                ref_columns: split(text(&row, "ref_columns")?),
                on_delete: action(&text(&row, "on_delete")?),
                on_update: action(&text(&row, "on_update")?),
            }),
        }
    }
    for row in rows(db, INDEXES, schema).await? {
        let Some(table) = catalog.tables.get_mut(&text(&row, "table_name")?) else {
            continue;
        };
        let predicate = text(&row, "predicate")?;
        let options = text(&row, "options")?;
        let index = Index {
            name: text(&row, "name")?,
            unique: row.try_get::<bool>("", "is_unique")?,
            method: text(&row, "method")?,
            keys: split(text(&row, "keys")?),
            predicate: (!predicate.is_empty()).then_some(predicate),
            options: (!options.is_empty()).then_some(options),
        };
        // A plain unique index is a uniqueness rule like a UNIQUE constraint, and the
        // entities say `unique` for either.
        if index.unique && index.is_plain() {
            table.uniques.push(Unique {
                name: index.name,
                columns: index.keys,
                is_constraint: false,
            });
        } else {
            table.indexes.push(index);
        }
    }
    Ok(catalog)
}
