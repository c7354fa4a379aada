//! Cluster access for Ferry (layer 3): which clusters exist (Argo CD-format Secrets and the
//! in-cluster default), a client for each with client-side rate and concurrency limits that
//! protect the API server, discovery, and a compact watch-fed cache of the objects Ferry
//! manages.

pub mod limiter;
pub mod live;
pub mod registry;
pub mod secret;

pub use limiter::{Limiter, Limits};
pub use live::{LiveCache, LiveObject, ObjectKey};
pub use registry::{Cluster, ClusterError, Registry};
pub use secret::{
    ClusterAuth, ClusterSecretError, ClusterSpec, is_cluster_secret, parse_cluster_secret,
};
