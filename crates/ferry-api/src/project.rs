//! `AppProject` (`ferry.dev/v1alpha1`): which sources and destinations applications of a
//! project may use. The `default` project allows everything; projects gain teeth later.

use kube_core::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppProject {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AppProjectSpec,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Repository URL globs applications may use (`*` = any).
    #[serde(default)]
    pub source_repos: Vec<String>,
    #[serde(default)]
    pub destinations: Vec<ProjectDestination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Ferry's: the AWS role the renders of this project's applications read secret
    /// references with (and hand plugins credentials of), instead of their destination
    /// cluster's role. An application's `ferry.dev/aws-role-arn` may then name only this
    /// role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<ProjectAws>,
}

/// [`AppProjectSpec::aws`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectAws {
    /// The role to assume, from the controller's own credentials.
    #[serde(rename = "roleARN")]
    pub role_arn: String,
    /// The `sts:ExternalId` its trust policy asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The region of references without `?region=` (default: the destination's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

/// The `default` project: every source, every destination, every kind.
pub fn default_project(namespace: &str) -> AppProject {
    AppProject {
        api_version: crate::API_VERSION.into(),
        kind: "AppProject".into(),
        metadata: ObjectMeta {
            name: Some("default".into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        spec: AppProjectSpec {
            description: "Allows everything.".into(),
            source_repos: vec!["*".into()],
            destinations: vec![ProjectDestination {
                server: Some("*".into()),
                name: Some("*".into()),
                namespace: Some("*".into()),
            }],
            cluster_resource_whitelist: vec![GroupKind {
                group: "*".into(),
                kind: "*".into(),
            }],
            aws: None,
        },
    }
}
