//! Comparing an application's desired objects with its cluster: each desired object is
//! placed (namespace, tracking annotation), predicted by a server-side-apply dry run (skipped
//! when neither it nor its live copy changed since the last comparison), diffed against the
//! live copy from the watch cache, and assessed for health; objects of the application that
//! left Git are found for pruning. Secret references are resolved by the source service in
//! the account [`app_aws`] names; the comparison carries their values' [`Redactions`], applied
//! to every message made from the resolved objects (dry-run refusals here, sync results).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use ferry_api::{Application, HealthStatus, ResourceStatus, SyncCode};
pub use ferry_apply::{Desired, describe_shared, ignore_rule, place, shared_owner};
use ferry_apply::{PrepareError, Prepared};
use ferry_cluster::{Cluster, LiveCache, LiveObject, ResourceKey};
use serde_json::{Value, json};

use crate::ControllerCtx;
pub use ferry_source::Redactions;

/// The result of a comparison.
#[derive(Debug)]
pub struct Comparison {
    /// The commit compared, as the source service resolved it.
    pub revision: ferry_core::CommitId,
    pub desired: Vec<Desired>,
    /// Objects with a `hook` annotation: run by a sync, never compared or pruned.
    pub hooks: Vec<Desired>,
    pub prunable: Vec<LiveObject>,
    pub resources: Vec<ResourceStatus>,
    pub sync: SyncCode,
    pub health: HealthStatus,
    /// Per-object problems (dry run refused), as `ComparisonError` messages.
    pub problems: Vec<String>,
    /// The live copy of each desired object (same order), as compared.
    pub lives: Vec<Option<Value>>,
    /// The secret values in `desired` and `hooks`, to be hidden in any message about them.
    pub redactions: Redactions,
}

impl Comparison {
    /// Desired objects another Application tracks, with that application.
    pub fn shared(&self) -> impl Iterator<Item = (&ResourceKey, &str)> {
        self.desired
            .iter()
            .filter_map(|d| d.owner.as_deref().map(|o| (&d.key, o)))
    }

    /// Whether resource status `r` is of a shared object (left to its owner).
    pub fn is_shared(&self, r: &ResourceStatus) -> bool {
        !r.requires_pruning
            && self.desired.iter().any(|d| {
                d.owner.is_some()
                    && d.key.group == r.group
                    && d.key.kind == r.kind
                    && d.key.namespace == r.namespace
                    && d.key.name == r.name
            })
    }
}

/// Why a comparison could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{0}")]
    Source(#[from] ferry_source::SourceError),
    #[error("{0}")]
    Cluster(#[from] ferry_cluster::ClusterError),
    #[error("cluster {cluster} ({server}) cannot be read: {detail}")]
    Unreachable {
        cluster: String,
        server: String,
        detail: String,
    },
    #[error("{object} in {file}: {reason}")]
    Invalid {
        object: String,
        file: String,
        reason: String,
    },
}

/// A memo of the last comparison of one object: unchanged inputs give the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memo {
    pub desired_hash: u64,
    /// [`live_hash`] of the live object compared.
    pub live_hash: Option<u64>,
    pub in_sync: bool,
}

/// A hash of what a dry run depends on in a live object: everything but its status and
/// bookkeeping metadata (a workload's status changing does not change what applying it would
/// do).
pub fn live_hash(live: &Value) -> u64 {
    let mut v = live.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    hash_of(&v)
}

/// A hash of a JSON value that does not depend on the order of object keys.
pub fn hash_of(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn feed(v: &Value, h: &mut std::collections::hash_map::DefaultHasher) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                "{".hash(h);
                for k in keys {
                    k.hash(h);
                    feed(&m[k.as_str()], h);
                }
                "}".hash(h);
            }
            Value::Array(a) => {
                "[".hash(h);
                for x in a {
                    feed(x, h);
                }
                "]".hash(h);
            }
            other => other.to_string().hash(h),
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    feed(v, &mut h);
    h.finish()
}

/// The cluster did not answer (or refused to): what is deployed stays, the status says why.
fn unreachable(cluster: &Cluster, detail: String) -> CompareError {
    CompareError::Unreachable {
        cluster: cluster.name().into(),
        server: cluster.spec.server.clone(),
        detail,
    }
}

/// The cause of a cluster error, without repeating the cluster's name and URL.
fn cluster_cause(cluster: &Cluster, e: &ferry_cluster::ClusterError) -> String {
    match e {
        ferry_cluster::ClusterError::Discovery { error, .. } => {
            format!("discovery failed: {}", cluster.cause(error))
        }
        other => other.to_string(),
    }
}

fn is_transport(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(_))
}

/// The live object with its `managedFields`, read from the cluster.
async fn full_live(cluster: &Cluster, d: &Desired) -> Option<Value> {
    let api = cluster.api(&d.ar, d.namespaced, &d.key.namespace);
    let _permit = cluster.limiter.acquire().await;
    let obj = api.get_opt(&d.key.name).await.ok()??;
    serde_json::to_value(obj).ok()
}

/// A watch of this cluster failed at some point, and a resumed watch says nothing until
/// something changes: ask the cluster (cheaply) whether it answers now.
pub(crate) async fn recheck(cluster: &Cluster, cache: &LiveCache) -> Result<(), CompareError> {
    let Some(e) = cache.error() else {
        return Ok(());
    };
    let permit = cluster.limiter.acquire().await;
    let probe = cluster.client.apiserver_version().await;
    drop(permit);
    match probe {
        Ok(_) => {
            cache.clear_error();
            Ok(())
        }
        Err(probe) => {
            tracing::debug!(cluster = %cluster.name(), error = %probe, "cluster still unreachable");
            Err(unreachable(cluster, e))
        }
    }
}

/// Compares an application with its cluster, stage by stage: what the source renders to,
/// the rules of what differs, the objects made ready for the cluster, live state from the
/// watch cache, each object against its live copy, what left Git, and the summary the
/// status shows. Nothing here writes to the cluster (dry runs only).
pub async fn compare(
    ctx: &ControllerCtx,
    app: &Application,
    source: Option<&ferry_api::ApplicationSource>,
    cluster: &Cluster,
    cache: &LiveCache,
    refresh: bool,
    revision: Option<&str>,
) -> Result<Comparison, CompareError> {
    let app_name = app.metadata.name.clone().unwrap_or_default();
    let source = source.unwrap_or(&app.spec.source);
    // 1. What the source renders to, its secret references resolved.
    let project = ctx.project_aws(&app.spec.project);
    let app_ctx = app_context(app, project.as_ref(), source, cluster).await?;
    let resolved = ctx
        .sources
        .render(source, revision, refresh, Some(&app_ctx))
        .await?;
    let redactions = resolved.redactions.clone();
    let mut cmp = compare_rendered(ctx, app, &app_name, cluster, cache, resolved)
        .await
        .map_err(|e| redact_error(e, &redactions))?;
    for p in &mut cmp.problems {
        *p = redactions.redact(p);
    }
    cmp.redactions = redactions;
    Ok(cmp)
}

/// A comparison's error with the resolved values hidden (a refusal may quote an object).
fn redact_error(e: CompareError, r: &Redactions) -> CompareError {
    match e {
        CompareError::Unreachable {
            cluster,
            server,
            detail,
        } => CompareError::Unreachable {
            cluster,
            server,
            detail: r.redact(&detail),
        },
        CompareError::Invalid {
            object,
            file,
            reason,
        } => CompareError::Invalid {
            object: r.redact(&object),
            file,
            reason: r.redact(&reason),
        },
        other => other,
    }
}

/// Stages 2 to 7, on the rendered (and resolved) objects.
async fn compare_rendered(
    ctx: &ControllerCtx,
    app: &Application,
    app_name: &str,
    cluster: &Cluster,
    cache: &LiveCache,
    resolved: ferry_source::Resolved,
) -> Result<Comparison, CompareError> {
    // 2. The rules that decide what differs.
    let ignore = ignore_rules(ctx, app)?;
    // 3. The rendered objects made ready for the cluster.
    let default_ns = app
        .spec
        .destination
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let Prepared { mut desired, hooks } =
        ferry_apply::prepare(app_name, resolved.rendered.objects(), cluster, &default_ns)
            .await
            .map_err(|e| match e {
                PrepareError::Cluster(e) => unreachable(cluster, cluster_cause(cluster, &e)),
                PrepareError::Invalid {
                    object,
                    file,
                    reason,
                } => CompareError::Invalid {
                    object,
                    file,
                    reason,
                },
            })?;
    // 4. Live state: the watch cache covers every kind involved.
    watch_kinds(app, cluster, cache, &desired, &hooks).await?;
    // 5. Each object against its live copy.
    let mut assessed = Vec::with_capacity(desired.len());
    for d in &mut desired {
        assessed.push(assess(ctx, app_name, cluster, cache, d, &ignore).await?);
    }
    // 6. What left Git (hooks are deleted by their delete policies, never pruned).
    let prunable = prunable(cache, app_name, &desired);
    // 7. The summary the status shows.
    Ok(summarize(
        resolved.commit,
        desired,
        hooks,
        prunable,
        assessed,
    ))
}

/// Whose AWS account the application's secret references are read in (and its plugin
/// gets credentials of): its project's role, else the role its annotations name, else its
/// EKS destination's.
pub fn app_aws(
    app: &Application,
    project: Option<&ferry_api::ProjectAws>,
    cluster: &Cluster,
) -> ferry_source::AppAws {
    let destination = match &cluster.spec.auth {
        ferry_cluster::ClusterAuth::Aws(a) => Some(&a.access),
        _ => None,
    };
    ferry_source::AppAws::for_app(app, project, destination, cluster.name())
}

/// What the source service needs of the application: for a config management plugin, the
/// facts of the destination it sees (`KUBE_VERSION`, ...); for any source, its AWS access.
async fn app_context(
    app: &Application,
    project: Option<&ferry_api::ProjectAws>,
    source: &ferry_api::ApplicationSource,
    cluster: &Cluster,
) -> Result<ferry_source::AppContext, CompareError> {
    let aws = app_aws(app, project, cluster);
    if source.plugin.is_none() {
        return Ok(ferry_source::AppContext {
            aws,
            ..Default::default()
        });
    }
    let (kube_version, kube_api_versions) = cluster
        .kube_versions()
        .await
        .map_err(|e| unreachable(cluster, cluster_cause(cluster, &e)))?;
    Ok(ferry_source::AppContext {
        app_name: app.metadata.name.clone().unwrap_or_default(),
        app_namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
        project: if app.spec.project.is_empty() {
            "default".into()
        } else {
            app.spec.project.clone()
        },
        kube_version,
        kube_api_versions,
        aws,
    })
}

/// The application's `ignoreDifferences` with the controller-wide ones.
fn ignore_rules(
    ctx: &ControllerCtx,
    app: &Application,
) -> Result<ferry_diff::IgnoreRules, CompareError> {
    let rules = app
        .spec
        .ignore_differences
        .iter()
        .map(ignore_rule)
        .chain(ctx.ignore_defaults());
    ferry_diff::IgnoreRules::new(rules).map_err(|e| CompareError::Invalid {
        object: format!(
            "Application {}",
            app.metadata.name.clone().unwrap_or_default()
        ),
        file: "spec.ignoreDifferences".into(),
        reason: e.to_string(),
    })
}

/// Makes sure the watch cache watches every kind of the desired objects and hooks, and of
/// what the application had before (which may need pruning), and that the cluster answers.
async fn watch_kinds(
    app: &Application,
    cluster: &Cluster,
    cache: &LiveCache,
    desired: &[Desired],
    hooks: &[Desired],
) -> Result<(), CompareError> {
    recheck(cluster, cache).await?;
    let wait = Duration::from_secs(20);
    let mut watched = BTreeSet::new();
    for d in desired.iter().chain(hooks).filter(|d| !d.pending_kind) {
        if watched.insert((d.ar.group.clone(), d.ar.version.clone(), d.ar.kind.clone()))
            && !cache.ensure_watch(&d.ar, wait).await
        {
            return Err(unreachable(
                cluster,
                cache.error().unwrap_or_else(|| {
                    format!("no answer to a watch of {} within {wait:?}", d.ar.plural)
                }),
            ));
        }
    }
    if let Some(status) = &app.status {
        for r in &status.resources {
            if let Ok((ar, _)) = cluster.resolve(&r.group, &r.version, &r.kind).await
                && watched.insert((ar.group.clone(), ar.version.clone(), ar.kind.clone()))
            {
                cache.ensure_watch(&ar, wait).await;
            }
        }
    }
    recheck(cluster, cache).await
}

/// One desired object as compared with its live copy.
#[derive(Debug)]
struct Assessed {
    status: SyncCode,
    health: Option<ferry_health::Health>,
    live: Option<Value>,
    /// The dry run was refused (a 4xx): shown in `ComparisonError`.
    problem: Option<String>,
}

/// Compares one object with its live copy: an object another application tracks is left to
/// it; unchanged inputs answer from the memo; otherwise a server-side-apply dry run decides.
/// Sets `d.in_sync` and `d.owner`.
async fn assess(
    ctx: &ControllerCtx,
    app_name: &str,
    cluster: &Cluster,
    cache: &LiveCache,
    d: &mut Desired,
    ignore: &ferry_diff::IgnoreRules,
) -> Result<Assessed, CompareError> {
    let live = cache.get(&d.key);
    d.owner = live
        .as_ref()
        .and_then(|l| shared_owner(app_name, &d.object, &l.tracking));
    let memo_key = (app_name.to_owned(), d.key.clone());
    let want = Memo {
        desired_hash: desired_hash(ignore, d),
        live_hash: live.as_ref().map(|l| live_hash(&l.object)),
        in_sync: false,
    };
    let remembered = ctx
        .memo(&memo_key)
        .filter(|m| m.desired_hash == want.desired_hash && m.live_hash == want.live_hash);
    let mut problem = None;
    d.in_sync = match (remembered, &live) {
        // An object another Application tracks is never dry-run or applied by this one.
        _ if d.owner.is_some() => false,
        (Some(m), _) => m.in_sync,
        (None, None) => false,
        (None, Some(l)) => {
            let full = if ferry_apply::writes::needs_managed_fields(ignore, d) {
                // The cache keeps no managedFields; the managers' fields are read from the
                // object itself.
                full_live(cluster, d).await
            } else {
                None
            };
            let live = full.as_ref().unwrap_or(&l.object);
            match ferry_apply::dry_run_diff(cluster, d, Some(live), ignore).await {
                Ok(diff) => diff.in_sync,
                Err(e) if is_transport(&e) => {
                    return Err(unreachable(
                        cluster,
                        format!("dry run of {}: {}", d.key, cluster.cause(&e)),
                    ));
                }
                Err(e) => {
                    problem = Some(format!("{}: {}", d.key, cluster.cause(&e)));
                    false
                }
            }
        }
    };
    if problem.is_none() && d.owner.is_none() {
        ctx.remember(
            memo_key,
            Memo {
                in_sync: d.in_sync,
                ..want
            },
        );
    }
    let status = match (&problem, d.in_sync) {
        (Some(_), _) => SyncCode::Unknown,
        (None, true) => SyncCode::Synced,
        (None, false) => SyncCode::OutOfSync,
    };
    let health = match &live {
        None => Some(ferry_health::Health::new(
            ferry_health::HealthStatus::Missing,
            "",
        )),
        Some(l) => ferry_health::assess(&l.object),
    };
    Ok(Assessed {
        status,
        health,
        live: live.map(|l| l.object),
        problem,
    })
}

/// What a memo of `d` is keyed by: the object, and the rules that apply to it (new rules,
/// new comparisons).
fn desired_hash(ignore: &ferry_diff::IgnoreRules, d: &Desired) -> u64 {
    if ignore.for_resource(&d.object).is_empty() {
        hash_of(&d.object)
    } else {
        hash_of(&d.object) ^ hash_of(&json!(ignore.fingerprint()))
    }
}

/// Live objects tracked by the application that are no longer desired (hooks excepted).
fn prunable(cache: &LiveCache, app_name: &str, desired: &[Desired]) -> Vec<LiveObject> {
    let wanted: HashSet<&ResourceKey> = desired.iter().map(|d| &d.key).collect();
    cache
        .managed_by(app_name)
        .into_iter()
        .filter(|l| !wanted.contains(&l.key) && ferry_api::annotation(&l.object, "hook").is_none())
        .collect()
}

/// The comparison as the status shows it: one resource status per desired object (in
/// order) and per prunable one, the application's sync and health. Pure.
fn summarize(
    revision: ferry_core::CommitId,
    desired: Vec<Desired>,
    hooks: Vec<Desired>,
    prunable: Vec<LiveObject>,
    assessed: Vec<Assessed>,
) -> Comparison {
    let mut resources = Vec::with_capacity(desired.len() + prunable.len());
    let mut problems = Vec::new();
    let mut lives = Vec::with_capacity(desired.len());
    for (d, a) in desired.iter().zip(assessed) {
        problems.extend(a.problem);
        resources.push(ResourceStatus {
            group: d.key.group.clone(),
            version: d.ar.version.clone(),
            kind: d.key.kind.clone(),
            namespace: d.key.namespace.clone(),
            name: d.key.name.clone(),
            status: a.status,
            health: a.health.map(|h| HealthStatus {
                status: h.status,
                message: h.message,
            }),
            requires_pruning: false,
        });
        lives.push(a.live);
    }
    for p in &prunable {
        resources.push(ResourceStatus {
            group: p.key.group.clone(),
            version: p.group_version().1.into(),
            kind: p.key.kind.clone(),
            namespace: p.key.namespace.clone(),
            name: p.key.name.clone(),
            status: SyncCode::OutOfSync,
            health: None,
            requires_pruning: true,
        });
    }
    let sync = if resources.iter().all(|r| r.status == SyncCode::Synced) {
        SyncCode::Synced
    } else {
        SyncCode::OutOfSync
    };
    let health = ferry_health::aggregate(lives.iter().map(Option::as_ref));
    Comparison {
        revision,
        desired,
        hooks,
        prunable,
        resources,
        sync,
        health: HealthStatus {
            status: health,
            message: String::new(),
        },
        problems,
        lives,
        redactions: Redactions::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_hash_ignores_status_key_order_and_bookkeeping() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "1"}, "spec": {"a": 1, "b": 2}, "status": {"ready": 1}});
        let b = json!({"spec": {"b": 2, "a": 1}, "metadata": {"resourceVersion": "9", "name": "x", "managedFields": []}});
        assert_eq!(live_hash(&a), live_hash(&b));
        let c = json!({"metadata": {"name": "x"}, "spec": {"a": 2, "b": 2}});
        assert_ne!(live_hash(&a), live_hash(&c));
    }

    fn commit() -> ferry_core::CommitId {
        ferry_core::CommitId::parse(&"c".repeat(40)).expect("a commit id")
    }

    fn desired(kind: &str, name: &str) -> Desired {
        let object = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "demo"}});
        Desired {
            key: ResourceKey::of(&object),
            ar: ferry_cluster::api_resource("", "v1", kind, "things"),
            namespaced: true,
            object,
            in_sync: false,
            pending_kind: false,
            owner: None,
        }
    }

    fn assessed(status: SyncCode, live: Option<Value>) -> Assessed {
        Assessed {
            status,
            health: None,
            live,
            problem: (status == SyncCode::Unknown).then(|| "refused".to_owned()),
        }
    }

    #[test]
    fn the_summary_is_synced_only_when_every_object_is_and_nothing_waits_for_a_prune() {
        let all_synced = summarize(
            commit(),
            vec![desired("ConfigMap", "a"), desired("Secret", "b")],
            Vec::new(),
            Vec::new(),
            vec![
                assessed(SyncCode::Synced, Some(json!({}))),
                assessed(SyncCode::Synced, Some(json!({}))),
            ],
        );
        assert_eq!(all_synced.sync, SyncCode::Synced);
        assert_eq!(all_synced.resources.len(), 2);
        assert!(all_synced.problems.is_empty());

        let one_refused = summarize(
            commit(),
            vec![desired("ConfigMap", "a"), desired("Secret", "b")],
            Vec::new(),
            Vec::new(),
            vec![
                assessed(SyncCode::Synced, Some(json!({}))),
                assessed(SyncCode::Unknown, None),
            ],
        );
        assert_eq!(one_refused.sync, SyncCode::OutOfSync);
        assert_eq!(one_refused.problems, ["refused"]);
        assert_eq!(one_refused.resources[1].status, SyncCode::Unknown);
        // As Argo CD: one missing object does not lower the application's health (its sync
        // status says OutOfSync already).
        assert_eq!(one_refused.health.status, ferry_api::HealthCode::Healthy);
        let none_live = summarize(
            commit(),
            vec![desired("ConfigMap", "a")],
            Vec::new(),
            Vec::new(),
            vec![assessed(SyncCode::OutOfSync, None)],
        );
        assert_eq!(none_live.health.status, ferry_api::HealthCode::Missing);
    }
}
