//! Repository credentials, read from Secrets in Argo CD's declarative format so existing
//! registrations work unchanged:
//!
//! - label `argocd.argoproj.io/secret-type: repository`: one repository (`url`), with
//!   optional `username`/`password` or `sshPrivateKey`, `insecure`, `type`, `project`;
//! - label `argocd.argoproj.io/secret-type: repo-creds`: a credential template for every
//!   repository whose URL starts with `url`.
//!
//! Values are read from `data` (base64, as the API server returns Secrets), with `stringData`
//! (as written in manifests) taking precedence the way the API server merges it.
//!
//! Matching follows Argo CD (`util/db/repository_secrets.go`, `util/git.NormalizeGitURL`): a
//! `repository` Secret for the same normalised URL that carries credentials wins; otherwise
//! the `repo-creds` template with the longest matching normalised prefix. Only `type: git`
//! (the default) is considered; `helm` and `oci` entries belong to other adapters.

use base64::Engine;
use ferry_core::Sensitive;
use serde_json::Value;

use crate::error::redact_url_passwords;
use crate::repourl::normalize_for_match;

const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// How git authenticates to a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP(S) Basic: a username and a password or access token, given to git through
    /// `GIT_ASKPASS` (never argv, never the URL).
    Https {
        username: String,
        password: Sensitive<String>,
    },
    /// SSH with a private key (OpenSSH or PEM). `insecure_ignore_host_key` turns host key
    /// checking off; otherwise unknown hosts are trusted on first use (`accept-new`) and
    /// remembered under the cache root.
    Ssh {
        private_key: Sensitive<String>,
        insecure_ignore_host_key: bool,
    },
}

/// Which kind of Secret a [`RepoSecret`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoSecretKind {
    /// `argocd.argoproj.io/secret-type: repository`: one repository, matched by URL.
    Repository,
    /// `argocd.argoproj.io/secret-type: repo-creds`: a template, matched by URL prefix.
    RepoCreds,
}

/// One repository or credential-template Secret, decoded. `Debug` never shows the secrets
/// (they are [`Sensitive`]; `url` is redacted when it was given with a password in it).
#[derive(Clone, PartialEq, Eq)]
pub struct RepoSecret {
    /// `namespace/name` of the Secret, for messages.
    pub name: String,
    pub kind: RepoSecretKind,
    pub url: String,
    /// `type`: `git` when absent.
    pub repo_type: String,
    pub project: Option<String>,
    pub username: Option<String>,
    pub password: Option<Sensitive<String>>,
    pub ssh_private_key: Option<Sensitive<String>>,
    /// `insecure: "true"`: skip TLS verification (HTTPS) or host key checking (SSH).
    pub insecure: bool,
}

/// Why a labelled Secret could not be read. Names the Secret and the key, never a value.
#[derive(Debug, thiserror::Error)]
pub enum RepoSecretError {
    #[error("repository Secret {secret}: data key {key:?} is not valid base64 UTF-8 text")]
    BadValue { secret: String, key: String },
    #[error("repository Secret {secret} has no `url`")]
    MissingUrl { secret: String },
}

// === impl RepoSecret ===

impl std::fmt::Debug for RepoSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoSecret")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redact_url_passwords(&self.url))
            .field("repo_type", &self.repo_type)
            .field("project", &self.project)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("ssh_private_key", &self.ssh_private_key)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl RepoSecret {
    /// Reads one Secret (JSON as the Kubernetes API returns it). `Ok(None)` when it is not a
    /// repository or repo-creds Secret.
    pub fn from_secret(secret: &Value) -> Result<Option<Self>, RepoSecretError> {
        let meta = &secret["metadata"];
        let kind = match meta["labels"][SECRET_TYPE_LABEL].as_str() {
            Some("repository") => RepoSecretKind::Repository,
            Some("repo-creds") => RepoSecretKind::RepoCreds,
            _ => return Ok(None),
        };
        let name = format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default()
        );
        let get = |key: &str| -> Result<Option<String>, RepoSecretError> {
            if let Some(s) = secret["stringData"][key].as_str() {
                return Ok(Some(s.to_owned()));
            }
            let Some(encoded) = secret["data"][key].as_str() else {
                return Ok(None);
            };
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map(Some)
                .ok_or_else(|| RepoSecretError::BadValue {
                    secret: name.clone(),
                    key: key.to_owned(),
                })
        };
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let url = non_empty(get("url")?).ok_or_else(|| RepoSecretError::MissingUrl {
            secret: name.clone(),
        })?;
        Ok(Some(RepoSecret {
            kind,
            url: url.trim().to_owned(),
            repo_type: non_empty(get("type")?).unwrap_or_else(|| "git".to_owned()),
            project: non_empty(get("project")?),
            username: non_empty(get("username")?),
            password: non_empty(get("password")?).map(Sensitive::new),
            ssh_private_key: non_empty(get("sshPrivateKey")?).map(Sensitive::new),
            insecure: get("insecure")?.is_some_and(|v| v.trim() == "true"),
            name,
        }))
    }

    fn is_git(&self) -> bool {
        self.repo_type.eq_ignore_ascii_case("git")
    }

    /// The credentials this Secret holds for `url`: the SSH key for SSH URLs, the
    /// username/password for the others.
    fn credentials_for(&self, url: &str, insecure: bool) -> Option<Credentials> {
        if is_ssh(url) {
            self.ssh_private_key.as_ref().map(|key| Credentials::Ssh {
                private_key: key.clone(),
                insecure_ignore_host_key: insecure,
            })
        } else if self.username.is_some() || self.password.is_some() {
            Some(Credentials::Https {
                username: self.username.clone().unwrap_or_default(),
                password: self.password.clone().unwrap_or_default(),
            })
        } else {
            None
        }
    }
}

/// Decodes every repository and repo-creds Secret among `secrets`; other Secrets are skipped,
/// and unreadable ones are logged (by name) and skipped.
pub fn repositories_from_secrets(secrets: &[Value]) -> Vec<RepoSecret> {
    secrets
        .iter()
        .filter_map(|s| match RepoSecret::from_secret(s) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "skipping repository Secret");
                None
            }
        })
        .collect()
}

/// The credentials for `url`: a `repository` Secret for the same URL (normalised as Argo CD
/// does) if it has credentials, else the `repo-creds` template with the longest matching URL
/// prefix, else none.
pub fn credentials_for(url: &str, secrets: &[RepoSecret]) -> Option<Credentials> {
    let insecure = repository_secret(url, secrets).is_some_and(|s| s.insecure);
    if let Some(creds) =
        repository_secret(url, secrets).and_then(|s| s.credentials_for(url, insecure))
    {
        return Some(creds);
    }
    let wanted = normalize_for_match(url);
    secrets
        .iter()
        .filter(|s| s.kind == RepoSecretKind::RepoCreds && s.is_git())
        .filter_map(|s| {
            let prefix = normalize_for_match(&s.url);
            (!prefix.is_empty() && wanted.starts_with(&prefix)).then_some((prefix.len(), s))
        })
        // the first of equally long prefixes wins, as in Argo CD
        .fold(None::<(usize, &RepoSecret)>, |best, (len, s)| match best {
            Some((best_len, _)) if best_len >= len => best,
            _ => Some((len, s)),
        })
        .and_then(|(_, s)| s.credentials_for(url, insecure))
}

/// Whether `insecure: "true"` is set on the `repository` Secret for `url` (TLS verification
/// off for HTTPS).
pub fn insecure_for(url: &str, secrets: &[RepoSecret]) -> bool {
    repository_secret(url, secrets).is_some_and(|s| s.insecure)
}

fn repository_secret<'a>(url: &str, secrets: &'a [RepoSecret]) -> Option<&'a RepoSecret> {
    let wanted = normalize_for_match(url);
    secrets.iter().find(|s| {
        s.kind == RepoSecretKind::Repository && s.is_git() && normalize_for_match(&s.url) == wanted
    })
}

fn is_ssh(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("ssh://")
        || lower.starts_with("git+ssh://")
        || lower.starts_with("ssh+git://")
        || (!lower.contains("://") && !lower.starts_with('/') && lower.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(name: &str, kind: &str, data: &[(&str, &str)]) -> Value {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(b64(v))))
            .collect();
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "ferry", "labels": {SECRET_TYPE_LABEL: kind}},
            "data": data,
        })
    }

    fn password(c: Option<Credentials>) -> Option<String> {
        match c {
            Some(Credentials::Https { password, .. }) => Some(password.expose().clone()),
            _ => None,
        }
    }

    #[test]
    fn reads_argo_secrets_and_skips_others() {
        let secrets = repositories_from_secrets(&[
            secret(
                "r",
                "repository",
                &[
                    ("url", "https://h/o/r"),
                    ("username", "u"),
                    ("password", "p"),
                    ("insecure", "true"),
                ],
            ),
            secret("c", "cluster", &[("server", "https://k")]),
            json!({"metadata": {"name": "bad", "labels": {SECRET_TYPE_LABEL: "repository"}}, "data": {"url": "!!"}}),
            json!({"metadata": {"name": "s", "labels": {SECRET_TYPE_LABEL: "repo-creds"}}, "stringData": {"url": "https://h/"}}),
        ]);
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[0].name, "ferry/r");
        assert_eq!(secrets[0].kind, RepoSecretKind::Repository);
        assert!(secrets[0].insecure);
        assert_eq!(secrets[1].kind, RepoSecretKind::RepoCreds);
        assert!(!format!("{secrets:?}").contains("\"p\""));
    }

    #[test]
    fn bad_base64_names_the_secret_and_key_only() {
        let s = json!({"metadata": {"name": "x", "namespace": "ferry", "labels": {SECRET_TYPE_LABEL: "repository"}},
                       "data": {"url": b64("https://h/r"), "password": "not base64 hunter2"}});
        let err = RepoSecret::from_secret(&s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("ferry/x") && err.contains("password"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn exact_repository_first_then_longest_prefix() {
        let secrets = repositories_from_secrets(&[
            secret(
                "org",
                "repo-creds",
                &[
                    ("url", "https://github.com/org"),
                    ("username", "u"),
                    ("password", "org"),
                ],
            ),
            secret(
                "team",
                "repo-creds",
                &[
                    ("url", "https://github.com/org/team-"),
                    ("username", "u"),
                    ("password", "team"),
                ],
            ),
            secret(
                "all",
                "repo-creds",
                &[
                    ("url", "https://github.com/"),
                    ("username", "u"),
                    ("password", "all"),
                ],
            ),
            secret(
                "one",
                "repository",
                &[
                    ("url", "https://github.com/org/special.git"),
                    ("username", "u"),
                    ("password", "one"),
                ],
            ),
            secret(
                "nocreds",
                "repository",
                &[("url", "https://github.com/org/team-b")],
            ),
            secret(
                "helm",
                "repo-creds",
                &[
                    ("url", "https://github.com/org/helm"),
                    ("type", "helm"),
                    ("password", "helm"),
                ],
            ),
        ]);
        let pw = |url: &str| password(credentials_for(url, &secrets));
        assert_eq!(pw("https://github.com/org/special").as_deref(), Some("one"));
        assert_eq!(
            pw("https://GitHub.com/Org/Special.git").as_deref(),
            Some("one")
        );
        assert_eq!(pw("https://github.com/org/team-a").as_deref(), Some("team"));
        // a repository Secret without credentials falls back to the templates
        assert_eq!(pw("https://github.com/org/team-b").as_deref(), Some("team"));
        assert_eq!(pw("https://github.com/org/other").as_deref(), Some("org"));
        assert_eq!(
            pw("https://github.com/org/helm-charts").as_deref(),
            Some("org")
        );
        assert_eq!(pw("https://github.com/else/x").as_deref(), Some("all"));
        assert_eq!(pw("https://gitlab.com/org/x"), None);
    }

    #[test]
    fn ssh_urls_get_the_key() {
        let secrets = repositories_from_secrets(&[
            secret(
                "k",
                "repo-creds",
                &[
                    ("url", "git@github.com:org"),
                    ("sshPrivateKey", "KEY"),
                    ("password", "pw"),
                ],
            ),
            secret(
                "r",
                "repository",
                &[("url", "git@github.com:org/r.git"), ("insecure", "true")],
            ),
        ]);
        match credentials_for("git@github.com:org/r.git", &secrets) {
            Some(Credentials::Ssh {
                private_key,
                insecure_ignore_host_key,
            }) => {
                assert_eq!(private_key.expose(), "KEY");
                assert!(insecure_ignore_host_key);
            }
            other => panic!("expected ssh credentials, got {other:?}"),
        }
        assert!(matches!(
            credentials_for("ssh://git@github.com/org/x", &secrets),
            Some(Credentials::Ssh {
                insecure_ignore_host_key: false,
                ..
            })
        ));
        assert_eq!(
            password(credentials_for("https://github.com/org/x", &secrets)),
            None
        );
    }
}
