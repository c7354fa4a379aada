//! The application's AppProject, enforced as Argo CD's controller does (the rules are
//! `ferry-project`'s): an application whose project does not exist, or refuses its
//! namespace, source or destination, is neither compared nor synced ([`check`]); objects of
//! kinds or namespaces the project refuses fail the whole sync before anything is applied
//! ([`refusals`]), and live objects the project no longer permits are never pruned
//! ([`keep_permitted`]); sync windows decide when operations may run ([`window`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ferry_api::{AppProject, Application, OperationState, SyncCode};
use ferry_cluster::{Cluster, ResourceKey};
use ferry_project::{AppFacts, Project, SyncVerdict};

use crate::ControllerCtx;
use crate::compare::Comparison;

/// The application's project, when it exists and permits the application's namespace,
/// source and destination; else why not (an `InvalidSpecError`).
pub(crate) fn check(
    ctx: &ControllerCtx,
    app: &Application,
    cluster: &Cluster,
) -> Result<Arc<AppProject>, String> {
    let name = ferry_project::project_name(&app.spec.project);
    let Some(project) = ctx.project(name) else {
        return Err(ferry_project::Refusal::NoProject(name.to_owned()).to_string());
    };
    let facts = AppFacts {
        name: app.metadata.name.as_deref().unwrap_or_default(),
        namespace: app.metadata.namespace.as_deref().unwrap_or_default(),
        repo_url: &app.spec.source.repo_url,
        server: &cluster.spec.server,
        cluster_name: cluster.name(),
        dest_namespace: app
            .spec
            .destination
            .namespace
            .as_deref()
            .unwrap_or_default(),
    };
    Project::new(name, &project.spec)
        .check_app(&facts, &ctx.config.namespace)
        .map_err(|e| e.to_string())?;
    Ok(project)
}

/// The objects of a comparison (desired and hooks) that the project refuses: their kind, or
/// for namespaced objects their namespace on this cluster; each with the rule in words.
pub(crate) fn refusals(
    project: &AppProject,
    cluster: &Cluster,
    cmp: &Comparison,
) -> Vec<(ResourceKey, String)> {
    let name = project.metadata.name.as_deref().unwrap_or_default();
    let p = Project::new(name, &project.spec);
    cmp.desired
        .iter()
        .chain(&cmp.hooks)
        .filter_map(|d| {
            let refusal = p
                .kind_refusal(&d.key.group, &d.key.kind, &d.key.name, d.namespaced)
                .or_else(|| {
                    d.namespaced
                        .then(|| {
                            p.namespace_refusal(
                                &cluster.spec.server,
                                cluster.name(),
                                &d.key.namespace,
                            )
                        })
                        .flatten()
                })?;
            Some((d.key.clone(), refusal))
        })
        .collect()
}

/// Live objects the project does not permit (their kind, or their namespace) are left
/// alone, as Argo CD leaves them: not pruned, not shown as needing it. A project change
/// never deletes anything.
pub(crate) fn keep_permitted(project: &AppProject, cluster: &Cluster, cmp: &mut Comparison) {
    let permitted = |key: &ResourceKey| permits(project, cluster, key);
    let before = cmp.prunable.len();
    cmp.prunable.retain(|o| permitted(&o.key));
    if cmp.prunable.len() == before {
        return;
    }
    cmp.resources
        .retain(|r| !r.requires_pruning || permitted(&r.key()));
    if cmp
        .resources
        .iter()
        .all(|r| r.status == SyncCode::Synced && !r.requires_pruning)
    {
        cmp.sync = SyncCode::Synced;
    }
}

/// Whether the project permits a live object of this cluster: its kind, and for a
/// namespaced one its namespace (Argo CD's `IsLiveResourcePermitted`). Only such objects
/// are pruned, or deleted with their application.
pub(crate) fn permits(project: &AppProject, cluster: &Cluster, key: &ResourceKey) -> bool {
    let name = project.metadata.name.as_deref().unwrap_or_default();
    let p = Project::new(name, &project.spec);
    let namespaced = !key.namespace.is_empty();
    p.kind_refusal(&key.group, &key.kind, &key.name, namespaced)
        .is_none()
        && (!namespaced
            || p.destination_permitted(&cluster.spec.server, cluster.name(), &key.namespace))
}

/// What the project's sync windows say of a sync of `app` now: an automated one when
/// `manual` is false; an operation that started at `started` goes on through windows with
/// `syncOverrun`.
pub(crate) fn window(
    project: &AppProject,
    app: &Application,
    manual: bool,
    started: Option<&str>,
    now: DateTime<Utc>,
) -> SyncVerdict {
    let dest = &app.spec.destination;
    let windows = ferry_project::windows::matching(
        &project.spec.sync_windows,
        app.metadata.name.as_deref().unwrap_or_default(),
        dest.server.as_deref().unwrap_or_default(),
        dest.name.as_deref().unwrap_or_default(),
        dest.namespace.as_deref().unwrap_or_default(),
    );
    let started = started
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    windows.can_sync(manual, started, now)
}

/// Whether an operation was asked for by someone (not by the automated policy).
pub(crate) fn is_manual(state: &OperationState) -> bool {
    !state
        .operation
        .initiated_by
        .as_ref()
        .is_some_and(|i| i.automated)
}
