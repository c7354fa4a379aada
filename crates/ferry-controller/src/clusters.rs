//! What the controller knows of each registered cluster, published in the ConfigMap
//! `ferry-clusters` of Ferry's namespace (one key per cluster, a JSON object), so that
//! `ferry cluster list|get` (and later the server) show it without credentials of their
//! own: reachability and Kubernetes version (asked every [`EVERY`]), the last error in
//! words, and for EKS clusters the account, the identity Ferry is seen as and the token's
//! expiry; and the clusters Secrets declare that could not be registered, with why. Looked
//! at every [`PUBLISH_EVERY`], written only when something changed; nothing in it is a
//! credential.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_cluster::{Cluster, api_resource};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::ControllerCtx;

/// The ConfigMap the controller publishes cluster status in.
pub const CLUSTERS_CONFIGMAP_NAME: &str = "ferry-clusters";

/// How often every cluster is asked for its version.
const EVERY: Duration = Duration::from_secs(30);

/// How often what is known is published (when it changed): a failed token renewal or a
/// Secret found unusable shows within this.
const PUBLISH_EVERY: Duration = Duration::from_secs(3);

/// A cluster's last answer to `GET /version`: reachable, its version, or why not.
#[derive(Clone)]
struct Probe {
    at: Instant,
    server: String,
    reachable: bool,
    version: Option<String>,
    error: Option<String>,
}

/// Publishes cluster status until `stop` changes.
pub(crate) fn spawn(ctx: &Arc<ControllerCtx>, client: &kube::Client, stop: &watch::Receiver<bool>) {
    let ctx = ctx.clone();
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ctx.config.namespace,
        &api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    let mut stop = stop.clone();
    tokio::spawn(async move {
        let mut published: Option<BTreeMap<String, String>> = None;
        let mut probes: HashMap<String, Probe> = HashMap::new();
        let mut wait = Duration::from_secs(2);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            wait = PUBLISH_EVERY;
            let mut data = BTreeMap::new();
            let clusters = ctx.registry.all();
            probes.retain(|name, _| clusters.iter().any(|c| c.name() == name));
            for cluster in clusters {
                let stale = probes
                    .get(cluster.name())
                    .is_none_or(|p| p.at.elapsed() >= EVERY || p.server != cluster.spec.server);
                if stale {
                    probes.insert(cluster.name().to_owned(), probe(&cluster).await);
                }
                let Some(p) = probes.get(cluster.name()) else {
                    continue;
                };
                let status = status_of(&ctx, &cluster, p);
                data.insert(cluster.name().to_owned(), status.to_string());
            }
            // Declared but not registered (a role denied, a cluster not found): said too,
            // so that `ferry cluster get` tells why rather than "not seen".
            for (name, source, problem) in ctx.registry.unregistered() {
                let status = json!({"source": source, "reachable": false,
                    "registered": false, "lastError": problem});
                data.entry(name).or_insert_with(|| status.to_string());
            }
            if published.as_ref() == Some(&data) {
                continue;
            }
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": CLUSTERS_CONFIGMAP_NAME,
                    "labels": {"app.kubernetes.io/managed-by": "ferry"}},
                "data": data});
            let pp = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
            match api
                .patch(CLUSTERS_CONFIGMAP_NAME, &pp, &Patch::Apply(&cm))
                .await
            {
                Ok(_) => published = Some(data),
                Err(e) => tracing::warn!(error = %e, "publishing cluster status failed"),
            }
        }
    });
}

/// Asks `cluster` for its version.
async fn probe(cluster: &Cluster) -> Probe {
    let version = {
        let _permit = cluster.limiter.acquire().await;
        tokio::time::timeout(Duration::from_secs(5), cluster.client.apiserver_version()).await
    };
    let (reachable, version, error) = match version {
        Ok(Ok(info)) => (true, Some(info.git_version), None),
        Ok(Err(e)) => (false, None, Some(cluster.cause(&e))),
        Err(_) => (
            false,
            None,
            Some("no answer to GET /version within 5 s".to_owned()),
        ),
    };
    Probe {
        at: Instant::now(),
        server: cluster.spec.server.clone(),
        reachable,
        version,
        error,
    }
}

/// One cluster as `ferry cluster get` shows it.
fn status_of(ctx: &ControllerCtx, cluster: &Cluster, probe: &Probe) -> Value {
    let (reachable, version, mut error) =
        (probe.reachable, probe.version.clone(), probe.error.clone());
    let eks = cluster.eks_status();
    if error.is_none() {
        error = eks.as_ref().and_then(|s| s.last_error.clone());
    }
    if let Some(problem) = ctx.registry.problem_of(cluster) {
        error = Some(problem);
    }
    let kind = match &cluster.spec.auth {
        ferry_cluster::ClusterAuth::Aws(_) => "eks",
        ferry_cluster::ClusterAuth::Bearer(_) => "bearer-token",
        ferry_cluster::ClusterAuth::InCluster => "in-cluster",
        ferry_cluster::ClusterAuth::None => "tls-client-certificate-or-none",
    };
    let applications = ctx.count_apps(|_, app| {
        let dest = &app.spec.destination;
        dest.name.as_deref() == Some(cluster.name())
            || dest.server.as_deref().is_some_and(|s| {
                s.trim_end_matches('/') == cluster.spec.server.trim_end_matches('/')
            })
    });
    let mut status = json!({
        "server": cluster.spec.server,
        "source": cluster.spec.source,
        "auth": kind,
        "reachable": reachable,
        "applications": applications,
    });
    if let Some(v) = version {
        status["version"] = json!(v);
    }
    if let Some(e) = error {
        status["lastError"] = json!(e);
    }
    if let (ferry_cluster::ClusterAuth::Aws(auth), Some(eks)) = (&cluster.spec.auth, eks) {
        status["eks"] = json!({
            "clusterName": auth.cluster_name,
            "account": eks.account,
            "identity": eks.identity,
            "tokenExpiresAt": eks.token_expires_at.map(ferry_core::timestamp::rfc3339),
        });
    }
    status
}
