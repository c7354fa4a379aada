//! Type checking against the Go types, as structured-merge-diff does when it converts an object
//! (or an apply patch) to a typed value: a scalar of the wrong kind, a map where a list belongs,
//! a non-string label. `null` is accepted everywhere; fields the tables do not describe are not
//! checked.

use serde_json::Value;

use crate::kinds::lookup;
use crate::model::{Lt, Ty};

/// A value whose JSON type does not match the field's Go type. Displays as the API server's
/// message: `.spec.replicas: expected numeric (int or float), got string`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: expected {expected}, got {got}")]
pub struct TypeError {
    /// The field, in structured-merge-diff's notation: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="main"].image`, `.spec.ports[0]`, `.data.key`.
    pub path: String,
    /// `numeric (int or float)`, `string`, `boolean`, `map`, `list` or `int or string`.
    pub expected: &'static str,
    /// The Go type name of what was found: `string`, `int64`, `float64`, `bool`,
    /// `map[string]interface {}`, `[]interface {}`.
    pub got: &'static str,
}

/// Checks the typed fields of a built-in object. Unknown kinds pass.
pub fn type_check(group: &str, kind: &str, obj: &Value) -> Result<(), TypeError> {
    let Some(info) = lookup(group, kind) else {
        return Ok(());
    };
    let mut path = String::new();
    check(Ty::Struct(info.root), obj, &mut path)
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn fail(path: &str, expected: &'static str, v: &Value) -> Result<(), TypeError> {
    Err(TypeError {
        path: path.to_owned(),
        expected,
        got: go_type(v),
    })
}

fn check(ty: Ty, v: &Value, path: &mut String) -> Result<(), TypeError> {
    if v.is_null() {
        return Ok(());
    }
    match ty {
        Ty::Any => Ok(()),
        Ty::Str if !v.is_string() => fail(path, "string", v),
        Ty::Num if !v.is_number() => fail(path, "numeric (int or float)", v),
        Ty::Bool if !v.is_boolean() => fail(path, "boolean", v),
        Ty::IntOrStr | Ty::Quantity if !(v.is_string() || v.is_number()) => {
            fail(path, "int or string", v)
        }
        Ty::Str | Ty::Num | Ty::Bool | Ty::IntOrStr | Ty::Quantity => Ok(()),
        Ty::StrMap | Ty::AtomicStrMap => each_value(&Ty::Str, v, path),
        Ty::Map(value) => each_value(value, v, path),
        Ty::Struct(fields) | Ty::AtomicStruct(fields) => {
            let Some(m) = v.as_object() else {
                return fail(path, "map", v);
            };
            for (name, field_ty) in fields {
                if let Some(child) = m.get(*name) {
                    let len = path.len();
                    path.push('.');
                    path.push_str(name);
                    check(*field_ty, child, path)?;
                    path.truncate(len);
                }
            }
            Ok(())
        }
        Ty::List(lt, elem) => {
            let Some(items) = v.as_array() else {
                return fail(path, "list", v);
            };
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&element(lt, i, item));
                check(*elem, item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
    }
}

fn each_value(ty: &Ty, v: &Value, path: &mut String) -> Result<(), TypeError> {
    let Some(m) = v.as_object() else {
        return fail(path, "map", v);
    };
    for (k, child) in m {
        let len = path.len();
        path.push('.');
        path.push_str(k);
        check(*ty, child, path)?;
        path.truncate(len);
    }
    Ok(())
}

/// How structured-merge-diff prints a list element: `[name="main"]` (keys sorted, key defaults
/// applied) for associative lists, `[="value"]` for sets, `[i]` otherwise.
fn element(lt: Lt, index: usize, item: &Value) -> String {
    match lt {
        Lt::Map(keys, defaults) => {
            let mut keys: Vec<&str> = keys.to_vec();
            keys.sort_unstable();
            let parts: Vec<String> = keys
                .iter()
                .filter_map(|k| {
                    let v = item.get(*k).cloned().or_else(|| {
                        defaults
                            .iter()
                            .find(|(d, _)| d == k)
                            .map(|(_, v)| Value::String((*v).to_owned()))
                    })?;
                    Some(format!("{k}={v}"))
                })
                .collect();
            if parts.is_empty() {
                format!("[{index}]")
            } else {
                format!("[{}]", parts.join(","))
            }
        }
        Lt::Set if !item.is_array() && !item.is_object() => format!("[={item}]"),
        _ => format!("[{index}]"),
    }
}
