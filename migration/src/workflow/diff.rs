//! What differs between the entities' schema and the live one, one fact per item, each
//! printable on one line (`check`) and turnable into code (`autogenerate`).
use std::fmt;

use super::catalog::{Catalog, Check, Column, ForeignKey, Index, Table, Unique};

#[derive(Debug, Clone)]
pub enum Difference {
    MissingTable(Table),
    ExtraTable(Table),
    MissingColumn {
        table: String,
        column: Column,
    },
    ExtraColumn {
        table: String,
        column: Column,
    },
    ColumnType {
        table: String,
        model: Column,
        live: Column,
    },
    Nullability {
        table: String,
        model: Column,
        live: Column,
    },
    Default {
        table: String,
        model: Column,
        live: Column,
    },
    PrimaryKey {
        table: String,
        model: Vec<String>,
        live: Vec<String>,
    },
    MissingUnique {
        table: String,
        unique: Unique,
    },
    ExtraUnique {
        table: String,
        unique: Unique,
    },
    MissingForeignKey {
        table: String,
        key: ForeignKey,
    },
    ExtraForeignKey {
        table: String,
        key: ForeignKey,
    },
    MissingCheck {
        table: String,
        check: Check,
    },
    ExtraCheck {
        table: String,
        check: Check,
    },
    MissingIndex {
        table: String,
        index: Index,
    },
    ExtraIndex {
        table: String,
        index: Index,
    },
    ChangedIndex {
        table: String,
        model: Index,
        live: Index,
    },
}

/// The entities may leave a `varchar` length unsaid (the generator does not write it);
/// then any length in the database matches.
pub fn same_type(model: &str, live: &str) -> bool {
    model == live
        || (model == "character varying" && live.starts_with("character varying("))
        // SQLite's spelling.
        || (model == "varchar" && live.starts_with("varchar("))
}

/// Type changes that keep every value; anything else may lose data or fail.
pub fn widens(from: &str, to: &str) -> bool {
    let length = |t: &str| -> Option<u32> {
        t.strip_prefix("character varying(")?
            .strip_suffix(')')?
            .parse()
            .ok()
    };
    match (from, to) {
        (f, "text") | (f, "character varying") if f.starts_with("character varying") => true,
        ("smallint", "integer" | "bigint") | ("integer", "bigint") => true,
        ("real", "double precision") => true,
        (f, t) => matches!((length(f), length(t)), (Some(a), Some(b)) if b >= a),
    }
}

impl Difference {
    /// The existing table the difference is about; `None` for a table missing or extra
    /// as a whole.
    pub fn table_name(&self) -> Option<&str> {
        match self {
            Difference::MissingTable(_) | Difference::ExtraTable(_) => None,
            Difference::MissingColumn { table, .. }
            | Difference::ExtraColumn { table, .. }
            | Difference::ColumnType { table, .. }
            | Difference::Nullability { table, .. }
            | Difference::Default { table, .. }
            | Difference::PrimaryKey { table, .. }
            | Difference::MissingUnique { table, .. }
            | Difference::ExtraUnique { table, .. }
            | Difference::MissingForeignKey { table, .. }
            | Difference::ExtraForeignKey { table, .. }
            | Difference::MissingCheck { table, .. }
            | Difference::ExtraCheck { table, .. }
            | Difference::MissingIndex { table, .. }
            | Difference::ExtraIndex { table, .. }
            | Difference::ChangedIndex { table, .. } => Some(table),
        }
    }

    /// Whether applying the change can lose data.
    pub fn is_destructive(&self) -> bool {
        match self {
            Difference::ExtraTable(_) | Difference::ExtraColumn { .. } => true,
            Difference::ColumnType { model, live, .. } => {
                !widens(&live.data_type, &model.data_type)
            }
            _ => false,
        }
    }
}

fn describe_default(default: &Option<String>) -> &str {
    default.as_deref().unwrap_or("no default")
}

fn nullability(column: &Column) -> &'static str {
    if column.nullable { "NULL" } else { "NOT NULL" }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingTable(table) => write!(
                f,
                "table {}: in the entities, missing from the database",
                table.name
            ),
            Difference::ExtraTable(table) => write!(
                f,
                "table {}: in the database, not in the entities",
                table.name
            ),
            Difference::MissingColumn { table, column } => write!(
                f,
                "column {table}.{}: in the entities ({} {}), missing from the database",
                column.name,
                column.data_type,
                nullability(column)
            ),
            Difference::ExtraColumn { table, column } => write!(
                f,
                "column {table}.{}: in the database ({} {}), not in the entities",
                column.name,
                column.data_type,
                nullability(column)
            ),
            Difference::ColumnType { table, model, live } => write!(
                f,
                "column {table}.{}: type is {} in the database, {} in the entities",
                model.name, live.data_type, model.data_type
            ),
            Difference::Nullability { table, model, live } => write!(
                f,
                "column {table}.{}: {} in the database, {} in the entities",
                model.name,
                nullability(live),
                nullability(model)
            ),
            Difference::Default { table, model, live } => write!(
                f,
                "column {table}.{}: default is {} in the database, {} in the entities",
                model.name,
                describe_default(&live.default),
                describe_default(&model.default)
            ),
            Difference::PrimaryKey { table, model, live } => write!(
                f,
                "table {table}: primary key is ({}) in the database, ({}) in the entities",
                live.join(", "),
                model.join(", ")
            ),
            Difference::MissingUnique { table, unique } => write!(
                f,
                "unique ({}) on {table}: in the entities, missing from the database",
                unique.columns.join(", ")
            ),
            Difference::ExtraUnique { table, unique } => write!(
                f,
                "unique {} ({}) on {table}: in the database, not in the entities",
                unique.name,
                unique.columns.join(", ")
            ),
            Difference::MissingForeignKey { table, key } => write!(
                f,
                "foreign key {table}({}) -> {}({}) ON DELETE {}: in the entities, missing from the database",
                key.columns.join(", "),
                key.ref_table,
                key.ref_columns.join(", "),
                key.on_delete
            ),
            Difference::ExtraForeignKey { table, key } => write!(
                f,
                "foreign key {} {table}({}) -> {}({}) ON DELETE {}: in the database, not in the entities",
                key.name,
                key.columns.join(", "),
                key.ref_table,
                key.ref_columns.join(", "),
                key.on_delete
            ),
            Difference::MissingCheck { table, check } => write!(
                f,
                "{} on {table}: in the entities, missing from the database",
                check.definition
            ),
            Difference::ExtraCheck { table, check } => write!(
                f,
                "{} {} on {table}: in the database, not in the entities",
                check.name, check.definition
            ),
            Difference::MissingIndex { table, index } => write!(
                f,
                "index {} on {table} {}: declared, missing from the database",
                index.name,
                index.definition()
            ),
            Difference::ExtraIndex { table, index } => write!(
                f,
                "index {} on {table} {}: in the database, not declared",
                index.name,
                index.definition()
            ),
            Difference::ChangedIndex { table, model, live } => write!(
                f,
                "index {} on {table}: {} in the database, {} declared",
                model.name,
                live.definition(),
                model.definition()
            ),
        }
    }
}

/// Every difference, tables in name order; within a table columns, keys, then indexes.
pub fn compare(model: &Catalog, live: &Catalog) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (name, model_table) in &model.tables {
        match live.tables.get(name) {
            None => differences.push(Difference::MissingTable(model_table.clone())),
            Some(live_table) => compare_table(model_table, live_table, &mut differences),
        }
    }
    for (name, live_table) in &live.tables {
        if !model.tables.contains_key(name) {
            differences.push(Difference::ExtraTable(live_table.clone()));
        }
    }
    differences
}

fn compare_table(model: &Table, live: &Table, out: &mut Vec<Difference>) {
    let table = || model.name.clone();
    for model_column in &model.columns {
        let Some(live_column) = live.column(&model_column.name) else {
            out.push(Difference::MissingColumn {
                table: table(),
                column: model_column.clone(),
            });
            continue;
        };
        if !same_type(&model_column.data_type, &live_column.data_type) {
            out.push(Difference::ColumnType {
                table: table(),
                model: model_column.clone(),
                live: live_column.clone(),
            });
        }
        if model_column.nullable != live_column.nullable {
            out.push(Difference::Nullability {
                table: table(),
                model: model_column.clone(),
                live: live_column.clone(),
            });
        }
        if model_column.default != live_column.default {
            out.push(Difference::Default {
                table: table(),
                model: model_column.clone(),
                live: live_column.clone(),
            });
        }
    }
    for live_column in &live.columns {
        if model.column(&live_column.name).is_none() {
            out.push(Difference::ExtraColumn {
                table: table(),
                column: live_column.clone(),
            });
        }
    }
    if model.primary_key != live.primary_key {
        out.push(Difference::PrimaryKey {
            table: table(),
            model: model.primary_key.clone(),
            live: live.primary_key.clone(),
        });
    }
    for unique in &model.uniques {
        if !live
            .uniques
            .iter()
            .any(|u| u.sorted_columns() == unique.sorted_columns())
        {
            out.push(Difference::MissingUnique {
                table: table(),
                unique: unique.clone(),
            });
        }
    }
    for unique in &live.uniques {
        if !model
            .uniques
            .iter()
            .any(|u| u.sorted_columns() == unique.sorted_columns())
        {
            out.push(Difference::ExtraUnique {
                table: table(),
                unique: unique.clone(),
            });
        }
    }
    for key in &model.foreign_keys {
        if !live.foreign_keys.iter().any(|k| k.same_as(key)) {
            out.push(Difference::MissingForeignKey {
                table: table(),
                key: key.clone(),
            });
        }
    }
    for key in &live.foreign_keys {
        if !model.foreign_keys.iter().any(|k| k.same_as(key)) {
            out.push(Difference::ExtraForeignKey {
                table: table(),
                key: key.clone(),
            });
        }
    }
    for check in &model.checks {
        if !live.checks.iter().any(|c| c.definition == check.definition) {
            out.push(Difference::MissingCheck {
                table: table(),
                check: check.clone(),
            });
        }
    }
    for check in &live.checks {
        if !model
            .checks
            .iter()
            .any(|c| c.definition == check.definition)
        {
            out.push(Difference::ExtraCheck {
                table: table(),
                check: check.clone(),
            });
        }
    }
    for index in &model.indexes {
        match live.indexes.iter().find(|i| i.name == index.name) {
            None => out.push(Difference::MissingIndex {
                table: table(),
                index: index.clone(),
            }),
            Some(found) if found != index => out.push(Difference::ChangedIndex {
                table: table(),
                model: index.clone(),
                live: found.clone(),
            }),
            Some(_) => {}
        }
    }
    for index in &live.indexes {
        if !model.indexes.iter().any(|i| i.name == index.name) {
            out.push(Difference::ExtraIndex {
                table: table(),
                index: index.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varchar_without_length_in_the_entities_matches_any_length() {
        assert!(same_type("character varying", "character varying(64)"));
        assert!(!same_type("character varying(64)", "character varying(32)"));
        assert!(!same_type("text", "character varying(64)"));
        assert!(same_type("varchar", "varchar(64)"));
        assert!(!same_type("json", "jsonb"));
        assert!(!same_type(
            "timestamp without time zone",
            "timestamp with time zone"
        ));
    }

    #[test]
    fn only_lossless_type_changes_count_as_widening() {
        assert!(widens("character varying(32)", "character varying(64)"));
        assert!(widens("character varying(32)", "text"));
        assert!(widens("integer", "bigint"));
        assert!(!widens("character varying(64)", "character varying(32)"));
        assert!(!widens("text", "character varying(64)"));
        assert!(!widens("bigint", "integer"));
        assert!(!widens("jsonb", "json"));
    }
}
