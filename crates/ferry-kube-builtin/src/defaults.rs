//! Decode-time defaulting (`SetDefaults_*` of 1.24, with the feature gates at their 1.24
//! defaults) per kind. The server runs these whenever it decodes an object: on the request body
//! before managed fields are computed (so the writer owns the defaults on create/update) and
//! again on every read from storage.

use serde_json::{Value, json};

use crate::json::{
    Obj, child, default_ptr, default_val, ensure, items, merge_under, parse_const, path, str_of,
};
use crate::kinds::{lookup, normalize_group};
use crate::pod;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Applies the scheme defaults of a built-in kind to `obj` in place.
///
/// First fills in what the Go zero value serializes (see [`crate::zero_value`]): structs that
/// are always present, `null` for non-`omitempty` lists and pointers, `creationTimestamp: null`
/// in embedded object metadata. Then runs the kind's `SetDefaults_*` functions, including the
/// pod spec defaults wherever a pod template occurs. Unknown kinds and non-object values are
/// left alone; fields of an unexpected JSON type are skipped (use [`crate::type_check`] first).
///
/// `version` matters only where defaults differ between versions (`autoscaling`).
pub fn apply_scheme_defaults(group: &str, version: &str, kind: &str, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    if let Some(info) = lookup(group, kind)
        && let Value::Object(zero) = parse_const(info.zero)
    {
        merge_under(root, &zero);
    }
    match (normalize_group(group), kind) {
        ("apps", "Deployment") => deployment(root),
        ("apps", "ReplicaSet") => replicas_and_template(root),
        ("apps", "StatefulSet") => stateful_set(root),
        ("apps", "DaemonSet") => daemon_set(root),
        ("batch", "Job") => job(root),
        ("batch", "CronJob") => cron_job(root),
        ("", "Pod") => {
            if let Some(spec) = ensure(root, "spec") {
                pod::pod_spec(spec);
                pod::pod_only(spec);
            }
        }
        ("", "PodTemplate") => {
            if let Some(tpl) = ensure(root, "template") {
                pod::template(tpl);
            }
        }
        ("", "ReplicationController") => replication_controller(root),
        ("", "Service") => service(root),
        ("", "Secret") => {
            default_val(root, "type", json!("Opaque"));
            secret_string_data(root);
        }
        ("", "Namespace") => namespace(root),
        ("", "PersistentVolumeClaim") => pod::pvc(root),
        ("", "PersistentVolume") => persistent_volume(root),
        ("", "Endpoints") => {
            for subset in items(root, "subsets") {
                for port in items(subset, "ports") {
                    default_val(port, "protocol", json!("TCP"));
                }
            }
        }
        ("", "Node") => {
            if let Some(status) = child(root, "status")
                && let Some(capacity) = status.get("capacity").cloned()
            {
                default_ptr(status, "allocatable", capacity);
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            for port in items(root, "ports") {
                default_ptr(port, "name", json!(""));
                default_ptr(port, "protocol", json!("TCP"));
            }
        }
        (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding") => role_binding(root),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(root),
        ("networking.k8s.io", "IngressClass") => {
            if let Some(params) = path(root, &["spec", "parameters"]) {
                default_ptr(params, "scope", json!("Cluster"));
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => hpa(version, root),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(root),
        ("storage.k8s.io", "StorageClass") => {
            default_ptr(root, "reclaimPolicy", json!("Delete"));
            default_ptr(root, "volumeBindingMode", json!("Immediate"));
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            default_ptr(root, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => webhooks(root, true),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => webhooks(root, false),
        _ => {}
    }
}

fn template_at(spec: &mut Obj) {
    if let Some(tpl) = ensure(spec, "template") {
        pod::template(tpl);
    }
}

fn deployment(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    if let Some(strategy) = ensure(spec, "strategy") {
        default_val(strategy, "type", json!("RollingUpdate"));
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure(strategy, "rollingUpdate")
        {
            default_ptr(ru, "maxUnavailable", json!("25%"));
            default_ptr(ru, "maxSurge", json!("25%"));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_ptr(spec, "progressDeadlineSeconds", json!(600));
    template_at(spec);
}

fn replicas_and_template(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    template_at(spec);
}

/// `SetDefaults_StatefulSet`. `persistentVolumeClaimRetentionPolicy` (StatefulSetAutoDeletePVC)
/// and `rollingUpdate.maxUnavailable` (MaxUnavailableStatefulSet) are alpha in 1.24: off.
fn stateful_set(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_val(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = ensure(spec, "updateStrategy") {
        if strategy.get("type").is_none_or(crate::json::is_zero) {
            strategy.insert("type".to_owned(), json!("RollingUpdate"));
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            default_ptr(ru, "partition", json!(0));
        }
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template_at(spec);
    for claim in items(spec, "volumeClaimTemplates") {
        pod::pvc(claim);
    }
}

fn daemon_set(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    if let Some(strategy) = ensure(spec, "updateStrategy") {
        default_val(strategy, "type", json!("RollingUpdate"));
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(ru) = ensure(strategy, "rollingUpdate")
        {
            default_ptr(ru, "maxUnavailable", json!(1));
            default_ptr(ru, "maxSurge", json!(0));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template_at(spec);
}

/// `SetDefaults_Job`, including the copy of the template's labels to an unlabelled Job.
fn job(root: &mut Obj) {
    let template_labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let (Some(labels), Some(meta)) = (template_labels, ensure(root, "metadata"))
        && meta.get("labels").is_none_or(crate::json::is_zero)
    {
        meta.insert("labels".to_owned(), labels);
    }
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    job_spec(spec);
}

fn job_spec(spec: &mut Obj) {
    let unset = |s: &Obj, k: &str| s.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".to_owned(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    default_ptr(spec, "backoffLimit", json!(6));
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    template_at(spec);
}

fn cron_job(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_val(spec, "concurrencyPolicy", json!("Allow"));
    default_ptr(spec, "suspend", json!(false));
    default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
    default_ptr(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jt) = ensure(spec, "jobTemplate") {
        pod::embedded_meta(jt);
        if let Some(js) = ensure(jt, "spec") {
            template_at(js);
        }
    }
}

/// `SetDefaults_ReplicationController`: selector and labels default to the template's labels.
fn replication_controller(root: &mut Obj) {
    let labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = labels {
        if let Some(spec) = ensure(root, "spec")
            && spec.get("selector").is_none_or(crate::json::is_zero)
        {
            spec.insert("selector".to_owned(), labels.clone());
        }
        if let Some(meta) = ensure(root, "metadata")
            && meta.get("labels").is_none_or(crate::json::is_zero)
        {
            meta.insert("labels".to_owned(), labels);
        }
    }
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    if let Some(tpl) = child(spec, "template") {
        pod::template(tpl);
    }
}

/// `SetDefaults_Service`. IP families and cluster IPs are allocated later, not here (see
/// [`crate::prepare_for_create`]).
fn service(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_val(spec, "sessionAffinity", json!("None"));
    if str_of(spec, "sessionAffinity") == "None" {
        spec.remove("sessionAffinityConfig");
    }
    default_val(spec, "type", json!("ClusterIP"));
    for port in items(spec, "ports") {
        default_val(port, "protocol", json!("TCP"));
        if port.get("targetPort").is_none_or(crate::json::is_zero)
            && let Some(p) = port.get("port").cloned()
        {
            port.insert("targetPort".to_owned(), p);
        }
    }
    let ty = str_of(spec, "type").to_owned();
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        default_val(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label, always set to the name)
/// and `SetDefaults_NamespaceStatus`.
fn namespace(root: &mut Obj) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !name.is_empty()
        && let Some(labels) = ensure(root, "metadata").and_then(|m| ensure(m, "labels"))
    {
        labels.insert(
            "kubernetes.io/metadata.name".to_owned(),
            Value::String(name),
        );
    }
    if let Some(status) = ensure(root, "status") {
        default_val(status, "phase", json!("Active"));
    }
}

fn persistent_volume(root: &mut Obj) {
    if let Some(spec) = ensure(root, "spec") {
        default_val(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default_ptr(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = ensure(root, "status") {
        default_val(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_RoleBinding`/`ClusterRoleBinding` and `SetDefaults_Subject`.
fn role_binding(root: &mut Obj) {
    if let Some(role_ref) = child(root, "roleRef") {
        default_val(role_ref, "apiGroup", json!(RBAC_GROUP));
    }
    for subject in items(root, "subjects") {
        if subject.get("apiGroup").is_none_or(crate::json::is_zero) {
            match str_of(subject, "kind") {
                "User" | "Group" => {
                    subject.insert("apiGroup".to_owned(), json!(RBAC_GROUP));
                }
                _ => {}
            }
        }
    }
}

/// `SetDefaults_NetworkPolicy` (policy types) and `SetDefaults_NetworkPolicyPort` (TCP).
fn network_policy(root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    for dir in ["ingress", "egress"] {
        for rule in items(spec, dir) {
            for port in items(rule, "ports") {
                default_ptr(port, "protocol", json!("TCP"));
            }
        }
    }
    if spec.get("policyTypes").is_none_or(crate::json::is_zero) {
        let egress = spec.get("egress").is_some_and(|e| !crate::json::is_zero(e));
        let types = if egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".to_owned(), types);
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` per version, with `SetDefaults_HorizontalPodAutoscalerBehavior`
/// for `v2` and `v2beta2`.
fn hpa(version: &str, root: &mut Obj) {
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    default_ptr(spec, "minReplicas", json!(1));
    let metric = match version {
        "v2" | "v2beta2" => json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}),
        "v2beta1" => {
            json!({"type": "Resource", "resource": {"name": "cpu", "targetAverageUtilization": 80}})
        }
        _ => return,
    };
    if spec.get("metrics").is_none_or(crate::json::is_zero) {
        spec.insert("metrics".to_owned(), Value::Array(vec![metric]));
    }
    if matches!(version, "v2" | "v2beta2")
        && let Some(Value::Object(behavior)) = spec.get_mut("behavior")
    {
        // `GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`: what a rule leaves unset
        // comes from the default rule (scale-down's window stays unset: the controller's flag).
        let up = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}]});
        let down = json!({"selectPolicy": "Max", "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]});
        for (key, default) in [("scaleUp", up), ("scaleDown", down)] {
            let Value::Object(default) = default else {
                continue;
            };
            let rules = behavior
                .entry(key.to_owned())
                .or_insert_with(|| Value::Object(Obj::new()));
            if rules.is_null() {
                *rules = Value::Object(Obj::new());
            }
            if let Value::Object(rules) = rules {
                for (k, v) in default {
                    if rules.get(&k).is_none_or(Value::is_null) {
                        rules.insert(k, v);
                    }
                }
            }
        }
    }
}

/// `SetDefaults_CustomResourceDefinition(Spec)`.
fn crd(root: &mut Obj) {
    let mut storage = None;
    if let Some(spec) = ensure(root, "spec") {
        if let Some(names) = ensure(spec, "names") {
            let kind = str_of(names, "kind").to_owned();
            if str_of(names, "singular").is_empty() {
                names.insert("singular".to_owned(), Value::String(kind.to_lowercase()));
            }
            if str_of(names, "listKind").is_empty() && !kind.is_empty() {
                names.insert("listKind".to_owned(), Value::String(format!("{kind}List")));
            }
        }
        default_ptr(spec, "conversion", json!({"strategy": "None"}));
        if let Some(svc) = path(spec, &["conversion", "webhook", "clientConfig", "service"]) {
            default_ptr(svc, "port", json!(443));
        }
        storage = storage_version(spec);
    }
    if let (Some(v), Some(status)) = (storage, ensure(root, "status"))
        && status
            .get("storedVersions")
            .is_none_or(crate::json::is_zero)
    {
        status.insert("storedVersions".to_owned(), json!([v]));
    }
}

/// The name of the CRD version marked `storage: true`.
pub(crate) fn storage_version(spec: &Obj) -> Option<String> {
    spec.get("versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage") == Some(&Value::Bool(true)))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// admissionregistration/v1 webhook defaults.
fn webhooks(root: &mut Obj, mutating: bool) {
    for hook in items(root, "webhooks") {
        default_ptr(hook, "failurePolicy", json!("Fail"));
        default_ptr(hook, "matchPolicy", json!("Equivalent"));
        default_ptr(hook, "namespaceSelector", json!({}));
        default_ptr(hook, "objectSelector", json!({}));
        default_ptr(hook, "timeoutSeconds", json!(10));
        if mutating {
            default_ptr(hook, "reinvocationPolicy", json!("Never"));
        }
        for rule in items(hook, "rules") {
            default_ptr(rule, "scope", json!("*"));
        }
        if let Some(svc) = path(hook, &["clientConfig", "service"]) {
            default_ptr(svc, "port", json!(443));
        }
    }
}

/// `stringData` is write-only: the v1 conversion merges it into `data` (base64, winning
/// over `data`'s keys) and it is never stored.
fn secret_string_data(root: &mut serde_json::Map<String, Value>) {
    use base64::Engine as _;
    let Some(Value::Object(string_data)) = root.remove("stringData") else {
        return;
    };
    let data = root.entry("data".to_owned()).or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(data) = data.as_object_mut() {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or_default();
            data.insert(
                k,
                json!(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}
