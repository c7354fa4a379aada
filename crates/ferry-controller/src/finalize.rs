//! Deleting an application: with the `ferry.dev/resources-finalizer` finalizer (or one of
//! Argo CD's `resources-finalizer.argocd.argoproj.io[/foreground|/background]`) its managed
//! resources are deleted first, with foreground propagation as Argo CD does (background with
//! `/background`; then the finalizer is removed); without it they stay. Resources annotated with the sync option
//! `Delete=false` always stay, and so do those the application's project does not permit;
//! without its project, the deletion waits.

use std::time::Duration;

use ferry_api::{Application, ApplicationStatus};
use kube::api::{DeleteParams, Patch};
use serde_json::json;

use crate::ControllerCtx;

pub async fn finalize(ctx: &ControllerCtx, app: &Application) -> Duration {
    let name = app.metadata.name.clone().unwrap_or_default();
    let finalizers = app.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers
        .iter()
        .any(|f| ferry_api::is_resources_finalizer(f))
    {
        return Duration::MAX;
    }
    let propagation = if finalizers
        .iter()
        .any(|f| f == "resources-finalizer.argocd.argoproj.io/background")
    {
        DeleteParams::background()
    } else {
        DeleteParams::foreground()
    };
    let dest = &app.spec.destination;
    let remaining = match ctx
        .registry
        .find(dest.server.as_deref(), dest.name.as_deref())
    {
        Ok(cluster) => {
            let cache = ctx.cache_for(&cluster);
            if let Some(status) = &app.status {
                for r in &status.resources {
                    if let Ok((ar, _)) = cluster.resolve(&r.group, &r.version, &r.kind).await {
                        cache.ensure_watch(&ar, Duration::from_secs(20)).await;
                    }
                }
            }
            if let Err(e) = crate::compare::recheck(&cluster, &cache).await {
                // The live cache tells when the cluster answers again (it wakes the
                // applications it holds objects of); until then, a bounded backoff.
                let retry = ctx.failure_delay(&name).min(DELETION_RETRY_MAX);
                let cause = e.to_string();
                tracing::warn!(app = %name, error = %cause, "cannot delete the application's resources yet");
                held(ctx, app, cause, retry).await;
                return retry;
            }
            // The project must exist, and only what it permits is deleted, as Argo CD's
            // `getPermittedAppLiveObjects`.
            if !ctx.projects_listed() {
                return Duration::from_millis(200);
            }
            let project_name = ferry_project::project_name(&app.spec.project);
            let Some(project) = ctx.project(project_name) else {
                let retry = ctx.failure_delay(&name).min(DELETION_RETRY_MAX);
                let cause = ferry_project::Refusal::NoProject(project_name.into()).to_string();
                held(ctx, app, cause, retry).await;
                return retry;
            };
            // `Delete=false` resources stay (and are no longer counted); hooks go as well.
            let managed: Vec<_> = cache
                .managed_by(&name)
                .into_iter()
                .filter(|l| crate::projects::permits(&project, &cluster, &l.key))
                .filter(|l| {
                    !ferry_api::SyncOptions::default()
                        .of_object(&l.object)
                        .no_delete
                })
                .collect();
            let mut failed = Vec::new();
            for live in &managed {
                let (group, version) = live.group_version();
                let outcome = match cluster
                    .api_of(group, version, &live.key.kind, &live.key.namespace)
                    .await
                {
                    Ok(api) => {
                        let _permit = cluster.limiter.acquire().await;
                        match api.delete(&live.key.name, &propagation).await {
                            Ok(_) => Ok(()),
                            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                            Err(e) => Err(cluster.cause(&e)),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = outcome {
                    tracing::warn!(app = %name, object = %live.key, error = %e, "deleting a managed resource failed");
                    failed.push(format!("{}: {e}", live.key));
                }
            }
            if !failed.is_empty() {
                let retry = ctx.failure_delay(&name).min(DELETION_RETRY_MAX);
                let n = failed.len();
                failed.truncate(3);
                let cause = format!(
                    "deleting {n} resources in cluster {} failed: {}",
                    cluster.name(),
                    failed.join("; ")
                );
                held(ctx, app, cause, retry).await;
                return retry;
            }
            managed.len()
        }
        // A cluster that is gone has nothing left to delete.
        Err(_) => 0,
    };
    if remaining > 0 {
        return Duration::from_millis(500);
    }
    let left: Vec<String> = finalizers
        .into_iter()
        .filter(|f| !ferry_api::is_resources_finalizer(f))
        .collect();
    let patch = Patch::Merge(
        json!({"metadata": {"finalizers": if left.is_empty() { serde_json::Value::Null } else { json!(left) }}}),
    );
    if let Err(e) = ctx
        .apps_api
        .patch(&name, &crate::reconcile::params(), &patch)
        .await
    {
        tracing::warn!(app = %name, error = %e, "removing the finalizer failed");
        return ctx.failure_delay(&name);
    }
    Duration::MAX
}

/// The longest wait between two attempts at a held deletion (a recovering cluster wakes it
/// sooner, through its watch).
const DELETION_RETRY_MAX: Duration = Duration::from_secs(15);

/// A deletion that cannot go on: `DeletionError` says why and when it is tried again, and the
/// health says the resources are not known to be gone.
async fn held(ctx: &ControllerCtx, app: &Application, cause: String, retry: Duration) {
    let old: ApplicationStatus = app.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let next = ferry_core::timestamp::rfc3339(std::time::SystemTime::now() + retry);
    crate::reconcile::set_condition(
        &mut status,
        ferry_api::ConditionType::DeletionError,
        Some(format!(
            "the application is being deleted but its resources cannot be yet: {cause}; next attempt at {next}, or as soon as the cluster answers"
        )),
    );
    status.health.status = ferry_api::HealthCode::Unknown;
    status.health.message = cause;
    ctx.write_status(app, &old, status).await;
}
