//! Stand-ins for the controllers a real cluster runs beside its API server: the garbage
//! collector (propagation policies, orphaned dependents), the namespace controller, the CRD
//! controllers (establishing, cleanup), and a small workload simulator so that health can be
//! tested: workloads become ready after a delay, Jobs complete, unless told otherwise.
//!
//! Workloads are told otherwise by the annotation `emulator.ferry.dev/never-ready: "true"` (or a
//! container image whose tag is `never-ready`), and Jobs and Pods fail with
//! `emulator.ferry.dev/fail: "true"` (or an image tag `fail`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::cluster::{ClusterInner, State, Work};
use crate::delete::{DeleteOptions, delete};
use crate::resources::ResourceType;
use crate::store::{ObjKey, ResKey};
use crate::write::{controller_write, now};

pub const NEVER_READY: &str = "emulator.ferry.dev/never-ready";
pub const FAIL: &str = "emulator.ferry.dev/fail";

/// Runs the cluster's controllers until `stop` changes.
pub async fn run(cluster: Arc<ClusterInner>, mut stop: watch::Receiver<bool>) {
    loop {
        let (due, next) = {
            let mut state = cluster.lock();
            (state.due(), state.next_due())
        };
        for work in due {
            handle(&cluster, work);
        }
        let sleep = next.map_or(Duration::from_secs(1), |at| {
            at.saturating_duration_since(std::time::Instant::now())
        });
        tokio::select! {
            _ = cluster.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = stop.changed() => return,
        }
    }
}

fn type_of(state: &State, res: &ResKey) -> Option<ResourceType> {
    state
        .registry
        .types()
        .iter()
        .find(|t| &t.storage_key() == res)
        .cloned()
}

fn later(cluster: &ClusterInner, work: Work) {
    cluster
        .lock()
        .schedule(cluster.config.controller_delay / 2, work);
}

fn handle(cluster: &ClusterInner, work: Work) {
    match work {
        Work::Finalize(res, key) => finalize(cluster, &res, &key),
        Work::CollectDependents(uid) => collect(cluster, &uid),
        Work::TerminateNamespace(ns) => terminate(cluster, &ns),
        Work::EstablishCrd(name) => establish(cluster, &name),
        Work::CleanupCrd(name) => cleanup_crd(cluster, &name),
        Work::Simulate(res, key) => simulate(cluster, &res, &key),
    }
}

fn get(cluster: &ClusterInner, res: &ResKey, key: &ObjKey) -> Option<(ResourceType, Value)> {
    let state = cluster.lock();
    let obj = state.store.get(res, key)?.as_ref().clone();
    Some((type_of(&state, res)?, obj))
}

fn delete_quietly(cluster: &ClusterInner, res: &ResKey, key: &ObjKey) {
    let Some((rt, _)) = get(cluster, res, key) else {
        return;
    };
    let ns = if key.0.is_empty() {
        None
    } else {
        Some(key.0.as_str())
    };
    if let Err(e) = delete(cluster, &rt, ns, &key.1, &DeleteOptions::default()) {
        tracing::debug!(name = %key.1, error = %e.message, "controller delete failed");
    }
}

fn without_finalizer(obj: &Value, f: &str) -> Value {
    let left: Vec<Value> = obj["metadata"]["finalizers"]
        .as_array()
        .map(|l| l.iter().filter(|x| *x != f).cloned().collect())
        .unwrap_or_default();
    let mut patch = json!({"metadata": {"name": obj["metadata"]["name"], "finalizers": left}});
    if let Some(ns) = obj["metadata"]["namespace"].as_str() {
        patch["metadata"]["namespace"] = json!(ns);
    }
    if left.is_empty() {
        patch["metadata"]["finalizers"] = Value::Null;
    }
    patch
}

fn finalize(cluster: &ClusterInner, res: &ResKey, key: &ObjKey) {
    let Some((rt, obj)) = get(cluster, res, key) else {
        return;
    };
    let uid = obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let has = |f: &str| {
        obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x == f))
    };
    let dependents = cluster.lock().store.dependents_of(&uid);
    if has("orphan") {
        for (dres, dkey) in &dependents {
            let Some((drt, dep)) = get(cluster, dres, dkey) else {
                continue;
            };
            let refs: Vec<Value> = dep["metadata"]["ownerReferences"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter(|r| r["uid"] != json!(uid))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let mut patch = json!({"metadata": {"name": dkey.1, "ownerReferences": if refs.is_empty() { Value::Null } else { Value::Array(refs) }}});
            if !dkey.0.is_empty() {
                patch["metadata"]["namespace"] = json!(dkey.0);
            }
            let _ = controller_write(cluster, &drt, &patch, None, "kube-controller-manager");
        }
        let _ = controller_write(
            cluster,
            &rt,
            &without_finalizer(&obj, "orphan"),
            None,
            "kube-controller-manager",
        );
        return;
    }
    if has("foregroundDeletion") {
        if dependents.is_empty() {
            let _ = controller_write(
                cluster,
                &rt,
                &without_finalizer(&obj, "foregroundDeletion"),
                None,
                "kube-controller-manager",
            );
            return;
        }
        for (dres, dkey) in &dependents {
            delete_quietly(cluster, dres, dkey);
        }
        later(cluster, Work::Finalize(res.clone(), key.clone()));
    }
}

fn collect(cluster: &ClusterInner, uid: &str) {
    let dependents = {
        let state = cluster.lock();
        if state.store.locate_uid(uid).is_some() {
            return;
        }
        state.store.dependents_of(uid)
    };
    for (res, key) in dependents {
        let Some((_, dep)) = get(cluster, &res, &key) else {
            continue;
        };
        let all_gone = {
            let state = cluster.lock();
            dep["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["uid"].as_str())
                .all(|u| state.store.locate_uid(u).is_none())
        };
        if all_gone {
            delete_quietly(cluster, &res, &key);
        }
    }
}

fn terminate(cluster: &ClusterInner, ns: &str) {
    let contents: Vec<(ResKey, ObjKey, bool)> = {
        let state = cluster.lock();
        state
            .store
            .resources()
            .into_iter()
            .filter(|r| type_of(&state, r).is_some_and(|t| t.namespaced))
            .flat_map(|r| {
                state
                    .store
                    .list(&r, Some(ns))
                    .map(|o| {
                        (
                            r.clone(),
                            crate::store::obj_key(o),
                            o.pointer("/metadata/deletionTimestamp").is_some(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if contents.is_empty() {
        let nsres: ResKey = (String::new(), "namespaces".into());
        let mut state = cluster.lock();
        if let Some(gone) = state.store.remove(&nsres, &(String::new(), ns.to_owned()))
            && let Some(rt) = type_of(&state, &nsres)
        {
            crate::hooks::after_remove(cluster, &mut state, &rt, &gone);
        }
        return;
    }
    for (res, key, deleting) in contents {
        if !deleting {
            delete_quietly(cluster, &res, &key);
        }
    }
    later(cluster, Work::TerminateNamespace(ns.to_owned()));
}

fn crd_type(cluster: &ClusterInner) -> Option<ResourceType> {
    cluster
        .lock()
        .registry
        .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .cloned()
}

fn establish(cluster: &ClusterInner, name: &str) {
    let Some(rt) = crd_type(cluster) else { return };
    let Some((_, crd)) = get(
        cluster,
        &rt.storage_key(),
        &(String::new(), name.to_owned()),
    ) else {
        return;
    };
    let names = &crd["spec"]["names"];
    let mut accepted = json!({"kind": names["kind"], "listKind": names["listKind"], "plural": names["plural"], "singular": names["singular"]});
    if names.get("shortNames").is_some() {
        accepted["shortNames"] = names["shortNames"].clone();
    }
    if names.get("categories").is_some() {
        accepted["categories"] = names["categories"].clone();
    }
    let t = now();
    let patch = json!({"metadata": {"name": name}, "status": {
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
    }});
    let _ = controller_write(cluster, &rt, &patch, Some("status"), "Go-http-client");
}

fn cleanup_crd(cluster: &ClusterInner, name: &str) {
    let Some(rt) = crd_type(cluster) else { return };
    let Some((_, crd)) = get(
        cluster,
        &rt.storage_key(),
        &(String::new(), name.to_owned()),
    ) else {
        return;
    };
    let res: ResKey = (
        crd["spec"]["group"].as_str().unwrap_or_default().to_owned(),
        crd["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    {
        let mut state = cluster.lock();
        let keys: Vec<ObjKey> = state
            .store
            .list(&res, None)
            .map(|o| crate::store::obj_key(o))
            .collect();
        for k in keys {
            state.store.remove(&res, &k);
        }
    }
    let _ = controller_write(
        cluster,
        &rt,
        &without_finalizer(&crd, "customresourcecleanup.apiextensions.k8s.io"),
        None,
        "kube-controller-manager",
    );
}

// === workload simulator ===

fn flagged(obj: &Value, annotation: &str, tag: &str) -> bool {
    if obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(annotation))
        .and_then(Value::as_str)
        == Some("true")
    {
        return true;
    }
    let pod_spec = obj
        .pointer("/spec/template/spec")
        .or_else(|| obj.pointer("/spec/jobTemplate/spec/template/spec"))
        .or_else(|| obj.get("spec"));
    let suffix = format!(":{tag}");
    pod_spec
        .and_then(|s| s["containers"].as_array())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["image"].as_str().is_some_and(|i| i.ends_with(&suffix)))
        })
}

fn cond(kind: &str, status: bool, reason: &str, message: &str, t: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "lastUpdateTime": t,
        "lastTransitionTime": t, "reason": reason, "message": message})
}

fn simulated_status(kind: &str, obj: &Value) -> Option<Value> {
    let t = now();
    let generation = obj["metadata"]["generation"].clone();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let never = flagged(obj, NEVER_READY, "never-ready");
    let ready = if never { 0 } else { replicas };
    let fail = flagged(obj, FAIL, "fail");
    Some(match kind {
        "Deployment" => {
            let mut s = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas});
            if ready > 0 {
                s["readyReplicas"] = json!(ready);
                s["availableReplicas"] = json!(ready);
            }
            if replicas - ready > 0 {
                s["unavailableReplicas"] = json!(replicas - ready);
            }
            s["conditions"] = if never {
                json!([
                    cond(
                        "Available",
                        false,
                        "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.",
                        &t
                    ),
                    cond(
                        "Progressing",
                        true,
                        "ReplicaSetUpdated",
                        &format!("ReplicaSet \"{name}\" is progressing."),
                        &t
                    )
                ])
            } else {
                json!([
                    cond(
                        "Available",
                        true,
                        "MinimumReplicasAvailable",
                        "Deployment has minimum availability.",
                        &t
                    ),
                    cond(
                        "Progressing",
                        true,
                        "NewReplicaSetAvailable",
                        &format!("ReplicaSet \"{name}\" has successfully progressed."),
                        &t
                    )
                ])
            };
            s
        }
        "StatefulSet" => {
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
            "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready,
            "currentRevision": format!("{name}-1"), "updateRevision": format!("{name}-1"), "collisionCount": 0})
        }
        "ReplicaSet" => {
            json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
            "availableReplicas": ready, "fullyLabeledReplicas": replicas})
        }
        "DaemonSet" => {
            json!({"observedGeneration": generation, "currentNumberScheduled": 1, "desiredNumberScheduled": 1,
            "numberMisscheduled": 0, "numberReady": if never { 0 } else { 1 }, "numberAvailable": if never { 0 } else { 1 },
            "updatedNumberScheduled": 1})
        }
        "Job" => {
            if obj.pointer("/spec/suspend") == Some(&json!(true)) || never {
                json!({"startTime": t, "active": 1})
            } else if fail {
                let backoff = obj
                    .pointer("/spec/backoffLimit")
                    .and_then(Value::as_i64)
                    .unwrap_or(6);
                json!({"startTime": t, "failed": backoff + 1, "conditions": [
                    {"type": "Failed", "status": "True", "lastProbeTime": t, "lastTransitionTime": t,
                     "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
            } else {
                let completions = obj
                    .pointer("/spec/completions")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                json!({"startTime": t, "completionTime": t, "succeeded": completions, "conditions": [
                    {"type": "Complete", "status": "True", "lastProbeTime": t, "lastTransitionTime": t}]})
            }
        }
        "Pod" => {
            let phase = if fail { "Failed" } else { "Running" };
            let ok = !never && !fail;
            let conditions: Vec<Value> = ["Initialized", "Ready", "ContainersReady", "PodScheduled"]
                .iter()
                .map(|c| json!({"type": c, "status": if ok || *c == "PodScheduled" || *c == "Initialized" { "True" } else { "False" },
                    "lastProbeTime": null, "lastTransitionTime": t}))
                .collect();
            let statuses: Vec<Value> = obj.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten()
                .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ok, "restartCount": 0,
                    "started": ok, "state": if fail { json!({"terminated": {"exitCode": 1, "reason": "Error"}}) } else { json!({"running": {"startedAt": t}}) }}))
                .collect();
            json!({"phase": phase, "conditions": conditions, "containerStatuses": statuses, "hostIP": "10.0.0.1",
                "podIP": "10.244.0.10", "startTime": t, "qosClass": "BestEffort"})
        }
        "PersistentVolumeClaim" => {
            json!({"phase": "Bound", "accessModes": obj.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
            "capacity": {"storage": obj.pointer("/spec/resources/requests/storage").cloned().unwrap_or(json!("1Gi"))}})
        }
        _ => return None,
    })
}

fn simulate(cluster: &ClusterInner, res: &ResKey, key: &ObjKey) {
    let Some((rt, obj)) = get(cluster, res, key) else {
        return;
    };
    let Some(status) = simulated_status(&rt.kind, &obj) else {
        return;
    };
    let mut patch = json!({"metadata": {"name": key.1}, "status": status});
    if !key.0.is_empty() {
        patch["metadata"]["namespace"] = json!(key.0);
    }
    // Replace the status wholesale: fields absent now (unavailableReplicas) must go.
    if let Some(old) = obj.get("status").and_then(Value::as_object) {
        for k in old.keys() {
            if patch["status"].get(k).is_none() {
                patch["status"][k] = Value::Null;
            }
        }
    }
    if let Err(e) = controller_write(
        cluster,
        &rt,
        &patch,
        Some("status"),
        "kube-controller-manager",
    ) {
        tracing::debug!(name = %key.1, error = %e.message, "simulated status write failed");
    }
}
