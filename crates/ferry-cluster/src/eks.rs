//! Access to an EKS cluster by role, as Argo CD's `awsAuthConfig` gives it: every request
//! carries a `k8s-aws-v1.` token (a presigned STS `GetCallerIdentity`, made by `ferry-aws`
//! as the cluster's role chain), renewed ahead of its expiry by one task per cluster; a 401
//! (a watch that outlived its token, or a mapping just changed) makes the next token a new
//! one, and a watch then resumes from its last resourceVersion as any failed watch does.
//!
//! A cluster registered by name only gets its endpoint and CA from `DescribeCluster` in the
//! role's account, asked again with each renewal so that a cluster replaced under the same
//! name (blue/green) is followed.
//!
//! What Ferry knows of the cluster's AWS side (the identity it is seen as, the token's
//! expiry, the last error) is kept in [`EksState`] for the status and `ferry cluster get`;
//! none of it is a credential.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use ferry_aws::{Aws, AwsError};
use ferry_core::{Sensitive, locks};
use http::{HeaderValue, Request, Response, StatusCode, header::AUTHORIZATION};
use tokio::sync::{Notify, watch};
use tower::{Layer, Service};

use crate::secret::AwsClusterAuth;

/// The least time between two tokens made because the cluster refused one: a role that is
/// not mapped is refused every time, and a new token does not help with that.
const REFUSED_RETRY: Duration = Duration::from_secs(10);

/// What is known of one EKS cluster's access. Shared by its client's layer and its renewer.
#[derive(Default)]
pub struct EksState {
    token: RwLock<Option<Sensitive<String>>>,
    expires_at: Mutex<Option<SystemTime>>,
    identity: Mutex<Option<String>>,
    account: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    refused: AtomicBool,
    wake: Notify,
}

impl std::fmt::Debug for EksState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksState")
            .field("expires_at", &*locks::lock(&self.expires_at))
            .field("identity", &*locks::lock(&self.identity))
            .field("last_error", &*locks::lock(&self.last_error))
            .finish_non_exhaustive()
    }
}

/// A view of [`EksState`] for the status and the CLI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EksStatus {
    /// The ARN STS says Ferry is for this cluster (the last hop's assumed role).
    pub identity: Option<String>,
    /// The account of the cluster (from `DescribeCluster`) or of the role.
    pub account: Option<String>,
    /// When the current token expires.
    pub token_expires_at: Option<SystemTime>,
    /// The last failure to make a token or to describe the cluster, in words.
    pub last_error: Option<String>,
}

impl EksState {
    fn set_token(&self, token: ferry_aws::EksToken) {
        *locks::write(&self.token) = Some(token.token);
        *locks::lock(&self.expires_at) = Some(token.expires_at);
    }

    fn current(&self) -> Option<Sensitive<String>> {
        locks::read(&self.token).clone()
    }

    fn set_error(&self, e: Option<String>) {
        *locks::lock(&self.last_error) = e;
    }

    /// The cluster answered 401: the renewer makes a new token.
    fn refused(&self) {
        if !self.refused.swap(true, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    pub fn status(&self) -> EksStatus {
        EksStatus {
            identity: locks::lock(&self.identity).clone(),
            account: locks::lock(&self.account).clone(),
            token_expires_at: *locks::lock(&self.expires_at),
            last_error: locks::lock(&self.last_error).clone(),
        }
    }

    /// The last failure, if the current token is not known to be good.
    pub fn problem(&self) -> Option<String> {
        locks::lock(&self.last_error).clone()
    }
}

/// The endpoint and CA of a cluster registered by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub server: String,
    /// PEM of the cluster's CA.
    pub ca_pem: Option<Vec<u8>>,
    pub account: String,
}

/// `DescribeCluster` of `auth`'s cluster, as an endpoint.
pub async fn describe(aws: &Aws, auth: &AwsClusterAuth) -> Result<Endpoint, AwsError> {
    use base64::Engine as _;
    let c = aws
        .describe_cluster(&auth.access, &auth.cluster_name)
        .await?;
    let server = c.endpoint.clone().ok_or_else(|| {
        AwsError::Config(format!(
            "EKS cluster {} in account {} has no endpoint yet (status {})",
            auth.cluster_name,
            c.account,
            c.status.as_deref().unwrap_or("unknown")
        ))
    })?;
    let ca_pem = c.certificate_authority_data.as_deref().and_then(|d| {
        base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .ok()
    });
    Ok(Endpoint {
        server,
        ca_pem,
        account: c.account,
    })
}

/// Makes the first token of `auth`'s cluster (so that the client's first request carries
/// one), then keeps renewing it until `stop` changes. `endpoint` is the cluster's endpoint
/// when it was found by name: a later `DescribeCluster` that answers another one calls
/// `replaced` (the registry makes a new client).
pub async fn start(
    aws: Aws,
    auth: AwsClusterAuth,
    endpoint: Option<Endpoint>,
    stop: watch::Receiver<bool>,
    replaced: impl Fn(Endpoint) + Send + Sync + 'static,
) -> Result<Arc<EksState>, AwsError> {
    let state = Arc::new(EksState::default());
    let token = aws.eks_token(&auth.access, &auth.cluster_name).await?;
    state.set_token(token);
    *locks::lock(&state.account) = endpoint
        .as_ref()
        .map(|e| e.account.clone())
        .or_else(|| auth.access.account().map(str::to_owned));
    let renewer = Renewer {
        aws,
        auth,
        endpoint,
        state: state.clone(),
        replaced: Box::new(replaced),
    };
    tokio::spawn(renewer.run(stop));
    Ok(state)
}

struct Renewer {
    aws: Aws,
    auth: AwsClusterAuth,
    endpoint: Option<Endpoint>,
    state: Arc<EksState>,
    replaced: Box<dyn Fn(Endpoint) + Send + Sync>,
}

impl Renewer {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let renew_after = self.aws.options().lifetimes.token_renew_after;
        // Who Ferry is seen as: asked once, for the status (one STS call per cluster).
        match self.aws.caller_identity(&self.auth.access).await {
            Ok(id) => *locks::lock(&self.state.identity) = Some(id.arn),
            Err(e) => self.state.set_error(Some(e.to_string())),
        }
        let mut wait = locks::lock(&self.state.expires_at)
            .map(|at| until(at).mul_f64(2.0 / 3.0))
            .unwrap_or(renew_after)
            .min(renew_after)
            .max(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.state.wake.notified() => {}
                _ = stop.changed() => return,
            }
            let refused = self.state.refused.swap(false, Ordering::SeqCst);
            if refused {
                self.aws
                    .forget_eks_token(&self.auth.access, &self.auth.cluster_name);
            }
            match self
                .aws
                .eks_token(&self.auth.access, &self.auth.cluster_name)
                .await
            {
                Ok(token) => {
                    wait = next_renewal(&token, renew_after);
                    // A token made from credentials whose renewal failed works until they
                    // expire: said, so that it is fixed before then.
                    let problem = self.aws.renewal_problem(&self.auth.access).map(|e| {
                        format!(
                            "renewing the AWS credentials failed; the current ones are used until {}: {e}",
                            ferry_core::timestamp::rfc3339(token.expires_at)
                        )
                    });
                    if let Some(p) = &problem {
                        tracing::warn!(cluster = %self.auth.cluster_name, problem = %p, "EKS credentials not renewed");
                    }
                    self.state.set_token(token);
                    self.state.set_error(problem);
                }
                Err(e) => {
                    tracing::warn!(cluster = %self.auth.cluster_name, error = %e, "renewing the EKS token failed; the current one is used until it expires");
                    self.state.set_error(Some(e.to_string()));
                    wait = Duration::from_secs(5);
                }
            }
            if refused {
                // Refused again soon: a mapping that is missing stays missing.
                wait = wait.max(REFUSED_RETRY);
            }
            if let Some(known) = &self.endpoint {
                match describe(&self.aws, &self.auth).await {
                    Ok(now) if now != *known => {
                        tracing::info!(cluster = %self.auth.cluster_name, server = %now.server, "the EKS cluster's endpoint changed");
                        (self.replaced)(now);
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => self.state.set_error(Some(e.to_string())),
                }
            }
        }
    }
}

fn until(at: SystemTime) -> Duration {
    at.duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// When to replace `token`: after `renew_after`, or after two thirds of its remaining life
/// when that is sooner (a token made late in its credentials' life expires with them).
fn next_renewal(token: &ferry_aws::EksToken, renew_after: Duration) -> Duration {
    until(token.expires_at)
        .mul_f64(2.0 / 3.0)
        .min(renew_after)
        .max(Duration::from_secs(1))
}

// === the client layer ===

/// Puts the cluster's current token on every request and notices refusals.
#[derive(Clone)]
pub struct TokenLayer(pub Arc<EksState>);

impl<S> Layer<S> for TokenLayer {
    type Service = TokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TokenService {
            inner,
            state: self.0.clone(),
        }
    }
}

pub struct TokenService<S> {
    inner: S,
    state: Arc<EksState>,
}

impl<S, B, ReqBody> Service<Request<ReqBody>> for TokenService<S>
where
    S: Service<Request<ReqBody>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(token) = self.state.current()
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        let answer = self.inner.call(req);
        let state = self.state.clone();
        Box::pin(async move {
            let resp = answer.await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                state.refused();
            }
            Ok(resp)
        })
    }
}
