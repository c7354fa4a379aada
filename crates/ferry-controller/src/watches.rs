//! The application controller's watches of the management cluster: cluster and repository
//! Secrets (the registry and Git credentials), Applications (shared with the ApplicationSet
//! controller, which observes it), the settings ConfigMap; and `watch_named`, a watch of one
//! named object (the runtime watches the webhook Secret with it).

use ferry_core::locks;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::Application;
use ferry_cluster::api_resource as ar;
use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::Value;
use tokio::sync::watch;

use crate::{ControllerCtx, SETTINGS_CONFIGMAP_NAME, appset, reconcile};

/// Cluster Secrets fill the registry, repository Secrets the Git credentials; either change
/// looks at every application again.
pub(crate) fn secrets(
    ctx: &Arc<ControllerCtx>,
    client: &kube::Client,
    stop: &watch::Receiver<bool>,
) {
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ctx.config.namespace,
        &ar("", "v1", "Secret", "secrets"),
    );
    let secret_watch = watcher(
        secrets,
        watcher::Config::default().labels(ferry_api::SECRET_TYPE_LABEL),
    );
    let ctx2 = ctx.clone();
    let mut repo_secrets: HashMap<String, Value> = HashMap::new();
    spawn_watch(secret_watch, stop.clone(), move |ev| {
        let (objs, deleted) = match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => (vec![o], false),
            watcher::Event::Delete(o) => (vec![o], true),
            _ => (Vec::new(), false),
        };
        for o in objs {
            let v = serde_json::to_value(&o).unwrap_or(Value::Null);
            let source = format!(
                "{}/{}",
                ctx2.config.namespace,
                o.metadata.name.clone().unwrap_or_default()
            );
            if ferry_cluster::is_cluster_secret(&v) {
                if deleted {
                    ctx2.registry.remove_by_source(&source);
                    ctx2.registry.clear_problem(&source);
                    ctx2.registry.unwant(&source);
                } else {
                    // Errors name the Secret and the field, never a value of it; the cluster
                    // it registered before keeps its last good config, and its applications
                    // say so in a ClusterSecretWarning condition.
                    match ferry_cluster::parse_cluster_secret(&v) {
                        Ok(spec) => register(&ctx2, source, spec),
                        Err(e) => {
                            tracing::warn!(secret = %source, error = %e, "cluster Secret not usable");
                            ctx2.registry.report_problem(&source, e.to_string());
                        }
                    }
                }
            } else {
                if deleted {
                    repo_secrets.remove(&source);
                } else {
                    repo_secrets.insert(source, v);
                }
                let all: Vec<Value> = repo_secrets.values().cloned().collect();
                ctx2.sources
                    .set_repo_secrets(ferry_git::repositories_from_secrets(&all));
            }
        }
        for name in ctx2.app_names() {
            ctx2.queue.add(&name, Duration::from_millis(100));
        }
    });
}

/// Registers a cluster Secret's cluster: at once, or for an EKS cluster once its first token
/// (and, found by name, its endpoint) is there; then its applications are looked at again.
/// A registration that failed (a role denied, a cluster not found) is tried again, 10 s
/// doubling to 5 min, for as long as the Secret still says the same: fixed in AWS, it
/// recovers by itself.
fn register(ctx: &Arc<ControllerCtx>, source: String, spec: ferry_cluster::ClusterSpec) {
    let ctx = ctx.clone();
    ctx.registry.want(&source, &spec);
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(10);
        loop {
            let result = ctx.registry.register(spec.clone()).await;
            match &result {
                Ok(()) => ctx.registry.clear_problem(&source),
                Err(e) => {
                    tracing::warn!(secret = %source, error = %e, "cluster Secret not usable");
                    ctx.registry.report_problem(&source, e.to_string());
                }
            }
            for name in ctx.app_names() {
                ctx.queue.add(&name, Duration::from_millis(100));
            }
            if result.is_ok() {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(300));
            if !ctx.registry.still_wanted(&source, &spec) {
                return;
            }
        }
    });
}

/// Applications: the controller's (and the ApplicationSet controller's) view of them.
pub(crate) fn applications(ctx: &Arc<ControllerCtx>, stop: &watch::Receiver<bool>) {
    let apps_watch = watcher(ctx.apps_api.clone(), watcher::Config::default());
    let ctx3 = ctx.clone();
    let mut relist = appset::Relist::default();
    spawn_watch(apps_watch, stop.clone(), move |ev| {
        if let Some(listed) = relist.follow(&ev) {
            // Deleted while the watch was re-listing: forgotten like a deletion.
            let gone: Vec<String> = ctx3
                .app_names()
                .into_iter()
                .filter(|n| !listed.contains(n))
                .collect();
            for name in gone {
                forget(&ctx3, &name);
            }
        }
        match ev {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                let shown = o.metadata.name.clone();
                let app = match application_of(o) {
                    Ok(app) => app,
                    Err(e) => {
                        // One malformed Application must not blind the controller to
                        // the others: it is skipped, and said so.
                        tracing::warn!(app = ?shown, error = %e, "not a valid Application");
                        return;
                    }
                };
                for o in ctx3.observers() {
                    o.applied(&app);
                }
                let name = app.metadata.name.clone().unwrap_or_default();
                let again = {
                    let mut apps = locks::write(&ctx3.apps);
                    let previous = apps.insert(name.clone(), Box::new(app));
                    apps.get(&name)
                        .is_some_and(|now| reconcile::needs_reconcile(previous.as_deref(), now))
                };
                if again {
                    ctx3.queue.add(&name, Duration::ZERO);
                }
            }
            watcher::Event::Delete(o) => {
                if let Some(name) = o.metadata.name {
                    forget(&ctx3, &name);
                }
            }
            watcher::Event::InitDone => {
                for o in ctx3.observers() {
                    o.listed();
                }
            }
            _ => {}
        }
    });
}

/// Follows a watch until `stop` changes, handing each event to `on`; an error (the watcher
/// retries by itself) is logged and followed by a short pause.
pub(crate) fn spawn_watch<S>(
    stream: S,
    mut stop: watch::Receiver<bool>,
    mut on: impl FnMut(watcher::Event<DynamicObject>) + Send + 'static,
) where
    S: futures::Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>>
        + Send
        + 'static,
{
    tokio::spawn(async move {
        let mut stream = stream.boxed();
        loop {
            let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
            match ev {
                None => return,
                Some(Ok(ev)) => on(ev),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "watch failed; the watcher retries");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}

/// An Application is gone (deleted, or not listed again after a re-list).
fn forget(ctx: &ControllerCtx, name: &str) {
    for o in ctx.observers() {
        o.deleted(name);
    }
    locks::write(&ctx.apps).remove(name);
}

/// AppProjects: every project of Ferry's namespace, kept whole (their rules, their AWS
/// role). A project that changes, appears or goes re-queues its applications; the first
/// complete list lets applications be judged at all, and a re-list forgets the projects it
/// no longer has.
pub(crate) fn projects(
    ctx: &Arc<ControllerCtx>,
    client: &kube::Client,
    stop: &watch::Receiver<bool>,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ctx.config.namespace,
        &ar(
            ferry_api::GROUP,
            ferry_api::VERSION,
            "AppProject",
            "appprojects",
        ),
    );
    let ctx2 = ctx.clone();
    let mut relisted: Option<std::collections::HashSet<String>> = None;
    spawn_watch(
        watcher(api, watcher::Config::default()),
        stop.clone(),
        move |ev| {
            let (o, deleted) = match ev {
                watcher::Event::Init => {
                    relisted = Some(Default::default());
                    return;
                }
                watcher::Event::InitDone => {
                    let seen = relisted.take().unwrap_or_default();
                    let gone: Vec<String> = locks::read(&ctx2.projects)
                        .keys()
                        .filter(|n| !seen.contains(*n))
                        .cloned()
                        .collect();
                    for name in gone {
                        locks::write(&ctx2.projects).remove(&name);
                        ctx2.resync_project(&name);
                    }
                    if !ctx2
                        .projects_listed
                        .swap(true, std::sync::atomic::Ordering::AcqRel)
                    {
                        ctx2.resync_all();
                    }
                    return;
                }
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => (o, false),
                watcher::Event::Delete(o) => (o, true),
            };
            let name = o.metadata.name.clone().unwrap_or_default();
            if let Some(seen) = relisted.as_mut() {
                seen.insert(name.clone());
            }
            let project = if deleted {
                None
            } else {
                match project_of(o) {
                    Ok(p) => Some(Arc::new(p)),
                    Err(e) => {
                        tracing::warn!(project = %name, error = %e, "AppProject is not valid; its previous version stays");
                        return;
                    }
                }
            };
            let changed = {
                let mut map = locks::write(&ctx2.projects);
                let before = match &project {
                    Some(p) => map.insert(name.clone(), p.clone()),
                    None => map.remove(&name),
                };
                before.map(|b| b.spec.clone()) != project.map(|p| p.spec.clone())
            };
            if changed {
                ctx2.resync_project(&name);
            }
        },
    );
}

/// An `AppProject` from the watch's untyped object.
fn project_of(o: DynamicObject) -> Result<ferry_api::AppProject, serde_json::Error> {
    let DynamicObject {
        metadata, mut data, ..
    } = o;
    let spec = data
        .as_object_mut()
        .and_then(|m| m.remove("spec"))
        .unwrap_or(Value::Null);
    Ok(ferry_api::AppProject {
        api_version: ferry_api::API_VERSION.into(),
        kind: "AppProject".into(),
        metadata,
        spec: match spec {
            Value::Null => Default::default(),
            v => serde_json::from_value(v)?,
        },
    })
}

/// Controller-wide settings: a change makes every application compare again.
pub(crate) fn settings(
    ctx: &Arc<ControllerCtx>,
    client: &kube::Client,
    stop: &watch::Receiver<bool>,
) {
    let ctx7 = ctx.clone();
    watch_named(
        client,
        &ctx.config.namespace,
        ar("", "v1", "ConfigMap", "configmaps"),
        SETTINGS_CONFIGMAP_NAME,
        stop.clone(),
        move |cm| match ignore_defaults_of(cm) {
            Ok(rules) => {
                *locks::write(&ctx7.ignore_defaults) = rules;
                ctx7.resync_all();
            }
            Err(e) => tracing::warn!(
                configmap = SETTINGS_CONFIGMAP_NAME,
                error = %e,
                "ignoring invalid settings; the previous ones stay"
            ),
        },
    );
}

/// The controller-wide `ignoreDifferences` rules of the settings ConfigMap (none without it).
pub fn ignore_defaults_of(
    settings: Option<&DynamicObject>,
) -> Result<Vec<ferry_diff::IgnoreRule>, ferry_diff::IgnoreError> {
    let data = settings
        .and_then(|o| o.data.get("data"))
        .and_then(Value::as_object);
    let pairs: Vec<(&str, &str)> = data
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
        .collect();
    ferry_diff::parse_default_rules(pairs)
}

/// Watches the object `name` of `ar` in `namespace` and calls `on_change` with it (or with
/// `None` once it is deleted) every time it changes, until `stop` changes.
pub fn watch_named(
    client: &kube::Client,
    namespace: &str,
    ar: ApiResource,
    name: &'static str,
    mut stop: watch::Receiver<bool>,
    on_change: impl Fn(Option<&DynamicObject>) + Send + 'static,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
    let stream = watcher(
        api,
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    );
    tokio::spawn(async move {
        let mut stream = stream.boxed();
        loop {
            let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
            let Some(ev) = ev else { return };
            match ev {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => on_change(Some(&o)),
                Ok(watcher::Event::Delete(_)) => on_change(None),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%name, error = %e, "watch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}

/// An `Application` from the watch's untyped object, moving its parts rather than going
/// through a JSON copy of the whole object.
fn application_of(o: DynamicObject) -> Result<Application, serde_json::Error> {
    let DynamicObject {
        types,
        metadata,
        mut data,
    } = o;
    let mut take = |key: &str| {
        data.as_object_mut()
            .and_then(|m| m.remove(key))
            .unwrap_or(Value::Null)
    };
    let spec = serde_json::from_value(take("spec"))?;
    let operation = match take("operation") {
        Value::Null => None,
        v => Some(serde_json::from_value(v)?),
    };
    let status = match take("status") {
        Value::Null => None,
        v => Some(serde_json::from_value(v)?),
    };
    let (api_version, kind) = types
        .map(|t| (t.api_version, t.kind))
        .unwrap_or_else(|| (ferry_api::API_VERSION.into(), "Application".into()));
    Ok(Application {
        api_version,
        kind,
        metadata,
        spec,
        operation,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applications_are_read_from_watch_objects_and_bad_ones_refused() {
        let o: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "namespace": "ferry"},
            "spec": {"source": {"repoURL": "https://git.example/a.git", "path": "web"},
                "destination": {"name": "prod"}},
            "status": {"sync": {"status": "Synced"}}}))
        .expect("object");
        let app = application_of(o).expect("valid");
        assert_eq!(app.metadata.name.as_deref(), Some("web"));
        assert_eq!(app.spec.source.path, "web");
        assert_eq!(
            app.status.map(|s| s.sync.status),
            Some(ferry_api::SyncCode::Synced)
        );
        assert!(app.operation.is_none());
        let bad: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "bad"}, "spec": {"source": "not an object"}}))
        .expect("object");
        assert!(application_of(bad).is_err());
    }
}
