//! What a Kubernetes 1.24 API server does with a CustomResourceDefinition's structural schema
//! (`openAPIV3Schema`) when custom resources are written: pruning, defaulting, validation with
//! the API server's exact causes and messages, and the list/map types server-side apply needs.
//! Pure functions over `serde_json::Value`; no IO.
//!
//! # API
//!
//! - [`StructuralSchema::from_value`]`(&Value) -> Result<StructuralSchema, SchemaError>` parses
//!   a schema (`type`, `properties`, `required`, `items`, `additionalProperties`, `default`,
//!   numeric bounds, `multipleOf`, lengths, `pattern`, `enum`, `format`, `nullable`, item and
//!   property counts, and the `x-kubernetes-*` extensions). Unknown keywords are ignored.
//! - [`StructuralSchema::prune`]`(&self, &mut Value)`: drops fields the schema does not
//!   specify (except under `x-kubernetes-preserve-unknown-fields`; `apiVersion`, `kind` and
//!   `metadata` at the root and in embedded resources stay), then removes `null`s of fields
//!   that are neither `nullable` nor defaulted.
//! - [`StructuralSchema::default`]`(&self, &mut Value)`: applies `default`s to missing (or
//!   disallowed `null`) properties of objects that exist, recursively.
//! - [`StructuralSchema::validate`]`(&self, &Value) -> Vec<Cause>`: schema validation, then
//!   embedded-resource and list-set/list-map checks, as [`Cause`]s (`reason`, `message`,
//!   `field`) worded like the API server's.
//! - [`StructuralSchema::admit`]`(&self, &mut Value) -> Vec<Cause>`: all three, in the API
//!   server's order.
//! - [`full_message`]`(kind, group, name, &[Cause]) -> String`: the `422 Invalid` message.
//! - `impl `[`ferry_fieldpath::Schema`]` for StructuralSchema`: `list_type` and
//!   `is_atomic_map` by type path ([`StructuralSchema::at_path`]).
//! - [`validate_crd_spec`]`(&Value) -> Vec<Cause>` checks a CRD for common mistakes;
//!   [`crd_version_schema`]`(&Value, version)` parses a version's schema.
//!
//! # Example
//!
//! ```
//! use ferry_kube_schema::{full_message, StructuralSchema};
//! use serde_json::json;
//!
//! let schema = StructuralSchema::from_value(&json!({"type": "object", "properties": {
//!     "spec": {"type": "object", "required": ["size"], "properties": {
//!         "color": {"type": "string", "default": "blue"},
//!         "size": {"type": "integer", "minimum": 1}}}}}))?;
//! let mut obj = json!({"spec": {"size": 0, "shape": "round"}});
//! let causes = schema.admit(&mut obj);
//! assert_eq!(obj, json!({"spec": {"size": 0, "color": "blue"}}));
//! assert_eq!(
//!     full_message("Widget", "demo.ferry.test", "w2", &causes),
//!     "Widget.demo.ferry.test \"w2\" is invalid: spec.size: Invalid value: 0: \
//!      spec.size in body should be greater than or equal to 1"
//! );
//! # Ok::<(), ferry_kube_schema::SchemaError>(())
//! ```

mod cause;
mod crd;
mod default;
mod formats;
mod names;
mod pattern;
mod prune;
mod schema;
mod structural;
mod typed;
mod undeclared;
mod validate;

use serde_json::Value;

pub use cause::{Cause, CauseReason, full_message};
pub use crd::{crd_version_schema, validate_crd_spec};
pub use pattern::Pattern;
pub use schema::{AdditionalProperties, SchemaError, StructuralSchema};

impl StructuralSchema {
    /// The path of the first field of `obj` that the schema does not declare and that no
    /// enclosing `x-kubernetes-preserve-unknown-fields` admits (`.spec.colour`, list elements
    /// as structured-merge-diff names them): where the API server refuses a server-side
    /// apply, with `failed to create typed patch object (...): PATH: field not declared in
    /// schema`. `None` when every field is declared. The fields are those [`Self::prune`]
    /// drops.
    pub fn first_undeclared(&self, obj: &Value) -> Option<String> {
        undeclared::first_undeclared(obj, self)
    }

    /// Prunes `obj` as the API server does when it decodes a custom resource: fields the
    /// schema does not specify are dropped, unless an enclosing node has
    /// `x-kubernetes-preserve-unknown-fields`; `apiVersion`/`kind` (strings) and `metadata`
    /// (an object) at the root and in `x-kubernetes-embedded-resource` objects are kept as they
    /// are. Then `null` values of fields that are neither `nullable` nor defaulted are removed.
    pub fn prune(&self, obj: &mut Value) {
        prune::prune_root(obj, self);
        prune::prune_nulls(obj, self);
    }

    /// Applies `default`s as the API server does: a missing property of an object that exists
    /// (or one that is `null` without `nullable`) takes its default, recursively through
    /// properties, array items and `additionalProperties` values. Absent objects are created
    /// only when they have a default themselves.
    pub fn default(&self, obj: &mut Value) {
        default::apply(obj, self);
    }

    /// Validates `obj` (the whole object, including `apiVersion`, `kind` and `metadata`)
    /// against the schema, returning every failure. Metadata itself (names, labels) is not
    /// checked here. Order: schema causes in schema order, then embedded-resource causes,
    /// then `x-kubernetes-list-type` set/map causes.
    pub fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut out = Vec::new();
        validate::Validator::new(&mut out).node(self, obj, "");
        structural::embedded("", obj, self, &mut out);
        structural::list_sets_and_maps("", obj, self, &mut out);
        out
    }

    /// Prunes, defaults and validates `obj`, in the API server's order.
    pub fn admit(&self, obj: &mut Value) -> Vec<Cause> {
        self.prune(obj);
        self.default(obj);
        self.validate(obj)
    }
}
