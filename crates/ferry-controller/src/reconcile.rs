//! One application's reconcile, in stages: deletion → destination → compare (source, live
//! state, diff, health) → decide → sync → one status write.

use std::time::Duration;

use ferry_api::{
    Application, ApplicationCondition, ApplicationStatus, ComparedTo, InitiatedBy, Operation,
    OperationState, RevisionHistory, SyncOptions,
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::ControllerCtx;
use crate::compare::{CompareError, compare};
use crate::sync::sync;

/// Annotation that asks for a fresh resolve of the target revision.
pub const REFRESH_ANNOTATION: &str = "ferry.dev/refresh";

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn set_condition(status: &mut ApplicationStatus, kind: &str, message: Option<String>) {
    match message {
        Some(message) => match status.conditions.iter_mut().find(|c| c.type_ == kind) {
            Some(c) if c.message == message => {}
            Some(c) => {
                c.message = message;
                c.last_transition_time = Some(now());
            }
            None => status.conditions.push(ApplicationCondition {
                type_: kind.into(),
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
            status.sync.status = "Unknown".into();
            set_condition(
                &mut status,
                "InvalidSpecError",
                Some(format!("destination: {e}")),
            );
            if !ctx.write_status(&app, &old_status, status).await {
                return STALE_RETRY;
            }
            return poll;
        }
    };
    set_condition(&mut status, "InvalidSpecError", None);
    let cache = ctx.cache_for(&cluster);
    let refresh = app
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(REFRESH_ANNOTATION))
        || app.operation.is_some();
    let op_revision = app
        .operation
        .as_ref()
        .and_then(|o| o.sync.as_ref())
        .and_then(|s| s.revision.clone());
    let cmp = match compare(ctx, &app, &cluster, &cache, refresh, op_revision.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            // Nothing is applied or pruned: the status says why, and what is deployed stays.
            status.sync.status = "Unknown".into();
            set_condition(&mut status, "ComparisonError", Some(e.to_string()));
            if let CompareError::Unreachable { .. } = e {
                status.health.status = "Unknown".into();
                status.health.message = e.to_string();
            }
            if let Some(op) = &app.operation {
                finish_operation(
                    &mut status,
                    op,
                    "Error",
                    format!("comparison failed: {e}"),
                    None,
                );
            }
            status.reconciled_at = Some(now());
            if !ctx.write_status(&app, &old_status, status).await {
                return STALE_RETRY;
            }
            ctx.finish(&app).await;
            return ctx.failure_delay(name);
        }
    };
    ctx.succeeded(name);
    let problems = if cmp.problems.is_empty() {
        None
    } else {
        Some(cmp.problems.join("; "))
    };
    set_condition(&mut status, "ComparisonError", problems);
    status.sync.status = cmp.sync.into();
    status.sync.revision = cmp.revision.clone();
    status.sync.compared_to = Some(ComparedTo {
        source: app.spec.source.clone(),
        destination: app.spec.destination.clone(),
    });
    status.health = cmp.health.clone();
    status.resources = cmp.resources.clone();

    // Decide whether to sync.
    let policy = app.spec.sync_policy.clone().unwrap_or_default();
    let automated = policy.automated.clone();
    let last_synced = status.history.last().map(|h| h.revision.clone());
    let (operation, prune, initiated) = match (&app.operation, &automated) {
        (Some(op), _) => (
            Some(op.clone()),
            op.sync.as_ref().is_some_and(|s| s.prune),
            op.initiated_by.clone(),
        ),
        (None, Some(a))
            if cmp.sync == "OutOfSync"
                && (a.self_heal || last_synced.as_deref() != Some(cmp.revision.as_str())) =>
        {
            (
                None,
                a.prune,
                Some(InitiatedBy {
                    username: None,
                    automated: true,
                }),
            )
        }
        _ => (None, false, None),
    };
    let wants_sync = operation.is_some() || initiated.is_some();
    let mut requeue = poll;
    if wants_sync {
        let mut opts_list = policy.sync_options.clone();
        if let Some(s) = operation.as_ref().and_then(|o| o.sync.as_ref()) {
            opts_list.extend(s.sync_options.iter().cloned());
        }
        let allow_empty = automated.as_ref().is_some_and(|a| a.allow_empty);
        match SyncOptions::parse(&opts_list) {
            Err(e) => {
                set_condition(
                    &mut status,
                    "InvalidSpecError",
                    Some(format!("syncOptions: {e}")),
                );
            }
            Ok(_) if cmp.desired.is_empty() && !cmp.prunable.is_empty() && !allow_empty => {
                let msg = format!(
                    "refusing to sync: the source rendered no resources and allowEmpty is not set; {} resources were left in place",
                    cmp.prunable.len()
                );
                set_condition(&mut status, "SyncError", Some(msg.clone()));
                if let Some(op) = &operation {
                    finish_operation(&mut status, op, "Failed", msg, None);
                }
            }
            Ok((options, _unknown)) => {
                let started = now();
                let dry_run = operation
                    .as_ref()
                    .and_then(|o| o.sync.as_ref())
                    .is_some_and(|s| s.dry_run);
                if !dry_run {
                    let outcome =
                        sync(&cluster, &cmp, &options, dest.namespace.as_deref(), prune).await;
                    // What the cluster answered to an apply is what a dry run would predict:
                    // the next comparison of these objects needs none.
                    for (key, live) in &outcome.applied {
                        if let Some(d) = cmp.desired.iter().find(|d| &d.key == key) {
                            let memo = crate::compare::Memo {
                                desired_hash: crate::compare::hash_of(&d.object),
                                live_hash: Some(crate::compare::live_hash(live)),
                                in_sync: true,
                            };
                            ctx.remember((name.to_owned(), key.clone()), memo);
                        }
                    }
                    let phase = if outcome.ok { "Succeeded" } else { "Failed" };
                    set_condition(
                        &mut status,
                        "SyncError",
                        (!outcome.ok).then(|| outcome.message.clone()),
                    );
                    if outcome.ok {
                        let id = status.history.last().map_or(0, |h| h.id + 1);
                        status.history.push(RevisionHistory {
                            id,
                            revision: cmp.revision.clone(),
                            deployed_at: now(),
                            source: app.spec.source.clone(),
                            initiated_by: initiated.clone(),
                        });
                        let limit = app.spec.revision_history_limit.unwrap_or(10).max(1) as usize;
                        let extra = status.history.len().saturating_sub(limit);
                        status.history.drain(..extra);
                    }
                    let op = operation.clone().unwrap_or(Operation {
                        sync: Some(ferry_api::SyncOperation {
                            revision: Some(cmp.revision.clone()),
                            prune,
                            ..Default::default()
                        }),
                        initiated_by: initiated.clone(),
                    });
                    status.operation_state = Some(OperationState {
                        operation: op,
                        phase: phase.into(),
                        message: outcome.message,
                        started_at: started,
                        finished_at: Some(now()),
                        sync_result: Some(outcome.result),
                    });
                    // Look again soon: the watch cache will show what the sync did.
                    requeue = Duration::from_millis(500);
                } else if let Some(op) = &operation {
                    finish_operation(
                        &mut status,
                        op,
                        "Succeeded",
                        "dry run: nothing applied".into(),
                        None,
                    );
                }
            }
        }
    }
    status.reconciled_at = Some(now());
    if !ctx.write_status(&app, &old_status, status).await {
        return STALE_RETRY;
    }
    ctx.finish(&app).await;
    requeue
}

/// When a status write found the application changed meanwhile: look again soon, with the
/// newer version.
const STALE_RETRY: Duration = Duration::from_millis(200);

fn finish_operation(
    status: &mut ApplicationStatus,
    op: &Operation,
    phase: &str,
    message: String,
    result: Option<ferry_api::SyncResult>,
) {
    let t = now();
    status.operation_state = Some(OperationState {
        operation: op.clone(),
        phase: phase.into(),
        message,
        started_at: t.clone(),
        finished_at: Some(t),
        sync_result: result,
    });
}

/// The status as a merge patch that also clears what is no longer there.
pub fn status_patch(status: &ApplicationStatus) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        for key in ["resources", "conditions", "history", "operationState"] {
            m.entry(key.to_owned()).or_insert(Value::Null);
        }
    }
    json!({"status": v})
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
