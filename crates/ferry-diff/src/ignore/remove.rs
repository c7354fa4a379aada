//! Removal of ignored fields: JSON pointers, jq paths and managers' fields, each followed by the
//! removal of the maps and lists on the removed paths that are left empty.

use std::collections::BTreeMap;

use ferry_fieldpath::walk::remove_paths;
use ferry_fieldpath::{Schema, Set};
use serde_json::Value;

use super::IgnoreWarning;
use super::jq::JqSeg;

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Index(usize),
    Key(String),
}

/// A set of paths into one value, all relative to the value as it was before any removal.
/// `delete` marks a path to remove; nodes without it are only walked (to prune what is left
/// empty below them).
#[derive(Debug, Default)]
struct Trie {
    delete: bool,
    children: BTreeMap<Seg, Trie>,
}

impl Trie {
    /// Adds `path`; with `delete`, the value there is removed, else it is only walked.
    fn insert(&mut self, path: &[Seg], delete: bool) {
        let mut node = self;
        for seg in path {
            if node.delete {
                return;
            }
            node = node.children.entry(seg.clone()).or_default();
        }
        if delete {
            node.delete = true;
            node.children.clear();
        }
    }

    /// Removes the marked paths from `v` (never `v` itself), then every map or list on a path
    /// of the trie that is empty. List indices refer to the list as it was, so removing several
    /// items of one list removes exactly those items.
    fn apply(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (seg, child) in &self.children {
                    let Seg::Key(key) = seg else {
                        continue;
                    };
                    if child.delete {
                        map.shift_remove(key.as_str());
                    } else if let Some(value) = map.get_mut(key.as_str()) {
                        child.apply(value);
                        if is_empty_container(value) {
                            map.shift_remove(key.as_str());
                        }
                    }
                }
            }
            Value::Array(items) => {
                if !self.children.keys().any(|s| matches!(s, Seg::Index(_))) {
                    return;
                }
                let old = std::mem::take(items);
                for (i, mut item) in old.into_iter().enumerate() {
                    match self.children.get(&Seg::Index(i)) {
                        Some(child) if child.delete => {}
                        Some(child) => {
                            child.apply(&mut item);
                            if !is_empty_container(&item) {
                                items.push(item);
                            }
                        }
                        None => items.push(item),
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

// === JSON pointers ===

/// Removes the field at the parsed pointer `tokens` (missing is fine; the whole object is never
/// removed), then the maps and lists on its path left empty. A token reads as an index in a list
/// (decimal, no leading zero, in range) and as a key in a map, as RFC 6901 says.
pub(super) fn pointer(obj: &mut Value, tokens: &[String]) {
    if tokens.is_empty() {
        return;
    }
    let mut path = Vec::with_capacity(tokens.len());
    let mut cur = Some(&*obj);
    for token in tokens {
        let next = match cur {
            Some(Value::Object(map)) => {
                path.push(Seg::Key(token.clone()));
                map.get(token.as_str())
            }
            Some(Value::Array(items)) => match array_index(token, items.len()) {
                Some(i) => {
                    path.push(Seg::Index(i));
                    items.get(i)
                }
                None => break,
            },
            _ => break,
        };
        cur = next;
    }
    let complete = path.len() == tokens.len() && cur.is_some();
    let mut trie = Trie::default();
    trie.insert(&path, complete);
    trie.apply(obj);
}

/// An RFC 6901 array index: decimal digits without a leading zero, in range.
fn array_index(token: &str, len: usize) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok().filter(|&i| i < len)
}

// === jq paths ===

/// Removes every path of `paths` from `obj` at once, as jq's `delpaths` does (all paths read
/// against the object before the removal), then the maps and lists on them left empty.
/// Negative indices count from the end of the list; a slice removes its items. The empty path
/// (`path(.)`) removes nothing: the object itself is never removed.
pub(super) fn paths(obj: &mut Value, paths: &[Vec<JqSeg>]) {
    let mut trie = Trie::default();
    for path in paths {
        for resolved in resolve(obj, path) {
            if !resolved.is_empty() {
                trie.insert(&resolved, true);
            }
        }
    }
    trie.apply(obj);
}

/// The concrete paths (indices made non-negative, slices expanded) of a jq path in `obj`. A path
/// whose negative index or slice has no list to refer to selects nothing; a slice is only
/// understood as the last segment.
fn resolve(obj: &Value, path: &[JqSeg]) -> Vec<Vec<Seg>> {
    let mut out = Vec::with_capacity(path.len());
    let mut cur = Some(obj);
    for (n, seg) in path.iter().enumerate() {
        match seg {
            JqSeg::Key(key) => {
                out.push(Seg::Key(key.clone()));
                cur = cur.and_then(|c| c.as_object()).and_then(|m| m.get(key));
            }
            JqSeg::Index(i) => {
                let len = cur.and_then(Value::as_array).map(Vec::len);
                let index = match (usize::try_from(*i), len) {
                    (Ok(i), _) => i,
                    (Err(_), Some(len)) => match len.checked_sub(i.unsigned_abs()) {
                        Some(i) => i,
                        None => return Vec::new(),
                    },
                    (Err(_), None) => return Vec::new(),
                };
                out.push(Seg::Index(index));
                cur = cur.and_then(Value::as_array).and_then(|a| a.get(index));
            }
            JqSeg::Slice(start, end) => {
                let Some(len) = cur.and_then(Value::as_array).map(Vec::len) else {
                    return Vec::new();
                };
                if n + 1 != path.len() {
                    return Vec::new();
                }
                let bound = |b: Option<isize>, default: usize| match b {
                    None => default,
                    Some(b) if b < 0 => len.saturating_sub(b.unsigned_abs()),
                    Some(b) => b.unsigned_abs().min(len),
                };
                let (from, to) = (bound(*start, 0), bound(*end, len));
                return (from..to.max(from))
                    .map(|i| {
                        let mut p = out.clone();
                        p.push(Seg::Index(i));
                        p
                    })
                    .collect();
            }
        }
    }
    vec![out]
}

// === managers' fields ===

/// Removes from `obj` the fields that `managers` own according to `managed` (a live object's
/// `metadata.managedFields`), then the maps and list items on those paths left empty.
///
/// Only the owned *fields* are removed: a `"."` entry (the manager created that map or list
/// item) on a node that has owned fields below it does not remove the node, since other managers'
/// fields may live in it (on a real Deployment `kube-controller-manager` holds
/// `f:metadata.f:annotations."."`, and removing the whole map would hide every annotation). A
/// list item left with no field at all is removed as empty.
pub(super) fn managed_fields(
    obj: &mut Value,
    managed: &Value,
    managers: &[&str],
    schema: &dyn Schema,
    warnings: &mut Vec<IgnoreWarning>,
) {
    let entries = match managed {
        Value::Array(entries) => entries,
        Value::Null => return,
        _ => {
            warnings.push(IgnoreWarning::ManagedFields {
                manager: String::new(),
                message: "metadata.managedFields is not a list".to_owned(),
            });
            return;
        }
    };
    let mut owned = Set::new();
    for entry in entries {
        let Some(manager) = entry.get("manager").and_then(Value::as_str) else {
            continue;
        };
        if !managers.contains(&manager) {
            continue;
        }
        let Some(fields) = entry.get("fieldsV1") else {
            continue;
        };
        match Set::from_fields_v1(fields) {
            Ok(set) => owned = owned.union(&set),
            Err(e) => warnings.push(IgnoreWarning::ManagedFields {
                manager: manager.to_owned(),
                message: e.to_string(),
            }),
        }
    }
    if owned.is_empty() {
        return;
    }
    let mut leaves = Set::new();
    for path in owned.paths() {
        if !owned.has_member_below(&path) {
            leaves.insert(&path);
        }
    }
    remove_paths(obj, &leaves, schema);
    prune_along(obj, &leaves);
}

/// Removes the maps and lists on the paths of `set` that are empty (never `v` itself). Inside a
/// list the items can no longer be told apart by key (their key fields may be gone), so every
/// item is pruned along the paths of all the set's items, and items left empty are dropped.
fn prune_along(v: &mut Value, set: &Set) {
    match v {
        Value::Object(map) => {
            for (element, child) in set.children() {
                let Some(name) = element.strip_prefix("f:") else {
                    continue;
                };
                if let Some(value) = map.get_mut(name) {
                    prune_along(value, child);
                    if is_empty_container(value) {
                        map.shift_remove(name);
                    }
                }
            }
        }
        Value::Array(items) => {
            let mut item_paths = Set::new();
            let mut any = false;
            for (element, child) in set.children() {
                if !element.starts_with("f:") {
                    item_paths = item_paths.union(child);
                    any = true;
                }
            }
            if !any {
                return;
            }
            for item in items.iter_mut() {
                prune_along(item, &item_paths);
            }
            items.retain(|item| !is_empty_container(item));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_fieldpath::Untyped;
    use serde_json::json;

    fn tokens(p: &str) -> Vec<String> {
        crate::parse_pointer(p).expect("valid pointer")
    }

    #[test]
    fn pointer_removes_and_prunes_what_it_empties() {
        let mut obj = json!({"metadata": {"name": "x", "annotations": {"a/b": "1"}}, "spec": {"l": [{"k": 1}, {"k": 2}]}});
        pointer(&mut obj, &tokens("/metadata/annotations/a~1b"));
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x"}, "spec": {"l": [{"k": 1}, {"k": 2}]}})
        );
        pointer(&mut obj, &tokens("/spec/l/0/k"));
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x"}, "spec": {"l": [{"k": 2}]}})
        );
        pointer(&mut obj, &tokens("/spec/l/5"));
        pointer(&mut obj, &tokens("/spec/l/01"));
        pointer(&mut obj, &tokens("/nothing/here"));
        pointer(&mut obj, &[]);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x"}, "spec": {"l": [{"k": 2}]}})
        );
    }

    #[test]
    fn pointer_reads_digits_as_keys_in_maps() {
        let mut obj = json!({"data": {"0": "zero", "1": "one"}});
        pointer(&mut obj, &tokens("/data/0"));
        assert_eq!(obj, json!({"data": {"1": "one"}}));
    }

    #[test]
    fn jq_paths_are_deleted_as_one_set() {
        let key = |s: &str| JqSeg::Key(s.to_owned());
        let mut obj = json!({"a": [0, 1, 2, 3, 4], "b": {"c": 1}});
        paths(
            &mut obj,
            &[
                vec![key("a"), JqSeg::Index(0)],
                vec![key("a"), JqSeg::Index(1)],
                vec![key("a"), JqSeg::Index(-1)],
                vec![key("b"), key("c")],
                vec![key("b"), key("c"), key("d")],
                vec![],
            ],
        );
        assert_eq!(obj, json!({"a": [2, 3]}));
        let mut obj = json!({"a": [0, 1, 2, 3, 4]});
        paths(&mut obj, &[vec![key("a"), JqSeg::Slice(Some(1), Some(-1))]]);
        assert_eq!(obj, json!({"a": [0, 4]}));
        let mut obj = json!({"a": [0]});
        paths(&mut obj, &[vec![key("a"), JqSeg::Index(-5)]]);
        assert_eq!(obj, json!({"a": [0]}));
    }

    #[test]
    fn managed_fields_remove_owned_leaves_not_shared_maps() {
        let mut obj = json!({"metadata": {"annotations": {"rev": "3", "mine": "x"}}, "spec": {"replicas": 5, "paused": false}});
        let managed = json!([{
            "manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:rev": {}}}, "f:spec": {"f:replicas": {}}},
        }, {
            "manager": "ferry", "operation": "Apply", "apiVersion": "apps/v1",
            "fieldsV1": {"f:metadata": {"f:annotations": {"f:mine": {}}}, "f:spec": {"f:paused": {}}},
        }]);
        let mut warnings = Vec::new();
        managed_fields(
            &mut obj,
            &managed,
            &["kube-controller-manager"],
            &Untyped,
            &mut warnings,
        );
        assert!(warnings.is_empty());
        assert_eq!(
            obj,
            json!({"metadata": {"annotations": {"mine": "x"}}, "spec": {"paused": false}})
        );
    }

    #[test]
    fn managed_fields_problems_are_warnings() {
        let mut obj = json!({"spec": {"replicas": 1}});
        let mut warnings = Vec::new();
        managed_fields(
            &mut obj,
            &json!([{"manager": "hpa", "fieldsV1": {"zz": {}}}]),
            &["hpa"],
            &Untyped,
            &mut warnings,
        );
        managed_fields(&mut obj, &json!("nope"), &["hpa"], &Untyped, &mut warnings);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(obj, json!({"spec": {"replicas": 1}}));
    }
}
