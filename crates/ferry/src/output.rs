//! How `ferry app`, `appset` and `cluster` print: aligned tables, or the objects as JSON or
//! YAML (`-o json|yaml`).

use clap::ValueEnum;
use kube::api::DynamicObject;
use serde_json::{Value, json};

/// `-o`: a table for people, JSON or YAML for programs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

/// Rows (the first the header) in columns as wide as their widest cell.
pub(crate) fn print_rows(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// A listing as JSON or YAML (`{"items": [...]}`); `false` for a table, which the caller
/// prints.
pub(crate) fn emit_list(items: &[DynamicObject], output: Output) -> bool {
    if output == Output::Table {
        return false;
    }
    let items: Vec<Value> = items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .collect();
    emit(&json!({"items": items}), output);
    true
}

pub(crate) fn emit(v: &Value, output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        _ => print!("{}", ferry_diff::to_yaml(v)),
    }
}
