//! The application: the router and the middleware every route passes.

use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stint_axum::SessionLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api::ApiError;
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;

/// Largest request body accepted, bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Largest total of request header names and values accepted, bytes.
pub const MAX_HEADERS: usize = 16 * 1024;

/// The whole service, and its OpenAPI document at `/api/openapi.json`.
pub fn router(state: AppState, session: SessionLayer) -> Router {
    let (app, document) = routes(state.clone(), session);
    // Written once; each answer shares the bytes.
    let document = Bytes::from(document.to_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document does not serialise");
        "{}".to_owned()
    }));
    let serve_document = get(move || {
        let document = document.clone();
        async move { ([(CONTENT_TYPE, "application/json")], document) }
    });
    app.route(OPENAPI_PATH, serve_document)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(limit_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// Every route, and the OpenAPI document that the same registrations wrote.
pub fn routes(state: AppState, session: SessionLayer) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let measured = || middleware::from_fn(record_request);
    let storefront = routes::storefront::router()
        .layer(session)
        .route_layer(measured());
    let v1 = routes::v1::router(state.clone()).route_layer(measured());
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/storefront", storefront)
        .nest("/api/v1", v1)
        .nest("/api/admin", routes::admin::router(state).route_layer(measured()))
        .merge(routes::ops::router().route_layer(measured()))
        .split_for_parts();
    // axum's catch-all `{*name}` is OpenAPI's `{name}`.
    openapi.paths.paths = std::mem::take(&mut openapi.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    openapi
        .paths
        .paths
        .insert(OPENAPI_PATH.to_owned(), document_path());
    unique_operation_ids(&mut openapi);
    (router, openapi)
}

/// OpenAPI wants every `operationId` unique, and generators (openapi-typescript,
/// openapi-generator) key their types by it; the handlers' names repeat
/// across sections (`login` in the storefront and the session API) and a
/// handler of several methods (the gateway) has one name. Each operation
/// under `/api/{section}/` is named `{section}_{handler}`, and one answering
/// several methods gets the method as a suffix.
fn unique_operation_ids(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        // `/api/{section}/…`; not `/api/openapi.json`, which has no section.
        let section = path
            .strip_prefix("/api/")
            .and_then(|rest| rest.split_once('/'))
            .map(|(section, _)| section);
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("options", &mut item.options),
            ("head", &mut item.head),
            ("patch", &mut item.patch),
            ("trace", &mut item.trace),
        ];
        let mut named: Vec<(&str, &mut utoipa::openapi::path::Operation)> = operations
            .into_iter()
            .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
            .collect();
        let shared = named.len() > 1
            && named
                .windows(2)
                .all(|w| w[0].1.operation_id.is_some() && w[0].1.operation_id == w[1].1.operation_id);
        for (method, op) in named.iter_mut() {
            let Some(id) = op.operation_id.take() else {
                continue;
            };
            let id = match section {
                Some(section) => format!("{section}_{id}"),
                None => id,
            };
            op.operation_id = Some(if shared { format!("{id}_{method}") } else { id });
        }
    }
}

/// The document's own entry.
fn document_path() -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let operation = OperationBuilder::new()
        .tag("operations")
        .operation_id(Some("openapi"))
        .summary(Some("This OpenAPI 3.1 document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The document")
                .content("application/json", ContentBuilder::new().build()),
        )
        .build();
    utoipa::openapi::PathItem::new(HttpMethod::Get, operation)
}

/// Refuses requests whose headers are too large, before any work is done.
async fn limit_headers(req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if size > MAX_HEADERS {
        return ApiError::Body(
            axum::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("Request headers too large (at most {MAX_HEADERS} bytes)"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::NotFound("Not found".into())
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a handler panicked".into()).into_response()
}

/// Request counts and latencies by route and status (installed per route,
/// where the matched route is known).
async fn record_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("stint_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("stint_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}
