//! [`StructuralSchema`]: a CRD version's `openAPIV3Schema`, parsed into the keywords the API
//! server acts on. Unknown keywords (descriptions, examples, `x-kubernetes-validations`, ...)
//! are ignored; malformed known keywords are a [`SchemaError`].

use serde_json::{Map, Value};
use thiserror::Error;

use crate::pattern::Pattern;

/// A keyword of the schema has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// Where, relative to `openAPIV3Schema` (`properties[spec].minimum`); empty at the root.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The offending value.
    pub value: Value,
}

/// `additionalProperties`: a boolean or a schema for the values of a map.
#[derive(Debug, Clone, PartialEq)]
pub enum AdditionalProperties {
    /// `true` (anything) or `false` (no other keys).
    Allows(bool),
    /// Every value not named in `properties` follows this schema.
    Schema(Box<StructuralSchema>),
}

/// One node of a structural schema, with the keywords the API server defaults, prunes and
/// validates with. Properties keep their order in the schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StructuralSchema {
    /// `type`: `object`, `array`, `string`, `integer`, `number` or `boolean`.
    pub ty: Option<String>,
    /// `properties`, in schema order.
    pub properties: Vec<(String, StructuralSchema)>,
    /// `required`.
    pub required: Vec<String>,
    /// `items`.
    pub items: Option<Box<StructuralSchema>>,
    /// `additionalProperties`.
    pub additional_properties: Option<AdditionalProperties>,
    /// `default` (a `null` default counts as none, as in the API server).
    pub default: Option<Value>,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `exclusiveMinimum` (OpenAPI v3.0: a boolean modifier of `minimum`).
    pub exclusive_minimum: bool,
    /// `exclusiveMaximum`.
    pub exclusive_maximum: bool,
    /// `multipleOf`.
    pub multiple_of: Option<f64>,
    /// `minLength`, in characters.
    pub min_length: Option<i64>,
    /// `maxLength`, in characters.
    pub max_length: Option<i64>,
    /// `pattern`.
    pub pattern: Option<Pattern>,
    /// `enum`.
    pub enum_values: Option<Vec<Value>>,
    /// `format`, kept only when the API server validates it (`date-time`, `uuid`, `email`, ...).
    pub format: Option<String>,
    /// `nullable`.
    pub nullable: bool,
    /// `minItems`.
    pub min_items: Option<i64>,
    /// `maxItems`.
    pub max_items: Option<i64>,
    /// `minProperties`.
    pub min_properties: Option<i64>,
    /// `maxProperties`.
    pub max_properties: Option<i64>,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown_fields: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded_resource: bool,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: `granular` or `atomic`.
    pub map_type: Option<String>,
}

const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

impl StructuralSchema {
    /// Parses an `openAPIV3Schema` value.
    pub fn from_value(value: &Value) -> Result<StructuralSchema, SchemaError> {
        parse(value, "")
    }

    /// The schema of property `name`, if declared.
    pub fn property(&self, name: &str) -> Option<&StructuralSchema> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, s)| s)
    }

    /// The schema for map values (`additionalProperties` given as a schema).
    pub fn additional_schema(&self) -> Option<&StructuralSchema> {
        match &self.additional_properties {
            Some(AdditionalProperties::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The schema for the value under key `name` of an object: its property, or else the
    /// `additionalProperties` schema.
    pub fn child(&self, name: &str) -> Option<&StructuralSchema> {
        self.property(name).or_else(|| self.additional_schema())
    }

    /// The types a value may have for the type check: `type`, or `integer,string` for
    /// `x-kubernetes-int-or-string`.
    pub(crate) fn types(&self) -> Vec<&str> {
        if self.int_or_string {
            vec!["integer", "string"]
        } else {
            self.ty.as_deref().into_iter().collect()
        }
    }
}

/// Formats the API server keeps (after `StripUnsupportedFormatsPostProcess`), with `-` removed.
pub(crate) const SUPPORTED_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
];

fn err(
    path: &str,
    keyword: &str,
    message: impl Into<String>,
    value: Option<&Value>,
) -> SchemaError {
    let path = if path.is_empty() {
        keyword.to_owned()
    } else if keyword.is_empty() {
        path.to_owned()
    } else {
        format!("{path}.{keyword}")
    };
    SchemaError {
        path,
        message: message.into(),
        value: value.cloned().unwrap_or(Value::Null),
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

fn parse(value: &Value, path: &str) -> Result<StructuralSchema, SchemaError> {
    let Value::Object(m) = value else {
        return Err(err(path, "", "must be an object", Some(value)));
    };
    let mut s = StructuralSchema {
        ty: opt_str(m, path, "type")?,
        ..Default::default()
    };
    if let Some(ty) = &s.ty
        && !TYPES.contains(&ty.as_str())
    {
        return Err(err(
            path,
            "type",
            format!("unsupported type {ty:?}"),
            m.get("type"),
        ));
    }
    if let Some(props) = m.get("properties") {
        let Value::Object(props) = props else {
            return Err(err(
                path,
                "properties",
                "must be an object",
                m.get("properties"),
            ));
        };
        for (k, v) in props {
            let child = parse(v, &join(path, &format!("properties[{k}]")))?;
            s.properties.push((k.clone(), child));
        }
    }
    s.required = str_list(m, path, "required")?;
    if let Some(items) = m.get("items") {
        if items.is_array() {
            return Err(err(
                path,
                "items",
                "must be a schema, not an array of schemas",
                m.get("items"),
            ));
        }
        s.items = Some(Box::new(parse(items, &join(path, "items"))?));
    }
    s.additional_properties = match m.get("additionalProperties") {
        None => None,
        Some(Value::Bool(b)) => Some(AdditionalProperties::Allows(*b)),
        Some(v @ Value::Object(_)) => Some(AdditionalProperties::Schema(Box::new(parse(
            v,
            &join(path, "additionalProperties"),
        )?))),
        Some(_) => {
            return Err(err(
                path,
                "additionalProperties",
                "must be a boolean or a schema",
                m.get("additionalProperties"),
            ));
        }
    };
    s.default = m.get("default").filter(|v| !v.is_null()).cloned();
    s.minimum = opt_f64(m, path, "minimum")?;
    s.maximum = opt_f64(m, path, "maximum")?;
    s.exclusive_minimum = opt_bool(m, path, "exclusiveMinimum")?;
    s.exclusive_maximum = opt_bool(m, path, "exclusiveMaximum")?;
    s.multiple_of = opt_f64(m, path, "multipleOf")?;
    s.min_length = opt_count(m, path, "minLength")?;
    s.max_length = opt_count(m, path, "maxLength")?;
    if let Some(p) = opt_str(m, path, "pattern")? {
        let compiled = Pattern::new(&p).map_err(|e| {
            err(
                path,
                "pattern",
                format!("invalid regular expression: {e}"),
                m.get("pattern"),
            )
        })?;
        s.pattern = Some(compiled);
    }
    s.enum_values = match m.get("enum") {
        None => None,
        Some(Value::Array(values)) => Some(values.clone()),
        Some(_) => return Err(err(path, "enum", "must be an array", m.get("enum"))),
    };
    s.format = opt_str(m, path, "format")?
        .filter(|f| SUPPORTED_FORMATS.contains(&f.replace('-', "").as_str()));
    s.nullable = opt_bool(m, path, "nullable")?;
    s.min_items = opt_count(m, path, "minItems")?;
    s.max_items = opt_count(m, path, "maxItems")?;
    s.min_properties = opt_count(m, path, "minProperties")?;
    s.max_properties = opt_count(m, path, "maxProperties")?;
    s.preserve_unknown_fields = opt_bool(m, path, "x-kubernetes-preserve-unknown-fields")?;
    s.int_or_string = opt_bool(m, path, "x-kubernetes-int-or-string")?;
    s.embedded_resource = opt_bool(m, path, "x-kubernetes-embedded-resource")?;
    s.list_type = opt_str(m, path, "x-kubernetes-list-type")?;
    if let Some(lt) = &s.list_type
        && !["atomic", "set", "map"].contains(&lt.as_str())
    {
        return Err(err(
            path,
            "x-kubernetes-list-type",
            format!("unsupported value {lt:?}: supported values are atomic, set, map"),
            m.get("x-kubernetes-list-type"),
        ));
    }
    s.list_map_keys = str_list(m, path, "x-kubernetes-list-map-keys")?;
    if s.list_type.as_deref() == Some("map") && s.list_map_keys.is_empty() {
        return Err(err(
            path,
            "x-kubernetes-list-map-keys",
            "must not be empty if x-kubernetes-list-type is map",
            m.get("x-kubernetes-list-map-keys"),
        ));
    }
    s.map_type = opt_str(m, path, "x-kubernetes-map-type")?;
    if let Some(mt) = &s.map_type
        && !["granular", "atomic"].contains(&mt.as_str())
    {
        return Err(err(
            path,
            "x-kubernetes-map-type",
            format!("unsupported value {mt:?}: supported values are granular, atomic"),
            m.get("x-kubernetes-map-type"),
        ));
    }
    Ok(s)
}

fn opt_str(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<String>, SchemaError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(path, key, "must be a string", m.get(key))),
    }
}

fn opt_bool(m: &Map<String, Value>, path: &str, key: &str) -> Result<bool, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(err(path, key, "must be a boolean", m.get(key))),
    }
}

fn opt_f64(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<f64>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(err(path, key, "must be a number", m.get(key))),
    }
}

fn opt_count(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<i64>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if i >= 0 => Ok(Some(i)),
            _ => Err(err(path, key, "must be a non-negative integer", m.get(key))),
        },
        Some(_) => Err(err(path, key, "must be a non-negative integer", m.get(key))),
    }
}

fn str_list(m: &Map<String, Value>, path: &str, key: &str) -> Result<Vec<String>, SchemaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(path, key, "must be an array of strings", m.get(key)))
            })
            .collect(),
        Some(_) => Err(err(path, key, "must be an array of strings", m.get(key))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_keywords() {
        let s = StructuralSchema::from_value(&json!({
            "type": "object",
            "description": "ignored",
            "properties": {
                "b": {"type": "string", "maxLength": 3, "pattern": "^x", "format": "date-time"},
                "a": {"type": "integer", "minimum": 1, "exclusiveMaximum": true, "maximum": 9, "default": 2},
                "m": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "atomic"},
                "l": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["name"]},
                "f": {"type": "string", "format": "int32-ish"},
                "n": {"type": "string", "nullable": true, "default": null}
            },
            "required": ["a"]
        }));
        let s = match s {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<&str> = s.properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["b", "a", "m", "l", "f", "n"]);
        assert_eq!(s.required, ["a"]);
        let a = s.property("a").cloned().unwrap_or_default();
        assert_eq!(
            (a.minimum, a.maximum, a.exclusive_maximum),
            (Some(1.0), Some(9.0), true)
        );
        assert_eq!(a.default, Some(json!(2)));
        let b = s.property("b").cloned().unwrap_or_default();
        assert_eq!(b.pattern.as_ref().map(Pattern::as_str), Some("^x"));
        assert_eq!(b.format.as_deref(), Some("date-time"));
        assert_eq!(s.property("f").and_then(|f| f.format.clone()), None);
        assert!(
            s.property("m")
                .is_some_and(|m| m.additional_schema().is_some())
        );
        assert_eq!(
            s.property("l").map(|l| l.list_map_keys.clone()),
            Some(vec!["name".to_owned()])
        );
        assert!(
            s.property("n")
                .is_some_and(|n| n.nullable && n.default.is_none())
        );
    }

    #[test]
    fn rejects_malformed_keywords() {
        let e = StructuralSchema::from_value(&json!({"properties": {"x": {"minimum": "1"}}}));
        assert_eq!(
            e.err().map(|e| e.to_string()),
            Some("properties[x].minimum: must be a number".to_owned())
        );
        assert!(StructuralSchema::from_value(&json!({"type": "thing"})).is_err());
        assert!(StructuralSchema::from_value(&json!({"pattern": "("})).is_err());
        assert!(StructuralSchema::from_value(&json!({"items": [{}]})).is_err());
        assert!(
            StructuralSchema::from_value(
                &json!({"type": "array", "x-kubernetes-list-type": "map"})
            )
            .is_err()
        );
        assert!(StructuralSchema::from_value(&json!("object")).is_err());
    }

    #[test]
    fn int_or_string_types() {
        let s = StructuralSchema::from_value(&json!({"x-kubernetes-int-or-string": true}))
            .unwrap_or_default();
        assert_eq!(s.types(), ["integer", "string"]);
    }
}
