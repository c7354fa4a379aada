//! `Application` (`ferry.dev/v1alpha1`): one Git source delivered to one destination, with
//! Argo CD's field names and meanings, so that an Argo CD manifest converts by changing its
//! `apiVersion`.

use std::collections::BTreeMap;

use ferry_core::codes::empty_as_none;
pub use ferry_core::{
    ConditionType, HealthCode, HookPhase, OperationPhase, ResourceKey, ResultCode, SyncCode,
    SyncPhase,
};
use kube_core::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An application: what to deliver (`spec`), an operation asked for (`operation`), and what
/// the controller saw and did (`status`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApplicationStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The AppProject this application belongs to (`default` allows everything).
    #[serde(default)]
    pub project: String,
    pub source: ApplicationSource,
    pub destination: ApplicationDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// How many entries of `status.history` to keep (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    /// Differences to ignore when comparing live objects with Git.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
}

/// Parts of matching objects that do not count as differences (Argo CD's
/// `spec.ignoreDifferences[]`). `group` and `kind` accept `*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// RFC 6901 JSON pointers, e.g. `/spec/replicas`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// jq path expressions, e.g. `.spec.template.spec.containers[] | select(.name == "x") | .image`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    /// Fields owned (in `managedFields`) by these managers are ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    /// Git repository URL.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Directory inside the repository (default: the root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Branch, tag, commit SHA or `HEAD` (default `HEAD`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySource>,
    /// Render with a config management plugin (Argo CD's `ConfigManagementPlugin` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginSource>,
}

/// A config management plugin, named or (with no name) discovered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct PluginSource {
    /// `<metadata.name>` or `<metadata.name>-<spec.version>` of the plugin; empty: discover.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Given to the plugin as `ARGOCD_ENV_<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvEntry>,
    /// Given to the plugin as `ARGOCD_APP_PARAMETERS` and `PARAM_<NAME>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<PluginParameter>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct EnvEntry {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// One plugin parameter: a string, an array or a map.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct PluginParameter {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
}

/// Options of a plain directory of manifests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySource {
    #[serde(default)]
    pub recurse: bool,
    /// Glob of files to read, relative to `path` (e.g. `{app.yaml,svc.yaml}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Glob of files to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

/// Where to deliver: a cluster by `server` URL or by `name`, and the default namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Sync by itself when Git changes (and, with `selfHeal`, when the cluster drifts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<AutomatedSync>,
    /// Argo CD-style options, e.g. `CreateNamespace=true`. Parsed by [`crate::SyncOptions`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    /// Retries of a failed sync operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
}

/// How a failed sync is retried (Argo CD's `syncPolicy.retry`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// Attempts after the first; `-1`: without end.
    #[serde(default)]
    pub limit: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// First delay, e.g. `5s`, `2m` (default `5s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Multiplier of the delay per attempt (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// Longest delay (default `3m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutomatedSync {
    /// Delete resources that left Git.
    #[serde(default)]
    pub prune: bool,
    /// Re-apply when a live object drifts from Git.
    #[serde(default)]
    pub self_heal: bool,
    /// Allow a sync that would leave the application with no resources.
    #[serde(default)]
    pub allow_empty: bool,
}

/// An operation asked for (by `ferry app sync`), run once by the controller and then cleared.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<InitiatedBy>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperation {
    /// Revision to sync to (default: the source's `targetRevision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default)]
    pub prune: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    /// Sync only these resources (no hooks run, nothing else is pruned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncOperationResource>,
    /// Sync this source instead of `spec.source` (a rollback to an entry of the history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
}

/// One resource of a selective sync.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperationResource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitiatedBy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub automated: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default)]
    pub sync: SyncStatus,
    #[serde(default)]
    pub health: HealthStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ApplicationCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RevisionHistory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
    /// The source and destination the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub status: SyncCode,
    /// The commit compared against.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_to: Option<ComparedTo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComparedTo {
    pub source: ApplicationSource,
    pub destination: ApplicationDestination,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub status: HealthCode,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One managed resource, as the status shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[schemars(with = "String")]
    pub status: SyncCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// In the cluster with this application's tracking id, no longer in Git.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
}

/// A problem the application has, named so that a person can act on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationCondition {
    /// `ComparisonError`, `SyncError`, `InvalidSpecError`, `UnknownError`, ...
    #[serde(rename = "type")]
    #[schemars(with = "String")]
    pub type_: ConditionType,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RevisionHistory {
    pub id: i64,
    pub revision: String,
    pub deployed_at: String,
    pub source: ApplicationSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<InitiatedBy>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    pub operation: Operation,
    /// `Running`, `Terminating`, `Succeeded`, `Failed`, `Error`.
    #[schemars(with = "String")]
    pub phase: OperationPhase,
    /// Names this operation's hooks (generated names, and the `ferry.dev/sync-id` annotation
    /// that tells a resumed operation its own hooks from an earlier one's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sync_id: String,
    /// Retries made so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_count: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub revision: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    /// `Synced`, `SyncFailed`, `Pruned`, `PruneSkipped`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    #[schemars(with = "String")]
    pub status: Option<ResultCode>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// For hooks: `PreSync`, `Sync`, `PostSync` or `SyncFail`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    #[schemars(with = "String")]
    pub hook_type: Option<SyncPhase>,
    /// For hooks: `Running`, `Succeeded`, `Failed`, `Terminating`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    #[schemars(with = "String")]
    pub hook_phase: Option<HookPhase>,
    /// The phase the resource was synced in: `PreSync`, `Sync`, `PostSync`, `SyncFail`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "empty_as_none"
    )]
    #[schemars(with = "String")]
    pub sync_phase: Option<SyncPhase>,
    /// Its sync wave.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sync_wave: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Labels and annotations are plain string maps.
pub type StringMap = BTreeMap<String, String>;

// === keys of the status' resource lists ===

impl SyncOperationResource {
    /// The object this selection names (an empty namespace matches any).
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(&self.group, &self.kind, &self.namespace, &self.name)
    }

    /// The selection of one object.
    pub fn of(key: &ResourceKey) -> SyncOperationResource {
        SyncOperationResource {
            group: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        }
    }
}

impl ResourceStatus {
    /// The object this status is of.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(&self.group, &self.kind, &self.namespace, &self.name)
    }
}

impl ResourceResult {
    /// The object this result is of.
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(&self.group, &self.kind, &self.namespace, &self.name)
    }

    /// Whether this result is of `key` in sync phase `phase`.
    pub fn is_of(&self, phase: SyncPhase, key: &ResourceKey) -> bool {
        self.sync_phase == Some(phase)
            && self.group == key.group
            && self.kind == key.kind
            && self.namespace == key.namespace
            && self.name == key.name
    }

    /// The sync or the hook failed.
    pub fn is_failure(&self) -> bool {
        self.status == Some(ResultCode::SyncFailed)
            || matches!(self.hook_phase, Some(HookPhase::Failed | HookPhase::Error))
    }
}
