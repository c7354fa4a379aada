//! Repository URLs: validation (only transports Ferry allows, nothing git would read as an
//! option or a remote helper), the password-free form given to git, the redacted form shown
//! to people, Argo CD's normalisation for credential matching, and the cache key.

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use crate::error::GitError;

/// How git reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Https,
    Http,
    Git,
    /// `ssh://...` or scp-like `user@host:path`.
    Ssh,
    /// `file://...` or a local path; only when the configuration allows it.
    File,
}

/// A validated repository URL.
#[derive(Clone)]
pub(crate) struct RepoUrl {
    /// The URL given to git: as written, minus any userinfo password.
    pub for_git: String,
    /// The URL shown in errors and logs: the password replaced by `<redacted>`.
    pub redacted: String,
    /// A password written into the URL (percent-decoded); used as the HTTPS password when the
    /// repository has no other credentials, and scrubbed from git's stderr.
    pub url_password: Option<String>,
    pub transport: Transport,
}

// === impl RepoUrl ===

impl RepoUrl {
    pub fn parse(url: &str) -> Result<Self, GitError> {
        let trimmed = url.trim();
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: crate::error::redact_url_passwords(trimmed),
            reason: reason.to_owned(),
        };
        if trimmed.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        if trimmed.starts_with('-') {
            return Err(invalid("a URL must not start with '-'"));
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid(
                "a URL must not contain whitespace or control characters",
            ));
        }
        let Some(scheme_end) = trimmed.find("://") else {
            return Self::parse_scp_or_path(trimmed).ok_or_else(|| {
                invalid("expected scheme://host/path or user@host:path (remote helpers like ext:: are not allowed)")
            });
        };
        let scheme = trimmed[..scheme_end].to_ascii_lowercase();
        let transport = match scheme.as_str() {
            "https" => Transport::Https,
            "http" => Transport::Http,
            "git" => Transport::Git,
            "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
            "file" => Transport::File,
            _ => {
                return Err(invalid(&format!(
                    "unsupported scheme {scheme:?} (supported: https, http, ssh, git, file)"
                )));
            }
        };
        let after = &trimmed[scheme_end + 3..];
        let authority_end = after.find('/').unwrap_or(after.len());
        let authority = &after[..authority_end];
        let path = &after[authority_end..];
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if host.is_empty() && transport != Transport::File {
            return Err(invalid("the URL has no host"));
        }
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(u), Some(p)),
                None => (Some(info), None),
            },
            None => (None, None),
        };
        let prefix = &trimmed[..scheme_end + 3];
        let with = |pw: Option<&str>| {
            let mut s = prefix.to_owned();
            if let Some(u) = user {
                s.push_str(u);
                if let Some(pw) = pw {
                    s.push(':');
                    s.push_str(pw);
                }
                s.push('@');
            }
            s.push_str(host);
            s.push_str(path);
            s
        };
        let url_password = password
            .filter(|p| !p.is_empty())
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned());
        Ok(RepoUrl {
            for_git: with(None),
            redacted: with(password.map(|_| "<redacted>")),
            url_password,
            transport,
        })
    }

    /// `user@host:path` (git's scp-like SSH syntax) or a local path.
    fn parse_scp_or_path(url: &str) -> Option<Self> {
        let local = |url: &str| RepoUrl {
            for_git: url.to_owned(),
            redacted: url.to_owned(),
            url_password: None,
            transport: Transport::File,
        };
        if url.starts_with('/') || url.starts_with("./") || url.starts_with("../") {
            return Some(local(url));
        }
        let colon = url.find(':')?;
        let host_part = &url[..colon];
        // git: a colon before any slash means scp-like; `x::y` is a remote helper.
        if host_part.is_empty() || host_part.contains('/') || url[colon + 1..].starts_with(':') {
            return None;
        }
        let host = host_part.rsplit('@').next().unwrap_or(host_part);
        if host.is_empty() || url[colon + 1..].is_empty() {
            return None;
        }
        Some(RepoUrl {
            for_git: url.to_owned(),
            redacted: url.to_owned(),
            url_password: None,
            transport: Transport::Ssh,
        })
    }

    /// Cache key: the same repository under `https://Host/o/r`, `https://host/o/r.git/` or
    /// `https://user@host/o/r` shares one cache; the path keeps its case, because servers may
    /// treat `o/R` and `o/r` as different repositories.
    pub fn cache_key(&self) -> String {
        let canonical = canonical_for_cache(&self.for_git);
        let digest = Sha256::digest(canonical.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// Argo CD's `NormalizeGitURL`, used to match Secrets to repositories: lowercased, scp-like
/// SSH turned into `host/path`, `.git` and `ssh://` dropped.
pub(crate) fn normalize_for_match(url: &str) -> String {
    let mut repo = url.trim().to_lowercase();
    if is_ssh_url(&repo) && !repo.starts_with("ssh://") {
        repo = format!("ssh://{}", repo.replacen(':', "/", 1));
    }
    if let Some(stripped) = repo.strip_suffix(".git") {
        repo = stripped.to_owned();
    }
    repo.strip_prefix("ssh://")
        .map(str::to_owned)
        .unwrap_or(repo)
}

/// Argo CD's `IsSSHURL`: `^(ssh://)?([^/:]*?)@[^@]+$`.
fn is_ssh_url(url: &str) -> bool {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    match rest.find('@') {
        Some(at) => {
            !rest[..at].contains(['/', ':'])
                && !rest[at + 1..].is_empty()
                && !rest[at + 1..].contains('@')
        }
        None => false,
    }
}

fn canonical_for_cache(for_git: &str) -> String {
    let (scheme, rest) = match for_git.find("://") {
        Some(i) => (for_git[..i].to_ascii_lowercase(), &for_git[i + 3..]),
        None => match for_git.split_once(':') {
            // scp-like: the same repository as ssh://user@host/path
            Some((host, path)) if !for_git.starts_with('/') => {
                let path = path.trim_start_matches('/');
                return canonical_for_cache(&format!("ssh://{host}/{path}"));
            }
            _ => return for_git.to_owned(),
        },
    };
    let scheme = match scheme.as_str() {
        "git+ssh" | "ssh+git" => "ssh".to_owned(),
        _ => scheme,
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = match authority.rfind('@') {
        // The ssh user is part of the identity of the repository; an https user is not.
        Some(at) if scheme == "ssh" => format!(
            "{}@{}",
            &authority[..at],
            authority[at + 1..].to_ascii_lowercase()
        ),
        Some(at) => authority[at + 1..].to_ascii_lowercase(),
        None => authority.to_ascii_lowercase(),
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> RepoUrl {
        match RepoUrl::parse(url) {
            Ok(u) => u,
            Err(e) => panic!("{url}: {e}"),
        }
    }

    #[test]
    fn passwords_leave_the_url() {
        let u = parse("https://bob:p%40ss@github.com/o/r.git");
        assert_eq!(u.for_git, "https://bob@github.com/o/r.git");
        assert_eq!(u.redacted, "https://bob:<redacted>@github.com/o/r.git");
        assert_eq!(u.url_password.as_deref(), Some("p@ss"));
        assert_eq!(u.transport, Transport::Https);
    }

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse("git@github.com:o/r.git").transport, Transport::Ssh);
        assert_eq!(parse("ssh://git@h:2222/o/r").transport, Transport::Ssh);
        assert_eq!(
            parse("git://127.0.0.1:9418/r.git").transport,
            Transport::Git
        );
        assert_eq!(parse("http://h/r").transport, Transport::Http);
        assert_eq!(parse("file:///srv/r.git").transport, Transport::File);
        assert_eq!(parse("/srv/r.git").transport, Transport::File);
    }

    #[test]
    fn rejects_what_git_would_misread() {
        for bad in [
            "",
            "-uhelp",
            "--upload-pack=touch /tmp/x",
            "ext::sh -c touch% /tmp/pwned",
            "ext::sh",
            "fd::17",
            "ftp://h/r",
            "https:///nohost",
            "https://h/r\nx",
            "relative/path",
        ] {
            assert!(
                matches!(RepoUrl::parse(bad), Err(GitError::InvalidUrl { .. })),
                "{bad:?} was accepted"
            );
        }
        let err = RepoUrl::parse("ftp://u:hunter2@h/r")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| !e.contains("hunter2")));
    }

    #[test]
    fn one_cache_per_repository() {
        let k = |u: &str| parse(u).cache_key();
        assert_eq!(
            k("https://GitHub.com/o/r"),
            k("https://github.com/o/r.git/")
        );
        assert_eq!(
            k("https://github.com/o/r"),
            k("https://bob:x@github.com/o/r")
        );
        assert_eq!(k("git@github.com:o/r.git"), k("ssh://git@github.com/o/r"));
        assert_ne!(k("https://github.com/o/r"), k("https://github.com/o/R"));
        assert_ne!(k("https://github.com/o/r"), k("ssh://git@github.com/o/r"));
        assert_eq!(k("https://github.com/o/r").len(), 32);
    }

    #[test]
    fn argo_normalisation() {
        assert_eq!(
            normalize_for_match("git@GitHub.com:Org/Repo.git"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_for_match("ssh://git@github.com/org/repo"),
            "git@github.com/org/repo"
        );
        assert_eq!(
            normalize_for_match("https://github.com/Org/Repo.git"),
            "https://github.com/org/repo"
        );
    }
}
