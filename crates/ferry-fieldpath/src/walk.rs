//! The structural operations of server-side apply over JSON objects: the field set an applied
//! configuration claims, the comparison of two versions of an object, the merge of a
//! configuration into a live object, and removal of paths.

use serde_json::{Map, Value};

use crate::schema::{LIST_ELEMENT, ListType, Schema};
use crate::set::Set;

/// What changed between two versions of an object, as sets of paths.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

/// Walk state: the element path (`f:spec`, `k:{..}`) and the type path (`spec`, `[]`).
struct Cursor<'s> {
    schema: &'s dyn Schema,
    path: Vec<String>,
    types: Vec<String>,
}

impl<'s> Cursor<'s> {
    fn new(schema: &'s dyn Schema) -> Self {
        Self {
            schema,
            path: Vec::new(),
            types: Vec::new(),
        }
    }

    fn type_path(&self) -> Vec<&str> {
        self.types.iter().map(String::as_str).collect()
    }

    fn list_type(&self) -> ListType {
        self.schema
            .list_type(&self.type_path())
            .unwrap_or(ListType::Atomic)
    }

    fn atomic_map(&self) -> bool {
        self.schema.is_atomic_map(&self.type_path())
    }

    fn push_field(&mut self, name: &str) {
        self.path.push(format!("f:{name}"));
        self.types.push(name.to_owned());
    }

    fn push_element(&mut self, element: String) {
        self.path.push(element);
        self.types.push(LIST_ELEMENT.to_owned());
    }

    fn pop(&mut self) {
        self.path.pop();
        self.types.pop();
    }
}

/// The `k:{...}` element of an associative-list item, with key defaults applied.
pub fn key_element(item: &Value, keys: &[String], defaults: &[(String, Value)]) -> Option<String> {
    let obj = item.as_object()?;
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        let v = obj.get(k).cloned().or_else(|| {
            defaults
                .iter()
                .find(|(d, _)| d == k)
                .map(|(_, v)| v.clone())
        })?;
        m.insert(k.clone(), v);
    }
    Some(format!("k:{}", Value::Object(m)))
}

fn value_element(v: &Value) -> String {
    format!("v:{v}")
}

// === field set of an applied configuration ===

/// The set of fields an applied configuration claims: every leaf, every atomic value, every
/// empty map, and every list element.
pub fn applied_set(config: &Value, schema: &dyn Schema) -> Set {
    let mut set = Set::new();
    let mut cur = Cursor::new(schema);
    walk_applied(config, &mut cur, &mut set);
    set
}

fn walk_applied(v: &Value, cur: &mut Cursor<'_>, set: &mut Set) {
    match v {
        Value::Object(m) => {
            if m.is_empty() || cur.atomic_map() {
                set.insert(&cur.path);
                return;
            }
            for (k, child) in m {
                cur.push_field(k);
                walk_applied(child, cur, set);
                cur.pop();
            }
        }
        Value::Array(items) => match cur.list_type() {
            ListType::Atomic => set.insert(&cur.path),
            _ if items.is_empty() => set.insert(&cur.path),
            ListType::Set => {
                for item in items {
                    cur.push_element(value_element(item));
                    set.insert(&cur.path);
                    cur.pop();
                }
            }
            ListType::Map { keys, key_defaults } => {
                for item in items {
                    let Some(el) = key_element(item, &keys, &key_defaults) else {
                        continue;
                    };
                    cur.push_element(el);
                    set.insert(&cur.path);
                    if let Value::Object(fields) = item {
                        for (k, child) in fields {
                            cur.push_field(k);
                            walk_applied(child, cur, set);
                            cur.pop();
                        }
                    }
                    cur.pop();
                }
            }
        },
        _ => {
            if !cur.path.is_empty() {
                set.insert(&cur.path);
            }
        }
    }
}

// === comparison ===

/// Compares two versions of an object. `old = None` compares against nothing at all.
pub fn compare(old: Option<&Value>, new: &Value, schema: &dyn Schema) -> Comparison {
    let mut out = Comparison::default();
    let mut cur = Cursor::new(schema);
    walk_compare(old, Some(new), &mut cur, &mut out);
    out
}

fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    cur: &mut Cursor<'_>,
    out: &mut Comparison,
) {
    match (old, new) {
        (None, None) => {}
        (None, Some(n)) => mark_subtree(n, cur, &mut out.added),
        // A typed zero value holds `null` for absent lists and maps: the server compares the
        // elements and does not count the container itself as added.
        (Some(Value::Null), Some(n @ (Value::Array(_) | Value::Object(_)))) => {
            let mut children = Set::new();
            mark_subtree(n, cur, &mut children);
            children.remove(&cur.path);
            out.added = out.added.union(&children);
            if children.is_empty() {
                out.modified.insert(&cur.path);
            }
        }
        (Some(o), None) => mark_subtree(o, cur, &mut out.removed),
        (Some(Value::Object(a)), Some(Value::Object(b))) if !cur.atomic_map() => {
            for (k, bv) in b {
                cur.push_field(k);
                walk_compare(a.get(k), Some(bv), cur, out);
                cur.pop();
            }
            for (k, av) in a {
                if !b.contains_key(k) {
                    cur.push_field(k);
                    walk_compare(Some(av), None, cur, out);
                    cur.pop();
                }
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => match cur.list_type() {
            ListType::Atomic => {
                if a != b {
                    out.modified.insert(&cur.path);
                }
            }
            ListType::Set => {
                for v in b.iter().filter(|v| !a.contains(v)) {
                    cur.push_element(value_element(v));
                    out.added.insert(&cur.path);
                    cur.pop();
                }
                for v in a.iter().filter(|v| !b.contains(v)) {
                    cur.push_element(value_element(v));
                    out.removed.insert(&cur.path);
                    cur.pop();
                }
            }
            ListType::Map { keys, key_defaults } => {
                let keyed = |items: &Vec<Value>| -> Vec<(String, Value)> {
                    items
                        .iter()
                        .filter_map(|i| {
                            key_element(i, &keys, &key_defaults).map(|k| (k, i.clone()))
                        })
                        .collect()
                };
                let (ka, kb) = (keyed(a), keyed(b));
                for (k, bv) in &kb {
                    let av = ka.iter().find(|(x, _)| x == k).map(|(_, v)| v);
                    cur.push_element(k.clone());
                    walk_compare(av, Some(bv), cur, out);
                    cur.pop();
                }
                for (k, av) in &ka {
                    if !kb.iter().any(|(x, _)| x == k) {
                        cur.push_element(k.clone());
                        walk_compare(Some(av), None, cur, out);
                        cur.pop();
                    }
                }
            }
        },
        (Some(a), Some(b)) => {
            if a != b {
                out.modified.insert(&cur.path);
            }
        }
    }
}

/// Marks `v`'s path and every granular path below it.
fn mark_subtree(v: &Value, cur: &mut Cursor<'_>, set: &mut Set) {
    if !cur.path.is_empty() {
        set.insert(&cur.path);
    }
    match v {
        Value::Object(m) if !cur.atomic_map() => {
            for (k, child) in m {
                cur.push_field(k);
                mark_subtree(child, cur, set);
                cur.pop();
            }
        }
        Value::Array(items) => match cur.list_type() {
            ListType::Atomic => {}
            ListType::Set => {
                for item in items {
                    cur.push_element(value_element(item));
                    set.insert(&cur.path);
                    cur.pop();
                }
            }
            ListType::Map { keys, key_defaults } => {
                for item in items {
                    if let Some(el) = key_element(item, &keys, &key_defaults) {
                        cur.push_element(el);
                        mark_subtree(item, cur, set);
                        cur.pop();
                    }
                }
            }
        },
        _ => {}
    }
}

// === merge ===

/// Merges an applied configuration into a live object: maps merge by key, associative lists by
/// key, set lists by value; everything else is replaced by the configuration's value.
pub fn merge(live: &Value, config: &Value, schema: &dyn Schema) -> Value {
    let mut cur = Cursor::new(schema);
    walk_merge(live, config, &mut cur)
}

fn walk_merge(live: &Value, config: &Value, cur: &mut Cursor<'_>) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !cur.atomic_map() => {
            let mut out = l.clone();
            for (k, cv) in c {
                cur.push_field(k);
                let merged = match l.get(k) {
                    Some(lv) => walk_merge(lv, cv, cur),
                    None => cv.clone(),
                };
                cur.pop();
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(c)) => match cur.list_type() {
            ListType::Atomic => config.clone(),
            ListType::Set => {
                let mut out = l.clone();
                for v in c {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Value::Array(out)
            }
            ListType::Map { keys, key_defaults } => {
                let key = |v: &Value| key_element(v, &keys, &key_defaults);
                let mut out: Vec<Value> = Vec::with_capacity(l.len().max(c.len()));
                for lv in l {
                    let lk = key(lv);
                    match c.iter().find(|cv| lk.is_some() && key(cv) == lk) {
                        Some(cv) => {
                            cur.push_element(lk.unwrap_or_default());
                            out.push(walk_merge(lv, cv, cur));
                            cur.pop();
                        }
                        None => out.push(lv.clone()),
                    }
                }
                for cv in c {
                    let ck = key(cv);
                    if ck.is_none() || !l.iter().any(|lv| key(lv) == ck) {
                        out.push(cv.clone());
                    }
                }
                Value::Array(out)
            }
        },
        _ => config.clone(),
    }
}

// === removal ===

/// Removes the paths of `remove` from `obj` (a removed map field, list element or set value
/// disappears with everything under it).
pub fn remove_paths(obj: &mut Value, remove: &Set, schema: &dyn Schema) {
    let mut cur = Cursor::new(schema);
    walk_remove(obj, remove, &mut cur);
}

fn walk_remove(v: &mut Value, remove: &Set, cur: &mut Cursor<'_>) {
    match v {
        Value::Object(m) => {
            let names: Vec<String> = m.keys().cloned().collect();
            for name in names {
                let Some(node) = remove.child(&format!("f:{name}")) else {
                    continue;
                };
                if node.is_member() {
                    m.remove(&name);
                    continue;
                }
                if let Some(child) = m.get_mut(&name) {
                    cur.push_field(&name);
                    walk_remove(child, node, cur);
                    cur.pop();
                }
            }
        }
        Value::Array(items) => {
            let lt = cur.list_type();
            let element = |item: &Value| match &lt {
                ListType::Set => Some(value_element(item)),
                ListType::Map { keys, key_defaults } => key_element(item, keys, key_defaults),
                ListType::Atomic => None,
            };
            let mut kept = Vec::with_capacity(items.len());
            for mut item in std::mem::take(items) {
                match element(&item).and_then(|el| remove.child(&el).map(|n| (el, n))) {
                    Some((_, node)) if node.is_member() => {}
                    Some((el, node)) => {
                        cur.push_element(el);
                        walk_remove(&mut item, node, cur);
                        cur.pop();
                        kept.push(item);
                    }
                    None => kept.push(item),
                }
            }
            *items = kept;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{TypePath, Untyped};
    use serde_json::json;

    struct Pods;
    impl Schema for Pods {
        fn list_type(&self, path: TypePath<'_>) -> Option<ListType> {
            match path {
                ["containers"] => Some(ListType::map(&["name"])),
                ["containers", "[]", "ports"] => Some(ListType::Map {
                    keys: vec!["containerPort".into(), "protocol".into()],
                    key_defaults: vec![("protocol".into(), json!("TCP"))],
                }),
                ["finalizers"] => Some(ListType::Set),
                _ => None,
            }
        }
        fn is_atomic_map(&self, path: TypePath<'_>) -> bool {
            path == ["selector"]
        }
    }

    #[test]
    fn applied_set_marks_items_and_defaults_keys() {
        let cfg = json!({"selector": {"a": "b"}, "containers": [{"name": "main", "image": "x", "ports": [{"containerPort": 80}]}]});
        let s = applied_set(&cfg, &Pods);
        assert_eq!(
            s.to_fields_v1(),
            json!({"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:image": {}, "f:name": {},
                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}},
                "f:selector": {}})
        );
    }

    #[test]
    fn compare_marks_new_maps_with_dot() {
        let c = compare(None, &json!({"data": {"k": "v"}}), &Untyped);
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:data": {".": {}, "f:k": {}}})
        );
        let c = compare(
            Some(&json!({"spec": {"r": 1}})),
            &json!({"spec": {"r": 5}}),
            &Untyped,
        );
        assert_eq!(c.modified.to_fields_v1(), json!({"f:spec": {"f:r": {}}}));
        assert!(c.added.is_empty());
    }

    #[test]
    fn compare_from_null_counts_elements_not_the_list() {
        let c = compare(
            Some(&json!({"containers": null})),
            &json!({"containers": [{"name": "a"}]}),
            &Pods,
        );
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}}}})
        );
        assert!(c.modified.is_empty());
    }

    #[test]
    fn compare_tracks_set_values() {
        let c = compare(
            Some(&json!({"finalizers": ["a"]})),
            &json!({"finalizers": ["b"]}),
            &Pods,
        );
        assert!(c.added.contains(&["f:finalizers", "v:\"b\""]));
        assert!(c.removed.contains(&["f:finalizers", "v:\"a\""]));
    }

    #[test]
    fn merge_keeps_live_items_and_fields() {
        let live =
            json!({"containers": [{"name": "main", "image": "a", "env": [1]}, {"name": "side"}]});
        let cfg = json!({"containers": [{"name": "main", "image": "b"}, {"name": "new"}]});
        let m = merge(&live, &cfg, &Pods);
        assert_eq!(
            m,
            json!({"containers": [{"name": "main", "image": "b", "env": [1]}, {"name": "side"}, {"name": "new"}]})
        );
    }

    #[test]
    fn remove_paths_drops_fields_and_items() {
        let mut obj = json!({"data": {"a": "1", "b": "2"}, "containers": [{"name": "main", "image": "x"}, {"name": "gone"}]});
        let mut rm = Set::new();
        rm.insert(&["f:data", "f:b"]);
        rm.insert(&["f:containers", "k:{\"name\":\"gone\"}"]);
        rm.insert(&["f:containers", "k:{\"name\":\"main\"}", "f:image"]);
        remove_paths(&mut obj, &rm, &Pods);
        assert_eq!(
            obj,
            json!({"data": {"a": "1"}, "containers": [{"name": "main"}]})
        );
    }
}
