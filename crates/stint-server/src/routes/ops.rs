//! Operations: liveness, readiness, metrics; and the dashboard's page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use crate::views::Health;

/// `/healthz`, `/readyz`, `/metrics`, and the dashboard's page and assets.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(dashboard))
        .routes(routes!(dashboard_js))
        .routes(routes!(dashboard_css))
        .routes(routes!(dashboard_icon))
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process serves", body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        failing: Vec::new(),
    })
}

#[utoipa::path(get, path = "/dashboard", tag = "operations",
    responses((status = 200, description = "The analytics dashboard (it asks for the admin token)", content_type = "text/html")))]
async fn dashboard() -> impl IntoResponse {
    asset(DASHBOARD_HTML, "text/html; charset=utf-8").await
}

#[utoipa::path(get, path = "/dashboard/app.js", tag = "operations",
    responses((status = 200, description = "The dashboard's script", content_type = "text/javascript")))]
async fn dashboard_js() -> impl IntoResponse {
    asset(DASHBOARD_JS, "text/javascript; charset=utf-8").await
}

#[utoipa::path(get, path = "/dashboard/app.css", tag = "operations",
    responses((status = 200, description = "The dashboard's style sheet", content_type = "text/css")))]
async fn dashboard_css() -> impl IntoResponse {
    asset(DASHBOARD_CSS, "text/css; charset=utf-8").await
}

#[utoipa::path(get, path = "/dashboard/favicon.svg", tag = "operations",
    responses((status = 200, description = "The dashboard's icon", content_type = "image/svg+xml")))]
async fn dashboard_icon() -> impl IntoResponse {
    asset(DASHBOARD_ICON, "image/svg+xml").await
}

/// The dashboard: a static page over the admin API, compiled into the
/// binary (no CDN: it works offline). The page holds no data; it asks the
/// admin API with the token the user signs in with.
const DASHBOARD_HTML: &str = include_str!("../../assets/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../../assets/app.js");
const DASHBOARD_CSS: &str = include_str!("../../assets/app.css");
const DASHBOARD_ICON: &str = include_str!("../../assets/favicon.svg");

async fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (http::header::CONTENT_TYPE, content_type),
            (
                http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'",
            ),
            (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Every store answers", body = Health),
        (status = 503, description = "The failing stores, named (redis, memory, sqlite, postgres, journal)", body = Health)))]
async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    // Named by what they are, so that an operator knows where to look.
    // Each store gets a second: a probe must answer even when a store does not.
    let limit = std::time::Duration::from_secs(1);
    let mut failing = Vec::new();
    if !matches!(
        tokio::time::timeout(limit, app.engine.hot().ping()).await,
        Ok(Ok(()))
    ) {
        failing.push(if app.tier.is_some() { "redis" } else { "memory" });
    }
    // A store that answers reads but refuses writes (a full disk) fails
    // its batches: the writer knows.
    if app.writer.store_failing()
        || !matches!(
            tokio::time::timeout(limit, app.engine.cold().ping()).await,
            Ok(Ok(()))
        )
    {
        failing.push(app.store.backend());
    }
    if app.writer.journal_failing() {
        failing.push("journal");
    }
    if failing.is_empty() {
        (
            StatusCode::OK,
            axum::Json(Health {
                status: "ready",
                failing,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health {
                status: "unavailable",
                failing,
            }),
        )
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("stint_writer_queue_depth").set(app.writer.queued() as f64);
    if let Ok(n) = app.engine.hot().count().await {
        metrics::gauge!("stint_hot_sessions").set(n as f64);
    }
    // The in-process tier (with Redis, the local one): its size against its
    // bound, and what the bound evicted.
    metrics::gauge!("stint_memory_sessions").set(app.memory.len() as f64);
    if let Some(capacity) = app.memory.capacity() {
        metrics::gauge!("stint_memory_capacity").set(capacity as f64);
    }
    metrics::counter!("stint_memory_evictions_total").absolute(app.memory.evictions());
    if let Some(tier) = &app.tier {
        metrics::gauge!("stint_hot_degraded").set(if tier.is_degraded() { 1.0 } else { 0.0 });
        metrics::counter!("stint_redis_commands_total").absolute(tier.primary().round_trips());
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
