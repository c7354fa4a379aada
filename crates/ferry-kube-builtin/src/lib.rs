//! What a Kubernetes **1.24** API server knows about its built-in kinds, for an API emulator
//! that must answer like the real server. Pure functions over `serde_json::Value`: no IO.
//!
//! # Public API
//!
//! - [`BuiltinSchema::for_kind`]`(group, kind)`: implements [`ferry_fieldpath::Schema`] with the
//!   server-side-apply list types (`Atomic`, `Set`, `Map { keys, key_defaults }`) and atomic
//!   maps/structs of the 1.24 Go types.
//! - [`type_check`]`(group, kind, obj) -> Result<(), `[`TypeError`]`>`: JSON types of the typed
//!   fields; the error displays as the server's `.spec.replicas: expected numeric (int or
//!   float), got string`.
//! - [`apply_scheme_defaults`]`(group, version, kind, obj)`: decode-time defaulting
//!   (`SetDefaults_*` and the zero-value serialization artifacts).
//! - [`prepare_for_create`]`(group, kind, obj)`, [`prepare_for_update`]`(group, kind, old, new)`,
//!   [`prepare_for_status_update`]`(group, kind, old, new)`: the registry strategies (and the
//!   default Pod admission plugins).
//! - [`has_generation`], [`has_status_subresource`], [`zero_value_paths`], [`zero_value`].
//! - [`needs_cluster_ip`], [`assign_cluster_ip`]: Service IP allocation hooks.
//! - [`pull_policy`]: the `imagePullPolicy` an image gets by default.
//!
//! `group` is the API group (`""` or `"core"` for the core group, `"apps"`, ...); `kind` is the
//! kind name (`"Deployment"`). Unknown kinds are left alone by every function.
//!
//! # How the server orders these (create)
//!
//! 1. decode the body: [`type_check`] (apply patches fail with 500 on 1.24, other writes 400),
//!    then [`apply_scheme_defaults`];
//! 2. compute `managedFields`: for an update-style create, compare with [`zero_value`] (structs
//!    in [`zero_value_paths`] get no `"."` entry); drop `status` from the recorded sets of kinds
//!    where [`has_status_subresource`] (it is a reset field);
//! 3. [`prepare_for_create`] (unowned changes: reset status, generation 1, namespace finalizer,
//!    service IP families, pod admission), allocate a cluster IP if [`needs_cluster_ip`];
//! 4. store; every read decodes again, so [`apply_scheme_defaults`] is idempotent and may be
//!    applied to stored objects.
//!
//! Updates: default `new`, then [`prepare_for_update`] with the stored object (the caller keeps
//! the stored `uid` and `creationTimestamp`; defaulting writes `creationTimestamp: null` where
//! the request has none, as the Go zero value does).

mod defaults;
mod json;
mod kinds;
mod model;
mod pod;
mod schema;
mod strategy;
mod typecheck;
mod types_core;
mod types_kinds;
mod types_workloads;

pub use defaults::apply_scheme_defaults;
pub use pod::pull_policy;
pub use schema::BuiltinSchema;
pub use strategy::{
    assign_cluster_ip, has_generation, has_status_subresource, needs_cluster_ip,
    prepare_for_create, prepare_for_status_update, prepare_for_update, zero_value,
    zero_value_paths,
};
pub use typecheck::{TypeError, type_check};
