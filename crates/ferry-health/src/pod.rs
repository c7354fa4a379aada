//! Pod health, as `gitops-engine/pkg/health/health_pod.go`: the phase decides, except that a
//! long-running pod (`restartPolicy: Always`) with a container stuck in an error state
//! (`CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `CreateContainerConfigError`, ...) is
//! `Degraded` at once. Pods with `OnFailure`/`Never` are usually hooks: a running one is only
//! `Progressing`, and waiting errors do not fail it early (the image may still arrive).

use serde_json::Value;

use crate::fields::{AssessError, Fields};
use crate::status::{Health, HealthStatus};

/// Annotations that make a running pod with `restartPolicy: OnFailure`/`Never` be judged like a
/// long-running one (Ready → `Healthy`), for pods managed by operators rather than used as hooks.
/// Ferry's own name first; Argo CD's is honoured so that imported manifests keep working.
pub const IGNORE_RESTART_POLICY_ANNOTATIONS: [&str; 2] = [
    "ferry.dev/ignore-restart-policy",
    "argocd.argoproj.io/ignore-restart-policy",
];

/// Whether a container's waiting reason is an error state: `Err*`, `*Error` or `*BackOff`.
fn is_error_reason(reason: &str) -> bool {
    reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
}

pub(crate) fn pod(f: Fields<'_>) -> Result<Health, AssessError> {
    // An absent restartPolicy is what the API server defaults it to.
    let restart_policy = match f.str(&["spec", "restartPolicy"])? {
        "" => "Always",
        policy => policy,
    };
    let message = f.str(&["status", "message"])?;
    let containers = f.list(&["status", "containerStatuses"])?;
    let init_containers = f.list(&["status", "initContainerStatuses"])?;

    if restart_policy == "Always" {
        let mut messages = Vec::new();
        for c in containers {
            let c = f.at(c);
            if c.has(&["state", "waiting"])?
                && is_error_reason(c.str(&["state", "waiting", "reason"])?)
            {
                messages.push(c.str(&["state", "waiting", "message"])?);
            }
        }
        if !messages.is_empty() {
            return Ok(Health::new(HealthStatus::Degraded, messages.join(", ")));
        }
    }

    match f.str(&["status", "phase"])? {
        "Pending" => Ok(Health::new(HealthStatus::Progressing, message)),
        "Succeeded" => Ok(Health::new(HealthStatus::Healthy, message)),
        "Failed" => {
            if !message.is_empty() {
                return Ok(Health::new(HealthStatus::Degraded, message));
            }
            for c in init_containers.iter().chain(containers) {
                let why = fail_message(f.at(c))?;
                if !why.is_empty() {
                    return Ok(Health::new(HealthStatus::Degraded, why));
                }
            }
            Ok(Health::new(HealthStatus::Degraded, ""))
        }
        "Running" => {
            let ignore_policy = IGNORE_RESTART_POLICY_ANNOTATIONS
                .iter()
                .any(|key| f.annotation(key).is_some());
            match restart_policy {
                _ if ignore_policy => running(f, containers, message),
                "Always" => running(f, containers, message),
                "OnFailure" | "Never" => Ok(Health::new(HealthStatus::Progressing, message)),
                _ => Ok(Health::new(HealthStatus::Unknown, message)),
            }
        }
        _ => Ok(Health::new(HealthStatus::Unknown, message)),
    }
}

/// A running long-lived pod: `Healthy` when Ready, `Degraded` when not Ready and a container
/// has terminated before, `Progressing` otherwise.
fn running(f: Fields<'_>, containers: &[Value], message: &str) -> Result<Health, AssessError> {
    let ready = f
        .condition(&["status", "conditions"], "Ready")?
        .is_some_and(|c| c.status == "True");
    if ready {
        return Ok(Health::new(HealthStatus::Healthy, message));
    }
    for c in containers {
        if f.at(c).has(&["lastState", "terminated"])? {
            return Ok(Health::new(HealthStatus::Degraded, message));
        }
    }
    Ok(Health::new(HealthStatus::Progressing, message))
}

/// Why a terminated container failed: its message, `OOMKilled`, or its exit code.
fn fail_message(c: Fields<'_>) -> Result<String, AssessError> {
    if !c.has(&["state", "terminated"])? {
        return Ok(String::new());
    }
    let message = c.str(&["state", "terminated", "message"])?;
    if !message.is_empty() {
        return Ok(message.to_string());
    }
    if c.str(&["state", "terminated", "reason"])? == "OOMKilled" {
        return Ok("OOMKilled".to_string());
    }
    let code = c.int(&["state", "terminated", "exitCode"])?;
    if code != 0 {
        return Ok(format!(
            "container {:?} failed with exit code {code}",
            c.str(&["name"])?
        ));
    }
    Ok(String::new())
}
