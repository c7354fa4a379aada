//! The application's AppProject, enforced as Argo CD's controller does (the rules are
//! `ferry-project`'s): an application whose project does not exist, or refuses its
//! namespace, source or destination, is neither compared nor synced ([`check`]); objects of
//! kinds or namespaces the project refuses fail the whole sync before anything is applied
//! ([`refusals`]), and live objects the project no longer permits are never pruned
//! ([`keep_permitted`]); sync windows decide when operations may run ([`window`]).

use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ferry_api::{
    AppProject, Application, ApplicationStatus, OperationPhase, OperationState, SyncCode,
};
use ferry_cluster::{Cluster, ResourceKey};
use ferry_project::{AppFacts, Project, SyncVerdict};

use crate::ControllerCtx;
use crate::compare::Comparison;
use crate::reconcile::Step;

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

/// How often an application whose sync a window holds is looked at again (a window opens
/// and closes by the clock, which no watch tells).
pub(crate) const WINDOW_RECHECK: Duration = Duration::from_secs(30);

/// When the project's sync windows hold an operation: one asked for by a user that they
/// block is refused (Argo CD's server refuses it; a window with `manualSync` lets it
/// through), one in progress waits (unless every blocking window has `syncOverrun` and it
/// was allowed when it started), one being terminated goes on. `None`: it may run.
pub(crate) fn windows_hold(
    project: &ferry_api::AppProject,
    app: &Application,
    status: &mut ApplicationStatus,
    state: &mut OperationState,
    new: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Step> {
    if state.phase == OperationPhase::Terminating {
        return None;
    }
    let manual = crate::projects::is_manual(state);
    let started = (!new).then_some(state.started_at.as_str());
    let SyncVerdict::Blocked(why) = window(project, app, manual, started, now) else {
        return None;
    };
    if new {
        // Refused before it started: no revision of it failed (an automated sync of this
        // revision may run once the window lifts).
        state.sync_result = None;
        return Some(crate::reconcile::end(
            status,
            state,
            OperationPhase::Failed,
            format!("cannot sync: {why}"),
        ));
    }
    state.message = format!("Sync operation blocked by sync window: {why}");
    Some(Step::Wait(WINDOW_RECHECK))
}

/// The project refuses the application: an operation asked for, or in progress, ends
/// failed with the reason, before anything is applied (answers whether to clear it).
pub(crate) fn refuse_operation(
    app: &Application,
    old: &ApplicationStatus,
    status: &mut ApplicationStatus,
    why: &str,
) -> bool {
    let running = old.operation_state.clone().filter(|s| s.phase.is_running());
    let mut state = match (running, &app.operation) {
        (Some(s), _) => s,
        (None, Some(op)) => {
            let mut s = crate::decide::new_operation(op.clone(), "");
            s.sync_result = None;
            s
        }
        (None, None) => return false,
    };
    crate::reconcile::end(
        status,
        &mut state,
        OperationPhase::Failed,
        format!("cannot sync: {why}"),
    );
    status.operation_state = Some(state);
    app.operation.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{InitiatedBy, Operation};

    fn project(manual_sync: bool, overrun: bool) -> AppProject {
        let mut p = ferry_api::default_project("ferry");
        p.metadata.name = Some("team-w".into());
        p.spec.sync_windows = vec![ferry_api::SyncWindow {
            kind: "deny".into(),
            schedule: "0 22 * * *".into(),
            duration: "1h".into(),
            applications: vec!["*".into()],
            manual_sync,
            sync_overrun: overrun,
            ..Default::default()
        }];
        p
    }

    fn app() -> Application {
        let mut a = Application::default();
        a.metadata.name = Some("web".into());
        a
    }

    fn op(automated: bool, started: &str) -> OperationState {
        let mut s = crate::decide::new_operation(
            Operation {
                sync: Some(Default::default()),
                initiated_by: Some(InitiatedBy {
                    username: (!automated).then(|| "someone".into()),
                    automated,
                }),
            },
            "c0ffee",
        );
        s.started_at = started.into();
        s
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn a_window_refuses_a_new_manual_sync_and_holds_one_in_progress() {
        let mut status = ApplicationStatus::default();
        // A new manual sync while the deny window is open: refused, no revision failed.
        let mut state = op(false, "2026-12-02T22:10:00Z");
        let step = windows_hold(
            &project(false, false),
            &app(),
            &mut status,
            &mut state,
            true,
            at(22, 10),
        );
        assert!(matches!(step, Some(Step::Finished)));
        assert_eq!(state.phase, OperationPhase::Failed);
        assert_eq!(
            state.message,
            "cannot sync: blocked by sync window deny '0 22 * * *' for 1h"
        );
        assert!(state.sync_result.is_none());
        // With manualSync it may run.
        let mut state = op(false, "2026-12-02T22:10:00Z");
        assert!(
            windows_hold(
                &project(true, false),
                &app(),
                &mut status,
                &mut state,
                true,
                at(22, 10)
            )
            .is_none()
        );
        // An automated one in progress since before the window waits, still running...
        let mut state = op(true, "2026-12-02T21:55:00Z");
        let step = windows_hold(
            &project(true, false),
            &app(),
            &mut status,
            &mut state,
            false,
            at(22, 10),
        );
        assert!(matches!(step, Some(Step::Wait(d)) if d == WINDOW_RECHECK));
        assert_eq!(state.phase, OperationPhase::Running);
        assert!(
            state
                .message
                .starts_with("Sync operation blocked by sync window"),
            "{}",
            state.message
        );
        // ...unless the window has syncOverrun; and terminating is never held.
        let mut state = op(true, "2026-12-02T21:55:00Z");
        assert!(
            windows_hold(
                &project(false, true),
                &app(),
                &mut status,
                &mut state,
                false,
                at(22, 10)
            )
            .is_none()
        );
        let mut state = op(true, "2026-12-02T21:55:00Z");
        state.phase = OperationPhase::Terminating;
        assert!(
            windows_hold(
                &project(false, false),
                &app(),
                &mut status,
                &mut state,
                false,
                at(22, 10)
            )
            .is_none()
        );
        // Outside the window everything runs.
        let mut state = op(false, "2026-12-02T12:00:00Z");
        assert!(
            windows_hold(
                &project(false, false),
                &app(),
                &mut status,
                &mut state,
                true,
                at(12, 0)
            )
            .is_none()
        );
    }

    #[test]
    fn a_refused_application_ends_the_operation_asked_for() {
        let mut asked = app();
        asked.operation = Some(Operation::default());
        let mut status = ApplicationStatus::default();
        let why = "application references project nope which does not exist";
        assert!(refuse_operation(
            &asked,
            &ApplicationStatus::default(),
            &mut status,
            why
        ));
        let state = status.operation_state.clone().expect("recorded");
        assert_eq!(state.phase, OperationPhase::Failed);
        assert_eq!(state.message, format!("cannot sync: {why}"));
        // Nothing asked for, nothing running: nothing to end.
        let mut status = ApplicationStatus::default();
        assert!(!refuse_operation(
            &app(),
            &ApplicationStatus::default(),
            &mut status,
            why
        ));
        assert!(status.operation_state.is_none());
    }
}
