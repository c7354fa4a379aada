//! What the registry strategies (`PrepareForCreate`, `PrepareForUpdate`) and the admission
//! plugins a 1.24 server runs by default do to an object after managed fields are computed. Their
//! changes are owned by no manager.

use serde_json::{Value, json};

use crate::defaults::storage_version;
use crate::json::{Obj, default_ptr, ensure, parse_const, str_of};
use crate::kinds::{lookup, normalize_group};

/// Whether objects of this kind track `metadata.generation` (set to 1 on create, bumped when the
/// spec changes): apps and batch workloads, ReplicationController, CRDs, Ingress, IngressClass,
/// NetworkPolicy, PodDisruptionBudget, webhook configurations, EndpointSlice, flow control.
/// Not ConfigMap, Secret, Service, Namespace, Pod, RBAC, or HorizontalPodAutoscaler (whose
/// strategy does not set it in 1.24).
pub fn has_generation(group: &str, kind: &str) -> bool {
    lookup(group, kind).is_some_and(|k| !k.generation.is_empty())
}

/// Whether the kind is served with a `/status` subresource (per the 1.24 discovery documents).
/// For these kinds `status` is a reset field: writes to the main resource keep the stored
/// status, and `status` must be left out of the field sets recorded in `managedFields` for them.
pub fn has_status_subresource(group: &str, kind: &str) -> bool {
    lookup(group, kind).is_some_and(|k| k.status)
}

/// The paths of the structs present in the JSON of the kind's Go zero value (non-pointer struct
/// fields, which `omitempty` never drops), starting with `metadata`. On create the server
/// compares the new object against the zero object, so these structs are "modified", not
/// "added", and get no `"."` entry in `managedFields`. Empty for unknown kinds.
pub fn zero_value_paths(group: &str, kind: &str) -> &'static [&'static [&'static str]] {
    lookup(group, kind).map_or(&[], |k| k.zero_paths)
}

/// The full JSON of the kind's Go zero value (structs, plus the `null`/`""`/`0` of
/// non-`omitempty` fields such as `spec.template.metadata.creationTimestamp: null` or a Role's
/// `rules: null`): the "empty typed object" the server compares a created object with.
/// `None` for unknown kinds.
pub fn zero_value(group: &str, kind: &str) -> Option<Value> {
    lookup(group, kind).map(|k| parse_const(k.zero))
}

/// Whether a Service still needs a cluster IP allocated: not `ExternalName` and no
/// `spec.clusterIP` yet (`"None"` means headless and needs none). Allocating it is the
/// caller's job; see [`assign_cluster_ip`].
pub fn needs_cluster_ip(obj: &Value) -> bool {
    let spec = obj.get("spec");
    let field = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    field("type") != "ExternalName" && field("clusterIP").is_empty()
}

/// Records an allocated cluster IP: `spec.clusterIP` and, when unset, `spec.clusterIPs`.
pub fn assign_cluster_ip(obj: &mut Value, ip: &str) {
    let Some(spec) = obj.as_object_mut().and_then(|o| ensure(o, "spec")) else {
        return;
    };
    spec.insert("clusterIP".to_owned(), json!(ip));
    if spec.get("clusterIPs").is_none_or(crate::json::is_zero) {
        spec.insert("clusterIPs".to_owned(), json!([ip]));
    }
}

/// The strategy's `PrepareForCreate` (plus what default admission plugins add to Pods): resets
/// `status` to the zero status for kinds with a status subresource, sets `metadata.generation`
/// to 1 where tracked, and the kind's own preparation:
///
/// - Namespace: `spec.finalizers` gets `kubernetes`, `status.phase` is `Active`;
/// - CRD: `status` is `{acceptedNames: {kind: "", plural: ""}, conditions: null,
///   storedVersions: [<storage version>]}`;
/// - Pod: `status: {phase: Pending, qosClass}`, and from admission `serviceAccountName`
///   (`default`), `priority`, `preemptionPolicy` and the not-ready/unreachable tolerations;
/// - Service: IP family fields (`SingleStack`, `[IPv4]`) and `clusterIPs` for headless
///   services; the cluster IP itself is left to the caller ([`needs_cluster_ip`]);
/// - PersistentVolumeClaim / PersistentVolume: `status.phase: Pending`;
/// - Job: the generated selector and `controller-uid`/`job-name` template labels, when
///   `metadata.uid` is already set and `spec.manualSelector` is not true.
pub fn prepare_for_create(group: &str, kind: &str, obj: &mut Value) {
    let Some(info) = lookup(group, kind) else {
        return;
    };
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    if info.status && info.kind != "Node" {
        let zero = parse_const(info.zero);
        let status = zero.get("status").cloned().unwrap_or_else(|| json!({}));
        root.insert("status".to_owned(), status);
    }
    if !info.generation.is_empty()
        && let Some(meta) = ensure(root, "metadata")
    {
        meta.insert("generation".to_owned(), json!(1));
    }
    match (normalize_group(group), kind) {
        ("", "Namespace") => {
            if let Some(spec) = ensure(root, "spec") {
                let finalizers = spec.entry("finalizers".to_owned()).or_insert(Value::Null);
                if finalizers.is_null() {
                    *finalizers = json!([]);
                }
                if let Some(list) = finalizers.as_array_mut()
                    && !list.iter().any(|f| f == "kubernetes")
                {
                    list.push(json!("kubernetes"));
                }
            }
            root.insert("status".to_owned(), json!({"phase": "Active"}));
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let stored = root
                .get("spec")
                .and_then(Value::as_object)
                .and_then(storage_version);
            if let (Some(v), Some(status)) = (stored, ensure(root, "status")) {
                status.insert("storedVersions".to_owned(), json!([v]));
            }
        }
        ("", "Pod") => {
            if let Some(spec) = ensure(root, "spec") {
                pod_admission(spec);
            }
            let qos = root.get("spec").map_or("BestEffort", qos_class);
            root.insert(
                "status".to_owned(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
        ("", "Service") => {
            if let Some(spec) = ensure(root, "spec") {
                service_ip_families(spec);
            }
        }
        ("", "PersistentVolumeClaim" | "PersistentVolume") => {
            root.insert("status".to_owned(), json!({"phase": "Pending"}));
        }
        ("batch", "Job") => job_selector(root),
        _ => {}
    }
}

/// The strategy's `PrepareForUpdate` for a write to the main resource: the stored `status` is
/// kept for kinds with a status subresource, a Namespace keeps its `spec.finalizers`, and
/// `metadata.generation` is the stored one, plus one when a generation-tracked field (`spec`,
/// or `webhooks` for webhook configurations) changed. Call it after defaulting `new`.
pub fn prepare_for_update(group: &str, kind: &str, old: &Value, new: &mut Value) {
    let Some(info) = lookup(group, kind) else {
        return;
    };
    let (Some(old), Some(root)) = (old.as_object(), new.as_object_mut()) else {
        return;
    };
    if info.status {
        restore(root, old, "status");
    }
    if normalize_group(group).is_empty() && kind == "Namespace" {
        let old_finalizers = old.get("spec").and_then(|s| s.get("finalizers")).cloned();
        if let Some(spec) = ensure(root, "spec") {
            match old_finalizers {
                Some(f) => spec.insert("finalizers".to_owned(), f),
                None => spec.remove("finalizers"),
            };
        }
    }
    let changed = info.generation.iter().any(|f| old.get(*f) != root.get(*f));
    set_generation(root, old, changed);
}

/// The status strategy's `PrepareForUpdate` for a write to `/status`: everything but `status`
/// and `metadata` comes from the stored object, and `metadata.generation` is the stored one.
pub fn prepare_for_status_update(group: &str, kind: &str, old: &Value, new: &mut Value) {
    if lookup(group, kind).is_none() {
        return;
    }
    let (Some(old), Some(root)) = (old.as_object(), new.as_object_mut()) else {
        return;
    };
    let keys: Vec<String> = old
        .keys()
        .chain(root.keys())
        .filter(|k| !matches!(k.as_str(), "metadata" | "status"))
        .cloned()
        .collect();
    for k in keys {
        restore(root, old, &k);
    }
    set_generation(root, old, false);
}

/// Copies `old[key]` into `new` (or removes it when `old` has none).
fn restore(new: &mut Obj, old: &Obj, key: &str) {
    match old.get(key) {
        Some(v) => new.insert(key.to_owned(), v.clone()),
        None => new.remove(key),
    };
}

fn set_generation(root: &mut Obj, old: &Obj, bump: bool) {
    let old_gen = old
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64);
    let Some(meta) = ensure(root, "metadata") else {
        return;
    };
    match (old_gen, bump) {
        (Some(g), true) => meta.insert("generation".to_owned(), json!(g + 1)),
        (None, true) => meta.insert("generation".to_owned(), json!(1)),
        (Some(g), false) => meta.insert("generation".to_owned(), json!(g)),
        (None, false) => meta.remove("generation"),
    };
}

/// ServiceAccount, Priority and DefaultTolerationSeconds admission (the service account token
/// volume is not added).
fn pod_admission(spec: &mut Obj) {
    if str_of(spec, "serviceAccountName").is_empty() {
        spec.insert("serviceAccountName".to_owned(), json!("default"));
        spec.insert("serviceAccount".to_owned(), json!("default"));
    }
    let priority = match str_of(spec, "priorityClassName") {
        "" => Some(0),
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    };
    if let Some(p) = priority {
        default_ptr(spec, "priority", json!(p));
    }
    default_ptr(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    let tolerates = |spec: &Obj, key: &str| {
        spec.get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter().any(|t| {
                    let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                    let e = t.get("effect").and_then(Value::as_str).unwrap_or("");
                    (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
                })
            })
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        if tolerates(spec, key) {
            continue;
        }
        let toleration = json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300});
        let list = spec.entry("tolerations".to_owned()).or_insert(Value::Null);
        if list.is_null() {
            *list = json!([]);
        }
        if let Some(list) = list.as_array_mut() {
            list.push(toleration);
        }
    }
}

/// `qos.GetPodQOS`: BestEffort without cpu/memory requests or limits, Guaranteed when every
/// container limits both and requests equal limits, else Burstable.
fn qos_class(spec: &Value) -> &'static str {
    let mut requests: Vec<(String, f64)> = Vec::new();
    let mut limits: Vec<(String, f64)> = Vec::new();
    let mut guaranteed = true;
    let add = |acc: &mut Vec<(String, f64)>, name: &str, q: f64| match acc
        .iter_mut()
        .find(|(n, _)| n == name)
    {
        Some((_, v)) => *v += q,
        None => acc.push((name.to_owned(), q)),
    };
    for key in ["containers", "initContainers"] {
        let containers = spec
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for c in containers {
            let res = c.get("resources");
            let list = |k: &str| res.and_then(|r| r.get(k)).and_then(Value::as_object);
            let positive = |m: Option<&Obj>| -> Vec<(String, f64)> {
                m.into_iter()
                    .flatten()
                    .filter(|(n, _)| n.as_str() == "cpu" || n.as_str() == "memory")
                    .filter_map(|(n, q)| {
                        parse_quantity(q)
                            .filter(|v| *v > 0.0)
                            .map(|v| (n.clone(), v))
                    })
                    .collect()
            };
            for (n, v) in positive(list("requests")) {
                add(&mut requests, &n, v);
            }
            let found = positive(list("limits"));
            if !(found.iter().any(|(n, _)| n == "cpu") && found.iter().any(|(n, _)| n == "memory"))
            {
                guaranteed = false;
            }
            for (n, v) in found {
                add(&mut limits, &n, v);
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let same = |a: f64, b: f64| (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()) * 4.0;
    if guaranteed
        && requests.len() == limits.len()
        && requests
            .iter()
            .all(|(n, r)| limits.iter().any(|(m, l)| m == n && same(*l, *r)))
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// A `resource.Quantity` as a number (`"500m"`, `"1Gi"`, `"1e3"`, `2`).
fn parse_quantity(q: &Value) -> Option<f64> {
    if let Some(n) = q.as_f64() {
        return Some(n);
    }
    let s = q.as_str()?.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(num) = s.strip_suffix(suffix)
            && let Ok(v) = num.parse::<f64>()
        {
            return Some(v * factor);
        }
    }
    s.parse::<f64>().ok()
}

/// The IP family fields the 1.24 service allocator fills in on a single-stack IPv4 cluster.
fn service_ip_families(spec: &mut Obj) {
    if str_of(spec, "type") == "ExternalName" {
        return;
    }
    let headless = str_of(spec, "clusterIP") == "None";
    let selectorless = spec.get("selector").is_none_or(crate::json::is_zero);
    let policy = if headless && selectorless {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    default_ptr(spec, "ipFamilyPolicy", json!(policy));
    if spec.get("ipFamilies").is_none_or(crate::json::is_zero) {
        spec.insert("ipFamilies".to_owned(), json!(["IPv4"]));
    }
    let ip = str_of(spec, "clusterIP").to_owned();
    if !ip.is_empty() && spec.get("clusterIPs").is_none_or(crate::json::is_zero) {
        spec.insert("clusterIPs".to_owned(), json!([ip]));
    }
}

/// `generateSelector` of the Job strategy (needs `metadata.uid`).
fn job_selector(root: &mut Obj) {
    let meta = root.get("metadata");
    let field = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (uid, name) = (field("uid"), field("name"));
    let manual = root.get("spec").and_then(|s| s.get("manualSelector")) == Some(&Value::Bool(true));
    if uid.is_empty() || manual {
        return;
    }
    let Some(spec) = ensure(root, "spec") else {
        return;
    };
    if let Some(labels) = ensure(spec, "template")
        .and_then(|t| ensure(t, "metadata"))
        .and_then(|m| ensure(m, "labels"))
    {
        labels.entry("job-name".to_owned()).or_insert(json!(name));
        labels
            .entry("controller-uid".to_owned())
            .or_insert(json!(uid));
    }
    if let Some(match_labels) = ensure(spec, "selector").and_then(|s| ensure(s, "matchLabels")) {
        match_labels
            .entry("controller-uid".to_owned())
            .or_insert(json!(uid));
    }
}
