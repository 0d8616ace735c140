//! The admin API: sessions, their events, customers' sessions, visitors,
//! real-time figures and store health. Every route needs the bearer token.

use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use stint_core::store::SessionQuery;
use stint_core::{Person, SessionId, VisitorId, analytics};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, ApiResult, Reply, ok};
use crate::export::{Format, Table};
use crate::privacy;
use crate::state::AppState;
use crate::views::{
    CustomerRevoked, CustomerSessions, Erased, FunnelView, OrderView, RealtimeView, SessionEvents,
    SessionPage, SessionRevoked, Stats, StoreHealth, VisitorHistory, WriterHealth,
};

/// The admin routes (mounted under `/api/admin`).
pub fn router(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions))
        .routes(routes!(get_session, revoke_session))
        .routes(routes!(session_events))
        .routes(routes!(customer_sessions, revoke_customer_sessions))
        .routes(routes!(visitor, erase_visitor))
        .routes(routes!(export_visitor))
        .routes(routes!(erase_customer))
        .routes(routes!(export_customer))
        .routes(routes!(realtime))
        .routes(routes!(daily))
        .routes(routes!(breakdown))
        .routes(routes!(funnel))
        .routes(routes!(attribution))
        .routes(routes!(stats))
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        .layer(middleware::from_fn_with_state(state, require_token))
}

/// Lets through only requests bearing the admin token (compared in constant time).
async fn require_token(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let valid = presented.is_some_and(|t| bool::from(t.as_bytes().ct_eq(app.admin_token.as_bytes())));
    if !valid {
        return ApiError::Unauthorized("Admin token required").into_response();
    }
    next.run(req).await
}

fn session_id(raw: &str) -> ApiResult<SessionId> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest("Invalid session id: expected a UUID".into()))
}

fn customer_id(raw: &str) -> ApiResult<&str> {
    if raw.is_empty() || raw.len() > 128 {
        return Err(ApiError::BadRequest("Invalid customer id".into()));
    }
    Ok(raw)
}

/// The listing's filters, as strings so that a bad value gets a clear message.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    active: Option<String>,
    customer_id: Option<String>,
    visitor_id: Option<String>,
    converted: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn flag(name: &str, v: Option<&str>) -> ApiResult<Option<bool>> {
    match v {
        None | Some("") => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::BadRequest(format!("{name} must be true or false"))),
    }
}

#[utoipa::path(get, path = "/sessions", tag = "admin", security(("admin" = [])),
    params(("active" = Option<bool>, Query, description = "Only live (true) or only ended (false) sessions"),
        ("customerId" = Option<String>, Query, description = "Only this customer's"),
        ("visitorId" = Option<String>, Query, description = "Only this visitor's"),
        ("converted" = Option<bool>, Query, description = "Only converted (true) or not (false)"),
        ("limit" = Option<u32>, Query, description = "1 to 500; default 50"),
        ("cursor" = Option<String>, Query, description = "The nextCursor of the page before")),
    responses((status = 200, description = "Newest first", body = crate::openapi::Envelope<SessionPage>),
        (status = 400, description = "A bad filter", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn list_sessions(
    State(app): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<Reply<SessionPage>> {
    let limit = match p.limit.as_deref() {
        None | Some("") => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| ApiError::BadRequest("limit must be a whole number from 1 to 500".into()))?,
    };
    let visitor_id = match p.visitor_id.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<VisitorId>()
                .map_err(|_| ApiError::BadRequest("visitorId must be a UUID".into()))?,
        ),
    };
    let before = match p.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<SessionId>()
                .map_err(|_| ApiError::BadRequest("Invalid cursor".into()))?,
        ),
    };
    let customer_id = match p.customer_id.as_deref() {
        None | Some("") => None,
        Some(c) => Some(customer_id(c)?.to_owned()),
    };
    let query = SessionQuery {
        active: flag("active", p.active.as_deref())?,
        converted: flag("converted", p.converted.as_deref())?,
        customer_id,
        visitor_id,
        limit: limit + 1,
        before,
        ..SessionQuery::default()
    };
    let mut sessions = app.engine.list(query).await?;
    let next_cursor = if sessions.len() > limit as usize {
        sessions.truncate(limit as usize);
        sessions.last().map(|s| s.id.to_string())
    } else {
        None
    };
    Ok(ok(SessionPage {
        sessions,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/sessions/{id}", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "The session", body = crate::openapi::Envelope<stint_core::SessionSchema>),
        (status = 404, description = "Unknown session", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn get_session(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Reply<stint_core::SessionRecord>> {
    let id = session_id(&id)?;
    app.engine
        .get(&id)
        .await?
        .map(ok)
        .ok_or_else(|| ApiError::NotFound("Session not found".into()))
}

#[utoipa::path(get, path = "/sessions/{id}/events", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "The session's events, oldest first", body = crate::openapi::Envelope<SessionEvents>),
        (status = 404, description = "Unknown session", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn session_events(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Reply<SessionEvents>> {
    let id = session_id(&id)?;
    if app.engine.get(&id).await?.is_none() {
        return Err(ApiError::NotFound("Session not found".into()));
    }
    let events = app.engine.events(&id).await?;
    Ok(ok(SessionEvents {
        session_id: id,
        events,
    }))
}

#[utoipa::path(delete, path = "/sessions/{id}", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A session id (UUID)")),
    responses((status = 200, description = "Revoked (its history kept)", body = crate::openapi::Envelope<SessionRevoked>),
        (status = 404, description = "Unknown session", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn revoke_session(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Reply<SessionRevoked>> {
    let id = session_id(&id)?;
    if app.engine.get(&id).await?.is_none() {
        return Err(ApiError::NotFound("Session not found".into()));
    }
    let revoked = app.engine.revoke(&id).await?;
    Ok(ok(SessionRevoked {
        session_id: id,
        revoked,
    }))
}

#[utoipa::path(get, path = "/customers/{id}/sessions", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, description = "The customer's active sessions", body = crate::openapi::Envelope<CustomerSessions>), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn customer_sessions(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Reply<CustomerSessions>> {
    let id = customer_id(&id)?;
    let sessions = app.engine.customer_sessions(id).await?;
    Ok(ok(CustomerSessions {
        customer_id: id.to_owned(),
        sessions,
    }))
}

#[utoipa::path(delete, path = "/customers/{id}/sessions", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, description = "Every session of the customer revoked", body = crate::openapi::Envelope<CustomerRevoked>), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn revoke_customer_sessions(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Reply<CustomerRevoked>> {
    let id = customer_id(&id)?;
    let n = app.engine.revoke_customer(id, None).await?;
    Ok(ok(CustomerRevoked {
        customer_id: id.to_owned(),
        revoked: n,
    }))
}

#[utoipa::path(get, path = "/visitors/{id}", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A visitor id (UUID)")),
    responses((status = 200, description = "The visitor's sessions and orders", body = crate::openapi::Envelope<VisitorHistory>),
        (status = 400, description = "Not a visitor id", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn visitor(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<VisitorHistory>> {
    let visitor = visitor_id(&id)?;
    let mut sessions = app
        .engine
        .list(SessionQuery {
            visitor_id: Some(visitor),
            limit: 1000,
            ..SessionQuery::default()
        })
        .await?;
    sessions.reverse();
    let orders: Vec<OrderView> = app
        .shop
        .orders_of_visitor(&visitor)
        .await?
        .iter()
        .map(OrderView::from)
        .collect();
    if sessions.is_empty() && orders.is_empty() {
        return Err(ApiError::NotFound("Visitor not found".into()));
    }
    Ok(ok(VisitorHistory {
        visitor_id: visitor,
        sessions,
        orders,
    }))
}

fn visitor_id(raw: &str) -> ApiResult<VisitorId> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest("Invalid visitor id: expected a UUID".into()))
}

#[utoipa::path(get, path = "/visitors/{id}/export", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A visitor id (UUID)")),
    responses((status = 200, description = "Everything stored about the visitor (the right of access)", body = crate::openapi::Envelope<serde_json::Value>),
        (status = 404, description = "Nothing stored", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn export_visitor(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<Value>> {
    let who = Person::Visitor(visitor_id(&id)?);
    privacy::export(&app.engine, &app.shop, &who)
        .await?
        .map(ok)
        .ok_or_else(|| ApiError::NotFound("Nothing is stored about this visitor".into()))
}

#[utoipa::path(get, path = "/customers/{id}/export", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, description = "Everything stored about the customer (the right of access)", body = crate::openapi::Envelope<serde_json::Value>),
        (status = 404, description = "Nothing stored", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn export_customer(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<Value>> {
    let who = Person::Customer(customer_id(&id)?.to_owned());
    privacy::export(&app.engine, &app.shop, &who)
        .await?
        .map(ok)
        .ok_or_else(|| ApiError::NotFound("Nothing is stored about this customer".into()))
}

#[utoipa::path(delete, path = "/visitors/{id}", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A visitor id (UUID)")),
    responses((status = 200, description = "Every session and event of the visitor deleted (the right to erasure)", body = crate::openapi::Envelope<Erased>), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn erase_visitor(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<Erased>> {
    let who = Person::Visitor(visitor_id(&id)?);
    Ok(ok(Erased {
        erased: privacy::erase(&app.engine, &who).await?,
    }))
}

#[utoipa::path(delete, path = "/customers/{id}", tag = "admin", security(("admin" = [])), params(("id" = String, Path, description = "A customer id")),
    responses((status = 200, description = "Every session and event of the customer deleted (the right to erasure)", body = crate::openapi::Envelope<Erased>), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn erase_customer(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Reply<Erased>> {
    let who = Person::Customer(customer_id(&id)?.to_owned());
    Ok(ok(Erased {
        erased: privacy::erase(&app.engine, &who).await?,
    }))
}

/// A date range of the analytics routes.
#[derive(Deserialize)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
    dimension: Option<String>,
    limit: Option<String>,
    format: Option<String>,
}

/// The attribution route's parameters.
#[derive(Deserialize)]
struct AttributionParams {
    #[serde(flatten)]
    range: RangeParams,
    model: Option<String>,
    #[serde(rename = "lookbackDays")]
    lookback_days: Option<String>,
}

/// The realtime route's parameters.
#[derive(Deserialize)]
struct RealtimeParams {
    minutes: Option<String>,
    format: Option<String>,
}

/// Top pages in the realtime answer.
const TOP_PAGES: u32 = 10;

/// Longest range the analytics routes accept, days.
const MAX_RANGE_DAYS: i64 = 366;

fn date(name: &str, raw: Option<&str>, default: time::Date) -> ApiResult<time::Date> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");
    match raw {
        None | Some("") => Ok(default),
        Some(s) => time::Date::parse(s, FORMAT)
            .map_err(|_| ApiError::BadRequest(format!("{name} must be a date as YYYY-MM-DD"))),
    }
}

/// `dimension`, if it is one the breakdowns know.
fn known_dimension(dimension: &str) -> ApiResult<&str> {
    if analytics::DIMENSIONS.contains(&dimension) {
        Ok(dimension)
    } else {
        Err(ApiError::BadRequest(format!(
            "dimension must be one of: {}",
            analytics::DIMENSIONS.join(", ")
        )))
    }
}

/// `limit`: rows of a breakdown, 1 to 1000 (default 50).
fn row_limit(p: &RangeParams) -> ApiResult<usize> {
    match p.limit.as_deref() {
        None | Some("") => Ok(50),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::BadRequest("limit must be a whole number from 1 to 1000".into())),
    }
}

/// `from` and `to` (inclusive, UTC); by default the last seven days.
fn range(app: &AppState, p: &RangeParams) -> ApiResult<(time::Date, time::Date)> {
    let today =
        analytics::day_of(app.engine.now()).ok_or_else(|| ApiError::Internal("clock out of range".into()))?;
    let to = date("to", p.to.as_deref(), today)?;
    let from = date("from", p.from.as_deref(), to - time::Duration::days(6))?;
    if from > to {
        return Err(ApiError::BadRequest("from must not be after to".into()));
    }
    if (to - from).whole_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::BadRequest(format!(
            "a range spans at most {MAX_RANGE_DAYS} days"
        )));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/analytics/daily", tag = "admin", security(("admin" = [])), params(("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (UTC); default six days before to"), ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (UTC); default today"), ("format" = Option<String>, Query, description = "json (default) or csv: a header row, then the same figures")),
    responses((status = 200, description = "One row a day (UTC); today's is live", content((crate::openapi::Envelope<Vec<analytics::DayRow>> = "application/json"), (String = "text/csv"))), (status = 400, description = "A bad date, a range past 366 days or reversed, a format other than json or csv", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn daily(
    State(app): State<AppState>,
    Query(p): Query<RangeParams>,
) -> ApiResult<Table<Vec<analytics::DayRow>>> {
    let format = Format::parse(p.format.as_deref())?;
    let (from, to) = range(&app, &p)?;
    let rows = app.engine.daily(from, to).await?;
    Ok(Table::new(rows, format, format!("stint-daily-{from}-{to}")))
}

#[utoipa::path(get, path = "/analytics/breakdown", tag = "admin", security(("admin" = [])),
    params(("dimension" = String, Query, description = "device, browser, os, country, city, utm_source, utm_medium, utm_campaign, referrer or landing_page"), ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (UTC); default six days before to"), ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (UTC); default today"),
        ("limit" = Option<u32>, Query, description = "Rows, 1 to 1000; default 50"), ("format" = Option<String>, Query, description = "json (default) or csv: a header row, then the same figures")),
    responses((status = 200, description = "One row per value, most sessions first", content((crate::openapi::Envelope<Vec<analytics::BreakdownRow>> = "application/json"), (String = "text/csv"))), (status = 400, description = "A bad date, a range past 366 days or reversed, a format other than json or csv", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn breakdown(
    State(app): State<AppState>,
    Query(p): Query<RangeParams>,
) -> ApiResult<Table<Vec<analytics::BreakdownRow>>> {
    let format = Format::parse(p.format.as_deref())?;
    let dimension = known_dimension(p.dimension.as_deref().unwrap_or_default())?;
    let limit = row_limit(&p)?;
    let (from, to) = range(&app, &p)?;
    let summaries = app.engine.summaries(from, to, Some(dimension), false).await?;
    let rows = analytics::breakdown_rows(summaries, limit);
    Ok(Table::new(rows, format, format!("stint-{dimension}-{from}-{to}")))
}

#[utoipa::path(get, path = "/analytics/funnel", tag = "admin", security(("admin" = [])), params(("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (UTC); default six days before to"), ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (UTC); default today"),
        ("dimension" = Option<String>, Query, description = "One funnel per value of this breakdown dimension (device, browser, os, country, city, utm_source, utm_medium, utm_campaign, referrer, landing_page)"),
        ("limit" = Option<u32>, Query, description = "With dimension: values, 1 to 1000; default 50"),
        ("format" = Option<String>, Query, description = "json (default) or csv: a header row, then the same figures")),
    responses((status = 200, description = "Sessions reaching each step, in order; with dimension, one such funnel per value, most sessions first", content((crate::openapi::Envelope<FunnelView> = "application/json"), (String = "text/csv"))), (status = 400, description = "A bad date, a range past 366 days or reversed, an unknown dimension, a format other than json or csv", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn funnel(State(app): State<AppState>, Query(p): Query<RangeParams>) -> ApiResult<Table<FunnelView>> {
    let format = Format::parse(p.format.as_deref())?;
    let dimension = match p.dimension.as_deref() {
        None | Some("") => None,
        Some(d) => Some(known_dimension(d)?),
    };
    let limit = row_limit(&p)?;
    let (from, to) = range(&app, &p)?;
    let steps = analytics::standard_funnel(analytics::PRODUCT_PAGES);
    let summaries = app.engine.summaries(from, to, dimension, true).await?;
    Ok(match dimension {
        None => Table::new(
            FunnelView::Steps(analytics::whole_funnel(summaries, &steps)),
            format,
            format!("stint-funnel-{from}-{to}"),
        ),
        Some(d) => Table::new(
            FunnelView::ByValue(analytics::funnel_rows(summaries, &steps, limit)),
            format,
            format!("stint-funnel-{d}-{from}-{to}"),
        ),
    })
}

#[utoipa::path(get, path = "/analytics/attribution", tag = "admin", security(("admin" = [])), params(("from" = Option<String>, Query, description = "First day of the orders, YYYY-MM-DD (UTC); default six days before to"), ("to" = Option<String>, Query, description = "Last day of the orders, YYYY-MM-DD (UTC); default today"),
        ("model" = Option<String>, Query, description = "last (default): the session the order was placed in; first: the visitor's earliest session within lookbackDays before the order"),
        ("dimension" = Option<String>, Query, description = "utm_source (default), utm_medium, utm_campaign, referrer or landing_page"),
        ("lookbackDays" = Option<u32>, Query, description = "With model=first: how many days before the order its first session may have started, 0 to 366; default 30"),
        ("limit" = Option<u32>, Query, description = "Rows, 1 to 1000; default 50"),
        ("format" = Option<String>, Query, description = "json (default) or csv: a header row, then the same figures")),
    responses((status = 200, description = "Orders completed in the range and their revenue per credited value, most revenue first", content((crate::openapi::Envelope<Vec<analytics::AttributionRow>> = "application/json"), (String = "text/csv"))), (status = 400, description = "A bad date, a range past 366 days or reversed, an unknown model or dimension, a bad lookback, a format other than json or csv", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn attribution(
    State(app): State<AppState>,
    Query(p): Query<AttributionParams>,
) -> ApiResult<Table<Vec<analytics::AttributionRow>>> {
    let format = Format::parse(p.range.format.as_deref())?;
    let model = match p.model.as_deref() {
        None | Some("") => analytics::Model::Last,
        Some(m) => analytics::Model::parse(m)
            .ok_or_else(|| ApiError::BadRequest("model must be first or last".into()))?,
    };
    let dimension = match p.range.dimension.as_deref() {
        None | Some("") => "utm_source",
        Some(d) => analytics::SOURCE_DIMENSIONS
            .iter()
            .copied()
            .find(|known| *known == d)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "dimension must be one of: {}",
                    analytics::SOURCE_DIMENSIONS.join(", ")
                ))
            })?,
    };
    let lookback_days: u64 = match p.lookback_days.as_deref() {
        None | Some("") => 30,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| *d <= MAX_RANGE_DAYS as u64)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "lookbackDays must be a whole number from 0 to {MAX_RANGE_DAYS}"
                ))
            })?,
    };
    let limit = row_limit(&p.range)?;
    let (from, to) = range(&app, &p.range)?;
    let query = analytics::AttributionQuery {
        model,
        dimension,
        lookback: std::time::Duration::from_secs(lookback_days * 86_400),
        limit,
    };
    let rows = app.engine.attribution(from, to, &query).await?;
    let model = match model {
        analytics::Model::First => "first",
        analytics::Model::Last => "last",
    };
    Ok(Table::new(
        rows,
        format,
        format!("stint-attribution-{model}-{dimension}-{from}-{to}"),
    ))
}

#[utoipa::path(get, path = "/analytics/realtime", tag = "admin", security(("admin" = [])),
    params(("minutes" = Option<u32>, Query, description = "The window: 5 (default) or 30 minutes"), ("format" = Option<String>, Query, description = "json (default) or csv: one row per top page, the window's counts on each")),
    responses((status = 200, description = "Visitors, sessions and customers active over the window, and its most viewed pages", content((crate::openapi::Envelope<RealtimeView> = "application/json"), (String = "text/csv"))), (status = 400, description = "A window other than 5 or 30, a format other than json or csv", body = crate::openapi::Failure), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn realtime(
    State(app): State<AppState>,
    Query(p): Query<RealtimeParams>,
) -> ApiResult<Table<RealtimeView>> {
    let format = Format::parse(p.format.as_deref())?;
    let minutes: u64 = match p.minutes.as_deref() {
        None | Some("" | "5") => 5,
        Some("30") => 30,
        Some(_) => return Err(ApiError::BadRequest("minutes must be 5 or 30".into())),
    };
    let window = std::time::Duration::from_secs(minutes * 60);
    let (active, top_pages) = tokio::try_join!(
        app.engine.realtime_over(window),
        app.engine.top_pages(window, TOP_PAGES)
    )?;
    let view = RealtimeView { active, top_pages };
    Ok(Table::new(view, format, format!("stint-realtime-{minutes}min")))
}

#[utoipa::path(get, path = "/stats", tag = "admin", security(("admin" = [])),
    responses((status = 200, description = "The stores' health and counts", body = crate::openapi::Envelope<Stats>), (status = 401, description = "Admin token required", body = crate::openapi::Failure)))]
async fn stats(State(app): State<AppState>) -> ApiResult<Reply<Stats>> {
    let kind = if app.tier.is_some() { "redis" } else { "memory" };
    let hot = match app.engine.hot().count().await {
        Ok(n) => StoreHealth {
            sessions: Some(n),
            ..StoreHealth::ok(kind)
        },
        Err(e) => StoreHealth::unavailable(kind, e),
    };
    let backend = app.store.backend();
    let cold = match app.engine.cold().stats().await {
        Ok(s) => StoreHealth {
            sessions: Some(s.sessions),
            open_sessions: Some(s.open_sessions),
            events: Some(s.events),
            ..StoreHealth::ok(backend)
        },
        Err(e) => StoreHealth::unavailable(backend, e),
    };
    Ok(ok(Stats {
        hot,
        cold,
        writer: WriterHealth {
            queued: app.writer.queued(),
        },
    }))
}
