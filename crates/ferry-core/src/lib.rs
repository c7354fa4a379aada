//! Ferry's vocabulary: the types every layer shares. No IO, no tokio, no network.
//!
//! - [`Sensitive`]: the redacting wrapper for tokens, keys and resolved secrets.
//! - [`ResourceKey`]: group, kind, namespace and name of an object; [`CommitId`]: a resolved
//!   revision.
//! - [`codes`]: the status codes Ferry writes (sync, health, operation and hook phases,
//!   results, condition types) as typed enums serialised as Argo CD writes them.

#![forbid(unsafe_code)]

pub mod codes;
pub mod key;
pub mod sensitive;

pub use codes::{
    ConditionType, HealthCode, HookPhase, OperationPhase, ResultCode, SyncCode, SyncPhase,
};
pub use key::{CommitId, NotACommit, ResourceKey};
pub use sensitive::Sensitive;
