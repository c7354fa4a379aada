//! Why a webhook was refused, and the HTTP status that says so.

use std::fmt;

use axum::http::StatusCode;

use crate::event::Provider;

/// Why a payload's signature or token was not accepted. It names headers and settings, never
/// their values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The provider has no secret configured under this key, so nothing from it is accepted.
    NoSecretConfigured {
        /// The secret's key (`webhook.github.secret`, …).
        key: &'static str,
    },
    /// The request does not carry the header.
    Missing {
        /// The header that should carry the signature or token.
        header: &'static str,
    },
    /// The header is not of the form the provider uses (e.g. not `sha256=<64 hex digits>`).
    Malformed {
        /// The header.
        header: &'static str,
    },
    /// The signature or token does not match the configured secret.
    Mismatch {
        /// The header.
        header: &'static str,
    },
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::NoSecretConfigured { key } => {
                write!(
                    f,
                    "no secret is configured ({key}), so unverified payloads are refused"
                )
            }
            AuthFailure::Missing { header } => write!(f, "missing {header} header"),
            AuthFailure::Malformed { header } => write!(f, "malformed {header} header"),
            AuthFailure::Mismatch { header } => {
                write!(f, "{header} does not match the configured secret")
            }
        }
    }
}

/// A webhook that was not turned into a push event.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No header says who sent the request (Argo CD: "Unknown webhook event", 400).
    #[error(
        "unknown webhook sender: expected one of the X-GitHub-Event, X-Gitlab-Event, X-Hook-UUID or X-Event-Key headers"
    )]
    UnknownSender,
    /// A sender Argo CD knows but Ferry does not handle (yet): Gogs, Gitea, Azure DevOps.
    #[error("{sender} webhooks are not supported")]
    UnsupportedSender {
        /// Who it is.
        sender: &'static str,
    },
    /// The signature or token is missing or wrong, or none is configured (HTTP 401).
    #[error("{provider} webhook refused: {cause}")]
    Unauthorized {
        /// Who the request claims to come from.
        provider: Provider,
        /// Why.
        cause: AuthFailure,
    },
    /// The payload was authentic but not what the provider sends for this event (HTTP 400).
    #[error("{provider} webhook payload is malformed: {message}")]
    Malformed {
        /// Who sent it.
        provider: Provider,
        /// What is wrong with it.
        message: String,
    },
    /// The body is larger than the configured limit (HTTP 413).
    #[error("webhook payload is larger than {limit} bytes (webhook.maxPayloadSizeMB)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read (HTTP 400).
    #[error("could not read the webhook body: {message}")]
    Body {
        /// What went wrong.
        message: String,
    },
}

impl WebhookError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::UnknownSender
            | WebhookError::UnsupportedSender { .. }
            | WebhookError::Malformed { .. }
            | WebhookError::Body { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// The provider the request was attributed to, when it was.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            WebhookError::Unauthorized { provider, .. }
            | WebhookError::Malformed { provider, .. } => Some(*provider),
            _ => None,
        }
    }

    pub(crate) fn unauthorized(provider: Provider, cause: AuthFailure) -> Self {
        WebhookError::Unauthorized { provider, cause }
    }

    pub(crate) fn malformed(provider: Provider, message: impl fmt::Display) -> Self {
        WebhookError::Malformed {
            provider,
            message: message.to_string(),
        }
    }
}
