//! [`ApiError`]: every failure of a request, as `{"error": {"code", "message"}}` with its
//! HTTP status. Messages name the object and the cause; none carries a credential.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unprocessable(String),
    /// The management cluster (or a target cluster) refused or failed.
    #[error("{0}")]
    Cluster(String),
}

impl ApiError {
    fn status(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::Cluster(_) => (StatusCode::BAD_GATEWAY, "cluster_error"),
        }
    }

    /// A write to the management cluster failed: a conflict stays a conflict.
    pub fn from_kube(what: &str, e: &kube::Error) -> ApiError {
        match e {
            kube::Error::Api(s) if s.code == 409 => ApiError::Conflict(format!(
                "{what}: changed meanwhile, try again ({})",
                s.message
            )),
            kube::Error::Api(s) if s.code == 404 => {
                ApiError::NotFound(format!("{what}: {}", s.message))
            }
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => {
                ApiError::BadRequest(format!("{what}: {}", s.message))
            }
            other => ApiError::Cluster(format!("{what}: {}", ferry_cluster::cause(other))),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let body = json!({"error": {"code": code, "message": self.to_string()}});
        (status, Json(body)).into_response()
    }
}
