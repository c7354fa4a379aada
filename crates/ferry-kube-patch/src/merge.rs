//! JSON merge patch (RFC 7386), `application/merge-patch+json`, with the
//! behaviour of the `evanphx/json-patch` v4 `MergePatch` the API server uses:
//! `null` deletes, objects merge recursively, anything else replaces, and
//! `null`s inside values that are added (rather than merged) are pruned.

use serde_json::{Map, Value};

use crate::error::PatchError;

/// `jsonpatch.ErrBadJSONPatch`, answered as 400.
const BAD_MERGE_PATCH: &str = "Invalid JSON Patch";

/// What decoding a JSON array into an object says when the server reads the
/// patched document back.
const ARRAY_RESULT: &str = "couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// Applies a JSON merge patch document to `target`.
pub(crate) fn apply(target: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|_| PatchError::BadRequest(BAD_MERGE_PATCH.to_string()))?;
    match patch {
        Value::Object(patch) => {
            let mut doc = match target {
                Value::Object(map) => map.clone(),
                _ => Map::new(),
            };
            merge_docs(&mut doc, patch);
            Ok(Value::Object(doc))
        }
        // A top-level array becomes the document, which is not an object.
        Value::Array(_) => Err(PatchError::Invalid(ARRAY_RESULT.to_string())),
        _ => Err(PatchError::BadRequest(BAD_MERGE_PATCH.to_string())),
    }
}

/// Merges `patch` into `doc` in place (RFC 7386 on a JSON object).
pub(crate) fn merge_docs(doc: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.shift_remove(&key);
            continue;
        }
        match doc.get_mut(&key) {
            Some(current) if !current.is_null() => merge_value(current, value),
            _ => {
                doc.insert(key, prune_nulls(value));
            }
        }
    }
}

fn merge_value(current: &mut Value, patch: Value) {
    match (current, patch) {
        (Value::Object(cur), Value::Object(p)) => merge_docs(cur, p),
        (current @ Value::Object(_), patch) => *current = patch,
        (current, patch) => *current = prune_nulls(patch),
    }
}

/// Drops `null` members of objects, recursively (array elements stay).
fn prune_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, prune_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune_nulls).collect()),
        other => other,
    }
}
