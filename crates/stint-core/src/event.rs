//! Events: what happened in a session, for history and analytics.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::id::{SessionId, VisitorId};
use crate::time::Timestamp;

/// The event types the service records itself. Applications may record any
/// other type name.
pub mod kinds {
    /// The first request of a session.
    pub const SESSION_START: &str = "session_start";
    /// A `GET` of a page or resource.
    pub const PAGE_VIEW: &str = "page_view";
    /// A customer signed in.
    pub const CUSTOMER_LOGIN: &str = "customer_login";
    /// A customer signed out.
    pub const CUSTOMER_LOGOUT: &str = "customer_logout";
    /// A product was put in the cart.
    pub const ADD_TO_CART: &str = "add_to_cart";
    /// Checkout began.
    pub const CHECKOUT_STARTED: &str = "checkout_started";
    /// An order was placed.
    pub const ORDER_COMPLETED: &str = "order_completed";
}

/// Longest event type name accepted.
pub const MAX_KIND_LEN: usize = 64;

/// One event of one session.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Unique id (UUID v7); writing the same event twice stores it once.
    #[serde(skip)]
    pub id: Uuid,
    /// The session it happened in.
    #[serde(skip)]
    pub session_id: SessionId,
    /// The visitor of that session.
    #[serde(skip)]
    pub visitor_id: VisitorId,
    /// Its type, e.g. `page_view`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The path (and query) concerned, if any.
    pub page: Option<String>,
    /// The product concerned, if any.
    #[serde(rename = "productId")]
    pub product_id: Option<String>,
    /// Anything else worth keeping (an order's total, a campaign, …).
    pub metadata: Option<Value>,
    /// When it happened.
    pub at: Timestamp,
}

impl Event {
    /// A new event of `kind` in `session`.
    pub fn new(session_id: SessionId, visitor_id: VisitorId, kind: impl Into<String>, at: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            session_id,
            visitor_id,
            kind: kind.into(),
            page: None,
            product_id: None,
            metadata: None,
            at,
        }
    }

    /// Sets the page.
    pub fn page(mut self, page: impl Into<String>) -> Self {
        self.page = Some(page.into());
        self
    }

    /// Sets the product.
    pub fn product(mut self, product_id: impl Into<String>) -> Self {
        self.product_id = Some(product_id.into());
        self
    }

    /// Sets the metadata.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_the_contract_shape() {
        let e = Event::new(
            SessionId::new(),
            VisitorId::new(),
            kinds::ADD_TO_CART,
            Timestamp(0),
        )
        .product("p-1")
        .metadata(serde_json::json!({"quantity": 2}));
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "add_to_cart");
        assert_eq!(v["productId"], "p-1");
        assert_eq!(v["metadata"]["quantity"], 2);
        assert_eq!(v["at"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v.as_object().unwrap().len(), 5);
    }
}
