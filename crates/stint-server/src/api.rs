//! The JSON envelope and the one place where errors become HTTP statuses.

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

/// `{"success": true, "data": …}` with a status.
pub struct Reply<T>(pub StatusCode, pub T);

/// The envelope as written: the answer serialised in place, not copied into
/// a `serde_json::Value` first.
#[derive(Serialize)]
struct Envelope<'a, T> {
    success: bool,
    data: &'a T,
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let envelope = Envelope {
            success: true,
            data: &self.1,
        };
        (self.0, axum::Json(envelope)).into_response()
    }
}

/// 200 with the envelope.
pub fn ok<T: Serialize>(data: T) -> Reply<T> {
    Reply(StatusCode::OK, data)
}

/// 201 with the envelope.
pub fn created<T: Serialize>(data: T) -> Reply<T> {
    Reply(StatusCode::CREATED, data)
}

/// Every error a route can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 401.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// A rejection of the request body, with its own status (400, 413, 415, 422).
    #[error("{1}")]
    Body(StatusCode, String),
    /// 503: a store failed; the request can be retried.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug.
    #[error("internal error")]
    Internal(String),
}

impl From<stint_core::Error> for ApiError {
    fn from(e: stint_core::Error) -> Self {
        use stint_core::Error as E;
        match e {
            E::SessionNotFound => ApiError::NotFound("Session not found".into()),
            E::InvalidData(m) => ApiError::BadRequest(m),
            E::Unavailable { .. } | E::WriterClosed => ApiError::Unavailable(e.to_string()),
            E::Corrupt { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<stint_axum::SessionError> for ApiError {
    fn from(e: stint_axum::SessionError) -> Self {
        match e {
            stint_axum::SessionError::Store(e) => e.into(),
            stint_axum::SessionError::Data(m) => ApiError::BadRequest(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Request body too large".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                "Expected a JSON body (Content-Type: application/json)".to_owned()
            }
            _ => format!("Invalid JSON body: {}", r.body_text()),
        };
        // Any other client error keeps its status; there is no server error
        // in parsing a request body.
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::Body(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Body(s, _) => *s,
            ApiError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            axum::Json(json!({ "success": false, "error": self.to_string() })),
        )
            .into_response()
    }
}

/// Route results.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body whose rejections use the envelope.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// A signed-in customer's session; an anonymous one is refused with 401 in
/// the envelope (`{"success": false, "error": "Authentication required"}`).
pub struct SignedIn(pub stint_axum::CustomerSession);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        stint_axum::CustomerSession::from_request_parts(parts, state)
            .await
            .map(SignedIn)
            .map_err(|_| ApiError::Unauthorized("Authentication required"))
    }
}
