//! What is compared: both sides stripped of the fields the server owns or that say nothing
//! about the desired state, and, for the no-dry-run fallback, the live object with the desired
//! fields laid over it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// `metadata` fields the API server sets and that never differ because of Git.
pub const DROPPED_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
];

/// The annotation `kubectl apply` (client-side) keeps the last applied object in. It holds a
/// copy of the whole object, Secret values included, so it never reaches a diff.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether `obj` is a core `v1` Secret.
pub fn is_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// A copy of `obj` without [`DROPPED_METADATA`], `status` and [`LAST_APPLIED_ANNOTATION`] (and
/// without `metadata.annotations` if that leaves it empty). A Secret's `stringData` is folded
/// into `data` (base64-encoded, winning over `data` as the API server does), since a server
/// never returns `stringData`.
pub fn normalize(obj: &Value) -> Value {
    let mut obj = obj.clone();
    let secret = is_secret(&obj);
    let Some(map) = obj.as_object_mut() else {
        return obj;
    };
    map.remove("status");
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        for field in DROPPED_METADATA {
            meta.remove(field);
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED_ANNOTATION);
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if secret {
        fold_string_data(map);
    }
    obj
}

fn fold_string_data(secret: &mut Map<String, Value>) {
    let Some(string_data) = secret.remove("stringData") else {
        return;
    };
    let Value::Object(string_data) = string_data else {
        // Not a map: keep it where it was so that the difference still shows (masked).
        secret.insert("stringData".into(), string_data);
        return;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        secret.insert("data".into(), Value::Object(Map::new()));
    }
    if let Some(Value::Object(data)) = secret.get_mut("data") {
        for (key, value) in string_data {
            let encoded = match value {
                Value::String(s) => Value::String(STANDARD.encode(s)),
                other => other,
            };
            data.insert(key, encoded);
        }
    }
}

/// The live object with every field of `desired` laid over it: what the live object would be
/// if it matched the desired one at every path the desired one sets. Fields only live has are
/// kept. Objects merge key by key; lists of the same length merge item by item at the same
/// index, lists of another length are replaced whole (no merge keys); scalars are replaced.
/// `null`s and empty maps or lists in `desired` where live has nothing say nothing (the API
/// server drops them too), so they do not make a difference.
pub fn overlay(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (_, Value::Null) => live.clone(),
        (Value::Object(live_map), Value::Object(desired_map)) => {
            let mut out = live_map.clone();
            for (key, want) in desired_map {
                match live_map.get(key) {
                    Some(have) if !have.is_null() => {
                        out.insert(key.clone(), overlay(have, want));
                    }
                    _ => {
                        if let Some(want) = without_empties(want) {
                            out.insert(key.clone(), want);
                        }
                    }
                }
            }
            Value::Object(out)
        }
        (Value::Array(have), Value::Array(want)) if have.len() == want.len() => Value::Array(
            have.iter()
                .zip(want)
                .map(|(have, want)| overlay(have, want))
                .collect(),
        ),
        _ => without_empties(desired).unwrap_or_else(|| desired.clone()),
    }
}

/// `value` without `null` fields and without maps and lists that are (or become) empty;
/// `None` when nothing is left.
fn without_empties(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| without_empties(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|v| without_empties(v).unwrap_or_else(|| v.clone()))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_keeps_live_only_fields_and_replaces_desired_ones() {
        let live = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [{"n": "x", "def": true}]});
        let desired = json!({"b": {"c": 5}, "l": [{"n": "x"}], "e": {}, "f": null});
        assert_eq!(
            overlay(&live, &desired),
            json!({"a": 1, "b": {"c": 5, "d": 3}, "l": [{"n": "x", "def": true}]})
        );
    }

    #[test]
    fn overlay_replaces_lists_of_another_length_whole() {
        let live = json!({"args": ["a", "b", "c"]});
        let desired = json!({"args": ["a", "b"]});
        assert_eq!(overlay(&live, &desired), json!({"args": ["a", "b"]}));
    }

    #[test]
    fn normalize_folds_string_data_and_drops_server_fields() {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "uid": "u", "annotations": {LAST_APPLIED_ANNOTATION: "{}"}},
            "data": {"a": "eA=="}, "stringData": {"a": "y", "b": "z"},
        });
        assert_eq!(
            normalize(&secret),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"a": "eQ==", "b": "eg=="}})
        );
    }
}
