//! A revision's SQL without a database: its `up` or `down` runs against SeaORM's recording
//! connection, which keeps each statement instead of sending it. Revisions must therefore
//! not read the database to decide what to do (Alembic's `--sql` mode asks the same).
use sea_orm::{DbBackend, MockDatabase, MockExecResult, MockRow};
use sea_orm_migration::{MigrationTrait, SchemaManager};

use super::WorkflowError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Statements a revision runs, in order, for `backend`, without the trailing `;`.
pub async fn statements(
    revision: &dyn MigrationTrait,
    backend: DbBackend,
    direction: Direction,
) -> Result<Vec<String>, WorkflowError> {
    // Every statement takes one result; no revision comes near this many.
    let results = std::iter::repeat_with(|| MockExecResult {
        last_insert_id: 0,
        rows_affected: 0,
    })
    .take(4096);
    // A revision may read what it wrote to check it (a SQLite table rebuild asks
    // `PRAGMA foreign_key_check`): each such query finds nothing.
    let rows = std::iter::repeat_with(Vec::<MockRow>::new).take(4096);
    let recorder = MockDatabase::new(backend)
        .append_exec_results(results)
        .append_query_results(rows)
        .into_connection();
    {
        let manager = SchemaManager::new(&recorder);
        let ran = match direction {
            Direction::Up => revision.up(&manager).await,
            Direction::Down => revision.down(&manager).await,
        };
        ran.map_err(|e| {
            WorkflowError::new(format!(
                "revision {} cannot be rendered without a database: {e}",
                revision.name()
            ))
        })?;
    }
    Ok(recorder
        .into_transaction_log()
        .iter()
        .flat_map(|transaction| transaction.statements())
        .map(|statement| statement.to_string())
        .collect())
}

/// The statements of an SQL script, each without its `;`, split where `psql` would split
/// them: at a `;` outside quotes, dollar quotes and comments. Comments between statements
/// are dropped. For running `sql`'s output one statement at a time, as `psql -f` does
/// (a revision outside a transaction cannot be sent as one multi-statement query, which
/// PostgreSQL runs in one implicit transaction).
pub fn split_script(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut rest = script;
    while let Some(c) = rest.chars().next() {
        let taken = if rest.starts_with("--") {
            // To the end of the line; not part of any statement.
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            rest = &rest[end..];
            current.push('\n');
            continue;
        } else if rest.starts_with("/*") {
            let end = rest[2..].find("*/").map_or(rest.len(), |i| i + 4);
            rest = &rest[end..];
            current.push(' ');
            continue;
        } else if c == '\'' || c == '"' {
            quoted(rest, c)
        } else if c == '$' && !current.ends_with(|p: char| p.is_alphanumeric() || p == '_') {
            dollar_quoted(rest).unwrap_or(1)
        } else if c == ';' {
            let statement = current.trim();
            if !statement.is_empty() {
                statements.push(statement.to_owned());
            }
            current.clear();
            rest = &rest[1..];
            continue;
        } else {
            c.len_utf8()
        };
        current.push_str(&rest[..taken]);
        rest = &rest[taken..];
    }
    let last = current.trim();
    if !last.is_empty() {
        statements.push(last.to_owned());
    }
    statements
}

/// The length of a `'...'` or `"..."` token at the start of `text` (a doubled quote
/// stays inside); to the end when it is not closed.
fn quoted(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
            } else {
                return i + 1;
            }
        }
    }
    text.len()
}

/// The length of a `$tag$ ... $tag$` string at the start of `text`, if it is one.
fn dollar_quoted(text: &str) -> Option<usize> {
    let close = text[1..].find('$')? + 1;
    let tag = &text[..=close];
    if !tag[1..close]
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let body = &text[tag.len()..];
    Some(tag.len() + body.find(tag).map_or(body.len(), |i| i + tag.len()))
}

#[cfg(test)]
mod tests {
    use super::split_script;

    #[test]
    fn scripts_split_at_semicolons_outside_quotes_and_comments() {
        let script = "-- header; not a statement\nBEGIN;\n\
            CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$;\n\
            INSERT INTO t VALUES ('it''s; fine', \"odd;name\"); /* a; comment */\n\
            CREATE FUNCTION g() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql;\n\
            SELECT $1;\nCOMMIT;\n";
        assert_eq!(
            split_script(script),
            vec![
                "BEGIN",
                "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a;b' $$",
                "INSERT INTO t VALUES ('it''s; fine', \"odd;name\")",
                "CREATE FUNCTION g() RETURNS int AS $body$ BEGIN RETURN 1; END $body$ LANGUAGE plpgsql",
                "SELECT $1",
                "COMMIT",
            ]
        );
    }
}
