//! Kubernetes PATCH semantics on `serde_json::Value` objects: the three
//! non-apply patch types an API server accepts, with its results and errors.
//!
//! Pure: no IO, no async. The caller (an API emulator, or a client predicting
//! a server's answer) picks the patch type from the request's content type,
//! hands over the stored object and the request body, and maps a
//! [`PatchError`] to a `Status` with [`PatchError::code`],
//! [`PatchError::reason`] and [`PatchError::status_message`].
//!
//! | content type | [`PatchKind`] | semantics |
//! | --- | --- | --- |
//! | `application/merge-patch+json` | [`PatchKind::Merge`] | RFC 7386, as `evanphx/json-patch` v4 `MergePatch` |
//! | `application/json-patch+json` | [`PatchKind::Json`] | RFC 6902, as `evanphx/json-patch` v4 |
//! | `application/strategic-merge-patch+json` | [`PatchKind::StrategicMerge`] | `k8s.io/apimachinery` strategic merge patch, built-in kinds only |
//!
//! `application/apply-patch+yaml` (server-side apply) is not handled here.
//!
//! # Public API
//!
//! ```text
//! pub enum PatchKind { Merge, Json, StrategicMerge }
//! impl PatchKind {
//!     pub fn from_content_type(ct: &str) -> Option<PatchKind>;
//!     pub fn content_type(self) -> &'static str;
//! }
//! pub fn apply_patch(kind: PatchKind, object_kind: Option<&str>, target: &Value,
//!                    patch_body: &[u8]) -> Result<Value, PatchError>;
//! pub fn strategic_merge_patch(target: &Value, patch: &Value, object_kind: &str)
//!                    -> Result<Value, PatchError>;
//! pub enum PatchError { BadRequest(String) /*400*/, Invalid(String) /*422*/,
//!                       UnsupportedMediaType(String) /*415*/,
//!                       RequestEntityTooLarge(String) /*413*/, Internal(String) /*500*/ }
//! impl PatchError {
//!     pub fn unsupported_media_type(custom_resource: bool) -> PatchError;
//!     pub fn code(&self) -> u16; pub fn reason(&self) -> &'static str;
//!     pub fn detail(&self) -> &str; pub fn status_message(&self) -> String;
//! }
//! pub mod merge_keys { lookup(kind, path), strategic_fields(kind), TYPES, KINDS, ... }
//! ```
//!
//! `object_kind` is the built-in kind of the object (`"Deployment"`), which
//! selects the strategic merge patch table in [`merge_keys`]; `None` means a
//! custom resource, for which strategic merge patch answers 415 like the API
//! server. A built-in kind missing from the table merges with the default
//! rules (objects merge, lists replace) plus its `metadata` strategies.
//!
//! # Example
//!
//! ```
//! use ferry_kube_patch::{apply_patch, PatchKind};
//! use serde_json::json;
//!
//! let deployment = json!({"spec": {"template": {"spec": {"containers": [
//!     {"name": "main", "image": "nginx"}]}}}});
//! let body = br#"{"spec":{"template":{"spec":{"containers":[
//!     {"name":"main","env":[{"name":"A","value":"1"}]}]}}}}"#;
//! let kind = PatchKind::from_content_type("application/strategic-merge-patch+json");
//! let patched = apply_patch(kind.expect("known type"), Some("Deployment"), &deployment, body);
//! assert_eq!(
//!     patched.expect("patch applies")["spec"]["template"]["spec"]["containers"][0],
//!     json!({"name": "main", "image": "nginx", "env": [{"name": "A", "value": "1"}]})
//! );
//! ```

mod error;
mod json_patch;
mod merge;
pub mod merge_keys;
mod strategic;

use serde_json::Value;

pub use error::{
    BUILTIN_PATCH_TYPES, CUSTOM_RESOURCE_PATCH_TYPES, GENERIC_INVALID_MESSAGE, PatchError,
};
pub use json_patch::MAX_OPERATIONS as MAX_JSON_PATCH_OPERATIONS;

/// The patch types handled by [`apply_patch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
}

impl PatchKind {
    /// The patch kind of a `Content-Type` header value (parameters such as
    /// `; charset=utf-8` and case are ignored). `None` for other types,
    /// including `application/apply-patch+yaml`.
    pub fn from_content_type(ct: &str) -> Option<PatchKind> {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/strategic-merge-patch+json" => Some(PatchKind::StrategicMerge),
            _ => None,
        }
    }

    /// The media type of this patch kind.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchKind::Merge => "application/merge-patch+json",
            PatchKind::Json => "application/json-patch+json",
            PatchKind::StrategicMerge => "application/strategic-merge-patch+json",
        }
    }
}

/// Applies a PATCH request body to `target` and returns the patched object.
///
/// `object_kind` is the built-in kind of `target`, or `None` for a custom
/// resource; it only matters for [`PatchKind::StrategicMerge`], which a
/// custom resource does not accept ([`PatchError::UnsupportedMediaType`]).
/// `target` is not modified. The result is what the server would go on to
/// decode, default and validate; none of that happens here.
pub fn apply_patch(
    kind: PatchKind,
    object_kind: Option<&str>,
    target: &Value,
    patch_body: &[u8],
) -> Result<Value, PatchError> {
    match kind {
        PatchKind::Merge => merge::apply(target, patch_body),
        PatchKind::Json => json_patch::apply(target, patch_body),
        PatchKind::StrategicMerge => match object_kind {
            Some(object_kind) => strategic::apply(target, patch_body, object_kind),
            None => Err(PatchError::unsupported_media_type(true)),
        },
    }
}

/// Applies an already decoded strategic merge patch to an object of the
/// built-in kind `object_kind`.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    object_kind: &str,
) -> Result<Value, PatchError> {
    strategic::apply_value(target, patch, object_kind)
}
