//! The case tables of `sigs.k8s.io/structured-merge-diff`'s `merge` package, transcribed as data
//! (`tests/fixtures/smd/*.json`, made by `transcribe.py` from the public test files), run
//! against [`ManagedFields`]: every operation in order (apply, forced apply, update), the
//! conflicts each must report, then the object and every manager's fields exactly as the Go
//! updater leaves them.
//!
//! A schema in a fixture is structured-merge-diff's own schema language; [`SmdSchema`] answers
//! the [`Schema`] questions from it. Cases known to differ from the Go updater on purpose are
//! listed in `KNOWN` with the reason; everything else must pass, and the score is printed and
//! checked against the README.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_fieldpath::{ListType, ManagedFields, Schema, Scope, Set, TypePath, Writer, render_path};
use serde_json::{Map, Value};

// === SMD schemas ===

/// A structured-merge-diff schema (`types:` with named `map`, `list`, `scalar`, `untyped`).
struct SmdSchema {
    types: BTreeMap<String, Value>,
    /// The root type; `None` for the deduced parser (maps granular, lists atomic).
    root: Option<String>,
}

enum Node<'a> {
    Atom(&'a Value),
    Deduced,
    Atomic,
}

impl SmdSchema {
    fn new(schema: Option<&Value>, root: Option<String>) -> Self {
        let mut types = BTreeMap::new();
        if let Some(list) = schema
            .and_then(|s| s.get("types"))
            .and_then(Value::as_array)
        {
            for t in list {
                if let Some(name) = t.get("name").and_then(Value::as_str) {
                    types.insert(name.to_owned(), t.clone());
                }
            }
        }
        Self { types, root }
    }

    /// Resolves a type reference (`namedType` or an inline atom).
    fn deref<'a>(&'a self, r: &'a Value) -> Node<'a> {
        match r.get("namedType").and_then(Value::as_str) {
            Some("__untyped_deduced_") => Node::Deduced,
            Some("__untyped_atomic_") => Node::Atomic,
            Some(name) => match self.types.get(name) {
                Some(t) => self.deref(t),
                None => Node::Deduced,
            },
            None if r.get("untyped").is_some() => {
                match r
                    .pointer("/untyped/elementRelationship")
                    .and_then(Value::as_str)
                {
                    Some("separable") => Node::Deduced,
                    _ => Node::Atomic,
                }
            }
            None => Node::Atom(r),
        }
    }

    fn resolve(&self, path: TypePath<'_>) -> Node<'_> {
        let Some(root) = &self.root else {
            return Node::Deduced;
        };
        let Some(mut node) = self.types.get(root).map(|t| self.deref(t)) else {
            return Node::Deduced;
        };
        for seg in path {
            node = match node {
                Node::Deduced => Node::Deduced,
                Node::Atomic => Node::Atomic,
                Node::Atom(a) => {
                    if *seg == ferry_fieldpath::LIST_ELEMENT {
                        match a.pointer("/list/elementType") {
                            Some(e) => self.deref(e),
                            None => Node::Deduced,
                        }
                    } else if let Some(m) = a.get("map") {
                        let field = m
                            .get("fields")
                            .and_then(Value::as_array)
                            .and_then(|fs| {
                                fs.iter()
                                    .find(|f| f.get("name").and_then(Value::as_str) == Some(seg))
                            })
                            .and_then(|f| f.get("type"));
                        match field.or_else(|| m.get("elementType")) {
                            Some(t) => self.deref(t),
                            None => Node::Deduced,
                        }
                    } else {
                        Node::Deduced
                    }
                }
            };
        }
        node
    }
}

impl Schema for SmdSchema {
    fn list_type(&self, path: TypePath<'_>) -> Option<ListType> {
        let Node::Atom(a) = self.resolve(path) else {
            return None;
        };
        let list = a.get("list")?;
        match list.get("elementRelationship").and_then(Value::as_str) {
            Some("associative") => {
                let keys: Vec<String> = list
                    .get("keys")
                    .and_then(Value::as_array)
                    .map(|ks| {
                        ks.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                if keys.is_empty() {
                    return Some(ListType::Set);
                }
                let mut key_defaults = Vec::new();
                let elem = list.get("elementType").map(|e| self.deref(e));
                if let Some(Node::Atom(e)) = elem
                    && let Some(fields) = e.pointer("/map/fields").and_then(Value::as_array)
                {
                    for f in fields {
                        if let (Some(name), Some(d)) =
                            (f.get("name").and_then(Value::as_str), f.get("default"))
                            && keys.iter().any(|k| k == name)
                        {
                            key_defaults.push((name.to_owned(), d.clone()));
                        }
                    }
                }
                Some(ListType::Map { keys, key_defaults })
            }
            _ => Some(ListType::Atomic),
        }
    }

    fn is_named_field(&self, path: TypePath<'_>, name: &str) -> bool {
        let Node::Atom(a) = self.resolve(path) else {
            return false;
        };
        a.pointer("/map/fields")
            .and_then(Value::as_array)
            .is_some_and(|fs| {
                fs.iter()
                    .any(|f| f.get("name").and_then(Value::as_str) == Some(name))
            })
    }

    fn is_atomic_map(&self, path: TypePath<'_>) -> bool {
        match self.resolve(path) {
            Node::Atomic => true,
            Node::Deduced => false,
            Node::Atom(a) => {
                a.pointer("/map/elementRelationship")
                    .and_then(Value::as_str)
                    == Some("atomic")
            }
        }
    }
}

// === running a case ===

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn set_of(paths: &Value) -> Set {
    let mut s = Set::new();
    for p in paths.as_array().into_iter().flatten() {
        let els: Vec<&str> = p
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        s.insert(&els);
    }
    s
}

/// Runs one case; `Err` says how it differs from the Go updater.
fn run_case(case: &Value, schema: &SmdSchema, expect_error: bool) -> Result<(), String> {
    let mut live: Option<Value> = None;
    let mut mf = ManagedFields::default();
    let mut failed_somewhere = false;
    for (i, op) in case
        .get("ops")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = str_of(op, "op");
        let manager = str_of(op, "manager");
        let version = str_of(op, "version");
        let object = op.get("object").cloned().unwrap_or(Value::Null);
        let w = Writer {
            manager,
            api_version: version,
            subresource: None,
            time: "2026-01-01T00:00:00Z",
        };
        let expected: Vec<(String, String)> = op
            .get("conflicts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let p: Vec<&str> = c
                    .get("path")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                (str_of(c, "manager").to_owned(), render_path(&p))
            })
            .collect();
        match kind {
            "update" => {
                mf.update(live.as_ref(), &Value::Null, &object, &w, Scope::All, schema);
                live = Some(object);
            }
            "apply" | "force_apply" => {
                let force = kind == "force_apply";
                match mf.apply(live.as_ref(), &object, &w, Scope::All, force, schema) {
                    Ok(new) => {
                        if !expected.is_empty() {
                            return Err(format!(
                                "op {i} ({kind} by {manager}): expected conflicts {expected:?}, got none"
                            ));
                        }
                        live = Some(new);
                    }
                    Err(err) => {
                        let mut got: Vec<(String, String)> = err
                            .conflicts()
                            .iter()
                            .map(|c| (c.manager.clone(), c.field.clone()))
                            .collect();
                        got.sort();
                        let mut want = expected.clone();
                        want.sort();
                        if expect_error {
                            failed_somewhere = true;
                        } else if got.is_empty() || got != want {
                            return Err(format!(
                                "op {i} ({kind} by {manager}): expected conflicts {want:?}, got {err}"
                            ));
                        }
                    }
                }
            }
            other => return Err(format!("unknown operation {other}")),
        }
    }
    if expect_error {
        return if failed_somewhere {
            Ok(())
        } else {
            Err("expected an operation to be refused".into())
        };
    }
    if let Some(want) = case.get("object") {
        let got = live.clone().unwrap_or(Value::Null);
        let want = if want.is_null() {
            Value::Null
        } else {
            want.clone()
        };
        if got != want {
            return Err(format!("object:\n  want {want}\n  got  {got}"));
        }
    }
    if let Some(Value::Object(want)) = case.get("managed") {
        let mut got: BTreeMap<String, (String, Set)> = BTreeMap::new();
        for e in &mf.entries {
            if e.set.is_empty() {
                return Err(format!("manager {} has an empty set", e.manager));
            }
            if got
                .insert(e.manager.clone(), (e.api_version.clone(), e.set.clone()))
                .is_some()
            {
                return Err(format!("manager {} has two entries", e.manager));
            }
        }
        let want: BTreeMap<String, (String, Set)> = want
            .iter()
            .map(|(m, v)| {
                (
                    m.clone(),
                    (str_of(v, "version").to_owned(), set_of(&v["set"])),
                )
            })
            .filter(|(_, (_, s))| !s.is_empty())
            .collect();
        if got != want {
            let show = |m: &BTreeMap<String, (String, Set)>| -> Map<String, Value> {
                m.iter()
                    .map(|(k, (v, s))| {
                        (
                            k.clone(),
                            serde_json::json!({"version": v, "fields": s.to_fields_v1()}),
                        )
                    })
                    .collect()
            };
            return Err(format!(
                "managers:\n  want {}\n  got  {}",
                Value::Object(show(&want)),
                Value::Object(show(&got))
            ));
        }
    }
    Ok(())
}

/// Cases that differ from the Go updater on purpose, with the reason (also in the README).
const KNOWN: &[(&str, &str)] = &[];

#[test]
fn structured_merge_diff_merge_tables() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smd");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut total, mut passed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut known_seen = Vec::new();
    for f in &files {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json");
        skipped += doc["skipped"].as_array().map_or(0, Vec::len);
        for suite in doc["suites"].as_array().into_iter().flatten() {
            let sname = str_of(suite, "schema");
            let def = doc["schemas"].get(sname);
            let root = def
                .and_then(|d| d.get("root"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let schema_doc = def.and_then(|d| d.get("schema"));
            let expect_error = suite["expect_error"].as_bool().unwrap_or(false);
            for case in suite["cases"].as_array().into_iter().flatten() {
                total += 1;
                let id = format!("{}/{}", str_of(suite, "test"), str_of(case, "name"));
                // A parser without a root names its types after the versions.
                let root = root.clone().or_else(|| {
                    case["ops"][0]
                        .get("version")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                let schema = SmdSchema::new(
                    schema_doc,
                    if sname == "DeducedParser" { None } else { root },
                );
                let result = run_case(case, &schema, expect_error);
                let known = KNOWN.iter().find(|(k, _)| *k == id);
                match (result, known) {
                    (Ok(()), None) => passed += 1,
                    (Ok(()), Some(_)) => {
                        failures.push(format!("{id}: passes but is listed as known"))
                    }
                    (Err(_), Some(_)) => known_seen.push(id),
                    (Err(e), None) => failures.push(format!("{id}: {e}")),
                }
            }
        }
    }
    println!(
        "structured-merge-diff merge tables: {passed}/{total} pass, {} known differences, {skipped} not transcribable",
        known_seen.len()
    );
    assert!(total > 0, "no fixtures found");
    // The score the README states is this run's.
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .expect("README");
    assert!(
        failures.is_empty() && readme.contains(&format!("{passed}/{total} pass")),
        "README.md does not state {passed}/{total}"
    );
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
