//! `erd`: the live schema as a Mermaid entity-relationship diagram, which the README
//! keeps (between markers) and CI compares with a freshly migrated database.
use std::fmt::Write as _;

use sea_orm_migration::sea_orm::DatabaseConnection;

use super::WorkflowError;
use super::catalog::{self, Catalog, Table};

/// Mermaid takes an attribute type as one word: `timestamp with time zone` becomes
/// `timestamp_with_time_zone`, `character varying(64)` `character_varying(64)`.
fn type_word(data_type: &str) -> String {
    data_type
        .chars()
        .map(|c| match c {
            ' ' | ',' => '_',
            '"' => '\'',
            c => c,
        })
        .collect()
}

fn keys(table: &Table, column: &str) -> String {
    let mut keys = Vec::new();
    if table.primary_key.iter().any(|c| c == column) {
        keys.push("PK");
    }
    if table
        .foreign_keys
        .iter()
        .any(|k| k.columns.iter().any(|c| c == column))
    {
        keys.push("FK");
    }
    if table
        .uniques
        .iter()
        .any(|u| u.columns.len() == 1 && u.columns[0] == column)
    {
        keys.push("UK");
    }
    keys.join(", ")
}

/// The diagram: every table with its columns (type, keys, `"null"` where nullable), then
/// one line per foreign key, many rows to one (`o|` when the key may be null).
pub fn mermaid(schema: &Catalog) -> String {
    let mut out = String::from("erDiagram\n");
    for table in schema.tables.values() {
        writeln!(out, "    {} {{", table.name).ok();
        for column in &table.columns {
            let mut line = format!("        {} {}", type_word(&column.data_type), column.name);
            let keys = keys(table, &column.name);
            if !keys.is_empty() {
                write!(line, " {keys}").ok();
            }
            if column.nullable {
                line.push_str(" \"null\"");
            }
            writeln!(out, "{line}").ok();
        }
        out.push_str("    }\n");
    }
    for table in schema.tables.values() {
        for key in &table.foreign_keys {
            let optional = key
                .columns
                .iter()
                .any(|c| table.column(c).is_some_and(|column| column.nullable));
            writeln!(
                out,
                "    {} }}o--{} {} : \"{}\"",
                table.name,
                if optional { "o|" } else { "||" },
                key.ref_table,
                key.columns.join(", ")
            )
            .ok();
        }
    }
    out
}

/// The diagram of the database `db` points at (its current schema).
pub async fn mermaid_of_database(db: &DatabaseConnection) -> Result<String, WorkflowError> {
    let schema = super::command::current_schema(db).await?;
    Ok(mermaid(&catalog::introspect(db, &schema).await?))
}
