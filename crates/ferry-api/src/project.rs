//! `AppProject` (`ferry.dev/v1alpha1`) with Argo CD's fields: which sources, destinations
//! and kinds applications of a project may use, from which namespaces, when they may sync
//! (sync windows), and its roles. The rules themselves are `ferry-project`'s; the `default`
//! project allows everything.

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
    /// Repository URL globs applications may use (`*` = any; `!` before a pattern refuses
    /// what it matches).
    #[serde(default)]
    pub source_repos: Vec<String>,
    /// Where applications may deploy to: server or name, and namespace, as globs (`!`
    /// refuses).
    #[serde(default)]
    pub destinations: Vec<ProjectDestination>,
    /// Cluster-scoped kinds allowed (none when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<ClusterResourceRestriction>,
    /// Cluster-scoped kinds refused, even when whitelisted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_blacklist: Vec<ClusterResourceRestriction>,
    /// Namespaced kinds allowed: every kind when absent, none when an empty list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_resource_whitelist: Option<Vec<GroupKind>>,
    /// Namespaced kinds refused, even when whitelisted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    /// Namespaces (globs, or `/regular expressions/`) other than Ferry's own that
    /// Applications of this project may live in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_namespaces: Vec<String>,
    /// When syncs may run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    /// Roles of the project (policies, groups, tokens), as Argo CD's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ProjectRole>,
    /// Ferry's: the AWS role the renders of this project's applications read secret
    /// references with (and hand plugins credentials of), instead of their destination
    /// cluster's role. An application's `ferry.dev/aws-role-arn` may then name only this
    /// role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<ProjectAws>,
}

/// One of [`AppProjectSpec::sync_windows`]: a time when syncs are allowed or denied, for the
/// applications it names (by name, destination cluster or destination namespace).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    /// `allow` or `deny`.
    #[serde(default)]
    pub kind: String,
    /// When the window opens: a 5-field cron schedule.
    #[serde(default)]
    pub schedule: String,
    /// How long it stays open, as a Go duration (`1h`, `30m`, `1h30m`).
    #[serde(default)]
    pub duration: String,
    /// Application name globs the window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    /// Destination namespace globs the window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Destination cluster (name or server) globs the window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Manual syncs may run while this window would block them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual_sync: bool,
    /// The time zone of the schedule (IANA name; UTC when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    /// Applications, namespaces and clusters must all match (instead of any).
    #[serde(
        default,
        rename = "andOperator",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub use_and_operator: bool,
    /// A sync that was allowed when it started goes on through this window's change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_overrun: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// One of [`AppProjectSpec::roles`]. Ferry's server grants its policies to its groups and
/// tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRole {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Casbin-format policy lines (`p, proj:<project>:<role>, applications, get, <project>/*, allow`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// OIDC groups that have the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The tokens issued for the role.
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "jwtTokens")]
    pub jwt_tokens: Vec<JwtToken>,
}

/// A token issued for a [`ProjectRole`] (its claims' `iat`, `exp` and `jti`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct JwtToken {
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
}

/// A cluster-scoped kind in a project's white- or blacklist; `name`, when set, narrows it
/// to objects of that name (a glob).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ClusterResourceRestriction {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
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
    #[serde(default)]
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
            cluster_resource_whitelist: vec![ClusterResourceRestriction {
                group: "*".into(),
                kind: "*".into(),
                name: String::new(),
            }],
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argo_cd_project_parses_with_every_rule() {
        let spec: AppProjectSpec = serde_json::from_value(serde_json::json!({
            "sourceRepos": ["https://github.com/org/*", "!https://github.com/org/secret"],
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": "team-*"}],
            "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
            "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "*", "name": "admin*"}],
            "namespaceResourceWhitelist": [],
            "namespaceResourceBlacklist": [{"kind": "ResourceQuota"}],
            "sourceNamespaces": ["team-*"],
            "syncWindows": [{"kind": "deny", "schedule": "0 22 * * *", "duration": "1h",
                "applications": ["*"], "manualSync": true, "timeZone": "Europe/Paris",
                "andOperator": true}],
            "roles": [{"name": "ci", "policies": ["p, proj:team-a:ci, applications, sync, team-a/*, allow"],
                "groups": ["org:ci"], "jwtTokens": [{"iat": 1700000000, "exp": 1800000000, "id": "t1"}]}],
        }))
        .expect("Argo CD's AppProjectSpec");
        assert_eq!(spec.namespace_resource_whitelist, Some(vec![]));
        assert_eq!(spec.namespace_resource_blacklist[0].group, "");
        assert_eq!(spec.cluster_resource_blacklist[0].name, "admin*");
        assert!(spec.sync_windows[0].manual_sync && spec.sync_windows[0].use_and_operator);
        assert_eq!(spec.roles[0].jwt_tokens[0].exp, Some(1800000000));
        let back = serde_json::to_value(&spec).expect("json");
        assert_eq!(back["roles"][0]["jwtTokens"][0]["iat"], 1700000000);
        assert_eq!(back["namespaceResourceWhitelist"], serde_json::json!([]));
    }
}
