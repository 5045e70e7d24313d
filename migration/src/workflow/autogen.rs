//! `autogenerate`: turns the differences into a revision file written the way
//! `sea-orm-cli migrate generate` writes one (`mYYYYMMDD_HHMMSS_name.rs`, registered in
//! `lib.rs`), with schema-builder calls wherever the builder can say the step.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::WorkflowError;
use super::catalog::{Catalog, Column, ForeignKey, Index, Table, Unique};
use super::diff::Difference;

/// One change, with code for both directions. Steps run in `phase` order on the way up
/// and in exactly the reverse order on the way down.
struct Step {
    phase: u8,
    /// The existing table the step alters, if any.
    table: Option<String>,
    up: String,
    down: String,
    /// What `up` runs on PostgreSQL, for `lint`.
    sql: Vec<String>,
    warning: Option<String>,
}

/// What `autogenerate` decided, before anything is written.
pub struct Revision {
    pub up: String,
    pub down: String,
    /// Things for a person to decide, written at the top of the file and printed.
    pub todos: Vec<String>,
    /// Steps that can lose data, marked in the file and printed.
    pub warnings: Vec<String>,
    uses_raw_sql: bool,
    /// Branches on the backend (`DatabaseBackend`).
    uses_backend: bool,
    /// Runs outside a transaction (`use_transaction() -> Some(false)`).
    outside_transaction: bool,
    /// The PostgreSQL statements `up` runs, as `lint` reads them.
    pub postgres_sql: Vec<String>,
    /// `lint`'s findings on `postgres_sql`, one line each, for the file's header.
    pub lint: Vec<String>,
}

fn lit(text: &str) -> String {
    format!("{text:?}")
}

fn type_call(data_type: &str) -> String {
    let sized = |prefix: &str| {
        data_type
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(str::to_owned)
    };
    match data_type {
        "uuid" => ".uuid()".into(),
        "text" => ".text()".into(),
        "character varying" => ".string()".into(),
        "jsonb" => ".json_binary()".into(),
        "json" => ".json()".into(),
        "timestamp with time zone" => ".timestamp_with_time_zone()".into(),
        "timestamp without time zone" => ".timestamp()".into(),
        "date" => ".date()".into(),
        "time without time zone" => ".time()".into(),
        "smallint" => ".small_integer()".into(),
        "integer" => ".integer()".into(),
        "bigint" => ".big_integer()".into(),
        "boolean" => ".boolean()".into(),
        "real" => ".float()".into(),
        "double precision" => ".double()".into(),
        "bytea" => ".blob()".into(),
        _ => {
            if let Some(length) = sized("character varying(") {
                format!(".string_len({length})")
            } else if let Some(precision) = sized("numeric(") {
                format!(".decimal_len({precision})")
            } else {
                format!(".custom({})", lit(data_type))
            }
        }
    }
}

fn default_call(default: &str) -> String {
    if default == "CURRENT_TIMESTAMP" {
        ".default(Expr::current_timestamp())".into()
    } else if default == "true" || default == "false" || default.parse::<i64>().is_ok() {
        format!(".default({default})")
    } else {
        format!(".default(Expr::cust({}))", lit(default))
    }
}

fn column_def(column: &Column) -> String {
    let mut code = format!(
        "ColumnDef::new({}){}",
        lit(&column.name),
        type_call(&column.data_type)
    );
    code.push_str(if column.nullable {
        ".null()"
    } else {
        ".not_null()"
    });
    if let Some(default) = &column.default {
        code.push_str(&default_call(default));
    }
    code
}

fn action(sql: &str) -> &'static str {
    match sql {
        "CASCADE" => "ForeignKeyAction::Cascade",
        "SET NULL" => "ForeignKeyAction::SetNull",
        "SET DEFAULT" => "ForeignKeyAction::SetDefault",
        "RESTRICT" => "ForeignKeyAction::Restrict",
        _ => "ForeignKeyAction::NoAction",
    }
}

fn foreign_key_builder(table: &str, key: &ForeignKey) -> String {
    let mut code = format!(
        "ForeignKey::create().name({}).from_tbl({})",
        lit(&key.name),
        lit(table)
    );
    for column in &key.columns {
        write!(code, ".from_col({})", lit(column)).ok();
    }
    write!(code, ".to_tbl({})", lit(&key.ref_table)).ok();
    for column in &key.ref_columns {
        write!(code, ".to_col({})", lit(column)).ok();
    }
    write!(
        code,
        ".on_delete({}).on_update({})",
        action(&key.on_delete),
        action(&key.on_update)
    )
    .ok();
    code
}

fn run(statement: &str) -> String {
    format!("        manager.{statement}.await?;\n")
}

fn raw(sql: &str) -> String {
    format!(
        "        manager.get_connection().execute_unprepared({}).await?;\n",
        lit(sql)
    )
}

fn quote(identifier: &str) -> String {
    super::model::quote(identifier)
}

fn create_index(table: &str, index: &Index) -> String {
    if index.is_plain() {
        let mut code = format!(
            "Index::create().name({}).table({})",
            lit(&index.name),
            lit(table)
        );
        for key in &index.keys {
            write!(code, ".col({})", lit(key)).ok();
        }
        if index.unique {
            code.push_str(".unique()");
        }
        run(&format!("create_index({code}.to_owned())"))
    } else {
        let mut sql = format!(
            "CREATE {}INDEX {} ON {} USING {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            quote(&index.name),
            quote(table),
            index.method,
            index.keys.join(", ")
        );
        if let Some(options) = &index.options {
            write!(sql, " WITH ({options})").ok();
        }
        if let Some(predicate) = &index.predicate {
            write!(sql, " WHERE {predicate}").ok();
        }
        raw(&sql)
    }
}

fn drop_index(table: &str, name: &str) -> String {
    run(&format!(
        "drop_index(Index::drop().name({}).table({}).to_owned())",
        lit(name),
        lit(table)
    ))
}

fn unique_as_index(unique: &Unique) -> Index {
    Index {
        name: unique.name.clone(),
        unique: true,
        method: "btree".into(),
        keys: unique.columns.clone(),
        predicate: None,
        options: None,
    }
}

fn create_unique(table: &str, unique: &Unique) -> String {
    if unique.is_constraint {
        raw(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
            quote(table),
            quote(&unique.name),
            unique
                .columns
                .iter()
                .map(|c| quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        create_index(table, &unique_as_index(unique))
    }
}

fn drop_unique(table: &str, unique: &Unique) -> String {
    if unique.is_constraint {
        alter(table, &format!(".drop_constraint({})", lit(&unique.name)))
    } else {
        drop_index(table, &unique.name)
    }
}

fn alter(table: &str, change: &str) -> String {
    run(&format!(
        "alter_table(Table::alter().table({}){change}.to_owned())",
        lit(table)
    ))
}

fn create_table(table: &Table) -> String {
    let mut code = format!("Table::create().table({})", lit(&table.name));
    for column in &table.columns {
        write!(code, ".col({})", column_def(column)).ok();
    }
    if !table.primary_key.is_empty() {
        code.push_str(".primary_key(Index::create()");
        for column in &table.primary_key {
            write!(code, ".col({})", lit(column)).ok();
        }
        code.push(')');
    }
    for key in &table.foreign_keys {
        write!(
            code,
            ".foreign_key({})",
            foreign_key_builder(&table.name, key)
        )
        .ok();
    }
    let mut out = run(&format!("create_table({code}.to_owned())"));
    for unique in &table.uniques {
        out.push_str(&create_unique(&table.name, unique));
    }
    for index in &table.indexes {
        out.push_str(&create_index(&table.name, index));
    }
    out
}

fn drop_table(name: &str) -> String {
    run(&format!(
        "drop_table(Table::drop().table({}).to_owned())",
        lit(name)
    ))
}

/// Tables in an order where each comes after the tables it references (among `tables`).
fn dependency_order(tables: Vec<&Table>) -> Vec<&Table> {
    let mut placed: Vec<&Table> = Vec::new();
    let mut rest = tables;
    while !rest.is_empty() {
        let names: BTreeSet<&str> = rest.iter().map(|t| t.name.as_str()).collect();
        let (ready, waiting): (Vec<&Table>, Vec<&Table>) = rest.into_iter().partition(|t| {
            t.foreign_keys
                .iter()
                .all(|k| k.ref_table == t.name || !names.contains(k.ref_table.as_str()))
        });
        if ready.is_empty() {
            // A cycle: keep the remaining order; the database will say what is wrong.
            placed.extend(waiting);
            break;
        }
        placed.extend(ready);
        rest = waiting;
    }
    placed
}

fn step(phase: u8, up: String, down: String, sql: String) -> Step {
    Step {
        phase,
        table: None,
        up,
        down,
        sql: vec![sql],
        warning: None,
    }
}

/// The SQL a step runs on PostgreSQL, as far as `lint` needs to read it.
mod sql {
    use super::{Column, Index, Table, quote};

    pub fn column(column: &Column) -> String {
        let mut text = format!("{} {}", quote(&column.name), column.data_type);
        if !column.nullable {
            text.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            text.push_str(&format!(" DEFAULT {default}"));
        }
        text
    }

    pub fn create_table(table: &Table) -> String {
        let columns: Vec<String> = table.columns.iter().map(column).collect();
        format!(
            "CREATE TABLE {} ( {} )",
            quote(&table.name),
            columns.join(", ")
        )
    }

    pub fn alter(table: &str, action: &str) -> String {
        format!("ALTER TABLE {} {action}", quote(table))
    }

    /// `CREATE INDEX`, with `CONCURRENTLY` between the words when `concurrently` says so
    /// (a placeholder for generated code, or the word itself).
    pub fn create_index(table: &str, index: &Index, concurrently: &str) -> String {
        let mut text = format!(
            "CREATE {}INDEX{concurrently} {} ON {}",
            if index.unique { "UNIQUE " } else { "" },
            quote(&index.name),
            quote(table)
        );
        if !index.is_plain() {
            text.push_str(&format!(" USING {}", index.method));
        }
        let keys: Vec<String> = index
            .keys
            .iter()
            .map(|k| {
                if index.is_plain() {
                    quote(k)
                } else {
                    k.clone()
                }
            })
            .collect();
        text.push_str(&format!(" ({})", keys.join(", ")));
        if let Some(options) = &index.options {
            text.push_str(&format!(" WITH ({options})"));
        }
        if let Some(predicate) = &index.predicate {
            text.push_str(&format!(" WHERE {predicate}"));
        }
        text
    }

    pub fn drop_index(name: &str, concurrently: &str) -> String {
        format!("DROP INDEX{concurrently} IF EXISTS {}", quote(name))
    }
}

/// An index built or dropped in the revision of its own that runs outside a
/// transaction, so PostgreSQL can do it `CONCURRENTLY`, without blocking writes.
struct IndexChange {
    table: String,
    index: Index,
    create: bool,
}

/// Where generated code puts the `CONCURRENTLY` that only PostgreSQL knows.
const CONCURRENTLY: &str = "{concurrently}";

impl IndexChange {
    fn code(&self, create: bool) -> String {
        let statement = if create {
            sql::create_index(&self.table, &self.index, CONCURRENTLY)
        } else {
            sql::drop_index(&self.index.name, CONCURRENTLY)
        };
        // A format string: the SQL's own braces doubled, then the placeholder restored.
        let escaped = statement
            .replace('{', "{{")
            .replace('}', "}}")
            .replace("{{concurrently}}", "{concurrently}");
        let call = format!(
            "manager.get_connection().execute_unprepared(&format!({})).await?;",
            lit(&escaped)
        );
        if create && !self.index.is_plain() {
            // An access method, operator class or storage parameters: PostgreSQL's own.
            format!(
                "        if manager.get_database_backend() == DatabaseBackend::Postgres {{\n            {call}\n        }}\n"
            )
        } else {
            format!("        {call}\n")
        }
    }

    fn postgres_sql(&self) -> String {
        if self.create {
            sql::create_index(&self.table, &self.index, " CONCURRENTLY")
        } else {
            sql::drop_index(&self.index.name, " CONCURRENTLY")
        }
    }
}

/// Whether a foreign key that `differences` adds (alone or with its new table) references
/// `unique`: such a key must exist before the foreign key, so it is built in the main
/// revision, first, rather than `CONCURRENTLY` in the revision after it.
fn referenced_by_a_new_key(differences: &[Difference], table: &str, unique: &Unique) -> bool {
    let mut columns = unique.columns.clone();
    columns.sort();
    let references = |key: &ForeignKey| {
        let mut referenced = key.ref_columns.clone();
        referenced.sort();
        key.ref_table == table && referenced == columns
    };
    differences.iter().any(|d| match d {
        Difference::MissingForeignKey { key, .. } => references(key),
        Difference::MissingTable(t) => t.foreign_keys.iter().any(references),
        _ => false,
    })
}

/// The index changes of `differences`: every index of a table that exists already.
fn index_changes(differences: &[Difference]) -> Vec<IndexChange> {
    let change = |table: &String, index: &Index, create| IndexChange {
        table: table.clone(),
        index: index.clone(),
        create,
    };
    let mut drops = Vec::new();
    let mut creates = Vec::new();
    for difference in differences {
        match difference {
            Difference::MissingIndex { table, index } => creates.push(change(table, index, true)),
            Difference::MissingUnique { table, unique }
                if !referenced_by_a_new_key(differences, table, unique) =>
            {
                creates.push(change(table, &unique_as_index(unique), true))
            }
            Difference::ExtraIndex { table, index } => drops.push(change(table, index, false)),
            Difference::ExtraUnique { table, unique } if !unique.is_constraint => {
                drops.push(change(table, &unique_as_index(unique), false))
            }
            Difference::ChangedIndex { table, model, live } => {
                drops.push(change(table, live, false));
                creates.push(change(table, model, true));
            }
            _ => {}
        }
    }
    drops.extend(creates);
    drops
}

/// The revision that builds and drops indexes on existing tables outside a transaction
/// (`CREATE INDEX CONCURRENTLY` on PostgreSQL); `None` when there are none.
/// `missing_extensions`: the extensions the entities declare that the database lacks (a
/// declared index may use one's operator class, such as `gin_trgm_ops`).
pub fn plan_indexes(differences: &[Difference], missing_extensions: &[&str]) -> Option<Revision> {
    let changes = index_changes(differences);
    if changes.is_empty() {
        return None;
    }
    let prelude = "        let concurrently = if manager.get_database_backend() == DatabaseBackend::Postgres {\n            \" CONCURRENTLY\"\n        } else {\n            \"\"\n        };\n";
    let mut up = prelude.to_owned();
    let mut down = prelude.to_owned();
    let mut postgres_sql = Vec::new();
    if changes.iter().any(|change| change.create) {
        // The extensions exist before an index that may use them is built; they stay on
        // the way down, like every extension a revision makes.
        for extension in missing_extensions {
            let statement = format!("CREATE EXTENSION IF NOT EXISTS {}", quote(extension));
            up.push_str(&format!(
                "        if manager.get_database_backend() == DatabaseBackend::Postgres {{\n    {}        }}\n",
                raw(&statement)
            ));
            postgres_sql.push(statement);
        }
    }
    for change in &changes {
        up.push_str(&change.code(change.create));
    }
    for change in changes.iter().rev() {
        down.push_str(&change.code(!change.create));
    }
    Some(Revision {
        up,
        down,
        todos: Vec::new(),
        warnings: Vec::new(),
        uses_raw_sql: true,
        uses_backend: true,
        outside_transaction: true,
        postgres_sql: postgres_sql
            .into_iter()
            .chain(changes.iter().map(IndexChange::postgres_sql))
            .collect(),
        lint: Vec::new(),
    })
}

pub fn plan(differences: &[Difference], rebuilds: &[Rebuild]) -> Revision {
    let mut steps = Vec::new();
    let mut todos = Vec::new();

    let missing: Vec<&Table> = differences
        .iter()
        .filter_map(|d| match d {
            Difference::MissingTable(t) => Some(t),
            _ => None,
        })
        .collect();
    let extra: Vec<&Table> = differences
        .iter()
        .filter_map(|d| match d {
            Difference::ExtraTable(t) => Some(t),
            _ => None,
        })
        .collect();
    for table in dependency_order(missing.clone()) {
        let mut create = step(
            1,
            create_table(table),
            drop_table(&table.name),
            sql::create_table(table),
        );
        for unique in &table.uniques {
            create
                .sql
                .push(sql::create_index(&table.name, &unique_as_index(unique), ""));
        }
        for index in &table.indexes {
            create.sql.push(sql::create_index(&table.name, index, ""));
        }
        steps.push(create);
    }
    for table in dependency_order(extra.clone()).into_iter().rev() {
        let mut drop = step(
            5,
            drop_table(&table.name),
            create_table(table),
            format!("DROP TABLE {}", quote(&table.name)),
        );
        drop.warning = Some(format!("drops table {} and every row in it", table.name));
        steps.push(drop);
    }
    if !missing.is_empty() && !extra.is_empty() {
        todos.push(format!(
            "tables {} are new and {} are gone: if one is a rename, replace its drop and \
             create with `manager.rename_table(Table::rename().table(old, new).to_owned())`",
            missing
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            extra
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    for difference in differences {
        let first_step = steps.len();
        plan_difference(difference, differences, &mut steps, &mut todos);
        for step in &mut steps[first_step..] {
            step.table = difference.table_name().map(str::to_owned);
        }
    }
    let rebuilt = |step: &Step| {
        step.table
            .as_deref()
            .is_some_and(|t| rebuilds.iter().any(|r| r.table == t))
    };
    let mut uses_backend = false;
    for step in steps.iter_mut().filter(|s| rebuilt(s)) {
        // SQLite gets the table rebuild instead.
        step.up = only_off_sqlite(&step.up);
        step.down = only_off_sqlite(&step.down);
        uses_backend = true;
    }
    for rebuild in rebuilds {
        uses_backend = true;
        let (up, down) = match &rebuild.sqlite {
            Some((up, down)) => (up.code(&rebuild.table), down.code(&rebuild.table)),
            None => {
                todos.push(format!(
                    "table {}: SQLite cannot alter it in place; run `migrate autogenerate` \
                     against a SQLite database to write its rebuild",
                    rebuild.table
                ));
                let refuse = format!(
                    "        if manager.get_database_backend() == DatabaseBackend::Sqlite {{\n            return Err(DbErr::Migration({}.to_owned()));\n        }}\n",
                    lit(&format!(
                        "table {} needs a rebuild on SQLite, which this revision does not have",
                        rebuild.table
                    ))
                );
                (refuse.clone(), refuse)
            }
        };
        let mut step = step(2, up, down, String::new());
        step.sql.clear(); // PostgreSQL alters in place; nothing for lint.
        steps.push(step);
    }
    finish(steps, todos, uses_backend)
}

/// Wraps generated statements so they run on PostgreSQL only.
fn only_off_sqlite(code: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    let indented: String = code.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "        if manager.get_database_backend() != DatabaseBackend::Sqlite {{\n{indented}        }}\n"
    )
}

fn plan_difference(
    difference: &Difference,
    differences: &[Difference],
    steps: &mut Vec<Step>,
    todos: &mut Vec<String>,
) {
    match difference {
        Difference::MissingTable(_) | Difference::ExtraTable(_) => {}
        Difference::MissingColumn { table, column } => {
            if !column.nullable && column.default.is_none() {
                todos.push(format!(
                    "{table}.{} is NOT NULL without a default: adding it fails on a table \
                         with rows; give it a default or backfill first",
                    column.name
                ));
            }
            steps.push(step(
                2,
                alter(table, &format!(".add_column({})", column_def(column))),
                alter(table, &format!(".drop_column({})", lit(&column.name))),
                sql::alter(table, &format!("ADD COLUMN {}", sql::column(column))),
            ));
        }
        Difference::ExtraColumn { table, column } => {
            let mut drop = step(
                4,
                alter(table, &format!(".drop_column({})", lit(&column.name))),
                alter(table, &format!(".add_column({})", column_def(column))),
                sql::alter(table, &format!("DROP COLUMN {}", quote(&column.name))),
            );
            drop.warning = Some(format!("drops column {table}.{} and its data", column.name));
            steps.push(drop);
            let added: Vec<&str> = differences
                .iter()
                .filter_map(|d| match d {
                    Difference::MissingColumn {
                        table: t,
                        column: c,
                    } if t == table => Some(c.name.as_str()),
                    _ => None,
                })
                .collect();
            if !added.is_empty() {
                todos.push(format!(
                    "{table}.{} is gone and {} new: if it was renamed, replace the drop and \
                         add with `Table::alter().table(..).rename_column(old, new)`",
                    column.name,
                    added.join(", ")
                ));
            }
        }
        Difference::ColumnType { table, model, live } => {
            let retype = |c: &Column| {
                alter(
                    table,
                    &format!(
                        ".modify_column(ColumnDef::new({}){})",
                        lit(&c.name),
                        type_call(&c.data_type)
                    ),
                )
            };
            let mut change = step(
                2,
                retype(model),
                retype(live),
                sql::alter(
                    table,
                    &format!(
                        "ALTER COLUMN {} TYPE {}",
                        quote(&model.name),
                        model.data_type
                    ),
                ),
            );
            if difference.is_destructive() {
                change.warning = Some(format!(
                    "changes {table}.{} from {} to {}, which can lose data or fail",
                    model.name, live.data_type, model.data_type
                ));
            }
            steps.push(change);
        }
        Difference::Nullability { table, model, live } => {
            let set = |c: &Column| {
                alter(
                    table,
                    &format!(
                        ".modify_column(ColumnDef::new({}){})",
                        lit(&c.name),
                        if c.nullable { ".null()" } else { ".not_null()" }
                    ),
                )
            };
            steps.push(step(
                2,
                set(model),
                set(live),
                sql::alter(
                    table,
                    &format!(
                        "ALTER COLUMN {} {} NOT NULL",
                        quote(&model.name),
                        if model.nullable { "DROP" } else { "SET" }
                    ),
                ),
            ));
        }
        Difference::Default { table, model, live } => {
            let set = |c: &Column| match &c.default {
                Some(default) => alter(
                    table,
                    &format!(
                        ".modify_column(ColumnDef::new({}){})",
                        lit(&c.name),
                        default_call(default)
                    ),
                ),
                None => raw(&format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                    quote(table),
                    quote(&c.name)
                )),
            };
            steps.push(step(
                2,
                set(model),
                set(live),
                sql::alter(
                    table,
                    &format!("ALTER COLUMN {} SET DEFAULT", quote(&model.name)),
                ),
            ));
        }
        Difference::MissingCheck { table, check } => {
            // NOT VALID takes the lock for a moment only; VALIDATE then scans without
            // blocking writes.
            let add = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID",
                quote(table),
                quote(&check.name),
                check.definition
            );
            let validate = format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                quote(table),
                quote(&check.name)
            );
            let mut added = step(
                3,
                raw(&add) + &raw(&validate),
                alter(table, &format!(".drop_constraint({})", lit(&check.name))),
                add,
            );
            added.sql.push(validate);
            steps.push(added);
        }
        Difference::ExtraCheck { table, check } => steps.push(step(
            0,
            alter(table, &format!(".drop_constraint({})", lit(&check.name))),
            raw(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                quote(table),
                quote(&check.name),
                check.definition
            )),
            sql::alter(table, &format!("DROP CONSTRAINT {}", quote(&check.name))),
        )),
        // After the foreign keys that name the old key are dropped (phase 0), before the
        // new ones are made (phase 3). PostgreSQL names a table's key `<table>_pkey`.
        Difference::PrimaryKey { table, model, live } => {
            let swap = |columns: &[String]| {
                sql::alter(
                    table,
                    &format!(
                        "DROP CONSTRAINT {}, ADD CONSTRAINT {} PRIMARY KEY ({})",
                        quote(&format!("{table}_pkey")),
                        quote(&format!("{table}_pkey")),
                        columns
                            .iter()
                            .map(|c| quote(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            };
            steps.push(step(2, raw(&swap(model)), raw(&swap(live)), swap(model)))
        }
        // A unique key that a new foreign key references comes first (see
        // `referenced_by_a_new_key`); other indexes of existing tables go to a revision of
        // their own (`plan_indexes`).
        Difference::MissingUnique { table, unique }
            if referenced_by_a_new_key(differences, table, unique) =>
        {
            let index = unique_as_index(unique);
            steps.push(step(
                0,
                create_index(table, &index),
                drop_index(table, &unique.name),
                sql::create_index(table, &index, ""),
            ))
        }
        Difference::MissingUnique { .. }
        | Difference::MissingIndex { .. }
        | Difference::ExtraIndex { .. }
        | Difference::ChangedIndex { .. } => {}
        Difference::ExtraUnique { table, unique } if unique.is_constraint => steps.push(step(
            0,
            drop_unique(table, unique),
            create_unique(table, unique),
            sql::alter(table, &format!("DROP CONSTRAINT {}", quote(&unique.name))),
        )),
        Difference::ExtraUnique { .. } => {}
        Difference::MissingForeignKey { table, key } => steps.push(step(
            3,
            run(&format!(
                "create_foreign_key({}.to_owned())",
                foreign_key_builder(table, key)
            )),
            run(&format!(
                "drop_foreign_key(ForeignKey::drop().name({}).table({}).to_owned())",
                lit(&key.name),
                lit(table)
            )),
            sql::alter(
                table,
                &format!(
                    "ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}",
                    quote(&key.name),
                    key.columns.join(", "),
                    quote(&key.ref_table)
                ),
            ),
        )),
        Difference::ExtraForeignKey { table, key } => steps.push(step(
            0,
            run(&format!(
                "drop_foreign_key(ForeignKey::drop().name({}).table({}).to_owned())",
                lit(&key.name),
                lit(table)
            )),
            run(&format!(
                "create_foreign_key({}.to_owned())",
                foreign_key_builder(table, key)
            )),
            sql::alter(table, &format!("DROP CONSTRAINT {}", quote(&key.name))),
        )),
    }
}

fn finish(mut steps: Vec<Step>, todos: Vec<String>, uses_backend: bool) -> Revision {
    steps.sort_by_key(|s| s.phase); // stable: keeps table and column order within a phase
    let mut up = String::new();
    let mut warnings = Vec::new();
    for step in &steps {
        if let Some(warning) = &step.warning {
            writeln!(up, "        // DESTRUCTIVE: {warning}").ok();
            warnings.push(warning.clone());
        }
        up.push_str(&step.up);
    }
    let down: String = steps.iter().rev().map(|s| s.down.as_str()).collect();
    let uses_raw_sql = up.contains("execute_unprepared") || down.contains("execute_unprepared");
    Revision {
        up,
        down,
        todos,
        warnings,
        uses_raw_sql,
        uses_backend,
        outside_transaction: false,
        postgres_sql: steps.into_iter().flat_map(|s| s.sql).collect(),
        lint: Vec::new(),
    }
}

/// A table SQLite cannot alter in place for some difference: it is rebuilt (created anew
/// under another name, its rows copied, the old one dropped and the new one renamed, its
/// indexes and triggers created again), as Alembic's batch mode does. `sqlite` holds the
/// two directions; `None` when the database compared was not SQLite, which leaves the
/// rebuild to a person.
pub struct Rebuild {
    table: String,
    sqlite: Option<(RebuildSql, RebuildSql)>,
}

/// One direction of a rebuild: the new table's `CREATE TABLE` (under `_new_<table>`), the
/// columns whose values are copied, and what is created after the rename.
struct RebuildSql {
    create: String,
    columns: Vec<String>,
    after: Vec<String>,
}

impl RebuildSql {
    fn code(&self, table: &str) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|i| format!("                    {},\n", lit(i)))
                .collect::<String>()
        };
        format!(
            "        if manager.get_database_backend() == DatabaseBackend::Sqlite {{\n            crate::schema_util::rebuild_sqlite_table(\n                manager,\n                {},\n                {},\n                &[\n{}                ],\n                &[\n{}                ],\n            )\n            .await?;\n        }}\n",
            lit(table),
            lit(&self.create),
            list(&self.columns),
            list(&self.after),
        )
    }
}

/// Whether SQLite can make the change with `ALTER TABLE` (adding a column it can fill,
/// and everything about whole tables and indexes); anything else takes a rebuild.
fn sqlite_alters_in_place(difference: &Difference) -> bool {
    match difference {
        Difference::MissingColumn { column, .. } => {
            // ADD COLUMN takes no NOT NULL without a default and no default that is not
            // a constant.
            let constant = column
                .default
                .as_deref()
                .is_none_or(|d| !d.contains('(') && !d.to_lowercase().contains("current_"));
            constant && (column.nullable || column.default.is_some())
        }
        Difference::MissingTable(_)
        | Difference::ExtraTable(_)
        | Difference::MissingIndex { .. }
        | Difference::ExtraIndex { .. }
        | Difference::ChangedIndex { .. }
        | Difference::MissingUnique { .. } => true,
        Difference::ExtraUnique { unique, .. } => !unique.is_constraint,
        _ => false,
    }
}

/// The tables to rebuild on SQLite, with both directions when `live` was read from SQLite.
pub fn sqlite_rebuilds(
    differences: &[Difference],
    model: &Catalog,
    live: &Catalog,
) -> Vec<Rebuild> {
    // Read from PostgreSQL, a dropped column stays `ALTER TABLE .. DROP COLUMN` on SQLite
    // too (3.35 and later take it), as it was before rebuilds: only what SQLite cannot
    // do at all waits for a rebuild written against SQLite.
    let live_is_sqlite = live.tables.values().any(|t| t.sqlite.is_some());
    let in_place = |d: &Difference| {
        sqlite_alters_in_place(d)
            || (!live_is_sqlite && matches!(d, Difference::ExtraColumn { .. }))
    };
    let mut tables: Vec<&str> = differences
        .iter()
        .filter(|d| !in_place(d))
        .filter_map(Difference::table_name)
        .collect();
    let mut seen = BTreeSet::new();
    tables.retain(|t| seen.insert(*t));
    tables
        .into_iter()
        .map(|table| Rebuild {
            table: table.to_owned(),
            sqlite: model
                .tables
                .get(table)
                .zip(live.tables.get(table))
                .and_then(|(model, live)| rebuild_sql(model, live)),
        })
        .collect()
}

fn rebuild_sql(model: &Table, live: &Table) -> Option<(RebuildSql, RebuildSql)> {
    let source = live.sqlite.as_ref()?;
    let new_name = format!("_new_{}", live.name);
    let columns: Vec<String> = model
        .columns
        .iter()
        .filter(|c| live.column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    // Unique constraints the entities keep stay in the table; unique indexes and the
    // other indexes are created again if their columns are all still there.
    let kept_uniques: Vec<&Unique> = live
        .uniques
        .iter()
        .filter(|u| u.is_constraint)
        .filter(|u| {
            model
                .uniques
                .iter()
                .any(|m| m.sorted_columns() == u.sorted_columns())
        })
        .collect();
    let index_columns = |name: &str| -> Vec<String> {
        live.indexes
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.keys.clone())
            .or_else(|| {
                live.uniques
                    .iter()
                    .find(|u| u.name == name)
                    .map(|u| u.columns.clone())
            })
            .unwrap_or_default()
    };
    let survives = |name: &str| {
        index_columns(name)
            .iter()
            .all(|c| model.column(c).is_some())
    };
    let mut after_up: Vec<String> = source
        .indexes
        .iter()
        .filter(|(name, _)| survives(name))
        .map(|(_, sql)| sql.clone())
        .collect();
    after_up.extend(source.triggers.iter().cloned());
    let mut after_down: Vec<String> = source.indexes.iter().map(|(_, sql)| sql.clone()).collect();
    after_down.extend(source.triggers.iter().cloned());
    // Where the types agree (a `varchar` of the entities and a `varchar(64)`), the live
    // spelling stays.
    let mut shape = model.clone();
    for column in &mut shape.columns {
        if let Some(found) = live.column(&column.name)
            && super::diff::same_type(&column.data_type, &found.data_type)
        {
            column.data_type = found.data_type.clone();
        }
    }
    let up = RebuildSql {
        create: super::sqlite::create_table_sql(&new_name, &shape, &kept_uniques),
        columns: columns.clone(),
        after: after_up,
    };
    let down = RebuildSql {
        create: super::sqlite::renamed_create(&source.create, &new_name)?,
        columns,
        after: after_down,
    };
    Some((up, down))
}

/// `mYYYYMMDD_HHMMSS_name`, as sea-orm-cli names revisions (UTC).
pub fn revision_name(name: &str) -> Result<String, WorkflowError> {
    let name = name.trim().replace(' ', "_");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(WorkflowError::new(format!(
            "`{name}` cannot name a revision: use letters, digits and underscores"
        )));
    }
    Ok(format!(
        "m{}_{name}",
        chrono::Utc::now().format("%Y%m%d_%H%M%S")
    ))
}

pub fn file_text(revision_name: &str, revision: &Revision) -> String {
    let mut text = String::new();
    let empty = revision.up.is_empty() && revision.down.is_empty() && revision.todos.is_empty();
    writeln!(
        text,
        "{}",
        if empty {
            // `migrate generate`, or `autogenerate` with nothing to do.
            "//! Written by `migrate generate`: fill in `up`, and a `down` that undoes it."
        } else {
            "//! Written by `migrate autogenerate` from the difference between the entities and the\n\
             //! database. Review it before applying: it is a starting point, not a verdict."
        }
    )
    .ok();
    for todo in &revision.todos {
        writeln!(text, "// TODO: {todo}").ok();
    }
    for warning in &revision.warnings {
        writeln!(text, "// DESTRUCTIVE: {warning}").ok();
    }
    for finding in &revision.lint {
        writeln!(text, "// lint: {finding}").ok();
    }
    text.push_str("use sea_orm_migration::prelude::*;\n");
    match (revision.uses_raw_sql, revision.uses_backend) {
        (true, true) => {
            text.push_str("use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};\n")
        }
        (true, false) => text.push_str("use sea_orm_migration::sea_orm::ConnectionTrait;\n"),
        (false, true) => text.push_str("use sea_orm_migration::sea_orm::DatabaseBackend;\n"),
        (false, false) => {}
    }
    write!(
        text,
        r#"
pub struct Migration;

impl MigrationName for Migration {{
    fn name(&self) -> &str {{
        "{revision_name}"
    }}
}}

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
{}        Ok(())
    }}

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
{}        Ok(())
    }}
{}}}
"#,
        revision.up,
        revision.down,
        if revision.outside_transaction {
            "\n    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.\n    fn use_transaction(&self) -> Option<bool> {\n        Some(false)\n    }\n"
        } else {
            ""
        }
    )
    .ok();
    text
}

/// The crate's `src`, where revisions live: `dir` when given, else this crate's source
/// directory as it was when the binary was built (a checkout).
pub fn source_dir(dir: Option<&Path>) -> Result<PathBuf, WorkflowError> {
    let base = match dir {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    };
    let src = if base.join("src").is_dir() {
        base.join("src")
    } else {
        base
    };
    if !src.join("lib.rs").is_file() {
        return Err(WorkflowError::new(format!(
            "no migration crate at {}: run this from a checkout or pass --dir",
            src.display()
        )));
    }
    Ok(src)
}

/// Writes `src/<name>.rs`, then adds `mod <name>;` and `Box::new(<name>::Migration),` to
/// `lib.rs` after the last revision, as sea-orm-cli does.
pub fn write(src: &Path, revision_name: &str, text: &str) -> Result<PathBuf, WorkflowError> {
    let lib_path = src.join("lib.rs");
    let lib = std::fs::read_to_string(&lib_path)?;
    let registered = register(&lib, revision_name).ok_or_else(|| {
        WorkflowError::new(format!(
            "cannot find where to register the revision in {}",
            lib_path.display()
        ))
    })?;
    let file = src.join(format!("{revision_name}.rs"));
    std::fs::write(&file, text)?;
    std::fs::write(&lib_path, registered)?;
    // Leave the tree as `cargo fmt --check` wants it; without rustfmt the code still builds.
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(&file)
        .status();
    Ok(file)
}

fn is_revision_module(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("mod m") && line.ends_with(';')
}

fn register(lib: &str, revision_name: &str) -> Option<String> {
    let lines: Vec<&str> = lib.lines().collect();
    let last_mod = lines.iter().rposition(|l| is_revision_module(l))?;
    let last_box = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("Box::new(m"))?;
    let indent: String = lines[last_box]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let mut out = Vec::with_capacity(lines.len() + 2);
    for (i, line) in lines.iter().enumerate() {
        out.push(line.to_string());
        if i == last_mod {
            out.push(format!("mod {revision_name};"));
        }
        if i == last_box {
            out.push(format!("{indent}Box::new({revision_name}::Migration),"));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::super::catalog::SqliteSource;
    use super::*;

    #[test]
    fn registration_follows_the_last_revision() {
        let lib = "mod m20260101_000001_a;\nmod util;\n\nfn migrations() {\n    vec![\n        Box::new(m20260101_000001_a::Migration),\n    ]\n}\n";
        let out = register(lib, "m20260102_000000_b").expect("registers");
        assert!(out.contains("mod m20260101_000001_a;\nmod m20260102_000000_b;\nmod util;"));
        assert!(out.contains(
            "        Box::new(m20260101_000001_a::Migration),\n        Box::new(m20260102_000000_b::Migration),\n"
        ));
    }

    #[test]
    fn generate_writes_an_empty_revision() {
        let text = file_text("m20260102_000000_b", &plan(&[], &[]));
        assert!(
            text.starts_with("//! Written by `migrate generate`"),
            "{text}"
        );
        assert!(text.contains("\"m20260102_000000_b\""), "{text}");
        assert!(
            text.contains(
                "async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {\n        Ok(())"
            ),
            "{text}"
        );
        assert!(!text.contains("use_transaction"), "{text}");
    }

    #[test]
    fn sqlite_rebuilds_only_what_alter_table_cannot_do() {
        let column = |nullable: bool, default: Option<&str>| Column {
            name: "c".into(),
            data_type: "integer".into(),
            nullable,
            default: default.map(str::to_owned),
        };
        let missing = |c| Difference::MissingColumn {
            table: "t".into(),
            column: c,
        };
        assert!(sqlite_alters_in_place(&missing(column(true, None))));
        assert!(sqlite_alters_in_place(&missing(column(false, Some("0")))));
        assert!(!sqlite_alters_in_place(&missing(column(false, None))));
        assert!(!sqlite_alters_in_place(&missing(column(
            true,
            Some("current_timestamp")
        ))));
        assert!(!sqlite_alters_in_place(&Difference::ExtraColumn {
            table: "t".into(),
            column: column(true, None),
        }));
    }

    #[test]
    fn rebuilds_carry_sql_only_when_the_live_schema_is_sqlite() {
        let column = Column {
            name: "c".into(),
            data_type: "integer".into(),
            nullable: true,
            default: None,
        };
        let table = |sqlite: Option<SqliteSource>| Table {
            name: "t".into(),
            columns: vec![column.clone()],
            sqlite,
            ..Table::default()
        };
        let catalog = |t: Table| Catalog {
            tables: [("t".to_owned(), t)].into_iter().collect(),
        };
        let mut model = table(None);
        model.columns[0].nullable = false;
        let differences = [
            Difference::Nullability {
                table: "t".into(),
                model: model.columns[0].clone(),
                live: column.clone(),
            },
            Difference::ExtraColumn {
                table: "u".into(),
                column: column.clone(),
            },
        ];
        let source = SqliteSource {
            create: "CREATE TABLE \"t\" (\"c\" integer)".into(),
            ..SqliteSource::default()
        };
        let from_sqlite = sqlite_rebuilds(
            &differences,
            &catalog(model.clone()),
            &catalog(table(Some(source))),
        );
        let tables: Vec<&str> = from_sqlite.iter().map(|r| r.table.as_str()).collect();
        assert_eq!(tables, ["t", "u"]);
        let (up, down) = from_sqlite[0].sqlite.as_ref().expect("both directions");
        assert_eq!(
            up.create,
            "CREATE TABLE \"_new_t\" ( \"c\" integer NOT NULL )"
        );
        assert_eq!(down.create, "CREATE TABLE \"_new_t\" (\"c\" integer)");
        assert_eq!(up.columns, ["c"]);
        // `u` is not in the catalogs: a rebuild without SQL, left to a person.
        assert!(from_sqlite[1].sqlite.is_none());

        let from_postgres = sqlite_rebuilds(&differences, &catalog(model), &catalog(table(None)));
        let tables: Vec<&str> = from_postgres.iter().map(|r| r.table.as_str()).collect();
        assert_eq!(tables, ["t"], "a dropped column stays in place");
        assert!(from_postgres[0].sqlite.is_none());
    }

    #[test]
    fn revision_names_refuse_what_cannot_be_a_module() {
        assert!(revision_name("add-rank").is_err());
        let name = revision_name("add lore rank").expect("valid");
        assert!(name.starts_with('m') && name.ends_with("_add_lore_rank"));
    }

    #[test]
    fn types_map_to_schema_builder_calls() {
        assert_eq!(type_call("character varying(64)"), ".string_len(64)");
        assert_eq!(type_call("jsonb"), ".json_binary()");
        assert_eq!(type_call("numeric(10,2)"), ".decimal_len(10,2)");
        assert_eq!(type_call("tsvector"), ".custom(\"tsvector\")");
        assert_eq!(
            default_call("'{}'::jsonb"),
            ".default(Expr::cust(\"'{}'::jsonb\"))"
        );
        assert_eq!(default_call("1"), ".default(1)");
    }
}
