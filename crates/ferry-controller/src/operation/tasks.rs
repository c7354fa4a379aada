//! The writes of a sync: one task (apply, hook, prune) against the cluster, and what the
//! operation reads back (a hook's object, the destination namespace). Messages made from a
//! write's refusal go through the comparison's redactions (resolved secret values).

use std::time::Duration;

use ferry_api::{HookPhase, Propagation, ResourceResult, ResultCode};
use ferry_cluster::ResourceKey;
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use super::{Run, result_for};
use ferry_apply::{Desired, place, writes};
use ferry_sync_plan::{self as waves, Action, Task};

impl Run<'_> {
    /// The name of the object a hook task creates: its own, or for `generateName` hooks one
    /// made of the sync id, phase and wave, as Argo CD names them.
    fn hook_name(&self, task: &Task, sync_id: &str) -> String {
        let meta = &self.cmp.hooks[task.index].object["metadata"];
        match meta["name"].as_str().filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => format!(
                "{}{sync_id}-{}-{}",
                meta["generateName"].as_str().unwrap_or_default(),
                task.phase().as_str().to_lowercase(),
                task.group.wave()
            ),
        }
    }

    /// The object a hook task creates: named by [`Self::hook_name`], with the annotation
    /// naming this operation and phase.
    fn hook_object(&self, task: &Task, sync_id: &str) -> (ResourceKey, Value) {
        let d = &self.cmp.hooks[task.index];
        let mut obj = d.object.clone();
        obj["metadata"]["name"] = json!(self.hook_name(task, sync_id));
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("generateName");
        }
        obj["metadata"]["annotations"][ferry_api::SYNC_ID_ANNOTATION] =
            json!(format!("{sync_id}-{}", task.phase().as_str()));
        let ns = d.key.namespace.clone();
        let obj = place(self.app_name, obj, &d.ar, d.namespaced, &ns);
        (ResourceKey::of(&obj), obj)
    }

    /// The key of the object a task writes.
    pub(super) fn key_of(&self, task: &Task, sync_id: &str) -> ResourceKey {
        match task.action {
            Action::Hook => ResourceKey {
                name: self.hook_name(task, sync_id),
                ..task.key.clone()
            },
            _ => task.key.clone(),
        }
    }

    async fn apply_object(
        &self,
        d: &Desired,
        obj: &Value,
        name: &str,
        namespace: &str,
    ) -> Result<Value, kube::Error> {
        let opts = self.options.of_object(obj);
        writes::apply_with_options(self.cluster, d, obj, name, namespace, &opts).await
    }

    /// Deletes `name` (gone already is fine).
    pub(super) async fn delete(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        propagation: Propagation,
    ) -> Result<(), kube::Error> {
        writes::delete(self.cluster, api, name, propagation).await
    }

    /// The API of the object a recorded result names.
    pub(super) async fn api_of_result(
        &self,
        r: &ResourceResult,
    ) -> Result<Api<DynamicObject>, ferry_cluster::ClusterError> {
        self.cluster
            .api_of(&r.group, &r.version, &r.kind, &r.namespace)
            .await
    }

    /// Deletes an earlier run's hook object and waits (up to a minute) until it is gone.
    async fn delete_before_creation(
        &self,
        d: &Desired,
        key: &ResourceKey,
        sync_mark: &str,
    ) -> Result<(), String> {
        let api = self.cluster.api(&d.ar, d.namespaced, &key.namespace);
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
                self.delete(&api, &key.name, Propagation::Background)
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
    pub(super) async fn run_task(
        &self,
        task: &Task,
        sync_id: &str,
    ) -> (ResourceResult, Option<(ResourceKey, Value)>) {
        match task.action {
            Action::Apply => self.apply_task(task).await,
            Action::Hook => self.hook_task(task, sync_id).await,
            Action::Prune => (self.prune_task(task).await, None),
        }
    }

    async fn apply_task(&self, task: &Task) -> (ResourceResult, Option<(ResourceKey, Value)>) {
        let d = &self.cmp.desired[task.index];
        let mut r = result_for(task, &d.key, &d.ar.version);
        // Taken by another application since the comparison (a sync of several steps):
        // still never overwritten.
        if let Some(owner) = self
            .cache
            .get(&d.key)
            .and_then(|l| crate::compare::shared_owner(self.app_name, &d.object, &l.tracking))
        {
            r.status = Some(ResultCode::SyncFailed);
            r.message = crate::compare::describe_shared(&d.key, &owner);
            return (r, None);
        }
        match self
            .apply_object(d, &d.object, &d.key.name, &d.key.namespace)
            .await
        {
            Ok(live) => {
                r.status = Some(ResultCode::Synced);
                r.message = if d.in_sync { "unchanged" } else { "applied" }.into();
                if d.pending_kind {
                    self.cache.ensure_watch(&d.ar, Duration::from_secs(5)).await;
                }
                (r, Some((d.key.clone(), live)))
            }
            Err(e) => {
                r.status = Some(ResultCode::SyncFailed);
                // A refusal may quote the object, and so its secret values.
                r.message = self.cmp.redactions.redact(&self.cluster.cause(&e));
                (r, None)
            }
        }
    }

    async fn hook_task(
        &self,
        task: &Task,
        sync_id: &str,
    ) -> (ResourceResult, Option<(ResourceKey, Value)>) {
        let d = &self.cmp.hooks[task.index];
        let (key, obj) = self.hook_object(task, sync_id);
        let mut r = result_for(task, &key, &d.ar.version);
        let mark = format!("{sync_id}-{}", task.phase().as_str());
        if waves::delete_policy(&obj).before_hook_creation
            && let Err(e) = self.delete_before_creation(d, &key, &mark).await
        {
            r.status = Some(ResultCode::SyncFailed);
            r.hook_phase = Some(HookPhase::Failed);
            r.message = e;
            return (r, None);
        }
        match self.apply_object(d, &obj, &key.name, &key.namespace).await {
            Ok(live) => {
                self.cache.ensure_watch(&d.ar, Duration::from_secs(5)).await;
                r.status = Some(ResultCode::Synced);
                r.hook_phase = Some(HookPhase::Running);
                r.message = "created".into();
                (r, Some((key, live)))
            }
            Err(e) => {
                r.status = Some(ResultCode::SyncFailed);
                r.hook_phase = Some(HookPhase::Failed);
                r.message = self.cmp.redactions.redact(&self.cluster.cause(&e));
                (r, None)
            }
        }
    }

    async fn prune_task(&self, task: &Task) -> ResourceResult {
        let p = &self.cmp.prunable[task.index];
        let (group, version) = p.group_version();
        let mut r = result_for(task, &p.key, version);
        if !self.prune {
            r.status = Some(ResultCode::PruneSkipped);
            r.message = "pruning is not enabled".into();
            return r;
        }
        let opts = self.options.of_object(&p.object);
        if opts.no_prune {
            r.status = Some(ResultCode::PruneSkipped);
            r.message = "the resource says Prune=false".into();
            return r;
        }
        let outcome = match self
            .cluster
            .api_of(group, version, &p.key.kind, &p.key.namespace)
            .await
        {
            Ok(api) => self
                .delete(&api, &p.key.name, opts.prune_propagation)
                .await
                .map_err(|e| self.cluster.cause(&e)),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                r.status = Some(ResultCode::Pruned);
                r.message = "pruned".into();
            }
            Err(e) => {
                r.status = Some(ResultCode::SyncFailed);
                r.message = e;
            }
        }
        r
    }

    /// A live object read from the cluster itself (`None`: it does not exist).
    pub(super) async fn fetch(&self, r: &ResourceResult) -> Result<Option<Value>, String> {
        let api = self.api_of_result(r).await.map_err(|e| e.to_string())?;
        let _permit = self.cluster.limiter.acquire().await;
        let found = api.get_opt(&r.name).await.map_err(|e| e.to_string())?;
        found
            .map(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
            .transpose()
    }
}
