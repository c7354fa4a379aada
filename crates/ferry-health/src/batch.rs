//! Health of `batch` objects: Job (`gitops-engine/pkg/health/health_job.go`) and CronJob
//! (Argo CD's built-in `resource_customizations/batch/CronJob/health.lua`).

use crate::fields::{AssessError, Fields};
use crate::status::{Health, HealthStatus};

/// A Job is `Progressing` until it has a `Complete`, `Failed` or `Suspended` condition; then
/// `Degraded` if it failed, `Suspended` if suspended, `Healthy` otherwise.
pub(crate) fn job(f: Fields<'_>) -> Result<Health, AssessError> {
    let mut failed = None;
    let mut finished = false;
    let mut suspended = false;
    let mut message = "";
    for c in f.conditions(&["status", "conditions"])? {
        match c.type_ {
            "Failed" => {
                finished = true;
                failed = Some(c.message);
            }
            "Complete" => {
                finished = true;
                message = c.message;
            }
            "Suspended" => {
                finished = true;
                message = c.message;
                suspended |= c.status == "True";
            }
            _ => {}
        }
    }
    let status = match (finished, failed) {
        (false, _) => HealthStatus::Progressing,
        (true, Some(why)) => return Ok(Health::new(HealthStatus::Degraded, why)),
        (true, None) if suspended => HealthStatus::Suspended,
        (true, None) => HealthStatus::Healthy,
    };
    Ok(Health::new(status, message))
}

/// A suspended CronJob is `Suspended`. Otherwise it is `Degraded` only when its last run is
/// known to have failed: nothing running and the last success older than the last schedule.
/// A CronJob that never ran, or never succeeded yet, is `Healthy` (nothing says otherwise).
pub(crate) fn cron_job(f: Fields<'_>) -> Result<Health, AssessError> {
    if f.bool(&["spec", "suspend"])? {
        return Ok(Health::new(HealthStatus::Suspended, "CronJob is Suspended"));
    }
    if !f.has(&["status"])? {
        return Ok(Health::new(
            HealthStatus::Progressing,
            "Waiting for CronJob",
        ));
    }
    let healthy = |message: &str| Ok(Health::new(HealthStatus::Healthy, message));
    let last_schedule = f.str(&["status", "lastScheduleTime"])?;
    if last_schedule.is_empty() {
        return healthy("CronJob has not been scheduled yet");
    }
    let last_success = f.str(&["status", "lastSuccessfulTime"])?;
    if last_success.is_empty() {
        return healthy("The CronJob never completed successfully. It may not be healthy");
    }
    if !f.list(&["status", "active"])?.is_empty() {
        return healthy("The job is running. Its last execution may not have been successful");
    }
    // RFC 3339 timestamps in the API server's one format compare as strings.
    if last_success < last_schedule {
        return Ok(Health::new(
            HealthStatus::Degraded,
            "CronJob has not completed its last execution successfully",
        ));
    }
    healthy("CronJob has completed its last execution successfully")
}
