//! The shared secrets webhooks are verified with, under Argo CD's `argocd-secret` key names.

use std::sync::RwLock;

use ferry_core::Sensitive;

use crate::event::Provider;

/// GitHub's HMAC secret (`X-Hub-Signature-256`).
pub const GITHUB_SECRET_KEY: &str = "webhook.github.secret";
/// GitLab's token (`X-Gitlab-Token`).
pub const GITLAB_SECRET_KEY: &str = "webhook.gitlab.secret";
/// Bitbucket Cloud's webhook UUID (`X-Hook-UUID`).
pub const BITBUCKET_UUID_KEY: &str = "webhook.bitbucket.uuid";
/// Bitbucket Server's HMAC secret (`X-Hub-Signature`).
pub const BITBUCKET_SERVER_SECRET_KEY: &str = "webhook.bitbucketserver.secret";
/// Ferry's generic endpoint's HMAC secret (`X-Ferry-Signature-256`); not an Argo CD key.
pub const GENERIC_SECRET_KEY: &str = "webhook.generic.secret";

/// One secret per provider. A provider without one has all its webhooks refused (Argo CD
/// would accept them unverified).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    /// `webhook.github.secret`.
    pub github: Option<Sensitive<String>>,
    /// `webhook.gitlab.secret`.
    pub gitlab: Option<Sensitive<String>>,
    /// `webhook.bitbucket.uuid`.
    pub bitbucket_uuid: Option<Sensitive<String>>,
    /// `webhook.bitbucketserver.secret`.
    pub bitbucket_server: Option<Sensitive<String>>,
    /// `webhook.generic.secret`.
    pub generic: Option<Sensitive<String>>,
}

impl WebhookSecrets {
    /// Reads the keys above from a Secret's `data` (or `stringData`): other keys are ignored,
    /// and so are empty values (as in Argo CD) and values that are not UTF-8 (with a warning
    /// naming the key). Values are used as they are, without trimming, as Argo CD does.
    pub fn from_secret_data<K, V>(data: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut secrets = Self::default();
        for (key, value) in data {
            let key = key.as_ref();
            let Some(provider) = Provider::ALL.into_iter().find(|p| p.secret_key() == key) else {
                continue;
            };
            let value = match String::from_utf8(value.as_ref().to_vec()) {
                Ok(v) if v.is_empty() => continue,
                Ok(v) => v,
                Err(_) => {
                    tracing::warn!(key, "webhook secret is not UTF-8; ignoring it");
                    continue;
                }
            };
            *secrets.slot(provider) = Some(Sensitive::new(value));
        }
        secrets
    }

    /// The secret configured for `provider`, if any (empty counts as none).
    pub fn for_provider(&self, provider: Provider) -> Option<&Sensitive<String>> {
        let secret = match provider {
            Provider::GitHub => &self.github,
            Provider::GitLab => &self.gitlab,
            Provider::BitbucketCloud => &self.bitbucket_uuid,
            Provider::BitbucketServer => &self.bitbucket_server,
            Provider::Generic => &self.generic,
        };
        secret.as_ref().filter(|s| !s.expose().is_empty())
    }

    fn slot(&mut self, provider: Provider) -> &mut Option<Sensitive<String>> {
        match provider {
            Provider::GitHub => &mut self.github,
            Provider::GitLab => &mut self.gitlab,
            Provider::BitbucketCloud => &mut self.bitbucket_uuid,
            Provider::BitbucketServer => &mut self.bitbucket_server,
            Provider::Generic => &mut self.generic,
        }
    }
}

/// Where the webhook handler reads the secrets, once per request, so they can change while it
/// runs (the controller feeds them from a Kubernetes Secret it watches).
pub trait SecretSource: Send + Sync {
    /// The secrets in force now.
    fn secrets(&self) -> WebhookSecrets;
}

impl SecretSource for WebhookSecrets {
    fn secrets(&self) -> WebhookSecrets {
        self.clone()
    }
}

impl<F> SecretSource for F
where
    F: Fn() -> WebhookSecrets + Send + Sync,
{
    fn secrets(&self) -> WebhookSecrets {
        self()
    }
}

/// A [`SecretSource`] whose secrets are replaced with [`SharedSecrets::set`], e.g. each time
/// the watched Secret changes.
#[derive(Debug, Default)]
pub struct SharedSecrets(RwLock<WebhookSecrets>);

impl SharedSecrets {
    /// Starts with `secrets`.
    pub fn new(secrets: WebhookSecrets) -> Self {
        Self(RwLock::new(secrets))
    }

    /// Replaces the secrets; requests after this call use the new ones.
    pub fn set(&self, secrets: WebhookSecrets) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = secrets;
    }
}

impl SecretSource for SharedSecrets {
    fn secrets(&self) -> WebhookSecrets {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_argo_key_names() {
        let data = [
            ("webhook.github.secret", b"gh".to_vec()),
            ("webhook.gitlab.secret", b"gl".to_vec()),
            ("webhook.bitbucket.uuid", b"{uuid}".to_vec()),
            ("webhook.bitbucketserver.secret", b"bbs".to_vec()),
            ("webhook.generic.secret", b"gen".to_vec()),
            ("server.secretkey", b"unrelated".to_vec()),
        ];
        let s = WebhookSecrets::from_secret_data(data);
        assert_eq!(s.github.as_ref().map(|v| v.expose().as_str()), Some("gh"));
        assert_eq!(s.gitlab.as_ref().map(|v| v.expose().as_str()), Some("gl"));
        assert_eq!(
            s.bitbucket_uuid.as_ref().map(|v| v.expose().as_str()),
            Some("{uuid}")
        );
        assert_eq!(
            s.bitbucket_server.as_ref().map(|v| v.expose().as_str()),
            Some("bbs")
        );
        assert_eq!(s.generic.as_ref().map(|v| v.expose().as_str()), Some("gen"));
    }

    #[test]
    fn empty_and_binary_values_are_not_secrets() {
        let s = WebhookSecrets::from_secret_data([
            ("webhook.github.secret", &b""[..]),
            ("webhook.gitlab.secret", &[0xff, 0xfe][..]),
        ]);
        assert_eq!(s, WebhookSecrets::default());
        let explicit_empty = WebhookSecrets {
            github: Some(Sensitive::new(String::new())),
            ..WebhookSecrets::default()
        };
        assert!(explicit_empty.for_provider(Provider::GitHub).is_none());
    }

    #[test]
    fn debug_never_shows_values() {
        let s = WebhookSecrets {
            github: Some(Sensitive::new("hunter2".to_owned())),
            ..WebhookSecrets::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn shared_secrets_change() {
        let shared = SharedSecrets::default();
        assert!(shared.secrets().github.is_none());
        shared.set(WebhookSecrets {
            github: Some(Sensitive::new("new".to_owned())),
            ..WebhookSecrets::default()
        });
        assert!(shared.secrets().for_provider(Provider::GitHub).is_some());
    }
}
