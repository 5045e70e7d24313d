//! Turning a parsed JSON body into a request type, with the failing field named the way a
//! client sent it. Shared by the HTTP edge (whole bodies) and batch (each operation's
//! `body`), so both report a field the same way.
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::FieldError;

/// Deserializes `value` into `T`; on failure, the field (a path such as
/// `attributes.stats` or `tags[2]`, `body` for the whole) and serde's message.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = strip_position(e.inner());
        let field = error_field(&e.path().to_string(), &message);
        FieldError::new(field, message)
    })
}

/// The field an error is about. serde reports a missing or unknown field at the object
/// that should (not) hold it, naming the field only in its message ("missing field
/// `name`"): the client is told that field, under the object's path, not `body`.
fn error_field(path: &str, message: &str) -> String {
    let at = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (at, named) {
        // serde_path_to_error already names an unknown field in the path.
        (at, Some(name)) if at == name || at.ends_with(&format!(".{name}")) => at.to_owned(),
        ("", Some(name)) => name.to_owned(),
        (at, Some(name)) => format!("{at}.{name}"),
        ("", None) => "body".to_owned(),
        (at, None) => at.to_owned(),
    }
}

/// serde_json's message without " at line L column C", which means nothing to a client
/// that sent a one-line body.
fn strip_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Where a NUL character sits in a JSON value (a key or a string), if anywhere: `""` for
/// the value itself. The database could not store it.
pub fn nul_path(value: &Value) -> Option<String> {
    nul_path_at(value, String::new())
}

fn nul_path_at(value: &serde_json::Value, at: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, child)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if key.contains('\0') {
                Some(path)
            } else {
                nul_path_at(child, path)
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| nul_path_at(child, format!("{at}[{i}]"))),
        _ => None,
    }
}
