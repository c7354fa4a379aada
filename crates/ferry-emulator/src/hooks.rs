//! What particular kinds set off when written or removed: namespaces get their root CA
//! ConfigMap and default ServiceAccount, CRDs change what the cluster serves, Services get a
//! cluster IP, deletions with finalizers and workloads queue work for the controllers.

use serde_json::{Value, json};

use crate::cluster::{ClusterInner, State, Work};
use crate::resources::{ResourceType, types_of_crd};
use crate::status::{ApiError, ApiResult, Cause};
use crate::store::{ObjKey, obj_key};
use crate::write::now;

fn is(rt: &ResourceType, group: &str, plural: &str) -> bool {
    rt.group == group && rt.plural == plural
}

/// Kind-specific validation.
pub fn validate(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    if is(rt, "apiextensions.k8s.io", "customresourcedefinitions") {
        return ferry_kube_schema::validate_crd_spec(obj)
            .into_iter()
            .map(|c| Cause::new(c.reason.as_str(), &c.field, c.message))
            .collect();
    }
    Vec::new()
}

/// A create into a namespace needs the namespace, and not a terminating one.
pub fn check_namespace(state: &State, rt: &ResourceType, ns: &str, name: &str) -> ApiResult<()> {
    let key: ObjKey = (String::new(), ns.to_owned());
    let Some(namespace) = state.store.get(&(String::new(), "namespaces".into()), &key) else {
        return Err(ApiError::not_found("namespaces", "", ns));
    };
    if namespace.pointer("/metadata/deletionTimestamp").is_some() {
        let plural = &rt.plural;
        return Err(ApiError::new(
            403,
            Some("Forbidden"),
            format!("{plural} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated"),
        )
        .with_details(json!({"name": name, "kind": plural, "causes": [{
            "reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"),
            "field": "metadata.namespace"}]})));
    }
    Ok(())
}

/// Values the server allocates on create.
pub fn allocate(state: &mut State, rt: &ResourceType, obj: &mut Value) {
    if is(rt, "", "services") && ferry_kube_builtin::needs_cluster_ip(obj) {
        let ip = state.allocate_ip();
        obj["spec"]["clusterIP"] = json!(ip);
        obj["spec"]["clusterIPs"] = json!([ip]);
    }
}

fn is_workload(rt: &ResourceType) -> bool {
    matches!(
        (rt.group.as_str(), rt.plural.as_str()),
        (
            "apps",
            "deployments" | "statefulsets" | "daemonsets" | "replicasets"
        ) | ("batch", "jobs")
            | ("", "pods" | "persistentvolumeclaims")
    )
}

/// After an object was stored.
pub fn after_write(
    cluster: &ClusterInner,
    state: &mut State,
    rt: &ResourceType,
    old: Option<&Value>,
    new: &Value,
) {
    let key = obj_key(new);
    let res = rt.storage_key();
    let delay = cluster.config.controller_delay;
    if old.is_none() && is(rt, "", "namespaces") {
        seed_namespace(cluster, state, &key.1);
    }
    if is(rt, "apiextensions.k8s.io", "customresourcedefinitions") {
        if new.pointer("/metadata/deletionTimestamp").is_some() {
            state.schedule(delay, Work::CleanupCrd(key.1.clone()));
        } else {
            state.registry.set_crd(&key.1, types_of_crd(new));
            let established = new
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Established"));
            if !established {
                state.schedule(delay / 4, Work::EstablishCrd(key.1.clone()));
            }
        }
    }
    if new.pointer("/metadata/deletionTimestamp").is_some() {
        if is(rt, "", "namespaces") {
            state.schedule(delay, Work::TerminateNamespace(key.1.clone()));
        }
        let finalizers = new
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array);
        if finalizers.is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion" || f == "orphan"))
        {
            state.schedule(delay, Work::Finalize(res.clone(), key.clone()));
        }
    }
    let spec_changed = old.is_none_or(|o| {
        o.get("spec") != new.get("spec")
            || o.pointer("/metadata/annotations") != new.pointer("/metadata/annotations")
    });
    if is_workload(rt) && spec_changed && new.pointer("/metadata/deletionTimestamp").is_none() {
        state.schedule(
            cluster.config.workload_ready_delay,
            Work::Simulate(res, key),
        );
    }
}

/// After an object left the store.
pub fn after_remove(cluster: &ClusterInner, state: &mut State, rt: &ResourceType, gone: &Value) {
    if let Some(uid) = gone.pointer("/metadata/uid").and_then(Value::as_str)
        && !state.store.dependents_of(uid).is_empty()
    {
        state.schedule(
            cluster.config.controller_delay,
            Work::CollectDependents(uid.to_owned()),
        );
    }
    if is(rt, "apiextensions.k8s.io", "customresourcedefinitions") {
        let name = obj_key(gone).1;
        state.registry.set_crd(&name, Vec::new());
    }
}

fn kcm_fields(fields: Value) -> Value {
    json!([{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields, "manager": "kube-controller-manager",
        "operation": "Update", "time": now()}])
}

/// What kube-controller-manager puts in every new namespace.
fn seed_namespace(cluster: &ClusterInner, state: &mut State, ns: &str) {
    let ca = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": "kube-root-ca.crt", "namespace": ns, "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now(),
            "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."},
            "managedFields": kcm_fields(json!({"f:data": {".": {}, "f:ca.crt": {}}, "f:metadata": {"f:annotations": {".": {}, "f:kubernetes.io/description": {}}}})),
        },
        "data": {"ca.crt": cluster.ca_pem},
    });
    state.store.put(&(String::new(), "configmaps".into()), ca);
    let sa = json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now()},
    });
    state
        .store
        .put(&(String::new(), "serviceaccounts".into()), sa);
}
