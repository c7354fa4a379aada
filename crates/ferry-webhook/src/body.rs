//! Reading a webhook's body within bounds: its size (refused by its `Content-Length` before
//! anything is read, or cut off as soon as it passes the limit), how many are read at once
//! (a request beyond that is answered 503 before its body is read), and how long one may take.
//!
//! So the memory webhooks can hold is about `max_concurrent_bodies × max_payload_bytes`,
//! whatever anyone sends, and a sender cannot keep the slots by sending slowly.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::WebhookError;

/// How large, how many and how slow webhook bodies may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookLimits {
    /// Bodies larger than this are refused with 413: before they are read when their
    /// `Content-Length` says so, as soon as they pass it otherwise.
    pub max_payload_bytes: usize,
    /// Bodies read at once; a request beyond them is answered 503 with `Retry-After` at once,
    /// before its body is read (it does not wait for a slot).
    pub max_concurrent_bodies: usize,
    /// How long reading one body may take; slower ones are answered 408 and give their slot
    /// back.
    pub body_timeout: Duration,
}

impl WebhookLimits {
    /// The default payload limit in MiB: push payloads are far smaller (GitHub's own cap is
    /// 25 MB, and a push of hundreds of commits is well under 1 MiB).
    pub const DEFAULT_MAX_PAYLOAD_MIB: usize = 2;
    /// The default number of bodies read at once.
    pub const DEFAULT_MAX_CONCURRENT_BODIES: usize = 8;
    /// The default time to read one body (GitHub and GitLab give up on a delivery after 10 s).
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

    /// Sets the payload limit in MiB (`--webhook-max-payload-mib`).
    pub fn with_max_payload_mib(mut self, mebibytes: usize) -> Self {
        self.max_payload_bytes = mebibytes.saturating_mul(1024 * 1024);
        self
    }

    /// Sets the number of bodies read at once (`--webhook-max-concurrent-bodies`).
    pub fn with_max_concurrent_bodies(mut self, bodies: usize) -> Self {
        self.max_concurrent_bodies = bodies;
        self
    }
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self {
            max_payload_bytes: Self::DEFAULT_MAX_PAYLOAD_MIB * 1024 * 1024,
            max_concurrent_bodies: Self::DEFAULT_MAX_CONCURRENT_BODIES,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// The slots of the bodies being read, shared by every request to one router.
#[derive(Debug)]
pub(crate) struct BodyGate {
    limits: WebhookLimits,
    slots: Arc<Semaphore>,
}

/// A body read under a slot; the slot is given back when this is dropped, so keep it while
/// the body (and what is parsed from it) is alive.
pub(crate) struct ReadBody {
    pub(crate) bytes: Bytes,
    _slot: OwnedSemaphorePermit,
}

// === impl BodyGate ===

impl BodyGate {
    pub(crate) fn new(limits: WebhookLimits) -> Self {
        let slots = limits
            .max_concurrent_bodies
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            limits: WebhookLimits {
                max_concurrent_bodies: slots,
                ..limits
            },
            slots: Arc::new(Semaphore::new(slots)),
        }
    }

    pub(crate) fn limits(&self) -> WebhookLimits {
        self.limits
    }

    /// Reads `body`, after its headers were accepted: a declared length over the limit is
    /// refused before anything is read, then a slot is taken (or the request refused as busy),
    /// and the body is read up to the limit and within the time allowed.
    pub(crate) async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<ReadBody, WebhookError> {
        let limit = self.limits.max_payload_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(WebhookError::TooLarge { limit });
        }
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| WebhookError::Busy {
                bodies: self.limits.max_concurrent_bodies,
            })?;
        let read =
            tokio::time::timeout(self.limits.body_timeout, axum::body::to_bytes(body, limit));
        let bytes = match read.await {
            Err(_elapsed) => {
                return Err(WebhookError::BodyTimeout {
                    timeout: self.limits.body_timeout,
                });
            }
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                let inner = e.into_inner();
                return Err(if inner.is::<http_body_util::LengthLimitError>() {
                    WebhookError::TooLarge { limit }
                } else {
                    WebhookError::Body {
                        message: inner.to_string(),
                    }
                });
            }
        };
        Ok(ReadBody { bytes, _slot: slot })
    }
}
