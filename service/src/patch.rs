//! Request-body helpers shared by the update use cases.
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Tells "absent" (`None`) from "explicitly null" (`Some(None)`) in a PATCH body; use with
/// `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For optional fields that may be left out but not set to `null`; use with
/// `#[serde(default, deserialize_with = "reject_null")]`.
pub fn reject_null<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        None => Err(serde::de::Error::custom(
            "must not be null; leave the field out instead",
        )),
        some => Ok(some),
    }
}

/// Applies a JSON Merge Patch (RFC 7396) to `target`: `null` removes a key, objects merge,
/// anything else replaces.
pub fn merge_patch(mut target: Value, patch: &Value) -> Value {
    json_patch::merge(&mut target, patch);
    target
}

/// [`merge_patch`] for a stored document (`field`): the result must stay within
/// [`MAX_DOCUMENT_BYTES`](crate::json_limits::MAX_DOCUMENT_BYTES), or the change is a 422.
pub fn merge_document(field: &str, target: Value, patch: &Value) -> crate::Result<Value> {
    let merged = merge_patch(target, patch);
    crate::json_limits::check_document_size(field, &merged)
        .map_err(|e| crate::Error::Validation(vec![e]))?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let doc = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
        let patched = merge_patch(doc, &json!({"a": null, "b": {"c": 9}, "e": [3]}));
        assert_eq!(patched, json!({"b": {"c": 9, "d": 3}, "e": [3]}));
    }
}
