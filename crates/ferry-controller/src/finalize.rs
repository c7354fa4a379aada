//! Deleting an application: with the `ferry.dev/resources-finalizer` finalizer (or one of
//! Argo CD's `resources-finalizer.argocd.argoproj.io[/foreground|/background]`) its managed
//! resources are deleted first, with foreground propagation as Argo CD does (background with
//! `/background`; then the finalizer is removed); without it they stay. Resources annotated with the sync option
//! `Delete=false` always stay.

use std::time::Duration;

use ferry_api::Application;
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
            if let Some(e) = cache.error() {
                tracing::warn!(app = %name, error = %e, "cannot delete the application's resources yet");
                return ctx.failure_delay(&name);
            }
            // `Delete=false` resources stay (and are no longer counted); hooks go as well.
            let managed: Vec<_> = cache
                .managed_by(&name)
                .into_iter()
                .filter(|l| {
                    !ferry_api::SyncOptions::default()
                        .of_object(&l.object)
                        .no_delete
                })
                .collect();
            for live in &managed {
                let (group, version) = live.group_version();
                if let Ok(api) = cluster
                    .api_of(group, version, &live.key.kind, &live.key.namespace)
                    .await
                {
                    let _permit = cluster.limiter.acquire().await;
                    if let Err(e) = api.delete(&live.key.name, &propagation).await {
                        tracing::warn!(app = %name, object = %live.key, error = %e, "deleting a managed resource failed");
                    }
                }
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
