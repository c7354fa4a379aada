//! Health assessment of live Kubernetes objects with Argo CD's statuses and rules.
//!
//! Pure: no IO, no tokio. Every function takes objects as `serde_json::Value`, exactly as the
//! API server returns them.
//!
//! - [`assess`] judges one live object. Kinds with a built-in rule (the ones of
//!   `gitops-engine/pkg/health` plus Argo CD's built-in CronJob check, a Namespace rule and a
//!   fallback for any object with a `Ready` condition) always get a health; any other kind gets
//!   `None`, "no health", and then does not count towards its application's health, as in
//!   Argo CD. An object being deleted is `Progressing` ("Pending deletion") whatever its kind.
//! - [`resource_health`] is the per-resource view: a resource that is in Git but not in the
//!   cluster is `Missing`.
//! - [`aggregate`] folds the resources of one application into its health, worst first in
//!   [`HealthStatus`]'s order, with Argo CD's `setApplicationHealth` rules.
//!
//! ```text
//! pub enum HealthStatus { Healthy, Suspended, Progressing, Missing, Degraded, Unknown } // Ord: best → worst
//! pub struct Health { pub status: HealthStatus, pub message: String }
//! pub fn assess(obj: &Value) -> Option<Health>;
//! pub fn try_assess(obj: &Value) -> Result<Option<Health>, AssessError>;
//! pub fn resource_health(live: Option<&Value>) -> Option<Health>;
//! pub fn aggregate<'a>(items: impl IntoIterator<Item = Option<&'a Value>>) -> HealthStatus;
//! ```

mod batch;
mod conditions;
mod fields;
mod pod;
mod simple;
mod status;
mod workloads;

use serde_json::Value;

pub use fields::AssessError;
pub use pod::IGNORE_RESTART_POLICY_ANNOTATIONS;
pub use status::{Health, HealthStatus};

use fields::Fields;

/// Annotations that, set to `"true"` on a live object, keep it out of [`aggregate`]. Ferry's own
/// name first; Argo CD's is honoured so that imported manifests keep working.
pub const IGNORE_HEALTHCHECK_ANNOTATIONS: [&str; 2] = [
    "ferry.dev/ignore-healthcheck",
    "argocd.argoproj.io/ignore-healthcheck",
];

/// The health of one live object, or `None` when its kind has no health rule (such objects do
/// not affect their application's health). An object whose fields cannot be read is `Unknown`
/// with the reason as message (see [`try_assess`] for the error itself).
pub fn assess(obj: &Value) -> Option<Health> {
    try_assess(obj).unwrap_or_else(|err| Some(Health::new(HealthStatus::Unknown, err.to_string())))
}

/// Like [`assess`], but a field of the wrong type is an error rather than `Unknown` health, so
/// the caller can log it (Argo CD both reports `Unknown` and logs the error).
pub fn try_assess(obj: &Value) -> Result<Option<Health>, AssessError> {
    let Some(map) = obj.as_object() else {
        return Err(AssessError::NotAnObject);
    };
    let deleting = map
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null());
    if deleting {
        return Ok(Some(Health::new(
            HealthStatus::Progressing,
            "Pending deletion",
        )));
    }
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    let f = Fields::new(obj, kind);
    let health = match (group, kind) {
        ("apps" | "extensions", "Deployment") => workloads::deployment(f)?,
        ("apps", "StatefulSet") => workloads::stateful_set(f)?,
        ("apps" | "extensions", "DaemonSet") => workloads::daemon_set(f)?,
        ("apps" | "extensions", "ReplicaSet") => workloads::replica_set(f)?,
        ("", "Pod") => pod::pod(f)?,
        ("", "Service") => simple::service(f)?,
        ("networking.k8s.io" | "extensions", "Ingress") => simple::ingress(f)?,
        ("", "PersistentVolumeClaim") => simple::persistent_volume_claim(f)?,
        ("", "Namespace") => simple::namespace(f)?,
        ("batch", "Job") => batch::job(f)?,
        ("batch", "CronJob") => batch::cron_job(f)?,
        ("autoscaling", "HorizontalPodAutoscaler") => {
            conditions::horizontal_pod_autoscaler(f, version)?
        }
        ("apiregistration.k8s.io", "APIService") => conditions::api_service(f)?,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            conditions::custom_resource_definition(f)?
        }
        _ => return Ok(conditions::ready_condition(f)),
    };
    Ok(Some(health))
}

/// The health of one resource of an application: `Missing` when it is in Git but not in the
/// cluster (`live` is `None`), otherwise [`assess`] of the live object.
pub fn resource_health(live: Option<&Value>) -> Option<Health> {
    match live {
        None => Some(Health::new(HealthStatus::Missing, "")),
        Some(obj) => assess(obj),
    }
}

/// The health of an application from its resources (`None` = in Git but not in the cluster),
/// as Argo CD's `setApplicationHealth`: the worst health of the live resources, starting from
/// `Healthy`. Resources without a health rule and live objects annotated with one of
/// [`IGNORE_HEALTHCHECK_ANNOTATIONS`] do not count. A single missing resource does not lower the
/// application's health (its sync status already says OutOfSync), but an application with
/// resources none of which is live is `Missing`.
///
/// Pass only the resources that count for health: hooks and resources marked to be skipped are
/// the sync planner's business and must be left out by the caller.
pub fn aggregate<'a>(items: impl IntoIterator<Item = Option<&'a Value>>) -> HealthStatus {
    let mut worst = HealthStatus::Healthy;
    let mut any = false;
    let mut any_live = false;
    for live in items {
        any = true;
        let Some(obj) = live else { continue };
        any_live = true;
        if ignores_healthcheck(obj) {
            continue;
        }
        if let Some(health) = assess(obj) {
            worst = worst.max(health.status);
        }
    }
    if any && !any_live {
        worst = worst.max(HealthStatus::Missing);
    }
    worst
}

fn ignores_healthcheck(obj: &Value) -> bool {
    let annotations = obj.get("metadata").and_then(|m| m.get("annotations"));
    IGNORE_HEALTHCHECK_ANNOTATIONS.iter().any(|key| {
        annotations
            .and_then(|a| a.get(*key))
            .and_then(Value::as_str)
            == Some("true")
    })
}
