//! The identity of a Kubernetes object as Ferry tracks it: group, kind, namespace and name
//! (the version is not part of it: one object is served at several versions).

use std::fmt;

use serde_json::Value;

/// Group, kind, namespace (empty for cluster-scoped objects) and name of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ResourceKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

// === impl ResourceKey ===

impl ResourceKey {
    pub fn new(
        group: impl Into<String>,
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ResourceKey {
        ResourceKey {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a JSON object (`apiVersion`, `kind`, `metadata.namespace`, `metadata.name`;
    /// missing parts are empty).
    pub fn of(obj: &Value) -> ResourceKey {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default();
        let text = |pointer: &str| {
            obj.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        ResourceKey {
            group: group.to_owned(),
            kind: obj["kind"].as_str().unwrap_or_default().to_owned(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
        }
    }

    /// Whether a selection of `(group, kind, namespace, name)` names this object; an empty
    /// namespace in the selection matches any.
    pub fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.group == group
            && self.kind == kind
            && self.name == name
            && (namespace.is_empty() || self.namespace == namespace)
    }
}

impl fmt::Display for ResourceKey {
    /// `Deployment.apps prod/web`, `Namespace/prod`: as a person reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        if self.namespace.is_empty() {
            write!(f, "/{}", self.name)
        } else {
            write!(f, " {}/{}", self.namespace, self.name)
        }
    }
}

/// A Git commit id as resolved from a `targetRevision`: 40 (SHA-1) or 64 (SHA-256) lowercase
/// hexadecimal digits. Resolved once, it travels as this type from resolve to status.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct CommitId(String);

/// A string that is not a full commit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCommitId(pub String);

impl fmt::Display for InvalidCommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a full commit id (40 or 64 hex digits)",
            self.0
        )
    }
}

impl std::error::Error for InvalidCommitId {}

// === impl CommitId ===

impl CommitId {
    /// Accepts 40 or 64 hex digits, in any case.
    pub fn parse(text: &str) -> Result<CommitId, InvalidCommitId> {
        if matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(CommitId(text.to_ascii_lowercase()))
        } else {
            Err(InvalidCommitId(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 7 digits, as `git log --oneline` shows it.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for CommitId {
    type Err = InvalidCommitId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CommitId::parse(s)
    }
}

impl TryFrom<String> for CommitId {
    type Error = InvalidCommitId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CommitId::parse(&s)
    }
}

impl From<CommitId> for String {
    fn from(c: CommitId) -> String {
        c.0
    }
}

impl AsRef<str> for CommitId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for CommitId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<CommitId> for String {
    fn eq(&self, other: &CommitId) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_read_objects_and_print_as_a_person_reads_them() {
        let k = ResourceKey::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}}));
        assert_eq!(k, ResourceKey::new("apps", "Deployment", "prod", "web"));
        assert_eq!(k.to_string(), "Deployment.apps prod/web");
        let ns = ResourceKey::of(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "prod"}}));
        assert_eq!(ns.to_string(), "Namespace/prod");
        assert!(k.matches("apps", "Deployment", "", "web"));
        assert!(!k.matches("apps", "Deployment", "stg", "web"));
    }

    #[test]
    fn commit_ids_are_hex_of_git_lengths() {
        let c = CommitId::parse("4A84CFC99D4A247E30D02C3830A0609263AABCC9").expect("sha1");
        assert_eq!(c.as_str(), "4a84cfc99d4a247e30d02c3830a0609263aabcc9");
        assert_eq!(c.short(), "4a84cfc");
        assert!(CommitId::parse("main").is_err());
        assert!(CommitId::parse("4a84cfc").is_err());
    }
}
