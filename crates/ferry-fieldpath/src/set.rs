//! A set of field paths, stored as a tree keyed by serialised path elements, with the `fieldsV1`
//! encoding the API server writes into `metadata.managedFields`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::schema::{LIST_ELEMENT, Schema};

/// A set of paths into an object. Each node is one path; `member` says whether that path itself
/// is in the set (children may be members while their parent is not).
///
/// Children are keyed by their `fieldsV1` element string: `f:name` (a field or map key),
/// `k:{"name":"main"}` (an associative-list element), `v:"x"` (a set-list element), `i:3`
/// (a list index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    member: bool,
    children: BTreeMap<String, Set>,
}

/// `fieldsV1` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid fieldsV1 at {path}: {reason}")]
pub struct DecodeError {
    pub path: String,
    pub reason: String,
}

// === impl Set ===

impl Set {
    pub fn new() -> Self {
        Self::default()
    }

    /// No path is a member.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(Set::is_empty)
    }

    /// Whether the path to this node is a member.
    pub fn is_member(&self) -> bool {
        self.member
    }

    pub fn child(&self, element: &str) -> Option<&Set> {
        self.children.get(element)
    }

    pub fn children(&self) -> impl Iterator<Item = (&String, &Set)> {
        self.children.iter()
    }

    /// Adds `path` (a list of element strings) to the set.
    pub fn insert<S: AsRef<str>>(&mut self, path: &[S]) {
        let mut node = self;
        for el in path {
            node = node.children.entry(el.as_ref().to_owned()).or_default();
        }
        node.member = true;
    }

    /// Removes exactly `path` (its descendants stay).
    pub fn remove<S: AsRef<str>>(&mut self, path: &[S]) {
        if let Some(node) = self.node_mut(path) {
            node.member = false;
        }
        self.compact();
    }

    /// Removes `path` and everything under it.
    pub fn remove_subtree<S: AsRef<str>>(&mut self, path: &[S]) {
        match path.split_last() {
            None => *self = Set::default(),
            Some((last, parent)) => {
                if let Some(node) = self.node_mut(parent) {
                    node.children.remove(last.as_ref());
                }
                self.compact();
            }
        }
    }

    /// Keeps only `path` and everything under it.
    pub fn retain_subtree<S: AsRef<str>>(&self, path: &[S]) -> Set {
        let mut out = Set::default();
        if let Some(node) = self.node(path) {
            let mut slot = &mut out;
            for el in path {
                slot = slot.children.entry(el.as_ref().to_owned()).or_default();
            }
            *slot = node.clone();
        }
        out.compact();
        out
    }

    pub fn contains<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether any strict descendant of `path` is a member.
    pub fn has_member_below<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.node(path)
            .is_some_and(|n| n.children.values().any(|c| !c.is_empty()))
    }

    fn node<S: AsRef<str>>(&self, path: &[S]) -> Option<&Set> {
        let mut node = self;
        for el in path {
            node = node.children.get(el.as_ref())?;
        }
        Some(node)
    }

    fn node_mut<S: AsRef<str>>(&mut self, path: &[S]) -> Option<&mut Set> {
        let mut node = self;
        for el in path {
            node = node.children.get_mut(el.as_ref())?;
        }
        Some(node)
    }

    /// Drops nodes that hold no member.
    fn compact(&mut self) {
        self.children.retain(|_, c| {
            c.compact();
            !c.is_empty()
        });
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    fn union_in_place(&mut self, other: &Set) {
        self.member |= other.member;
        for (k, v) in &other.children {
            self.children
                .entry(k.clone())
                .or_default()
                .union_in_place(v);
        }
    }

    /// Members of `self` that are not members of `other`.
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = Set {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (k, v) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => v.difference(o),
                None => v.clone(),
            };
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    /// Members in both sets.
    pub fn intersection(&self, other: &Set) -> Set {
        let mut out = Set {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, v) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = v.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// This set with every named field on its paths a member too (structured-merge-diff's
    /// `EnsureNamedFieldsAreMembers`): owning `.spec.replicas` then also means `.spec`, so that
    /// removing what a manager owned removes a struct field as a whole, while a map (`labels`)
    /// is only what its keys are.
    pub fn with_named_fields(&self, schema: &dyn Schema) -> Set {
        let mut types = Vec::new();
        self.ensure_named(schema, &mut types)
    }

    fn ensure_named(&self, schema: &dyn Schema, types: &mut Vec<String>) -> Set {
        let mut out = Set {
            member: self.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            let (segment, named) = match k.strip_prefix("f:") {
                Some(name) => {
                    let path: Vec<&str> = types.iter().map(String::as_str).collect();
                    (name.to_owned(), schema.is_named_field(&path, name))
                }
                None => (LIST_ELEMENT.to_owned(), false),
            };
            types.push(segment);
            let mut child = c.ensure_named(schema, types);
            types.pop();
            child.member |= named;
            out.children.insert(k.clone(), child);
        }
        out
    }

    /// Every member path, depth first, in element order.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut cur = Vec::new();
        self.collect_paths(&mut cur, &mut out);
        out
    }

    fn collect_paths(&self, cur: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !cur.is_empty() {
            out.push(cur.clone());
        }
        for (k, v) in &self.children {
            cur.push(k.clone());
            v.collect_paths(cur, out);
            cur.pop();
        }
    }

    /// The `fieldsV1` JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (k, v) in &self.children {
            m.insert(k.clone(), v.to_fields_v1());
        }
        Value::Object(m)
    }

    /// Reads a `fieldsV1` document.
    pub fn from_fields_v1(v: &Value) -> Result<Set, DecodeError> {
        let mut set = Set::default();
        set.read(v, "")?;
        set.member = false;
        Ok(set)
    }

    fn read(&mut self, v: &Value, at: &str) -> Result<(), DecodeError> {
        let Value::Object(m) = v else {
            return Err(DecodeError {
                path: at.to_owned(),
                reason: "expected an object".to_owned(),
            });
        };
        if m.is_empty() {
            self.member = true;
        }
        for (k, child) in m {
            if k == "." {
                self.member = true;
                continue;
            }
            if !matches!(k.get(..2), Some("f:" | "k:" | "v:" | "i:")) {
                return Err(DecodeError {
                    path: at.to_owned(),
                    reason: format!("unknown path element {k:?}"),
                });
            }
            let node = self.children.entry(k.clone()).or_default();
            node.read(child, &format!("{at}/{k}"))?;
        }
        Ok(())
    }
}

/// Renders a path the way the API server prints it in conflict messages:
/// `.spec.template.spec.containers[name="main"].image`, `.metadata.finalizers[="x"]`.
pub fn render_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for el in path {
        let el = el.as_ref();
        let (kind, rest) = el.split_at(el.len().min(2));
        match kind {
            "f:" => {
                out.push('.');
                out.push_str(rest);
            }
            "k:" => {
                out.push('[');
                if let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(rest) {
                    let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    out.push_str(&parts.join(","));
                }
                out.push(']');
            }
            "v:" => {
                let _ = write!(out, "[={rest}]");
            }
            "i:" => {
                let _ = write!(out, "[{rest}]");
            }
            _ => out.push_str(el),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trip_keeps_dot_markers() {
        let v = json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:tier": {}}}});
        let s = Set::from_fields_v1(&v).expect("valid");
        assert!(s.contains(&["f:data"]));
        assert!(s.contains(&["f:data", "f:k"]));
        assert!(!s.contains(&["f:metadata"]));
        assert_eq!(s.to_fields_v1(), v);
    }

    #[test]
    fn difference_and_intersection() {
        let mut a = Set::new();
        a.insert(&["f:data", "f:a"]);
        a.insert(&["f:data", "f:b"]);
        let mut b = Set::new();
        b.insert(&["f:data", "f:a"]);
        assert_eq!(a.difference(&b).paths(), vec![vec!["f:data", "f:b"]]);
        assert_eq!(a.intersection(&b).paths(), vec![vec!["f:data", "f:a"]]);
        assert!(b.difference(&a).is_empty());
    }

    #[test]
    fn renders_paths_like_the_api_server() {
        let p = ["f:spec", "f:containers", r#"k:{"name":"main"}"#, "f:image"];
        assert_eq!(render_path(&p), r#".spec.containers[name="main"].image"#);
        assert_eq!(
            render_path(&["f:metadata", "f:finalizers", r#"v:"x""#]),
            r#".metadata.finalizers[="x"]"#
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(Set::from_fields_v1(&json!({"zz": {}})).is_err());
        assert!(Set::from_fields_v1(&json!([1])).is_err());
    }
}
