//! Field sets and managed fields as the Kubernetes API server tracks them for server-side apply.
//!
//! Pure functions over `serde_json::Value`: no IO. The emulator uses them to answer like a real
//! API server; Ferry's diff uses them to tell which fields of a live object it owns.
//!
//! - [`Set`]: a set of field paths with the `fieldsV1` encoding.
//! - [`Schema`]: the type knowledge needed (list types, atomic maps).
//! - [`walk`]: applied sets, comparisons, merges and removal.
//! - [`ManagedFields`]: `metadata.managedFields`, updates, applies and conflicts.

pub mod managed;
pub mod schema;
pub mod set;
pub mod walk;

pub use managed::{
    ApplyError, Conflict, ManagedFields, ManagedFieldsError, Operation, Scope, Writer,
    conflict_message,
};
pub use schema::{LIST_ELEMENT, ListType, Schema, TypePath, Untyped};
pub use set::{DecodeError, Set, render_path};
