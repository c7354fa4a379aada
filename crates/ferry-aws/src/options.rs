//! [`AwsOptions`]: what the wiring passes to [`crate::Aws::new`]. Everything not set here comes
//! from the AWS SDK's standard chain (environment, shared config and credentials files, web
//! identity, EKS Pod Identity, instance metadata), exactly as any AWS tool would read it; this
//! crate reads no environment variable itself.

use std::path::PathBuf;
use std::time::Duration;

/// Options of the AWS adapter. `Default` is what production wants.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    /// The region when an [`crate::AwsAccess`] names none. `None`: the standard chain
    /// (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, instance metadata).
    pub region: Option<String>,
    /// One endpoint for every client this crate makes (and for EKS tokens). `None`: the
    /// standard configuration (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, a profile's
    /// `endpoint_url` or `services` section, else the regional endpoint). Unlike those, it
    /// does not reach the SDK's own web-identity exchange for the base credentials, which
    /// reads only the standard configuration.
    pub endpoint_url: Option<String>,
    /// Shared config and credentials files to read instead of `~/.aws/config` and
    /// `~/.aws/credentials` (or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`).
    pub shared_config: Option<SharedConfigFiles>,
    pub lifetimes: Lifetimes,
    /// Attempts per AWS call, the first included (the SDK's standard retry mode: throttling
    /// and transient errors are retried with jittered backoff).
    pub max_attempts: u32,
    pub connect_timeout: Duration,
    /// Bound on one call, retries included, so that a slow account never holds a cache key
    /// (or a caller) long.
    pub operation_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            shared_config: None,
            lifetimes: Lifetimes::default(),
            max_attempts: 3,
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// Shared AWS config files, read the way the AWS CLI reads them.
#[derive(Clone, Debug)]
pub struct SharedConfigFiles {
    /// The config file (`[profile NAME]` sections).
    pub config: PathBuf,
    /// The credentials file (`[NAME]` sections); `None`: none at all.
    pub credentials: Option<PathBuf>,
}

/// How long cached credentials and tokens are used, and when they are renewed. Tests shorten
/// these; the code has no other clock.
#[derive(Clone, Debug)]
pub struct Lifetimes {
    /// Credentials are renewed this long before they expire, but not before two thirds of
    /// their life (so that short sessions are not renewed at every use).
    pub credential_refresh_before_expiry: Duration,
    /// How long an EKS token is accepted after it is signed: 15 minutes after `X-Amz-Date`
    /// is what STS and EKS allow (the `X-Amz-Expires=60` in the URL is legacy and ignored).
    /// Reported as the token's expiry, cut to its credentials' expiry.
    pub token_valid_for: Duration,
    /// A cached EKS token is replaced this long after it was signed (or when its credentials
    /// are renewed, if sooner). Argo CD's exec plugin says 14 minutes; 10 leaves room for a
    /// request in flight and a clock a little off.
    pub token_renew_after: Duration,
    /// After a failed fetch, callers of the same key get the same error for this long instead
    /// of calling AWS again (one broken cluster, many applications).
    pub failure_backoff: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            credential_refresh_before_expiry: Duration::from_secs(5 * 60),
            token_valid_for: Duration::from_secs(15 * 60),
            token_renew_after: Duration::from_secs(10 * 60),
            failure_backoff: Duration::from_secs(5),
        }
    }
}
