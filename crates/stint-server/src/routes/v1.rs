//! Stint for backends in any language: the session API (`/api/v1/sessions`,
//! `/api/v1/customers`) and the gateway (`/api/v1/auth`) for nginx
//! `auth_request`, Traefik `ForwardAuth` and Envoy `ext_authz`.
//!
//! Both answer for a browser request that reached another service: that
//! service forwards what the browser sent, and Stint does exactly what its
//! session layer does for a request of its own ([`SessionLayer::resolve`]
//! and [`SessionLayer::finish`]), with the same rules and the same one round
//! trip to the hot store. The cookie token never appears in a JSON body:
//! only in the `Set-Cookie` values, which the caller passes on unchanged.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, REFERER, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use stint_axum::{Session, SessionLayer};
use stint_core::event::{MAX_KIND_LEN, kinds};
use stint_core::store::DataOp;
use stint_core::{Event, SessionId, SessionRecord};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, ApiResult, Json, Reply, created, ok};
use crate::state::AppState;

/// The routes under `/api/v1`, behind the service key.
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(gateway))
        .routes(routes!(gateway_envoy))
        .routes(routes!(resolve))
        .routes(routes!(session))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(convert))
        .routes(routes!(track))
        .routes(routes!(data, update_data))
        .routes(routes!(customer_sessions, revoke_customer_sessions))
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        .layer(middleware::from_fn_with_state(state, require_key))
}

/// Lets through requests bearing one of the service keys (compared in
/// constant time). Without keys (production without `STINT_SERVICE_KEY`)
/// the routes do not exist.
async fn require_key(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if app.service_keys.is_empty() {
        return ApiError::NotFound("Not found".into()).into_response();
    }
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let valid = presented.is_some_and(|p| {
        // Every key is compared, so that the time taken does not say which matched.
        app.service_keys
            .iter()
            .fold(false, |any, k| any | bool::from(p.as_bytes().ct_eq(k.as_bytes())))
    });
    if !valid {
        return ApiError::Unauthorized("Service key required").into_response();
    }
    next.run(req).await
}

/// A browser request as a backend forwards it (`POST /api/v1/sessions/resolve`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Forwarded {
    /// The browser's raw `Cookie` header.
    cookie: Option<String>,
    user_agent: Option<String>,
    /// The client's address.
    ip: Option<String>,
    method: Option<String>,
    /// Path and query.
    url: Option<String>,
    referrer: Option<String>,
    dnt: Option<bool>,
    gpc: Option<bool>,
    /// Whether the request counts as a page view (default: a `GET`).
    page_view: Option<bool>,
}

/// `resolve`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Resolved {
    #[schema(value_type = Option<stint_core::SessionSchema>)]
    session: Option<SessionRecord>,
    set_cookie: Vec<String>,
    created: bool,
    bot: bool,
}

/// The head of the request the browser sent, rebuilt from what a backend
/// forwarded, for [`SessionLayer::resolve`]. A value that cannot be what a
/// browser sent is refused with the field named.
fn forwarded_head(f: &Forwarded, layer: &SessionLayer) -> ApiResult<axum::http::request::Parts> {
    let bad = |m: String| ApiError::BadRequest(m);
    let method = match &f.method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| bad(format!("method: {m:?} is not an HTTP method")))?,
        None => Method::GET,
    };
    // The layer counts a page view for a GET: the method it sees says
    // whether this request is one.
    let page_view = f.page_view.unwrap_or(method == Method::GET);
    let url = f.url.as_deref().unwrap_or("/");
    if !url.starts_with('/') || url.len() > crate::app::MAX_HEADERS {
        return Err(bad("url: a path and query, starting with /".to_owned()));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| bad("url: a path and query, starting with /".to_owned()))?;
    let mut request = axum::http::Request::builder()
        .method(if page_view { Method::GET } else { Method::POST })
        .uri(uri)
        .body(())
        .map_err(|e| bad(e.to_string()))?;
    request.extensions_mut().insert(stint_axum::Forwarded);
    let headers = request.headers_mut();
    let max_cookie = layer.config().max_cookie_header;
    let mut put = |name: HeaderName, field: &str, value: Option<&str>| -> ApiResult<()> {
        if let Some(v) = value {
            let v =
                HeaderValue::from_str(v).map_err(|_| bad(format!("{field}: not a valid header value")))?;
            headers.insert(name, v);
        }
        Ok(())
    };
    if let Some(c) = &f.cookie
        && c.len() > max_cookie
    {
        return Err(ApiError::Body(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("cookie: at most {max_cookie} bytes"),
        ));
    }
    put(COOKIE, "cookie", f.cookie.as_deref())?;
    put(USER_AGENT, "userAgent", f.user_agent.as_deref())?;
    put(REFERER, "referrer", f.referrer.as_deref())?;
    put(
        HeaderName::from_static("dnt"),
        "dnt",
        f.dnt.filter(|d| *d).map(|_| "1"),
    )?;
    put(
        HeaderName::from_static("sec-gpc"),
        "gpc",
        f.gpc.filter(|g| *g).map(|_| "1"),
    )?;
    if let Some(ip) = &f.ip {
        let ip: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| bad(format!("ip: {ip:?} is not an IP address")))?;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    Ok(request.into_parts().0)
}

/// What the layer does around a handler, for the forwarded request: the
/// session, and the `Set-Cookie` headers for the browser.
async fn resolve_head(layer: &SessionLayer, head: &axum::http::request::Parts) -> (Session, HeaderMap) {
    let session = layer.resolve(head).await;
    let mut headers = HeaderMap::new();
    layer.finish(&session, &mut headers).await;
    (session, headers)
}

#[utoipa::path(post, path = "/sessions/resolve", tag = "session API", security(("service" = [])), request_body = Forwarded,
    responses((status = 200, description = "What the session layer does for that browser request", body = crate::openapi::Envelope<Resolved>),
        (status = 400, description = "An ip, url, method or header value a browser cannot send", body = crate::openapi::Failure),
        (status = 413, description = "A body over 64 KiB", body = crate::openapi::Failure),
        (status = 431, description = "A cookie over 8 KiB", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn resolve(State(app): State<AppState>, Json(f): Json<Forwarded>) -> ApiResult<Reply<Resolved>> {
    let head = forwarded_head(&f, &app.layer)?;
    let (session, headers) = resolve_head(&app.layer, &head).await;
    let set_cookie = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let bot = session.is_bot();
    Ok(ok(Resolved {
        session: (!bot).then(|| session.record()),
        set_cookie,
        created: session.is_new(),
        bot,
    }))
}

/// `X-Forwarded-For`'s last address (the one the proxy asking saw; those
/// before it are the client's word), else `X-Real-IP`.
fn forwarded_client(headers: &HeaderMap) -> Option<IpAddr> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-forwarded-for")
        .and_then(|v| v.rsplit(',').next())
        .or_else(|| header("x-real-ip"))
        .and_then(|v| v.trim().parse().ok())
}

/// `?require=customer`.
#[derive(Debug, Deserialize)]
struct Requirement {
    require: Option<String>,
}

/// The gateway: a proxy asks about a page request it holds. Answers 200
/// (401 for `?require=customer` without a customer) with the identity for
/// the upstream and the cookies for the browser. It never answers 4xx for
/// what the browser sent: a proxy would turn that into an error page.
///
/// The original request is named by `X-Original-URI` / `X-Original-Method`
/// (nginx) or `X-Forwarded-Uri` / `X-Forwarded-Method` (Traefik); Envoy's
/// ext_authz instead asks `/api/v1/auth` followed by the original path and
/// query, with the original method, and says `X-Stint-Require: customer`
/// where the query would belong to the page.
#[utoipa::path(method(get, post, put, patch, delete, head, options), path = "/auth", tag = "gateway", security(("service" = [])),
    params(("require" = Option<String>, Query, description = "customer: 401 unless the session is a customer's"),
        ("X-Original-URI" = Option<String>, Header, description = "The page asked for (nginx); Traefik: X-Forwarded-Uri"),
        ("X-Original-Method" = Option<String>, Header, description = "Its method (nginx); Traefik: X-Forwarded-Method"),
        ("X-Forwarded-For" = Option<String>, Header, description = "The client; its last address is used (else X-Real-IP)")),
    responses((status = 200, description = "No body. X-Stint-Session-Id, X-Stint-Visitor-Id, X-Stint-Session-Type, X-Stint-Customer-Id for the upstream (none for a bot); Set-Cookie for the browser, and each cookie again alone in X-Stint-Set-Cookie-Session and X-Stint-Set-Cookie-Visitor"),
        (status = 401, description = "require=customer without a customer, or no service key"),
        (status = 400, description = "An unknown requirement", body = crate::openapi::Failure)))]
async fn gateway(
    State(app): State<AppState>,
    method: Method,
    axum::extract::OriginalUri(asked): axum::extract::OriginalUri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let header = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
    };
    let suffix = asked
        .path()
        .strip_prefix("/api/v1/auth")
        .filter(|rest| rest.starts_with('/'));
    let (original, requirement) = match suffix {
        Some(path) => {
            let original = match asked.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            };
            (Some(original), header(&["x-stint-require"]).map(str::to_owned))
        }
        None => {
            let Query(r) = Query::<Requirement>::try_from_uri(&asked)
                .map_err(|e| ApiError::BadRequest(e.body_text()))?;
            (
                header(&["x-original-uri", "x-forwarded-uri"]).map(str::to_owned),
                r.require,
            )
        }
    };
    let customer_required = match requirement.as_deref() {
        None => false,
        Some("customer") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "require={other}: the only requirement is customer"
            )));
        }
    };
    let uri: Uri = original
        .filter(|u| u.starts_with('/'))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let method = header(&["x-original-method", "x-forwarded-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(method);
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    for name in [
        COOKIE,
        USER_AGENT,
        REFERER,
        HeaderName::from_static("dnt"),
        HeaderName::from_static("sec-gpc"),
    ] {
        for value in headers.get_all(&name) {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    request.extensions_mut().insert(stint_axum::Forwarded);
    if let Some(ip) = forwarded_client(&headers) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    let (session, mut answer) = resolve_head(&app.layer, &request.into_parts().0).await;
    if session.is_stored() {
        let mut identity = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                answer.insert(HeaderName::from_static(name), v);
            }
        };
        identity("x-stint-session-id", &session.id().to_string());
        identity("x-stint-visitor-id", &session.visitor_id().to_string());
        identity(
            "x-stint-session-type",
            if session.is_customer() {
                "CUSTOMER"
            } else {
                "ANONYMOUS"
            },
        );
        identity(
            "x-stint-customer-id",
            session.customer_id().as_deref().unwrap_or_default(),
        );
    }
    // Each cookie once more under a header of its own: a proxy's variable
    // holds one value per header name.
    let config = app.layer.config();
    let mut alone = Vec::new();
    for cookie in answer.get_all(SET_COOKIE) {
        let name = cookie.as_bytes().split(|b| *b == b'=').next().unwrap_or_default();
        if name == config.session_cookie.as_bytes() {
            alone.push(("x-stint-set-cookie-session", cookie.clone()));
        } else if name == config.visitor_cookie.as_bytes() {
            alone.push(("x-stint-set-cookie-visitor", cookie.clone()));
        }
    }
    for (name, cookie) in alone {
        answer.insert(HeaderName::from_static(name), cookie);
    }
    let status = if customer_required && !session.is_customer() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Ok((status, answer).into_response())
}

/// The gateway for Envoy, whose ext_authz asks `/api/v1/auth/<the original
/// path>`: the same answer (see [`gateway`]).
#[utoipa::path(method(get, post, put, patch, delete, head, options), path = "/auth/{*original}", tag = "gateway", security(("service" = [])),
    params(("original" = String, Path, description = "The original path (Envoy's ext_authz puts it after its path_prefix); the query is the page's"),
        ("X-Stint-Require" = Option<String>, Header, description = "customer: 401 unless the session is a customer's")),
    responses((status = 200, description = "As /api/v1/auth"), (status = 401, description = "As /api/v1/auth")))]
async fn gateway_envoy(
    state: State<AppState>,
    method: Method,
    asked: axum::extract::OriginalUri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    gateway(state, method, asked, headers).await
}

fn session_id(raw: &str) -> ApiResult<SessionId> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest("Invalid session id: expected a UUID".into()))
}

fn bounded<'a>(field: &str, value: &'a str, max: usize) -> ApiResult<&'a str> {
    if value.is_empty() || value.len() > max {
        return Err(ApiError::BadRequest(format!("{field}: 1 to {max} characters")));
    }
    Ok(value)
}

/// A session that is still going on (the changes of a session API need one).
async fn live_session(app: &AppState, id: &SessionId) -> ApiResult<SessionRecord> {
    match app.engine.get(id).await? {
        Some(s) if s.is_live(app.engine.policy(), app.engine.now()) => Ok(s),
        Some(_) => Err(ApiError::NotFound("Session has ended".into())),
        None => Err(ApiError::NotFound("Session not found".into())),
    }
}

#[utoipa::path(get, path = "/sessions/{id}", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "The session (ended ones too)", body = crate::openapi::Envelope<stint_core::SessionSchema>),
        (status = 404, description = "Unknown session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn session(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<SessionRecord>> {
    let id = session_id(&id)?;
    let s = app
        .engine
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Session not found".into()))?;
    Ok(ok(s))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Login {
    customer_id: String,
}

/// A change that hands the browser a cookie.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WithCookies {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<stint_core::SessionSchema>)]
    session: Option<SessionRecord>,
    set_cookie: Vec<String>,
}

#[utoipa::path(post, path = "/sessions/{id}/login", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")), request_body = Login,
    responses((status = 200, description = "The same sessionId, type CUSTOMER; the new token in setCookie; records customer_login", body = crate::openapi::Envelope<WithCookies>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn login(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Login>,
) -> ApiResult<Reply<WithCookies>> {
    let id = session_id(&id)?;
    let customer = bounded("customerId", &body.customer_id, 128)?;
    let (session, token) = app.engine.login(&id, customer).await?;
    Ok(ok(WithCookies {
        session: Some(session),
        set_cookie: vec![app.layer.session_cookie(&token)],
    }))
}

#[utoipa::path(post, path = "/sessions/{id}/logout", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "The session ended; setCookie clears the cookie; records customer_logout", body = crate::openapi::Envelope<WithCookies>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn logout(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<WithCookies>> {
    let id = session_id(&id)?;
    if app.engine.logout(&id).await?.is_none() {
        return Err(ApiError::NotFound("Session not found or ended".into()));
    }
    Ok(ok(WithCookies {
        session: None,
        set_cookie: vec![app.layer.clear_session_cookie()],
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Convert {
    order_id: String,
    total: f64,
    currency: Option<String>,
}

#[utoipa::path(post, path = "/sessions/{id}/convert", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")), request_body = Convert,
    responses((status = 200, description = "The session, converted; records order_completed with the total", body = crate::openapi::Envelope<stint_core::SessionSchema>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn convert(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Convert>,
) -> ApiResult<Reply<SessionRecord>> {
    let id = session_id(&id)?;
    let order = bounded("orderId", &body.order_id, 128)?;
    if !body.total.is_finite() || body.total < 0.0 {
        return Err(ApiError::BadRequest("total: a number, 0 or more".into()));
    }
    if let Some(c) = &body.currency
        && !(c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(ApiError::BadRequest(format!(
            "currency: {c:?} is not an ISO 4217 code (EUR, USD, …)"
        )));
    }
    let metadata = json!({ "orderId": order, "total": body.total, "currency": body.currency });
    let session = app.engine.convert(&id, order, metadata).await?;
    Ok(ok(session))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Track {
    #[serde(rename = "type")]
    kind: String,
    page: Option<String>,
    product_id: Option<String>,
    metadata: Option<Value>,
}

/// `POST …/events`'s answer.
#[derive(Debug, Serialize, ToSchema)]
struct Recorded {
    /// Whether the event was recorded (not for a visitor who asked not to be tracked).
    recorded: bool,
}

/// Whether `kind` is a type the session API records: the storefront's cart
/// and checkout types and the shop's own, never those Stint records itself.
fn trackable(kind: &str) -> ApiResult<&str> {
    let valid = !kind.is_empty()
        && kind.len() <= MAX_KIND_LEN
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "type: 1 to {MAX_KIND_LEN} characters of a-z, 0-9, _ . -"
        )));
    }
    let own = [
        kinds::SESSION_START,
        kinds::PAGE_VIEW,
        kinds::CUSTOMER_LOGIN,
        kinds::CUSTOMER_LOGOUT,
        kinds::ORDER_COMPLETED,
    ];
    if own.contains(&kind) {
        return Err(ApiError::BadRequest(format!(
            "type: {kind} is recorded by Stint itself (resolve, login, logout, convert)"
        )));
    }
    Ok(kind)
}

#[utoipa::path(post, path = "/sessions/{id}/events", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")), request_body = Track,
    responses((status = 201, description = "Recorded (recorded: false when the visitor asked not to be tracked)", body = crate::openapi::Envelope<Recorded>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn track(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Track>,
) -> ApiResult<Reply<Recorded>> {
    let id = session_id(&id)?;
    let kind = trackable(&body.kind)?;
    if let Some(page) = &body.page {
        bounded("page", page, 2048)?;
    }
    if let Some(product) = &body.product_id {
        bounded("productId", product, 128)?;
    }
    let session = live_session(&app, &id).await?;
    // A visitor who asked not to be tracked has no landing page kept: their
    // sessions record no event.
    let tracked = session.attributes.landing_page.is_some();
    if tracked {
        let mut event = Event::new(session.id, session.visitor_id, kind, app.engine.now());
        event.page = body.page;
        event.product_id = body.product_id;
        event.metadata = body.metadata;
        app.engine.track(event).await?;
    }
    Ok(created(Recorded { recorded: tracked }))
}

#[utoipa::path(get, path = "/sessions/{id}/data", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "The session's data", body = crate::openapi::Envelope<serde_json::Value>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn data(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<Value>> {
    let id = session_id(&id)?;
    let session = live_session(&app, &id).await?;
    Ok(ok(Value::Object((*session.data).clone())))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
struct DataChange {
    set: Map<String, Value>,
    remove: Vec<String>,
}

#[utoipa::path(patch, path = "/sessions/{id}/data", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A session id (UUID)")), request_body = DataChange,
    responses((status = 200, description = "The data after the change, applied atomically", body = crate::openapi::Envelope<serde_json::Value>),
        (status = 404, description = "Unknown or ended session", body = crate::openapi::Failure), (status = 400, description = "Past the data's bounds (keys, value size)", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn update_data(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Json(change): Json<DataChange>,
) -> ApiResult<Reply<Value>> {
    let id = session_id(&id)?;
    let current = live_session(&app, &id).await?;
    let mut after = (*current.data).clone();
    for key in &change.remove {
        after.remove(key);
    }
    app.layer
        .config()
        .check_data(after, change.set.iter())
        .map_err(ApiError::BadRequest)?;
    let ops: Vec<DataOp> = change
        .remove
        .into_iter()
        .map(DataOp::Remove)
        .chain(change.set.into_iter().map(|(k, v)| DataOp::Set(k, v)))
        .collect();
    let session = app
        .engine
        .save(&id, ops)
        .await?
        .ok_or_else(|| ApiError::NotFound("Session has ended".into()))?;
    Ok(ok(Value::Object((*session.data).clone())))
}

#[utoipa::path(get, path = "/customers/{id}/sessions", tag = "session API", security(("service" = [])), params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, description = "The customer's active sessions", body = crate::openapi::Envelope<Vec<stint_core::SessionSchema>>), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn customer_sessions(
    State(app): State<AppState>,
    Path(customer): Path<String>,
) -> ApiResult<Reply<Vec<SessionRecord>>> {
    let customer = bounded("customerId", &customer, 128)?;
    Ok(ok(app.engine.customer_sessions(customer).await?))
}

#[derive(Debug, Deserialize)]
struct Except {
    except: Option<String>,
}

#[utoipa::path(delete, path = "/customers/{id}/sessions", tag = "session API", security(("service" = [])),
    params(("id" = String, Path, description = "A customer id"), ("except" = Option<String>, Query, description = "A session id to keep")),
    responses((status = 200, description = "Revoked", body = crate::openapi::Envelope<crate::views::Revoked>), (status = 400, description = "A malformed id or body field; the message names it", body = crate::openapi::Failure), (status = 401, description = "Service key required", body = crate::openapi::Failure)))]
async fn revoke_customer_sessions(
    State(app): State<AppState>,
    Path(customer): Path<String>,
    Query(q): Query<Except>,
) -> ApiResult<Reply<crate::views::Revoked>> {
    let customer = bounded("customerId", &customer, 128)?;
    let keep = q.except.as_deref().map(session_id).transpose()?;
    let revoked = app.engine.revoke_customer(customer, keep.as_ref()).await?;
    Ok(ok(crate::views::Revoked { revoked }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_takes_the_address_the_proxy_saw() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        h.insert("x-real-ip", HeaderValue::from_static("198.51.100.1"));
        assert_eq!(forwarded_client(&h), Some("203.0.113.9".parse().unwrap()));
        h.remove("x-forwarded-for");
        assert_eq!(forwarded_client(&h), Some("198.51.100.1".parse().unwrap()));
        h.insert("x-real-ip", HeaderValue::from_static("not an address"));
        assert_eq!(forwarded_client(&h), None);
    }

    #[test]
    fn stints_own_event_types_are_not_for_the_api() {
        assert!(trackable("add_to_cart").is_ok());
        assert!(trackable("wishlist.add").is_ok());
        for bad in ["", "Page", "page_view", "order_completed", "a b", &"x".repeat(65)] {
            assert!(trackable(bad).is_err(), "{bad}");
        }
    }
}
