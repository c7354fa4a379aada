//! RFC 6901 JSON pointers, for `ignoreDifferences.jsonPointers`: parsing with errors that say
//! what is wrong, and removal of the pointed-at fields before a comparison.

use serde_json::Value;
use thiserror::Error;

/// A problem with an `ignoreDifferences` entry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiffError {
    /// A JSON pointer that RFC 6901 does not allow. Write `/` inside a key as `~1` and `~` as
    /// `~0`.
    #[error("invalid JSON pointer {pointer:?}: {reason}")]
    InvalidPointer {
        pointer: String,
        reason: &'static str,
    },
}

/// The reference tokens of `pointer` with `~1` and `~0` unescaped. `""` (the whole document)
/// has no tokens.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, DiffError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let invalid = |reason| DiffError::InvalidPointer {
        pointer: pointer.to_string(),
        reason,
    };
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(invalid("it must start with '/'"));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                match c {
                    '~' => match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(invalid("'~' must be followed by '0' or '1'")),
                    },
                    c => out.push(c),
                }
            }
            Ok(out)
        })
        .collect()
}

/// Removes from `obj` every field the `pointers` point at, in order (so a later pointer into a
/// list sees the list after earlier removals). Pointers to absent fields, invalid pointers and
/// the whole-document pointer `""` change nothing: check entries with [`parse_pointer`] where
/// they are accepted (Argo CD likewise skips pointers that do not apply).
pub fn ignore_pointers(obj: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        let Ok(tokens) = parse_pointer(pointer) else {
            continue;
        };
        let Some((last, parents)) = tokens.split_last() else {
            continue;
        };
        let Some(parent) = parents
            .iter()
            .try_fold(&mut *obj, |cur, token| step(cur, token))
        else {
            continue;
        };
        match parent {
            Value::Object(map) => {
                map.shift_remove(last.as_str());
            }
            Value::Array(items) => {
                if let Some(i) = index(last, items.len()) {
                    items.remove(i);
                }
            }
            _ => {}
        }
    }
}

fn step<'a>(cur: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match cur {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let i = index(token, items.len())?;
            items.get_mut(i)
        }
        _ => None,
    }
}

/// An array index token: decimal digits without a leading zero, in range.
fn index(token: &str, len: usize) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok().filter(|&i| i < len)
}
