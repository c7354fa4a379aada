//! The JSON API under `/api/v1` (see `docs/api.md` and `openapi.json`).

pub mod apps;
pub mod clusters;
pub mod diff;
pub mod migration;
pub mod projects;
pub mod sets;

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body; an empty one is the request's defaults. A body that is not the
/// request's shape is a 400 saying which field.
pub fn body<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    body_required(bytes)
}

/// A JSON request body that must be there.
pub fn body_required<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request needs a JSON body".into()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the request body: {e}")))
}
