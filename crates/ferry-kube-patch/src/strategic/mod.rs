//! Strategic merge patch, `application/strategic-merge-patch+json`, following
//! `k8s.io/apimachinery/pkg/util/strategicpatch` as the API server runs it
//! (`MergeParallelList` and `IgnoreUnmatchedNulls` on).
//!
//! Objects merge recursively and `null` deletes; lists whose field has the
//! `merge` strategy in [`crate::merge_keys`] merge by their merge key (lists of
//! primitives as sets), other lists are replaced. Directives: `$patch`
//! (`replace`/`delete` in objects, `replace`/`delete` elements in merging
//! lists), `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
//! `$setElementOrder/<field>`.

mod list;

use serde_json::{Map, Value};

use crate::error::PatchError;
use crate::merge_keys::Schema;
use ferry_gofmt::float64::{go_type, go_value, json_kind};

pub(crate) type JsonMap = Map<String, Value>;

pub(crate) const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

const ERR_BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// Applies a strategic merge patch body to `target`, an object of the
/// built-in `kind`.
pub(crate) fn apply(target: &Value, body: &[u8], kind: &str) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| PatchError::BadRequest(ferry_gofmt::float64::syntax_error(&e)))?;
    let patch = match patch {
        Value::Object(map) => map,
        Value::Null => JsonMap::new(),
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )));
        }
    };
    let original = match target {
        Value::Object(map) => map.clone(),
        _ => JsonMap::new(),
    };
    merge_map(original, patch, Schema::for_kind(kind)).map(Value::Object)
}

/// Applies a decoded strategic merge patch to `target` (an object).
pub(crate) fn apply_value(target: &Value, patch: &Value, kind: &str) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(patch).map_err(|e| PatchError::BadRequest(e.to_string()))?;
    apply(target, &body, kind)
}

/// `mergepatch.ErrNoMergeKey`.
pub(crate) fn err_no_merge_key(m: &JsonMap, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_value(&Value::Object(m.clone()))
    ))
}

/// `mergepatch.ErrBadArgType` for an expected list.
pub(crate) fn err_expected_list(actual: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a []interface {{}}, but received a {}",
        go_type(actual)
    ))
}

/// `mergepatch.ErrBadPatchType`.
pub(crate) fn err_bad_patch_type(directive: &Value, m: &JsonMap) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_value(directive),
        go_value(&Value::Object(m.clone()))
    ))
}

/// Merges `patch` into `original` (both objects) under `schema`.
pub(crate) fn merge_map(
    mut original: JsonMap,
    mut patch: JsonMap,
    schema: Schema,
) -> Result<JsonMap, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.shift_remove(DIRECTIVE_MARKER);
                Ok(clean_map(patch))
            }
            Some(DELETE_DIRECTIVE) => Ok(JsonMap::new()),
            _ => Err(err_bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    list::merge_set_element_order(&mut original, &mut patch, schema)?;

    // Deletions from primitive lists first, so that a value both deleted and
    // added ends up present (the Go code iterates a map in random order).
    let (deletions, others): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX));

    for (raw_key, patch_v) in deletions.into_iter().chain(others) {
        let (key, is_delete_list) = if raw_key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (
                extract_key(
                    &raw_key,
                    DELETE_FROM_PRIMITIVE_LIST_PREFIX,
                    ERR_BAD_PRIMITIVE_LIST,
                )?,
                true,
            )
        } else {
            (raw_key, false)
        };

        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }

        let Some(orig_v) = original.get_mut(&key) else {
            if !is_delete_list && let Some(v) = clean_field(patch_v) {
                original.insert(key, v);
            }
            continue;
        };

        if go_type(orig_v) != go_type(&patch_v) {
            if !is_delete_list {
                match clean_field(patch_v) {
                    Some(v) => *orig_v = v,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }

        let (sub, meta) = schema.field(&key);
        match (orig_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let merged = if meta.replaces_map() {
                    clean_map(p)
                } else {
                    merge_map(std::mem::take(o), p, sub)?
                };
                *o = merged;
            }
            (Value::Array(o), Value::Array(p)) => {
                let merged =
                    list::merge_slice_handler(std::mem::take(o), p, sub, meta, is_delete_list)?;
                *o = merged;
            }
            (slot, p) => *slot = p,
        }
    }
    Ok(original)
}

/// `$retainKeys`: clears the members of `original` the list does not name,
/// after checking the patch sets nothing outside it.
fn apply_retain_keys(original: &mut JsonMap, patch: &mut JsonMap) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.to_string()));
    };
    let retained = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(PatchError::BadRequest(ERR_BAD_RETAIN_KEYS.to_string()));
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// The field name after `<prefix>/`.
fn extract_key(s: &str, prefix: &str, err: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest.to_string()),
        _ => Err(PatchError::BadRequest(err.to_string())),
    }
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE_MARKER
        || k == RETAIN_KEYS_DIRECTIVE
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
        || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
}

/// A patch value taken as is (nothing to merge with): `null` members are
/// dropped, directive keys removed, and objects carrying `$patch` become
/// their replacement (`replace`) or disappear (anything else).
pub(crate) fn clean_field(v: Value) -> Option<Value> {
    match v {
        Value::Object(mut map) => match map.get(DIRECTIVE_MARKER) {
            Some(d) if d.as_str() == Some(REPLACE_DIRECTIVE) => {
                map.shift_remove(DIRECTIVE_MARKER);
                Some(Value::Object(clean_map(map)))
            }
            Some(_) => None,
            None => Some(Value::Object(clean_map(map))),
        },
        other => Some(clean_value(other)),
    }
}

/// Cleans the members of an object that is used as is.
pub(crate) fn clean_map(map: JsonMap) -> JsonMap {
    map.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .filter_map(|(k, v)| clean_field(v).map(|v| (k, v)))
        .collect()
}

/// Cleans a value used as is; list elements carrying `$patch` are markers
/// and are dropped.
pub(crate) fn clean_value(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|item| !has_directive(item))
                .map(clean_value)
                .collect(),
        ),
        Value::Object(map) => Value::Object(clean_map(map)),
        other => other,
    }
}

pub(crate) fn has_directive(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}
