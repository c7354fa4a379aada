//! The structural operations of server-side apply over JSON objects: the field set an applied
//! configuration claims, the comparison of two versions of an object, the merge of a
//! configuration into a live object, and removal of paths.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::schema::{LIST_ELEMENT, ListType, Schema};
use crate::set::{Set, render_path};

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

    /// Whether `name` is a named field of the struct at the cursor.
    fn named(&self, name: &str) -> bool {
        self.schema.is_named_field(&self.type_path(), name)
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

/// The `k:{...}` element of an associative-list item, with key defaults applied. A key field
/// the item omits and that has no default is left out of the key (an item keyed by the other
/// fields, as structured-merge-diff does since Kubernetes 1.27); `None` when every key field
/// is missing.
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
        });
        if let Some(v) = v {
            m.insert(k.clone(), canonical_number(v));
        }
    }
    if m.is_empty() && !keys.is_empty() {
        return None;
    }
    Some(format!("k:{}", Value::Object(m)))
}

/// Numbers as the API server compares them: a float with an integral value is that integer
/// (`2.0` and `2` are one key).
fn canonical_number(v: Value) -> Value {
    match &v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // The guard keeps the cast exact.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                Value::from(i)
            }
            _ => v,
        },
        _ => v,
    }
}

fn value_element(v: &Value) -> String {
    format!("v:{}", canonical_number(v.clone()))
}

/// The path element of a list item: its key for associative lists, its value for sets; atomic
/// lists have no elements. `None` when an associative item lacks a key field.
fn element_of(item: &Value, lt: &ListType) -> Option<String> {
    match lt {
        ListType::Set => Some(value_element(item)),
        ListType::Map { keys, key_defaults } => {
            if !item.is_object() {
                return None;
            }
            key_element(item, keys, key_defaults)
        }
        ListType::Atomic => None,
    }
}

fn insert(set: &mut Set, path: &[String]) {
    // The empty path is the whole object, whose ownership is never tracked.
    if !path.is_empty() {
        set.insert(path);
    }
}

/// Whether a set node holds members below itself (structured-merge-diff's `WithPrefix` is
/// not empty).
fn has_members_below(node: &Set) -> bool {
    node.children().any(|(_, c)| !c.is_empty())
}

// === field set of an applied configuration ===

/// The set of fields an object claims, as structured-merge-diff's `ToFieldSet`: every scalar,
/// every atomic list or map, every list element, every map key (a struct's named fields only
/// through what they hold, unless null or empty), and once each key that appears more than
/// once in an associative list.
pub fn applied_set(config: &Value, schema: &dyn Schema) -> Set {
    let mut set = Set::new();
    let mut cur = Cursor::new(schema);
    walk_applied(config, &mut cur, &mut set);
    set
}

fn walk_applied(v: &Value, cur: &mut Cursor<'_>, set: &mut Set) {
    match v {
        Value::Object(m) => {
            if cur.atomic_map() {
                insert(set, &cur.path);
                return;
            }
            for (k, child) in m {
                let named = cur.named(k);
                cur.push_field(k);
                walk_applied(child, cur, set);
                let empty_map = matches!(child, Value::Object(c) if c.is_empty());
                if child.is_null() || empty_map || !named {
                    insert(set, &cur.path);
                }
                cur.pop();
            }
        }
        Value::Array(items) => {
            let lt = cur.list_type();
            if lt == ListType::Atomic {
                insert(set, &cur.path);
                return;
            }
            let els: Vec<Option<String>> = items.iter().map(|i| element_of(i, &lt)).collect();
            let mut seen = BTreeSet::new();
            let mut dups = BTreeSet::new();
            for el in els.iter().flatten() {
                if !seen.insert(el.clone()) {
                    dups.insert(el.clone());
                }
            }
            for d in &dups {
                cur.push_element(d.clone());
                insert(set, &cur.path);
                cur.pop();
            }
            for (item, el) in items.iter().zip(els) {
                let Some(el) = el else { continue };
                if dups.contains(&el) {
                    continue;
                }
                cur.push_element(el);
                walk_applied(item, cur, set);
                insert(set, &cur.path);
                cur.pop();
            }
        }
        Value::Null => {
            let typed_atomic = cur.schema.list_type(&cur.type_path()) == Some(ListType::Atomic);
            if typed_atomic || cur.atomic_map() {
                insert(set, &cur.path);
            }
        }
        _ => insert(set, &cur.path),
    }
}

/// What is wrong with an applied configuration's lists, as the API server refuses it: an
/// associative-list item without its keys, a key or set value given twice.
pub fn validate_config(config: &Value, schema: &dyn Schema) -> Result<(), String> {
    let mut cur = Cursor::new(schema);
    validate_walk(config, &mut cur)
}

fn validate_walk(v: &Value, cur: &mut Cursor<'_>) -> Result<(), String> {
    match v {
        Value::Object(m) if !cur.atomic_map() => {
            for (k, child) in m {
                cur.push_field(k);
                validate_walk(child, cur)?;
                cur.pop();
            }
        }
        Value::Array(items) => {
            let lt = cur.list_type();
            if lt == ListType::Atomic {
                return Ok(());
            }
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let at = render_path(&cur.path);
                let Some(el) = element_of(item, &lt) else {
                    return Err(match (&lt, item) {
                        (_, Value::Null) => format!(
                            "{at}: element {i}: associative list with keys may not have a null element"
                        ),
                        (_, Value::Object(_)) => format!(
                            "{at}: element {i}: associative list with keys has an element that omits a key field"
                        ),
                        _ => format!(
                            "{at}: element {i}: associative list with keys may not have non-map elements"
                        ),
                    });
                };
                if !seen.insert(el.clone()) {
                    let shown = render_path(&[el.as_str()]);
                    return Err(format!("{at}: duplicate entries for key {shown}"));
                }
                cur.push_element(el);
                validate_walk(item, cur)?;
                cur.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

// === comparison ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    List,
    Scalar,
}

fn kind_of(v: &Value) -> Option<Kind> {
    match v {
        Value::Null => None,
        Value::Object(_) => Some(Kind::Map),
        Value::Array(_) => Some(Kind::List),
        _ => Some(Kind::Scalar),
    }
}

/// Compares two versions of an object as structured-merge-diff does. `old = None` compares
/// against nothing at all.
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
    if old.is_none() && new.is_none() {
        return;
    }
    let (lk, rk) = (old.and_then(kind_of), new.and_then(kind_of));
    // A value of another shape than its counterpart is looked at in both shapes (the last
    // one decides whether the node was a leaf); null takes the other side's shape.
    let kinds: Vec<Option<Kind>> = match (lk, rk) {
        (Some(a), Some(b)) if a != b => vec![Some(a), Some(b)],
        (Some(a), _) if new.is_none() => vec![Some(a)],
        (_, Some(b)) => vec![Some(b)],
        (a, _) => vec![a],
    };
    let mut in_leaf = false;
    for k in kinds {
        in_leaf = compare_as(k, old, new, cur, out);
    }
    if !in_leaf {
        if old.is_none() {
            insert(&mut out.added, &cur.path);
        } else if new.is_none() {
            insert(&mut out.removed, &cur.path);
        }
    }
}

fn compare_leaf(old: Option<&Value>, new: Option<&Value>, cur: &Cursor<'_>, out: &mut Comparison) {
    match (old, new) {
        (None, _) => insert(&mut out.added, &cur.path),
        (_, None) => insert(&mut out.removed, &cur.path),
        (Some(a), Some(b)) if a != b => insert(&mut out.modified, &cur.path),
        _ => {}
    }
}

/// Compares as a node of kind `k`; true when the node was a leaf.
fn compare_as(
    k: Option<Kind>,
    old: Option<&Value>,
    new: Option<&Value>,
    cur: &mut Cursor<'_>,
    out: &mut Comparison,
) -> bool {
    match k {
        None | Some(Kind::Scalar) => {
            compare_leaf(old, new, cur, out);
            true
        }
        Some(Kind::Map) => {
            let (a, b) = (
                old.and_then(Value::as_object),
                new.and_then(Value::as_object),
            );
            let empty = a.is_none_or(Map::is_empty) && b.is_none_or(Map::is_empty);
            if cur.atomic_map() || empty {
                compare_leaf(old, new, cur, out);
                return true;
            }
            let mut keys: Vec<&String> = a.map(|m| m.keys().collect()).unwrap_or_default();
            for k in b.into_iter().flat_map(Map::keys) {
                if !a.is_some_and(|m| m.contains_key(k)) {
                    keys.push(k);
                }
            }
            for k in keys {
                cur.push_field(k);
                walk_compare(a.and_then(|m| m.get(k)), b.and_then(|m| m.get(k)), cur, out);
                cur.pop();
            }
            false
        }
        Some(Kind::List) => {
            let (a, b) = (old.and_then(Value::as_array), new.and_then(Value::as_array));
            let empty = a.is_none_or(Vec::is_empty) && b.is_none_or(Vec::is_empty);
            let lt = cur.list_type();
            if lt == ListType::Atomic || empty {
                compare_leaf(old, new, cur, out);
                return true;
            }
            compare_items(
                &lt,
                a.map_or(&[][..], Vec::as_slice),
                b.map_or(&[][..], Vec::as_slice),
                cur,
                out,
            );
            false
        }
    }
}

fn compare_items(
    lt: &ListType,
    a: &[Value],
    b: &[Value],
    cur: &mut Cursor<'_>,
    out: &mut Comparison,
) {
    let mut order: Vec<String> = Vec::new();
    let mut left: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut right: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for v in a {
        let Some(el) = element_of(v, lt) else {
            continue;
        };
        let slot = left.entry(el.clone()).or_default();
        if slot.is_empty() {
            order.push(el);
        }
        slot.push(v);
    }
    for v in b {
        let Some(el) = element_of(v, lt) else {
            continue;
        };
        let slot = right.entry(el.clone()).or_default();
        if slot.is_empty() && !left.contains_key(&el) {
            order.push(el);
        }
        slot.push(v);
    }
    for el in order {
        let l = left.get(&el).map_or(&[][..], Vec::as_slice);
        let r = right.get(&el).map_or(&[][..], Vec::as_slice);
        cur.push_element(el);
        match (l.len(), r.len()) {
            (0..=1, 0..=1) => walk_compare(l.first().copied(), r.first().copied(), cur, out),
            (2.., 2..) => {
                if l != r {
                    insert(&mut out.modified, &cur.path);
                }
            }
            (2.., _) => {
                if let Some(first) = r.first() {
                    walk_compare(None, Some(first), cur, out);
                }
                insert(&mut out.removed, &cur.path);
            }
            (_, _) => {
                if let Some(first) = l.first() {
                    walk_compare(Some(first), None, cur, out);
                }
                insert(&mut out.added, &cur.path);
            }
        }
        cur.pop();
    }
}

// === merge ===

/// Merges an applied configuration into a live object as structured-merge-diff does: maps
/// merge by key, associative lists by key and set lists by value (shared items in the
/// configuration's order, the live object's others where they were), everything else is the
/// configuration's value. Items that cannot be keyed are left out; [`try_merge`] reports them.
pub fn merge(live: &Value, config: &Value, schema: &dyn Schema) -> Value {
    let mut cur = Cursor::new(schema);
    let mut errs = Vec::new();
    walk_merge(Some(live), Some(config), &mut cur, &mut errs).unwrap_or(Value::Null)
}

/// [`merge`], failing where structured-merge-diff fails: an item of the configuration or of
/// the live object that has no key, a key twice in the configuration.
pub fn try_merge(live: &Value, config: &Value, schema: &dyn Schema) -> Result<Value, String> {
    let mut cur = Cursor::new(schema);
    let mut errs = Vec::new();
    let out = walk_merge(Some(live), Some(config), &mut cur, &mut errs);
    match errs.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(out.unwrap_or(Value::Null)),
    }
}

fn walk_merge(
    live: Option<&Value>,
    config: Option<&Value>,
    cur: &mut Cursor<'_>,
    errs: &mut Vec<String>,
) -> Option<Value> {
    let (l, c) = match (live, config) {
        (None, None) => return None,
        (Some(l), None) => return Some(l.clone()),
        (None, Some(c)) => return Some(c.clone()),
        (Some(l), Some(c)) => (l, c),
    };
    let kind = match c {
        // Null keeps a live map's keys and a typed list's items; it replaces anything else.
        Value::Null => match kind_of(l) {
            Some(Kind::Map) => Some(Kind::Map),
            Some(Kind::List)
                if cur
                    .schema
                    .list_type(&cur.type_path())
                    .is_some_and(|t| t != ListType::Atomic) =>
            {
                Some(Kind::List)
            }
            _ => None,
        },
        _ => kind_of(c),
    };
    match kind {
        None | Some(Kind::Scalar) => Some(c.clone()),
        Some(Kind::Map) => {
            let (a, b) = (l.as_object(), c.as_object());
            let empty = a.is_none_or(Map::is_empty) && b.is_none_or(Map::is_empty);
            if cur.atomic_map() || empty {
                return Some(c.clone());
            }
            let mut out = Map::new();
            let mut keys: Vec<&String> = a.map(|m| m.keys().collect()).unwrap_or_default();
            for k in b.into_iter().flat_map(Map::keys) {
                if !a.is_some_and(|m| m.contains_key(k)) {
                    keys.push(k);
                }
            }
            for k in keys {
                cur.push_field(k);
                let merged = walk_merge(
                    a.and_then(|m| m.get(k)),
                    b.and_then(|m| m.get(k)),
                    cur,
                    errs,
                );
                cur.pop();
                if let Some(v) = merged {
                    out.insert(k.clone(), v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Some(Kind::List) => {
            let (a, b) = (l.as_array(), c.as_array());
            let empty = a.is_none_or(Vec::is_empty) && b.is_none_or(Vec::is_empty);
            let lt = cur.list_type();
            if lt == ListType::Atomic || empty {
                return Some(c.clone());
            }
            let out = merge_items(
                &lt,
                a.map_or(&[][..], Vec::as_slice),
                b.map_or(&[][..], Vec::as_slice),
                cur,
                errs,
            );
            (!out.is_empty()).then_some(Value::Array(out))
        }
    }
}

/// Merges two associative lists, ordering the result as structured-merge-diff does.
fn merge_items(
    lt: &ListType,
    lhs: &[Value],
    rhs: &[Value],
    cur: &mut Cursor<'_>,
    errs: &mut Vec<String>,
) -> Vec<Value> {
    let at = render_path(&cur.path);
    let mut rhs_pes: Vec<String> = Vec::new();
    let mut observed_rhs: BTreeMap<String, &Value> = BTreeMap::new();
    for (i, v) in rhs.iter().enumerate() {
        let Some(pe) = element_of(v, lt) else {
            errs.push(format!(
                "{at}: element {i}: associative list item without its keys"
            ));
            continue;
        };
        if observed_rhs.contains_key(&pe) {
            errs.push(format!(
                "{at}: duplicate entries for key {}",
                render_path(&[pe.as_str()])
            ));
            continue;
        }
        observed_rhs.insert(pe.clone(), v);
        rhs_pes.push(pe);
    }
    // Live items: a key seen twice merges as null (duplicates are not merged).
    let mut lhs_pes: Vec<(String, usize)> = Vec::new();
    let mut observed_lhs: BTreeMap<String, Option<&Value>> = BTreeMap::new();
    for (i, v) in lhs.iter().enumerate() {
        let Some(pe) = element_of(v, lt) else {
            errs.push(format!(
                "{at}: element {i}: associative list item without its keys"
            ));
            continue;
        };
        match observed_lhs.get_mut(&pe) {
            Some(slot) => *slot = None,
            None => {
                observed_lhs.insert(pe.clone(), Some(v));
            }
        }
        lhs_pes.push((pe, i));
    }
    let null = Value::Null;
    let lhs_child =
        |pe: &str| -> Option<&Value> { observed_lhs.get(pe).map(|v| v.unwrap_or(&null)) };
    let mut shared: std::collections::VecDeque<&String> = rhs_pes
        .iter()
        .filter(|pe| observed_lhs.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li].0;
            if *pe == rhs_pes[ri] {
                merged_rhs.insert(pe.clone());
                cur.push_element(pe.clone());
                let m = walk_merge(lhs_child(pe), observed_rhs.get(pe).copied(), cur, errs);
                cur.pop();
                out.extend(m);
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let (pe, idx) = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                cur.push_element(pe.clone());
                let m = walk_merge(lhs.get(*idx), None, cur, errs);
                cur.pop();
                out.extend(m);
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri];
            merged_rhs.insert(pe.clone());
            cur.push_element(pe.clone());
            let m = walk_merge(lhs_child(pe), observed_rhs.get(pe).copied(), cur, errs);
            cur.pop();
            out.extend(m);
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

// === removal of items (structured-merge-diff's RemoveItems) ===

/// Removes the members of `remove` from `obj` as structured-merge-diff's `RemoveItems` does: a
/// member field or item goes with everything under it; a map or list left with nothing
/// becomes null.
pub fn remove_items(obj: &Value, remove: &Set, schema: &dyn Schema) -> Value {
    let mut cur = Cursor::new(schema);
    walk_remove_items(obj, remove, &mut cur)
}

fn walk_remove_items(v: &Value, remove: &Set, cur: &mut Cursor<'_>) -> Value {
    match v {
        Value::Object(m) => {
            if m.is_empty() || cur.atomic_map() {
                return Value::Null;
            }
            let mut out = Map::new();
            for (k, val) in m {
                let node = remove.child(&format!("f:{k}"));
                if node.is_some_and(Set::is_member) {
                    continue;
                }
                let val = match node {
                    Some(n) if has_members_below(n) => {
                        cur.push_field(k);
                        let r = walk_remove_items(val, n, cur);
                        cur.pop();
                        r
                    }
                    _ => val.clone(),
                };
                out.insert(k.clone(), val);
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => {
            let lt = cur.list_type();
            if items.is_empty() || lt == ListType::Atomic {
                return Value::Null;
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Some(el) = element_of(item, &lt) else {
                    out.push(item.clone());
                    continue;
                };
                let node = remove.child(&el);
                if node.is_some_and(Set::is_member) {
                    continue;
                }
                match node {
                    Some(n) if has_members_below(n) => {
                        cur.push_element(el);
                        out.push(walk_remove_items(item, n, cur));
                        cur.pop();
                    }
                    _ => out.push(item.clone()),
                }
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
        Value::Null => Value::Null,
        scalar => scalar.clone(),
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
        fn is_named_field(&self, _path: TypePath<'_>, _name: &str) -> bool {
            true
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
