//! `check` and `autogenerate` on SQLite: the live schema read from `sqlite_master` and the
//! table pragmas into the same plain values as PostgreSQL's catalog, and the entities'
//! schema built in a private in-memory database and read the same way. CHECK constraints,
//! index predicates and defaults are compared as normalized text (SQLite keeps them as
//! written, it prints no canonical form).
use std::collections::BTreeMap;

use entity::schema::{
    DECLARED_CHECKS, DECLARED_COLUMNS, DECLARED_INDEXES, SERVER_DEFAULTS, model_tables,
};
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DbBackend, QueryResult, Statement,
};

use super::WorkflowError;
use super::catalog::{
    BOOKKEEPING, Catalog, Check, Column, ForeignKey, Index, SqliteSource, Table, Unique,
};
use super::model::{add_declared_column, quote};

/// Tables whose SQLite form differs from the entities by design, compared on PostgreSQL
/// only: `element_search` holds the texts an FTS5 table indexes as external content
/// (revision `m20261130_160001_create_element_search`), where PostgreSQL keeps a
/// `tsvector`.
pub const SQLITE_OWN_SHAPE: &[&str] = &["element_search"];

/// A token of SQL text: a word (an identifier or keyword, unquoted), a string literal, or
/// one other character; with where it starts and ends in the text.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str,
    Punct(char),
}

fn tokens(sql: &str) -> Vec<(Token, usize, usize)> {
    let mut out = Vec::new();
    let bytes: Vec<(usize, char)> = sql.char_indices().collect();
    let end_of = |i: usize| bytes.get(i).map_or(sql.len(), |(at, _)| *at);
    let mut i = 0;
    while i < bytes.len() {
        let (start, c) = bytes[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let mut j = i + 1;
            let mut text = String::new();
            while j < bytes.len() {
                if bytes[j].1 == close {
                    if close != ']' && bytes.get(j + 1).is_some_and(|(_, n)| *n == close) {
                        text.push(close);
                        j += 2;
                        continue;
                    }
                    break;
                }
                text.push(bytes[j].1);
                j += 1;
            }
            let token = if c == '\'' {
                Token::Str
            } else {
                Token::Word(text)
            };
            out.push((token, start, end_of(j + 1)));
            i = j + 1;
        } else if c.is_alphanumeric() || c == '_' {
            let mut j = i;
            while j < bytes.len() && (bytes[j].1.is_alphanumeric() || bytes[j].1 == '_') {
                j += 1;
            }
            out.push((
                Token::Word(sql[start..end_of(j)].to_owned()),
                start,
                end_of(j),
            ));
            i = j;
        } else {
            out.push((Token::Punct(c), start, end_of(i + 1)));
            i += 1;
        }
    }
    out
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.eq_ignore_ascii_case(word))
}

/// SQL text in one spelling for comparing: keywords and identifiers in lower case and
/// unquoted, string literals kept, spaces only between words, outer parentheses gone.
pub fn normalize(sql: &str) -> String {
    let mut out = String::new();
    let mut previous_was_word = false;
    for (token, start, end) in tokens(sql) {
        match token {
            Token::Word(word) => {
                if previous_was_word {
                    out.push(' ');
                }
                out.push_str(&word.to_lowercase());
                previous_was_word = true;
            }
            Token::Str => {
                if previous_was_word {
                    out.push(' ');
                }
                out.push_str(&sql[start..end]);
                previous_was_word = true;
            }
            Token::Punct(c) => {
                // Operators read apart from words; commas and parentheses do not.
                if !matches!(c, '(' | ')' | ',' | '.') {
                    if !out.ends_with(' ') && !out.is_empty() {
                        out.push(' ');
                    }
                    out.push(c);
                    out.push(' ');
                    previous_was_word = false;
                } else {
                    if c == ',' {
                        out.push_str(", ");
                    } else {
                        if out.ends_with(' ') && c != '(' {
                            out.pop();
                        }
                        out.push(c);
                    }
                    previous_was_word = false;
                }
            }
        }
    }
    let mut text = out.replace("  ", " ").replace("( ", "(").trim().to_owned();
    while let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        if !balanced(inner) {
            break;
        }
        text = inner.trim().to_owned();
    }
    text
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for (token, _, _) in tokens(text) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// A default as both sides can agree on it: normalized, without PostgreSQL's casts
/// (`'{}'::jsonb` is `'{}'` on SQLite).
pub fn normalize_default(sql: &str) -> String {
    let text = normalize(sql);
    let mut cut = text.len();
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        if c == '\'' {
            in_string = !in_string;
        } else if !in_string && text[i..].starts_with(" : :") {
            cut = i;
            break;
        }
    }
    text[..cut].trim().to_owned()
}

/// The CHECK constraints in a `CREATE TABLE`, each with its name (or one made up from
/// the table's) and its expression as written.
fn checks_of(table: &str, create: &str) -> Vec<(String, String)> {
    let list = tokens(create);
    let mut found = Vec::new();
    for (i, (token, _, _)) in list.iter().enumerate() {
        if !is_word(token, "check") || !matches!(list.get(i + 1), Some((Token::Punct('('), _, _))) {
            continue;
        }
        let open_end = list[i + 1].2;
        let mut depth = 0;
        let mut close_start = None;
        for (token, start, _) in &list[i + 1..] {
            match token {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        close_start = Some(*start);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close_start else { continue };
        let name = match (
            i.checked_sub(2).map(|j| &list[j].0),
            list.get(i.wrapping_sub(1)),
        ) {
            (Some(t), Some((Token::Word(name), _, _))) if is_word(t, "constraint") => name.clone(),
            _ => format!("{table}_check{}", found.len() + 1),
        };
        found.push((name, create[open_end..close].trim().to_owned()));
    }
    found
}

/// How a CHECK reads in `check`'s report and compares: `CHECK (<normalized>)`.
pub fn check(name: &str, expression: &str) -> Check {
    Check {
        name: name.to_owned(),
        definition: format!("CHECK ({})", normalize(expression)),
        expression: expression.to_owned(),
    }
}

/// The text after a top-level `WHERE` of a `CREATE INDEX`.
fn predicate_of(create_index: &str) -> Option<String> {
    let mut depth = 0;
    for (token, _, end) in tokens(create_index) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            ref t if depth == 0 && is_word(t, "where") => {
                return Some(normalize(&create_index[end..]));
            }
            _ => {}
        }
    }
    None
}

fn text(row: &QueryResult, column: &str) -> Result<String, WorkflowError> {
    Ok(row.try_get::<String>("", column)?)
}

async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm_migration::sea_orm::Value>,
) -> Result<Vec<QueryResult>, WorkflowError> {
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?)
}

/// Reads every table but the bookkeeping ones, virtual tables (FTS5) and their shadow
/// tables, and `SQLITE_OWN_SHAPE`.
pub async fn introspect(db: &impl ConnectionTrait) -> Result<Catalog, WorkflowError> {
    let mut catalog = Catalog::default();
    let listed = rows(
        db,
        "SELECT l.name AS name, l.type AS kind, coalesce(m.sql, '') AS sql \
         FROM pragma_table_list AS l JOIN sqlite_master AS m ON m.name = l.name \
         WHERE l.schema = 'main' AND m.type = 'table' ORDER BY l.name",
        Vec::new(),
    )
    .await?;
    for row in listed {
        let name = text(&row, "name")?;
        if text(&row, "kind")? != "table"
            || name.starts_with("sqlite_")
            || BOOKKEEPING.contains(&name.as_str())
            || SQLITE_OWN_SHAPE.contains(&name.as_str())
        {
            continue;
        }
        let create = text(&row, "sql")?;
        let table = read_table(db, &name, &create).await?;
        catalog.tables.insert(name, table);
    }
    Ok(catalog)
}

async fn read_table(
    db: &impl ConnectionTrait,
    name: &str,
    create: &str,
) -> Result<Table, WorkflowError> {
    let mut table = Table {
        name: name.to_owned(),
        ..Table::default()
    };
    let mut primary_key = Vec::new();
    for row in rows(
        db,
        "SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info(?) \
         ORDER BY cid",
        vec![name.into()],
    )
    .await?
    {
        let column = text(&row, "name")?;
        let pk: i64 = row.try_get("", "pk")?;
        if pk > 0 {
            primary_key.push((pk, column.clone()));
        }
        table.columns.push(Column {
            name: column,
            data_type: text(&row, "type")?.to_lowercase(),
            nullable: row.try_get::<i64>("", "not_null")? == 0,
            default: row
                .try_get::<Option<String>>("", "dflt_value")?
                .map(|d| normalize_default(&d)),
        });
    }
    primary_key.sort();
    table.primary_key = primary_key.into_iter().map(|(_, c)| c).collect();

    let mut keys: BTreeMap<i64, ForeignKey> = BTreeMap::new();
    for row in rows(
        db,
        "SELECT id, \"table\" AS ref_table, \"from\" AS from_column, \
                coalesce(\"to\", '') AS to_column, on_update, on_delete \
         FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        vec![name.into()],
    )
    .await?
    {
        let id: i64 = row.try_get("", "id")?;
        let key = keys.entry(id).or_insert_with(|| ForeignKey {
            name: String::new(),
            columns: Vec::new(),
            ref_table: String::new(),
            ref_columns: Vec::new(),
            on_delete: String::new(),
            on_update: String::new(),
        });
        key.columns.push(text(&row, "from_column")?);
        key.ref_columns.push(text(&row, "to_column")?);
        key.ref_table = text(&row, "ref_table")?;
        key.on_delete = text(&row, "on_delete")?.to_uppercase();
        key.on_update = text(&row, "on_update")?.to_uppercase();
    }
    for mut key in keys.into_values() {
        // SQLite keeps no name a statement could use; PostgreSQL's default reads well.
        key.name = format!("{name}_{}_fkey", key.columns.join("_"));
        table.foreign_keys.push(key);
    }

    table.checks = checks_of(name, create)
        .into_iter()
        .map(|(check_name, expression)| check(&check_name, &expression))
        .collect();

    let mut index_sql = Vec::new();
    for row in rows(
        db,
        "SELECT l.name AS name, l.\"unique\" AS is_unique, l.origin AS origin, \
                coalesce(m.sql, '') AS sql \
         FROM pragma_index_list(?) AS l LEFT JOIN sqlite_master AS m \
           ON m.type = 'index' AND m.name = l.name ORDER BY l.name",
        vec![name.into()],
    )
    .await?
    {
        let index_name = text(&row, "name")?;
        let origin = text(&row, "origin")?;
        if origin == "pk" {
            continue;
        }
        let columns: Vec<String> = rows(
            db,
            "SELECT coalesce(name, '') AS name FROM pragma_index_info(?) ORDER BY seqno",
            vec![index_name.clone().into()],
        )
        .await?
        .iter()
        .map(|r| text(r, "name"))
        .collect::<Result<_, _>>()?;
        let sql = text(&row, "sql")?;
        let predicate = predicate_of(&sql);
        let unique = row.try_get::<i64>("", "is_unique")? != 0;
        if !sql.is_empty() {
            index_sql.push((index_name.clone(), sql.clone()));
        }
        let index = Index {
            name: index_name,
            unique,
            method: "btree".into(),
            keys: columns,
            predicate,
            options: None,
        };
        if unique && index.is_plain() {
            table.uniques.push(Unique {
                name: index.name,
                columns: index.keys,
                is_constraint: origin == "u",
            });
        } else {
            table.indexes.push(index);
        }
    }
    let triggers = rows(
        db,
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
        vec![name.into()],
    )
    .await?
    .iter()
    .map(|r| text(r, "sql"))
    .collect::<Result<_, _>>()?;
    table.sqlite = Some(SqliteSource {
        create: create.to_owned(),
        indexes: index_sql,
        triggers,
    });
    Ok(table)
}

/// `CREATE INDEX` for a declared B-tree index, as SQLite takes it.
fn declared_index_sql(index: &entity::schema::DeclaredIndex) -> String {
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote(index.name),
        quote(index.table),
        index.keys.join(", ")
    );
    if let Some(predicate) = index.predicate {
        sql.push_str(&format!(" WHERE {predicate}"));
    }
    sql
}

/// The entities' schema on SQLite. Declared indexes with another access method (GIN)
/// are PostgreSQL's only, and so are declared columns of `SQLITE_OWN_SHAPE` tables.
pub async fn entities_catalog() -> Result<Catalog, WorkflowError> {
    let mut options = ConnectOptions::new("sqlite::memory:");
    // One connection: each in-memory database belongs to the connection that opened it.
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let scratch = Database::connect(options).await?;
    let built = async {
        for table in model_tables(DbBackend::Sqlite) {
            scratch.execute(&table.create).await?;
            for index in &table.indexes {
                scratch.execute(index).await?;
            }
        }
        for column in DECLARED_COLUMNS {
            if SQLITE_OWN_SHAPE.contains(&column.table) {
                continue;
            }
            add_declared_column(&scratch, column).await?;
        }
        for index in DECLARED_INDEXES {
            if index.method != "btree" || SQLITE_OWN_SHAPE.contains(&index.table) {
                continue;
            }
            scratch
                .execute_unprepared(&declared_index_sql(index))
                .await
                .map_err(|e| {
                    WorkflowError::from(e).context(&format!("declared index {}", index.name))
                })?;
        }
        let mut catalog = introspect(&scratch).await?;
        // SQLite cannot add a default or a CHECK to a table it has: both go into the
        // values the live ones are compared with.
        for default in SERVER_DEFAULTS {
            if let Some(column) = catalog
                .tables
                .get_mut(default.table)
                .and_then(|t| t.columns.iter_mut().find(|c| c.name == default.column))
            {
                column.default = Some(normalize_default(default.sql));
            }
        }
        for declared in DECLARED_CHECKS {
            if let Some(table) = catalog.tables.get_mut(declared.table) {
                table.checks.push(check(declared.name, declared.expression));
            }
        }
        for table in catalog.tables.values_mut() {
            // The entities' own `CREATE TABLE`, which a rebuild never copies.
            table.sqlite = None;
        }
        Ok::<_, WorkflowError>(catalog)
    }
    .await;
    let _ = scratch.close().await;
    built.map_err(|e| e.context("building the entities' schema on SQLite"))
}

/// A table's `CREATE TABLE` under another name, for a rebuild: `table` as `check` sees
/// it, with a `UNIQUE` for each of `uniques`.
pub fn create_table_sql(as_name: &str, table: &Table, uniques: &[&Unique]) -> String {
    let mut parts: Vec<String> = table
        .columns
        .iter()
        .map(|column| {
            let mut text = format!("{} {}", quote(&column.name), column.data_type);
            if !column.nullable {
                text.push_str(" NOT NULL");
            }
            if let Some(default) = &column.default {
                // Parenthesized, as SQLite wants an expression default.
                text.push_str(&format!(" DEFAULT ({default})"));
            }
            text
        })
        .collect();
    let list = |columns: &[String]| {
        columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !table.primary_key.is_empty() {
        parts.push(format!("PRIMARY KEY ({})", list(&table.primary_key)));
    }
    for unique in uniques {
        parts.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            quote(&unique.name),
            list(&unique.columns)
        ));
    }
    for check in &table.checks {
        parts.push(format!(
            "CONSTRAINT {} CHECK ({})",
            quote(&check.name),
            check.expression
        ));
    }
    for key in &table.foreign_keys {
        parts.push(format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
            list(&key.columns),
            quote(&key.ref_table),
            list(&key.ref_columns),
            key.on_delete,
            key.on_update
        ));
    }
    format!("CREATE TABLE {} ( {} )", quote(as_name), parts.join(", "))
}

/// A live `CREATE TABLE` with the table's name replaced by `as_name`.
pub fn renamed_create(create: &str, as_name: &str) -> Option<String> {
    let open = create.find('(')?;
    Some(format!(
        "CREATE TABLE {} {}",
        quote(as_name),
        &create[open..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_found_with_their_names() {
        let create = "CREATE TABLE \"t\" ( \"a\" integer CHECK (a > 0), \"b\" text, \
                      CONSTRAINT \"b_present\" CHECK (length(\"b\") > (0)) )";
        assert_eq!(
            checks_of("t", create),
            vec![
                ("t_check1".to_owned(), "a > 0".to_owned()),
                ("b_present".to_owned(), "length(\"b\") > (0)".to_owned()),
            ]
        );
        assert_eq!(
            check("x", "length(\"b\") > (0)").definition,
            "CHECK (length(b) > (0))"
        );
        assert_eq!(
            check("x", "(LENGTH(b)>(0))").definition,
            check("x", "length( b ) > (0)").definition
        );
    }

    #[test]
    fn defaults_compare_without_casts_or_parentheses() {
        assert_eq!(normalize_default("('{}')"), "'{}'");
        assert_eq!(normalize_default("'{}'::jsonb"), "'{}'");
        assert_eq!(normalize_default("CURRENT_TIMESTAMP"), "current_timestamp");
        assert_eq!(normalize_default("'private'"), "'private'");
        assert_eq!(normalize_default("1"), "1");
    }

    #[test]
    fn index_predicates_are_read_after_the_column_list() {
        assert_eq!(
            predicate_of("CREATE UNIQUE INDEX i ON t (a, b) WHERE status = 'pending'"),
            Some("status = 'pending'".to_owned())
        );
        assert_eq!(predicate_of("CREATE INDEX i ON t (a)"), None);
    }
}
