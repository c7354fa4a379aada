//! The first field of an applied configuration that its schema does not declare: where the
//! API server's conversion of a server-side apply patch to its typed form fails
//! (`.spec.colour: field not declared in schema`), instead of pruning the field as it does
//! when it decodes a create or an update. The same fields as [`crate::prune`] drops.

use serde_json::Value;

use crate::prune::{as_root, keeps_meta};
use crate::schema::StructuralSchema;

pub(crate) fn first_undeclared(obj: &Value, s: &StructuralSchema) -> Option<String> {
    if s.embedded_resource {
        walk(obj, Some(s), String::new(), false)
    } else {
        walk(obj, Some(&as_root(s)), String::new(), false)
    }
}

/// `inherited`: below an array whose node preserves unknown fields (its elements do too, as
/// pruning has it).
fn walk(x: &Value, s: Option<&StructuralSchema>, path: String, inherited: bool) -> Option<String> {
    let preserving = inherited || s.is_some_and(|s| s.preserve_unknown_fields);
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                return map.keys().next().map(|k| format!("{path}.{k}"));
            };
            for (k, v) in map {
                if s.embedded_resource && keeps_meta(k, v) {
                    continue;
                }
                let at = format!("{path}.{k}");
                let child = s.property(k).or_else(|| s.additional_schema());
                match child {
                    Some(c) => {
                        if let Some(found) = walk(v, Some(c), at, false) {
                            return Some(found);
                        }
                    }
                    None if preserving => {}
                    None => return Some(at),
                }
            }
            None
        }
        Value::Array(items) => {
            let item = s.and_then(|s| s.items.as_deref());
            if item.is_none() && preserving {
                return None;
            }
            items.iter().enumerate().find_map(|(i, v)| {
                let at = format!("{path}{}", element(s, i, v));
                walk(v, item, at, preserving)
            })
        }
        _ => None,
    }
}

/// How structured-merge-diff names a list element: by its keys in an associative list
/// (`[name="main"]`), by its value in a set (`[="a"]`), else by its index.
fn element(list: Option<&StructuralSchema>, i: usize, v: &Value) -> String {
    let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    match list.and_then(|l| l.list_type.as_deref()) {
        Some("map") => {
            let keys = &list.map(|l| l.list_map_keys.as_slice()).unwrap_or_default();
            let parts: Vec<String> = keys
                .iter()
                .filter_map(|k| v.get(k).map(|kv| format!("{k}={}", text(kv))))
                .collect();
            if parts.is_empty() {
                format!("[{i}]")
            } else {
                format!("[{}]", parts.join(","))
            }
        }
        Some("set") => format!("[={}]", text(v)),
        _ => format!("[{i}]"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::StructuralSchema;

    fn schema() -> StructuralSchema {
        StructuralSchema::from_value(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"},
                        "port": {"type": "integer"}}}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"known": {"type": "object", "properties": {
                        "a": {"type": "string"}}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "properties": {"spec": {"type": "object"}}}}}}}))
        .expect("a structural schema")
    }

    #[test]
    fn declared_fields_type_meta_maps_and_preserved_subtrees_pass() {
        let obj = json!({"apiVersion": "demo/v1", "kind": "W", "metadata": {"name": "w"},
            "spec": {"size": 1, "labels": {"any": "x"}, "ports": [{"name": "a", "port": 1}],
                "extra": {"whatever": {"deep": 1}, "known": {"a": "x"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                    "spec": {}}}});
        assert_eq!(schema().first_undeclared(&obj), None);
    }

    #[test]
    fn the_first_undeclared_field_is_named_with_its_path() {
        let s = schema();
        let at = |obj| s.first_undeclared(&obj);
        assert_eq!(
            at(json!({"spec": {"size": 1, "colour": "red"}})),
            Some(".spec.colour".into())
        );
        assert_eq!(at(json!({"specs": {}})), Some(".specs".into()));
        assert_eq!(
            at(json!({"spec": {"ports": [{"name": "a", "protocol": "TCP"}]}})),
            Some(".spec.ports[name=\"a\"].protocol".into())
        );
        // Below preserve-unknown-fields, declared properties are still checked.
        assert_eq!(
            at(json!({"spec": {"extra": {"known": {"b": 1}}}})),
            Some(".spec.extra.known.b".into())
        );
    }
}
