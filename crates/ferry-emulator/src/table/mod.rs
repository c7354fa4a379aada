//! `Table` answers, as `kubectl get` asks for them (`Accept:
//! application/json;as=Table;g=meta.k8s.io;v=v1`): the columns and cells a kube-apiserver
//! prints for its built-in kinds (its `pkg/printers/internalversion`), the
//! `additionalPrinterColumns` of a CRD version (the apiextensions table convertor: `type:
//! date` as an age, `Age` by default when a version has none), and `Name`, `Created At` for
//! kinds without a printer (the default table convertor: Roles, CRDs, LimitRanges, ...).
//!
//! As a real server does, the answer carries every column with its `priority`, the wide
//! ones included; kubectl shows priority > 0 columns only with `-o wide`. Rows carry the
//! object as `includeObject` asks: `PartialObjectMetadata` by default, the object, or none.

use serde_json::{Value, json};
mod cells;
mod printers;

use crate::resources::ResourceType;
use crate::route::Params;

/// Whether the client asked for a `Table` first (as `kubectl get` does).
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|f| f.contains("as=Table"))
}

use cells::{name, parse_time, since, text};
use printers::{CREATED_DOC, Column, NAME, col, printer};

/// A `meta.k8s.io/v1 Table` of objects (one, or a list with its `metadata`).
pub fn table(
    rt: &ResourceType,
    objects: &[Value],
    list_meta: Option<&Value>,
    params: &Params,
) -> Value {
    let (columns, rows): (Vec<Value>, Vec<Vec<Value>>) = match &rt.custom {
        Some(custom) => custom_columns(&custom.printer_columns, objects),
        None => match printer(&rt.group, &rt.kind) {
            Some((columns, cells)) => (
                columns.iter().map(definition).collect(),
                objects.iter().map(cells).collect(),
            ),
            None => (
                vec![
                    definition(&NAME),
                    definition(&Column {
                        kind: "date",
                        ..col("Created At", CREATED_DOC)
                    }),
                ],
                objects
                    .iter()
                    .map(|o| vec![name(o), json!(text(o, "/metadata/creationTimestamp"))])
                    .collect(),
            ),
        },
    };
    let include = params.get("includeObject").unwrap_or("Metadata");
    let rows: Vec<Value> = objects
        .iter()
        .zip(rows)
        .map(|(o, cells)| {
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"].clone()}),
            };
            let mut row = json!({"cells": cells, "object": object});
            if rt.group.is_empty() && rt.kind == "Pod" {
                let (reason, message) = match text(o, "/status/phase").as_str() {
                    "Succeeded" => ("Succeeded", "The pod has completed successfully."),
                    "Failed" => ("Failed", "The pod failed."),
                    _ => ("", ""),
                };
                if !reason.is_empty() {
                    row["conditions"] = json!([{"type": "Completed", "status": "True",
                        "reason": reason, "message": message}]);
                }
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    for key in ["resourceVersion", "continue", "remainingItemCount"] {
        if let Some(v) = list_meta
            .and_then(|m| m.get(key))
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
        {
            metadata[key] = v.clone();
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": columns, "rows": rows})
}

fn definition(c: &Column) -> Value {
    let format = if matches!(c.name, "Name" | "Attacher") {
        "name"
    } else {
        ""
    };
    json!({"name": c.name, "type": c.kind, "format": format,
        "description": c.description, "priority": c.priority})
}

/// A CRD version's columns, as the apiextensions server's table convertor makes them.
fn custom_columns(printer_columns: &[Value], objects: &[Value]) -> (Vec<Value>, Vec<Vec<Value>>) {
    let default_age = [
        json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
        "description": CREATED_DOC}),
    ];
    let printer_columns = if printer_columns.is_empty() {
        &default_age[..]
    } else {
        printer_columns
    };
    let mut columns = vec![definition(&NAME)];
    for p in printer_columns {
        let path = p["jsonPath"].as_str().unwrap_or_default();
        let description = p["description"]
            .as_str()
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!("Custom resource definition column (in JSONPath format): {path}")
            });
        columns.push(json!({"name": p["name"], "type": p["type"],
            "format": p["format"].as_str().unwrap_or_default(),
            "description": description, "priority": p["priority"].as_i64().unwrap_or(0)}));
    }
    let rows = objects
        .iter()
        .map(|o| {
            let mut cells = vec![name(o)];
            for p in printer_columns {
                let path = p["jsonPath"].as_str().unwrap_or_default();
                let kind = p["type"].as_str().unwrap_or("string");
                cells.push(match jsonpath_first(o, path) {
                    None => Value::Null,
                    Some(v) => custom_cell(kind, &v),
                });
            }
            cells
        })
        .collect();
    (columns, rows)
}

/// A custom column's cell: strings printed as JSONPath prints them, the other types as
/// their JSON value when it has that type, and `date` as an age.
fn custom_cell(kind: &str, v: &Value) -> Value {
    match (kind, v) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Number(_) | Value::Bool(_)) => json!(v.to_string()),
        ("string", _) => json!(v.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match parse_time(s) {
            Some(t) => json!(since(t)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// The first value a printer column's JSONPath finds: `.a.b`, `['a.b']`, `[0]`, `[*]`,
/// and filters `[?(@.type=="Ready")]` (`==`, `!=`), optionally wrapped in `{}`.
fn jsonpath_first(o: &Value, path: &str) -> Option<Value> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let mut current = vec![o.clone()];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        let (step, after) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            (Step::Key(key.to_owned()), &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = closing_bracket(r)?;
            let inner = r[..end].trim();
            let step = if inner == "*" {
                Step::All
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')'))
            {
                Step::Filter(filter.to_owned())
            } else if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|q| q.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')))
            {
                Step::Key(q.to_owned())
            } else {
                Step::Index(inner.parse().ok()?)
            };
            (step, &r[end + 1..])
        } else {
            return None;
        };
        current = current.iter().flat_map(|v| step.apply(v)).collect();
        rest = after;
    }
    current.into_iter().next()
}

fn closing_bracket(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

enum Step {
    Key(String),
    Index(i64),
    All,
    Filter(String),
}

impl Step {
    fn apply(&self, v: &Value) -> Vec<Value> {
        match self {
            Step::Key(k) if k.is_empty() => vec![v.clone()],
            Step::Key(k) => v.get(k).cloned().into_iter().collect(),
            Step::Index(i) => {
                let Some(a) = v.as_array() else {
                    return Vec::new();
                };
                let i = if *i < 0 { a.len() as i64 + i } else { *i };
                usize::try_from(i)
                    .ok()
                    .and_then(|i| a.get(i))
                    .cloned()
                    .into_iter()
                    .collect()
            }
            Step::All => match v {
                Value::Array(a) => a.clone(),
                Value::Object(m) => m.values().cloned().collect(),
                _ => Vec::new(),
            },
            Step::Filter(f) => {
                let Some(a) = v.as_array() else {
                    return Vec::new();
                };
                let (lhs, op, rhs) = match f.split_once("==") {
                    Some((l, r)) => (l, true, r),
                    None => match f.split_once("!=") {
                        Some((l, r)) => (l, false, r),
                        None => return Vec::new(),
                    },
                };
                let want = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                let field = lhs.trim().trim_start_matches('@');
                a.iter()
                    .filter(|item| {
                        let got = jsonpath_first(item, field).map(|g| match g {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                        (got.as_deref() == Some(want)) == op
                    })
                    .cloned()
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths_find_what_kubectl_finds() {
        let o = json!({"status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "Done"}]},
            "spec": {"a.b": {"c": 3}, "list": [1, 2, 3]}});
        let find = |p: &str| jsonpath_first(&o, p);
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type!="Ready")].type"#),
            Some(json!("Progressing"))
        );
        assert_eq!(find(".spec['a.b'].c"), Some(json!(3)));
        assert_eq!(find(".spec.list[1]"), Some(json!(2)));
        assert_eq!(find(".spec.list[-1]"), Some(json!(3)));
        assert_eq!(find(".spec.list[*]"), Some(json!(1)));
        assert_eq!(find("{.spec.list[0]}"), Some(json!(1)));
        assert_eq!(find(".spec.missing"), None);
    }

    #[test]
    fn custom_columns_keep_priority_and_show_dates_as_ages() {
        let columns = [
            json!({"name": "Sync", "type": "string", "jsonPath": ".status.sync"}),
            json!({"name": "Rev", "type": "string", "jsonPath": ".status.rev", "priority": 10}),
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
            json!({"name": "N", "type": "integer", "jsonPath": ".spec.n"}),
        ];
        let created = (time::OffsetDateTime::now_utc() - time::Duration::seconds(30))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format");
        let o = json!({"metadata": {"name": "x", "creationTimestamp": created},
            "status": {"sync": "Synced"}, "spec": {"n": 4.0}});
        let (defs, rows) = custom_columns(&columns, &[o]);
        let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(names, ["Name", "Sync", "Rev", "Age", "N"], "one Age column");
        assert_eq!(defs[2]["priority"], 10);
        assert_eq!(rows[0][1], json!("Synced"));
        assert_eq!(rows[0][2], Value::Null, "a missing value is an empty cell");
        assert!(
            rows[0][3].as_str().is_some_and(|a| a.ends_with('s')),
            "{}",
            rows[0][3]
        );
        assert_eq!(rows[0][4], json!(4));
        let (defs, _) = custom_columns(&[], &[]);
        let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(names, ["Name", "Age"], "a version without columns gets Age");
    }
}
