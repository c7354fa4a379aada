//! The provider-independent push event every payload is turned into.

use std::fmt;

use serde::Serialize;

use crate::matching;

/// The sender of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Provider {
    /// github.com and GitHub Enterprise Server (`X-GitHub-Event`).
    GitHub,
    /// gitlab.com and self-managed GitLab (`X-Gitlab-Event`).
    GitLab,
    /// bitbucket.org (`X-Hook-UUID`, `X-Event-Key: repo:push`).
    BitbucketCloud,
    /// Bitbucket Server / Data Center (`X-Event-Key: repo:refs_changed`).
    BitbucketServer,
    /// Ferry's own format, served on `/api/webhook/generic`.
    Generic,
}

impl Provider {
    /// Every provider, in the order the single endpoint tries them.
    pub const ALL: [Provider; 5] = [
        Provider::GitHub,
        Provider::GitLab,
        Provider::BitbucketCloud,
        Provider::BitbucketServer,
        Provider::Generic,
    ];

    /// A human-readable name, used in logs and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::GitLab => "GitLab",
            Provider::BitbucketCloud => "Bitbucket Cloud",
            Provider::BitbucketServer => "Bitbucket Server",
            Provider::Generic => "generic",
        }
    }

    /// The key of this provider's secret in the webhook Secret (Argo CD's `argocd-secret` names,
    /// plus `webhook.generic.secret` for Ferry's own endpoint).
    pub fn secret_key(self) -> &'static str {
        match self {
            Provider::GitHub => crate::secrets::GITHUB_SECRET_KEY,
            Provider::GitLab => crate::secrets::GITLAB_SECRET_KEY,
            Provider::BitbucketCloud => crate::secrets::BITBUCKET_UUID_KEY,
            Provider::BitbucketServer => crate::secrets::BITBUCKET_SERVER_SECRET_KEY,
            Provider::Generic => crate::secrets::GENERIC_SECRET_KEY,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of Git reference a push moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RefKind {
    /// `refs/heads/<name>`.
    Branch,
    /// `refs/tags/<name>`.
    Tag,
    /// A short name whose kind the sender did not say (the generic endpoint's `"main"`); it
    /// matches a `targetRevision` naming either a branch or a tag of that name.
    Unqualified,
    /// Any other reference (`refs/pull/1/head`, `refs/merge-requests/…`); its name is the full
    /// reference and matches only a `targetRevision` spelling it out.
    Other,
}

/// One reference a push moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushedRef {
    /// Branch, tag, or other.
    pub kind: RefKind,
    /// The short name (`main` for `refs/heads/main`, `v1` for `refs/tags/v1`), or the full
    /// reference for [`RefKind::Other`].
    pub name: String,
    /// The commit the reference points to after the push, when the payload says and the
    /// reference was not deleted.
    pub commit: Option<String>,
}

impl PushedRef {
    /// Classifies a full reference name (`refs/heads/main` → branch `main`, `refs/tags/v1` →
    /// tag `v1`, another `refs/…` → [`RefKind::Other`]); a name without `refs/` is
    /// [`RefKind::Unqualified`]. An all-zero commit (a deleted reference) becomes `None`.
    pub fn from_ref(reference: &str, commit: Option<&str>) -> Self {
        let (kind, name) = if let Some(branch) = reference.strip_prefix("refs/heads/") {
            (RefKind::Branch, branch)
        } else if let Some(tag) = reference.strip_prefix("refs/tags/") {
            (RefKind::Tag, tag)
        } else if reference.starts_with("refs/") {
            (RefKind::Other, reference)
        } else {
            (RefKind::Unqualified, reference)
        };
        Self {
            kind,
            name: name.to_owned(),
            commit: real_commit(commit),
        }
    }

    /// A reference whose kind the payload states separately from its short name (Bitbucket).
    pub fn named(kind: RefKind, name: &str, commit: Option<&str>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            commit: real_commit(commit),
        }
    }

    /// Whether this reference can be the branch called `name`.
    pub(crate) fn is_branch_named(&self, name: &str) -> bool {
        matches!(self.kind, RefKind::Branch | RefKind::Unqualified) && self.name == name
    }
}

/// `None` for a missing, empty or all-zero commit id (what providers send for a deletion).
fn real_commit(commit: Option<&str>) -> Option<String> {
    let commit = commit?.trim();
    if commit.is_empty() || commit.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(commit.to_owned())
    }
}

/// A verified push: which repository, which references, and what the payload says besides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushEvent {
    /// Who sent it.
    pub provider: Provider,
    /// Every URL the payload knows the repository by (web page, HTTPS and SSH clone URLs),
    /// as sent. [`matches`](crate::matches()) compares an application's `repoURL` with each.
    pub repo_urls: Vec<String>,
    /// The references the push moved (all of them: a Bitbucket push can move several).
    pub refs: Vec<PushedRef>,
    /// The repository's default branch, when the payload names it (GitHub, GitLab). When it
    /// does not, a `HEAD` application matches any push, as in Argo CD.
    pub default_branch: Option<String>,
    /// Paths added, modified or removed by the pushed commits, when the payload lists them
    /// (GitHub, GitLab, generic); `None` means unknown: assume anything may have changed.
    pub changed_files: Option<Vec<String>>,
}

impl PushEvent {
    /// Whether the push moved the repository's default branch (what a `targetRevision` of
    /// `HEAD` or empty follows). Without a default branch in the payload this is `true`, as
    /// Argo CD's `touchedHead` is for Bitbucket.
    pub fn touches_default_branch(&self) -> bool {
        match &self.default_branch {
            Some(default) => self.refs.iter().any(|r| r.is_branch_named(default)),
            None => true,
        }
    }

    /// Whether an application source with this `repoURL` and `targetRevision` should be
    /// refreshed; see [`matches`](crate::matches()).
    pub fn matches(&self, repo_url: &str, target_revision: &str) -> bool {
        matching::matches(self, repo_url, target_revision)
    }
}
