//! Rows into domain values, the same for every backend: both schemas use
//! the same column names and types (TEXT, 64-bit integers, bytes).

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::Row;
use stint_core::analytics::{DayRow, DaySummary, EventFact, Figures, SessionFacts, SourceFacts, Summary};
use stint_core::event::Event;
use stint_core::{Attributes, Error, Result, SessionId, SessionKind, SessionRecord, Timestamp, VisitorId};

/// The column reads the decoders need, over any backend's row.
pub(crate) trait RowExt {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn float(&self, column: &str) -> Result<f64>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;

    /// An optional text as a session attribute holds it.
    fn opt_shared(&self, column: &str) -> Result<Option<Arc<str>>> {
        Ok(self.opt_text(column)?.map(Arc::from))
    }
}

pub(crate) fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what,
        message: e.to_string(),
    }
}

macro_rules! row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, column: &str) -> Result<String> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
            fn int(&self, column: &str) -> Result<i64> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
            fn float(&self, column: &str) -> Result<f64> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>> {
                self.try_get(column).map_err(|e| corrupt("row", e))
            }
        }
    };
}

row_ext!(sqlx::sqlite::SqliteRow);
row_ext!(sqlx::postgres::PgRow);

/// The columns [`session`] reads, in `SELECT` order.
macro_rules! session_columns {
    () => {
        "id, visitor_id, kind, customer_id, page_views, converted, order_id, started_at, last_seen_at, \
         ended_at, version, ip_address, device, browser, os, country, city, landing_page, referrer, \
         utm_source, utm_medium, utm_campaign, data"
    };
}
pub(crate) use session_columns;

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(crate) fn session(row: &impl RowExt) -> Result<SessionRecord> {
    let kind = row.text("kind")?;
    let data: Map<String, Value> =
        serde_json::from_str(&row.text("data")?).map_err(|e| corrupt("session data", e))?;
    Ok(SessionRecord {
        id: row.text("id")?.parse().map_err(|e| corrupt("session id", e))?,
        visitor_id: row
            .text("visitor_id")?
            .parse()
            .map_err(|e| corrupt("visitor id", e))?,
        kind: SessionKind::parse(&kind).ok_or_else(|| corrupt("session kind", kind))?,
        customer_id: row.opt_text("customer_id")?,
        page_views: unsigned(row.int("page_views")?),
        converted: row.int("converted")? != 0,
        order_id: row.opt_text("order_id")?,
        started_at: Timestamp(row.int("started_at")?),
        last_seen_at: Timestamp(row.int("last_seen_at")?),
        ended_at: row.opt_int("ended_at")?.map(Timestamp),
        attributes: Arc::new(Attributes {
            ip_address: row.opt_shared("ip_address")?,
            device: row.opt_shared("device")?,
            browser: row.opt_shared("browser")?,
            os: row.opt_shared("os")?,
            country: row.opt_shared("country")?,
            city: row.opt_shared("city")?,
            landing_page: row.opt_shared("landing_page")?,
            referrer: row.opt_shared("referrer")?,
            utm_source: row.opt_shared("utm_source")?,
            utm_medium: row.opt_shared("utm_medium")?,
            utm_campaign: row.opt_shared("utm_campaign")?,
        }),
        data: stint_core::data_from(data),
        version: unsigned(row.int("version")?),
    })
}

fn metadata(row: &impl RowExt) -> Result<Option<Value>> {
    row.opt_text("metadata")?
        .map(|m| serde_json::from_str(&m).map_err(|e| corrupt("event metadata", e)))
        .transpose()
}

pub(crate) fn event(row: &impl RowExt) -> Result<Event> {
    let metadata = metadata(row)?;
    Ok(Event {
        id: uuid::Uuid::parse_str(&row.text("id")?).map_err(|e| corrupt("event id", e))?,
        session_id: row
            .text("session_id")?
            .parse()
            .map_err(|e| corrupt("session id", e))?,
        visitor_id: row
            .text("visitor_id")?
            .parse()
            .map_err(|e| corrupt("visitor id", e))?,
        kind: row.text("kind")?,
        page: row.opt_text("page")?,
        product_id: row.opt_text("product_id")?,
        metadata,
        at: Timestamp(row.int("at")?),
    })
}

/// The columns named `names`, by name.
fn dimensions(
    row: &impl RowExt,
    names: &[&'static str],
) -> Result<std::collections::BTreeMap<&'static str, Option<String>>> {
    names.iter().map(|d| Ok((*d, row.opt_text(d)?))).collect()
}

/// A session row's `id` and `visitor_id`.
fn session_ids(row: &impl RowExt) -> Result<(SessionId, VisitorId)> {
    Ok((
        row.text("id")?.parse().map_err(|e| corrupt("session id", e))?,
        row.text("visitor_id")?
            .parse()
            .map_err(|e| corrupt("visitor id", e))?,
    ))
}

pub(crate) fn session_facts(row: &impl RowExt) -> Result<SessionFacts> {
    let (id, visitor_id) = session_ids(row)?;
    Ok(SessionFacts {
        id,
        visitor_id,
        started_at: Timestamp(row.int("started_at")?),
        last_seen_at: Timestamp(row.int("last_seen_at")?),
        page_views: unsigned(row.int("page_views")?),
        converted: row.int("converted")? != 0,
        // Counted from the events (see `analytics_facts`).
        other_events: 0,
        dimensions: dimensions(row, stint_core::analytics::DIMENSIONS)?,
    })
}

pub(crate) fn source_facts(row: &impl RowExt) -> Result<SourceFacts> {
    let (id, visitor_id) = session_ids(row)?;
    Ok(SourceFacts {
        id,
        visitor_id,
        started_at: Timestamp(row.int("started_at")?),
        dimensions: dimensions(row, stint_core::analytics::SOURCE_DIMENSIONS)?,
    })
}

pub(crate) fn event_fact(row: &impl RowExt) -> Result<EventFact> {
    let metadata = metadata(row)?;
    Ok(EventFact {
        session_id: row
            .text("session_id")?
            .parse()
            .map_err(|e| corrupt("session id", e))?,
        kind: row.text("kind")?,
        page: row.opt_text("page")?,
        metadata,
        at: Timestamp(row.int("at")?),
    })
}

pub(crate) fn day_row(row: &impl RowExt) -> Result<DayRow> {
    Ok(DayRow {
        date: row.text("date")?,
        figures: Figures {
            visitors: unsigned(row.int("visitors")?),
            sessions: unsigned(row.int("sessions")?),
            page_views: unsigned(row.int("page_views")?),
            bounce_rate: row.float("bounce_rate")?,
            avg_session_seconds: row.float("avg_session_seconds")?,
            logins: unsigned(row.int("logins")?),
            conversions: unsigned(row.int("conversions")?),
            conversion_rate: row.float("conversion_rate")?,
            revenue: row.float("revenue")?,
        },
    })
}

/// A funnel's step counts as stored: `[n1,n2,…]`.
pub(crate) fn funnel_text(steps: &[u64]) -> String {
    serde_json::to_string(steps).unwrap_or_else(|_| "[]".to_owned())
}

/// Visitor ids as stored: sixteen bytes each, in their order.
pub(crate) fn visitor_bytes(visitors: &[VisitorId]) -> Vec<u8> {
    visitors.iter().flat_map(VisitorId::to_bytes).collect()
}

/// Stored visitor ids without those of `gone`.
pub(crate) fn without_visitors(raw: &[u8], gone: &[[u8; 16]]) -> Vec<u8> {
    raw.chunks(16)
        .filter(|id| !gone.iter().any(|g| g.as_slice() == *id))
        .flatten()
        .copied()
        .collect()
}

pub(crate) fn day_summary(row: &impl RowExt) -> Result<DaySummary> {
    let funnel: Vec<u64> =
        serde_json::from_str(&row.text("funnel")?).map_err(|e| corrupt("funnel counts", e))?;
    let raw = row.bytes("visitors")?;
    if raw.len() % 16 != 0 {
        return Err(corrupt("visitor set", "not a multiple of 16 bytes"));
    }
    let visitors = raw
        .chunks_exact(16)
        .map(|c| {
            let mut id = [0u8; 16];
            id.copy_from_slice(c);
            VisitorId::from_bytes(id)
        })
        .collect();
    Ok(DaySummary {
        date: row.text("date")?,
        dimension: row.text("dimension")?,
        value: row.opt_text("value")?,
        summary: Summary {
            sessions: unsigned(row.int("sessions")?),
            page_views: unsigned(row.int("page_views")?),
            bounces: unsigned(row.int("bounces")?),
            seconds: unsigned(row.int("seconds")?),
            logins: unsigned(row.int("logins")?),
            conversions: unsigned(row.int("conversions")?),
            revenue: row.float("revenue")?,
            funnel,
            visitors,
        },
    })
}
