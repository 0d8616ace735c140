//! Errors of the session handle and the extractors' rejections.
//!
//! Each answers as plain text with the status documented on it, as axum's
//! own rejections do. An application with its own error format maps them:
//! they are ordinary error types (`From` into its error, or a match on
//! [`SessionError::status`]).

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// What a session operation can fail with.
///
/// As a response: `400` for refused data, `404` for a session that has
/// ended, `503` while a store is unavailable, `500` otherwise; the body is
/// the message as plain text (a store's message names the store, never a
/// token or a secret).
///
/// ```
/// use axum::{Json, routing::post, Router};
/// use stint_axum::{Session, SessionError};
///
/// // `?` turns a session error into a response: no `map_err` needed.
/// async fn add(session: Session, Json(n): Json<u32>) -> Result<Json<u32>, SessionError> {
///     let total = session.modify("total", |t: Option<u32>| Ok(t.unwrap_or(0) + n)).await?;
///     Ok(Json(total))
/// }
/// # let _: Router = Router::new().route("/add", post(add));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The engine or a store failed.
    #[error(transparent)]
    Store(#[from] stint_core::Error),
    /// A value could not be (de)serialised to the type asked for, or was
    /// refused.
    #[error("session data: {0}")]
    Data(String),
}

impl SessionError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        use stint_core::Error as E;
        match self {
            Self::Data(_) | Self::Store(E::InvalidData(_)) => StatusCode::BAD_REQUEST,
            Self::Store(E::SessionNotFound) => StatusCode::NOT_FOUND,
            Self::Store(E::Unavailable { .. } | E::WriterClosed) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        (self.status(), self.to_string()).into_response()
    }
}

/// The request did not pass through [`SessionLayer`](crate::SessionLayer):
/// a wiring mistake. `500`, plain text.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the session layer is not installed on this route")]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// A customer-only route was asked by an anonymous session: `401`, plain
/// text `Authentication required`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("Authentication required")]
pub struct AuthenticationRequired;

impl IntoResponse for AuthenticationRequired {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, self.to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_cause() {
        let cases = [
            (SessionError::Data("x".into()), StatusCode::BAD_REQUEST),
            (
                SessionError::Store(stint_core::Error::SessionNotFound),
                StatusCode::NOT_FOUND,
            ),
            (
                SessionError::Store(stint_core::Error::hot("down")),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(e.into_response().status(), status);
        }
        assert_eq!(
            AuthenticationRequired.into_response().status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
