//! The health vocabulary: [`HealthStatus`] (Argo CD's six codes, ordered best to worst) and
//! [`Health`] (a status with the message that explains it).

use serde::{Deserialize, Serialize};

/// The health of one resource or of a whole application, with Argo CD's codes
/// (`gitops-engine/pkg/health/health.go`), ordered best first: the vocabulary's
/// [`HealthCode`](ferry_core::HealthCode), by the name this engine has always used.
pub use ferry_core::HealthCode as HealthStatus;

/// The health of one resource: a status and a human-readable message (often empty, as in
/// Argo CD, when the status says it all).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    #[serde(default)]
    pub message: String,
}

// === impl Health ===

impl Health {
    /// A health with the given status and message.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Health {
        Health {
            status,
            message: message.into(),
        }
    }

    /// `Healthy` with no message.
    pub fn healthy() -> Health {
        Health::new(HealthStatus::Healthy, "")
    }
}
