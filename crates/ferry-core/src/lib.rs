//! Ferry's vocabulary: the types every layer shares. No IO, no tokio, no network.
//!
//! - [`Sensitive`]: the redacting wrapper for tokens, keys and resolved secrets.
//! - [`ResourceKey`]: group, kind, namespace and name of an object; [`CommitId`]: a resolved
//!   revision.
//! - [`timestamp`]: the time as statuses write it.
//! - [`locks`]: `lock`/`read`/`write` that do not poison.
//! - [`codes`]: the status codes Ferry writes (sync, health, operation and hook phases,
//!   results, condition types) as typed enums serialised as Argo CD writes them.

#![forbid(unsafe_code)]

pub mod codes;
pub mod key;
pub mod locks;
pub mod sensitive;
pub mod timestamp;

pub use codes::{
    ConditionType, HealthCode, HookPhase, OperationPhase, ResultCode, SyncCode, SyncPhase,
};
pub use key::{CommitId, InvalidCommitId, ResourceKey};
pub use sensitive::Sensitive;
