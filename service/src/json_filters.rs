//! The few queries that differ between PostgreSQL and SQLite: JSON containment on
//! `attributes` and tag filters. PostgreSQL uses `@>` (served by the GIN indexes);
//! SQLite, which has neither, gets the same answers from its JSON functions.
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{DatabaseBackend, Value};
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::json_limits::{MAX_JSON_DEPTH, depth_exceeds};

/// A `where` filter's text may be at most this long.
pub const MAX_WHERE_BYTES: usize = 4 * 1024;
/// At most this many JSON values (objects, arrays and scalars) in a `where` filter.
pub const MAX_WHERE_NODES: usize = 128;
/// At most this many array items in a `where` filter, all arrays together. On SQLite each
/// one is a scan of the matching array of every candidate row (a `json_each`), so the
/// statement's cost grows with their product: 900 items against one stored
/// 100,000-item array held a connection for 12.5 s.
pub const MAX_WHERE_ARRAY_ITEMS: usize = 32;

/// A parsed `where` filter: a JSON object within every bound above, whose keys can be
/// written as SQLite JSON path labels and whose strings hold no NUL.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereFilter(Json);

impl WhereFilter {
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.len() > MAX_WHERE_BYTES {
            return Err(Error::validation(
                "where",
                format!("may be at most {MAX_WHERE_BYTES} bytes long"),
            ));
        }
        if depth_exceeds(raw.as_bytes(), MAX_JSON_DEPTH) {
            return Err(Error::validation(
                "where",
                format!("JSON may be nested at most {MAX_JSON_DEPTH} levels deep"),
            ));
        }
        let value: Json = serde_json::from_str(raw)
            .map_err(|_| Error::BadRequest("where must be a JSON object".into()))?;
        if !value.is_object() {
            return Err(Error::validation("where", "must be a JSON object"));
        }
        let mut extent = Extent::default();
        extent.measure(&value);
        if extent.nodes > MAX_WHERE_NODES {
            return Err(Error::validation(
                "where",
                format!("may hold at most {MAX_WHERE_NODES} JSON values"),
            ));
        }
        if extent.array_items > MAX_WHERE_ARRAY_ITEMS {
            return Err(Error::validation(
                "where",
                format!("may hold at most {MAX_WHERE_ARRAY_ITEMS} array items in all"),
            ));
        }
        check_keys(&value)?;
        Ok(Self(value))
    }

    pub fn as_json(&self) -> &Json {
        &self.0
    }
}

/// How many values and array items a filter holds.
#[derive(Default)]
struct Extent {
    nodes: usize,
    array_items: usize,
}

impl Extent {
    fn measure(&mut self, value: &Json) {
        self.nodes += 1;
        match value {
            Json::Object(map) => map.values().for_each(|v| self.measure(v)),
            Json::Array(items) => {
                self.array_items += items.len();
                items.iter().for_each(|v| self.measure(v));
            }
            _ => {}
        }
    }
}

const ATTRIBUTES: &str = r#""world_elements"."attributes""#;
const TAGS: &str = r#""world_elements"."tags""#;

/// `attributes @> filter`: the element's attributes contain the filter object.
pub fn attributes_contain(backend: DatabaseBackend, filter: &WhereFilter) -> Result<SimpleExpr> {
    let filter = filter.as_json();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_is_bounded() {
        assert!(WhereFilter::parse(r#"{"race": "elf", "stats": {"level": 3}}"#).is_ok());
        let field_of = |raw: &str| match WhereFilter::parse(raw) {
            Err(Error::Validation(errors)) => errors[0].field.clone(),
            other => panic!("{raw}: {other:?}"),
        };
        let deep = "{\"a\":".repeat(33) + "1" + &"}".repeat(33);
        assert_eq!(field_of(&deep), "where");
        let nested_ok = "{\"a\":".repeat(32) + "1" + &"}".repeat(32);
        assert!(WhereFilter::parse(&nested_ok).is_ok());
        let items = |n: usize| format!("{{\"a\": [{}]}}", vec!["1"; n].join(","));
        assert!(WhereFilter::parse(&items(MAX_WHERE_ARRAY_ITEMS)).is_ok());
        assert_eq!(field_of(&items(MAX_WHERE_ARRAY_ITEMS + 1)), "where");
        let keys = (0..MAX_WHERE_NODES)
            .map(|i| format!("\"k{i}\": 1"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(field_of(&format!("{{{keys}}}")), "where");
        let long = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_WHERE_BYTES));
        assert_eq!(field_of(&long), "where");
        assert_eq!(field_of("[1]"), "where");
        assert!(matches!(WhereFilter::parse("{"), Err(Error::BadRequest(_))));
    }
}
