//! The contract's bounds on JSON the API reads or stores: nesting depth for every JSON
//! value (bodies and the `where` filter alike), the size of a stored document after a merge
//! patch, and the extent of a `where` filter. Each bound keeps one request from costing
//! everyone else: parse time, memory, or minutes of a database connection.
use serde_json::Value;

use crate::error::FieldError;

/// JSON nested deeper than this is refused (422), in a body or a query parameter.
pub const MAX_JSON_DEPTH: usize = 32;
/// A stored JSON document (`attributes`, `settings`, `preferences`) may not exceed this
/// as compact JSON. A merge patch (up to a 1 MiB body) could otherwise grow it by a
/// megabyte per request without end, and every list and GET would carry it.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Whether brackets nest deeper than `max` outside of strings. Runs on the raw text
/// before parsing, so a hostile document never reaches serde's recursion.
pub fn depth_exceeds(text: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The length of `value` as compact JSON, counted without building the text.
pub fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Refuses a document that would be stored larger than [`MAX_DOCUMENT_BYTES`].
pub fn check_document_size(field: &str, document: &Value) -> Result<(), FieldError> {
    let bytes = serialized_len(document);
    if bytes > MAX_DOCUMENT_BYTES {
        Err(FieldError::new(
            field,
            format!(
                "may be at most {} KiB as JSON; the result would be {bytes} bytes",
                MAX_DOCUMENT_BYTES / 1024
            ),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_only_structure() {
        let deep = "[".repeat(33) + &"]".repeat(33);
        assert!(depth_exceeds(deep.as_bytes(), 32));
        let ok = "[".repeat(32) + &"]".repeat(32);
        assert!(!depth_exceeds(ok.as_bytes(), 32));
        let in_string = format!("{{\"a\": \"{}\"}}", "[".repeat(100));
        assert!(!depth_exceeds(in_string.as_bytes(), 32));
    }

    #[test]
    fn documents_are_measured_as_compact_json() {
        let doc = json!({"a": [1, 2], "b": "x"});
        assert_eq!(serialized_len(&doc), doc.to_string().len());
        assert!(check_document_size("attributes", &doc).is_ok());
        let big = json!({"text": "x".repeat(MAX_DOCUMENT_BYTES)});
        let err = check_document_size("attributes", &big).unwrap_err();
        assert_eq!(err.field, "attributes");
    }
}
