//! EKS authentication for an emulated cluster, as EKS runs it: the API server hands a bearer
//! token `k8s-aws-v1.<base64url presigned STS GetCallerIdentity URL>` to
//! aws-iam-authenticator, which checks its form ([`token`]), asks STS who signed it
//! ([`sts`]), and maps that principal through access entries and the `kube-system/aws-auth`
//! ConfigMap to a Kubernetes user and groups ([`mapping`]). The emulator's RBAC then
//! authorizes that user like any other. A token that is ill-formed, expired, for another STS
//! host, refused by STS, or whose principal maps to nothing answers 401, as EKS does; a mapped
//! user without permission gets RBAC's 403.
//!
//! STS answers are cached per token (by its SHA-256) until the token expires, and concurrent
//! requests with one new token share a single STS call, so a client that watches and lists a
//! lot costs one STS call per token. The mapping is not cached: a change to `aws-auth` or to the
//! access entries counts from the next request (EKS's API server caches webhook answers for up
//! to two minutes; tests should not depend on that delay, so it is not emulated).
//!
//! Nothing here logs or returns a token: refusals say why in words that name no secret.

mod mapping;
mod sts;
mod token;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferry_core::Sensitive;
use serde::Serialize;
use serde_json::Value;
use sha2::Digest as _;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

pub use mapping::{AccessEntry, MappingError};
pub use sts::StsDialect;
pub use token::PRESIGNED_LIFETIME;

use crate::auth::User;
use crate::cluster::ClusterInner;
use mapping::{AwsAuth, Identity};
use token::Endpoint;

/// Verified tokens kept at most; past this, expired ones are dropped, then all.
const MAX_CACHED: usize = 10_000;

/// An emulated cluster's EKS identity and how it verifies tokens.
#[derive(Debug, Clone)]
pub struct EksConfig {
    /// The EKS cluster name: what clients sign as `x-k8s-aws-id` and the verifier sends.
    pub cluster_name: String,
    /// The 12-digit account the cluster lives in.
    pub account_id: String,
    pub region: String,
    /// Where tokens must point and are verified; `None` is `https://sts.<region>.amazonaws.com`.
    pub sts_endpoint: Option<String>,
    pub sts_dialect: StsDialect,
    /// How long after its `X-Amz-Date` a token is accepted (15 minutes; tests shorten it).
    pub token_lifetime: Duration,
    /// Access entries the cluster starts with (more can be added while it runs).
    pub access_entries: Vec<AccessEntry>,
}

impl EksConfig {
    pub fn new(cluster_name: &str, account_id: &str, region: &str) -> Self {
        Self {
            cluster_name: cluster_name.to_owned(),
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            sts_endpoint: None,
            sts_dialect: StsDialect::Aws,
            token_lifetime: PRESIGNED_LIFETIME,
            access_entries: Vec::new(),
        }
    }

    /// Verify against this STS endpoint (moto's server in tests).
    pub fn sts_endpoint(mut self, url: &str) -> Self {
        self.sts_endpoint = Some(url.to_owned());
        self
    }

    pub fn sts_dialect(mut self, dialect: StsDialect) -> Self {
        self.sts_dialect = dialect;
        self
    }

    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    pub fn access_entry(mut self, entry: AccessEntry) -> Self {
        self.access_entries.push(entry);
        self
    }

    /// The STS endpoint tokens must point at.
    pub fn sts_url(&self) -> String {
        self.sts_endpoint
            .clone()
            .unwrap_or_else(|| Endpoint::regional(&self.region).to_string())
    }

    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:eks:{}:{}:cluster/{}",
            self.region, self.account_id, self.cluster_name
        )
    }

    fn endpoint(&self) -> Result<Endpoint, EksConfigError> {
        let err = |why: String| EksConfigError {
            cluster: self.cluster_name.clone(),
            why,
        };
        let name_ok = !self.cluster_name.is_empty()
            && self
                .cluster_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(err("the name must be letters, digits, - and _".into()));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!(
                "account {:?} is not 12 digits",
                self.account_id
            )));
        }
        let region_ok = !self.region.is_empty()
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(err(format!(
                "region {:?} is not a region name",
                self.region
            )));
        }
        for e in &self.access_entries {
            e.validate().map_err(|e| err(e.to_string()))?;
        }
        match &self.sts_endpoint {
            None => Ok(Endpoint::regional(&self.region)),
            Some(url) => Endpoint::parse(url).ok_or_else(|| {
                err(format!(
                    "the STS endpoint {url:?} is not http(s)://HOST[:PORT]"
                ))
            }),
        }
    }
}

/// A bad [`EksConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EKS cluster {cluster}: {why}")]
pub struct EksConfigError {
    pub cluster: String,
    pub why: String,
}

/// What a cluster's EKS authentication did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EksStats {
    /// `GetCallerIdentity` requests sent to STS.
    pub sts_calls: u64,
    /// Requests answered from the cache of verified tokens (or waiting on another request's
    /// STS call for the same token).
    pub cache_hits: u64,
    pub accepted: u64,
    pub refused: u64,
    /// Why the last token was refused, in words without secrets.
    pub last_refusal: Option<String>,
}

type Verified = Result<Identity, String>;

struct Cached {
    expires_at: OffsetDateTime,
    cell: Arc<OnceCell<Verified>>,
}

struct AuthState {
    access_entries: Vec<AccessEntry>,
    /// The last `aws-auth` read: its uid and resourceVersion, and what it maps.
    aws_auth: Option<(String, Arc<AwsAuth>)>,
    verified: HashMap<[u8; 32], Cached>,
    last_refusal: Option<String>,
}

/// The EKS authenticator of one cluster. Its lock is its own (never the cluster's) and is
/// never held across an `.await`.
pub struct EksAuth {
    config: EksConfig,
    endpoint: Endpoint,
    state: Mutex<AuthState>,
    sts_calls: AtomicU64,
    cache_hits: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for EksAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksAuth")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EksAuth {
    pub fn new(config: EksConfig) -> Result<Self, EksConfigError> {
        let endpoint = config.endpoint()?;
        Ok(Self {
            state: Mutex::new(AuthState {
                access_entries: config.access_entries.clone(),
                aws_auth: None,
                verified: HashMap::new(),
                last_refusal: None,
            }),
            config,
            endpoint,
            sts_calls: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &EksConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, AuthState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn stats(&self) -> EksStats {
        EksStats {
            sts_calls: self.sts_calls.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            last_refusal: self.lock().last_refusal.clone(),
        }
    }

    /// Adds an access entry, replacing one for the same principal.
    pub fn add_access_entry(&self, entry: AccessEntry) -> Result<(), MappingError> {
        entry.validate()?;
        let mut s = self.lock();
        s.access_entries
            .retain(|e| !e.principal_arn.eq_ignore_ascii_case(&entry.principal_arn));
        s.access_entries.push(entry);
        Ok(())
    }

    /// Removes the access entry of a principal; whether there was one.
    pub fn remove_access_entry(&self, principal_arn: &str) -> bool {
        let mut s = self.lock();
        let before = s.access_entries.len();
        s.access_entries
            .retain(|e| !e.principal_arn.eq_ignore_ascii_case(principal_arn));
        s.access_entries.len() != before
    }

    /// Who the STS identity behind `token` is, from the cache or from STS.
    async fn verify(&self, token: &str) -> Result<Identity, String> {
        let expect = token::Expect {
            endpoint: &self.endpoint,
            lifetime: self.config.token_lifetime,
            now: OffsetDateTime::now_utc(),
        };
        let presigned = token::parse(token, &expect).map_err(|e| e.to_string())?;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let (cell, hit) = {
            let mut s = self.lock();
            if s.verified.len() >= MAX_CACHED {
                s.verified.retain(|_, c| c.expires_at >= expect.now);
                if s.verified.len() >= MAX_CACHED {
                    s.verified.clear();
                }
            }
            let hit = s.verified.contains_key(&key);
            let c = s.verified.entry(key).or_insert_with(|| Cached {
                expires_at: presigned.expires_at,
                cell: Arc::new(OnceCell::new()),
            });
            (c.cell.clone(), hit)
        };
        if hit {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        let endpoint = self.endpoint.to_string();
        let verified = cell
            .get_or_init(|| async {
                self.sts_calls.fetch_add(1, Ordering::Relaxed);
                let caller = sts::get_caller_identity(
                    &endpoint,
                    &presigned,
                    &self.config.cluster_name,
                    self.config.sts_dialect,
                )
                .await
                .map_err(|e| e.to_string())?;
                Identity::from_sts(
                    &caller.arn,
                    &caller.account,
                    &caller.user_id,
                    presigned.access_key_id.clone(),
                )
                .map_err(|e| e.to_string())
            })
            .await
            .clone();
        if verified.is_err() {
            // A refusal is not remembered: the next request asks STS again.
            let mut s = self.lock();
            if s.verified
                .get(&key)
                .is_some_and(|c| Arc::ptr_eq(&c.cell, &cell))
            {
                s.verified.remove(&key);
            }
        }
        verified
    }

    /// The user `identity` maps to, by the access entries and `aws_auth` (the ConfigMap).
    fn map(&self, identity: &Identity, aws_auth: Option<Arc<Value>>) -> Result<User, String> {
        let parsed = aws_auth.map(|cm| {
            let version = format!(
                "{}/{}",
                cm.pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                cm.pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            let mut s = self.lock();
            match &s.aws_auth {
                Some((v, parsed)) if *v == version => parsed.clone(),
                _ => {
                    let parsed = Arc::new(AwsAuth::parse(&cm["data"]));
                    if !parsed.skipped.is_empty() {
                        tracing::info!(
                            cluster = %self.config.cluster_name,
                            skipped = ?parsed.skipped,
                            "aws-auth entries skipped"
                        );
                    }
                    s.aws_auth = Some((version, parsed.clone()));
                    parsed
                }
            }
        });
        let entries = self.lock().access_entries.clone();
        let mapped =
            mapping::map(identity, &entries, parsed.as_deref()).map_err(|e| e.to_string())?;
        tracing::debug!(
            cluster = %self.config.cluster_name,
            arn = %identity.arn,
            user = %mapped.username,
            via = mapped.via,
            "EKS token accepted"
        );
        Ok(User {
            name: mapped.username,
            groups: mapped.groups,
            token: Sensitive::new(String::new()),
        })
    }

    fn refuse(&self, why: String) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        tracing::info!(cluster = %self.config.cluster_name, reason = %why, "EKS token refused");
        self.lock().last_refusal = Some(why);
    }
}

/// The user of an EKS bearer token on an EKS cluster; `None` (401) for any other cluster or
/// header, and for any token that does not verify and map.
pub async fn authenticate(cluster: &ClusterInner, authorization: Option<&str>) -> Option<User> {
    let eks = cluster.eks.as_ref()?;
    let token = authorization?.strip_prefix("Bearer ")?.trim();
    if !token.starts_with(token::PREFIX) {
        return None;
    }
    let user = match eks.verify(token).await {
        Ok(identity) => {
            let aws_auth = {
                let state = cluster.lock();
                state
                    .store
                    .get(
                        &(String::new(), "configmaps".to_owned()),
                        &("kube-system".to_owned(), "aws-auth".to_owned()),
                    )
                    .cloned()
            };
            eks.map(&identity, aws_auth)
        }
        Err(why) => Err(why),
    };
    match user {
        Ok(u) => {
            eks.accepted.fetch_add(1, Ordering::Relaxed);
            Some(u)
        }
        Err(why) => {
            eks.refuse(why);
            None
        }
    }
}
