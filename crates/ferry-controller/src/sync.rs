//! A sync: create the destination namespace when asked, server-side apply every desired
//! object (field manager `ferry`, forcing ownership of the fields Git declares), then prune
//! what left Git, last. Nothing is pruned when an apply failed.

use ferry_api::{ResourceResult, SyncOptions, SyncResult};
use ferry_cluster::{Cluster, LiveObject};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;

use crate::compare::{Comparison, apply};

/// What a sync did.
#[derive(Debug)]
pub struct SyncOutcome {
    pub result: SyncResult,
    /// Each applied object as the cluster answered, by key: a comparison of the same desired
    /// object with this live object needs no dry run.
    pub applied: Vec<(ferry_cluster::ObjectKey, serde_json::Value)>,
    pub ok: bool,
    pub message: String,
}

fn result_of(
    group: &str,
    version: &str,
    kind: &str,
    ns: &str,
    name: &str,
    status: &str,
    message: String,
) -> ResourceResult {
    ResourceResult {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        namespace: ns.into(),
        name: name.into(),
        status: status.into(),
        message,
    }
}

async fn create_namespace(cluster: &Cluster, ns: &str) -> Result<(), kube::Error> {
    let ar = ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Namespace".into(),
        plural: "namespaces".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ar);
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let _permit = cluster.limiter.acquire().await;
    api.patch(
        ns,
        &PatchParams::apply(ferry_api::FIELD_MANAGER),
        &Patch::Apply(&obj),
    )
    .await
    .map(|_| ())
}

async fn prune(cluster: &Cluster, p: &LiveObject) -> Result<(), kube::Error> {
    let api_version = p.object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let (ar, caps) = cluster
        .resolve(group, version, &p.key.kind)
        .await
        .map_err(|e| kube::Error::Service(e.to_string().into()))?;
    let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
        Api::namespaced_with(cluster.client.clone(), &p.key.namespace, &ar)
    } else {
        Api::all_with(cluster.client.clone(), &ar)
    };
    let _permit = cluster.limiter.acquire().await;
    match api.delete(&p.key.name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Applies `cmp.desired`, then prunes `cmp.prunable` when `prune` is set.
pub async fn sync(
    cluster: &Cluster,
    cmp: &Comparison,
    options: &SyncOptions,
    destination_ns: Option<&str>,
    prune_enabled: bool,
) -> SyncOutcome {
    let mut results = Vec::new();
    let mut applied = Vec::new();
    let mut failures = 0usize;
    if options.create_namespace
        && let Some(ns) = destination_ns.filter(|n| !n.is_empty())
        && let Err(e) = create_namespace(cluster, ns).await
    {
        failures += 1;
        results.push(result_of(
            "",
            "v1",
            "Namespace",
            "",
            ns,
            "SyncFailed",
            e.to_string(),
        ));
    }
    for d in &cmp.desired {
        let (status, message) = match apply(cluster, d, false).await {
            Ok(live) => {
                applied.push((d.key.clone(), live));
                let what = if d.in_sync { "unchanged" } else { "applied" };
                ("Synced", what.to_owned())
            }
            Err(e) => {
                failures += 1;
                ("SyncFailed", e.to_string())
            }
        };
        results.push(result_of(
            &d.key.group,
            &d.ar.version,
            &d.key.kind,
            &d.key.namespace,
            &d.key.name,
            status,
            message,
        ));
    }
    let mut pruned = 0usize;
    for p in &cmp.prunable {
        let version = p.object["apiVersion"]
            .as_str()
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        let (status, message) = if !prune_enabled {
            ("PruneSkipped", "pruning is not enabled".to_owned())
        } else if failures > 0 {
            (
                "PruneSkipped",
                "an apply failed; nothing is pruned".to_owned(),
            )
        } else {
            match prune(cluster, p).await {
                Ok(()) => {
                    pruned += 1;
                    ("Pruned", "pruned".to_owned())
                }
                Err(e) => {
                    failures += 1;
                    ("SyncFailed", e.to_string())
                }
            }
        };
        let k = &p.key;
        results.push(result_of(
            &k.group,
            &version,
            &k.kind,
            &k.namespace,
            &k.name,
            status,
            message,
        ));
    }
    let message = if failures == 0 {
        format!(
            "successfully synced {} resources, pruned {pruned}",
            cmp.desired.len()
        )
    } else {
        let first = results
            .iter()
            .find(|r| r.status == "SyncFailed")
            .map(|r| format!("{} {}/{}: {}", r.kind, r.namespace, r.name, r.message))
            .unwrap_or_default();
        format!("{failures} resources failed to sync; first: {first}")
    };
    SyncOutcome {
        result: SyncResult {
            revision: cmp.revision.clone(),
            resources: results,
        },
        applied,
        ok: failures == 0,
        message,
    }
}
