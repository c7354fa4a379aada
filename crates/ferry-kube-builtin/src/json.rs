//! Small helpers over `serde_json` maps with Go semantics: a pointer field is unset when it is
//! missing or `null`; a value field (string, number) is unset when it also holds its zero value.
//! None of them panic on unexpected shapes: a field of the wrong type is left alone.

use serde_json::{Map, Value};

pub(crate) type Obj = Map<String, Value>;

/// The object at `key`, if there is one.
pub(crate) fn child<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key`, created empty when missing or `null`; `None` when another type is
/// there.
pub(crate) fn ensure<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    let slot = m.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The object at a path of existing objects.
pub(crate) fn path<'a>(m: &'a mut Obj, keys: &[&str]) -> Option<&'a mut Obj> {
    let mut cur = m;
    for k in keys {
        cur = child(cur, k)?;
    }
    Some(cur)
}

/// The object elements of the list at `key`.
pub(crate) fn items<'a>(m: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|a| a.iter_mut().filter_map(Value::as_object_mut))
}

/// Inserts `v` when `key` is missing (a serialization artifact of a non-`omitempty` field).
pub(crate) fn fill(m: &mut Obj, key: &str, v: Value) {
    if !m.contains_key(key) {
        m.insert(key.to_owned(), v);
    }
}

/// Pointer-field default: inserts `v` when `key` is missing or `null`.
pub(crate) fn default_ptr(m: &mut Obj, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_owned(), v);
    }
}

/// Value-field default: inserts `v` when `key` is missing, `null`, `""`, `0` or `false`.
pub(crate) fn default_val(m: &mut Obj, key: &str, v: Value) {
    if m.get(key).is_none_or(is_zero) {
        m.insert(key.to_owned(), v);
    }
}

/// Whether a value is its Go zero value (or absent in the Go sense).
pub(crate) fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The string at `key`, or `""`.
pub(crate) fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Fills missing keys of `target` from `zero`, recursively through objects present in both.
pub(crate) fn merge_under(target: &mut Obj, zero: &Obj) {
    for (k, zv) in zero {
        match target.get_mut(k) {
            None => {
                target.insert(k.clone(), zv.clone());
            }
            Some(tv) => {
                if let (Some(t), Some(z)) = (tv.as_object_mut(), zv.as_object()) {
                    merge_under(t, z);
                }
            }
        }
    }
}

/// Parses one of the crate's JSON constants (known-good; an empty object if it were not).
pub(crate) fn parse_const(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(Map::new()))
}
