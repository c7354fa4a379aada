//! EKS bearer tokens, made the way `aws-iam-authenticator` and Argo CD's `argocd-k8s-auth`
//! make them: a presigned STS `GetCallerIdentity` (GET, SigV4 in the query, service `sts`,
//! the signed header `x-k8s-aws-id: <cluster name>`, `X-Amz-Expires=60`) on the STS endpoint
//! of the region (`https://sts.<region>.amazonaws.com/` unless `AWS_ENDPOINT_URL_STS`,
//! `AWS_ENDPOINT_URL` or a profile's `endpoint_url` says otherwise), and the token is
//! `k8s-aws-v1.` + base64url-without-padding of that URL. EKS accepts it for 15 minutes after
//! its `X-Amz-Date`; it is cached per (chain, cluster, region) and replaced ahead of that.
//!
//! Signing is local: a token costs no AWS call, only the chain's cached credentials.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::SdkConfig;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_core::Sensitive;

use crate::access::{AwsAccess, ChainKey};
use crate::base::configured_endpoint;
use crate::cache::Fetched;
use crate::credentials::refresh_at;
use crate::error::AwsError;
use crate::{Aws, Calls};

/// The prefix of an EKS token.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster (EKS sends its cluster name in it).
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// What `aws-iam-authenticator` puts in `X-Amz-Expires` (STS ignores it for this call).
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// A bearer token for an EKS cluster.
#[derive(Clone, Debug)]
pub struct EksToken {
    /// `k8s-aws-v1.…`, for `Authorization: Bearer`.
    pub token: Sensitive<String>,
    /// When the signature was made (its `X-Amz-Date`).
    pub signed_at: SystemTime,
    /// When EKS stops accepting it: [`crate::Lifetimes::token_valid_for`] after signing, or
    /// when its credentials expire if sooner.
    pub expires_at: SystemTime,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub chain: ChainKey,
    pub cluster: String,
    pub region: String,
}

// === impl Aws ===

impl Aws {
    /// A token for EKS cluster `cluster_name` in the region of `access`, from the cache
    /// while it has more than its renewal margin left.
    pub async fn eks_token(
        &self,
        access: &AwsAccess,
        cluster_name: &str,
    ) -> Result<EksToken, AwsError> {
        let sdk = self.base_config(access).await;
        let region = self.region_of(access, &sdk, "an EKS token")?;
        let key = TokenKey {
            chain: access.cache_key(),
            cluster: cluster_name.to_owned(),
            region: region.clone(),
        };
        let backoff = self.options().lifetimes.failure_backoff;
        self.inner
            .tokens
            .get(&key, backoff, || async {
                let held = self.held(access, access.chain.hops().len()).await?;
                let endpoint = sts_endpoint(&sdk, &region).await?;
                let lifetimes = &self.options().lifetimes;
                let now = SystemTime::now();
                let (url, signed_at) =
                    presign(&endpoint, &region, cluster_name, &held.credentials, now)?;
                Calls::bump(&self.inner.calls.tokens_signed);
                let creds_expire = held.credentials.expiry();
                let mut expires_at = signed_at + lifetimes.token_valid_for;
                let mut renew_at = signed_at + lifetimes.token_renew_after;
                if let Some(e) = creds_expire {
                    expires_at = expires_at.min(e);
                    renew_at = renew_at.min(refresh_at(
                        now,
                        Some(e),
                        lifetimes.credential_refresh_before_expiry,
                    ));
                }
                Ok(Fetched {
                    value: EksToken {
                        token: Sensitive::new(format!(
                            "{TOKEN_PREFIX}{}",
                            URL_SAFE_NO_PAD.encode(url)
                        )),
                        signed_at,
                        expires_at,
                    },
                    refresh_at: renew_at,
                    expires_at: Some(expires_at),
                })
            })
            .await
    }

    /// Forgets the cached token of a cluster, for a caller whose token an API server refused
    /// (401): the next [`Aws::eks_token`] signs a new one.
    pub fn forget_eks_token(&self, access: &AwsAccess, cluster_name: &str) {
        let chain = access.cache_key();
        self.inner
            .tokens
            .invalidate_matching(|k| k.chain == chain && k.cluster == cluster_name);
    }
}

/// The STS endpoint of `region`, resolved as the STS client would: the configured endpoint
/// if any, else the regional one (never the legacy global `sts.amazonaws.com`).
pub(crate) async fn sts_endpoint(sdk: &SdkConfig, region: &str) -> Result<String, AwsError> {
    let params = Params::builder()
        .region(region)
        .use_fips(sdk.use_fips().unwrap_or(false))
        .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
        .use_global_endpoint(false)
        .set_endpoint(configured_endpoint(sdk, "STS"))
        .build()
        .map_err(|e| {
            AwsError::Config(format!("cannot resolve the STS endpoint of {region}: {e}"))
        })?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| {
            AwsError::Config(format!("cannot resolve the STS endpoint of {region}: {e}"))
        })?;
    Ok(endpoint.url().to_owned())
}

/// The presigned `GetCallerIdentity` URL for `cluster` at `endpoint`, signed at `now` (cut to
/// the second, as `X-Amz-Date` is), and that signing time.
pub(crate) fn presign(
    endpoint: &str,
    region: &str,
    cluster: &str,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<(String, SystemTime), AwsError> {
    let config =
        |why: String| AwsError::Config(format!("cannot sign an EKS token for {cluster}: {why}"));
    let url = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        endpoint.trim_end_matches('/')
    );
    let uri: http::Uri = url
        .parse()
        .map_err(|e| config(format!("STS endpoint {endpoint:?}: {e}")))?;
    let Some(host) = uri.authority().map(|a| a.as_str().to_owned()) else {
        return Err(config(format!("STS endpoint {endpoint:?} has no host")));
    };
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let signed_at = UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs());

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| config(e.to_string()))?
        .into();
    let headers = [("host", host.as_str()), (CLUSTER_ID_HEADER, cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| config(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| config(e.to_string()))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(&url)
        .body(())
        .map_err(|e| config(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok((request.uri().to_string(), signed_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                (k.to_owned(), v.into_owned())
            })
            .collect()
    }

    #[test]
    fn presigned_urls_are_what_eks_verifies() {
        let creds = Credentials::new("ASIAEXAMPLE", "secret", Some("session".into()), None, "t");
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_900);
        let (url, signed_at) = presign(
            "https://sts.eu-west-1.amazonaws.com",
            "eu-west-1",
            "prod-blue",
            &creds,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signed_at, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert!(
            url.starts_with("https://sts.eu-west-1.amazonaws.com/?"),
            "{url}"
        );
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Action"), Some("GetCallerIdentity"));
        assert_eq!(get("Version"), Some("2011-06-15"));
        assert_eq!(get("X-Amz-Expires"), Some("60"));
        assert_eq!(get("X-Amz-Date"), Some("20231114T221320Z"));
        assert_eq!(get("X-Amz-SignedHeaders"), Some("host;x-k8s-aws-id"));
        assert_eq!(get("X-Amz-Security-Token"), Some("session"));
        assert!(
            get("X-Amz-Credential").is_some_and(|c| c.ends_with("/eu-west-1/sts/aws4_request"))
        );
        // Only the parameters aws-iam-authenticator's verifier allows.
        let allowed = [
            "action",
            "version",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-expires",
            "x-amz-security-token",
            "x-amz-signature",
            "x-amz-signedheaders",
        ];
        for (k, _) in &q {
            assert!(allowed.contains(&k.to_ascii_lowercase().as_str()), "{k}");
        }
        // Same inputs, same signature; another cluster, another signature.
        let (again, _) = presign(
            "https://sts.eu-west-1.amazonaws.com/",
            "eu-west-1",
            "prod-blue",
            &creds,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, again);
        let (other, _) = presign(
            "https://sts.eu-west-1.amazonaws.com",
            "eu-west-1",
            "prod-green",
            &creds,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(url, other);
    }

    #[test]
    fn an_endpoint_without_a_host_is_an_error_not_a_panic() {
        let creds = Credentials::new("a", "b", None, None, "t");
        let err = presign("not a url", "eu-west-1", "c", &creds, SystemTime::now());
        assert!(matches!(err, Err(AwsError::Config(_))));
    }

    #[tokio::test]
    async fn the_default_sts_endpoint_is_regional() {
        let sdk = SdkConfig::builder().build();
        let url = sts_endpoint(&sdk, "us-east-1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, "https://sts.us-east-1.amazonaws.com");
        let sdk = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        let url = sts_endpoint(&sdk, "eu-west-1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url, "http://127.0.0.1:5000");
    }
}
