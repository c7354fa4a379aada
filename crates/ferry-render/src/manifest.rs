//! One manifest file to Kubernetes objects: read it (bounded), split it into documents, skip
//! empty ones, expand `List`s, and check that every object names itself.
//!
//! As in Argo CD, a `.json` file holds exactly one JSON value; JSON numbers keep their JSON
//! meaning (`1.0` stays a float, as apimachinery decodes it), duplicate keys are refused as in
//! YAML, and integers beyond `int64` become floats as they do on the API server.

use std::fs::File;
use std::io::Read as _;

use serde::de::{self, DeserializeSeed as _, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::walk::{Candidate, Format};
use crate::yaml::{self, AliasBudget, StreamError};
use crate::{Limits, RenderError, RenderedObject};

/// Running totals of one render, shared by its files.
#[derive(Debug)]
pub(crate) struct Progress {
    pub documents: usize,
    pub alias_budget: AliasBudget,
}

impl Progress {
    pub(crate) fn new(limits: &Limits) -> Progress {
        Progress {
            documents: 0,
            alias_budget: AliasBudget {
                remaining: limits.max_alias_nodes,
                limit: limits.max_alias_nodes,
            },
        }
    }
}

/// Reads `file` and appends its objects to `out`.
pub(crate) fn render_file(
    file: &Candidate,
    limits: &Limits,
    progress: &mut Progress,
    out: &mut Vec<RenderedObject>,
) -> Result<(), RenderError> {
    let text = read_text(file, limits)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut on_document = |document: usize, value: Value| -> Result<(), RenderError> {
        progress.documents += 1;
        if progress.documents > limits.max_documents {
            return Err(RenderError::TooManyDocuments {
                file: file.rel.clone(),
                limit: limits.max_documents,
            });
        }
        push_objects(&file.rel, document, value, out)
    };
    match file.format {
        Format::Json => {
            let value = parse_json(text).map_err(|(line, column, message)| RenderError::Parse {
                file: file.rel.clone(),
                document: 1,
                line,
                column,
                message,
            })?;
            on_document(1, value)
        }
        Format::Yaml => yaml::for_each_document(text, &mut progress.alias_budget, &mut on_document)
            .map_err(|err| match err {
                StreamError::Stopped(err) => err,
                StreamError::Yaml { document, error } => RenderError::Parse {
                    file: file.rel.clone(),
                    document,
                    line: error.line,
                    column: error.column,
                    message: error.message,
                },
            }),
    }
}

/// Parses a command's standard output the way Argo CD reads a config management plugin's:
/// a stream of JSON values when the first non-blank character is `{` (as apimachinery's
/// `YAMLOrJSONDecoder` sniffs it), one JSON array whose elements count as documents when it
/// is `[`, and a multi-document YAML stream otherwise. Each document then follows the same
/// rules as a file: empty ones skipped, `*List`s expanded, `apiVersion`, `kind` and
/// `metadata.name` required, at most `limits.max_documents` documents and
/// `limits.max_alias_nodes` alias-expanded nodes. `label` stands in for the file name.
pub(crate) fn render_stream(
    label: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<RenderedObject>, RenderError> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let (line, column) = position(&bytes[..err.valid_up_to()]);
        RenderError::Parse {
            file: label.to_string(),
            document: 1,
            line,
            column,
            message: "output is not valid UTF-8".to_string(),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut progress = Progress::new(limits);
    let mut out = Vec::new();
    let mut on_document = |document: usize, value: Value| -> Result<(), RenderError> {
        progress.documents += 1;
        if progress.documents > limits.max_documents {
            return Err(RenderError::TooManyDocuments {
                file: label.to_string(),
                limit: limits.max_documents,
            });
        }
        push_objects(label, document, value, &mut out)
    };
    let parse_error =
        |document: usize, (line, column, message): (usize, usize, String)| RenderError::Parse {
            file: label.to_string(),
            document,
            line,
            column,
            message,
        };
    match text.trim_start().chars().next() {
        Some('{') => {
            let stream = serde_json::Deserializer::from_str(text).into_iter::<Strict>();
            let mut document = 0;
            for next in stream {
                document += 1;
                let Strict(value) = next.map_err(|err| parse_error(document, located(err)))?;
                on_document(document, value)?;
            }
        }
        Some('[') => match parse_json(text).map_err(|err| parse_error(1, err))? {
            Value::Array(items) => {
                for (index, item) in items.into_iter().enumerate() {
                    on_document(index + 1, item)?;
                }
            }
            other => on_document(1, other)?,
        },
        _ => {
            let mut budget = AliasBudget {
                remaining: limits.max_alias_nodes,
                limit: limits.max_alias_nodes,
            };
            yaml::for_each_document(text, &mut budget, &mut on_document).map_err(
                |err| match err {
                    StreamError::Stopped(err) => err,
                    StreamError::Yaml { document, error } => RenderError::Parse {
                        file: label.to_string(),
                        document,
                        line: error.line,
                        column: error.column,
                        message: error.message,
                    },
                },
            )?;
        }
    }
    Ok(out)
}

/// 1-based line and column just after `valid`.
fn position(valid: &[u8]) -> (usize, usize) {
    let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
    let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, column)
}

/// The file's text, reading at most one byte past the limit (the file may have grown since
/// the walk measured it).
fn read_text(file: &Candidate, limits: &Limits) -> Result<String, RenderError> {
    let io_err = |source| RenderError::Io {
        path: file.rel.clone(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(&file.real)
        .map_err(io_err)?
        .take(limits.max_file_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(RenderError::TooLarge {
            file: file.rel.clone(),
            limit: limits.max_file_bytes,
        });
    }
    String::from_utf8(bytes).map_err(|err| {
        let (line, column) = position(&err.as_bytes()[..err.utf8_error().valid_up_to()]);
        RenderError::Parse {
            file: file.rel.clone(),
            document: 1,
            line,
            column,
            message: "file is not valid UTF-8".to_string(),
        }
    })
}

// === Documents to objects ===

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// Appends the objects of one document: none for `null`, the items of a `*List`, or itself.
pub(crate) fn push_objects(
    file: &str,
    document: usize,
    value: Value,
    out: &mut Vec<RenderedObject>,
) -> Result<(), RenderError> {
    let object = match value {
        Value::Null => return Ok(()),
        Value::Object(object) => object,
        other => {
            return Err(RenderError::NotAnObject {
                file: file.to_string(),
                document,
                item: None,
                found: describe(&other),
            });
        }
    };
    let is_list = object
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && matches!(object.get("items"), Some(Value::Array(_) | Value::Null));
    if !is_list {
        check_fields(file, document, "", &object)?;
        out.push(RenderedObject {
            file: file.to_string(),
            document,
            item: None,
            object: Value::Object(object),
        });
        return Ok(());
    }
    let items = match object.into_iter().find(|(key, _)| key == "items") {
        Some((_, Value::Array(items))) => items,
        _ => Vec::new(),
    };
    for (index, item) in items.into_iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(RenderError::NotAnObject {
                file: file.to_string(),
                document,
                item: Some(index),
                found: describe(&item),
            });
        };
        check_fields(file, document, &format!("items[{index}]."), &item)?;
        out.push(RenderedObject {
            file: file.to_string(),
            document,
            item: Some(index),
            object: Value::Object(item),
        });
    }
    Ok(())
}

fn check_fields(
    file: &str,
    document: usize,
    prefix: &str,
    object: &Map<String, Value>,
) -> Result<(), RenderError> {
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let missing = if !non_empty(object.get("apiVersion")) {
        Some("apiVersion")
    } else if !non_empty(object.get("kind")) {
        Some("kind")
    } else if !non_empty(object.get("metadata").and_then(|m| m.get("name")))
        // Hooks may be named by `generateName` (the controller refuses it elsewhere).
        && !non_empty(object.get("metadata").and_then(|m| m.get("generateName")))
    {
        Some("metadata.name")
    } else {
        None
    };
    match missing {
        None => Ok(()),
        Some(field) => Err(RenderError::MissingField {
            file: file.to_string(),
            document,
            field: format!("{prefix}{field}"),
        }),
    }
}

// === JSON ===

/// `(line, column, message)` of a serde_json error, without the position serde_json appends
/// to its message.
fn located(err: serde_json::Error) -> (usize, usize, String) {
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    (err.line().max(1), err.column().max(1), message)
}

/// One JSON value, duplicate keys refused; `(line, column, message)` on error.
pub(crate) fn parse_json(text: &str) -> Result<Value, (usize, usize, String)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue.deserialize(&mut de).map_err(located)?;
    de.end().map_err(|err| {
        let (line, column, _) = located(err);
        (
            line,
            column,
            "found more than one JSON value; a .json file holds a single object".to_string(),
        )
    })?;
    Ok(value)
}

/// A value read with [`StrictValue`], for `serde_json`'s stream reader.
struct Strict(Value);

impl<'de> de::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        StrictValue.deserialize(deserializer).map(Strict)
    }
}

/// Deserializes a `serde_json::Value`, refusing duplicate keys and turning integers beyond
/// `int64` into floats.
struct StrictValue;

impl<'de> de::DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(v as f64),
        })
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        StrictValue.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in an object"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_keep_json_meaning() {
        assert_eq!(
            parse_json(r#"{"a": 1.0, "b": 18446744073709551615, "c": [null, true]}"#),
            Ok(json!({"a": 1.0, "b": 1.8446744073709552e19, "c": [null, true]}))
        );
        let (line, column, message) =
            parse_json("{\n  \"a\": 1,\n  \"a\": 2\n}").expect_err("duplicate keys");
        assert_eq!(line, 3, "{column} {message}");
        assert!(message.contains("duplicate key \"a\""), "{message}");
        assert!(
            parse_json("{} {}")
                .expect_err("two values")
                .2
                .contains("more than one")
        );
    }

    #[test]
    fn lists_expand_and_fields_are_required() {
        let mut out = Vec::new();
        let list = json!({"apiVersion": "v1", "kind": "ConfigMapList", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}},
        ]});
        push_objects("f.yaml", 2, list, &mut out).expect("a valid list");
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].document, out[1].item), (2, Some(1)));
        let bad = json!({"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap"}]});
        match push_objects("f.yaml", 1, bad, &mut out) {
            Err(RenderError::MissingField { field, .. }) => {
                assert_eq!(field, "items[0].metadata.name")
            }
            other => panic!("expected MissingField, got {other:?}"),
        }
        // A kind ending in "List" without `items` is an ordinary object.
        let plain = json!({"apiVersion": "x/v1", "kind": "AccessList", "metadata": {"name": "n"}});
        push_objects("f.yaml", 1, plain, &mut out).expect("an ordinary object");
        assert_eq!(out.len(), 3);
    }
}
