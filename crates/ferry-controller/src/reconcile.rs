//! One application's reconcile, in stages: deletion → destination → project → compare
//! (source, live state, diff, health; what the project refuses) → sync windows → decide →
//! sync → one status write.

use std::time::Duration;

use ferry_api::{
    Application, ApplicationCondition, ApplicationStatus, ComparedTo, ConditionType, HealthCode,
    OperationPhase, OperationState, ResultCode, RevisionHistory, SyncCode, SyncOptions,
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::ControllerCtx;
use crate::compare::{CompareError, Comparison, compare};
use ferry_project::SyncVerdict;

pub use ferry_api::REFRESH_ANNOTATION;

use ferry_core::timestamp::now;

/// Sets (or with `None` removes) the condition `kind`, keeping its transition time while its
/// message stays the same.
pub(crate) fn set_condition(
    status: &mut ApplicationStatus,
    kind: ConditionType,
    message: Option<String>,
) {
    match message {
        Some(message) => match status.conditions.iter_mut().find(|c| c.type_ == kind) {
            Some(c) if c.message == message => {}
            Some(c) => {
                c.message = message;
                c.last_transition_time = Some(now());
            }
            None => status.conditions.push(ApplicationCondition {
                type_: kind,
                message,
                last_transition_time: Some(now()),
            }),
        },
        None => status.conditions.retain(|c| c.type_ != kind),
    }
}

/// Reconciles one application, stage by stage; answers when to look at it again.
pub async fn reconcile(ctx: &ControllerCtx, name: &str) -> Duration {
    let Some(app) = ctx.app(name) else {
        return Duration::MAX;
    };
    if app.metadata.deletion_timestamp.is_some() {
        return crate::finalize::finalize(ctx, &app).await;
    }
    let poll = ctx.poll_delay();
    let old_status = app.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    status.observed_generation = app.metadata.generation;

    // 1. The destination cluster.
    let dest = &app.spec.destination;
    let cluster = match ctx
        .registry
        .find(dest.server.as_deref(), dest.name.as_deref())
    {
        Ok(c) => c,
        Err(e) => {
            status.sync.status = SyncCode::Unknown;
            set_condition(
                &mut status,
                ConditionType::InvalidSpecError,
                Some(format!("destination: {e}")),
            );
            return conclude(ctx, &app, &old_status, status, false, || poll).await;
        }
    };

    // 2. The project: it must exist and permit the application's namespace, source and
    //    destination; else nothing is compared, applied or pruned.
    if !ctx.projects_listed() {
        tracing::debug!(app = %name, "waiting for the AppProjects to be listed");
        return Duration::from_millis(200);
    }
    let project = match crate::projects::check(ctx, &app, &cluster) {
        Ok(p) => p,
        Err(msg) => {
            status.sync.status = SyncCode::Unknown;
            set_condition(
                &mut status,
                ConditionType::InvalidSpecError,
                Some(msg.clone()),
            );
            set_condition(&mut status, ConditionType::SyncWindowBlocked, None);
            let clear_op = crate::projects::refuse_operation(&app, &old_status, &mut status, &msg);
            return conclude(ctx, &app, &old_status, status, clear_op, || poll).await;
        }
    };
    set_condition(&mut status, ConditionType::InvalidSpecError, None);
    set_condition(
        &mut status,
        ConditionType::ClusterSecretWarning,
        ctx.registry.problem_of(&cluster),
    );
    let cache = ctx.cache_for(&cluster);

    // 3. What to compare against: an operation in progress keeps its own revision and
    //    source until it ends, even when Git moved on meanwhile.
    let target = Target::of(&app, &old_status);

    // 4. The comparison; what the project refuses of it.
    let mut cmp = match compare(
        ctx,
        &app,
        target.source.as_ref(),
        &cluster,
        &cache,
        target.refresh,
        target.revision.as_deref(),
    )
    .await
    {
        Ok(c) => c,
        // A plugin render still running (a slow helmfile) is not an error: the status stays
        // as it was, an operation asked for waits, and the render's end wakes the application.
        Err(CompareError::Source(e)) if e.is_pending() => {
            tracing::debug!(app = %name, "{e}");
            return poll;
        }
        Err(e) => {
            let clear_op = comparison_failed(&app, &mut status, target.running.is_none(), &e);
            return conclude(ctx, &app, &old_status, status, clear_op, || {
                ctx.failure_delay(name)
            })
            .await;
        }
    };
    ctx.succeeded(name);
    crate::projects::keep_permitted(&project, &cluster, &mut cmp);
    let refused = crate::projects::refusals(&project, &cluster, &cmp);
    cmp.problems.extend(refused.iter().map(|(_, m)| m.clone()));

    // 5. What the comparison found, in the status.
    report(&mut status, &app, &cmp);

    // 6. The sync windows: an automated sync waits while they block it.
    let now = chrono::Utc::now();
    let automated = app
        .spec
        .sync_policy
        .as_ref()
        .is_some_and(|p| p.automated.is_some());
    let auto_verdict = crate::projects::window(&project, &app, false, None, now);
    let auto_blocked = match &auto_verdict {
        SyncVerdict::Blocked(why) if automated => Some(format!("automated sync {why}")),
        _ => None,
    };
    set_condition(
        &mut status,
        ConditionType::SyncWindowBlocked,
        auto_blocked.clone(),
    );

    // 7. The operation: one in progress goes on; else one asked for, or an automated sync.
    let last_synced = status.history.last().map(|h| h.revision.clone());
    let failed_here = old_status.operation_state.as_ref().is_some_and(|s| {
        s.phase.is_failure()
            && s.sync_result
                .as_ref()
                .is_some_and(|r| r.revision == cmp.revision)
    });
    let decided = crate::decide::decide(
        &app,
        &cmp,
        target.running,
        last_synced.as_deref(),
        failed_here,
        auto_blocked.is_none(),
    );

    // 8. Running it a step, when the sync windows let it.
    let mut requeue = if auto_blocked.is_some() {
        poll.min(crate::projects::WINDOW_RECHECK)
    } else {
        poll
    };
    let mut clear_op = app.operation.is_some();
    if let Some((mut state, new)) = decided {
        let held = crate::projects::windows_hold(&project, &app, &mut status, &mut state, new, now);
        let was_held = held.is_some();
        let step = match held {
            Some(step) => step,
            None => {
                let subject = Subject {
                    ctx,
                    app: &app,
                    cluster: &cluster,
                    cache: &cache,
                    cmp: &cmp,
                    refused: &refused,
                };
                drive(&subject, &mut status, &mut state, new).await
            }
        };
        match step {
            Step::Wait(d) => {
                requeue = d;
                clear_op = false;
            }
            // The status already shows what the sync did; what the cluster does next (a
            // workload becoming ready) arrives by the watch. A sync that applied nothing new
            // is looked at again soon all the same.
            Step::Finished if !was_held => requeue = Duration::from_secs(2),
            Step::Finished => {}
        }
        status.operation_state = Some(state);
    }

    // 9. One status write.
    conclude(ctx, &app, &old_status, status, clear_op, || requeue).await
}

/// What a comparison compares against.
struct Target {
    /// The operation in progress, if any.
    running: Option<OperationState>,
    /// Its (or the asked-for operation's) source instead of `spec.source`.
    source: Option<ferry_api::ApplicationSource>,
    /// Its revision (the one it resolved when it started) instead of `targetRevision`.
    revision: Option<String>,
    /// Resolve the revision again (asked for, or an operation is asked for).
    refresh: bool,
}

impl Target {
    fn of(app: &Application, old: &ApplicationStatus) -> Target {
        let running = old.operation_state.clone().filter(|s| s.phase.is_running());
        let op_sync = running
            .as_ref()
            .map(|s| &s.operation)
            .or(app.operation.as_ref())
            .and_then(|o| o.sync.clone())
            .unwrap_or_default();
        let revision = running
            .as_ref()
            .and_then(|s| s.sync_result.as_ref())
            .map(|r| r.revision.clone())
            .filter(|r| !r.is_empty())
            .or(op_sync.revision.clone());
        let refresh = app
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(REFRESH_ANNOTATION))
            || app.operation.is_some();
        Target {
            running,
            source: op_sync.source,
            revision,
            refresh,
        }
    }
}

/// A comparison that could not be made: nothing is applied or pruned, the status says why
/// and what is deployed stays. An operation asked for ends in error (answers `true`: clear
/// it); one in progress waits for the cluster.
fn comparison_failed(
    app: &Application,
    status: &mut ApplicationStatus,
    idle: bool,
    e: &CompareError,
) -> bool {
    status.sync.status = SyncCode::Unknown;
    set_condition(status, ConditionType::ComparisonError, Some(e.to_string()));
    if let CompareError::Unreachable { .. } = e {
        status.health.status = HealthCode::Unknown;
        status.health.message = e.to_string();
    }
    match (&app.operation, idle) {
        (Some(op), true) => {
            let mut state = crate::decide::new_operation(op.clone(), "");
            state.sync_result = None;
            end(
                status,
                &mut state,
                OperationPhase::Error,
                format!("comparison failed: {e}"),
            );
            status.operation_state = Some(state);
            true
        }
        _ => false,
    }
}

/// What a comparison found, in the status: sync, health, resources and the conditions of
/// objects the dry run refused or another application tracks.
fn report(status: &mut ApplicationStatus, app: &Application, cmp: &Comparison) {
    let problems = (!cmp.problems.is_empty()).then(|| cmp.problems.join("; "));
    set_condition(status, ConditionType::ComparisonError, problems);
    set_condition(
        status,
        ConditionType::SharedResourceWarning,
        shared_warning(cmp),
    );
    status.sync.status = cmp.sync;
    status.sync.revision = cmp.revision.to_string();
    status.sync.compared_to = Some(ComparedTo {
        source: app.spec.source.clone(),
        destination: app.spec.destination.clone(),
    });
    status.health = cmp.health.clone();
    status.resources = cmp.resources.clone();
}

/// What a sync of one application works on.
struct Subject<'a> {
    ctx: &'a ControllerCtx,
    app: &'a Application,
    cluster: &'a ferry_cluster::Cluster,
    cache: &'a ferry_cluster::LiveCache,
    cmp: &'a Comparison,
    /// Objects of the comparison the project refuses (their kind or namespace).
    refused: &'a [(ferry_cluster::ResourceKey, String)],
}

/// The end of a reconcile: one status write (a conflict means: again, soon, with the newer
/// version), then the requests it answered are cleared (the operation when it ended, the
/// refresh annotation); answers when to look again.
async fn conclude(
    ctx: &ControllerCtx,
    app: &Application,
    old: &ApplicationStatus,
    mut status: ApplicationStatus,
    clear_op: bool,
    requeue: impl FnOnce() -> Duration,
) -> Duration {
    status.reconciled_at = Some(now());
    if !ctx.write_status(app, old, status).await {
        return STALE_RETRY;
    }
    if clear_op {
        ctx.clear_operation(app).await;
    }
    ctx.clear_refresh(app).await;
    requeue()
}

/// The `SharedResourceWarning` of a comparison: the objects another Application tracks.
fn shared_warning(cmp: &crate::compare::Comparison) -> Option<String> {
    let shared: Vec<String> = cmp
        .shared()
        .map(|(key, owner)| crate::compare::describe_shared(key, owner))
        .collect();
    match shared.len() {
        0 => None,
        1..=5 => Some(shared.join("; ")),
        n => Some(format!("{}; and {} more", shared[..5].join("; "), n - 5)),
    }
}

/// What [`drive`] left the operation as.
pub(crate) enum Step {
    Wait(Duration),
    Finished,
}

/// Starts, continues or stops an operation, and records its end in the status.
async fn drive(
    subject: &Subject<'_>,
    status: &mut ApplicationStatus,
    state: &mut OperationState,
    new: bool,
) -> Step {
    let Subject {
        ctx,
        app,
        cluster,
        cache,
        cmp,
        refused,
    } = *subject;
    let name = app.metadata.name.clone().unwrap_or_default();
    let policy = app.spec.sync_policy.clone().unwrap_or_default();
    let sync_op = state.operation.sync.clone().unwrap_or_default();
    let mut fresh = std::collections::HashMap::new();
    let mut opts_list = policy.sync_options.clone();
    opts_list.extend(sync_op.sync_options.iter().cloned());
    let allow_empty = policy.automated.as_ref().is_some_and(|a| a.allow_empty);
    let options = match SyncOptions::parse(&opts_list) {
        Ok((o, _unknown)) => o,
        Err(e) => {
            let msg = format!("syncOptions: {e}");
            set_condition(status, ConditionType::InvalidSpecError, Some(msg.clone()));
            return end(status, state, OperationPhase::Failed, msg);
        }
    };
    if new && cmp.desired.is_empty() && !cmp.prunable.is_empty() && !allow_empty {
        let msg = format!(
            "refusing to sync: the source rendered no resources and allowEmpty is not set; {} resources were left in place",
            cmp.prunable.len()
        );
        set_condition(status, ConditionType::SyncError, Some(msg.clone()));
        return end(status, state, OperationPhase::Failed, msg);
    }
    // FailOnSharedResource: a sync that would have to write another application's object
    // fails, naming it, before anything is applied (Argo CD's message).
    if options.fail_on_shared_resource
        && let Some((key, owner)) = cmp
            .shared()
            .find(|(key, _)| crate::operation::selected(&sync_op.resources, key))
    {
        let msg = format!(
            "Shared resource found: {key} is already part of application {owner} (FailOnSharedResource=true)"
        );
        return end(status, state, OperationPhase::Failed, msg);
    }
    // Objects the project refuses fail the whole sync before anything is applied, as Argo
    // CD's permission check of every task does.
    let invalid: Vec<&str> = refused
        .iter()
        .filter(|(key, _)| crate::operation::selected(&sync_op.resources, key))
        .map(|(_, why)| why.as_str())
        .collect();
    if !invalid.is_empty() && state.phase != OperationPhase::Terminating {
        let msg = format!(
            "one or more synchronization tasks are not valid: {}",
            invalid.join("; ")
        );
        return end(status, state, OperationPhase::Failed, msg);
    }
    if sync_op.dry_run {
        return end(
            status,
            state,
            OperationPhase::Succeeded,
            "dry run: nothing applied".into(),
        );
    }
    let run = crate::operation::Run {
        app_name: &name,
        cluster,
        cache,
        cmp,
        options: &options,
        prune: sync_op.prune,
        dest_ns: app.spec.destination.namespace.as_deref(),
        selected: &sync_op.resources,
    };
    let tasks = match run.plan() {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            set_condition(status, ConditionType::SyncError, Some(msg.clone()));
            return end(status, state, OperationPhase::Failed, msg);
        }
    };
    let hold = ctx.retry_wait(&name);
    if state.phase == OperationPhase::Terminating {
        run.terminate(state).await;
    } else if !hold.is_zero() {
        // A retry waits out its backoff, whatever woke the application meanwhile.
        return Step::Wait(hold);
    } else {
        // An operation of more than one step is recorded before its first step, so that a
        // controller that stops during it finds it (and its hooks' sync id) again.
        let steps = ferry_sync_plan::groups(&tasks).len();
        let hooks = tasks
            .iter()
            .any(|t| t.action == ferry_sync_plan::Action::Hook);
        if new && (steps > 1 || hooks) {
            state.message = format!("starting: {steps} steps");
            return Step::Wait(Duration::ZERO);
        }
        let progress = run.advance(state, &tasks, &mut fresh).await;
        // What the cluster answered to an apply is what a dry run would predict: the next
        // comparison of these objects needs none.
        for (key, live) in &fresh {
            if let Some(d) = cmp.desired.iter().find(|d| &d.key == key) {
                let memo = crate::compare::Memo {
                    desired_hash: crate::compare::hash_of(&d.object),
                    live_hash: Some(crate::compare::live_hash(live)),
                    in_sync: true,
                };
                ctx.remember((name.clone(), key.clone()), memo);
            }
        }
        if let crate::operation::Progress::Wait(d) = progress {
            return Step::Wait(d);
        }
    }
    // Finished: retry a failure when the policy allows it.
    if state.phase == OperationPhase::Failed && state.message != "operation terminated" {
        let attempt = state.retry_count + 1;
        if let Some(delay) = crate::decide::retry_delay(policy.retry.as_ref(), attempt) {
            let msg = format!(
                "retrying (attempt {attempt}) in {}s after: {}",
                delay.as_secs(),
                state.message
            );
            tracing::info!(app = %name, "{msg}");
            set_condition(status, ConditionType::SyncError, Some(msg.clone()));
            ctx.retry_after(&name, delay);
            state.retry_count = attempt;
            state.phase = OperationPhase::Running;
            state.message = msg;
            if let Some(r) = state.sync_result.as_mut() {
                r.resources.clear();
            }
            return Step::Wait(delay.max(Duration::from_millis(100)));
        }
    }
    let phase = state.phase;
    let mut message = state.message.clone();
    let left = cmp
        .shared()
        .filter(|(key, _)| crate::operation::selected(&sync_op.resources, key))
        .count();
    if phase == OperationPhase::Succeeded && left > 0 {
        message = format!(
            "{message}; left {left} resources tracked by other applications as they are (see SharedResourceWarning)"
        );
    }
    if phase == OperationPhase::Succeeded {
        after_sync(status, cmp, &fresh, state);
        let id = status.history.last().map_or(0, |h| h.id + 1);
        status.history.push(RevisionHistory {
            id,
            revision: cmp.revision.to_string(),
            deployed_at: now(),
            source: sync_op
                .source
                .clone()
                .unwrap_or_else(|| app.spec.source.clone()),
            initiated_by: state.operation.initiated_by.clone(),
        });
        let limit = app.spec.revision_history_limit.unwrap_or(10).max(1) as usize;
        let extra = status.history.len().saturating_sub(limit);
        status.history.drain(..extra);
    }
    end(status, state, phase, message)
}

/// The status as the sync left it, without waiting for the next comparison: resources it
/// applied are Synced, with the health of the cluster's answer; those it pruned are gone.
fn after_sync(
    status: &mut ApplicationStatus,
    cmp: &crate::compare::Comparison,
    fresh: &std::collections::HashMap<ferry_cluster::ResourceKey, Value>,
    state: &OperationState,
) {
    let results = state
        .sync_result
        .as_ref()
        .map(|r| r.resources.as_slice())
        .unwrap_or_default();
    let outcome = |r: &ferry_api::ResourceStatus| {
        results
            .iter()
            .find(|x| x.hook_type.is_none() && x.key() == r.key())
            .and_then(|x| x.status)
    };
    status
        .resources
        .retain(|r| !(r.requires_pruning && outcome(r) == Some(ResultCode::Pruned)));
    for r in status.resources.iter_mut().filter(|r| !r.requires_pruning) {
        if outcome(r) != Some(ResultCode::Synced) {
            continue;
        }
        r.status = SyncCode::Synced;
        if let Some(h) = fresh.get(&r.key()).and_then(ferry_health::assess) {
            r.health = Some(ferry_api::HealthStatus {
                status: h.status,
                message: h.message,
            });
        }
    }
    if status
        .resources
        .iter()
        .all(|r| r.status == SyncCode::Synced && !r.requires_pruning)
    {
        status.sync.status = SyncCode::Synced;
    }
    let lives = cmp
        .desired
        .iter()
        .zip(&cmp.lives)
        .map(|(d, l)| fresh.get(&d.key).or(l.as_ref()));
    status.health.status = ferry_health::aggregate(lives);
}

pub(crate) fn end(
    status: &mut ApplicationStatus,
    state: &mut OperationState,
    phase: OperationPhase,
    message: String,
) -> Step {
    set_condition(
        status,
        ConditionType::SyncError,
        (phase != OperationPhase::Succeeded).then(|| message.clone()),
    );
    state.phase = phase;
    state.message = message;
    state.finished_at = Some(now());
    Step::Finished
}

/// When a status write found the application changed meanwhile: look again soon, with the
/// newer version.
const STALE_RETRY: Duration = Duration::from_millis(200);

/// The change from `old` to `new` as a JSON merge patch of the application: only what
/// differs, with `null` for what is no longer there (at any depth).
pub fn status_patch(old: &ApplicationStatus, new: &ApplicationStatus) -> Value {
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    let new = serde_json::to_value(new).unwrap_or(Value::Null);
    json!({"status": merge_diff(&old, &new)})
}

/// The RFC 7386 merge patch that turns `old` into `new`.
pub fn merge_diff(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = serde_json::Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if ov == nv => {}
                    Some(ov) if ov.is_object() && nv.is_object() => {
                        out.insert(k.clone(), merge_diff(ov, nv));
                    }
                    _ => {
                        out.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

/// Patch parameters of every write to an Application.
pub fn params() -> PatchParams {
    PatchParams::default()
}

/// Merge patch of the top-level `operation` field to null.
pub fn clear_operation_patch() -> Patch<Value> {
    Patch::Merge(json!({"operation": null}))
}

/// `app` as the status owner sees it.
pub fn changed(old: &ApplicationStatus, new: &ApplicationStatus) -> bool {
    let strip = |s: &ApplicationStatus| {
        let mut s = s.clone();
        s.reconciled_at = None;
        s
    };
    strip(old) != strip(new)
}

/// Whether a watched change to an application needs a reconcile (not a status-only write).
pub fn needs_reconcile(old: Option<&Application>, new: &Application) -> bool {
    let Some(old) = old else { return true };
    old.spec != new.spec
        || old.operation != new.operation
        || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || old.metadata.annotations != new.metadata.annotations
        || old.metadata.finalizers != new.metadata.finalizers
}

#[cfg(test)]
mod tests {
    #[test]
    fn merge_diff_clears_what_is_gone_at_any_depth() {
        let old = serde_json::json!({"a": 1, "op": {"phase": "Succeeded", "finishedAt": "t", "r": [1, 2]}});
        let new = serde_json::json!({"a": 1, "op": {"phase": "Running", "r": []}});
        assert_eq!(
            super::merge_diff(&old, &new),
            serde_json::json!({"op": {"phase": "Running", "finishedAt": null, "r": []}})
        );
    }
}
