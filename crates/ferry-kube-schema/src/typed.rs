//! [`ferry_fieldpath::Schema`] for a structural schema: the list and map types server-side
//! apply reads from `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
//! `x-kubernetes-map-type`.

use ferry_fieldpath::{LIST_ELEMENT, ListType, Schema, TypePath};

use crate::schema::StructuralSchema;

impl StructuralSchema {
    /// The schema node at a type path: field names through `properties` (or
    /// `additionalProperties` for map keys), `"[]"` through `items`. `None` when the schema
    /// does not specify the path, and for anything under the root's `metadata`, which the
    /// API server types itself.
    pub fn at_path(&self, path: TypePath<'_>) -> Option<&StructuralSchema> {
        if path.first() == Some(&"metadata") {
            return None;
        }
        let mut node = self;
        for segment in path {
            node = if *segment == LIST_ELEMENT {
                node.items.as_deref()?
            } else {
                node.child(segment)?
            };
        }
        Some(node)
    }

    /// The list type of this node, when it is a list: `atomic` unless tagged otherwise.
    pub fn own_list_type(&self) -> Option<ListType> {
        let is_list =
            self.ty.as_deref() == Some("array") || self.items.is_some() || self.list_type.is_some();
        if !is_list {
            return None;
        }
        Some(match self.list_type.as_deref() {
            Some("set") => ListType::Set,
            Some("map") => {
                let key_defaults = self
                    .list_map_keys
                    .iter()
                    .filter_map(|k| {
                        let d = self.items.as_ref()?.property(k)?.default.clone()?;
                        Some((k.clone(), d))
                    })
                    .collect();
                ListType::Map {
                    keys: self.list_map_keys.clone(),
                    key_defaults,
                }
            }
            _ => ListType::Atomic,
        })
    }
}

impl Schema for StructuralSchema {
    fn list_type(&self, path: TypePath<'_>) -> Option<ListType> {
        self.at_path(path)?.own_list_type()
    }

    /// `properties` are named fields; keys under `additionalProperties` or
    /// `x-kubernetes-preserve-unknown-fields` are not (the API server's structured-merge-diff
    /// schema of a CRD makes the first struct fields and the others map entries). The root's
    /// `apiVersion`, `kind` and `metadata` are always fields.
    fn is_named_field(&self, path: TypePath<'_>, name: &str) -> bool {
        if path.is_empty() && matches!(name, "apiVersion" | "kind" | "metadata") {
            return true;
        }
        self.at_path(path)
            .is_some_and(|s| s.property(name).is_some())
    }

    fn is_atomic_map(&self, path: TypePath<'_>) -> bool {
        self.at_path(path)
            .is_some_and(|s| s.map_type.as_deref() == Some("atomic"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> StructuralSchema {
        let v = json!({"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}}},
        "spec": {"type": "object", "properties": {
            "args": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["port", "protocol"],
                      "items": {"type": "object", "properties": {
                          "port": {"type": "integer"},
                          "protocol": {"type": "string", "default": "TCP"},
                          "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "additionalProperties": {"type": "string"}},
            "labels": {"type": "object", "x-kubernetes-map-type": "granular",
                       "additionalProperties": {"type": "array", "items": {"type": "string"},
                                                "x-kubernetes-list-type": "set"}},
            "name": {"type": "string"}
        }}}});
        match StructuralSchema::from_value(&v) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn list_types_by_path() {
        let s = schema();
        assert_eq!(s.list_type(&["spec", "args"]), Some(ListType::Atomic));
        assert_eq!(s.list_type(&["spec", "tags"]), Some(ListType::Set));
        assert_eq!(
            s.list_type(&["spec", "ports"]),
            Some(ListType::Map {
                keys: vec!["port".to_owned(), "protocol".to_owned()],
                key_defaults: vec![("protocol".to_owned(), json!("TCP"))],
            })
        );
        assert_eq!(
            s.list_type(&["spec", "ports", "[]", "hosts"]),
            Some(ListType::Set)
        );
        assert_eq!(
            s.list_type(&["spec", "labels", "team"]),
            Some(ListType::Set)
        );
        assert_eq!(s.list_type(&["spec", "name"]), None);
        assert_eq!(s.list_type(&["spec", "nope"]), None);
        assert_eq!(s.list_type(&["metadata", "finalizers"]), None);
    }

    #[test]
    fn atomic_maps() {
        let s = schema();
        assert!(s.is_atomic_map(&["spec", "selector"]));
        assert!(!s.is_atomic_map(&["spec", "labels"]));
        assert!(!s.is_atomic_map(&["spec"]));
        assert!(!s.is_atomic_map(&["spec", "missing"]));
    }
}
