//! Credentials of an [`AwsAccess`]: the base credentials of its profile from the standard
//! chain, then one `AssumeRole` per hop, each level cached on its own (so that chains to prod
//! and stg through the same hub share the hub's session). Also `GetCallerIdentity`, the ARN
//! Ferry is seen as.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::SdkConfig;
use aws_types::region::Region;
use ferry_core::Sensitive;
use futures::future::BoxFuture;

use crate::access::{AwsAccess, CHAINED_SESSION_MAX};
use crate::base::endpoint_label;
use crate::cache::Fetched;
use crate::error::{AwsError, CallSite, Class, ExternalIdHint, Failure, scrub};
use crate::{Aws, Calls};

/// Credentials that do not expire (static keys) are looked at again after this long anyway,
/// in case the file or environment they came from changed.
const STATIC_RECHECK: Duration = Duration::from_secs(60 * 60);

/// Credentials for a process that needs them as such: a plugin that runs `helmfile` with
/// `vals`, say. Every field is [`Sensitive`].
#[derive(Clone, Debug)]
pub struct TemporaryCredentials {
    pub access_key_id: Sensitive<String>,
    pub secret_access_key: Sensitive<String>,
    pub session_token: Option<Sensitive<String>>,
    pub expires_at: Option<SystemTime>,
}

impl TemporaryCredentials {
    /// The standard variables every AWS SDK and CLI reads: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (when there is one), `AWS_REGION` and
    /// `AWS_DEFAULT_REGION`.
    pub fn to_env(&self, region: &str) -> Vec<(&'static str, Sensitive<String>)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
        ];
        if let Some(token) = &self.session_token {
            env.push(("AWS_SESSION_TOKEN", token.clone()));
        }
        env.push(("AWS_REGION", Sensitive::new(region.to_owned())));
        env.push(("AWS_DEFAULT_REGION", Sensitive::new(region.to_owned())));
        env
    }

    fn from_sdk(c: &Credentials) -> Self {
        Self {
            access_key_id: Sensitive::new(c.access_key_id().to_owned()),
            secret_access_key: Sensitive::new(c.secret_access_key().to_owned()),
            session_token: c.session_token().map(|t| Sensitive::new(t.to_owned())),
            expires_at: c.expiry(),
        }
    }
}

/// Who STS says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` for an assumed role.
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

/// One level of a chain as cached.
#[derive(Clone)]
pub(crate) struct Held {
    pub credentials: Credentials,
    /// The ARN these credentials act as, when STS said so (`AssumedRoleUser.Arn`).
    pub identity: Option<String>,
}

/// When to renew credentials that expire at `expires`: `before` ahead of expiry, but not
/// before two thirds of their life.
pub(crate) fn refresh_at(
    now: SystemTime,
    expires: Option<SystemTime>,
    before: Duration,
) -> SystemTime {
    match expires {
        None => now + STATIC_RECHECK,
        Some(expires) => {
            let life = expires.duration_since(now).unwrap_or_default();
            expires - before.min(life / 3)
        }
    }
}

// === impl Aws ===

impl Aws {
    /// The credentials `access` ends in, for a process that needs them as such.
    pub async fn credentials(&self, access: &AwsAccess) -> Result<TemporaryCredentials, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        Ok(TemporaryCredentials::from_sdk(&held.credentials))
    }

    /// An `SdkConfig` acting as `access` in `region` (`None`: the access's region), for an
    /// AWS client this crate does not wrap. It holds the credentials of this moment: build
    /// clients from it for one task, not for the life of the process.
    pub async fn sdk_config(
        &self,
        access: &AwsAccess,
        region: Option<&str>,
    ) -> Result<SdkConfig, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        let sdk = self.base_config(access).await;
        let region = match region {
            Some(r) => r.to_owned(),
            None => self.region_of(access, &sdk, "an AWS client")?,
        };
        Ok(sdk
            .to_builder()
            .region(Region::new(region))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(held.credentials),
            )
            .identity_cache(IdentityCache::no_cache())
            .build())
    }

    /// `GetCallerIdentity` as `access`: the ARN Ferry is seen as (for `ferry cluster get`).
    pub async fn caller_identity(&self, access: &AwsAccess) -> Result<CallerIdentity, AwsError> {
        let held = self.held(access, access.chain.hops().len()).await?;
        let sdk = self.base_config(access).await;
        let region = self.region_of(access, &sdk, "STS GetCallerIdentity")?;
        let site = CallSite {
            service: "STS",
            operation: "GetCallerIdentity",
            endpoint: endpoint_label(&sdk, "STS", &region),
            region: region.clone(),
            identity: held
                .identity
                .clone()
                .unwrap_or_else(|| access.cache_key().to_string()),
            account: access.account().unwrap_or("unknown").to_owned(),
            needs: "none",
        };
        let result = self.who_is(&sdk, &region, &held.credentials).await;
        result.map_err(|f| self.after_failure(access, site.error(f)))
    }

    /// The account `access` acts in: the last role's, else what STS says (one
    /// `GetCallerIdentity`, made only for an error's words).
    pub(crate) async fn account_of(&self, access: &AwsAccess, region: &str) -> String {
        if let Some(a) = access.account() {
            return a.to_owned();
        }
        let Ok(held) = self.held(access, 0).await else {
            return "unknown (base credentials)".to_owned();
        };
        let sdk = self.base_config(access).await;
        match self.who_is(&sdk, region, &held.credentials).await {
            Ok(id) => id.account,
            Err(_) => "unknown (base credentials)".to_owned(),
        }
    }

    /// Where a call as `access` was made, for the words of its error. Looks the account up
    /// (one `GetCallerIdentity`) only when the chain names no role.
    pub(crate) async fn call_site(
        &self,
        access: &AwsAccess,
        sdk: &SdkConfig,
        held: &Held,
        call: (&'static str, &'static str, &'static str),
        region: &str,
    ) -> CallSite {
        let (service, operation, needs) = call;
        let account = match access.account() {
            Some(a) => a.to_owned(),
            None => match self.who_is(sdk, region, &held.credentials).await {
                Ok(id) => id.account,
                Err(_) => "unknown (base credentials)".to_owned(),
            },
        };
        CallSite {
            service,
            operation,
            endpoint: endpoint_label(sdk, service, region),
            region: region.to_owned(),
            identity: held
                .identity
                .clone()
                .unwrap_or_else(|| access.cache_key().to_string()),
            account,
            needs,
        }
    }

    /// A call failed: credentials STS or a service refused as expired are dropped, so that
    /// the next attempt gets new ones.
    pub(crate) fn after_failure(&self, access: &AwsAccess, err: AwsError) -> AwsError {
        if matches!(err, AwsError::ExpiredToken { .. }) {
            self.inner.credentials.invalidate(&access.cache_key());
            self.inner
                .tokens
                .invalidate_matching(|k| k.chain == access.cache_key());
        }
        err
    }

    async fn who_is(
        &self,
        sdk: &SdkConfig,
        region: &str,
        credentials: &Credentials,
    ) -> Result<CallerIdentity, Failure> {
        let client = sts_client(sdk, region, credentials);
        Calls::bump(&self.inner.calls.get_caller_identity);
        let out = client
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Failure::from_sdk(&e))?;
        Ok(CallerIdentity {
            arn: out.arn().unwrap_or_default().to_owned(),
            account: out.account().unwrap_or_default().to_owned(),
            user_id: out.user_id().unwrap_or_default().to_owned(),
        })
    }

    /// Why renewing `access`'s credentials last failed, while those held are still valid and
    /// in use: the failure of the first level of the chain (the base credentials, then each
    /// hop) whose last renewal failed. `None` once every level has renewed since.
    pub fn renewal_problem(&self, access: &AwsAccess) -> Option<AwsError> {
        (0..=access.chain.hops().len())
            .find_map(|level| self.inner.credentials.failure(&access.key_of(level)))
    }

    /// The first `hops` hops of `access`'s chain, from the cache.
    pub(crate) fn held<'a>(
        &'a self,
        access: &'a AwsAccess,
        hops: usize,
    ) -> BoxFuture<'a, Result<Held, AwsError>> {
        Box::pin(async move {
            let key = access.key_of(hops);
            let backoff = self.options().lifetimes.failure_backoff;
            self.inner
                .credentials
                .get(&key, backoff, || async move {
                    if hops == 0 {
                        self.fetch_base(access).await
                    } else {
                        let parent = self.held(access, hops - 1).await?;
                        self.assume(access, hops - 1, parent).await
                    }
                })
                .await
        })
    }

    async fn fetch_base(&self, access: &AwsAccess) -> Result<Fetched<Held>, AwsError> {
        let sdk = self.base_config(access).await;
        let from = match &access.profile {
            Some(p) => format!("AWS profile {p}"),
            None => "the default AWS credential chain".to_owned(),
        };
        let Some(provider) = sdk.credentials_provider() else {
            return Err(AwsError::NoCredentials {
                from,
                detail: "no credentials provider is configured".to_owned(),
            });
        };
        Calls::bump(&self.inner.calls.base_credentials);
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| base_error(&sdk, access, from, &e))?;
        let now = SystemTime::now();
        let before = self.options().lifetimes.credential_refresh_before_expiry;
        Ok(Fetched {
            refresh_at: refresh_at(now, credentials.expiry(), before),
            expires_at: credentials.expiry(),
            value: Held {
                credentials,
                identity: None,
            },
        })
    }

    /// `AssumeRole` of hop `index` with the credentials of the level before it.
    async fn assume(
        &self,
        access: &AwsAccess,
        index: usize,
        parent: Held,
    ) -> Result<Fetched<Held>, AwsError> {
        let hop = &access.chain.hops()[index];
        let sdk = self.base_config(access).await;
        let region = self.region_of(access, &sdk, "STS AssumeRole")?;
        let chained = index > 0 || parent.credentials.session_token().is_some();
        let duration = if chained {
            hop.duration.min(CHAINED_SESSION_MAX)
        } else {
            hop.duration
        };
        let client = sts_client(&sdk, &region, &parent.credentials);
        let mut request = client
            .assume_role()
            .role_arn(hop.role_arn.as_str())
            .role_session_name(hop.session_name.as_str())
            .duration_seconds(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX));
        if let Some(external_id) = &hop.external_id {
            request = request.external_id(external_id);
        }
        Calls::bump(&self.inner.calls.assume_role);
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                let failure = Failure::from_sdk(&e);
                // Who was refused matters to a denial: ask STS when the level before is the
                // base (whose ARN nobody told us). Nothing is asked for other failures.
                let identity = match &parent.identity {
                    Some(arn) => arn.clone(),
                    None if matches!(failure.class(), Class::Denied | Class::Expired) => self
                        .who_is(&sdk, &region, &parent.credentials)
                        .await
                        .map(|id| id.arn)
                        .unwrap_or_else(|_| access.key_of(index).to_string()),
                    None => access.key_of(index).to_string(),
                };
                if let Failure::Service { message, .. } = &failure
                    && failure.class() == Class::Denied
                {
                    return Err(AwsError::AssumeRoleDenied {
                        role_arn: hop.role_arn.to_string(),
                        identity,
                        external_id: match hop.external_id {
                            Some(_) => ExternalIdHint::Sent,
                            None => ExternalIdHint::NotSent,
                        },
                        message: message.clone(),
                    });
                }
                if failure.class() == Class::Expired {
                    // The level before was refused: fetch it anew next time.
                    self.inner.credentials.invalidate(&access.key_of(index));
                }
                let site = CallSite {
                    service: "STS",
                    operation: "AssumeRole",
                    endpoint: endpoint_label(&sdk, "STS", &region),
                    region,
                    identity,
                    account: hop.role_arn.account().to_owned(),
                    needs: "sts:AssumeRole",
                };
                return Err(site.error(failure));
            }
        };
        let Some(c) = out.credentials() else {
            return Err(AwsError::Service {
                service: "STS",
                operation: "AssumeRole",
                code: "no credentials".to_owned(),
                message: format!(
                    "STS answered AssumeRole of {} without credentials",
                    hop.role_arn
                ),
            });
        };
        let expires = SystemTime::try_from(*c.expiration()).ok();
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires,
            "ferry-assume-role",
        );
        let now = SystemTime::now();
        let before = self.options().lifetimes.credential_refresh_before_expiry;
        Ok(Fetched {
            refresh_at: refresh_at(now, expires, before),
            expires_at: expires,
            value: Held {
                credentials,
                identity: out.assumed_role_user().map(|u| u.arn().to_owned()),
            },
        })
    }
}

fn sts_client(sdk: &SdkConfig, region: &str, credentials: &Credentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials.clone())
        .identity_cache(IdentityCache::no_cache())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// The base chain failed. A web-identity exchange that STS throttled or refused is told as
/// such; anything else is "no credentials" with the chain's own explanation.
fn base_error(sdk: &SdkConfig, access: &AwsAccess, from: String, e: &CredentialsError) -> AwsError {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(sdk_err) =
            s.downcast_ref::<SdkError<AssumeRoleWithWebIdentityError, HttpResponse>>()
        {
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            let failure = Failure::from_sdk(sdk_err);
            if matches!(failure.class(), Class::Throttled)
                || matches!(failure, Failure::Unreachable(_))
            {
                let site = CallSite {
                    service: "STS",
                    operation: "AssumeRoleWithWebIdentity",
                    endpoint: endpoint_label(sdk, "STS", &region),
                    region,
                    identity: from.clone(),
                    account: access.key_of(0).to_string(),
                    needs: "sts:AssumeRoleWithWebIdentity",
                };
                return site.error(failure);
            }
        }
        source = s.source();
    }
    if let CredentialsError::ProviderTimedOut(_) = e {
        return AwsError::Unreachable {
            service: "credential provider",
            endpoint: from,
            cause: scrub(&DisplayErrorContext(e).to_string()),
        };
    }
    AwsError::NoCredentials {
        from,
        detail: scrub(&DisplayErrorContext(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_renewed_ahead_of_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let min = |m: u64| Duration::from_secs(m * 60);
        let five = min(5);
        // An hour's session: five minutes before the end.
        assert_eq!(refresh_at(now, Some(now + min(60)), five), now + min(55));
        // Fifteen minutes: at ten.
        assert_eq!(refresh_at(now, Some(now + min(15)), five), now + min(10));
        // Three minutes: after two.
        assert_eq!(refresh_at(now, Some(now + min(3)), five), now + min(2));
        // Already expired: now.
        assert!(refresh_at(now, Some(now), five) <= now);
        assert_eq!(refresh_at(now, None, five), now + STATIC_RECHECK);
    }

    #[test]
    fn handed_out_credentials_never_print() {
        let c = TemporaryCredentials::from_sdk(&Credentials::new(
            "ASIAEXAMPLEEXAMPLE12",
            "very-secret",
            Some("token-value".to_owned()),
            None,
            "test",
        ));
        let printed = format!("{c:?} {:?}", c.to_env("eu-west-1"));
        for secret in ["ASIAEXAMPLE", "very-secret", "token-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        let env = c.to_env("eu-west-1");
        assert_eq!(env.len(), 5);
        assert_eq!(env[2].0, "AWS_SESSION_TOKEN");
        assert_eq!(env[2].1.expose(), "token-value");
    }
}
