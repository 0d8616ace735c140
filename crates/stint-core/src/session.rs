//! The session: one visitor's journey, from the first request to its end.

use std::sync::Arc;

use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::id::{SessionId, VisitorId};
use crate::time::Timestamp;

/// Whether a customer has signed in to the session.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionKind {
    /// Nobody has signed in.
    Anonymous,
    /// A customer signed in; `customer_id` says who.
    Customer,
}

impl SessionKind {
    /// `"ANONYMOUS"` or `"CUSTOMER"`, as in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "ANONYMOUS",
            Self::Customer => "CUSTOMER",
        }
    }

    /// Parses [`SessionKind::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ANONYMOUS" => Some(Self::Anonymous),
            "CUSTOMER" => Some(Self::Customer),
            _ => None,
        }
    }
}

/// What the first request of a session said about the visitor. Fixed for the
/// session's life (attribution is the first request's), so it is shared, not copied.
///
/// The texts are shared too: the device, browser, OS and country of a new
/// session point at the copy the request context keeps for all sessions with
/// the same value, so that a live session holds only what is its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    /// The client address, already anonymised.
    pub ip_address: Option<Arc<str>>,
    /// `desktop`, `mobile`, `tablet` or `bot`.
    pub device: Option<Arc<str>>,
    /// Browser family, e.g. `Chrome`.
    pub browser: Option<Arc<str>>,
    /// Operating system family, e.g. `Windows`.
    pub os: Option<Arc<str>>,
    /// ISO country code, when known.
    pub country: Option<Arc<str>>,
    /// City, when known.
    pub city: Option<Arc<str>>,
    /// Path and query of the first request.
    pub landing_page: Option<Arc<str>>,
    /// The `Referer` of the first request.
    pub referrer: Option<Arc<str>>,
    /// `utm_source` of the first request.
    pub utm_source: Option<Arc<str>>,
    /// `utm_medium` of the first request.
    pub utm_medium: Option<Arc<str>>,
    /// `utm_campaign` of the first request.
    pub utm_campaign: Option<Arc<str>>,
}

/// The application's key/value data of a session (the cart, preferences, …).
///
/// Copy-on-write: a resumed session shares the stored map, and only a change
/// allocates a new one.
pub type Data = Arc<Map<String, Value>>;

/// Data with no keys. Every session starts with it, and all of them share one
/// map until their first change (see [`Data`]).
pub fn empty_data() -> Data {
    static EMPTY: std::sync::LazyLock<Data> = std::sync::LazyLock::new(Data::default);
    Arc::clone(&EMPTY)
}

/// `map` as [`Data`]; an empty map is the shared one of [`empty_data`].
pub fn data_from(map: Map<String, Value>) -> Data {
    if map.is_empty() {
        empty_data()
    } else {
        Arc::new(map)
    }
}

/// One session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRecord {
    /// The journey's id; never changes.
    pub id: SessionId,
    /// The visitor the session belongs to.
    pub visitor_id: VisitorId,
    /// Anonymous or customer.
    pub kind: SessionKind,
    /// The signed-in customer, if any.
    pub customer_id: Option<String>,
    /// Page views counted so far, this request included.
    pub page_views: u64,
    /// Whether an order was placed in this session.
    pub converted: bool,
    /// The order that converted the session.
    pub order_id: Option<String>,
    /// When the session began.
    pub started_at: Timestamp,
    /// The latest request of the session.
    pub last_seen_at: Timestamp,
    /// When it ended (logout, revocation, idle timeout, lifetime), if it has.
    pub ended_at: Option<Timestamp>,
    /// The first request's context.
    pub attributes: Arc<Attributes>,
    /// Application data.
    pub data: Data,
    /// Bumped by the hot store on every change other than a page view, so
    /// that the cold store keeps the newest snapshot whatever order they arrive in.
    pub version: u64,
}

impl SessionRecord {
    /// A new anonymous session that starts at `now`.
    pub fn new(visitor_id: VisitorId, attributes: Attributes, now: Timestamp) -> Self {
        Self {
            id: SessionId::new(),
            visitor_id,
            kind: SessionKind::Anonymous,
            customer_id: None,
            page_views: 0,
            converted: false,
            order_id: None,
            started_at: now,
            last_seen_at: now,
            ended_at: None,
            attributes: Arc::new(attributes),
            data: empty_data(),
            version: 0,
        }
    }

    /// The moment the session expires if nothing else happens: the sooner of
    /// the idle timeout and the absolute lifetime.
    pub fn expires_at(&self, policy: &crate::Policy) -> Timestamp {
        let idle = self.last_seen_at.plus(policy.idle_timeout);
        let absolute = self.started_at.plus(policy.max_age);
        idle.min(absolute)
    }

    /// Whether the session is still alive at `now`.
    pub fn is_live(&self, policy: &crate::Policy, now: Timestamp) -> bool {
        self.ended_at.is_none() && now < self.expires_at(policy)
    }

    /// A copy without the customer's identity: what a pre-login token sees
    /// during the grace window after a login.
    pub fn as_anonymous(&self) -> Self {
        Self {
            kind: SessionKind::Anonymous,
            customer_id: None,
            ..self.clone()
        }
    }
}

/// The contract's session shape (camelCase, RFC 3339 times). Data is not part of it.
impl Serialize for SessionRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = &*self.attributes;
        let mut st = s.serialize_struct("Session", 21)?;
        st.serialize_field("sessionId", &self.id)?;
        st.serialize_field("visitorId", &self.visitor_id)?;
        st.serialize_field("type", &self.kind)?;
        st.serialize_field("customerId", &self.customer_id)?;
        st.serialize_field("pageViews", &self.page_views)?;
        st.serialize_field("converted", &self.converted)?;
        st.serialize_field("orderId", &self.order_id)?;
        st.serialize_field("startedAt", &self.started_at)?;
        st.serialize_field("lastSeenAt", &self.last_seen_at)?;
        st.serialize_field("endedAt", &self.ended_at)?;
        st.serialize_field("ipAddress", &a.ip_address)?;
        st.serialize_field("device", &a.device)?;
        st.serialize_field("browser", &a.browser)?;
        st.serialize_field("os", &a.os)?;
        st.serialize_field("country", &a.country)?;
        st.serialize_field("city", &a.city)?;
        st.serialize_field("landingPage", &a.landing_page)?;
        st.serialize_field("referrer", &a.referrer)?;
        st.serialize_field("utmSource", &a.utm_source)?;
        st.serialize_field("utmMedium", &a.utm_medium)?;
        st.serialize_field("utmCampaign", &a.utm_campaign)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    #[test]
    fn serializes_to_the_contract_shape() {
        let s = SessionRecord::new(
            VisitorId::new(),
            Attributes {
                ip_address: Some("203.0.113.0".into()),
                utm_source: Some("news".into()),
                ..Attributes::default()
            },
            Timestamp(1_795_000_000_000),
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["type"], "ANONYMOUS");
        assert_eq!(v["pageViews"], 0);
        assert_eq!(v["customerId"], Value::Null);
        assert_eq!(v["endedAt"], Value::Null);
        assert_eq!(v["ipAddress"], "203.0.113.0");
        assert_eq!(v["utmSource"], "news");
        assert_eq!(v["sessionId"], s.id.to_string());
        assert!(v["startedAt"].as_str().unwrap().starts_with("2026-"));
        assert_eq!(v.as_object().unwrap().len(), 21);
    }

    #[test]
    fn new_sessions_share_one_empty_map_until_they_change() {
        let mut a = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
        let b = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
        assert!(Arc::ptr_eq(&a.data, &b.data));
        assert!(Arc::ptr_eq(&data_from(Map::new()), &b.data));
        Arc::make_mut(&mut a.data).insert("k".into(), Value::Bool(true));
        assert!(b.data.is_empty(), "a change copies the map");
        let mut one = Map::new();
        one.insert("k".into(), Value::Bool(true));
        assert_eq!(*data_from(one), *a.data);
    }

    #[test]
    fn expiry_is_the_sooner_of_idle_and_absolute() {
        let policy = Policy {
            idle_timeout: std::time::Duration::from_secs(10),
            max_age: std::time::Duration::from_secs(25),
            ..Policy::default()
        };
        let mut s = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
        assert_eq!(s.expires_at(&policy), Timestamp(10_000));
        s.last_seen_at = Timestamp(20_000);
        assert_eq!(s.expires_at(&policy), Timestamp(25_000));
        assert!(s.is_live(&policy, Timestamp(24_999)));
        assert!(!s.is_live(&policy, Timestamp(25_000)));
    }
}
