//! A sync operation, run in steps: each reconcile of an application with a `Running`
//! operation advances it as far as it can without waiting (hooks finishing, a wave becoming
//! healthy, pruned objects going away), and its progress (every resource's result, with its
//! phase, wave and, for hooks, the hook's phase) lives in `status.operationState`. A
//! controller that stops mid-sync finds the operation there when it comes back and goes on
//! with it: groups with results are done, the first group without is (re)applied — applies
//! are idempotent, and a hook created by this operation carries its `sync-id`, so it is
//! recognised instead of being run twice.

use std::collections::HashMap;
use std::time::Duration;

use ferry_api::{
    HookPhase, OperationPhase, OperationState, Propagation, ResourceResult, ResultCode,
    SyncOperationResource, SyncOptions, SyncResult,
};
use ferry_cluster::{Cluster, LiveCache, ResourceKey};
use ferry_health::HealthStatus as H;
use serde_json::Value;

use crate::compare::Comparison;
use ferry_sync_plan::{self as waves, Action, GroupId, Item, Phase, PlanError, Task};

mod tasks;

/// What a sync of one application works with.
pub struct Run<'a> {
    pub app_name: &'a str,
    pub cluster: &'a Cluster,
    pub cache: &'a LiveCache,
    pub cmp: &'a Comparison,
    pub options: &'a SyncOptions,
    /// Pruning allowed (the operation's or the automated policy's `prune`).
    pub prune: bool,
    pub dest_ns: Option<&'a str>,
    /// A selective sync: only these resources, no hooks.
    pub selected: &'a [SyncOperationResource],
}

/// Where an operation stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Still running: look again after this long (or when a watched object changes).
    Wait(Duration),
    /// Finished: `phase` is `Succeeded` or `Failed`.
    Done,
}

/// How often a waiting operation looks again when no watch event wakes it.
const WAIT: Duration = Duration::from_secs(1);

/// Whether a sync of `sel` (empty: everything) touches `key`.
pub(crate) fn selected(sel: &[SyncOperationResource], key: &ResourceKey) -> bool {
    sel.is_empty()
        || sel
            .iter()
            .any(|r| key.matches(&r.group, &r.kind, &r.namespace, &r.name))
}

fn result_for(task: &Task, key: &ResourceKey, version: &str) -> ResourceResult {
    ResourceResult {
        group: key.group.clone(),
        version: version.into(),
        kind: key.kind.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        sync_phase: Some(task.phase()),
        sync_wave: task.group.wave(),
        hook_type: (task.action == Action::Hook).then(|| task.phase()),
        ..Default::default()
    }
}

/// The items of `(index, item)` pairs.
fn items_of<'a>(v: &[(usize, Item<'a>)]) -> Vec<Item<'a>> {
    v.iter().map(|(_, i)| *i).collect()
}

/// A failure outside the `SyncFail` phase: what makes a sync fail.
fn failed_outside_sync_fail(r: &ResourceResult) -> bool {
    r.sync_phase != Some(Phase::SyncFail) && r.is_failure()
}

fn short(list: &[String]) -> String {
    match list.len() {
        0..=3 => list.join(", "),
        n => format!("{} and {} more", list[..3].join(", "), n - 3),
    }
}

impl Run<'_> {
    /// The plan of this sync.
    pub fn plan(&self) -> Result<Vec<Task>, PlanError> {
        let item = |key, object| Item { key, object };
        // (index in the comparison's list, item), for what this sync may touch.
        let applies: Vec<(usize, Item<'_>)> = self
            .cmp
            .desired
            .iter()
            .enumerate()
            .filter(|(_, d)| selected(self.selected, &d.key))
            // An object another application tracks is left to it.
            .filter(|(_, d)| d.owner.is_none())
            .filter(|(_, d)| !self.options.apply_out_of_sync_only || !d.in_sync)
            .map(|(i, d)| (i, item(&d.key, &d.object)))
            .collect();
        let prunes: Vec<(usize, Item<'_>)> = self
            .cmp
            .prunable
            .iter()
            .enumerate()
            .filter(|(_, p)| selected(self.selected, &p.key))
            .map(|(i, p)| (i, item(&p.key, &p.object)))
            .collect();
        let hooks: Vec<Item<'_>> = self
            .cmp
            .hooks
            .iter()
            .map(|d| item(&d.key, &d.object))
            .collect();

        let mut tasks = waves::plan(
            &items_of(&applies),
            &hooks,
            &items_of(&prunes),
            self.selected.is_empty(),
        )?;
        // Indices into the comparison's own lists.
        for t in &mut tasks {
            match t.action {
                Action::Apply => t.index = applies[t.index].0,
                Action::Prune => t.index = prunes[t.index].0,
                Action::Hook => {}
            }
        }
        Ok(tasks)
    }

    /// The live object of `key`: the answer to this reconcile's own write when there is
    /// one (the watch cache may not have it yet), else the watch cache's.
    fn live(&self, key: &ResourceKey, fresh: &HashMap<ResourceKey, Value>) -> Option<Value> {
        fresh
            .get(key)
            .cloned()
            .or_else(|| self.cache.get(key).map(|l| l.object))
    }

    /// Brings the hooks that are running up to date; answers the ones still running.
    async fn check_hooks(
        &self,
        results: &mut [ResourceResult],
        tasks: &[Task],
        sync_id: &str,
        fresh: &HashMap<ResourceKey, Value>,
    ) -> Vec<String> {
        let mut running = Vec::new();
        for r in results
            .iter_mut()
            .filter(|r| r.hook_phase == Some(HookPhase::Running))
        {
            let key = r.key();
            let live = match self.live(&key, fresh) {
                Some(live) => live,
                // Not seen by the watch yet, or deleted by someone: ask the cluster.
                None => match self.fetch(r).await {
                    Ok(Some(live)) => live,
                    Ok(None) => {
                        r.hook_phase = Some(HookPhase::Failed);
                        r.status = Some(ResultCode::SyncFailed);
                        r.message = "the hook's object was deleted before it finished".into();
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(hook = %key, error = %e, "reading a running hook");
                        running.push(format!("hook {} {}", r.kind, r.name));
                        continue;
                    }
                },
            };
            let (phase, message) = match ferry_health::assess(&live) {
                None => (HookPhase::Succeeded, "created".to_owned()),
                Some(h) => match h.status {
                    H::Healthy => (HookPhase::Succeeded, h.message),
                    H::Degraded => (HookPhase::Failed, h.message),
                    _ => (HookPhase::Running, h.message),
                },
            };
            if phase == HookPhase::Running {
                running.push(format!("hook {} {}", r.kind, r.name));
                continue;
            }
            r.hook_phase = Some(phase);
            r.message = if message.is_empty() {
                phase.as_str().to_lowercase()
            } else {
                message
            };
            if phase == HookPhase::Failed {
                r.status = Some(ResultCode::SyncFailed);
            }
            // Delete policies.
            let task = tasks
                .iter()
                .find(|t| t.action == Action::Hook && r.is_of(t.phase(), &self.key_of(t, sync_id)));
            if let Some(task) = task {
                let d = &self.cmp.hooks[task.index];
                let policy = waves::delete_policy(&d.object);
                let delete = (phase == HookPhase::Succeeded && policy.hook_succeeded)
                    || (phase == HookPhase::Failed && policy.hook_failed);
                let api = self.cluster.api(&d.ar, d.namespaced, &key.namespace);
                if delete
                    && let Err(e) = self.delete(&api, &key.name, Propagation::Background).await
                {
                    tracing::warn!(app = %self.app_name, hook = %key, error = %e, "deleting a finished hook failed");
                }
            }
        }
        running
    }

    /// Whether the resources of a finished group are ready for the next one: healthy (or
    /// without a health), pruned objects gone. Degraded resources become failures.
    fn check_group(
        &self,
        group: GroupId,
        tasks: &[&Task],
        results: &mut [ResourceResult],
        fresh: &HashMap<ResourceKey, Value>,
    ) -> Vec<String> {
        let mut waiting = Vec::new();
        for r in results.iter_mut().filter(|r| {
            r.hook_type.is_none()
                && tasks
                    .iter()
                    .any(|t| t.action != Action::Hook && r.is_of(t.phase(), &t.key))
        }) {
            let key = r.key();
            match r.status {
                Some(ResultCode::Pruned) if group.stage == 2 && self.cache.get(&key).is_some() => {
                    waiting.push(format!("deletion of {} {}", r.kind, r.name));
                }
                Some(ResultCode::Synced) if group.stage != 2 => {
                    let health = match self.live(&key, fresh) {
                        None => Some(ferry_health::Health::new(H::Missing, "")),
                        Some(l) => ferry_health::assess(&l),
                    };
                    match health {
                        None => {}
                        Some(h) => match h.status {
                            H::Healthy | H::Suspended => {}
                            H::Degraded => {
                                r.status = Some(ResultCode::SyncFailed);
                                r.message = format!("Degraded after sync: {}", h.message);
                            }
                            other => waiting.push(format!(
                                "healthy state of {} {} ({})",
                                r.kind,
                                r.name,
                                other.as_str()
                            )),
                        },
                    }
                }
                _ => {}
            }
        }
        waiting
    }

    /// Advances the operation as far as it goes without waiting.
    pub async fn advance(
        &self,
        state: &mut OperationState,
        tasks: &[Task],
        fresh: &mut HashMap<ResourceKey, Value>,
    ) -> Progress {
        let sync_id = state.sync_id.clone();
        let revision = self.cmp.revision.to_string();
        let result = state.sync_result.get_or_insert_with(|| SyncResult {
            revision,
            resources: Vec::new(),
        });
        let groups = waves::groups(tasks);
        let mut last: Option<GroupId> = None;
        // Namespaces asked for by CreateNamespace come before everything.
        if self.options.create_namespace
            && let Some(ns) = self.dest_ns.filter(|n| !n.is_empty())
            && !result.resources.iter().any(|r| {
                r.kind == "Namespace" && r.name == ns && r.sync_phase == Some(Phase::PreSync)
            })
        {
            let mut r = ResourceResult {
                version: "v1".into(),
                kind: "Namespace".into(),
                name: ns.into(),
                sync_phase: Some(Phase::PreSync),
                ..Default::default()
            };
            match ferry_apply::writes::create_namespace(self.cluster, ns).await {
                Ok(()) => {
                    r.status = Some(ResultCode::Synced);
                    r.message = "namespace created".into();
                }
                Err(e) => {
                    r.status = Some(ResultCode::SyncFailed);
                    r.message = self.cluster.cause(&e);
                }
            }
            result.resources.push(r);
        }
        loop {
            let running = self
                .check_hooks(&mut result.resources, tasks, &sync_id, fresh)
                .await;
            if !running.is_empty() {
                state.message = format!("waiting for completion of {}", short(&running));
                return Progress::Wait(WAIT);
            }
            let done = |t: &Task, rs: &[ResourceResult]| {
                let key = self.key_of(t, &sync_id);
                rs.iter().any(|r| r.is_of(t.phase(), &key))
            };
            let failed = result.resources.iter().any(failed_outside_sync_fail);
            let pending = groups
                .iter()
                .filter(|(g, _)| (g.phase == Phase::SyncFail) == failed)
                .find(|(_, ts)| ts.iter().any(|t| !done(t, &result.resources)));
            let Some((&group, group_tasks)) = pending else {
                finish(state, failed);
                return Progress::Done;
            };
            // Each group waits for the one before it.
            if let Some(prev) = last.or_else(|| previous_group(&groups, group)) {
                let prev_tasks = groups.get(&prev).map(Vec::as_slice).unwrap_or_default();
                let waiting = self.check_group(prev, prev_tasks, &mut result.resources, fresh);
                let now_failed = result.resources.iter().any(failed_outside_sync_fail);
                if now_failed != failed {
                    continue;
                }
                if !waiting.is_empty() && group.phase != Phase::SyncFail {
                    state.message = format!("{}: waiting for {}", prev.describe(), short(&waiting));
                    return Progress::Wait(WAIT);
                }
            }
            state.message = format!(
                "{}: applying {} resources",
                group.describe(),
                group_tasks.len()
            );
            // The tasks of a group run at once (the cluster's limiter bounds them), as
            // Argo CD runs a wave's tasks.
            let todo: Vec<&Task> = group_tasks
                .iter()
                .copied()
                .filter(|t| !done(t, &result.resources))
                .collect();
            let outcomes =
                futures::future::join_all(todo.iter().map(|t| self.run_task(t, &sync_id))).await;
            for (r, answer) in outcomes {
                result.resources.push(r);
                if let Some((key, live)) = answer {
                    if let Some(rv) = live
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                    {
                        self.cache.expect(&key, rv);
                    }
                    fresh.insert(key, live);
                }
            }
            last = Some(group);
        }
    }

    /// Stops a running operation: running hooks are deleted, the operation fails.
    pub async fn terminate(&self, state: &mut OperationState) {
        if let Some(result) = state.sync_result.as_mut() {
            for r in result
                .resources
                .iter_mut()
                .filter(|r| r.hook_phase == Some(HookPhase::Running))
            {
                if let Ok(api) = self.api_of_result(r).await
                    && let Err(e) = self.delete(&api, &r.name, Propagation::Background).await
                {
                    tracing::warn!(hook = %r.key(), error = %e, "deleting a running hook failed");
                }
                r.hook_phase = Some(HookPhase::Terminating);
                r.message = "terminated".into();
            }
        }
        state.phase = OperationPhase::Failed;
        state.message = "operation terminated".into();
    }
}

/// The group before `group` in the order that has results (or would have them).
fn previous_group(
    groups: &std::collections::BTreeMap<GroupId, Vec<&Task>>,
    group: GroupId,
) -> Option<GroupId> {
    groups
        .keys()
        .rfind(|g| **g < group && (g.phase == Phase::SyncFail) == (group.phase == Phase::SyncFail))
        .copied()
}

fn finish(state: &mut OperationState, failed: bool) {
    let resources = state
        .sync_result
        .as_ref()
        .map(|r| r.resources.as_slice())
        .unwrap_or_default();
    if failed {
        let first = resources
            .iter()
            .find(|r| failed_outside_sync_fail(r))
            .map(|r| {
                let ns = if r.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", r.namespace)
                };
                format!("{} {ns}{}: {}", r.kind, r.name, r.message)
            })
            .unwrap_or_default();
        let n = resources
            .iter()
            .filter(|r| failed_outside_sync_fail(r))
            .count();
        state.phase = OperationPhase::Failed;
        state.message = format!("{n} resources failed to sync; first: {first}");
    } else {
        let applied = resources
            .iter()
            .filter(|r| r.status == Some(ResultCode::Synced) && r.hook_type.is_none())
            .count();
        let pruned = resources
            .iter()
            .filter(|r| r.status == Some(ResultCode::Pruned))
            .count();
        let hooks = resources.iter().filter(|r| r.hook_type.is_some()).count();
        state.phase = OperationPhase::Succeeded;
        state.message = if hooks > 0 {
            format!("successfully synced {applied} resources, pruned {pruned}, ran {hooks} hooks")
        } else {
            format!("successfully synced {applied} resources, pruned {pruned}")
        };
    }
}
