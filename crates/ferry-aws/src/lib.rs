//! AWS for Ferry (an adapter, layer 3): base credentials from the AWS SDK's standard chain,
//! cached role chains (hub → spoke) shared by everything that uses them, EKS tokens (a
//! presigned STS `GetCallerIdentity`, as `aws-iam-authenticator` and Argo CD's
//! `argocd-k8s-auth` make them), EKS `DescribeCluster`, and SSM Parameter Store and Secrets
//! Manager values, including `vals`-style `ref+awsssm://` / `ref+awssecrets://` references.
//!
//! One [`Aws`] per process: it holds the base configuration of each profile and the caches.
//! Every call names who to be with an [`AwsAccess`] (profile, [`RoleChain`], region).
//! Nothing here reads an environment variable or knows a test double: the wiring passes
//! [`AwsOptions`], and everything else is what the AWS SDK reads from its standard sources
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`, profiles, web identity, EKS Pod
//! Identity, instance metadata), so the same code runs against AWS or a local STS.
//!
//! Credentials and secret values only ever leave this crate as `ferry_core::Sensitive`;
//! errors ([`AwsError`]) name roles, identities, accounts, regions and endpoints, never them.
#![forbid(unsafe_code)]

mod access;
mod base;
mod cache;
mod credentials;
mod eks;
mod error;
mod options;
pub mod secrets;
mod token;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_types::SdkConfig;

pub use access::{
    AwsAccess, CHAINED_SESSION_MAX, ChainKey, DEFAULT_SESSION_DURATION, InvalidRoleArn, RoleArn,
    RoleChain, RoleHop, SessionName,
};
pub use credentials::{CallerIdentity, TemporaryCredentials};
pub use eks::EksCluster;
pub use error::{AwsError, ExternalIdHint};
pub use options::{AwsOptions, Lifetimes, SharedConfigFiles};
pub use secrets::{
    Parameters, RefError, ResolveError, SecretRef, SecretResolver, SecretSource, is_aws_reference,
    parse_reference,
};
pub use token::EksToken;

/// The AWS adapter. Cheap to clone; clones share the caches.
#[derive(Clone)]
pub struct Aws {
    inner: Arc<Inner>,
}

struct Inner {
    base: base::BaseConfigs,
    credentials: cache::FlightCache<ChainKey, credentials::Held>,
    tokens: cache::FlightCache<token::TokenKey, EksToken>,
    calls: Calls,
}

/// Counts of AWS calls made, one counter per API.
#[derive(Default)]
struct Calls {
    base_credentials: AtomicU64,
    assume_role: AtomicU64,
    get_caller_identity: AtomicU64,
    describe_cluster: AtomicU64,
    get_parameters: AtomicU64,
    get_parameters_by_path: AtomicU64,
    get_secret_value: AtomicU64,
    tokens_signed: AtomicU64,
}

impl Calls {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the adapter did so far, for `ferry bench` and `ferry cluster get`: calls per AWS API
/// and the caches' hits and misses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsStats {
    /// Base credentials asked of the standard chain (for web identity: one
    /// `AssumeRoleWithWebIdentity` each).
    pub base_credential_fetches: u64,
    pub sts_assume_role_calls: u64,
    pub sts_get_caller_identity_calls: u64,
    pub eks_describe_cluster_calls: u64,
    pub ssm_get_parameters_calls: u64,
    pub ssm_get_parameters_by_path_calls: u64,
    pub secrets_get_secret_value_calls: u64,
    /// Credential lookups answered from the cache (each hop of a chain counts).
    pub credential_hits: u64,
    /// Credential lookups that fetched (base or `AssumeRole`).
    pub credential_misses: u64,
    /// Credential lookups answered with a remembered failure, without calling AWS.
    pub credential_failure_hits: u64,
    pub token_hits: u64,
    /// EKS tokens signed (no AWS call: signing is local).
    pub tokens_signed: u64,
}

impl AwsStats {
    /// Every STS call (web identity, `AssumeRole`, `GetCallerIdentity`).
    pub fn sts_calls(&self) -> u64 {
        self.base_credential_fetches
            + self.sts_assume_role_calls
            + self.sts_get_caller_identity_calls
    }
}

// === impl Aws ===

impl Aws {
    /// Nothing is loaded or called until first use.
    pub fn new(options: AwsOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                base: base::BaseConfigs::new(options),
                credentials: cache::FlightCache::new(),
                tokens: cache::FlightCache::new(),
                calls: Calls::default(),
            }),
        }
    }

    pub fn options(&self) -> &AwsOptions {
        self.inner.base.options()
    }

    pub fn stats(&self) -> AwsStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let calls = &self.inner.calls;
        let creds = &self.inner.credentials.counters;
        let tokens = &self.inner.tokens.counters;
        AwsStats {
            base_credential_fetches: load(&calls.base_credentials),
            sts_assume_role_calls: load(&calls.assume_role),
            sts_get_caller_identity_calls: load(&calls.get_caller_identity),
            eks_describe_cluster_calls: load(&calls.describe_cluster),
            ssm_get_parameters_calls: load(&calls.get_parameters),
            ssm_get_parameters_by_path_calls: load(&calls.get_parameters_by_path),
            secrets_get_secret_value_calls: load(&calls.get_secret_value),
            credential_hits: load(&creds.hits),
            credential_misses: load(&creds.misses),
            credential_failure_hits: load(&creds.failure_hits),
            token_hits: load(&tokens.hits),
            tokens_signed: load(&calls.tokens_signed),
        }
    }

    async fn base_config(&self, access: &AwsAccess) -> SdkConfig {
        self.inner.base.get(access.profile.as_deref()).await
    }

    /// The region of `access`, else of its base configuration.
    fn region_of(
        &self,
        access: &AwsAccess,
        sdk: &SdkConfig,
        what: &str,
    ) -> Result<String, AwsError> {
        access
            .region
            .clone()
            .or_else(|| sdk.region().map(|r| r.as_ref().to_owned()))
            .ok_or_else(|| AwsError::NoRegion {
                what: what.to_owned(),
            })
    }
}
