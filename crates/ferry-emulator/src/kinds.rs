//! What the server knows about a resource type's objects, whether built in or custom: the
//! schema that drives managed fields, defaulting, type checks, and validation.

use ferry_fieldpath::{ListType, Schema, TypePath};
use ferry_kube_builtin as builtin;
use serde_json::{Map, Value};

use crate::resources::ResourceType;
use crate::status::Cause;

/// The field-set schema of a resource type.
pub enum KindSchema<'a> {
    Builtin(builtin::BuiltinSchema),
    Custom(Option<&'a ferry_kube_schema::StructuralSchema>),
}

impl Schema for KindSchema<'_> {
    fn list_type(&self, path: TypePath<'_>) -> Option<ListType> {
        match (self, path.first()) {
            // Metadata is the same for every kind.
            (KindSchema::Custom(_), Some(&"metadata")) => {
                builtin::BuiltinSchema::for_kind("", "ConfigMap").list_type(path)
            }
            (KindSchema::Builtin(b), _) => b.list_type(path),
            (KindSchema::Custom(Some(s)), _) => s.list_type(path),
            (KindSchema::Custom(None), _) => None,
        }
    }

    fn is_named_field(&self, path: TypePath<'_>, name: &str) -> bool {
        match (self, path.first()) {
            (KindSchema::Custom(_), Some(&"metadata")) => {
                builtin::BuiltinSchema::for_kind("", "ConfigMap").is_named_field(path, name)
            }
            (KindSchema::Builtin(b), _) => b.is_named_field(path, name),
            (KindSchema::Custom(Some(s)), _) => s.is_named_field(path, name),
            // A custom resource without a schema: its identity and metadata are fields, the
            // rest is an untyped object.
            (KindSchema::Custom(None), _) => {
                path.is_empty() && matches!(name, "apiVersion" | "kind" | "metadata")
            }
        }
    }

    fn is_atomic_map(&self, path: TypePath<'_>) -> bool {
        match (self, path.first()) {
            (KindSchema::Custom(_), Some(&"metadata")) => {
                builtin::BuiltinSchema::for_kind("", "ConfigMap").is_atomic_map(path)
            }
            (KindSchema::Builtin(b), _) => b.is_atomic_map(path),
            (KindSchema::Custom(Some(s)), _) => s.is_atomic_map(path),
            (KindSchema::Custom(None), _) => false,
        }
    }
}

pub fn schema(rt: &ResourceType) -> KindSchema<'_> {
    match &rt.custom {
        Some(c) => KindSchema::Custom(c.schema.as_ref()),
        None => KindSchema::Builtin(builtin::BuiltinSchema::for_kind(&rt.group, &rt.kind)),
    }
}

/// Defaulting done while decoding (owned by the writer).
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    match &rt.custom {
        Some(c) => {
            if let Some(s) = &c.schema {
                s.prune(obj);
                s.default(obj);
            }
        }
        None => builtin::apply_scheme_defaults(&rt.group, &rt.version, &rt.kind, obj),
    }
}

/// A field of the wrong type in a typed object.
pub fn type_error(rt: &ResourceType, obj: &Value) -> Option<builtin::TypeError> {
    match &rt.custom {
        Some(_) => None,
        None => builtin::type_check(&rt.group, &rt.kind, obj).err(),
    }
}

/// The first field of an applied custom resource its schema does not declare (where the
/// API server's typed conversion of the apply patch fails). Built-in kinds are not checked:
/// their type tables describe 1.24, and refusing a field a newer version has would be wrong.
pub fn undeclared_field(rt: &ResourceType, obj: &Value) -> Option<String> {
    rt.custom.as_ref()?.schema.as_ref()?.first_undeclared(obj)
}

/// Schema validation of custom resources.
pub fn schema_causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let Some(schema) = rt.custom.as_ref().and_then(|c| c.schema.as_ref()) else {
        return Vec::new();
    };
    schema
        .validate(obj)
        .into_iter()
        .map(|c| Cause::new(c.reason.as_str(), &c.field, c.message))
        .collect()
}

/// The empty typed object a create is compared against (see `ManagedFields::update`): for
/// built-in kinds the Go zero value, whose non-pointer structs exist and whose lists are
/// `null`; for custom resources nothing.
pub fn zero(rt: &ResourceType) -> Value {
    if rt.custom.is_some() {
        return Value::Object(Map::new());
    }
    builtin::zero_value(&rt.group, &rt.kind).unwrap_or_else(|| Value::Object(Map::new()))
}

pub fn has_generation(rt: &ResourceType) -> bool {
    rt.custom.is_some() || builtin::has_generation(&rt.group, &rt.kind)
}

pub fn prepare_for_create(rt: &ResourceType, obj: &mut Value) {
    if rt.custom.is_some() {
        if rt.has_status()
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        return;
    }
    builtin::prepare_for_create(&rt.group, &rt.kind, obj);
}

pub fn prepare_for_update(rt: &ResourceType, old: &Value, new: &mut Value) {
    if rt.custom.is_some() {
        if rt.has_status()
            && let Some(m) = new.as_object_mut()
        {
            match old.get("status") {
                Some(s) => m.insert("status".into(), s.clone()),
                None => m.remove("status"),
            };
        }
        return;
    }
    builtin::prepare_for_update(&rt.group, &rt.kind, old, new);
}
