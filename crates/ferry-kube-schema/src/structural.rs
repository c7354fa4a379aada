//! The checks the API server runs on a custom resource after schema validation, walking the
//! structural schema with `field.Path`s (`spec.map[key]`, `spec.list[0]`):
//!
//! - embedded resources (`x-kubernetes-embedded-resource`) need a string `apiVersion` and `kind`;
//! - `x-kubernetes-list-type: set` lists hold no duplicates, `map` lists hold objects with
//!   unique keys (`structurallisttype.ValidateListSetsAndMaps`).

use serde_json::{Map, Value};

use crate::cause::Cause;
use crate::names::dns1035_label;
use crate::schema::StructuralSchema;

/// `field.Path.Child`.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// `field.Path.Key` and `field.Path.Index`.
fn subscript(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

/// `objectmeta.Validate` for embedded resources below the root.
pub(crate) fn embedded(path: &str, v: &Value, s: &StructuralSchema, out: &mut Vec<Cause>) {
    match v {
        Value::Object(map) => {
            if s.embedded_resource {
                embedded_resource(path, map, out);
            }
            for (k, v) in map {
                if let Some(prop) = s.property(k) {
                    embedded(&child(path, k), v, prop, out);
                } else if let Some(extra) = s.additional_schema() {
                    embedded(&subscript(path, k), v, extra, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    embedded(&subscript(path, &i.to_string()), v, item, out);
                }
            }
        }
        _ => {}
    }
}

fn embedded_resource(path: &str, map: &Map<String, Value>, out: &mut Vec<Cause>) {
    if !map.contains_key("apiVersion") {
        out.push(Cause::required(
            child(path, "apiVersion"),
            "must not be empty",
        ));
    }
    if !map.contains_key("kind") {
        out.push(Cause::required(child(path, "kind"), "must not be empty"));
    }
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" => {
                let field = child(path, "apiVersion");
                match v.as_str() {
                    None => out.push(Cause::invalid(field, v, "must be a string")),
                    Some("") => out.push(Cause::invalid(field, v, "must not be empty")),
                    Some(av) if av.matches('/').count() > 1 => {
                        let msg = format!("unexpected GroupVersion string: {av}");
                        out.push(Cause::invalid(field, v, &msg));
                    }
                    Some(_) => {}
                }
            }
            "kind" => {
                let field = child(path, "kind");
                match v.as_str() {
                    None => out.push(Cause::invalid(field, v, "must be a string")),
                    Some("") => out.push(Cause::invalid(field, v, "must not be empty")),
                    Some(kind) => {
                        let errs = dns1035_label(&kind.to_lowercase());
                        if !errs.is_empty() {
                            let msg = format!(
                                "may have mixed case, but should otherwise match: {}",
                                errs.join(",")
                            );
                            out.push(Cause::invalid(field, v, &msg));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// `structurallisttype.ValidateListSetsAndMaps`.
pub(crate) fn list_sets_and_maps(
    path: &str,
    v: &Value,
    s: &StructuralSchema,
    out: &mut Vec<Cause>,
) {
    match v {
        Value::Object(map) => {
            if let Some(extra) = s.additional_schema() {
                for (k, v) in map {
                    list_sets_and_maps(&subscript(path, k), v, extra, out);
                }
            }
            for (k, v) in map {
                if let Some(prop) = s.property(k) {
                    list_sets_and_maps(&child(path, k), v, prop, out);
                }
            }
        }
        Value::Array(items) => {
            match s.list_type.as_deref() {
                Some("set") => {
                    for i in non_unique(items.iter()) {
                        out.push(Cause::duplicate(subscript(path, &i.to_string()), &items[i]));
                    }
                }
                Some("map") => list_map(path, s, items, out),
                _ => {}
            }
            if let Some(item) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    list_sets_and_maps(&subscript(path, &i.to_string()), v, item, out);
                }
            }
        }
        _ => {}
    }
}

/// Indexes of the second occurrence of each repeated value (`validateListSet`).
fn non_unique<'a>(items: impl Iterator<Item = &'a Value>) -> Vec<usize> {
    let mut seen: Vec<(&Value, usize)> = Vec::new();
    let mut out = Vec::new();
    for (i, x) in items.enumerate() {
        match seen.iter_mut().find(|(v, _)| *v == x) {
            Some((_, times)) => {
                *times += 1;
                if *times == 2 {
                    out.push(i);
                }
            }
            None => seen.push((x, 1)),
        }
    }
    out
}

fn list_map(path: &str, s: &StructuralSchema, items: &[Value], out: &mut Vec<Cause>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            out.push(Cause::invalid(
                subscript(path, &i.to_string()),
                x,
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    // The key of each element: the key fields it has (a missing key is "unspecified").
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Value::Object(obj) = x {
                for k in &s.list_map_keys {
                    if let Some(v) = obj.get(k) {
                        key.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in non_unique(keys.iter()) {
        out.push(Cause::duplicate(subscript(path, &i.to_string()), &keys[i]));
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

    fn lists(s: Value, v: Value) -> Vec<String> {
        let mut out = Vec::new();
        list_sets_and_maps("", &v, &schema(s), &mut out);
        out.iter().map(Cause::error_string).collect()
    }

    #[test]
    fn sets_reject_duplicates_once() {
        let s = json!({"properties": {"tags": {"type": "array", "items": {"type": "string"},
                                               "x-kubernetes-list-type": "set"}}});
        assert_eq!(
            lists(s, json!({"tags": ["a", "b", "a", "a"]})),
            [r#"tags[2]: Duplicate value: "a""#]
        );
    }

    #[test]
    fn maps_reject_duplicate_keys() {
        let s = json!({"properties": {"ports": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object"}}}});
        assert_eq!(
            lists(
                s.clone(),
                json!({"ports": [{"name": "a"}, {"name": "b"}, {"name": "a", "x": 1}]})
            ),
            [r#"ports[2]: Duplicate value: map[string]interface {}{"name":"a"}"#]
        );
        assert_eq!(
            lists(s, json!({"ports": [{"name": "a"}, "x"]})),
            [r#"ports[1]: Invalid value: "x": must be an object for an array of list-type map"#]
        );
        let multi = json!({"properties": {"m": {"additionalProperties": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["a", "b"], "items": {"type": "object"}}}}});
        assert_eq!(
            lists(
                multi,
                json!({"m": {"k": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}})
            ),
            [r#"m[k][1]: Duplicate value: map[string]interface {}{"a":1, "b":2}"#]
        );
    }

    #[test]
    fn embedded_resources_need_type_meta() {
        let s = schema(json!({"properties": {"spec": {"properties": {"template": {
            "type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}}}));
        let mut out = Vec::new();
        embedded(
            "",
            &json!({"spec": {"template": {"kind": "Bad_Kind"}}}),
            &s,
            &mut out,
        );
        let msgs: Vec<String> = out.iter().map(Cause::error_string).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[0],
            "spec.template.apiVersion: Required value: must not be empty"
        );
        assert!(msgs[1].starts_with(
            r#"spec.template.kind: Invalid value: "Bad_Kind": may have mixed case, but should otherwise match: a DNS-1035"#
        ));
    }
}
