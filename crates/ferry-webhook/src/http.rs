//! The HTTP endpoints: `POST /api/webhook` (providers, told apart by headers, as Argo CD's
//! single endpoint) and `POST /api/webhook/generic`.

use std::fmt;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::error::WebhookError;
use crate::event::{Provider, PushEvent};
use crate::handle::{
    Outcome, authenticate_headers, detect_provider, handle_generic_request, handle_request,
};
use crate::secrets::SecretSource;

/// Argo CD's default `webhook.maxPayloadSizeMB` (50), in bytes.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 50 * 1024 * 1024;

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
    /// Bodies larger than this are refused with 413 (Argo CD's `webhook.maxPayloadSizeMB`).
    pub max_payload_bytes: usize,
}

impl WebhookState {
    /// A state with the default payload limit of 50 MiB.
    pub fn new(secrets: Arc<dyn SecretSource>, sink: Arc<dyn PushSink>) -> Self {
        Self {
            secrets,
            sink,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        }
    }

    /// Sets the payload limit in MiB, as Argo CD's `webhook.maxPayloadSizeMB`.
    pub fn with_max_payload_size_mb(mut self, megabytes: usize) -> Self {
        self.max_payload_bytes = megabytes.saturating_mul(1024 * 1024);
        self
    }
}

impl fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookState")
            .field("max_payload_bytes", &self.max_payload_bytes)
            .finish_non_exhaustive()
    }
}

/// The webhook endpoints, `POST /api/webhook` and `POST /api/webhook/generic`.
///
/// Answers: 200 `{"refreshed": N}` for a push, 200 `{"ok": true}` for a ping, 200
/// `{"ignored": "<event>"}` for another event of a known provider, 400 `{"error": …}` for an
/// unknown sender or a malformed payload, 401 for a missing, wrong or unconfigured signature
/// or token, 413 for a body over the limit.
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
        // Refuse what can be refused before reading up to the limit.
        let provider = detect_provider(&headers)?;
        authenticate_headers(provider, &secrets, &headers)?;
        let body = read_body(&headers, body, state.max_payload_bytes).await?;
        handle_request(&secrets, &headers, &body)
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
        let body = read_body(&headers, body, state.max_payload_bytes).await?;
        handle_generic_request(&secrets, &headers, &body).map(Outcome::Push)
    }
    .await;
    respond(&state, result)
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, WebhookError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(WebhookError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            WebhookError::TooLarge { limit }
        } else {
            WebhookError::Body {
                message: inner.to_string(),
            }
        }
    })
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
        other => tracing::info!(error = %other, "webhook refused"),
    }
    (error.status(), Json(json!({ "error": error.to_string() }))).into_response()
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
