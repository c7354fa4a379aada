//! [`BuiltinSchema`]: the server-side-apply list and map types of a built-in kind, answering the
//! [`ferry_fieldpath::Schema`] questions from the type tables.

use ferry_fieldpath::{ListType, Schema, TypePath};
use serde_json::Value;

use crate::kinds::{KindInfo, lookup};
use crate::model::{Lt, Ty, resolve};

/// The structured-merge-diff type knowledge of one built-in kind (1.24).
///
/// Lists: `+listType`/`+listMapKey` where the Go type has them; otherwise a list with
/// `patchStrategy=merge` and `patchMergeKey` is a map keyed by the merge key, and every other
/// list is atomic. Maps and structs: granular unless `+mapType=atomic`/`+structType=atomic`.
/// For an unknown kind every answer is the untyped one (lists atomic, maps granular).
#[derive(Debug, Clone, Copy)]
pub struct BuiltinSchema {
    kind: Option<&'static KindInfo>,
}

impl BuiltinSchema {
    /// The schema of `kind` in `group` (`""` or `"core"` for the core group). Versions of a
    /// group share one description.
    pub fn for_kind(group: &str, kind: &str) -> BuiltinSchema {
        BuiltinSchema {
            kind: lookup(group, kind),
        }
    }

    /// Whether the kind is one this crate describes.
    pub fn is_known(&self) -> bool {
        self.kind.is_some()
    }

    fn resolve(&self, path: TypePath<'_>) -> Option<Ty> {
        resolve(self.kind?.root, path)
    }
}

impl Schema for BuiltinSchema {
    fn list_type(&self, path: TypePath<'_>) -> Option<ListType> {
        match self.resolve(path)? {
            Ty::List(Lt::Atomic, _) => Some(ListType::Atomic),
            Ty::List(Lt::Set, _) => Some(ListType::Set),
            Ty::List(Lt::Map(keys, defaults), _) => Some(ListType::Map {
                keys: keys.iter().map(|k| (*k).to_owned()).collect(),
                key_defaults: defaults
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                    .collect(),
            }),
            _ => None,
        }
    }

    /// Go struct fields are named; keys of `map[string]T` are not. What the tables do not
    /// describe (an unknown kind, raw JSON) is taken for a struct, as nearly every built-in
    /// type is one.
    fn is_named_field(&self, path: TypePath<'_>, name: &str) -> bool {
        if path.is_empty() && matches!(name, "apiVersion" | "kind" | "metadata") {
            return true;
        }
        match self.resolve(path) {
            Some(Ty::Struct(fields) | Ty::AtomicStruct(fields)) => {
                fields.iter().any(|(n, _)| *n == name)
            }
            Some(Ty::Map(_) | Ty::StrMap | Ty::AtomicStrMap) => false,
            _ => true,
        }
    }

    fn is_atomic_map(&self, path: TypePath<'_>) -> bool {
        matches!(
            self.resolve(path),
            Some(Ty::AtomicStruct(_) | Ty::AtomicStrMap)
        )
    }
}
