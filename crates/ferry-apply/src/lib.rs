//! The apply adapter (layer 3): everything Ferry does to one object of a cluster, shared by
//! the application controller, `ferry app diff` and (later) the server, so that they cannot
//! disagree.
//!
//! - [`prepare`]: rendered objects → [`Desired`] objects and hooks: kinds resolved by
//!   discovery (or by a CRD of the same render), namespace and tracking annotation placed
//!   ([`place`]), the cluster Secret's `namespaces`/`clusterResources` enforced, hooks told
//!   apart, namespaces and CRDs first.
//! - [`shared_owner`]: whether a live object belongs to another Application (never written).
//! - [`dry_run_diff`]: what applying one object would change, by a server-side-apply dry
//!   run, with `ignoreDifferences` applied to both sides.
//! - [`writes`]: server-side apply (or replace), delete, the destination namespace.

#![forbid(unsafe_code)]

mod desired;
pub mod writes;

pub use desired::{
    Desired, PrepareError, Prepared, TAKE_OVER_ANNOTATION, describe_shared, place, prepare,
    shared_owner,
};
pub use writes::{apply, dry_run_diff, ignore_rule};
