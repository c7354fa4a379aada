//! What a field set needs to know about an object's type: how its lists merge and which of its
//! maps and structs are atomic. Implemented for built-in kinds by `ferry-kube-builtin` and for
//! custom resources by `ferry-kube-schema`.

use serde_json::Value;

/// A path through an object's *type*: field names from the root, with `"[]"` for "an element of
/// this list". Map keys of granular maps (`data`, `labels`) appear as plain segments.
/// Example: `["spec", "template", "spec", "containers", "[]", "ports"]`.
pub type TypePath<'a> = &'a [&'a str];

/// Marker segment for "an element of the list at this path".
pub const LIST_ELEMENT: &str = "[]";

/// How a list is merged and tracked (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole; owned as one leaf (`f:args: {}`).
    Atomic,
    /// A set of scalars; each value is owned separately (`v:"example.com/hold"`).
    Set,
    /// An associative list keyed by these fields (`k:{"name":"main"}`). `key_defaults` are the
    /// values a key field takes when the object omits it (a container port's `protocol` is
    /// `TCP`), applied when computing the element's key.
    Map {
        keys: Vec<String>,
        key_defaults: Vec<(String, Value)>,
    },
}

impl ListType {
    /// An associative list keyed by the given fields, with no key defaults.
    pub fn map(keys: &[&str]) -> Self {
        ListType::Map {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            key_defaults: Vec::new(),
        }
    }
}

/// Type knowledge a field-set computation consults.
pub trait Schema {
    /// The list type at `path`; `None` when the schema does not know the path (treated as
    /// atomic, which is what the API server does for untagged lists).
    fn list_type(&self, path: TypePath<'_>) -> Option<ListType>;

    /// Whether the map or struct at `path` is atomic (`x-kubernetes-map-type: atomic`,
    /// `+structType=atomic`): replaced as a whole and owned as one leaf.
    fn is_atomic_map(&self, path: TypePath<'_>) -> bool;

    /// Whether `name` is a named field of the struct at `path` (a Go struct field, a CRD
    /// `properties` entry) rather than a key of a map (`labels`, `data`,
    /// `additionalProperties`, an untyped object). Structured-merge-diff tells the two apart:
    /// an applied map key is owned itself (`"f:key": {".": {}, ...}`), a struct field only
    /// through its leaves; and a field a manager stops applying is removed as a whole when it
    /// is named. The default, for types nothing is known of, is a map key (deduced types).
    fn is_named_field(&self, _path: TypePath<'_>, _name: &str) -> bool {
        false
    }
}

/// A schema that knows nothing: every list atomic, every map granular.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untyped;

impl Schema for Untyped {
    fn list_type(&self, _path: TypePath<'_>) -> Option<ListType> {
        None
    }
    fn is_atomic_map(&self, _path: TypePath<'_>) -> bool {
        false
    }
}
