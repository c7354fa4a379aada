//! Rollout health of the `apps` workloads: Deployment, StatefulSet, DaemonSet and ReplicaSet,
//! as `gitops-engine/pkg/health/health_{deployment,statefulset,daemonset,replicaset}.go`
//! (themselves borrowed from `kubectl rollout status`).

use crate::fields::{AssessError, Fields};
use crate::status::{Health, HealthStatus};

fn progressing(message: impl Into<String>) -> Health {
    Health::new(HealthStatus::Progressing, message)
}

/// A paused Deployment is `Suspended`; one whose controller has not observed the latest
/// generation, or whose rollout has not finished, is `Progressing`; one whose `Progressing`
/// condition says `ProgressDeadlineExceeded` is `Degraded`.
pub(crate) fn deployment(f: Fields<'_>) -> Result<Health, AssessError> {
    if f.bool(&["spec", "paused"])? {
        return Ok(Health::new(HealthStatus::Suspended, "Deployment is paused"));
    }
    let generation = f.int(&["metadata", "generation"])?;
    let observed = f.int(&["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        ));
    }
    let spec_replicas = f.opt_int(&["spec", "replicas"])?;
    let replicas = f.int(&["status", "replicas"])?;
    let updated = f.int(&["status", "updatedReplicas"])?;
    let available = f.int(&["status", "availableReplicas"])?;
    let progress = f.condition(&["status", "conditions"], "Progressing")?;
    if progress.is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        return Ok(Health::new(
            HealthStatus::Degraded,
            format!("Deployment {:?} exceeded its progress deadline", f.name()),
        ));
    }
    if let Some(want) = spec_replicas
        && updated < want
    {
        return Ok(progressing(format!(
            "Waiting for rollout to finish: {updated} out of {want} new replicas have been updated..."
        )));
    }
    if replicas > updated {
        return Ok(progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        )));
    }
    if available < updated {
        return Ok(progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        )));
    }
    Ok(Health::healthy())
}

/// A StatefulSet is `Progressing` until its spec is observed, every replica is ready, and the
/// rolling update (or the partitioned part of it) has reached every pod.
pub(crate) fn stateful_set(f: Fields<'_>) -> Result<Health, AssessError> {
    let generation = f.int(&["metadata", "generation"])?;
    let observed = f.int(&["status", "observedGeneration"])?;
    if observed == 0 || generation > observed {
        return Ok(progressing(
            "Waiting for statefulset spec update to be observed...",
        ));
    }
    let spec_replicas = f.opt_int(&["spec", "replicas"])?;
    let ready = f.int(&["status", "readyReplicas"])?;
    let updated = f.int(&["status", "updatedReplicas"])?;
    if let Some(want) = spec_replicas
        && ready < want
    {
        return Ok(progressing(format!(
            "Waiting for {} pods to be ready...",
            want - ready
        )));
    }
    let strategy = f.str(&["spec", "updateStrategy", "type"])?;
    if strategy == "RollingUpdate" && f.has(&["spec", "updateStrategy", "rollingUpdate"])? {
        let partition = f.opt_int(&["spec", "updateStrategy", "rollingUpdate", "partition"])?;
        if let (Some(want), Some(partition)) = (spec_replicas, partition)
            && updated < want - partition
        {
            return Ok(progressing(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                want - partition
            )));
        }
        return Ok(Health::new(
            HealthStatus::Healthy,
            format!("partitioned roll out complete: {updated} new pods have been updated..."),
        ));
    }
    if strategy == "OnDelete" {
        return Ok(Health::new(
            HealthStatus::Healthy,
            format!("statefulset has {ready} ready pods ({updated} updated)"),
        ));
    }
    let update_revision = f.str(&["status", "updateRevision"])?;
    let current_revision = f.str(&["status", "currentRevision"])?;
    if update_revision != current_revision {
        return Ok(progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        )));
    }
    let current = f.int(&["status", "currentReplicas"])?;
    Ok(Health::new(
        HealthStatus::Healthy,
        format!(
            "statefulset rolling update complete {current} pods at revision {current_revision}..."
        ),
    ))
}

/// A DaemonSet is `Progressing` until its spec is observed and every scheduled pod is updated
/// and available; with the `OnDelete` strategy it is `Healthy` once observed.
pub(crate) fn daemon_set(f: Fields<'_>) -> Result<Health, AssessError> {
    let generation = f.int(&["metadata", "generation"])?;
    let observed = f.int(&["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        ));
    }
    let desired = f.int(&["status", "desiredNumberScheduled"])?;
    let updated = f.int(&["status", "updatedNumberScheduled"])?;
    let available = f.int(&["status", "numberAvailable"])?;
    if f.str(&["spec", "updateStrategy", "type"])? == "OnDelete" {
        return Ok(Health::new(
            HealthStatus::Healthy,
            format!("daemon set {updated} out of {desired} new pods have been updated"),
        ));
    }
    let name = f.name();
    if updated < desired {
        return Ok(progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        )));
    }
    if available < desired {
        return Ok(progressing(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        )));
    }
    Ok(Health::healthy())
}

/// A ReplicaSet whose `ReplicaFailure` condition is `True` is `Degraded`; one with fewer
/// available replicas than wanted, or an unobserved spec, is `Progressing`.
pub(crate) fn replica_set(f: Fields<'_>) -> Result<Health, AssessError> {
    let generation = f.int(&["metadata", "generation"])?;
    let observed = f.int(&["status", "observedGeneration"])?;
    if generation > observed {
        return Ok(progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        ));
    }
    if let Some(c) = f.condition(&["status", "conditions"], "ReplicaFailure")?
        && c.status == "True"
    {
        return Ok(Health::new(HealthStatus::Degraded, c.message));
    }
    let available = f.int(&["status", "availableReplicas"])?;
    if let Some(want) = f.opt_int(&["spec", "replicas"])?
        && available < want
    {
        return Ok(progressing(format!(
            "Waiting for rollout to finish: {available} out of {want} new replicas are available..."
        )));
    }
    Ok(Health::healthy())
}
