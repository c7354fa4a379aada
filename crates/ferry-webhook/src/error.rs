//! Why a webhook was refused, and the HTTP status that says so.

use std::fmt;
use std::time::Duration;

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
    #[error(
        "webhook payload is larger than the limit of {} (--webhook-max-payload-mib, FERRY_WEBHOOK_MAX_PAYLOAD_MIB)",
        size(*limit)
    )]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// As many bodies as allowed are being read; the request was not read (HTTP 503, with
    /// `Retry-After`).
    #[error(
        "as many webhook bodies as allowed ({bodies}, --webhook-max-concurrent-bodies, FERRY_WEBHOOK_MAX_CONCURRENT_BODIES) are being read; retry later"
    )]
    Busy {
        /// How many are read at once.
        bodies: usize,
    },
    /// The body did not arrive in time (HTTP 408).
    #[error("the webhook body did not arrive within {} s", timeout.as_secs_f64())]
    BodyTimeout {
        /// The time allowed.
        timeout: Duration,
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
            WebhookError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            WebhookError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
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

/// `2 MiB`, or `16385 bytes` for a limit that is not a whole number of MiB.
fn size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_names_ferrys_flag() {
        let message = WebhookError::TooLarge {
            limit: 2 * 1024 * 1024,
        }
        .to_string();
        assert!(message.contains("2 MiB"), "{message}");
        assert!(message.contains("--webhook-max-payload-mib"), "{message}");
        assert!(!message.contains("maxPayloadSizeMB"), "{message}");
        assert!(
            WebhookError::TooLarge { limit: 16 * 1024 }
                .to_string()
                .contains("16384 bytes")
        );
    }
}
