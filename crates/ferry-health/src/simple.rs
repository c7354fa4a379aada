//! Kinds judged by one status field: Service and Ingress (a load balancer address), the
//! PersistentVolumeClaim (its phase, as `health_pvc.go`) and the Namespace (its phase).

use crate::fields::{AssessError, Fields};
use crate::status::{Health, HealthStatus};

/// A `LoadBalancer` Service is `Progressing` until the cloud gave it an ingress address; every
/// other Service is `Healthy`.
pub(crate) fn service(f: Fields<'_>) -> Result<Health, AssessError> {
    if f.str(&["spec", "type"])? == "LoadBalancer" {
        return load_balancer(f);
    }
    Ok(Health::healthy())
}

/// An Ingress is `Progressing` until its controller published an address.
pub(crate) fn ingress(f: Fields<'_>) -> Result<Health, AssessError> {
    load_balancer(f)
}

fn load_balancer(f: Fields<'_>) -> Result<Health, AssessError> {
    if f.list(&["status", "loadBalancer", "ingress"])?.is_empty() {
        return Ok(Health::new(
            HealthStatus::Progressing,
            format!("Waiting for {} to get a load balancer address", f.kind()),
        ));
    }
    Ok(Health::healthy())
}

/// `Bound` → `Healthy`, `Pending` → `Progressing`, `Lost` → `Degraded`, anything else `Unknown`.
pub(crate) fn persistent_volume_claim(f: Fields<'_>) -> Result<Health, AssessError> {
    let status = match f.str(&["status", "phase"])? {
        "Bound" => HealthStatus::Healthy,
        "Pending" => HealthStatus::Progressing,
        "Lost" => HealthStatus::Degraded,
        _ => HealthStatus::Unknown,
    };
    Ok(Health::new(status, ""))
}

/// `Active` → `Healthy`; `Terminating` → `Progressing` (the namespace controller is still
/// deleting its contents). A namespace without a phase yet is `Progressing` too.
pub(crate) fn namespace(f: Fields<'_>) -> Result<Health, AssessError> {
    match f.str(&["status", "phase"])? {
        "Active" => Ok(Health::healthy()),
        "Terminating" => Ok(Health::new(
            HealthStatus::Progressing,
            "Namespace is terminating",
        )),
        "" => Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting for namespace to become active",
        )),
        phase => Ok(Health::new(
            HealthStatus::Unknown,
            format!("Namespace has unknown phase {phase:?}"),
        )),
    }
}
