//! The health vocabulary: [`HealthStatus`] (Argo CD's six codes, ordered best to worst) and
//! [`Health`] (a status with the message that explains it).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The health of one resource or of a whole application, with Argo CD's codes
/// (`gitops-engine/pkg/health/health.go`).
///
/// The derived order is Argo CD's `healthOrder`, best first:
/// `Healthy < Suspended < Progressing < Missing < Degraded < Unknown`, so the worst of several
/// statuses is their [`Ord::max`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// The resource is fully healthy.
    Healthy,
    /// Paused or suspended on purpose (a paused Deployment, a suspended Job or CronJob).
    Suspended,
    /// Not healthy yet, but still able to get there (a rollout in progress).
    Progressing,
    /// In Git but not in the cluster.
    Missing,
    /// Failed, or could not become healthy in time.
    Degraded,
    /// The assessment itself failed (for example a malformed status).
    Unknown,
}

// === impl HealthStatus ===

impl HealthStatus {
    /// Every status, best first (Argo CD's `healthOrder`).
    pub const ALL: [HealthStatus; 6] = [
        HealthStatus::Healthy,
        HealthStatus::Suspended,
        HealthStatus::Progressing,
        HealthStatus::Missing,
        HealthStatus::Degraded,
        HealthStatus::Unknown,
    ];

    /// The code as Argo CD writes it (`"Healthy"`, `"Progressing"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "Healthy",
            HealthStatus::Suspended => "Suspended",
            HealthStatus::Progressing => "Progressing",
            HealthStatus::Missing => "Missing",
            HealthStatus::Degraded => "Degraded",
            HealthStatus::Unknown => "Unknown",
        }
    }

    /// Parses a code written as Argo CD writes it; `None` for anything else.
    pub fn parse(code: &str) -> Option<HealthStatus> {
        HealthStatus::ALL.into_iter().find(|s| s.as_str() == code)
    }

    /// Whether `other` is worse than `self` (Argo CD's `IsWorse(self, other)`).
    pub fn is_worse(self, other: HealthStatus) -> bool {
        other > self
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
