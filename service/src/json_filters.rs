//! The few queries that differ between PostgreSQL and SQLite: JSON containment on
//! `attributes` and tag filters. PostgreSQL uses `@>` (served by the GIN indexes);
//! SQLite, which has neither, gets the same answers from its JSON functions.
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{DatabaseBackend, Value};
use serde_json::Value as Json;

use crate::error::{Error, Result};

const ATTRIBUTES: &str = r#""world_elements"."attributes""#;
const TAGS: &str = r#""world_elements"."tags""#;

/// `attributes @> filter`: the element's attributes contain the filter object.
pub fn attributes_contain(backend: DatabaseBackend, filter: &Json) -> Result<SimpleExpr> {
    if !filter.is_object() {
        return Err(Error::validation("where", "must be a JSON object"));
    }
    check_keys(filter)?;
    match backend {
        DatabaseBackend::Postgres => Ok(Expr::cust_with_values(
            format!("{ATTRIBUTES} @> $1"),
            [Value::from(filter.clone())],
        )),
        _ => {
            let mut sql = SqliteContainment::default();
            let condition = sql.contains(ATTRIBUTES, "$", filter)?;
            Ok(Expr::cust_with_values(condition, sql.values))
        }
    }
}

/// The element carries `tag` among its tags.
pub fn has_tag(backend: DatabaseBackend, tag: &str) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            format!("{TAGS} @> $1"),
            [Value::from(Json::Array(vec![Json::String(tag.to_owned())]))],
        ),
        _ => Expr::cust_with_values(
            format!(
                "EXISTS (SELECT 1 FROM json_each({TAGS}) AS t WHERE t.type = 'text' AND t.value = ?)"
            ),
            [Value::from(tag.to_owned())],
        ),
    }
}

/// Builds SQLite SQL that mirrors PostgreSQL's jsonb containment rules: objects contain
/// sub-objects key by key, arrays contain each filter item somewhere, scalars are equal.
#[derive(Default)]
struct SqliteContainment {
    values: Vec<Value>,
    aliases: usize,
}

impl SqliteContainment {
    fn contains(&mut self, doc: &str, path: &str, filter: &Json) -> Result<String> {
        let at = |value_sql: &str| format!("json_type({doc}, '{path}') {value_sql}");
        Ok(match filter {
            Json::Null => at("= 'null'"),
            Json::Bool(true) => at("= 'true'"),
            Json::Bool(false) => at("= 'false'"),
            Json::Number(n) => {
                self.values.push(number_value(n));
                format!(
                    "(json_type({doc}, '{path}') IN ('integer', 'real') AND json_extract({doc}, '{path}') = ?)"
                )
            }
            Json::String(s) => {
                self.values.push(Value::from(s.clone()));
                format!(
                    "(json_type({doc}, '{path}') = 'text' AND json_extract({doc}, '{path}') = ?)"
                )
            }
            Json::Object(map) => {
                let mut parts = vec![at("= 'object'")];
                for (key, value) in map {
                    let child = format!("{path}.{}", quote_key(key)?);
                    parts.push(self.contains(doc, &child, value)?);
                }
                format!("({})", parts.join(" AND "))
            }
            Json::Array(items) => {
                let mut parts = vec![at("= 'array'")];
                for item in items {
                    self.aliases += 1;
                    let alias = format!("j{}", self.aliases);
                    let matches = self.item_matches(&alias, item)?;
                    parts.push(format!(
                        "EXISTS (SELECT 1 FROM json_each({doc}, '{path}') AS {alias} WHERE {matches})"
                    ));
                }
                format!("({})", parts.join(" AND "))
            }
        })
    }

    /// Whether the array member `alias` (a `json_each` row) contains `item`.
    fn item_matches(&mut self, alias: &str, item: &Json) -> Result<String> {
        Ok(match item {
            Json::Null => format!("{alias}.type = 'null'"),
            Json::Bool(true) => format!("{alias}.type = 'true'"),
            Json::Bool(false) => format!("{alias}.type = 'false'"),
            Json::Number(n) => {
                self.values.push(number_value(n));
                format!("({alias}.type IN ('integer', 'real') AND {alias}.value = ?)")
            }
            Json::String(s) => {
                self.values.push(Value::from(s.clone()));
                format!("({alias}.type = 'text' AND {alias}.value = ?)")
            }
            Json::Object(_) | Json::Array(_) => {
                let kind = if item.is_object() { "object" } else { "array" };
                let nested = self.contains(&format!("{alias}.value"), "$", item)?;
                format!("({alias}.type = '{kind}' AND {nested})")
            }
        })
    }
}

fn number_value(n: &serde_json::Number) -> Value {
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => Value::from(i),
        (None, Some(f)) => Value::from(f),
        (None, None) => Value::from(n.to_string()),
    }
}

/// A key as a quoted SQLite JSON path label. Keys with `"`, `'` or `\` cannot be written
/// as a label, so they are refused rather than misread.
fn quote_key(key: &str) -> Result<String> {
    if key.contains(['"', '\'', '\\']) || key.chars().any(char::is_control) {
        return Err(Error::validation(
            "where",
            "keys may not contain quotes, backslashes or control characters",
        ));
    }
    Ok(format!("\"{key}\""))
}

/// Applies the key rule on every backend, so a filter means the same everywhere.
fn check_keys(filter: &Json) -> Result<()> {
    match filter {
        Json::Object(map) => map.iter().try_for_each(|(key, value)| {
            quote_key(key)?;
            check_keys(value)
        }),
        Json::Array(items) => items.iter().try_for_each(check_keys),
        // PostgreSQL cannot hold NUL in jsonb text.
        Json::String(s) if s.contains('\0') => Err(Error::validation(
            "where",
            "must not contain NUL characters",
        )),
        _ => Ok(()),
    }
}
