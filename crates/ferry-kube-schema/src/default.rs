//! Defaulting (`structuraldefaulting.Default`): a missing property of an object that exists
//! takes the property's `default`, as does a `null` the schema does not allow; defaulting then
//! descends into every value, including array items and `additionalProperties` values, so
//! defaults inside a freshly defaulted object apply too. Absent parents are never created
//! unless they have a default themselves.

use serde_json::Value;

use crate::schema::StructuralSchema;

/// `isNonNullableNull`.
fn non_nullable_null(v: &Value, s: &StructuralSchema) -> bool {
    v.is_null() && !s.nullable
}

pub(crate) fn apply(x: &mut Value, s: &StructuralSchema) {
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                match map.get_mut(k) {
                    None => {
                        map.insert(k.clone(), default.clone());
                    }
                    Some(v) if non_nullable_null(v, prop) => *v = default.clone(),
                    Some(_) => {}
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    apply(v, prop);
                } else if let Some(extra) = s.additional_schema() {
                    if non_nullable_null(v, extra)
                        && let Some(default) = &extra.default
                    {
                        *v = default.clone();
                    }
                    apply(v, extra);
                }
            }
        }
        Value::Array(items) => {
            let Some(item) = &s.items else {
                return;
            };
            for v in items {
                if non_nullable_null(v, item)
                    && let Some(default) = &item.default
                {
                    *v = default.clone();
                }
                apply(v, item);
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
    fn defaults_missing_properties_of_existing_objects_only() {
        let s = schema(json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"color": {"type": "string", "default": "blue"}}},
            "status": {"type": "object", "properties": {"phase": {"type": "string", "default": "New"}}}
        }}));
        let mut obj = json!({"spec": {}});
        apply(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"color": "blue"}}),
            "status stays absent"
        );
    }

    #[test]
    fn defaulted_parents_are_defaulted_inside() {
        let s = schema(json!({"type": "object", "properties": {
            "spec": {"type": "object", "default": {}, "properties": {
                "replicas": {"type": "integer", "default": 1},
                "keep": {"type": "string", "default": "no"}}}
        }}));
        let mut obj = json!({});
        apply(&mut obj, &s);
        assert_eq!(obj, json!({"spec": {"replicas": 1, "keep": "no"}}));
        let mut obj = json!({"spec": {"keep": "yes"}});
        apply(&mut obj, &s);
        assert_eq!(obj, json!({"spec": {"keep": "yes", "replicas": 1}}));
    }

    #[test]
    fn items_and_map_values() {
        let s = schema(json!({"type": "object", "properties": {
            "ports": {"type": "array", "items": {"type": "object", "default": {"port": 1}, "properties": {
                "protocol": {"type": "string", "default": "TCP"}, "port": {"type": "integer"}}}},
            "byName": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "weight": {"type": "integer", "default": 10}}}}
        }}));
        let mut obj =
            json!({"ports": [{"port": 80}, null], "byName": {"a": {}, "b": {"weight": 2}}});
        apply(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 1, "protocol": "TCP"}],
                   "byName": {"a": {"weight": 10}, "b": {"weight": 2}}})
        );
    }

    #[test]
    fn nulls_take_defaults_unless_nullable() {
        let s = schema(json!({"type": "object", "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"type": "string", "default": "y", "nullable": true}
        }}));
        let mut obj = json!({"a": null, "b": null});
        apply(&mut obj, &s);
        assert_eq!(obj, json!({"a": "x", "b": null}));
    }
}
