//! Errors of the session handle and the extractors' rejections.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

/// What a session operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The engine or a store failed.
    #[error(transparent)]
    Store(#[from] stint_core::Error),
    /// A value could not be (de)serialised to the type asked for.
    #[error("session data: {0}")]
    Data(String),
}

/// The request did not pass through [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the session layer is not installed on this route")]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        let body = json!({ "success": false, "error": self.to_string() });
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}

/// A customer-only route was asked by an anonymous session: 401 with
/// `{"success": false, "error": "Authentication required"}`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("Authentication required")]
pub struct AuthenticationRequired;

impl IntoResponse for AuthenticationRequired {
    fn into_response(self) -> Response {
        let body = json!({ "success": false, "error": self.to_string() });
        (StatusCode::UNAUTHORIZED, Json(body)).into_response()
    }
}
