//! `ApplicationSet` (`ferry.dev/v1alpha1`): generators that produce parameter sets, and a
//! template that turns each parameter set into an `Application`. Field names follow Argo CD's
//! (`goTemplate`, `generators`, `templatePatch`, `syncPolicy.applicationsSync`, ...), so that
//! an Argo CD manifest converts by changing its `apiVersion`.
//!
//! The engine that evaluates these types lives in the `ferry-appset` crate.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use kube_core::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::application::{ApplicationSpec, HealthStatus};

/// A set of applications generated from parameter sets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSet {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSetSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApplicationSetStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    /// Render with Go `text/template` over nested parameters instead of the default
    /// `{{ key }}` substitution over flat parameters.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_template: bool,
    /// Options of the Go template engine; `missingkey=error` makes a missing key an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_template_options: Vec<String>,
    /// Each generator yields parameter sets; every set becomes one Application.
    #[serde(default)]
    pub generators: Vec<Generator>,
    pub template: ApplicationSetTemplate,
    /// A YAML or JSON fragment of an Application, rendered with the same engine and merged
    /// over the rendered template (maps merged, lists replaced); it cannot change the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_patch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<ApplicationSetSyncPolicy>,
    /// Labels and annotations of generated Applications that the controller never overwrites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserved_fields: Option<ApplicationPreservedFields>,
}

/// The Application every parameter set is rendered into.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplate {
    #[serde(default)]
    pub metadata: ApplicationSetTemplateMeta,
    pub spec: ApplicationSpec,
}

/// The metadata a template may set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplateMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Ignored: generated Applications always live in the ApplicationSet's namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSyncPolicy {
    /// Keep the resources of generated Applications when those Applications are deleted.
    /// Ferry's default is `true` (Argo CD's is `false`): only an explicit `false` makes
    /// generated Applications carry `ferry.dev/resources-finalizer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// What the controller may do to generated Applications (default: the controller's policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<ApplicationsSyncPolicy>,
}

/// What the ApplicationSet controller may do to the Applications a set generates.
///
/// | policy | create | update | delete |
/// | --- | --- | --- | --- |
/// | `sync` | yes | yes | yes |
/// | `create-only` | yes | no | no |
/// | `create-update` | yes | yes | no |
/// | `create-delete` | yes | no | yes |
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Hash)]
pub enum ApplicationsSyncPolicy {
    #[default]
    #[serde(rename = "sync")]
    Sync,
    #[serde(rename = "create-only")]
    CreateOnly,
    #[serde(rename = "create-update")]
    CreateUpdate,
    #[serde(rename = "create-delete")]
    CreateDelete,
}

impl ApplicationsSyncPolicy {
    /// May existing generated Applications be changed to match the template?
    pub fn allows_update(self) -> bool {
        matches!(self, Self::Sync | Self::CreateUpdate)
    }

    /// May generated Applications that are no longer generated be deleted?
    pub fn allows_delete(self) -> bool {
        matches!(self, Self::Sync | Self::CreateDelete)
    }

    /// The name used in manifests and flags (`create-only`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::CreateOnly => "create-only",
            Self::CreateUpdate => "create-update",
            Self::CreateDelete => "create-delete",
        }
    }
}

impl fmt::Display for ApplicationsSyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is none of `sync`, `create-only`, `create-update`, `create-delete`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown applications sync policy {0:?} (want sync, create-only, create-update or create-delete)"
)]
pub struct UnknownPolicy(pub String);

impl FromStr for ApplicationsSyncPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Sync,
            Self::CreateOnly,
            Self::CreateUpdate,
            Self::CreateDelete,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
        .ok_or_else(|| UnknownPolicy(s.to_owned()))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPreservedFields {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// One generator: exactly one of `list`, `clusters`, `git`, `matrix`, `merge`, and an
/// optional post-selector over the (flattened) parameters it produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Generator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixGenerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeGenerator>,
    /// Keeps only the parameter sets whose flattened parameters match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Fixed parameter sets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    /// One parameter set per element (an object).
    #[serde(default)]
    #[schemars(schema_with = "preserved_objects")]
    pub elements: Vec<serde_json::Value>,
    /// A YAML (or JSON) list of objects, usually templated from a matrix parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements_yaml: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub template: Option<serde_json::Value>,
}

/// One parameter set per registered cluster whose labels match `selector`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGenerator {
    #[serde(default)]
    pub selector: LabelSelector,
    /// Extra parameters `values.<key>`, each templated against the cluster's own parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// One parameter set `{clusters: [...]}` holding every cluster, instead of one per cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flat_list: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub template: Option<serde_json::Value>,
}

/// Parameter sets from the directories or files of a Git repository.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag or commit (default `HEAD`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<GitPathItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GitPathItem>,
    /// Prefix of the `path...` parameters (needed when two git generators are combined).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path_param_prefix: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// How often the controller looks at the repository again (default: the controller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub template: Option<serde_json::Value>,
}

/// A glob of directories or files; `exclude: true` removes matches (exclusion wins).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GitPathItem {
    pub path: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

/// The cartesian product of two generators' parameter sets; the second is rendered with each
/// parameter set of the first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MatrixGenerator {
    #[schemars(schema_with = "preserved_objects")]
    pub generators: Vec<Generator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub template: Option<serde_json::Value>,
}

/// The first generator's parameter sets, overridden by the sets of later generators that
/// agree on `mergeKeys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MergeGenerator {
    pub merge_keys: Vec<String>,
    #[schemars(schema_with = "preserved_objects")]
    pub generators: Vec<Generator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserved_object")]
    pub template: Option<serde_json::Value>,
}

/// Kubernetes' label selector. All of `matchLabels` and `matchExpressions` must hold; an
/// empty selector matches everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// Neither labels nor expressions.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Does a set of labels satisfy this selector?
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: SelectorOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelectorRequirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => !value.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum SelectorOperator {
    #[default]
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ApplicationSetCondition>,
    /// The Applications the set generated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ApplicationSetResource>,
}

/// `ErrorOccurred`, `ParametersGenerated`, `ResourcesUpToDate`, ...
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetCondition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// One generated Application as the set's status shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetResource {
    pub name: String,
    /// The Application's sync status (`Synced`, `OutOfSync`, `Unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// Schema of an object whose fields are not described (kept as they are by the API server).
fn preserved_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// Schema of a list of such objects (nested generators, list elements): a recursive schema is
/// not structural, so nested generators are checked by the controller instead.
fn preserved_objects(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_cd_manifest_parses() {
        let set: ApplicationSet = serde_json::from_value(serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "guestbook", "namespace": "ferry"},
            "spec": {
                "goTemplate": true,
                "goTemplateOptions": ["missingkey=error"],
                "generators": [{"matrix": {"generators": [
                    {"clusters": {"selector": {"matchLabels": {"env": "prod"},
                        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}}},
                    {"git": {"repoURL": "https://git.example/apps.git", "revision": "main",
                        "files": [{"path": "apps/*/config.json"}]}}
                ]}, "selector": {"matchLabels": {"path.basename": "web"}}}],
                "template": {
                    "metadata": {"name": "{{.name}}-web", "labels": {"team": "a"}},
                    "spec": {"project": "default",
                        "source": {"repoURL": "https://git.example/apps.git", "path": "{{.path.path}}"},
                        "destination": {"server": "{{.server}}", "namespace": "web"}}
                },
                "templatePatch": "spec:\n  revisionHistoryLimit: 3\n",
                "syncPolicy": {"preserveResourcesOnDeletion": false, "applicationsSync": "create-update"},
                "preservedFields": {"annotations": ["x"]}
            }
        }))
        .expect("parses");
        let policy = set
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.applications_sync);
        assert_eq!(policy, Some(ApplicationsSyncPolicy::CreateUpdate));
        let matrix = set.spec.generators[0].matrix.as_ref().expect("matrix");
        assert_eq!(matrix.generators.len(), 2);
        assert!(matrix.generators[1].git.is_some());
        let back = serde_json::to_value(&set).expect("serializes");
        assert_eq!(
            back["spec"]["syncPolicy"]["applicationsSync"],
            "create-update"
        );
    }

    #[test]
    fn policies() {
        use ApplicationsSyncPolicy::*;
        let table = [
            (Sync, true, true),
            (CreateOnly, false, false),
            (CreateUpdate, true, false),
            (CreateDelete, false, true),
        ];
        for (p, update, delete) in table {
            assert_eq!(
                (p.allows_update(), p.allows_delete()),
                (update, delete),
                "{p}"
            );
            assert_eq!(p.as_str().parse::<ApplicationsSyncPolicy>(), Ok(p));
        }
        assert!("Sync".parse::<ApplicationsSyncPolicy>().is_err());
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> =
            [("env".into(), "prod".into()), ("tier".into(), "web".into())].into();
        let req = |key: &str, operator, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        use SelectorOperator::*;
        let cases = [
            (req("env", In, &["prod", "stg"]), true),
            (req("env", In, &["stg"]), false),
            (req("env", NotIn, &["stg"]), true),
            (req("missing", NotIn, &["stg"]), true),
            (req("tier", Exists, &[]), true),
            (req("tier", DoesNotExist, &[]), false),
            (req("missing", DoesNotExist, &[]), true),
        ];
        for (r, want) in cases {
            let sel = LabelSelector {
                match_expressions: vec![r.clone()],
                ..Default::default()
            };
            assert_eq!(sel.matches(&labels), want, "{r:?}");
        }
        assert!(LabelSelector::default().matches(&labels));
    }
}
