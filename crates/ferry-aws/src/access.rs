//! Who Ferry is in AWS for one purpose: an optional shared-config profile (Argo CD's
//! `awsAuthConfig.profile`, a profile *name*), then a [`RoleChain`] of `AssumeRole` hops
//! (hub → spoke), each with its role ARN, optional external ID, session name and duration.
//!
//! Pure types: parsing and validation only, no IO. [`AwsAccess::cache_key`] is what the
//! credential cache shares credentials by.

use std::fmt;
use std::time::Duration;

/// STS's own limits on `RoleSessionName`: 2 to 64 characters of `[\w+=,.@-]`.
const SESSION_NAME_MAX: usize = 64;
const SESSION_NAME_MIN: usize = 2;

/// The default life of an assumed-role session: 15 minutes, the STS minimum (and what Argo
/// CD's `argocd-k8s-auth` gets from the Go SDK's default).
pub const DEFAULT_SESSION_DURATION: Duration = Duration::from_secs(15 * 60);

/// AWS caps a session obtained with temporary credentials (role chaining) at one hour.
pub const CHAINED_SESSION_MAX: Duration = Duration::from_secs(60 * 60);

/// A role ARN that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid role ARN {arn:?}: {reason} (expected arn:<partition>:iam::<12-digit account>:role/<name>)"
)]
pub struct InvalidRoleArn {
    pub arn: String,
    pub reason: &'static str,
}

/// `arn:<partition>:iam::<account>:role/<path/><name>`, checked when parsed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleArn {
    arn: String,
    account_start: usize,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, InvalidRoleArn> {
        let bad = |reason| InvalidRoleArn {
            arn: arn.to_owned(),
            reason,
        };
        let arn = arn.trim();
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("not six ':'-separated fields"));
        };
        if prefix != "arn" || partition.is_empty() {
            return Err(bad("does not start with arn:<partition>:"));
        }
        if service != "iam" || !region.is_empty() {
            return Err(bad("not an IAM ARN (arn:<partition>:iam::...)"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the account is not 12 digits"));
        }
        let Some(name) = resource.strip_prefix("role/") else {
            return Err(bad("the resource is not role/<name>"));
        };
        if name.is_empty() || name.ends_with('/') {
            return Err(bad("the role name is empty"));
        }
        let account_start = prefix.len() + partition.len() + service.len() + region.len() + 4;
        Ok(Self {
            arn: arn.to_owned(),
            account_start,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The 12-digit account the role lives in.
    pub fn account(&self) -> &str {
        &self.arn[self.account_start..self.account_start + 12]
    }

    /// The role's name, without its path (`role/teams/deployer` → `deployer`).
    pub fn name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

impl fmt::Debug for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.arn, f)
    }
}

/// A `RoleSessionName` STS accepts. [`SessionName::sanitized`] makes one out of anything
/// (a cluster name, say): characters outside `[A-Za-z0-9+=,.@_-]` become `-`, the result is cut
/// to 64 characters and padded to 2.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionName(String);

impl SessionName {
    pub fn sanitized(name: &str) -> Self {
        let mut s: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(SESSION_NAME_MAX)
            .collect();
        while s.len() < SESSION_NAME_MIN {
            s.push('-');
        }
        Self(s)
    }

    /// `ferry-<name>`, sanitized: the default the wiring gives a cluster's last hop, so that
    /// CloudTrail and the cluster's audit log show which cluster Ferry was working on.
    pub fn for_cluster(cluster: &str) -> Self {
        Self::sanitized(&format!("ferry-{cluster}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// One `AssumeRole` call of a chain.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RoleHop {
    pub role_arn: RoleArn,
    /// `ExternalId`, when the role's trust policy requires one (`sts:ExternalId`). Not a
    /// secret by AWS's definition, but never printed in full either: `Debug` says whether one
    /// is set.
    pub external_id: Option<String>,
    pub session_name: SessionName,
    /// Requested `DurationSeconds`. AWS refuses less than 15 minutes and more than the role's
    /// maximum; hops after the first (and any hop from temporary base credentials) are capped
    /// at one hour ([`CHAINED_SESSION_MAX`]) before the call.
    pub duration: Duration,
}

impl RoleHop {
    pub fn new(role_arn: RoleArn, session_name: SessionName) -> Self {
        Self {
            role_arn,
            external_id: None,
            session_name,
            duration: DEFAULT_SESSION_DURATION,
        }
    }

    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }
}

impl fmt::Debug for RoleHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleHop")
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id.as_ref().map(|_| "<set>"))
            .field("session_name", &self.session_name)
            .field("duration", &self.duration)
            .finish()
    }
}

/// Zero or more hops, taken in order from the base credentials. Empty: the base credentials
/// themselves (Argo CD's `awsAuthConfig` without `roleARN`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoleChain {
    hops: Vec<RoleHop>,
}

impl RoleChain {
    pub fn new(hops: Vec<RoleHop>) -> Self {
        Self { hops }
    }

    /// A chain of one hop.
    pub fn single(hop: RoleHop) -> Self {
        Self { hops: vec![hop] }
    }

    pub fn then(mut self, hop: RoleHop) -> Self {
        self.hops.push(hop);
        self
    }

    pub fn hops(&self) -> &[RoleHop] {
        &self.hops
    }

    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// The role the chain ends in, if any.
    pub fn last(&self) -> Option<&RoleArn> {
        self.hops.last().map(|h| &h.role_arn)
    }
}

/// Everything that says who Ferry is for one cluster or render: the profile its base
/// credentials come from, the chain of roles, and the region STS and EKS are called in
/// (`None`: the base configuration's region).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AwsAccess {
    /// A shared-config profile name (`[profile NAME]` in the AWS config file). `None`: the
    /// standard chain as configured (`AWS_PROFILE` or `default`).
    pub profile: Option<String>,
    pub chain: RoleChain,
    pub region: Option<String>,
}

impl AwsAccess {
    /// The base credentials of the default profile.
    pub fn base() -> Self {
        Self::default()
    }

    pub fn with_chain(chain: RoleChain) -> Self {
        Self {
            chain,
            ..Self::default()
        }
    }

    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The account the chain ends in, when it ends in a role (else only STS knows).
    pub fn account(&self) -> Option<&str> {
        self.chain.last().map(RoleArn::account)
    }

    /// What credentials are shared by: the profile and every hop's role, external ID,
    /// session name and duration (all of which change what STS hands out). The region does
    /// not: credentials are global.
    pub fn cache_key(&self) -> ChainKey {
        self.key_of(self.chain.hops.len())
    }

    /// The key of the first `hops` hops of this chain (0: the base credentials).
    pub(crate) fn key_of(&self, hops: usize) -> ChainKey {
        ChainKey {
            profile: self.profile.clone(),
            hops: self.chain.hops[..hops]
                .iter()
                .map(|h| HopKey {
                    role_arn: h.role_arn.as_str().to_owned(),
                    external_id: h.external_id.clone(),
                    session_name: h.session_name.as_str().to_owned(),
                    duration_secs: h.duration.as_secs(),
                })
                .collect(),
        }
    }
}

/// The identity of a set of credentials in the cache (see [`AwsAccess::cache_key`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainKey {
    profile: Option<String>,
    hops: Vec<HopKey>,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct HopKey {
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    duration_secs: u64,
}

impl fmt::Display for ChainKey {
    /// `profile:NAME → arn:… → arn:…`, without external IDs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.profile {
            Some(p) => write!(f, "profile {p}")?,
            None => f.write_str("base credentials")?,
        }
        for hop in &self.hops {
            write!(f, " → {} ({})", hop.role_arn, hop.session_name)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(s: &str) -> RoleArn {
        RoleArn::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn role_arns_parse_with_account_and_name() {
        let a = arn("arn:aws:iam::222222222222:role/teams/deployer");
        assert_eq!(a.account(), "222222222222");
        assert_eq!(a.name(), "deployer");
        assert_eq!(
            arn("arn:aws-cn:iam::123456789012:role/x").account(),
            "123456789012"
        );
        for bad in [
            "",
            "arn:aws:iam::12345:role/x",
            "arn:aws:sts::222222222222:assumed-role/x/y",
            "arn:aws:iam::222222222222:user/x",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:iam:eu-west-1:222222222222:role/x",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn session_names_are_made_acceptable_to_sts() {
        assert_eq!(
            SessionName::for_cluster("prod/eu 1").as_str(),
            "ferry-prod-eu-1"
        );
        assert_eq!(SessionName::sanitized("").as_str(), "--");
        assert_eq!(
            SessionName::sanitized("a@b.c,d=e+f_g").as_str(),
            "a@b.c,d=e+f_g"
        );
        let long = SessionName::for_cluster(&"x".repeat(100));
        assert_eq!(long.as_str().len(), 64);
        assert!(long.as_str().starts_with("ferry-x"));
        assert_eq!(SessionName::sanitized("é").as_str(), "--");
    }

    #[test]
    fn keys_share_by_chain_not_by_region_and_never_print_external_ids() {
        let hop = RoleHop::new(
            arn("arn:aws:iam::222222222222:role/deployer"),
            SessionName::sanitized("ferry"),
        )
        .external_id("s3cr3t-ish");
        let a = AwsAccess::with_chain(RoleChain::single(hop.clone())).region("eu-west-1");
        let b = AwsAccess::with_chain(RoleChain::single(hop.clone())).region("us-east-1");
        assert_eq!(a.cache_key(), b.cache_key());
        let c = AwsAccess::with_chain(RoleChain::single(hop.clone().external_id("other")));
        assert_ne!(a.cache_key(), c.cache_key());
        assert_ne!(a.cache_key(), a.clone().profile("p").cache_key());
        for printed in [format!("{:?}", a), format!("{}", a.cache_key())] {
            assert!(!printed.contains("s3cr3t"), "{printed}");
        }
        assert_eq!(a.key_of(0), AwsAccess::base().cache_key());
        assert_eq!(a.account(), Some("222222222222"));
    }
}
