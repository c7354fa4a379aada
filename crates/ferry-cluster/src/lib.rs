//! Cluster access for Ferry (layer 3): which clusters exist (Argo CD-format Secrets and the
//! in-cluster default), a client for each with client-side rate and concurrency limits that
//! protect the API server, discovery, and a compact watch-fed cache of the objects Ferry
//! manages.

pub mod eks;
pub mod explain;
pub mod limiter;
pub mod live;
pub mod registry;
pub mod secret;

pub use explain::{cause, explain, status_cause, watch_cause};
pub use limiter::{Limiter, Limits};
pub use live::{LiveCache, LiveObject, ResourceKey};
pub use registry::{Cluster, ClusterError, Registry};
pub use secret::{
    AwsClusterAuth, ClusterAuth, ClusterSecretError, ClusterSpec, is_cluster_secret,
    parse_cluster_secret,
};

/// The `ApiResource` of a group, version, kind and plural (for the few types Ferry names
/// itself; everything else comes from discovery).
pub fn api_resource(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> kube::discovery::ApiResource {
    kube::discovery::ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}
