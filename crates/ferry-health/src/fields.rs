//! Typed reads of a live object's fields, with Go's zero values for absent fields and an
//! [`AssessError`] for fields of the wrong type (where Argo CD's typed conversion fails and the
//! resource's health becomes `Unknown`).

use serde_json::Value;
use thiserror::Error;

/// Why a resource's health could not be assessed. [`crate::assess`] turns it into
/// `Unknown` health whose message is this error's text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssessError {
    /// The object is not a JSON object at all.
    #[error("object is not a JSON object")]
    NotAnObject,
    /// A field the rule reads has the wrong JSON type.
    #[error("failed to read {kind}: field {path} is not {expected}")]
    WrongType {
        kind: String,
        path: String,
        expected: &'static str,
    },
}

/// A view of one object for the rules: the object plus its kind, for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    obj: &'a Value,
    kind: &'a str,
}

/// One entry of a `status.conditions` list.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Condition<'a> {
    pub type_: &'a str,
    pub status: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
}

// === impl Fields ===

impl<'a> Fields<'a> {
    pub(crate) fn new(obj: &'a Value, kind: &'a str) -> Fields<'a> {
        Fields { obj, kind }
    }

    pub(crate) fn kind(&self) -> &'a str {
        self.kind
    }

    fn wrong(&self, path: &[&str], expected: &'static str) -> AssessError {
        AssessError::WrongType {
            kind: self.kind.to_string(),
            path: path.join("."),
            expected,
        }
    }

    /// The value at `path`, or `None` when any step is absent or `null`. An intermediate step
    /// that is present but not an object is an error.
    pub(crate) fn get(&self, path: &[&str]) -> Result<Option<&'a Value>, AssessError> {
        get_in(self.obj, path).map_err(|depth| self.wrong(&path[..depth], "an object"))
    }

    pub(crate) fn str(&self, path: &[&str]) -> Result<&'a str, AssessError> {
        match self.get(path)? {
            None => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.wrong(path, "a string")),
        }
    }

    pub(crate) fn opt_int(&self, path: &[&str]) -> Result<Option<i64>, AssessError> {
        match self.get(path)? {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(path, "an integer")),
        }
    }

    pub(crate) fn int(&self, path: &[&str]) -> Result<i64, AssessError> {
        Ok(self.opt_int(path)?.unwrap_or(0))
    }

    pub(crate) fn bool(&self, path: &[&str]) -> Result<bool, AssessError> {
        match self.get(path)? {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.wrong(path, "a boolean")),
        }
    }

    pub(crate) fn list(&self, path: &[&str]) -> Result<&'a [Value], AssessError> {
        match self.get(path)? {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.wrong(path, "a list")),
        }
    }

    /// Whether `path` holds something other than `null`.
    pub(crate) fn has(&self, path: &[&str]) -> Result<bool, AssessError> {
        Ok(self.get(path)?.is_some())
    }

    /// A view of `item` (an element of a list in this object) with the same kind.
    pub(crate) fn at(&self, item: &'a Value) -> Fields<'a> {
        Fields {
            obj: item,
            kind: self.kind,
        }
    }

    /// The conditions listed at `path` (usually `status.conditions`).
    pub(crate) fn conditions(&self, path: &[&str]) -> Result<Vec<Condition<'a>>, AssessError> {
        let mut out = Vec::new();
        for item in self.list(path)? {
            if !item.is_object() {
                return Err(self.wrong(path, "a list of conditions"));
            }
            let c = self.at(item);
            out.push(Condition {
                type_: c.str(&["type"])?,
                status: c.str(&["status"])?,
                reason: c.str(&["reason"])?,
                message: c.str(&["message"])?,
            });
        }
        Ok(out)
    }

    /// The first condition of type `type_` at `path`.
    pub(crate) fn condition(
        &self,
        path: &[&str],
        type_: &str,
    ) -> Result<Option<Condition<'a>>, AssessError> {
        Ok(self
            .conditions(path)?
            .into_iter()
            .find(|c| c.type_ == type_))
    }

    /// The value of annotation `key`, if set.
    pub(crate) fn annotation(&self, key: &str) -> Option<&'a str> {
        self.obj
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }

    pub(crate) fn name(&self) -> &'a str {
        self.obj
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Walks `path`; `Err(depth)` names the prefix length whose value is not an object.
fn get_in<'a>(obj: &'a Value, path: &[&str]) -> Result<Option<&'a Value>, usize> {
    let mut cur = obj;
    for (i, key) in path.iter().enumerate() {
        match cur {
            Value::Null => return Ok(None),
            Value::Object(map) => match map.get(*key) {
                Some(next) => cur = next,
                None => return Ok(None),
            },
            _ => return Err(i.max(1)),
        }
    }
    Ok(if cur.is_null() { None } else { Some(cur) })
}
