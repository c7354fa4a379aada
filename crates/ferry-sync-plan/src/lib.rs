//! The plan of a sync, as Argo CD orders it: phases (`PreSync`, `Sync`, `PostSync`, and
//! `SyncFail` only when the sync failed), waves within a phase (ascending; the
//! `sync-wave` annotation, default 0), kinds within a wave (namespaces first, then the other
//! kinds every object needs, custom resources last) and names. In the `Sync` phase,
//! namespaces and CRDs that name no wave go before every wave, and prunes come after the
//! last wave, highest wave first. Hooks are the objects with a `hook` annotation; `Skip`
//! objects are never applied. Pure: no IO.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use ferry_core::ResourceKey;
use serde_json::Value;

/// The phase of a sync (Argo CD's `SyncPhase`), shared with the status vocabulary.
pub use ferry_core::SyncPhase as Phase;

/// When a hook object is deleted (Argo CD's `hook-delete-policy`; none given means
/// `BeforeHookCreation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletePolicy {
    pub before_hook_creation: bool,
    pub hook_succeeded: bool,
    pub hook_failed: bool,
}

/// What the `hook` annotation of an object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Phases it runs in during a sync (empty: only `Skip`, or only deletion hooks).
    pub phases: Vec<Phase>,
    pub delete: DeletePolicy,
}

/// Why an object's annotations cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{object}: sync-wave {value:?} is not an integer")]
    Wave { object: String, value: String },
    #[error(
        "{object}: hook-delete-policy {value:?} is not one of BeforeHookCreation, HookSucceeded, HookFailed"
    )]
    DeletePolicy { object: String, value: String },
}

fn describe(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let meta = &obj["metadata"];
    let name = meta["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| meta["generateName"].as_str())
        .unwrap_or_default();
    match meta["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The wave of an object (default 0).
pub fn wave_of(obj: &Value) -> Result<i64, PlanError> {
    match ferry_api::annotation(obj, "sync-wave") {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| PlanError::Wave {
            object: describe(obj),
            value: v.into(),
        }),
    }
}

/// Whether the object names its wave.
pub fn has_wave(obj: &Value) -> bool {
    ferry_api::annotation(obj, "sync-wave").is_some()
}

/// The hook an object is, if any. `Skip` and the deletion-only types (`PreDelete`,
/// `PostDelete`) make a hook that never runs during a sync. Helm's hook annotation is not
/// read (Ferry renders no Helm charts itself).
pub fn hook_of(obj: &Value) -> Result<Option<Hook>, PlanError> {
    let Some(types) = ferry_api::annotation(obj, "hook") else {
        return Ok(None);
    };
    let phases = types
        .split(',')
        .filter_map(|t| Phase::parse(t.trim()))
        .collect();
    let mut delete = DeletePolicy::default();
    match ferry_api::annotation(obj, "hook-delete-policy") {
        None => delete.before_hook_creation = true,
        Some(policies) => {
            for p in policies.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match p {
                    "BeforeHookCreation" => delete.before_hook_creation = true,
                    "HookSucceeded" => delete.hook_succeeded = true,
                    "HookFailed" => delete.hook_failed = true,
                    _ => {
                        return Err(PlanError::DeletePolicy {
                            object: describe(obj),
                            value: p.into(),
                        });
                    }
                }
            }
        }
    }
    Ok(Some(Hook { phases, delete }))
}

/// The delete policy of a hook object (the default for anything that is not a valid hook).
pub fn delete_policy(obj: &Value) -> DeletePolicy {
    hook_of(obj)
        .ok()
        .flatten()
        .map(|h| h.delete)
        .unwrap_or_default()
}

/// Argo CD's kind order within a wave: what others depend on first.
pub fn kind_rank(group: &str, kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodSecurityPolicy",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "SecretList",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "Role",
        "RoleList",
        "RoleBinding",
        "RoleBindingList",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
        "APIService",
    ];
    let builtin = !group.contains('.') || group.ends_with(".k8s.io");
    match ORDER.iter().position(|k| *k == kind) {
        Some(i) if builtin => i,
        _ => ORDER.len() + usize::from(!builtin),
    }
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Apply,
    Hook,
    Prune,
}

/// The group a task belongs to; groups run in this type's order, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId {
    pub phase: Phase,
    /// 0: namespaces and CRDs that name no wave; 1: the waves; 2: prunes.
    pub stage: u8,
    /// The wave, negated for prunes (so that the highest wave is pruned first).
    pub order: i64,
}

impl GroupId {
    /// The wave of the group's tasks.
    pub fn wave(&self) -> i64 {
        if self.stage == 2 {
            -self.order
        } else {
            self.order
        }
    }

    /// For people: `PreSync wave -1`, `Sync prune wave 2`.
    pub fn describe(&self) -> String {
        match self.stage {
            0 => format!("{} namespaces and CRDs", self.phase.as_str()),
            2 => format!("{} prune wave {}", self.phase.as_str(), self.wave()),
            _ => format!("{} wave {}", self.phase.as_str(), self.order),
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub group: GroupId,
    pub action: Action,
    /// Index into the comparison's `desired`, `hooks` or `prunable`, by `action`.
    pub index: usize,
    pub key: ResourceKey,
    pub kind_rank: usize,
}

impl Task {
    pub fn phase(&self) -> Phase {
        self.group.phase
    }
}

/// An object the plan is made of: its key and the object (rendered, or live for prunes).
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub key: &'a ResourceKey,
    pub object: &'a Value,
}

/// Orders a sync. `hooks` are left out when `with_hooks` is false (a selective sync).
pub fn plan(
    applies: &[Item<'_>],
    hooks: &[Item<'_>],
    prunes: &[Item<'_>],
    with_hooks: bool,
) -> Result<Vec<Task>, PlanError> {
    let mut tasks = Vec::new();
    for (index, it) in applies.iter().enumerate() {
        let early = matches!(
            (it.key.group.as_str(), it.key.kind.as_str()),
            ("", "Namespace") | ("apiextensions.k8s.io", "CustomResourceDefinition")
        ) && !has_wave(it.object);
        let wave = wave_of(it.object)?;
        tasks.push(Task {
            group: GroupId {
                phase: Phase::Sync,
                stage: if early { 0 } else { 1 },
                order: if early { 0 } else { wave },
            },
            action: Action::Apply,
            index,
            key: it.key.clone(),
            kind_rank: kind_rank(&it.key.group, &it.key.kind),
        });
    }
    if with_hooks {
        for (index, it) in hooks.iter().enumerate() {
            let Some(hook) = hook_of(it.object)? else {
                continue;
            };
            let wave = wave_of(it.object)?;
            for phase in hook.phases {
                tasks.push(Task {
                    group: GroupId {
                        phase,
                        stage: 1,
                        order: wave,
                    },
                    action: Action::Hook,
                    index,
                    key: it.key.clone(),
                    kind_rank: kind_rank(&it.key.group, &it.key.kind),
                });
            }
        }
    }
    for (index, it) in prunes.iter().enumerate() {
        // A live object's wave may be unreadable; it is pruned with wave 0 then.
        let wave = wave_of(it.object).unwrap_or(0);
        tasks.push(Task {
            group: GroupId {
                phase: Phase::Sync,
                stage: 2,
                order: -wave,
            },
            action: Action::Prune,
            index,
            key: it.key.clone(),
            kind_rank: kind_rank(&it.key.group, &it.key.kind),
        });
    }
    tasks.sort_by(|a, b| {
        let rank = |t: &Task| {
            // Prunes go in reverse kind order: what depends on others first.
            if t.action == Action::Prune {
                usize::MAX - t.kind_rank
            } else {
                t.kind_rank
            }
        };
        (a.group, rank(a), &a.key.name, &a.key.namespace).cmp(&(
            b.group,
            rank(b),
            &b.key.name,
            &b.key.namespace,
        ))
    });
    Ok(tasks)
}

/// The tasks by group, in order.
pub fn groups(tasks: &[Task]) -> BTreeMap<GroupId, Vec<&Task>> {
    let mut out: BTreeMap<GroupId, Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        out.entry(t.group).or_default().push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(api: &str, kind: &str, name: &str, annotations: Value) -> (ResourceKey, Value) {
        let o = json!({"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "annotations": annotations}});
        (ResourceKey::of(&o), o)
    }

    fn items(v: &[(ResourceKey, Value)]) -> Vec<Item<'_>> {
        v.iter().map(|(key, object)| Item { key, object }).collect()
    }

    #[test]
    fn phases_then_waves_then_kinds_prunes_last_in_reverse_waves() {
        let applies = vec![
            obj("apps/v1", "Deployment", "web", json!({})),
            obj("v1", "Service", "web", json!({})),
            obj(
                "v1",
                "ConfigMap",
                "late",
                json!({"argocd.argoproj.io/sync-wave": "2"}),
            ),
            obj("v1", "Namespace", "ns", json!({})),
            obj(
                "v1",
                "Secret",
                "early",
                json!({"ferry.dev/sync-wave": "-1"}),
            ),
        ];
        let hooks = vec![
            obj(
                "batch/v1",
                "Job",
                "migrate",
                json!({"argocd.argoproj.io/hook": "PreSync"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "smoke",
                json!({"argocd.argoproj.io/hook": "PostSync"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "alert",
                json!({"argocd.argoproj.io/hook": "SyncFail"}),
            ),
            obj(
                "v1",
                "ConfigMap",
                "skipped",
                json!({"argocd.argoproj.io/hook": "Skip"}),
            ),
        ];
        let prunes = vec![
            obj("v1", "ConfigMap", "old0", json!({})),
            obj(
                "v1",
                "ConfigMap",
                "old3",
                json!({"argocd.argoproj.io/sync-wave": "3"}),
            ),
        ];
        let tasks = plan(&items(&applies), &items(&hooks), &items(&prunes), true).expect("plan");
        let order: Vec<String> = tasks
            .iter()
            .map(|t| format!("{}:{}", t.group.describe(), t.key.name))
            .collect();
        assert_eq!(
            order,
            vec![
                "PreSync wave 0:migrate",
                "Sync namespaces and CRDs:ns",
                "Sync wave -1:early",
                "Sync wave 0:web",
                "Sync wave 0:web",
                "Sync wave 2:late",
                "Sync prune wave 3:old3",
                "Sync prune wave 0:old0",
                "PostSync wave 0:smoke",
                "SyncFail wave 0:alert",
            ]
        );
        // Within wave 0 the Service goes before the Deployment.
        assert_eq!(tasks[3].key.kind, "Service");
        assert_eq!(groups(&tasks).len(), 9);
        let selective = plan(&items(&applies), &items(&hooks), &[], false).expect("plan");
        assert!(selective.iter().all(|t| t.action == Action::Apply));
    }

    #[test]
    fn annotations_are_checked() {
        let (_, bad) = obj(
            "v1",
            "ConfigMap",
            "x",
            json!({"argocd.argoproj.io/sync-wave": "soon"}),
        );
        assert_eq!(
            wave_of(&bad).expect_err("not a number").to_string(),
            "ConfigMap ns/x: sync-wave \"soon\" is not an integer"
        );
        let (_, h) = obj(
            "batch/v1",
            "Job",
            "x",
            json!({"argocd.argoproj.io/hook": "PreSync,PostSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
        );
        let hook = hook_of(&h).expect("valid").expect("a hook");
        assert_eq!(hook.phases, vec![Phase::PreSync, Phase::PostSync]);
        assert!(hook.delete.hook_succeeded && !hook.delete.before_hook_creation);
        let (_, d) = obj(
            "batch/v1",
            "Job",
            "x",
            json!({"argocd.argoproj.io/hook": "Sync"}),
        );
        assert!(
            hook_of(&d)
                .expect("valid")
                .expect("hook")
                .delete
                .before_hook_creation
        );
        let (_, bad) = obj(
            "batch/v1",
            "Job",
            "x",
            json!({"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/hook-delete-policy": "Never"}),
        );
        assert!(hook_of(&bad).is_err());
        assert!(kind_rank("", "Namespace") < kind_rank("apps", "Deployment"));
        assert!(kind_rank("apps", "Deployment") < kind_rank("example.com", "Widget"));
    }
}
