//! What a reconcile does after comparing, decided without IO: the operation in progress
//! goes on; else one asked for starts; else the automated policy starts one when it would
//! change something (a new revision, or with self-heal a drift, as a selective sync of what
//! drifted); and how long a failed operation waits before its retry.

use std::time::Duration;

use ferry_api::{
    Application, InitiatedBy, Operation, OperationPhase, OperationState, SyncCode,
    SyncOperationResource,
};
use ferry_core::timestamp::now;

use crate::compare::Comparison;

/// The operation to run now, and whether it starts with this reconcile; `None`: none.
pub(crate) fn decide(
    app: &Application,
    cmp: &Comparison,
    running: Option<OperationState>,
    last_synced: Option<&str>,
    failed_here: bool,
    automated_allowed: bool,
) -> Option<(OperationState, bool)> {
    if let Some(state) = running {
        return Some((state, false));
    }
    if let Some(op) = &app.operation {
        return Some((new_operation(op.clone(), cmp.revision.as_str()), true));
    }
    let automated = app.spec.sync_policy.as_ref()?.automated.as_ref()?;
    // A sync window blocks it (the reconcile says which in a condition).
    if !automated_allowed {
        return None;
    }
    let heal = last_synced == Some(cmp.revision.as_str());
    if !actionable(cmp, automated.prune) || failed_here || (heal && !automated.self_heal) {
        return None;
    }
    // Self-heal (the revision is already deployed) syncs only what drifted, as Argo CD does:
    // a selective sync, so hooks (a migration) do not run again for a hand edit, and fields
    // others may own (ignored differences) stay theirs.
    let drifted = if heal {
        cmp.resources
            .iter()
            .filter(|r| r.status != SyncCode::Synced && !cmp.is_shared(r))
            .map(|r| SyncOperationResource::of(&r.key()))
            .collect()
    } else {
        Vec::new()
    };
    let op = Operation {
        sync: Some(ferry_api::SyncOperation {
            revision: Some(cmp.revision.to_string()),
            prune: automated.prune,
            resources: drifted,
            ..Default::default()
        }),
        initiated_by: Some(InitiatedBy {
            username: None,
            automated: true,
        }),
    };
    Some((new_operation(op, cmp.revision.as_str()), true))
}

/// Whether an automated sync would change anything: a resource differs, or one that left
/// Git may be pruned. Objects that only wait for a prune that is off, or that say
/// `Prune=false`, keep the application OutOfSync without syncing it again and again.
fn actionable(cmp: &Comparison, prune: bool) -> bool {
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

pub(crate) fn new_operation(operation: Operation, revision: &str) -> OperationState {
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
pub(crate) fn retry_delay(
    retry: Option<&ferry_api::RetryStrategy>,
    attempt: i64,
) -> Option<Duration> {
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

    const C1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
    const C0: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

    fn app(automated: Option<ferry_api::AutomatedSync>) -> Application {
        let mut app = Application::default();
        app.spec.sync_policy = Some(ferry_api::SyncPolicy {
            automated,
            ..Default::default()
        });
        app
    }

    fn resource(name: &str, status: SyncCode) -> ferry_api::ResourceStatus {
        ferry_api::ResourceStatus {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "demo".into(),
            name: name.into(),
            status,
            ..Default::default()
        }
    }

    fn comparison(resources: Vec<ferry_api::ResourceStatus>) -> Comparison {
        Comparison {
            revision: ferry_core::CommitId::parse(C1).expect("commit"),
            desired: Vec::new(),
            hooks: Vec::new(),
            prunable: Vec::new(),
            resources,
            sync: SyncCode::OutOfSync,
            health: Default::default(),
            problems: Vec::new(),
            lives: Vec::new(),
            redactions: Default::default(),
        }
    }

    #[test]
    fn the_automated_policy_syncs_a_new_revision_and_heals_only_what_drifted() {
        let drift = comparison(vec![
            resource("drifted", SyncCode::OutOfSync),
            resource("fine", SyncCode::Synced),
        ]);
        let plain = ferry_api::AutomatedSync::default();
        let plain_again = || ferry_api::AutomatedSync::default();
        let healing = ferry_api::AutomatedSync {
            self_heal: true,
            ..Default::default()
        };
        // Nothing automated: nothing.
        assert!(decide(&app(None), &drift, None, None, false, true).is_none());
        // A new revision: a full sync.
        let (state, new) = decide(
            &app(Some(plain.clone())),
            &drift,
            None,
            Some(C0),
            false,
            true,
        )
        .expect("a sync of the new revision");
        assert!(new);
        let sync = state.operation.sync.expect("sync");
        assert_eq!(sync.revision.as_deref(), Some(C1));
        assert!(sync.resources.is_empty(), "a full sync");
        // The same revision drifted: only with self-heal, and only what drifted.
        assert!(decide(&app(Some(plain)), &drift, None, Some(C1), false, true).is_none());
        let (state, _) = decide(
            &app(Some(healing.clone())),
            &drift,
            None,
            Some(C1),
            false,
            true,
        )
        .expect("a heal");
        let names: Vec<String> = state
            .operation
            .sync
            .expect("sync")
            .resources
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["drifted"]);
        // A sync of this revision failed: not again without a retry policy.
        assert!(
            decide(
                &app(Some(healing.clone())),
                &drift,
                None,
                Some(C0),
                true,
                true
            )
            .is_none()
        );
        // A sync window blocks automated syncs: none starts.
        assert!(
            decide(
                &app(Some(plain_again())),
                &drift,
                None,
                Some(C0),
                false,
                false
            )
            .is_none()
        );
        // Nothing differs: nothing to do.
        let clean = comparison(vec![resource("fine", SyncCode::Synced)]);
        assert!(decide(&app(Some(healing)), &clean, None, Some(C0), false, true).is_none());
    }

    #[test]
    fn an_operation_in_progress_goes_on_before_anything_else() {
        let running = new_operation(Operation::default(), C0);
        let mut asked = app(None);
        asked.operation = Some(Operation::default());
        let (state, new) = decide(
            &asked,
            &comparison(Vec::new()),
            Some(running.clone()),
            None,
            false,
            false,
        )
        .expect("goes on");
        assert!(!new);
        assert_eq!(state.sync_id, running.sync_id);
        let (state, new) = decide(&asked, &comparison(Vec::new()), None, None, false, true)
            .expect("the asked-for operation starts");
        assert!(new && state.phase == OperationPhase::Running);
    }
}
