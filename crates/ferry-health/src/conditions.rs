//! Kinds judged by their status conditions: HorizontalPodAutoscaler (`health_hpa.go`),
//! APIService (`health_apiservice.go`), CustomResourceDefinition
//! (`health_customresourcedefinition.go`), and the fallback for any other object that reports a
//! `Ready` condition.

use serde::Deserialize;

use crate::fields::{AssessError, Condition, Fields};
use crate::status::{Health, HealthStatus};

const HPA_WAITING: &str = "Waiting to Autoscale";

/// The first condition saying the autoscaler cannot work decides `Degraded`; the first saying
/// it can (`AbleToScale` or `ScalingLimited` True) decides `Healthy`; otherwise `Progressing`.
/// `autoscaling/v1` keeps its conditions as JSON in an annotation.
pub(crate) fn horizontal_pod_autoscaler(
    f: Fields<'_>,
    version: &str,
) -> Result<Health, AssessError> {
    if version == "v1" {
        let Some(raw) = f.annotation("autoscaling.alpha.kubernetes.io/conditions") else {
            return Ok(Health::new(HealthStatus::Progressing, HPA_WAITING));
        };
        let parsed: Vec<V1Condition> =
            serde_json::from_str(raw).map_err(|_| AssessError::WrongType {
                kind: f.kind().to_string(),
                path: "metadata.annotations[autoscaling.alpha.kubernetes.io/conditions]".into(),
                expected: "a JSON list of conditions",
            })?;
        let conditions = parsed
            .iter()
            .map(|c| Condition {
                type_: &c.type_,
                status: &c.status,
                reason: &c.reason,
                message: &c.message,
            })
            .collect::<Vec<_>>();
        return Ok(hpa_conditions(&conditions));
    }
    Ok(hpa_conditions(&f.conditions(&["status", "conditions"])?))
}

#[derive(Deserialize)]
struct V1Condition {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

fn hpa_conditions(conditions: &[Condition<'_>]) -> Health {
    const DEGRADED: [(&str, &str); 4] = [
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "InvalidSelector"),
    ];
    for c in conditions {
        if DEGRADED.contains(&(c.type_, c.reason)) {
            return Health::new(HealthStatus::Degraded, c.message);
        }
        if matches!(c.type_, "AbleToScale" | "ScalingLimited") && c.status == "True" {
            return Health::new(HealthStatus::Healthy, c.message);
        }
    }
    Health::new(HealthStatus::Progressing, HPA_WAITING)
}

/// An APIService is `Healthy` when `Available` is True, `Progressing` otherwise.
pub(crate) fn api_service(f: Fields<'_>) -> Result<Health, AssessError> {
    match f.condition(&["status", "conditions"], "Available")? {
        Some(c) => {
            let status = if c.status == "True" {
                HealthStatus::Healthy
            } else {
                HealthStatus::Progressing
            };
            Ok(Health::new(status, format!("{}: {}", c.reason, c.message)))
        }
        None => Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting to be processed",
        )),
    }
}

/// A CRD is `Healthy` once `Established`, unless it is terminating (`Progressing`), its names
/// were refused or its schema is not structural (`Degraded`).
pub(crate) fn custom_resource_definition(f: Fields<'_>) -> Result<Health, AssessError> {
    let conditions = f.conditions(&["status", "conditions"])?;
    if conditions.is_empty() {
        return Ok(Health::new(
            HealthStatus::Progressing,
            "Status conditions not found",
        ));
    }
    let (mut established, mut terminating, mut names_refused, mut violations) =
        (false, false, false, false);
    let mut message = "";
    for c in &conditions {
        match (c.type_, c.status) {
            ("Terminating", "True") => (terminating, message) = (true, c.message),
            ("NamesAccepted", "False") => (names_refused, message) = (true, c.message),
            ("Established", "True") => established = true,
            ("Established", _) => message = c.message,
            ("NonStructuralSchema", "True") => (violations, message) = (true, c.message),
            _ => {}
        }
    }
    let (status, text) = if terminating {
        (HealthStatus::Progressing, "CRD is being terminated")
    } else if names_refused {
        (HealthStatus::Degraded, "CRD names have not been accepted")
    } else if !established {
        (HealthStatus::Degraded, "CRD is not established")
    } else if violations {
        (HealthStatus::Degraded, "Schema violations found")
    } else {
        return Ok(Health::new(HealthStatus::Healthy, "CRD is healthy"));
    };
    Ok(Health::new(status, format!("{text}: {message}")))
}

/// The fallback for kinds without a rule: a `Ready` condition True → `Healthy`, False →
/// `Degraded`, anything else → `Progressing`. No readable `Ready` condition → no health.
pub(crate) fn ready_condition(f: Fields<'_>) -> Option<Health> {
    let ready = f.condition(&["status", "conditions"], "Ready").ok()??;
    let status = match ready.status {
        "True" => HealthStatus::Healthy,
        "False" => HealthStatus::Degraded,
        _ => HealthStatus::Progressing,
    };
    let message = match (ready.reason, ready.message) {
        (reason, "") => reason.to_string(),
        (_, message) => message.to_string(),
    };
    Some(Health::new(status, message))
}
