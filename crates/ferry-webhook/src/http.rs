//! The HTTP endpoints: `POST /api/webhook` (providers, told apart by headers, as Argo CD's
//! single endpoint) and `POST /api/webhook/generic`.

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::body::{BodyGate, WebhookLimits};
use crate::error::WebhookError;
use crate::event::{Provider, PushEvent};
use crate::handle::{
    Outcome, authenticate_headers, detect_provider, handle_generic_request, handle_request,
};
use crate::secrets::SecretSource;

/// The `Retry-After` of a 503: a body takes well under a second to read.
const RETRY_AFTER_SECONDS: &str = "1";

/// Where verified push events go: the controller refreshes every application the event
/// [`matches`](crate::matches()) and says how many. Called on the request's task, so it should
/// only look up and enqueue, not wait for the refreshes.
pub trait PushSink: Send + Sync {
    /// Handles one push; returns the number of applications refreshed.
    fn push(&self, event: PushEvent) -> usize;
}

impl<F> PushSink for F
where
    F: Fn(PushEvent) -> usize + Send + Sync,
{
    fn push(&self, event: PushEvent) -> usize {
        self(event)
    }
}

/// What the endpoints need.
#[derive(Clone)]
pub struct WebhookState {
    /// The secrets, read at every request.
    pub secrets: Arc<dyn SecretSource>,
    /// Where push events go.
    pub sink: Arc<dyn PushSink>,
    /// The limits and the slots of the bodies being read, shared by the state's clones.
    bodies: Arc<BodyGate>,
}

impl WebhookState {
    /// A state with the default [`WebhookLimits`] (2 MiB, 8 bodies at once, 10 s each).
    pub fn new(secrets: Arc<dyn SecretSource>, sink: Arc<dyn PushSink>) -> Self {
        Self {
            secrets,
            sink,
            bodies: Arc::new(BodyGate::new(WebhookLimits::default())),
        }
    }

    /// Sets the limits (a `max_concurrent_bodies` of 0 counts as 1). Call it before the state
    /// is served: the slots are new, not shared with the state this was cloned from.
    pub fn with_limits(mut self, limits: WebhookLimits) -> Self {
        self.bodies = Arc::new(BodyGate::new(limits));
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> WebhookLimits {
        self.bodies.limits()
    }
}

impl fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookState")
            .field("limits", &self.limits())
            .finish_non_exhaustive()
    }
}

/// The webhook endpoints, `POST /api/webhook` and `POST /api/webhook/generic`.
///
/// Answers: 200 `{"refreshed": N}` for a push, 200 `{"ok": true}` for a ping, 200
/// `{"ignored": "<event>"}` for another event of a known provider, 400 `{"error": …}` for an
/// unknown sender or a malformed payload, 401 for a missing, wrong or unconfigured signature
/// or token, 408 for a body that does not arrive in time, 413 for a body over the limit, 503
/// with `Retry-After` when as many bodies as allowed are being read.
///
/// Everything that can be refused by its headers is refused before its body is read (so
/// without a `100 Continue`): an unknown sender, a provider without a secret, a missing or
/// malformed signature header, a wrong GitLab token or Bitbucket Cloud UUID, a
/// `Content-Length` over the limit, and a request finding no free slot. See [`WebhookLimits`].
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/api/webhook", post(provider_webhook))
        .route("/api/webhook/generic", post(generic_webhook))
        .with_state(state)
}

async fn provider_webhook(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let secrets = state.secrets.secrets();
    let result = async {
        // What the headers refuse is refused before a byte of the body is read; the body is
        // then read under a slot, and the slot given back when this block ends.
        let provider = detect_provider(&headers)?;
        authenticate_headers(provider, &secrets, &headers)?;
        let body = state.bodies.read(&headers, body).await?;
        handle_request(&secrets, &headers, &body.bytes)
    }
    .await;
    respond(&state, result)
}

async fn generic_webhook(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let secrets = state.secrets.secrets();
    let result = async {
        authenticate_headers(Provider::Generic, &secrets, &headers)?;
        let body = state.bodies.read(&headers, body).await?;
        handle_generic_request(&secrets, &headers, &body.bytes).map(Outcome::Push)
    }
    .await;
    respond(&state, result)
}

fn respond(state: &WebhookState, result: Result<Outcome, WebhookError>) -> Response {
    match result {
        Ok(Outcome::Push(event)) => {
            let provider = event.provider;
            let repo = event
                .repo_urls
                .first()
                .map(|u| without_userinfo(u))
                .unwrap_or_default();
            let refs = event
                .refs
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let refreshed = state.sink.push(event);
            tracing::info!(%provider, repo, refs, refreshed, "webhook push received");
            (StatusCode::OK, Json(json!({ "refreshed": refreshed }))).into_response()
        }
        Ok(Outcome::Ping(provider)) => {
            tracing::info!(%provider, "webhook ping received");
            (StatusCode::OK, Json(json!({ "ok": true }))).into_response()
        }
        Ok(Outcome::Ignored { provider, event }) => {
            tracing::debug!(%provider, event, "webhook event ignored");
            (StatusCode::OK, Json(json!({ "ignored": event }))).into_response()
        }
        Err(error) => error_response(&error),
    }
}

/// `url` without the `user:password@` of a `scheme://` URL, for logs (a generic sender may
/// put credentials in `repoURL`).
fn without_userinfo(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_owned()
}

/// Logs a refused request (never a secret, signature or token: errors do not hold them) and
/// answers it.
fn error_response(error: &WebhookError) -> Response {
    match error {
        WebhookError::Unauthorized { provider, cause } => {
            tracing::warn!(%provider, %cause, "webhook refused");
        }
        WebhookError::TooLarge { limit } => {
            tracing::warn!(limit, "webhook refused: payload too large");
        }
        WebhookError::Busy { bodies } => {
            tracing::warn!(
                bodies,
                "webhook refused: as many bodies as allowed are being read"
            );
        }
        WebhookError::BodyTimeout { .. } => tracing::warn!(error = %error, "webhook refused"),
        other => tracing::info!(error = %other, "webhook refused"),
    }
    let mut response =
        (error.status(), Json(json!({ "error": error.to_string() }))).into_response();
    if let WebhookError::Busy { .. } = error {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::without_userinfo;

    #[test]
    fn logs_no_credentials() {
        assert_eq!(
            without_userinfo("https://user:t0ken@git.example.com/org/repo.git"),
            "https://git.example.com/org/repo.git"
        );
        assert_eq!(
            without_userinfo("https://git.example.com/org/a@b"),
            "https://git.example.com/org/a@b"
        );
        assert_eq!(
            without_userinfo("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }
}
