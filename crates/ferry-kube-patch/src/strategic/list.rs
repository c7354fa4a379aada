//! Lists in strategic merge patch: merging by merge key, the `$patch`
//! elements, `$deleteFromPrimitiveList`, and the element order rules
//! (`$setElementOrder`, else patch order for patched elements and server order
//! for the others, interleaved the way the API server does it).

use serde_json::Value;

use super::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, ERR_BAD_SET_ELEMENT_ORDER, JsonMap, REPLACE_DIRECTIVE,
    SET_ELEMENT_ORDER_PREFIX, clean_value, err_bad_patch_type, err_expected_list, err_no_merge_key,
    extract_key, has_directive, merge_map,
};
use crate::error::PatchError;
use crate::merge_keys::{FieldMeta, Schema};
use ferry_gofmt::float64::{go_eq, go_type, go_value};

/// `mergepatch.ErrNoListOfLists`, answered as 422.
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

/// The kind shared by a list's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ElemKind {
    Map,
    Scalar(&'static str),
}

/// Merges a list field: by strategy, or replaced by the patch.
pub(super) fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    meta: FieldMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if meta.merges_list() {
        merge_slice(original, patch, schema, meta.merge_key, is_delete_list)
    } else {
        Ok(match clean_value(Value::Array(patch)) {
            Value::Array(items) => items,
            _ => Vec::new(),
        })
    }
}

/// `sliceElementType`: every element must have the same kind, not a list.
fn element_kind(lists: &[&[Value]]) -> Result<Option<ElemKind>, PatchError> {
    let mut kind: Option<&'static str> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match kind {
            None => {
                if v.is_array() {
                    return Err(PatchError::Invalid(ERR_NO_LIST_OF_LISTS.to_string()));
                }
                kind = Some(t);
            }
            Some(k) if k != t => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(PatchError::Internal(format!(
                    "list element types are not identical: {}",
                    go_value(&Value::Array(all))
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind.map(|k| {
        if k == "map[string]interface {}" {
            ElemKind::Map
        } else {
            ElemKind::Scalar(k)
        }
    }))
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    merge_key: Option<&'static str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let Some(kind) = element_kind(&[&original, &patch])? else {
        return Ok(original);
    };
    match kind {
        ElemKind::Scalar(_) => {
            if is_delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.iter().any(|d| go_eq(v, d)))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for v in original.iter().chain(patch.iter()) {
                if !merged.iter().any(|m| go_eq(m, v)) {
                    merged.push(v.clone());
                }
            }
            let (patch_items, server_only): (Vec<Value>, Vec<Value>) = merged
                .into_iter()
                .partition(|v| patch.iter().any(|p| go_eq(p, v)));
            Ok(normalize_element_order(
                patch_items,
                server_only,
                &patch,
                &original,
                None,
            ))
        }
        ElemKind::Map => {
            let Some(key) = merge_key else {
                return Err(PatchError::Internal(
                    "cannot merge lists without merge key".to_string(),
                ));
            };
            let (original, patch) = merge_special_elements(original, patch, key)?;
            let merged = merge_without_special_elements(original.clone(), &patch, key, schema)?;
            let (patch_items, server_only) = partition_maps(merged, &patch, key)?;
            validate_merge_keys(&patch_items, key)?;
            validate_merge_keys(&patch, key)?;
            Ok(normalize_element_order(
                patch_items,
                server_only,
                &patch,
                &original,
                Some(key),
            ))
        }
    }
}

/// Handles `$patch: delete` / `$patch: replace` elements. Returns the
/// (possibly reduced or replaced) original and the patch without them.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            plain.push(v);
            continue;
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let Some(value) = m.get(key) else {
                    return Err(err_no_merge_key(m, key));
                };
                original.retain(|e| !key_matches(e, key, value));
            }
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some("merge") => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".to_string(),
                ));
            }
            _ => return Err(err_bad_patch_type(directive, m)),
        }
    }
    if replace {
        let replaced = match clean_value(Value::Array(plain)) {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        Ok((replaced, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn key_matches(element: &Value, key: &str, value: &Value) -> bool {
    element
        .as_object()
        .and_then(|m| m.get(key))
        .is_some_and(|v| go_eq(v, value))
}

/// Merges each patch element into the original element with the same merge
/// key, or appends it.
fn merge_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    schema: Schema,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Value::Object(pm) = v else { continue };
        let Some(value) = pm.get(key) else {
            return Err(err_no_merge_key(pm, key));
        };
        match original.iter().position(|e| key_matches(e, key, value)) {
            Some(i) => {
                let current = match std::mem::take(&mut original[i]) {
                    Value::Object(m) => m,
                    _ => JsonMap::new(),
                };
                original[i] = Value::Object(merge_map(current, pm.clone(), schema)?);
            }
            None => original.push(clean_value(v.clone())),
        }
    }
    Ok(original)
}

fn validate_merge_keys(items: &[Value], key: &str) -> Result<(), PatchError> {
    for item in items {
        let Value::Object(m) = item else {
            return Err(PatchError::Internal(format!(
                "expected a map[string]interface {{}}, but received a {}",
                go_type(item)
            )));
        };
        if !m.contains_key(key) {
            return Err(err_no_merge_key(m, key));
        }
    }
    Ok(())
}

/// Splits `merged` into elements whose merge key appears in `by`, and the
/// others.
fn partition_maps(
    merged: Vec<Value>,
    by: &[Value],
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for v in merged {
        let Value::Object(m) = &v else {
            return Err(PatchError::Internal(format!(
                "expected a map[string]interface {{}}, but received a {}",
                go_type(&v)
            )));
        };
        let Some(value) = m.get(key) else {
            return Err(err_no_merge_key(m, key));
        };
        if by.iter().any(|b| key_matches(b, key, value)) {
            inside.push(v);
        } else {
            outside.push(v);
        }
    }
    Ok((inside, outside))
}

/// Position of `item` in `list`: by merge key for maps, by value otherwise.
fn index_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(k) => {
            let wanted = item
                .as_object()
                .and_then(|m| m.get(k))
                .unwrap_or(&Value::Null);
            list.iter().position(|e| {
                let v = e.as_object().and_then(|m| m.get(k)).unwrap_or(&Value::Null);
                go_eq(v, wanted)
            })
        }
        None => list.iter().position(|e| go_eq(e, item)),
    }
}

/// Sorts `items` by their position in `order` (unknown ones last, stable),
/// then interleaves the server-only elements with the patch elements as
/// `mergeSortedSlice` does: a server-only element goes first only when both
/// are in the server's list and it comes earlier there.
fn normalize_element_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    sort_by_order(&mut patch_items, patch_order, key);
    sort_by_order(&mut server_only, server_order, key);
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_in(server_order, l, key),
                    index_in(server_order, r, key),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(v) = next {
            out.push(v);
        }
    }
    out
}

fn sort_by_order(items: &mut [Value], order: &[Value], key: Option<&str>) {
    items.sort_by_key(|v| index_in(order, v, key).unwrap_or(usize::MAX));
}

/// Processes every `$setElementOrder/<field>` of `patch`: merges the field's
/// list now and orders it as the directive says, removing both from `patch`.
pub(super) fn merge_set_element_order(
    original: &mut JsonMap,
    patch: &mut JsonMap,
    schema: Schema,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive_key in keys {
        let Some(order) = patch.shift_remove(&directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(err_expected_list(&order));
        };
        let field = extract_key(
            &directive_key,
            SET_ELEMENT_ORDER_PREFIX,
            ERR_BAD_SET_ELEMENT_ORDER,
        )?;
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(err_expected_list(other)),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(err_expected_list(other)),
        };
        let (sub, meta) = schema.field(&field);
        let key = if meta.merges_list() {
            meta.merge_key
        } else {
            None
        };
        validate_with_order(patch_list.as_deref().unwrap_or(&[]), &order, key)?;

        let orig_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => match clean_value(Value::Array(p)) {
                Value::Array(items) => items,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => merge_slice_handler(o, p, sub, meta, false)?,
            (None, None) => continue,
        };

        let kind = element_kind(&[&orig_items, &patch_items])?;
        let ordered = match (kind, key) {
            (Some(ElemKind::Map), Some(k)) => {
                validate_merge_keys(&order, k)?;
                let (inside, outside) = partition_maps(merged, &order, k)?;
                normalize_element_order(inside, outside, &order, &orig_items, Some(k))
            }
            (Some(ElemKind::Scalar(_)), _) => {
                let (inside, outside): (Vec<Value>, Vec<Value>) = merged
                    .into_iter()
                    .partition(|v| order.iter().any(|o| go_eq(o, v)));
                normalize_element_order(inside, outside, &order, &orig_items, None)
            }
            // Lists of objects without a merge key keep the merged order.
            _ => merged,
        };
        original.insert(field.clone(), Value::Array(ordered));
        patch.shift_remove(&field);
    }
    Ok(())
}

/// `validatePatchWithSetOrderList`: the patch's elements (deletions aside)
/// must appear in the order list, in the same relative order.
fn validate_with_order(
    patch_list: &[Value],
    order: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    if key.is_none() && patch_list.iter().chain(order).any(Value::is_object) {
        // Go would compare maps with `==`; nothing sensible to check.
        return Ok(());
    }
    let non_delete: Vec<&Value> = patch_list
        .iter()
        .filter(|v| {
            key.is_none()
                || v.as_object()
                    .and_then(|m| m.get(DIRECTIVE_MARKER))
                    .and_then(Value::as_str)
                    != Some(DELETE_DIRECTIVE)
        })
        .collect();
    let (mut p, mut s) = (0, 0);
    while p < non_delete.len() && s < order.len() {
        if has_directive(non_delete[p]) {
            p += 1;
            continue;
        }
        let equal = match key {
            Some(k) => {
                let (Value::Object(l), Value::Object(r)) = (non_delete[p], &order[s]) else {
                    return Err(PatchError::Internal(format!(
                        "expected a map[string]interface {{}}, but received a {}",
                        go_type(&order[s])
                    )));
                };
                let (Some(lv), Some(rv)) = (l.get(k), r.get(k)) else {
                    let missing = if l.contains_key(k) { r } else { l };
                    return Err(err_no_merge_key(missing, k));
                };
                go_eq(lv, rv)
            }
            None => go_eq(non_delete[p], &order[s]),
        };
        if equal {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}\n",
            go_value(&Value::Array(patch_list.to_vec())),
            go_value(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}
