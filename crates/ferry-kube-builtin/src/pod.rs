//! Decode-time defaulting of pod templates and pod specs, as the 1.24 `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, `SetDefaults_Volume` & co. and the v1 conversion leave them, plus the
//! serialization artifacts of non-`omitempty` Go fields (`resources: {}`,
//! `metadata.creationTimestamp: null`).

use serde_json::{Value, json};

use crate::json::{Obj, child, default_ptr, default_val, ensure, fill, is_zero, items, str_of};

/// A `PodTemplateSpec` (`spec.template` of workloads).
pub(crate) fn template(tpl: &mut Obj) {
    if let Some(meta) = ensure(tpl, "metadata") {
        fill(meta, "creationTimestamp", Value::Null);
    }
    if let Some(spec) = ensure(tpl, "spec") {
        pod_spec(spec);
    }
}

/// An embedded `ObjectMeta` that serializes with `creationTimestamp: null`.
pub(crate) fn embedded_meta(m: &mut Obj) {
    if let Some(meta) = ensure(m, "metadata") {
        fill(meta, "creationTimestamp", Value::Null);
    }
}

/// `SetDefaults_PodSpec` and everything nested in a pod spec.
pub(crate) fn pod_spec(spec: &mut Obj) {
    fill(spec, "containers", Value::Null);
    default_val(spec, "dnsPolicy", json!("ClusterFirst"));
    default_val(spec, "restartPolicy", json!("Always"));
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_val(spec, "schedulerName", json!("default-scheduler"));
    service_account_alias(spec);
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    for key in ["initContainers", "containers"] {
        for c in items(spec, key) {
            container(c, host_network);
        }
    }
    for c in items(spec, "ephemeralContainers") {
        container(c, false);
    }
    for v in items(spec, "volumes") {
        volume(v);
    }
}

/// `SetDefaults_Pod`: the Pod-only extras (requests default to limits; service links on).
pub(crate) fn pod_only(spec: &mut Obj) {
    for key in ["initContainers", "containers"] {
        for c in items(spec, key) {
            let Some(resources) = child(c, "resources") else {
                continue;
            };
            let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let Some(requests) = ensure(resources, "requests") else {
                continue;
            };
            for (name, q) in limits {
                requests.entry(name).or_insert(q);
            }
        }
    }
    default_ptr(spec, "enableServiceLinks", Value::Bool(true));
}

/// `serviceAccount` is the deprecated alias of `serviceAccountName`: decoding takes it when the
/// new field is empty, encoding always mirrors the new field into it.
fn service_account_alias(spec: &mut Obj) {
    let mut name = str_of(spec, "serviceAccountName").to_owned();
    if name.is_empty() {
        name = str_of(spec, "serviceAccount").to_owned();
    }
    for key in ["serviceAccountName", "serviceAccount"] {
        if name.is_empty() {
            if spec.get(key).is_some_and(is_zero) {
                spec.remove(key);
            }
        } else if spec.get(key).is_none_or(|v| v.is_null() || v.is_string()) {
            spec.insert(key.to_owned(), Value::String(name.clone()));
        }
    }
}

/// `SetDefaults_Container` and the defaults of its ports, env sources, probes and hooks.
fn container(c: &mut Obj, host_network: bool) {
    default_ptr(c, "resources", json!({}));
    if c.get("imagePullPolicy").is_none_or(is_zero) {
        let policy = pull_policy(str_of(c, "image"));
        c.insert("imagePullPolicy".to_owned(), json!(policy));
    }
    default_val(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_val(c, "terminationMessagePolicy", json!("File"));
    for p in items(c, "ports") {
        default_val(p, "protocol", json!("TCP"));
        if host_network
            && p.get("hostPort").is_none_or(is_zero)
            && let Some(port) = p.get("containerPort").cloned()
        {
            p.insert("hostPort".to_owned(), port);
        }
    }
    for e in items(c, "env") {
        if let Some(from) = child(e, "valueFrom") {
            selectors(from);
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, key) {
            default_val(p, "timeoutSeconds", json!(1));
            default_val(p, "periodSeconds", json!(10));
            default_val(p, "successThreshold", json!(1));
            default_val(p, "failureThreshold", json!(3));
            handler(p);
            if let Some(g) = child(p, "grpc") {
                default_ptr(g, "service", json!(""));
            }
        }
    }
    if let Some(lifecycle) = child(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = child(lifecycle, key) {
                handler(h);
            }
        }
    }
}

/// `SetDefaults_HTTPGetAction`.
fn handler(h: &mut Obj) {
    if let Some(get) = child(h, "httpGet") {
        default_val(get, "path", json!("/"));
        default_val(get, "scheme", json!("HTTP"));
    }
}

/// `SetDefaults_ObjectFieldSelector` (apiVersion v1) and the zero `divisor` of a
/// `resourceFieldRef` (a non-pointer `Quantity` serializes as `"0"`).
fn selectors(m: &mut Obj) {
    if let Some(f) = child(m, "fieldRef") {
        default_val(f, "apiVersion", json!("v1"));
    }
    if let Some(r) = child(m, "resourceFieldRef") {
        default_ptr(r, "divisor", json!("0"));
    }
}

const DEFAULT_MODE: i64 = 0o644;

/// `SetDefaults_Volume` (no source means `emptyDir: {}`) and the volume sources' defaults.
fn volume(v: &mut Obj) {
    if v.iter().all(|(k, val)| k == "name" || val.is_null()) {
        v.insert("emptyDir".to_owned(), json!({}));
    }
    if let Some(h) = child(v, "hostPath") {
        default_ptr(h, "type", json!(""));
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = child(v, key) {
            default_ptr(src, "defaultMode", json!(DEFAULT_MODE));
        }
    }
    if let Some(d) = child(v, "downwardAPI") {
        for item in items(d, "items") {
            selectors(item);
        }
    }
    if let Some(p) = child(v, "projected") {
        for source in items(p, "sources") {
            if let Some(token) = child(source, "serviceAccountToken") {
                default_ptr(token, "expirationSeconds", json!(3600));
            }
            if let Some(d) = child(source, "downwardAPI") {
                for item in items(d, "items") {
                    selectors(item);
                }
            }
        }
    }
    if let Some(tpl) = child(v, "ephemeral").and_then(|e| child(e, "volumeClaimTemplate")) {
        embedded_meta(tpl);
        if let Some(spec) = ensure(tpl, "spec") {
            pvc_spec(spec);
        }
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec` and the zero `resources`.
pub(crate) fn pvc_spec(spec: &mut Obj) {
    default_ptr(spec, "resources", json!({}));
    default_ptr(spec, "volumeMode", json!("Filesystem"));
}

/// A full `PersistentVolumeClaim` (kind or StatefulSet `volumeClaimTemplates` element).
pub(crate) fn pvc(p: &mut Obj) {
    embedded_meta(p);
    if let Some(spec) = ensure(p, "spec") {
        pvc_spec(spec);
    }
    if let Some(status) = ensure(p, "status") {
        default_val(status, "phase", json!("Pending"));
    }
}

/// The pull policy `SetDefaults_Container` picks: `Always` when the image's tag is `latest`
/// (which it is when neither tag nor digest is given), else `IfNotPresent` (also when the image
/// reference does not parse).
pub fn pull_policy(image: &str) -> &'static str {
    if image_tag(image) == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag `parsers.ParseImageName` reports, `None` when the reference does not parse.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = match name.rfind(':') {
        Some(i) if !name[i + 1..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if repo.is_empty() || repo.starts_with('/') || repo.ends_with('/') {
        return None;
    }
    let remainder = match repo.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            rest
        }
        _ => repo,
    };
    if remainder
        .chars()
        .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)))
    {
        return None;
    }
    if let Some(t) = tag {
        let ok_chars = t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if t.is_empty() || t.len() > 128 || !ok_chars || t.starts_with(['.', '-']) {
            return None;
        }
    }
    if digest.is_some_and(|d| !d.contains(':')) {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) => Some(t),
        (None, None) => Some("latest"),
        (None, Some(_)) => Some(""),
    }
}

#[cfg(test)]
mod tests {
    use super::pull_policy;

    #[test]
    fn pull_policies() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/app"), "Always");
        assert_eq!(pull_policy("localhost:5000/app:v1"), "IfNotPresent");
        assert_eq!(
            pull_policy("registry.example.com/team/app:latest"),
            "Always"
        );
        assert_eq!(
            pull_policy("nginx@sha256:0123456789abcdef0123456789abcdef"),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(""), "IfNotPresent");
        assert_eq!(pull_policy("Nginx"), "IfNotPresent");
    }
}
