//! OpenAPI schemas of the types whose JSON this crate writes by hand
//! (feature `openapi`): times, ids, and the session (as [`SessionSchema`]).
//! The derived ones sit on their types.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::{SessionId, Timestamp, VisitorId};

fn string(format: Option<KnownFormat>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .description(Some(description))
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        string(Some(KnownFormat::DateTime), "RFC 3339, UTC, milliseconds").into()
    }
}

impl ToSchema for Timestamp {}

impl PartialSchema for SessionId {
    fn schema() -> RefOr<Schema> {
        string(Some(KnownFormat::Uuid), "A session (journey): a UUID v7").into()
    }
}

impl ToSchema for SessionId {}

impl PartialSchema for VisitorId {
    fn schema() -> RefOr<Schema> {
        string(Some(KnownFormat::Uuid), "A visitor (browser): a UUID v4").into()
    }
}

impl ToSchema for VisitorId {}

/// The OpenAPI schema of a [`SessionRecord`] on the wire, named `Session`:
/// the fields its hand-written `Serialize` writes, in that order (a test
/// holds the two together). Never built: it only describes.
#[derive(ToSchema)]
#[schema(as = Session)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SessionSchema {
    /// The journey's id; the same after login.
    session_id: SessionId,
    /// The long-lived visitor id.
    visitor_id: VisitorId,
    /// Whether a customer has signed in.
    #[serde(rename = "type")]
    kind: crate::SessionKind,
    /// The signed-in customer.
    #[schema(required)]
    customer_id: Option<String>,
    /// Page views so far, the current request included.
    page_views: u64,
    /// An order was placed in it.
    converted: bool,
    /// The order that converted it.
    #[schema(required)]
    order_id: Option<String>,
    /// When it started.
    started_at: Timestamp,
    /// Its last request.
    last_seen_at: Timestamp,
    /// When it ended (logout, revocation, expiry).
    #[schema(required)]
    ended_at: Option<Timestamp>,
    /// The client's address, anonymised (IPv4: the last octet zeroed; IPv6: the last 80 bits).
    #[schema(required)]
    ip_address: Option<String>,
    /// desktop, mobile, tablet or bot.
    #[schema(required)]
    device: Option<String>,
    /// The browser's family.
    #[schema(required)]
    browser: Option<String>,
    /// The operating system's family.
    #[schema(required)]
    os: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(required)]
    country: Option<String>,
    /// The city, where known.
    #[schema(required)]
    city: Option<String>,
    /// The first page's path and query (null: the visitor asked not to be tracked).
    #[schema(required)]
    landing_page: Option<String>,
    /// The first page's referrer.
    #[schema(required)]
    referrer: Option<String>,
    /// utm_source of the landing page.
    #[schema(required)]
    utm_source: Option<String>,
    /// utm_medium of the landing page.
    #[schema(required)]
    utm_medium: Option<String>,
    /// utm_campaign of the landing page.
    #[schema(required)]
    utm_campaign: Option<String>,
}

/// Keeps the schema honest: its properties are exactly the keys the session
/// serialises to, all required.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attributes, SessionRecord, VisitorId};

    #[test]
    fn the_session_schema_names_what_a_session_serialises_to() {
        let s = SessionRecord::new(
            VisitorId::new(),
            Attributes::default(),
            Timestamp(1_795_000_000_000),
        );
        let json = serde_json::to_value(&s).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let RefOr::T(Schema::Object(schema)) = SessionSchema::schema() else {
            panic!("an object schema");
        };
        let mut properties: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
        properties.sort_unstable();
        assert_eq!(properties, keys);
        assert_eq!(schema.required.len(), keys.len());
    }
}
