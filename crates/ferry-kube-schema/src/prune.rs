//! Pruning (`structuralpruning.Prune` with `isResourceRoot`) and the removal of `null`s the
//! schema does not allow (`PruneNonNullableNullsWithoutDefaults`), both run by the API server
//! when it decodes a custom resource.

use serde_json::Value;

use crate::schema::StructuralSchema;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Drops the fields of `obj` the schema does not specify. The root is treated as an embedded
/// resource: a string `apiVersion`/`kind` and an object `metadata` are kept as they are.
pub(crate) fn prune_root(obj: &mut Value, s: &StructuralSchema) {
    if s.embedded_resource {
        prune(obj, Some(s));
    } else {
        prune(obj, Some(&as_root(s)));
    }
}

/// `s` as the root of an object: an embedded resource (its type meta and metadata kept).
pub(crate) fn as_root(s: &StructuralSchema) -> StructuralSchema {
    StructuralSchema {
        embedded_resource: true,
        ..s.clone()
    }
}

/// Whether `k` is a type-meta field that an embedded resource keeps untouched.
pub(crate) fn keeps_meta(k: &str, v: &Value) -> bool {
    match k {
        "apiVersion" | "kind" => v.is_string(),
        "metadata" => v.is_object(),
        _ => false,
    }
}

fn prune(x: &mut Value, s: Option<&StructuralSchema>) {
    if let Some(s) = s
        && s.preserve_unknown_fields
    {
        skip_prune(x, s);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                map.clear();
                return;
            };
            map.retain(|k, v| {
                if s.embedded_resource && keeps_meta(k, v) {
                    return true;
                }
                if let Some(prop) = s.property(k) {
                    prune(v, Some(prop));
                    true
                } else if let Some(extra) = s.additional_schema() {
                    prune(v, Some(extra));
                    true
                } else {
                    false
                }
            });
        }
        Value::Array(items) => {
            let item = s.and_then(|s| s.items.as_deref());
            for v in items {
                prune(v, item);
            }
        }
        _ => {}
    }
}

/// Below `x-kubernetes-preserve-unknown-fields`: unknown fields stay, specified ones are pruned
/// by their own schemas.
fn skip_prune(x: &mut Value, s: &StructuralSchema) {
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if s.embedded_resource && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.property(k) {
                    prune(v, Some(prop));
                } else if let Some(extra) = s.additional_schema() {
                    prune(v, Some(extra));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &s.items {
                for v in items {
                    skip_prune(v, item);
                }
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults`: a `null` for a property that is neither `nullable`
/// nor defaulted is removed.
pub(crate) fn prune_nulls(x: &mut Value, s: &StructuralSchema) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| match s.property(k) {
                Some(p) => !(v.is_null() && p.default.is_none() && !p.nullable),
                None => true,
            });
            for (k, v) in map.iter_mut() {
                if let Some(p) = s.property(k) {
                    prune_nulls(v, p);
                } else if let Some(extra) = s.additional_schema() {
                    prune_nulls(v, extra);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &s.items {
                for v in items {
                    prune_nulls(v, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> StructuralSchema {
        match StructuralSchema::from_value(&v) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn drops_unknown_fields_but_keeps_type_meta() {
        let s = schema(json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "a": {"type": "string"},
            "list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "integer"}}}}
        }}}}));
        let mut obj = json!({
            "apiVersion": "demo/v1", "kind": "W", "metadata": {"name": "w", "weird": 1},
            "spec": {"a": "x", "b": "y", "list": [{"n": "1", "m": 2}], "map": {"k": {"v": 1, "w": 2}}},
            "status": {"ready": true}
        });
        prune_root(&mut obj, &s);
        assert_eq!(
            obj,
            json!({
                "apiVersion": "demo/v1", "kind": "W", "metadata": {"name": "w", "weird": 1},
                "spec": {"a": "x", "list": [{"n": "1"}], "map": {"k": {"v": 1}}}
            })
        );
    }

    #[test]
    fn non_string_type_meta_is_pruned() {
        let s = schema(json!({"type": "object"}));
        let mut obj = json!({"apiVersion": 1, "kind": "W"});
        prune_root(&mut obj, &s);
        assert_eq!(obj, json!({"kind": "W"}));
    }

    #[test]
    fn preserve_unknown_fields_keeps_unknowns_and_prunes_known() {
        let s = schema(json!({"type": "object", "properties": {"spec": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}));
        let mut obj = json!({"spec": {"free": {"x": 1}, "known": {"a": "1", "b": "2"}}});
        prune_root(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"free": {"x": 1}, "known": {"a": "1"}}})
        );
    }

    #[test]
    fn embedded_resource_keeps_its_type_meta() {
        let s = schema(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                         "properties": {"spec": {"type": "object"}}}}}}}),
        );
        let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"labels": {"a": "b"}}, "spec": {"x": 1}, "other": 2}}});
        prune_root(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"labels": {"a": "b"}}, "spec": {}}}})
        );
    }

    #[test]
    fn nulls_without_default_or_nullable_go() {
        let s = schema(json!({"type": "object", "properties": {
            "a": {"type": "string"},
            "b": {"type": "string", "nullable": true},
            "c": {"type": "string", "default": "x"},
            "l": {"type": "array", "items": {"type": "object", "properties": {"d": {"type": "string"}}}}
        }}));
        let mut obj = json!({"a": null, "b": null, "c": null, "l": [{"d": null}], "z": null});
        prune_nulls(&mut obj, &s);
        assert_eq!(obj, json!({"b": null, "c": null, "l": [{}], "z": null}));
    }
}
