//! Multi-row inserts on PostgreSQL with the rows as ONE parameter: a JSON array that
//! `json_to_recordset` unpacks into typed columns. The same rows as a `VALUES` list take
//! a bind parameter per column and row (13,000 for 1,000 elements), which PostgreSQL
//! parses, binds and plans one by one: that cost about as much as inserting the rows
//! themselves, for every batch and every chunk of an import. Here the statement's text
//! is the same whatever the number of rows, so the connection prepares it once.
//!
//! SQLite keeps the multi-row `VALUES` (its statements are prepared in-process, cheaply).
use entity::{element_relations, world_changes, world_elements};
use sea_orm::{DbBackend, Statement};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};

/// `INSERT INTO table (columns) SELECT columns FROM json_to_recordset($1) AS r(columns
/// with their types)`, then `suffix` (`ON CONFLICT ...`, `RETURNING ...`).
fn statement(table: &str, columns: &[(&str, &str)], rows: String, suffix: &str) -> Statement {
    let names: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    let typed: Vec<String> = columns
        .iter()
        .map(|(name, sql_type)| format!("\"{name}\" {sql_type}"))
        .collect();
    let selected: Vec<String> = names.iter().map(|name| format!("r.{name}")).collect();
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO \"{table}\" ({}) SELECT {} FROM json_to_recordset(CAST($1 AS json)) \
             AS r({}) {suffix}",
            names.join(", "),
            selected.join(", "),
            typed.join(", "),
        ),
        [rows.into()],
    )
}

fn json<T: Serialize>(rows: &[T]) -> Result<String> {
    serde_json::to_string(rows).map_err(|e| Error::internal("bulk insert rows", e))
}

const ELEMENT_COLUMNS: [(&str, &str); 13] = [
    ("id", "uuid"),
    ("world_id", "uuid"),
    ("parent_id", "uuid"),
    ("kind", "text"),
    ("name", "text"),
    ("summary", "text"),
    ("attributes", "jsonb"),
    ("tags", "jsonb"),
    ("version", "integer"),
    ("created_by", "uuid"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("depth", "integer"),
];

/// An element row as [`ELEMENT_COLUMNS`] reads it.
#[derive(Serialize)]
struct ElementRecord<'a> {
    id: Uuid,
    world_id: Uuid,
    parent_id: Option<Uuid>,
    kind: &'a str,
    name: &'a str,
    summary: Option<&'a str>,
    attributes: &'a Value,
    tags: &'a Value,
    version: i32,
    created_by: Option<Uuid>,
    // RFC 3339 with every digit of the fraction: the value reads back as written.
    created_at: &'a sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: &'a sea_orm::prelude::DateTimeWithTimeZone,
    depth: i32,
}

/// The insert of `models` (PostgreSQL), followed by `suffix`.
pub fn elements(models: &[world_elements::Model], suffix: &str) -> Result<Statement> {
    let records: Vec<ElementRecord> = models
        .iter()
        .map(|m| ElementRecord {
            id: m.id,
            world_id: m.world_id,
            parent_id: m.parent_id,
            kind: &m.kind,
            name: &m.name,
            summary: m.summary.as_deref(),
            attributes: &m.attributes,
            tags: &m.tags,
            version: m.version,
            created_by: m.created_by,
            created_at: &m.created_at,
            updated_at: &m.updated_at,
            depth: m.depth,
        })
        .collect();
    Ok(statement(
        "world_elements",
        &ELEMENT_COLUMNS,
        json(&records)?,
        suffix,
    ))
}

const CHANGE_COLUMNS: [(&str, &str); 8] = [
    ("world_id", "uuid"),
    ("seq", "bigint"),
    ("type", "text"),
    ("resource_id", "uuid"),
    ("version", "integer"),
    ("actor_id", "uuid"),
    ("at", "timestamptz"),
    ("data", "jsonb"),
];

/// A change row as [`CHANGE_COLUMNS`] reads it.
#[derive(Serialize)]
struct ChangeRecord<'a> {
    world_id: Uuid,
    seq: i64,
    r#type: &'a str,
    resource_id: Uuid,
    version: Option<i32>,
    actor_id: Option<Uuid>,
    at: &'a sea_orm::prelude::DateTimeWithTimeZone,
    data: Option<&'a Value>,
}

/// The insert of `changes` (PostgreSQL).
pub fn changes(changes: &[world_changes::Model]) -> Result<Statement> {
    let records: Vec<ChangeRecord> = changes
        .iter()
        .map(|c| ChangeRecord {
            world_id: c.world_id,
            seq: c.seq,
            r#type: &c.r#type,
            resource_id: c.resource_id,
            version: c.version,
            actor_id: c.actor_id,
            at: &c.at,
            data: c.data.as_ref(),
        })
        .collect();
    Ok(statement(
        "world_changes",
        &CHANGE_COLUMNS,
        json(&records)?,
        "",
    ))
}

const RELATION_COLUMNS: [(&str, &str); 9] = [
    ("id", "uuid"),
    ("world_id", "uuid"),
    ("source_id", "uuid"),
    ("target_id", "uuid"),
    ("kind", "text"),
    ("attributes", "jsonb"),
    ("version", "integer"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
];

/// A relation row as [`RELATION_COLUMNS`] reads it.
#[derive(Serialize)]
struct RelationRecord<'a> {
    id: Uuid,
    world_id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
    kind: &'a str,
    attributes: &'a Value,
    version: i32,
    created_at: &'a sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: &'a sea_orm::prelude::DateTimeWithTimeZone,
}

/// The insert of `models` (PostgreSQL), followed by `suffix`.
pub fn relations(models: &[element_relations::Model], suffix: &str) -> Result<Statement> {
    let records: Vec<RelationRecord> = models
        .iter()
        .map(|m| RelationRecord {
            id: m.id,
            world_id: m.world_id,
            source_id: m.source_id,
            target_id: m.target_id,
            kind: &m.kind,
            attributes: &m.attributes,
            version: m.version,
            created_at: &m.created_at,
            updated_at: &m.updated_at,
        })
        .collect();
    Ok(statement(
        "element_relations",
        &RELATION_COLUMNS,
        json(&records)?,
        suffix,
    ))
}
