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
    OperationState, Propagation, ResourceResult, SyncOperationResource, SyncOptions, SyncResult,
};
use ferry_cluster::{Cluster, LiveCache, ObjectKey};
use ferry_health::HealthStatus as H;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::compare::{Comparison, Desired, place};
use crate::waves::{self, Action, GroupId, Item, Phase, PlanError, Task};

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

fn selected(sel: &[SyncOperationResource], key: &ObjectKey) -> bool {
    sel.is_empty()
        || sel.iter().any(|r| {
            r.group == key.group
                && r.kind == key.kind
                && r.name == key.name
                && (r.namespace.is_empty() || r.namespace == key.namespace)
        })
}

fn result_for(task: &Task, key: &ObjectKey, version: &str) -> ResourceResult {
    ResourceResult {
        group: key.group.clone(),
        version: version.into(),
        kind: key.kind.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        sync_phase: task.phase().as_str().into(),
        sync_wave: task.group.wave(),
        hook_type: if task.action == Action::Hook {
            task.phase().as_str().into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

fn same(r: &ResourceResult, phase: Phase, key: &ObjectKey) -> bool {
    r.sync_phase == phase.as_str()
        && r.group == key.group
        && r.kind == key.kind
        && r.namespace == key.namespace
        && r.name == key.name
}

fn is_failure(r: &ResourceResult) -> bool {
    r.status == "SyncFailed" || r.hook_phase == "Failed" || r.hook_phase == "Error"
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
        let applies: Vec<&Desired> = self
            .cmp
            .desired
            .iter()
            .filter(|d| selected(self.selected, &d.key))
            .filter(|d| !self.options.apply_out_of_sync_only || !d.in_sync)
            .collect();
        let prunes: Vec<_> = self
            .cmp
            .prunable
            .iter()
            .filter(|p| selected(self.selected, &p.key))
            .collect();
        let apply_items: Vec<(usize, Item<'_>)> = self
            .cmp
            .desired
            .iter()
            .enumerate()
            .filter(|(_, d)| applies.iter().any(|a| std::ptr::eq(*a, *d)))
            .map(|(i, d)| {
                (
                    i,
                    Item {
                        key: &d.key,
                        object: &d.object,
                    },
                )
            })
            .collect();
        let hook_items: Vec<Item<'_>> = self
            .cmp
            .hooks
            .iter()
            .map(|d| Item {
                key: &d.key,
                object: &d.object,
            })
            .collect();
        let prune_items: Vec<Item<'_>> = prunes
            .iter()
            .map(|p| Item {
                key: &p.key,
                object: &p.object,
            })
            .collect();
        let only: Vec<Item<'_>> = apply_items.iter().map(|(_, i)| *i).collect();
        let mut tasks = waves::plan(&only, &hook_items, &prune_items, self.selected.is_empty())?;
        // Indices into the comparison's own lists.
        for t in &mut tasks {
            match t.action {
                Action::Apply => t.index = apply_items[t.index].0,
                Action::Prune => {
                    let p = prunes[t.index];
                    t.index = self
                        .cmp
                        .prunable
                        .iter()
                        .position(|x| std::ptr::eq(x, p))
                        .unwrap_or_default();
                }
                Action::Hook => {}
            }
        }
        Ok(tasks)
    }

    /// The object a hook task creates: its generated name (for `generateName` hooks, from
    /// the sync id, phase and wave, as Argo CD names them) and the annotation naming this
    /// operation and phase.
    fn hook_object(&self, task: &Task, sync_id: &str) -> (ObjectKey, Value) {
        let d = &self.cmp.hooks[task.index];
        let mut obj = d.object.clone();
        let named = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !named {
            let prefix = obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let name = format!(
                "{prefix}{sync_id}-{}-{}",
                task.phase().as_str().to_lowercase(),
                task.group.wave()
            );
            obj["metadata"]["name"] = json!(name);
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("generateName");
            }
        }
        obj["metadata"]["annotations"][ferry_api::SYNC_ID_ANNOTATION] =
            json!(format!("{sync_id}-{}", task.phase().as_str()));
        let ns = d.key.namespace.clone();
        let obj = place(self.app_name, obj, &d.ar, d.namespaced, &ns);
        (ObjectKey::of(&obj), obj)
    }

    fn key_of(&self, task: &Task, sync_id: &str) -> ObjectKey {
        match task.action {
            Action::Hook => self.hook_object(task, sync_id).0,
            _ => task.key.clone(),
        }
    }

    fn api(&self, d: &Desired, namespace: &str) -> Api<DynamicObject> {
        if d.namespaced {
            Api::namespaced_with(self.cluster.client.clone(), namespace, &d.ar)
        } else {
            Api::all_with(self.cluster.client.clone(), &d.ar)
        }
    }

    async fn apply_object(
        &self,
        d: &Desired,
        obj: &Value,
        name: &str,
        namespace: &str,
    ) -> Result<Value, kube::Error> {
        let opts = self
            .options
            .for_resource(ferry_api::annotation(obj, "sync-options"))
            .unwrap_or_else(|_| self.options.clone());
        let api = self.api(d, namespace);
        let _permit = self.cluster.limiter.acquire().await;
        let out = if opts.replace {
            let mut body = obj.clone();
            match api.get_opt(name).await? {
                Some(live) => {
                    body["metadata"]["resourceVersion"] = json!(live.metadata.resource_version);
                    let body: DynamicObject =
                        serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
                    api.replace(name, &PostParams::default(), &body).await?
                }
                None => {
                    let body: DynamicObject =
                        serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
                    api.create(&PostParams::default(), &body).await?
                }
            }
        } else {
            let mut pp = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
            if opts.skip_validation {
                pp.field_validation = Some(kube::api::ValidationDirective::Ignore);
            }
            api.patch(name, &pp, &Patch::Apply(obj)).await?
        };
        serde_json::to_value(out).map_err(kube::Error::SerdeError)
    }

    async fn delete(
        &self,
        ar: &kube::discovery::ApiResource,
        namespaced: bool,
        key: &ObjectKey,
        propagation: Propagation,
    ) -> Result<(), kube::Error> {
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(self.cluster.client.clone(), &key.namespace, ar)
        } else {
            Api::all_with(self.cluster.client.clone(), ar)
        };
        let dp = match propagation {
            Propagation::Foreground => DeleteParams::foreground(),
            Propagation::Background => DeleteParams::background(),
            Propagation::Orphan => DeleteParams::orphan(),
        };
        let _permit = self.cluster.limiter.acquire().await;
        match api.delete(&key.name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes an earlier run's hook object and waits (up to a minute) until it is gone.
    async fn delete_before_creation(
        &self,
        d: &Desired,
        key: &ObjectKey,
        sync_mark: &str,
    ) -> Result<(), String> {
        let api = self.api(d, &key.namespace);
        for attempt in 0..600 {
            let live = {
                let _permit = self.cluster.limiter.acquire().await;
                api.get_opt(&key.name).await.map_err(|e| e.to_string())?
            };
            let Some(live) = live else { return Ok(()) };
            let mark = live
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ferry_api::SYNC_ID_ANNOTATION));
            if mark.map(String::as_str) == Some(sync_mark) {
                // This operation's own hook (a resumed operation): keep it.
                return Ok(());
            }
            if attempt == 0 || live.metadata.deletion_timestamp.is_none() {
                self.delete(&d.ar, d.namespaced, key, Propagation::Background)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "{key} from an earlier sync is still being deleted after 60 s"
        ))
    }

    /// Runs one task: its result, and the object as the cluster answered a write.
    async fn run_task(
        &self,
        task: &Task,
        sync_id: &str,
    ) -> (ResourceResult, Option<(ObjectKey, Value)>) {
        let mut answer = None;
        let r = self.run_task_into(task, sync_id, &mut answer).await;
        (r, answer)
    }

    async fn run_task_into(
        &self,
        task: &Task,
        sync_id: &str,
        fresh: &mut Option<(ObjectKey, Value)>,
    ) -> ResourceResult {
        match task.action {
            Action::Apply => {
                let d = &self.cmp.desired[task.index];
                let mut r = result_for(task, &d.key, &d.ar.version);
                match self
                    .apply_object(d, &d.object, &d.key.name, &d.key.namespace)
                    .await
                {
                    Ok(live) => {
                        *fresh = Some((d.key.clone(), live));
                        r.status = "Synced".into();
                        r.message = if d.in_sync { "unchanged" } else { "applied" }.into();
                        if d.pending_kind {
                            self.cache.ensure_watch(&d.ar, Duration::from_secs(5)).await;
                        }
                    }
                    Err(e) => {
                        r.status = "SyncFailed".into();
                        r.message = e.to_string();
                    }
                }
                r
            }
            Action::Hook => {
                let d = &self.cmp.hooks[task.index];
                let (key, obj) = self.hook_object(task, sync_id);
                let mut r = result_for(task, &key, &d.ar.version);
                let mark = format!("{sync_id}-{}", task.phase().as_str());
                let policy = waves::hook_of(&obj)
                    .ok()
                    .flatten()
                    .map(|h| h.delete)
                    .unwrap_or_default();
                if policy.before_hook_creation
                    && let Err(e) = self.delete_before_creation(d, &key, &mark).await
                {
                    r.status = "SyncFailed".into();
                    r.hook_phase = "Failed".into();
                    r.message = e;
                    return r;
                }
                match self.apply_object(d, &obj, &key.name, &key.namespace).await {
                    Ok(live) => {
                        *fresh = Some((key.clone(), live));
                        self.cache.ensure_watch(&d.ar, Duration::from_secs(5)).await;
                        r.status = "Synced".into();
                        r.hook_phase = "Running".into();
                        r.message = "created".into();
                    }
                    Err(e) => {
                        r.status = "SyncFailed".into();
                        r.hook_phase = "Failed".into();
                        r.message = e.to_string();
                    }
                }
                r
            }
            Action::Prune => {
                let p = &self.cmp.prunable[task.index];
                let version = p.object["apiVersion"]
                    .as_str()
                    .and_then(|v| v.rsplit('/').next())
                    .unwrap_or_default();
                let mut r = result_for(task, &p.key, version);
                let opts = self
                    .options
                    .for_resource(ferry_api::annotation(&p.object, "sync-options"))
                    .unwrap_or_else(|_| self.options.clone());
                if !self.prune {
                    r.status = "PruneSkipped".into();
                    r.message = "pruning is not enabled".into();
                    return r;
                }
                if opts.no_prune {
                    r.status = "PruneSkipped".into();
                    r.message = "the resource says Prune=false".into();
                    return r;
                }
                let api_version = p.object["apiVersion"].as_str().unwrap_or_default();
                let (group, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                let resolved = self.cluster.resolve(group, v, &p.key.kind).await;
                let outcome = match resolved {
                    Ok((ar, caps)) => self
                        .delete(
                            &ar,
                            caps.scope == kube::discovery::Scope::Namespaced,
                            &p.key,
                            opts.prune_propagation,
                        )
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        r.status = "Pruned".into();
                        r.message = "pruned".into();
                    }
                    Err(e) => {
                        r.status = "SyncFailed".into();
                        r.message = e;
                    }
                }
                r
            }
        }
    }

    /// The live object of `key`: the answer to this reconcile's own write when there is
    /// one (the watch cache may not have it yet), else the watch cache's.
    fn live(&self, key: &ObjectKey, fresh: &HashMap<ObjectKey, Value>) -> Option<Value> {
        fresh
            .get(key)
            .cloned()
            .or_else(|| self.cache.get(key).map(|l| l.object))
    }

    /// A live object read from the cluster itself (`None`: it does not exist).
    async fn fetch(&self, r: &ResourceResult, key: &ObjectKey) -> Result<Option<Value>, String> {
        let (ar, caps) = self
            .cluster
            .resolve(&r.group, &r.version, &r.kind)
            .await
            .map_err(|e| e.to_string())?;
        let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
            Api::namespaced_with(self.cluster.client.clone(), &key.namespace, &ar)
        } else {
            Api::all_with(self.cluster.client.clone(), &ar)
        };
        let _permit = self.cluster.limiter.acquire().await;
        let found = api.get_opt(&key.name).await.map_err(|e| e.to_string())?;
        found
            .map(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
            .transpose()
    }

    /// Brings the hooks that are running up to date; answers the ones still running.
    async fn check_hooks(
        &self,
        results: &mut [ResourceResult],
        tasks: &[Task],
        sync_id: &str,
        fresh: &HashMap<ObjectKey, Value>,
    ) -> Vec<String> {
        let mut running = Vec::new();
        for r in results.iter_mut().filter(|r| r.hook_phase == "Running") {
            let key = ObjectKey {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            };
            let live = match self.live(&key, fresh) {
                Some(live) => live,
                // Not seen by the watch yet, or deleted by someone: ask the cluster.
                None => match self.fetch(r, &key).await {
                    Ok(Some(live)) => live,
                    Ok(None) => {
                        r.hook_phase = "Failed".into();
                        r.status = "SyncFailed".into();
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
                None => ("Succeeded", "created".to_owned()),
                Some(h) => match h.status {
                    H::Healthy => ("Succeeded", h.message),
                    H::Degraded => ("Failed", h.message),
                    _ => ("Running", h.message),
                },
            };
            if phase == "Running" {
                running.push(format!("hook {} {}", r.kind, r.name));
                continue;
            }
            r.hook_phase = phase.into();
            r.message = if message.is_empty() {
                phase.to_lowercase()
            } else {
                message
            };
            if phase == "Failed" {
                r.status = "SyncFailed".into();
            }
            // Delete policies.
            let task = tasks
                .iter()
                .find(|t| t.action == Action::Hook && same(r, t.phase(), &self.key_of(t, sync_id)));
            if let Some(task) = task {
                let d = &self.cmp.hooks[task.index];
                let policy = waves::hook_of(&d.object)
                    .ok()
                    .flatten()
                    .map(|h| h.delete)
                    .unwrap_or_default();
                let delete = (phase == "Succeeded" && policy.hook_succeeded)
                    || (phase == "Failed" && policy.hook_failed);
                if delete
                    && let Err(e) = self
                        .delete(&d.ar, d.namespaced, &key, Propagation::Background)
                        .await
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
        fresh: &HashMap<ObjectKey, Value>,
    ) -> Vec<String> {
        let mut waiting = Vec::new();
        for r in results.iter_mut().filter(|r| {
            r.hook_type.is_empty()
                && tasks
                    .iter()
                    .any(|t| t.action != Action::Hook && same(r, t.phase(), &t.key))
        }) {
            let key = ObjectKey {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            };
            match r.status.as_str() {
                "Pruned" if group.stage == 2 && self.cache.get(&key).is_some() => {
                    waiting.push(format!("deletion of {} {}", r.kind, r.name));
                }
                "Synced" if group.stage != 2 => {
                    let health = match self.live(&key, fresh) {
                        None => Some(ferry_health::Health::new(H::Missing, "")),
                        Some(l) => ferry_health::assess(&l),
                    };
                    match health {
                        None => {}
                        Some(h) => match h.status {
                            H::Healthy | H::Suspended => {}
                            H::Degraded => {
                                r.status = "SyncFailed".into();
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
        fresh: &mut HashMap<ObjectKey, Value>,
    ) -> Progress {
        let sync_id = state.sync_id.clone();
        let revision = self.cmp.revision.clone();
        let result = state.sync_result.get_or_insert_with(|| SyncResult {
            revision,
            resources: Vec::new(),
        });
        let groups = waves::groups(tasks);
        let mut last: Option<GroupId> = None;
        // Namespaces asked for by CreateNamespace come before everything.
        if self.options.create_namespace
            && let Some(ns) = self.dest_ns.filter(|n| !n.is_empty())
            && !result
                .resources
                .iter()
                .any(|r| r.kind == "Namespace" && r.name == ns && r.sync_phase == "PreSync")
        {
            let mut r = ResourceResult {
                version: "v1".into(),
                kind: "Namespace".into(),
                name: ns.into(),
                sync_phase: "PreSync".into(),
                ..Default::default()
            };
            match create_namespace(self.cluster, ns).await {
                Ok(()) => {
                    r.status = "Synced".into();
                    r.message = "namespace created".into();
                }
                Err(e) => {
                    r.status = "SyncFailed".into();
                    r.message = e.to_string();
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
                rs.iter().any(|r| same(r, t.phase(), &key))
            };
            let failed = result
                .resources
                .iter()
                .any(|r| r.sync_phase != "SyncFail" && is_failure(r));
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
                let now_failed = result
                    .resources
                    .iter()
                    .any(|r| r.sync_phase != "SyncFail" && is_failure(r));
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
                .filter(|r| r.hook_phase == "Running")
            {
                let key = ObjectKey {
                    group: r.group.clone(),
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                };
                if let Ok((ar, caps)) = self.cluster.resolve(&r.group, &r.version, &r.kind).await {
                    let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
                    if let Err(e) = self
                        .delete(&ar, namespaced, &key, Propagation::Background)
                        .await
                    {
                        tracing::warn!(hook = %key, error = %e, "deleting a running hook failed");
                    }
                }
                r.hook_phase = "Terminating".into();
                r.message = "terminated".into();
            }
        }
        state.phase = "Failed".into();
        state.message = "operation terminated".into();
    }
}

async fn create_namespace(cluster: &Cluster, ns: &str) -> Result<(), kube::Error> {
    let ar = ferry_cluster::api_resource("", "v1", "Namespace", "namespaces");
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ar);
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let _permit = cluster.limiter.acquire().await;
    api.patch(
        ns,
        &PatchParams::apply(ferry_api::FIELD_MANAGER),
        &Patch::Apply(&obj),
    )
    .await
    .map(|_| ())
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
            .find(|r| r.sync_phase != "SyncFail" && is_failure(r))
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
            .filter(|r| r.sync_phase != "SyncFail" && is_failure(r))
            .count();
        state.phase = "Failed".into();
        state.message = format!("{n} resources failed to sync; first: {first}");
    } else {
        let applied = resources
            .iter()
            .filter(|r| r.status == "Synced" && r.hook_type.is_empty())
            .count();
        let pruned = resources.iter().filter(|r| r.status == "Pruned").count();
        let hooks = resources.iter().filter(|r| !r.hook_type.is_empty()).count();
        state.phase = "Succeeded".into();
        state.message = if hooks > 0 {
            format!("successfully synced {applied} resources, pruned {pruned}, ran {hooks} hooks")
        } else {
            format!("successfully synced {applied} resources, pruned {pruned}")
        };
    }
}
