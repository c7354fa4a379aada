//! Comparing an application's desired objects with its cluster: each desired object is
//! placed (namespace, tracking annotation), predicted by a server-side-apply dry run (skipped
//! when neither it nor its live copy changed since the last comparison), diffed against the
//! live copy from the watch cache, and assessed for health; objects of the application that
//! left Git are found for pruning.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use ferry_api::{Application, HealthStatus, ResourceStatus, SyncCode};
use ferry_cluster::{Cluster, LiveCache, LiveObject, ResourceKey};
use kube::api::{Patch, PatchParams};
use kube::discovery::{ApiResource, Scope};
use serde_json::{Value, json};

use crate::ControllerCtx;

/// One desired object, ready to apply.
#[derive(Debug, Clone)]
pub struct Desired {
    pub key: ResourceKey,
    pub ar: ApiResource,
    pub namespaced: bool,
    pub object: Value,
    pub in_sync: bool,
    /// Its kind is not served yet: a CRD of the same application defines it.
    pub pending_kind: bool,
    /// Another Application tracks the live object (its `ferry.dev/tracking-id` names that
    /// application): a shared object, never applied by this one unless handed over.
    pub owner: Option<String>,
}

/// Annotation on a desired object that hands the live object over from the Application
/// named in it: `ferry.dev/take-over-from: <application>`. Without it, an object another
/// Application tracks is left to that application.
pub const TAKE_OVER_ANNOTATION: &str = "ferry.dev/take-over-from";

/// The Application that tracks `live` when it is another one than `app` and `desired` does
/// not take the object over from it: the object is shared, and `app` must not write it.
pub fn shared_owner(app: &str, desired: &Value, live_tracking: &str) -> Option<String> {
    let owner = ferry_api::app_of_tracking_id(live_tracking)?;
    if owner == app {
        return None;
    }
    let handed_over = desired
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TAKE_OVER_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|from| from.trim() == owner);
    (!handed_over).then(|| owner.to_owned())
}

/// What a comparison says of one shared object, for the `SharedResourceWarning` condition.
pub fn describe_shared(key: &ResourceKey, owner: &str) -> String {
    format!(
        "{key} is tracked by Application {owner}, so this application leaves it as it is \
         (to hand it over, annotate it in Git with {TAKE_OVER_ANNOTATION}: {owner})"
    )
}

/// The result of a comparison.
#[derive(Debug)]
pub struct Comparison {
    pub revision: String,
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
    Source(#[from] crate::source::SourceError),
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
fn cluster_cause(e: &ferry_cluster::ClusterError) -> String {
    match e {
        ferry_cluster::ClusterError::Discovery { error, .. } => {
            format!("discovery failed: {}", ferry_cluster::cause(error))
        }
        other => other.to_string(),
    }
}

fn is_transport(e: &kube::Error) -> bool {
    !matches!(e, kube::Error::Api(_))
}

/// Places a rendered object: its namespace (the destination's, for namespaced kinds that
/// name none) and the tracking annotation.
pub fn place(
    app: &str,
    mut obj: Value,
    ar: &ApiResource,
    namespaced: bool,
    default_ns: &str,
) -> Value {
    let meta = &mut obj["metadata"];
    if namespaced {
        if meta["namespace"].as_str().is_none_or(str::is_empty) {
            meta["namespace"] = json!(default_ns);
        }
    } else if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
    }
    let ns = meta["namespace"].as_str().unwrap_or_default().to_owned();
    let name = meta["name"].as_str().unwrap_or_default().to_owned();
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    meta["annotations"][ferry_api::TRACKING_ANNOTATION] =
        json!(ferry_api::tracking_id(app, &ar.group, &ar.kind, &ns, &name));
    obj
}

/// Server-side apply (or its dry run) of one object, by the limiter.
pub async fn apply(cluster: &Cluster, d: &Desired, dry_run: bool) -> Result<Value, kube::Error> {
    let api = cluster.api(&d.ar, d.namespaced, &d.key.namespace);
    let mut pp = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
    pp.dry_run = dry_run;
    let _permit = cluster.limiter.acquire().await;
    let out = api
        .patch(&d.key.name, &pp, &Patch::Apply(&d.object))
        .await?;
    serde_json::to_value(out).map_err(kube::Error::SerdeError)
}

/// An application's `ignoreDifferences` entry as the diff engine takes it.
pub fn ignore_rule(r: &ferry_api::ResourceIgnoreDifferences) -> ferry_diff::IgnoreRule {
    ferry_diff::IgnoreRule {
        group: r.group.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        json_pointers: r.json_pointers.clone(),
        jq_path_expressions: r.jq_path_expressions.clone(),
        managed_fields_managers: r.managed_fields_managers.clone(),
    }
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
    let app_ctx = match &source.plugin {
        None => None,
        Some(_) => {
            let (kube_version, kube_api_versions) = cluster
                .kube_versions()
                .await
                .map_err(|e| unreachable(cluster, cluster_cause(&e)))?;
            Some(crate::source::AppContext {
                app_name: app_name.clone(),
                app_namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
                project: if app.spec.project.is_empty() {
                    "default".into()
                } else {
                    app.spec.project.clone()
                },
                kube_version,
                kube_api_versions,
            })
        }
    };
    let resolved = ctx
        .sources
        .render(source, revision, refresh, app_ctx.as_ref())
        .await?;
    let rules: Vec<ferry_diff::IgnoreRule> = app
        .spec
        .ignore_differences
        .iter()
        .map(ignore_rule)
        .chain(ctx.ignore_defaults())
        .collect();
    let ignore = ferry_diff::IgnoreRules::new(rules).map_err(|e| CompareError::Invalid {
        object: format!("Application {app_name}"),
        file: "spec.ignoreDifferences".into(),
        reason: e.to_string(),
    })?;
    let default_ns = app
        .spec
        .destination
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let mut desired = Vec::new();
    let mut hooks = Vec::new();
    let crds: Vec<&Value> = resolved
        .rendered
        .objects()
        .iter()
        .map(|i| &i.object)
        .filter(|o| {
            o["kind"] == "CustomResourceDefinition"
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
        })
        .collect();
    for item in resolved.rendered.objects() {
        let obj = item.object.clone();
        let hook = match crate::waves::hook_of(&obj) {
            Ok(h) => h,
            Err(e) => {
                return Err(CompareError::Invalid {
                    object: "an object".into(),
                    file: item.file.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let unnamed = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if unnamed && hook.is_none() {
            return Err(CompareError::Invalid {
                object: format!(
                    "{} {}*",
                    obj["kind"].as_str().unwrap_or_default(),
                    obj.pointer("/metadata/generateName")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                file: item.file.clone(),
                reason: "metadata.generateName without metadata.name is allowed only for hooks"
                    .into(),
            });
        }
        if hook.as_ref().is_some_and(|h| h.phases.is_empty()) {
            // `Skip`, or a deletion-only hook: never applied by a sync.
            continue;
        }
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = obj["kind"].as_str().unwrap_or_default();
        let mut pending_kind = false;
        let (ar, caps) = match cluster.resolve(group, version, kind).await {
            Ok(found) => found,
            Err(e @ ferry_cluster::ClusterError::Discovery { .. }) => {
                return Err(unreachable(cluster, cluster_cause(&e)));
            }
            Err(e) => {
                let defined = matches!(e, ferry_cluster::ClusterError::UnknownKind { .. })
                    .then(|| crd_defining(&crds, group, version, kind))
                    .flatten();
                if let Some(found) = defined {
                    pending_kind = true;
                    found
                } else {
                    return Err(CompareError::Invalid {
                        object: format!(
                            "{kind} {}",
                            obj.pointer("/metadata/name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                        ),
                        file: item.file.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        };
        let namespaced = caps.scope == Scope::Namespaced;
        let object = place(&app_name, obj, &ar, namespaced, &default_ns);
        // The cluster Secret's `namespaces` and `clusterResources` bound what Ferry manages.
        let allowed = &cluster.spec.namespaces;
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let refusal = if namespaced && !allowed.is_empty() && !allowed.iter().any(|a| a == ns) {
            Some(format!(
                "namespace {ns:?} is not among the namespaces cluster {} allows ({})",
                cluster.name(),
                allowed.join(", ")
            ))
        } else if !namespaced && !cluster.spec.cluster_resources {
            Some(format!(
                "cluster {} does not allow cluster-scoped resources (clusterResources is not true)",
                cluster.name()
            ))
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Err(CompareError::Invalid {
                object: format!(
                    "{} {}",
                    ar.kind,
                    object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                file: item.file.clone(),
                reason,
            });
        }
        let d = Desired {
            key: ResourceKey::of(&object),
            ar,
            namespaced,
            object,
            in_sync: false,
            pending_kind,
            owner: None,
        };
        if hook.is_some() {
            hooks.push(d);
        } else {
            desired.push(d);
        }
    }
    // Namespaces and CRDs first, as they must exist before what goes in them.
    desired.sort_by_key(|d| match (d.key.group.as_str(), d.key.kind.as_str()) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
        _ => 2,
    });

    recheck(cluster, cache).await?;
    let wait = Duration::from_secs(20);
    let mut watched = BTreeSet::new();
    for d in desired.iter().chain(&hooks).filter(|d| !d.pending_kind) {
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
    // Objects of kinds the application had before (and may need pruning) are watched too.
    if let Some(status) = &app.status {
        for r in &status.resources {
            if let Ok((ar, _)) = cluster.resolve(&r.group, &r.version, &r.kind).await
                && watched.insert((ar.group.clone(), ar.version.clone(), ar.kind.clone()))
            {
                cache.ensure_watch(&ar, wait).await;
            }
        }
    }
    recheck(cluster, cache).await?;

    let mut resources = Vec::new();
    let mut problems = Vec::new();
    let mut lives = Vec::with_capacity(desired.len());
    let mut any_out = false;
    // The rules take part in every memo they apply to: new rules, new comparisons.
    let rules_hash = hash_of(&json!(ignore.fingerprint()));
    for d in &mut desired {
        let live = cache.get(&d.key);
        let memo_key = (app_name.clone(), d.key.clone());
        let applicable = ignore.for_resource(&d.object);
        let want = Memo {
            desired_hash: if applicable.is_empty() {
                hash_of(&d.object)
            } else {
                hash_of(&d.object) ^ rules_hash
            },
            live_hash: live.as_ref().map(|l| live_hash(&l.object)),
            in_sync: false,
        };
        let remembered = ctx
            .memo(&memo_key)
            .filter(|m| m.desired_hash == want.desired_hash && m.live_hash == want.live_hash);
        let mut status = SyncCode::Synced;
        // An object another Application tracks is never dry-run or applied by this one.
        d.owner = live
            .as_ref()
            .and_then(|l| shared_owner(&app_name, &d.object, &l.tracking));
        d.in_sync = match (remembered, &live) {
            _ if d.owner.is_some() => false,
            (Some(m), _) => m.in_sync,
            (None, None) => false,
            (None, Some(l)) => match apply(cluster, d, true).await {
                Ok(predicted) if applicable.is_empty() => {
                    ferry_diff::compare(Some(&l.object), &predicted).in_sync
                }
                Ok(mut predicted) => {
                    let mut live = if applicable.managed_fields_managers().is_empty() {
                        l.object.clone()
                    } else {
                        // The cache keeps no managedFields; the managers' fields are read
                        // from the object itself.
                        full_live(cluster, d)
                            .await
                            .unwrap_or_else(|| l.object.clone())
                    };
                    let schema =
                        ferry_kube_builtin::BuiltinSchema::for_kind(&d.key.group, &d.key.kind);
                    for w in applicable.normalize_both(Some(&mut live), &mut predicted, &schema) {
                        tracing::warn!(app = %app_name, object = %d.key, "ignoreDifferences: {w}");
                    }
                    ferry_diff::compare(Some(&live), &predicted).in_sync
                }
                Err(e) if is_transport(&e) => {
                    return Err(unreachable(
                        cluster,
                        format!("dry run of {}: {}", d.key, ferry_cluster::cause(&e)),
                    ));
                }
                Err(e) => {
                    problems.push(format!("{}: {}", d.key, ferry_cluster::cause(&e)));
                    status = SyncCode::Unknown;
                    false
                }
            },
        };
        if status != SyncCode::Unknown && d.owner.is_none() {
            ctx.remember(
                memo_key,
                Memo {
                    in_sync: d.in_sync,
                    ..want
                },
            );
        }
        if !d.in_sync && status == SyncCode::Synced {
            status = SyncCode::OutOfSync;
        }
        any_out |= status != SyncCode::Synced;
        let health = match &live {
            None => Some(ferry_health::Health::new(
                ferry_health::HealthStatus::Missing,
                "",
            )),
            Some(l) => ferry_health::assess(&l.object),
        };
        lives.push(live.map(|l| l.object));
        resources.push(ResourceStatus {
            group: d.key.group.clone(),
            version: d.ar.version.clone(),
            kind: d.key.kind.clone(),
            namespace: d.key.namespace.clone(),
            name: d.key.name.clone(),
            status,
            health: health.map(|h| HealthStatus {
                status: h.status,
                message: h.message,
            }),
            requires_pruning: false,
        });
    }
    let wanted: HashMap<&ResourceKey, ()> = desired.iter().map(|d| (&d.key, ())).collect();
    // Hooks are deleted by their delete policies, never pruned.
    let prunable: Vec<LiveObject> = cache
        .managed_by(&app_name)
        .into_iter()
        .filter(|l| {
            !wanted.contains_key(&l.key) && ferry_api::annotation(&l.object, "hook").is_none()
        })
        .collect();
    for p in &prunable {
        let version = p.object["apiVersion"]
            .as_str()
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or_default();
        resources.push(ResourceStatus {
            group: p.key.group.clone(),
            version: version.into(),
            kind: p.key.kind.clone(),
            namespace: p.key.namespace.clone(),
            name: p.key.name.clone(),
            status: SyncCode::OutOfSync,
            health: None,
            requires_pruning: true,
        });
    }
    let worst = ferry_health::aggregate(lives.iter().map(Option::as_ref));
    let sync = if any_out || !prunable.is_empty() {
        SyncCode::OutOfSync
    } else {
        SyncCode::Synced
    };
    Ok(Comparison {
        revision: resolved.commit,
        desired,
        hooks,
        prunable,
        resources,
        sync,
        health: HealthStatus {
            status: worst,
            message: String::new(),
        },
        problems,
        lives,
    })
}

/// The API resource of a kind that a CRD among `crds` defines (served version `version`).
fn crd_defining(
    crds: &[&Value],
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(ApiResource, kube::discovery::ApiCapabilities)> {
    let crd = crds.iter().find(|c| {
        c.pointer("/spec/group").and_then(Value::as_str) == Some(group)
            && c.pointer("/spec/names/kind").and_then(Value::as_str) == Some(kind)
            && c.pointer("/spec/versions")
                .and_then(Value::as_array)
                .is_some_and(|vs| vs.iter().any(|v| v["name"] == version))
    })?;
    let plural = crd.pointer("/spec/names/plural")?.as_str()?.to_owned();
    let scope = if crd.pointer("/spec/scope").and_then(Value::as_str) == Some("Cluster") {
        Scope::Cluster
    } else {
        Scope::Namespaced
    };
    Some((
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural,
        },
        kube::discovery::ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: Vec::new(),
        },
    ))
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

    #[test]
    fn an_object_another_application_tracks_is_shared_until_handed_over() {
        let desired = json!({"metadata": {"name": "x", "annotations": {}}});
        let theirs = ferry_api::tracking_id("owner", "", "ConfigMap", "demo", "x");
        let ours = ferry_api::tracking_id("claimer", "", "ConfigMap", "demo", "x");
        assert_eq!(
            shared_owner("claimer", &desired, &theirs).as_deref(),
            Some("owner")
        );
        assert_eq!(shared_owner("claimer", &desired, &ours), None);
        // A tracking id that names no application claims nothing.
        assert_eq!(
            shared_owner("claimer", &desired, ":/ConfigMap:demo/x"),
            None
        );
        let handed = json!({"metadata": {"name": "x",
            "annotations": {TAKE_OVER_ANNOTATION: "owner"}}});
        assert_eq!(shared_owner("claimer", &handed, &theirs), None);
        // Handing over names the application it is taken from, and only that one.
        let elsewhere = json!({"metadata": {"name": "x",
            "annotations": {TAKE_OVER_ANNOTATION: "someone-else"}}});
        assert_eq!(
            shared_owner("claimer", &elsewhere, &theirs).as_deref(),
            Some("owner")
        );
        let key = ResourceKey::of(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "demo"}}));
        let text = describe_shared(&key, "owner");
        assert!(
            text.contains("ConfigMap demo/x is tracked by Application owner"),
            "{text}"
        );
    }
}
