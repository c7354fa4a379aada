//! Schema validation of a custom resource, as kube-openapi's `SchemaValidator` runs it for the
//! API server, with errors converted the way `apiextensions-apiserver` converts them into
//! field errors (`ValidateCustomResource`).
//!
//! kube-openapi names a value by a dotted path (`spec.items[0].name`; additional properties
//! are `path.key`, so at the root they read `.key`). Its message is wrapped into a cause whose
//! field is that path without a leading dot.

use serde_json::{Map, Value};

use crate::cause::Cause;
use crate::formats;
use crate::schema::{AdditionalProperties, StructuralSchema};
use ferry_gofmt::decoded::{GoNumber, float_v, is_json_integer, quote};

/// The field of a cause for a kube-openapi name.
fn field_of(name: &str) -> String {
    if name.is_empty() || name == "." {
        String::new()
    } else {
        name.strip_prefix('.').unwrap_or(name).to_owned()
    }
}

/// Collects the causes of one validation run.
pub(crate) struct Validator<'a> {
    out: &'a mut Vec<Cause>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(out: &'a mut Vec<Cause>) -> Self {
        Validator { out }
    }

    /// `InvalidTypeCode` errors become `field.TypeInvalid`.
    fn type_invalid(&mut self, name: &str, type_name: &str, value: &str) {
        let msg = format!(
            "{name} in body must be of type {type_name}: {}",
            quote(value)
        );
        self.out.push(Cause::type_invalid(
            field_of(name),
            &Value::String(value.to_owned()),
            &msg,
        ));
    }

    /// Other kube-openapi errors become `field.Invalid` with the kube-openapi message.
    fn invalid(&mut self, name: &str, value: &Value, msg: String) {
        self.out.push(Cause::invalid(field_of(name), value, &msg));
    }

    /// Validates `v` at kube-openapi path `name` against `s`.
    pub(crate) fn node(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        if v.is_null() {
            let types = s.types();
            if !types.is_empty() && !s.nullable {
                self.type_invalid(name, &types.join(","), "null");
            }
            self.enumeration(s, v, name);
            return;
        }
        self.type_check(s, v, name);
        if let Value::String(text) = v {
            self.string(s, text, name);
            if let Some(format) = &s.format
                && !formats::is_valid(format, text)
            {
                self.type_invalid(name, format, text);
            }
        }
        if let Value::Number(n) = v {
            self.number(s, GoNumber::of(n), v, name);
        }
        if let Value::Array(items) = v {
            self.array(s, items, name);
        }
        self.enumeration(s, v, name);
        if let Value::Object(map) = v {
            self.object(s, map, name);
        }
    }

    /// kube-openapi's `typeValidator`.
    fn type_check(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        let types = s.types();
        let format = s.format.as_deref().unwrap_or("");
        if types.is_empty() && format.is_empty() {
            return;
        }
        let (sch_type, data_format) = match v {
            Value::Bool(_) => ("boolean", ""),
            Value::String(_) => ("string", ""),
            Value::Number(n) => match GoNumber::of(n) {
                GoNumber::Int(_) => ("integer", "int64"),
                GoNumber::Float(_) => ("number", "double"),
            },
            Value::Array(_) => ("array", ""),
            Value::Object(_) | Value::Null => ("object", ""),
        };
        let has = |t: &str| types.contains(&t);
        let is_float_int = match v {
            Value::Number(n) => match GoNumber::of(n) {
                GoNumber::Float(f) => is_json_integer(f) && has("integer"),
                GoNumber::Int(_) => false,
            },
            _ => false,
        };
        let is_int_float = sch_type == "integer" && has("number");
        let type_ok = has(sch_type) || is_float_int || is_int_float;
        if !format.is_empty() {
            if matches!(v, Value::String(_) | Value::Array(_)) {
                // A formatted string (or a list) skips the type check unless numeric.
                if !has("number") && !has("integer") {
                    return;
                }
            } else if !type_ok && data_format != format {
                self.type_invalid(name, format, data_format);
                return;
            }
        }
        if !type_ok {
            self.type_invalid(name, &types.join(","), sch_type);
        }
    }

    /// kube-openapi's `stringValidator`: stops at the first failure.
    fn string(&mut self, s: &StructuralSchema, text: &str, name: &str) {
        let len = text.chars().count() as i64;
        if let Some(max) = s.max_length
            && len > max
        {
            // TooLongFailCode becomes field.TooLongMaxLength.
            self.out.push(Cause::too_long(field_of(name), max));
            return;
        }
        if let Some(min) = s.min_length
            && len < min
        {
            let msg = format!("{name} in body should be at least {min} chars long");
            self.invalid(name, &Value::String(text.to_owned()), msg);
            return;
        }
        if let Some(p) = &s.pattern
            && !p.is_match(text)
        {
            let msg = format!("{name} in body should match '{}'", p.as_str());
            self.invalid(name, &Value::String(text.to_owned()), msg);
        }
    }

    /// kube-openapi's `numberValidator`: `multipleOf`, then `minimum`, then `maximum`, each
    /// in the data's native type (an integer compares with the bound truncated to an integer).
    fn number(&mut self, s: &StructuralSchema, n: GoNumber, v: &Value, name: &str) {
        if let Some(factor) = s.multiple_of {
            self.multiple_of(n, factor, v, name);
        }
        let bound = |b: f64| match n {
            GoNumber::Int(_) => (b as i64).to_string(),
            GoNumber::Float(_) => float_v(b),
        };
        if let Some(min) = s.minimum {
            let fails = match n {
                GoNumber::Int(i) => {
                    let m = min as i64;
                    if s.exclusive_minimum { i <= m } else { i < m }
                }
                GoNumber::Float(f) => {
                    if s.exclusive_minimum {
                        f <= min
                    } else {
                        f < min
                    }
                }
            };
            if fails {
                let rel = if s.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.invalid(
                    name,
                    v,
                    format!("{name} in body should be {rel} {}", bound(min)),
                );
            }
        }
        if let Some(max) = s.maximum {
            let fails = match n {
                GoNumber::Int(i) => {
                    let m = max as i64;
                    if s.exclusive_maximum { i >= m } else { i > m }
                }
                GoNumber::Float(f) => {
                    if s.exclusive_maximum {
                        f >= max
                    } else {
                        f > max
                    }
                }
            };
            if fails {
                let rel = if s.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.invalid(
                    name,
                    v,
                    format!("{name} in body should be {rel} {}", bound(max)),
                );
            }
        }
    }

    fn multiple_of(&mut self, n: GoNumber, factor: f64, v: &Value, name: &str) {
        match n {
            GoNumber::Int(i) => {
                let f = factor as i64;
                if f <= 0 {
                    let msg =
                        format!("factor MultipleOf declared for {name} must be positive: {f}");
                    self.invalid(name, &Value::from(f), msg);
                } else if i % f != 0 {
                    self.invalid(
                        name,
                        v,
                        format!("{name} in body should be a multiple of {f}"),
                    );
                }
            }
            GoNumber::Float(x) => {
                if factor <= 0.0 {
                    let msg = format!(
                        "factor MultipleOf declared for {name} must be positive: {}",
                        float_v(factor)
                    );
                    let fv =
                        serde_json::Number::from_f64(factor).map_or(Value::Null, Value::Number);
                    self.invalid(name, &fv, msg);
                    return;
                }
                let mult = if factor < 1.0 {
                    1.0 / factor * x
                } else {
                    x / factor
                };
                if !is_json_integer(mult) {
                    let msg = format!("{name} in body should be a multiple of {}", float_v(factor));
                    self.invalid(name, v, msg);
                }
            }
        }
    }

    /// kube-openapi's `schemaSliceValidator`: items first, then `minItems`, `maxItems`.
    fn array(&mut self, s: &StructuralSchema, items: &[Value], name: &str) {
        if let Some(item_schema) = &s.items {
            for (i, item) in items.iter().enumerate() {
                self.node(item_schema, item, &format!("{name}[{i}]"));
            }
        }
        let size = items.len() as i64;
        if let Some(min) = s.min_items
            && size < min
        {
            let msg = format!("{name} in body should have at least {min} items");
            self.invalid(name, &Value::from(size), msg);
        }
        if let Some(max) = s.max_items
            && size > max
        {
            self.out.push(Cause::too_many(field_of(name), size, max));
        }
    }

    /// kube-openapi's `basicCommonValidator`: `enum`, reported as `field.NotSupported`.
    fn enumeration(&mut self, s: &StructuralSchema, v: &Value, name: &str) {
        let Some(values) = &s.enum_values else {
            return;
        };
        if values.is_empty() || (!v.is_null() && values.iter().any(|e| enum_equal(v, e))) {
            return;
        }
        let supported: Vec<String> = values
            .iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            })
            .collect();
        self.out
            .push(Cause::not_supported(field_of(name), v, &supported));
    }

    /// kube-openapi's `objectValidator`.
    fn object(&mut self, s: &StructuralSchema, map: &Map<String, Value>, name: &str) {
        let count = map.len() as i64;
        if let Some(min) = s.min_properties
            && count < min
        {
            let msg = format!("{name} in body should have at least {min} properties");
            self.invalid(name, &Value::from(count), msg);
            return;
        }
        if let Some(max) = s.max_properties
            && count > max
        {
            self.out.push(Cause::too_many(field_of(name), count, max));
            return;
        }
        match &s.additional_properties {
            Some(AdditionalProperties::Allows(false)) => {
                for key in map.keys() {
                    if s.property(key).is_none() {
                        let msg = format!("{name}.{key} in body is a forbidden property");
                        self.invalid(name, &Value::String(key.clone()), msg);
                    }
                }
            }
            Some(AdditionalProperties::Schema(extra)) => {
                for (key, value) in map {
                    if s.property(key).is_none() {
                        self.node(extra, value, &format!("{name}.{key}"));
                    }
                }
            }
            _ => {}
        }
        for (key, prop) in &s.properties {
            if let Some(value) = map.get(key) {
                let child = if name.is_empty() {
                    key.clone()
                } else {
                    format!("{name}.{key}")
                };
                self.node(prop, value, &child);
            }
        }
        for key in &s.required {
            if !map.contains_key(key) {
                self.out
                    .push(Cause::required(field_of(&format!("{name}.{key}")), ""));
            }
        }
    }
}

/// `enum` matching: numbers compare by value (an `int64` converts to the enum's `float64`),
/// everything else structurally.
fn enum_equal(v: &Value, e: &Value) -> bool {
    match (v, e) {
        (Value::Number(a), Value::Number(b)) => {
            GoNumber::of(a).as_f64() == GoNumber::of(b).as_f64()
        }
        _ => v == e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::CauseReason;
    use serde_json::json;

    fn run(schema: Value, obj: Value) -> Vec<Cause> {
        let s = match StructuralSchema::from_value(&schema) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        Validator::new(&mut out).node(&s, &obj, "");
        out
    }

    fn messages(causes: &[Cause]) -> Vec<String> {
        causes.iter().map(Cause::error_string).collect()
    }

    #[test]
    fn type_errors_name_the_json_type() {
        let c = run(
            json!({"properties": {"n": {"type": "integer"}}}),
            json!({"n": "x"}),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].reason, CauseReason::TypeInvalid);
        assert_eq!(
            c[0].message,
            r#"Invalid value: "string": n in body must be of type integer: "string""#
        );
        let c = run(
            json!({"properties": {"n": {"type": "integer"}}}),
            json!({"n": 2.0}),
        );
        assert!(c.is_empty(), "an integral float is an integer");
        let c = run(
            json!({"properties": {"n": {"type": "number"}}}),
            json!({"n": 2}),
        );
        assert!(c.is_empty(), "an integer is a number");
        let c = run(
            json!({"properties": {"n": {"type": "string"}}}),
            json!({"n": null}),
        );
        assert_eq!(
            messages(&c),
            [r#"n: Invalid value: "null": n in body must be of type string: "null""#]
        );
        let c = run(
            json!({"properties": {"n": {"type": "string", "nullable": true}}}),
            json!({"n": null}),
        );
        assert!(c.is_empty());
        let c = run(json!({"type": "object"}), json!([]));
        assert_eq!(
            messages(&c),
            [r#"<nil>: Invalid value: "array":  in body must be of type object: "array""#]
        );
    }

    #[test]
    fn int_or_string() {
        let schema = json!({"properties": {"p": {"x-kubernetes-int-or-string": true}}});
        assert!(run(schema.clone(), json!({"p": 80})).is_empty());
        assert!(run(schema.clone(), json!({"p": "http"})).is_empty());
        assert_eq!(
            messages(&run(schema, json!({"p": true}))),
            [r#"p: Invalid value: "boolean": p in body must be of type integer,string: "boolean""#]
        );
    }

    #[test]
    fn numbers() {
        let schema = json!({"properties": {"n": {"type": "number", "minimum": 1.5, "maximum": 1000000,
                                                  "exclusiveMaximum": true}}});
        assert_eq!(
            messages(&run(schema.clone(), json!({"n": 0.5}))),
            ["n: Invalid value: 0.5: n in body should be greater than or equal to 1.5"]
        );
        assert!(
            run(schema.clone(), json!({"n": 1})).is_empty(),
            "an int64 compares with the truncated bound: 1 >= int64(1.5)"
        );
        assert_eq!(
            messages(&run(schema.clone(), json!({"n": 0}))),
            ["n: Invalid value: 0: n in body should be greater than or equal to 1"]
        );
        assert_eq!(
            messages(&run(schema, json!({"n": 1e6}))),
            ["n: Invalid value: 1e+06: n in body should be less than 1e+06"]
        );
        let m = json!({"properties": {"n": {"type": "integer", "multipleOf": 5}}});
        assert_eq!(
            messages(&run(m, json!({"n": 7}))),
            ["n: Invalid value: 7: n in body should be a multiple of 5"]
        );
    }

    #[test]
    fn strings() {
        let schema = json!({"properties": {"s": {"type": "string", "maxLength": 3, "minLength": 2, "pattern": "^[a-z]+$"}}});
        assert_eq!(
            messages(&run(schema.clone(), json!({"s": "abcd"}))),
            ["s: Too long: may not be longer than 3"]
        );
        assert_eq!(
            run(schema.clone(), json!({"s": "abcd"}))[0].reason,
            CauseReason::TooLong
        );
        assert_eq!(
            messages(&run(schema.clone(), json!({"s": "a"}))),
            [r#"s: Invalid value: "a": s in body should be at least 2 chars long"#]
        );
        assert_eq!(
            messages(&run(schema.clone(), json!({"s": "A1"}))),
            [r#"s: Invalid value: "A1": s in body should match '^[a-z]+$'"#]
        );
        let len = json!({"properties": {"s": {"type": "string", "maxLength": 3}}});
        assert!(
            run(len, json!({"s": "héé"})).is_empty(),
            "lengths count characters"
        );
        assert!(run(schema, json!({"s": "ab"})).is_empty());
        let f = json!({"properties": {"t": {"type": "string", "format": "date-time"}}});
        assert_eq!(
            messages(&run(f, json!({"t": "now"}))),
            [r#"t: Invalid value: "now": t in body must be of type date-time: "now""#]
        );
    }

    #[test]
    fn arrays_and_enums() {
        let schema = json!({"properties": {"l": {"type": "array", "maxItems": 2, "minItems": 1,
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "enum": ["a", "b"]}}}}}});
        assert_eq!(
            messages(&run(
                schema.clone(),
                json!({"l": [{"name": "a"}, {"name": "c"}, {}]})
            )),
            [
                r#"l[1].name: Unsupported value: "c": supported values: "a", "b""#,
                "l[2].name: Required value",
                "l: Too many: 3: must have at most 2 items",
            ]
        );
        assert_eq!(
            messages(&run(schema, json!({"l": []}))),
            ["l: Invalid value: 0: l in body should have at least 1 items"]
        );
        let e = json!({"properties": {"n": {"type": "integer", "enum": [1, 2]}}});
        assert!(run(e.clone(), json!({"n": 2})).is_empty());
        assert_eq!(
            messages(&run(e, json!({"n": 3}))),
            [r#"n: Unsupported value: 3: supported values: "1", "2""#]
        );
    }

    #[test]
    fn maps() {
        let schema = json!({"properties": {"m": {"type": "object", "maxProperties": 1,
            "additionalProperties": {"type": "integer", "minimum": 0}}}});
        assert_eq!(
            messages(&run(schema.clone(), json!({"m": {"a": -1}}))),
            ["m.a: Invalid value: -1: m.a in body should be greater than or equal to 0"]
        );
        assert_eq!(
            messages(&run(schema, json!({"m": {"a": 1, "b": 2}}))),
            ["m: Too many: 2: must have at most 1 items"]
        );
        let root = json!({"additionalProperties": {"type": "string"}});
        assert_eq!(
            messages(&run(root, json!({"k": 1}))),
            [r#"k: Invalid value: "integer": .k in body must be of type string: "integer""#]
        );
    }
}
