//! The inputs of the git adapter: [`GitConfig`] (where the cache lives, how long git may run)
//! and [`Repo`] (a repository URL with its credentials).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::credentials::{Credentials, RepoSecret, credentials_for, insecure_for};
use crate::error::redact_url_passwords;

/// Default limit for one git command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables copied from Ferry's own environment into git's by default: the
/// search path, proxies and CA bundle locations. Everything else is cleared.
pub const DEFAULT_PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
];

/// Configuration of a [`crate::GitCache`].
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// The cache directory (`repos/`, `trees/`, `tmp/`, a private `home/`). Owned by one
    /// Ferry process: leftovers in `tmp/` are deleted at start.
    pub root: PathBuf,
    /// Limit for one git command; the command and its children are killed when it passes.
    pub command_timeout: Duration,
    /// The git executable (looked up in `PATH` when relative).
    pub git_binary: PathBuf,
    /// Allow `file://` URLs and local paths. Off by default: an Application must not be able
    /// to read repositories on the controller's disk.
    pub allow_file_urls: bool,
    /// Names of environment variables passed through to git (see
    /// [`DEFAULT_PASSTHROUGH_ENV`]).
    pub passthrough_env: Vec<String>,
}

impl GitConfig {
    /// Defaults: 60 s per command, `git` from `PATH`, no `file://`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        GitConfig {
            root: root.into(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            git_binary: PathBuf::from("git"),
            allow_file_urls: false,
            passthrough_env: DEFAULT_PASSTHROUGH_ENV
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

/// A repository as an Application names it, with the credentials to reach it. `Debug` never
/// shows a secret (credentials are [`ferry_core::Sensitive`]; a password inside `url` is
/// redacted there and removed before git sees the URL).
#[derive(Clone, PartialEq, Eq)]
pub struct Repo {
    /// `https://`, `http://`, `ssh://`, scp-like `user@host:path`, `git://` (and `file://`
    /// when allowed).
    pub url: String,
    pub credentials: Option<Credentials>,
    /// Skip TLS verification for HTTPS (the repository Secret's `insecure: "true"`).
    pub insecure_skip_tls_verify: bool,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repo")
            .field("url", &redact_url_passwords(&self.url))
            .field("credentials", &self.credentials)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .finish()
    }
}

impl Repo {
    /// A repository without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Repo {
            url: url.into(),
            credentials: None,
            insecure_skip_tls_verify: false,
        }
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The repository `url` with credentials and `insecure` taken from repository Secrets
    /// (see [`credentials_for`]).
    pub fn from_secrets(url: impl Into<String>, secrets: &[RepoSecret]) -> Self {
        let url = url.into();
        Repo {
            credentials: credentials_for(&url, secrets),
            insecure_skip_tls_verify: insecure_for(&url, secrets),
            url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_url_password() {
        let repo = Repo::new("https://bob:hunter2@h/r.git");
        let shown = format!("{repo:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("bob:<redacted>@h"),
            "{shown}"
        );
    }
}
