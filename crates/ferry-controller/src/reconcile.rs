//! One application's reconcile, in stages: deletion → destination → compare (source, live
//! state, diff, health) → decide → sync → one status write.

use std::time::Duration;

use ferry_api::{
    Application, ApplicationCondition, ApplicationStatus, ComparedTo, ConditionType, HealthCode,
    InitiatedBy, Operation, OperationPhase, OperationState, ResultCode, RevisionHistory, SyncCode,
    SyncOptions,
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::ControllerCtx;
use crate::compare::{CompareError, compare};

pub use ferry_api::REFRESH_ANNOTATION;

pub(crate) fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

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

/// Reconciles one application; answers when to look at it again.
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
            if !ctx.write_status(&app, &old_status, status).await {
                return STALE_RETRY;
            }
            return poll;
        }
    };
    set_condition(&mut status, ConditionType::InvalidSpecError, None);
    set_condition(
        &mut status,
        ConditionType::ClusterSecretWarning,
        ctx.registry.problem_of(&cluster),
    );
    let cache = ctx.cache_for(&cluster);
    let refresh = app
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(REFRESH_ANNOTATION))
        || app.operation.is_some();
    // An operation in progress compares against its own revision and source until it ends,
    // even when Git moved on meanwhile.
    let running = old_status
        .operation_state
        .clone()
        .filter(|s| s.phase.is_running());
    let op_sync = running
        .as_ref()
        .map(|s| &s.operation)
        .or(app.operation.as_ref())
        .and_then(|o| o.sync.clone())
        .unwrap_or_default();
    let op_revision = running
        .as_ref()
        .and_then(|s| s.sync_result.as_ref())
        .map(|r| r.revision.clone())
        .filter(|r| !r.is_empty())
        .or(op_sync.revision.clone());
    let cmp = match compare(
        ctx,
        &app,
        op_sync.source.as_ref(),
        &cluster,
        &cache,
        refresh,
        op_revision.as_deref(),
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
            // Nothing is applied or pruned: the status says why, and what is deployed stays.
            status.sync.status = SyncCode::Unknown;
            set_condition(
                &mut status,
                ConditionType::ComparisonError,
                Some(e.to_string()),
            );
            if let CompareError::Unreachable { .. } = e {
                status.health.status = HealthCode::Unknown;
                status.health.message = e.to_string();
            }
            // An operation asked for ends in error; one in progress waits for the cluster.
            let mut clear_op = false;
            if running.is_none()
                && let Some(op) = &app.operation
            {
                let mut state = new_operation(op.clone(), "");
                state.sync_result = None;
                end(
                    &mut status,
                    &mut state,
                    OperationPhase::Error,
                    format!("comparison failed: {e}"),
                );
                status.operation_state = Some(state);
                clear_op = true;
            }
            return conclude(ctx, &app, &old_status, status, clear_op, || {
                ctx.failure_delay(name)
            })
            .await;
        }
    };
    ctx.succeeded(name);
    let problems = if cmp.problems.is_empty() {
        None
    } else {
        Some(cmp.problems.join("; "))
    };
    set_condition(&mut status, ConditionType::ComparisonError, problems);
    set_condition(
        &mut status,
        ConditionType::SharedResourceWarning,
        shared_warning(&cmp),
    );
    status.sync.status = cmp.sync;
    status.sync.revision = cmp.revision.clone();
    status.sync.compared_to = Some(ComparedTo {
        source: app.spec.source.clone(),
        destination: app.spec.destination.clone(),
    });
    status.health = cmp.health.clone();
    status.resources = cmp.resources.clone();

    // The operation: one in progress goes on; else one asked for, or an automated sync.
    let policy = app.spec.sync_policy.clone().unwrap_or_default();
    let automated = policy.automated.clone();
    let last_synced = status.history.last().map(|h| h.revision.clone());
    let failed_here = old_status.operation_state.as_ref().is_some_and(|s| {
        s.phase.is_failure()
            && s.sync_result
                .as_ref()
                .is_some_and(|r| r.revision == cmp.revision)
    });
    let (state, new) = match running {
        Some(state) => (Some(state), false),
        None => match (&app.operation, &automated) {
            (Some(op), _) => (Some(new_operation(op.clone(), &cmp.revision)), true),
            (None, Some(a))
                if actionable(&cmp, a.prune)
                    && !failed_here
                    && (a.self_heal || last_synced.as_deref() != Some(cmp.revision.as_str())) =>
            {
                // Self-heal (the revision is already deployed) syncs only what drifted, as
                // Argo CD does: a selective sync, so hooks (a migration) do not run again for
                // a hand edit, and fields others may own (ignored differences) stay theirs.
                let heal = last_synced.as_deref() == Some(cmp.revision.as_str());
                let drifted = if heal {
                    cmp.resources
                        .iter()
                        .filter(|r| r.status != SyncCode::Synced && !cmp.is_shared(r))
                        .map(|r| ferry_api::SyncOperationResource::of(&r.key()))
                        .collect()
                } else {
                    Vec::new()
                };
                let op = Operation {
                    sync: Some(ferry_api::SyncOperation {
                        revision: Some(cmp.revision.clone()),
                        prune: a.prune,
                        resources: drifted,
                        ..Default::default()
                    }),
                    initiated_by: Some(InitiatedBy {
                        username: None,
                        automated: true,
                    }),
                };
                (Some(new_operation(op, &cmp.revision)), true)
            }
            _ => (None, false),
        },
    };
    let mut requeue = poll;
    let mut clear_op = app.operation.is_some();
    if let Some(mut state) = state {
        match drive(
            ctx,
            &app,
            &cluster,
            &cache,
            &cmp,
            &mut status,
            &mut state,
            new,
        )
        .await
        {
            Step::Wait(d) => {
                status.operation_state = Some(state);
                requeue = d;
                clear_op = false;
            }
            Step::Finished => {
                status.operation_state = Some(state);
                // The status already shows what the sync did; what the cluster does next
                // (a workload becoming ready) arrives by the watch. A sync that applied
                // nothing new is looked at again soon all the same.
                requeue = Duration::from_secs(2);
            }
        }
    }
    conclude(ctx, &app, &old_status, status, clear_op, || requeue).await
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

/// Whether an automated sync would change anything: a resource differs, or one that left
/// Git may be pruned. Objects that only wait for a prune that is off, or that say
/// `Prune=false`, keep the application OutOfSync without syncing it again and again.
fn actionable(cmp: &crate::compare::Comparison, prune: bool) -> bool {
    // Objects another application tracks are left to it: they never start a sync.
    let differs = cmp
        .resources
        .iter()
        .any(|r| r.status != SyncCode::Synced && !r.requires_pruning && !cmp.is_shared(r));
    let prunable = prune
        && cmp.prunable.iter().any(|p| {
            !ferry_api::SyncOptions::default()
                .of_object(&p.object)
                .no_prune
        });
    differs || prunable
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
enum Step {
    Wait(Duration),
    Finished,
}

fn new_operation(operation: Operation, revision: &str) -> OperationState {
    let id = uuid::Uuid::new_v4().simple().to_string();
    OperationState {
        operation,
        phase: OperationPhase::Running,
        sync_id: id[..5].to_owned(),
        started_at: now(),
        sync_result: Some(ferry_api::SyncResult {
            revision: revision.to_owned(),
            resources: Vec::new(),
        }),
        ..Default::default()
    }
}

/// A Go-style duration of a retry backoff (`5s`, `2m`, `1h`, `1m30s`).
fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
    }
    digits.is_empty().then_some(Duration::from_secs(total))
}

/// The delay before retry `attempt` (1-based), when retrying is allowed at all.
fn retry_delay(retry: Option<&ferry_api::RetryStrategy>, attempt: i64) -> Option<Duration> {
    let retry = retry?;
    if retry.limit >= 0 && attempt > retry.limit {
        return None;
    }
    let backoff = retry.backoff.clone().unwrap_or_default();
    let base = backoff
        .duration
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(5));
    let factor = backoff.factor.unwrap_or(2).max(1) as u32;
    let max = backoff
        .max_duration
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(180));
    let exp = (attempt - 1).clamp(0, 30) as u32;
    Some(base.saturating_mul(factor.saturating_pow(exp)).min(max))
}

/// Starts, continues or stops an operation, and records its end in the status.
#[allow(clippy::too_many_arguments)]
async fn drive(
    ctx: &ControllerCtx,
    app: &Application,
    cluster: &ferry_cluster::Cluster,
    cache: &ferry_cluster::LiveCache,
    cmp: &crate::compare::Comparison,
    status: &mut ApplicationStatus,
    state: &mut OperationState,
    new: bool,
) -> Step {
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
        if let Some(delay) = retry_delay(policy.retry.as_ref(), attempt) {
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
            revision: cmp.revision.clone(),
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

fn end(
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
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_limit() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("5"), None);
        let retry = ferry_api::RetryStrategy {
            limit: 3,
            backoff: Some(ferry_api::Backoff {
                duration: Some("5s".into()),
                factor: Some(2),
                max_duration: Some("15s".into()),
            }),
        };
        let delays: Vec<_> = (1..=4).map(|a| retry_delay(Some(&retry), a)).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(15)),
                None
            ]
        );
        assert_eq!(retry_delay(None, 1), None);
        let forever = ferry_api::RetryStrategy {
            limit: -1,
            backoff: None,
        };
        assert_eq!(
            retry_delay(Some(&forever), 100),
            Some(Duration::from_secs(180))
        );
    }

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
