//! The shapes of the answers the contract fixes, as types: a field renamed
//! or dropped here is a compile error at every route that answers with it,
//! not a silent change of a JSON literal.

use serde::Serialize;
use serde_json::Value;
use stint_core::{Event, SessionId, SessionRecord, Timestamp, VisitorId};
use utoipa::ToSchema;

use crate::catalogue;
use crate::shop::{Customer, Order};

/// A customer, never with the password hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.clone(),
            email: c.email.clone(),
            name: c.name.clone(),
            created_at: c.created_at,
        }
    }
}

/// `POST /api/storefront/auth/login`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub customer: CustomerView,
    #[schema(value_type = stint_core::SessionSchema)]
    pub session: SessionRecord,
}

/// `POST /api/storefront/checkout`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutView {
    pub cart: crate::catalogue::CartView,
    pub session_id: SessionId,
}

/// `POST /api/storefront/auth/logout`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    pub session_id: SessionId,
    pub logged_out: bool,
}

/// An order: as placed (`POST /api/storefront/orders`), in a visitor's
/// history and in an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: String,
    pub session_id: SessionId,
    pub visitor_id: VisitorId,
    pub customer_id: Option<String>,
    /// In currency units.
    pub total: f64,
    pub items: Value,
    pub shipping_address: Value,
    pub created_at: Timestamp,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.clone(),
            session_id: o.session_id,
            visitor_id: o.visitor_id,
            customer_id: o.customer_id.clone(),
            total: catalogue::units(o.total_cents),
            items: o.items.clone(),
            shipping_address: o.shipping_address.clone(),
            created_at: o.created_at,
        }
    }
}

/// One of a customer's sessions, as the customer sees it
/// (`GET /api/storefront/me/sessions`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSession {
    pub id: SessionId,
    pub device: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub started_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub current: bool,
}

impl DeviceSession {
    pub fn of(s: &SessionRecord, current: SessionId) -> Self {
        let a = &*s.attributes;
        let text = |t: &Option<std::sync::Arc<str>>| t.as_deref().map(str::to_owned);
        Self {
            id: s.id,
            device: text(&a.device),
            browser: text(&a.browser),
            os: text(&a.os),
            ip: text(&a.ip_address),
            country: text(&a.country),
            started_at: s.started_at,
            last_seen_at: s.last_seen_at,
            current: s.id == current,
        }
    }
}

/// `GET /api/admin/analytics/funnel`: the funnel of every session, or with
/// `?dimension=` one funnel per value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FunnelView {
    /// Sessions reaching each step, in order.
    Steps(Vec<stint_core::analytics::FunnelStep>),
    /// One funnel per value of the dimension, most sessions first.
    ByValue(Vec<stint_core::analytics::FunnelBreakdown>),
}

/// `GET /api/admin/analytics/realtime`: who is active over the window, and
/// the pages they are looking at.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeView {
    /// Visitors, sessions and customers active over the window.
    #[serde(flatten)]
    pub active: stint_core::store::Realtime,
    /// The most viewed pages over the window, most first (at most 10).
    pub top_pages: Vec<stint_core::analytics::PageCount>,
}

/// `{revoked: N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// `{erased: N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub erased: u64,
}

/// A page of the admin's session listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    #[schema(value_type = Vec<stint_core::SessionSchema>)]
    pub sessions: Vec<SessionRecord>,
    pub next_cursor: Option<String>,
}

/// A session's events.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEvents {
    pub session_id: SessionId,
    pub events: Vec<Event>,
}

/// The answer to a revocation by the admin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub session_id: SessionId,
    pub revoked: bool,
}

/// A customer's live sessions, for the admin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSessions {
    pub customer_id: String,
    #[schema(value_type = Vec<stint_core::SessionSchema>)]
    pub sessions: Vec<SessionRecord>,
}

/// All of a customer's sessions revoked, for the admin.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRevoked {
    pub customer_id: String,
    pub revoked: u64,
}

/// A visitor's history (`GET /api/admin/visitors/{id}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VisitorHistory {
    pub visitor_id: VisitorId,
    #[schema(value_type = Vec<stint_core::SessionSchema>)]
    pub sessions: Vec<SessionRecord>,
    pub orders: Vec<OrderView>,
}

/// One store's health in `GET /api/admin/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreHealth {
    pub status: &'static str,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_sessions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoreHealth {
    /// A store that answered.
    pub fn ok(kind: &'static str) -> Self {
        Self {
            status: "ok",
            kind,
            sessions: None,
            open_sessions: None,
            events: None,
            error: None,
        }
    }

    /// A store that did not answer.
    pub fn unavailable(kind: &'static str, error: impl std::fmt::Display) -> Self {
        Self {
            status: "unavailable",
            kind,
            sessions: None,
            open_sessions: None,
            events: None,
            error: Some(error.to_string()),
        }
    }
}

/// The writer's state in `GET /api/admin/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriterHealth {
    pub queued: usize,
}

/// `GET /api/admin/stats`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub hot: StoreHealth,
    pub cold: StoreHealth,
    pub writer: WriterHealth,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<&'static str>,
}
