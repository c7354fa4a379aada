//! The errors a PATCH can end in, each tied to the HTTP status and `Status`
//! reason the Kubernetes API server answers with.

use thiserror::Error;

/// Media types a built-in resource accepts for PATCH, in the server's order.
pub const BUILTIN_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// Media types a custom resource accepts for PATCH (no strategic merge patch).
pub const CUSTOM_RESOURCE_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// The message `Status.message` carries for a generic 422 answer.
pub const GENERIC_INVALID_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

/// Why a patch could not be applied.
///
/// Every variant carries the detailed message (what the Go libraries the API
/// server uses would say). [`PatchError::status_message`] gives the text the
/// server actually puts in `Status.message`, which for some 422 answers is a
/// generic sentence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatchError {
    /// 400 BadRequest: the patch document cannot be decoded or has a bad
    /// directive format.
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid: the patch is well formed but cannot be applied (a failed
    /// JSON patch `test`, a path that does not exist, a list of lists).
    #[error("{0}")]
    Invalid(String),
    /// 415 UnsupportedMediaType: the resource does not accept this patch type
    /// (strategic merge patch on a custom resource).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 413 RequestEntityTooLarge: a JSON patch with too many operations.
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// 500 with an empty (unknown) reason: errors the server does not map to
    /// a status, e.g. a strategic merge patch list element without its merge
    /// key or `$patch: merge`.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The 415 answer for a content type the resource does not accept.
    pub fn unsupported_media_type(custom_resource: bool) -> PatchError {
        let accepted = if custom_resource {
            CUSTOM_RESOURCE_PATCH_TYPES
        } else {
            BUILTIN_PATCH_TYPES
        };
        PatchError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ))
    }

    /// HTTP status code of the answer.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::UnsupportedMediaType(_) => 415,
            PatchError::RequestEntityTooLarge(_) => 413,
            PatchError::Internal(_) => 500,
        }
    }

    /// `Status.reason` of the answer (empty for [`PatchError::Internal`]).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            PatchError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            PatchError::Internal(_) => "",
        }
    }

    /// The detailed message.
    pub fn detail(&self) -> &str {
        match self {
            PatchError::BadRequest(m)
            | PatchError::Invalid(m)
            | PatchError::UnsupportedMediaType(m)
            | PatchError::RequestEntityTooLarge(m)
            | PatchError::Internal(m) => m,
        }
    }

    /// `Status.message` as the API server writes it.
    pub fn status_message(&self) -> String {
        match self {
            PatchError::Invalid(_) => GENERIC_INVALID_MESSAGE.to_string(),
            PatchError::RequestEntityTooLarge(m) => format!("Request entity too large: {m}"),
            other => other.detail().to_string(),
        }
    }
}
