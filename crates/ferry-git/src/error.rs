//! [`GitError`]: everything that can go wrong talking to a repository, in classes a user can
//! act on and a controller can requeue by, plus the classification of git's stderr and the
//! scrubbing of secrets out of it.

use std::path::PathBuf;
use std::time::Duration;

/// Longest piece of git's stderr kept as an error's `detail` (the end is kept: git puts the
/// `fatal:` line last).
const MAX_DETAIL: usize = 1200;

/// An error from [`crate::GitCache`]. Every repository URL in it has its userinfo password
/// redacted, and every `detail` is git's own stderr, trimmed, with the credentials in use
/// replaced by `<redacted>`.
///
/// Classes, for a controller: [`GitError::is_transient`] errors (the server could not be
/// reached, a command timed out, local IO) deserve a retry with backoff; the others need a
/// user to change something (the revision, the URL, the credentials).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The repository URL cannot be used (malformed, unsupported scheme, forbidden `file://`).
    #[error("invalid repository URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// No branch, tag or commit of that name exists in the repository.
    #[error(
        "revision {revision:?} not found in repository {repo}: no branch, tag or commit by that name"
    )]
    RevisionNotFound { repo: String, revision: String },

    /// The server answered, but has no such repository (or hides it from these credentials,
    /// as GitHub does for private repositories).
    #[error(
        "repository {repo} not found, or not visible with the configured credentials: {detail}"
    )]
    RepositoryNotFound { repo: String, detail: String },

    /// The server refused the credentials, or needed some and none were configured.
    #[error(
        "authentication to repository {repo} failed; check the repository Secret's username/password or sshPrivateKey: {detail}"
    )]
    AuthenticationFailed { repo: String, detail: String },

    /// The server could not be reached (DNS, connection refused, TLS, host key, dropped
    /// connection). The cache keeps serving what was already fetched.
    #[error("cannot reach repository {repo}: {detail}")]
    Unreachable { repo: String, detail: String },

    /// A git command ran longer than the configured timeout and was killed.
    #[error("git {command} for repository {repo} timed out after {after:?} and was killed")]
    Timeout {
        repo: String,
        command: &'static str,
        after: Duration,
    },

    /// git failed in a way none of the classes above describes.
    #[error("git {command} for repository {repo} failed: {detail}")]
    GitFailed {
        repo: String,
        command: &'static str,
        detail: String,
    },

    /// The git binary could not be started.
    #[error("cannot run git binary {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },

    /// Local filesystem trouble in the cache directory.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

// === impl GitError ===

impl GitError {
    /// Whether retrying later, unchanged, may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GitError::Unreachable { .. }
                | GitError::Timeout { .. }
                | GitError::Io { .. }
                | GitError::Spawn { .. }
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        GitError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Maps a failed remote git command to an error class by its (scrubbed, `LC_ALL=C`) stderr.
pub(crate) fn classify(repo: &str, command: &'static str, detail: String) -> GitError {
    let lower = detail.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let repo = repo.to_owned();
    if has(&[
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "permission denied (publickey",
        "permission denied, please try again",
        "returned error: 401",
        "returned error: 403",
        "http basic: access denied",
        "invalid username or password",
    ]) {
        GitError::AuthenticationFailed { repo, detail }
    } else if has(&[
        "repository not found",
        "does not appear to be a git repository",
        "repository not exported",
        "returned error: 404",
        "no such repository",
    ]) {
        GitError::RepositoryNotFound { repo, detail }
    } else if has(&[
        "could not resolve host",
        "could not resolve hostname",
        "connection refused",
        "unable to connect",
        "failed to connect",
        "timed out",
        "network is unreachable",
        "no route to host",
        "connection reset",
        "connection closed",
        "early eof",
        "remote end hung up",
        "unable to access",
        "ssl",
        "certificate",
        "host key verification failed",
        "could not read from remote repository",
        "empty reply from server",
        "returned error: 5",
    ]) {
        GitError::Unreachable { repo, detail }
    } else {
        GitError::GitFailed {
            repo,
            command,
            detail,
        }
    }
}

/// Trims git's stderr, replaces every secret (and its percent-encoded form) with
/// `<redacted>`, redacts any `scheme://user:password@` it still contains, and keeps the last
/// [`MAX_DETAIL`] bytes.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.trim().to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, "<redacted>");
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        if encoded != *secret {
            out = out.replace(&encoded, "<redacted>");
        }
    }
    let out = redact_url_passwords(&out);
    if out.len() <= MAX_DETAIL {
        return out;
    }
    let mut start = out.len() - MAX_DETAIL;
    while !out.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &out[start..])
}

/// Replaces the password of every `scheme://user:password@host` in free text.
pub(crate) fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) if authority[..at].contains(':') => {
                let user = authority[..at].split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push_str(":<redacted>");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(stderr: &str) -> &'static str {
        match classify("r", "fetch", stderr.to_owned()) {
            GitError::AuthenticationFailed { .. } => "auth",
            GitError::RepositoryNotFound { .. } => "notfound",
            GitError::Unreachable { .. } => "unreachable",
            GitError::GitFailed { .. } => "other",
            _ => "?",
        }
    }

    #[test]
    fn classifies_what_git_prints() {
        assert_eq!(
            class("fatal: Authentication failed for 'http://127.0.0.1:1/r.git/'"),
            "auth"
        );
        assert_eq!(
            class("fatal: could not read Username for 'https://x': terminal prompts disabled"),
            "auth"
        );
        assert_eq!(
            class(
                "git@h: Permission denied (publickey).\nfatal: Could not read from remote repository."
            ),
            "auth"
        );
        assert_eq!(
            class("fatal: remote error: access denied or repository not exported: /nope.git"),
            "notfound"
        );
        assert_eq!(
            class(
                "remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found"
            ),
            "notfound"
        );
        assert_eq!(
            class(
                "fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused"
            ),
            "unreachable"
        );
        assert_eq!(
            class("fatal: unable to access 'https://x/': Could not resolve host: x"),
            "unreachable"
        );
        assert_eq!(class("fatal: something odd"), "other");
    }

    #[test]
    fn scrub_removes_secrets_and_url_passwords() {
        let s = scrub(
            "  fatal: p@ss/word and p%40ss%2Fword at https://bob:hunter2@host/x.git ok \n",
            &["p@ss/word"],
        );
        assert_eq!(
            s,
            "fatal: <redacted> and <redacted> at https://bob:<redacted>@host/x.git ok"
        );
        assert!(!s.contains("hunter2"));
    }

    #[test]
    fn scrub_keeps_the_end_of_long_output() {
        let long = format!("{}fatal: the reason", "x".repeat(5000));
        let s = scrub(&long, &[]);
        assert!(s.ends_with("fatal: the reason"));
        assert!(s.len() <= MAX_DETAIL + 3);
    }

    #[test]
    fn transient_classes() {
        let unreachable = GitError::Unreachable {
            repo: "r".into(),
            detail: "d".into(),
        };
        let missing = GitError::RevisionNotFound {
            repo: "r".into(),
            revision: "v".into(),
        };
        assert!(unreachable.is_transient());
        assert!(!missing.is_transient());
    }
}
