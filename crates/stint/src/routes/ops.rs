//! Operations: liveness, readiness, metrics.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    // Named by what they are, so that an operator knows where to look.
    // Each store gets a second: a probe must answer even when a store does not.
    let limit = std::time::Duration::from_secs(1);
    let mut failing = Vec::new();
    if !matches!(
        tokio::time::timeout(limit, app.engine.hot().ping()).await,
        Ok(Ok(()))
    ) {
        failing.push("memory");
    }
    if !matches!(
        tokio::time::timeout(limit, app.engine.cold().ping()).await,
        Ok(Ok(()))
    ) {
        failing.push(app.store.backend());
    }
    if failing.is_empty() {
        (StatusCode::OK, axum::Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "failing": failing })),
        )
    }
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("stint_writer_queue_depth").set(app.writer.queued() as f64);
    if let Ok(n) = app.engine.hot().count().await {
        metrics::gauge!("stint_hot_sessions").set(n as f64);
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
