//! JSON patch (RFC 6902), `application/json-patch+json`, with the behaviour
//! and messages of the `evanphx/json-patch` v4 library the API server uses.
//!
//! A body that does not decode as a list of operations answers 400; an
//! operation that cannot be applied (failed `test`, missing path, bad index,
//! unknown `op`) answers 422. Quirks kept from the library: `replace` of a
//! missing object member adds it, the first path segment before the first `/`
//! is ignored, negative array indices count from the end, and `test` of a
//! missing member against `null` passes.

use serde_json::{Map, Value};

use crate::error::PatchError;
use ferry_gofmt::float64::json_kind;

/// `maxJSONPatchOperations` of the API server.
pub const MAX_OPERATIONS: usize = 10_000;

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";

/// Applies a JSON patch document to `target`.
pub(crate) fn apply(target: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let ops = decode(body)?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::RequestEntityTooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let mut doc = target.clone();
    for op in &ops {
        apply_op(&mut doc, op).map_err(PatchError::Invalid)?;
    }
    Ok(doc)
}

/// Decodes the body as `jsonpatch.Patch` (a list of operation objects).
fn decode(body: &[u8]) -> Result<Vec<Map<String, Value>>, PatchError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| PatchError::BadRequest(ferry_gofmt::float64::syntax_error(&e)))?;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(&other)
            )));
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            other => Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_kind(&other)
            ))),
        })
        .collect()
}

/// `Operation.Kind()`: the `op` member, or `unknown`.
fn kind(op: &Map<String, Value>) -> &str {
    match op.get("op") {
        Some(Value::String(s)) => s,
        _ => "unknown",
    }
}

/// A string member (`path` or `from`), with the library's error text.
fn string_member<'a>(
    op: &'a Map<String, Value>,
    name: &str,
    missing: &str,
) -> Result<&'a str, String> {
    match op.get(name) {
        None | Some(Value::Null) => Err(format!("{missing}: {MISSING}")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "json: cannot unmarshal {} into Go value of type string",
            json_kind(other)
        )),
    }
}

fn path_of(op: &Map<String, Value>) -> Result<&str, String> {
    string_member(op, "path", "operation missing path field")
}

fn from_of(op: &Map<String, Value>) -> Result<&str, String> {
    string_member(op, "from", "operation, missing from field")
}

fn value_of(op: &Map<String, Value>) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

fn apply_op(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    match kind(op) {
        "add" => op_add(doc, op),
        "remove" => op_remove(doc, op),
        "replace" => op_replace(doc, op),
        "move" => op_move(doc, op),
        "copy" => op_copy(doc, op),
        "test" => op_test(doc, op),
        other => Err(format!("Unexpected kind: {other}")),
    }
}

fn op_add(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path =
        path_of(op).map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}")
    })?;
    container_add(con, &key, value_of(op))
        .map_err(|e| format!("error in add for path: '{path}': {e}"))
}

fn op_remove(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path =
        path_of(op).map_err(|_| format!("remove operation failed to decode path: {MISSING}"))?;
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("remove operation does not apply: doc is missing path: \"{path}\": {MISSING}")
    })?;
    container_remove(con, &key)
        .map(|_| ())
        .map_err(|e| format!("error in remove for path: '{path}': {e}"))
}

fn op_replace(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(op).map_err(|e| format!("replace operation failed to decode path: {e}"))?;
    if path.is_empty() {
        // The library replaces the whole document only with an object or an
        // array; any other value is silently ignored.
        let value = value_of(op);
        if value.is_object() || value.is_array() {
            *doc = value;
        }
        return Ok(());
    }
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("replace operation does not apply: doc is missing path: {path}: {MISSING}")
    })?;
    container_get(con, &key).map_err(|_| {
        format!("replace operation does not apply: doc is missing key: {path}: {MISSING}")
    })?;
    container_set(con, &key, value_of(op))
        .map_err(|e| format!("error in remove for path: '{path}': {e}"))
}

fn op_move(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let from = from_of(op).map_err(|e| format!("move operation failed to decode from: {e}"))?;
    let value = {
        let (con, key) = find_object(doc, from).ok_or_else(|| {
            format!("move operation does not apply: doc is missing from path: {from}: {MISSING}")
        })?;
        container_get(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
        container_remove(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?
    };
    let path = path_of(op).map_err(|e| format!("move operation failed to decode path: {e}"))?;
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
    })?;
    container_add(con, &key, value).map_err(|e| format!("error in move for path: '{path}': {e}"))
}

fn op_copy(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let from = from_of(op).map_err(|e| format!("copy operation failed to decode from: {e}"))?;
    let value = {
        let (con, key) = find_object(doc, from).ok_or_else(|| {
            format!("copy operation does not apply: doc is missing from path: {from}: {MISSING}")
        })?;
        container_get(con, &key)
            .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
            .cloned()
            .unwrap_or(Value::Null)
    };
    let path =
        path_of(op).map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
    })?;
    container_add(con, &key, value)
        .map_err(|e| format!("error while adding value during copy: {e}"))
}

fn op_test(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let path = path_of(op).map_err(|e| format!("test operation failed to decode path: {e}"))?;
    let expected = value_of(op);
    let failed = || format!("testing value {path} failed: test failed");
    if path.is_empty() {
        return if *doc == expected {
            Ok(())
        } else {
            Err(failed())
        };
    }
    let (con, key) = find_object(doc, path).ok_or_else(|| {
        format!("test operation does not apply: is missing path: {path}: {MISSING}")
    })?;
    let actual =
        container_get(con, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
    match actual {
        None if expected.is_null() => Ok(()),
        Some(v) if *v == expected => Ok(()),
        _ => Err(failed()),
    }
}

/// RFC 6901 unescaping, left to right (`~01` is `~1`).
fn decode_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                    continue;
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// Finds the container (object or array) holding the last path segment.
fn find_object<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let key = decode_key(split[split.len() - 1]);
    let mut cur = doc;
    for part in &split[1..split.len() - 1] {
        let part = decode_key(part);
        let next = match cur {
            Value::Object(map) => map.get_mut(&part)?,
            Value::Array(items) => {
                let idx = resolve_index(&part, items.len()).ok()?;
                items.get_mut(idx)?
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    if cur.is_object() || cur.is_array() {
        Some((cur, key))
    } else {
        None
    }
}

/// Go's `strconv.Atoi`.
fn atoi(key: &str) -> Result<i64, String> {
    key.parse::<i64>().map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.Atoi: parsing \"{key}\": {why}")
    })
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: {INVALID_INDEX}")
}

/// An existing element's index; negative indices count from the end.
fn resolve_index(key: &str, len: usize) -> Result<usize, String> {
    let idx = atoi(key)?;
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let real = if idx < 0 {
        if idx < -len_i {
            return Err(invalid_index(idx));
        }
        idx + len_i
    } else {
        idx
    };
    if real >= len_i {
        return Err(invalid_index(idx));
    }
    usize::try_from(real).map_err(|_| invalid_index(idx))
}

fn container_get<'a>(con: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match con {
        Value::Object(map) => Ok(map.get(key).filter(|v| !v.is_null())),
        Value::Array(items) => {
            let idx = resolve_index(key, items.len())?;
            Ok(items.get(idx).filter(|v| !v.is_null()))
        }
        _ => Err(invalid_index(0)),
    }
}

fn container_set(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            let idx = resolve_index(key, items.len())?;
            if let Some(slot) = items.get_mut(idx) {
                *slot = value;
            }
            Ok(())
        }
        _ => Err(invalid_index(0)),
    }
}

fn container_add(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = i64::try_from(items.len()).unwrap_or(i64::MAX) + 1;
            if idx >= size || idx < -size {
                return Err(invalid_index(idx));
            }
            let real = if idx < 0 { idx + size } else { idx };
            let real = usize::try_from(real).map_err(|_| invalid_index(idx))?;
            items.insert(real, value);
            Ok(())
        }
        _ => Err(invalid_index(0)),
    }
}

fn container_remove(con: &mut Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(map) => map
            .shift_remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        Value::Array(items) => {
            let idx = resolve_index(key, items.len())?;
            Ok(items.remove(idx))
        }
        _ => Err(invalid_index(0)),
    }
}
