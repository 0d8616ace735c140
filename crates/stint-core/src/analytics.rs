//! Analytics: the figures of a set of sessions, computed from the facts the
//! cold store keeps. The definitions (`docs/analytics.md`) live here, once:
//!
//! - a session belongs to the UTC day it started; it ends after the idle
//!   timeout or at its absolute lifetime, never at midnight;
//! - visitors: distinct visitor ids; sessions: count; page views: their sum;
//! - bounce: exactly one page view and no other event (starting the session
//!   aside); bounce rate: bounces / sessions;
//! - duration: last activity minus start; average over sessions, in seconds;
//! - logins: `customer_login` events; conversions: converted sessions;
//!   conversion rate: conversions / sessions; revenue: the sum of the
//!   `total` of `order_completed` events;
//! - attribution (breakdowns): the session's first request (landing page,
//!   referrer domain, UTM), device, browser, OS and country;
//! - funnel: sessions reaching each step, in order, each step after the last.
//!
//! Sessions of visitors who asked not to be tracked are not facts: the
//! store keeps no attribution for them and they count in no figure.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::event::kinds;
use crate::id::{SessionId, VisitorId};
use crate::time::Timestamp;

mod summary;

use summary::summarize_indexed;
pub use summary::{Summary, Total, summarize};

/// What analytics needs of one session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionFacts {
    /// The session.
    pub id: SessionId,
    /// Its visitor.
    pub visitor_id: VisitorId,
    /// Its start.
    pub started_at: Timestamp,
    /// Its last activity.
    pub last_seen_at: Timestamp,
    /// Its page views.
    pub page_views: u64,
    /// Whether an order converted it.
    pub converted: bool,
    /// Events other than `session_start` and `page_view`.
    pub other_events: u64,
    /// `device`, `browser`, `os`, `country`, `city`, `utm_source`, `utm_medium`,
    /// `utm_campaign`, `referrer` (full URL), `landing_page` (path and query).
    pub dimensions: BTreeMap<&'static str, Option<String>>,
}

/// An event that feeds a figure: logins, funnel steps, orders.
#[derive(Clone, Debug, PartialEq)]
pub struct EventFact {
    /// Its session.
    pub session_id: SessionId,
    /// Its type.
    pub kind: String,
    /// Its page.
    pub page: Option<String>,
    /// Its metadata.
    pub metadata: Option<Value>,
    /// When.
    pub at: Timestamp,
}

/// The dimension of a day's summary of all its sessions.
pub const ALL: &str = "*";

/// A past day's summary of the sessions of one value of a dimension (or of
/// all of them, dimension [`ALL`]): what a rollup stores.
#[derive(Clone, Debug, PartialEq)]
pub struct DaySummary {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// One of [`DIMENSIONS`], or [`ALL`].
    pub dimension: String,
    /// The value (`None`: unknown; always `None` for [`ALL`]).
    pub value: Option<String>,
    /// The figures.
    pub summary: Summary,
}

/// The dimensions a breakdown can use.
pub const DIMENSIONS: &[&str] = &[
    "device",
    "browser",
    "os",
    "country",
    "city",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer",
    "landing_page",
];

/// The figures of a set of sessions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Distinct visitors.
    pub visitors: u64,
    /// Sessions.
    pub sessions: u64,
    /// Page views.
    pub page_views: u64,
    /// Bounces / sessions (0 when there are no sessions).
    pub bounce_rate: f64,
    /// Mean duration, seconds.
    pub avg_session_seconds: f64,
    /// `customer_login` events.
    pub logins: u64,
    /// Converted sessions.
    pub conversions: u64,
    /// Conversions / sessions.
    pub conversion_rate: f64,
    /// Sum of order totals.
    pub revenue: f64,
}

/// One day's row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayRow {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One value's row of a breakdown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakdownRow {
    /// The value (`null`: unknown).
    pub value: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A page and its views over a window: real time's top pages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageCount {
    /// The page (its path, as page views record it).
    pub page: String,
    /// Its page views.
    pub page_views: u64,
}

/// One step of a funnel.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelStep {
    /// Its name.
    pub step: String,
    /// Sessions that reached it, after every step before it.
    pub sessions: u64,
    /// Of the sessions that reached the previous step, the share that did not
    /// reach this one (0 for the first step).
    pub drop_off: f64,
}

/// One value's funnel (`?dimension=` on the funnel route).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelBreakdown {
    /// The value (`null`: unknown).
    pub value: Option<String>,
    /// Its sessions' funnel.
    pub steps: Vec<FunnelStep>,
}

/// How a session reaches a funnel step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepRule {
    /// Every session: its start.
    Visit,
    /// A page view whose page starts with this prefix.
    PageViewUnder(String),
    /// An event of this type.
    Event(String),
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// The `total` an `order_completed` event carries, if any.
fn order_total(e: &EventFact) -> f64 {
    e.metadata
        .as_ref()
        .and_then(|m| m.get("total"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// The UTC date of a timestamp.
pub fn day_of(t: Timestamp) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(t.millis().div_euclid(1000))
        .ok()
        .map(|d| d.date())
}

/// The first millisecond of a UTC date.
pub fn start_of(d: Date) -> Timestamp {
    Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The UTC days from `from` to `to`, both included.
pub fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), |d| d.next_day()).take_while(move |d| *d <= to)
}

/// One row per day from `from` to `to` (inclusive), days without sessions included.
pub fn daily(sessions: &[SessionFacts], events: &[EventFact], from: Date, to: Date) -> Vec<DayRow> {
    let mut by_day: HashMap<Date, Vec<&SessionFacts>> = HashMap::new();
    for s in sessions {
        if let Some(d) = day_of(s.started_at) {
            by_day.entry(d).or_default().push(s);
        }
    }
    let index = events_by_session(events);
    days(from, to)
        .map(|day| {
            let day_sessions = by_day.get(&day).map(Vec::as_slice).unwrap_or(&[]);
            let figures = summarize_indexed(day_sessions.iter().copied(), &index, &[], None)
                .remove(&None)
                .map(|s| s.figures())
                .unwrap_or_default();
            DayRow {
                date: day.to_string(),
                figures,
            }
        })
        .collect()
}

/// The value of `dimension` for a session: the referrer by domain, the
/// landing page by path.
pub fn dimension_value(s: &SessionFacts, dimension: &str) -> Option<String> {
    value_of(&s.dimensions, dimension)
}

/// The value of `dimension` among a session's recorded `dimensions`, as
/// breakdowns group it.
fn value_of(dimensions: &BTreeMap<&'static str, Option<String>>, dimension: &str) -> Option<String> {
    let raw = dimensions.get(dimension).cloned().flatten()?;
    match dimension {
        "referrer" => {
            let host = crate::context::url_host(&raw).to_ascii_lowercase();
            Some(host.strip_prefix("www.").unwrap_or(&host).to_owned()).filter(|h| !h.is_empty())
        }
        "landing_page" => Some(raw.split(['?', '#']).next().unwrap_or(&raw).to_owned()),
        _ => Some(raw),
    }
}

/// Rows of `summaries` by value, most sessions first (ties by value), at most `limit`.
pub fn by_value(summaries: HashMap<Option<String>, Summary>, limit: usize) -> Vec<(Option<String>, Summary)> {
    let mut rows: Vec<(Option<String>, Summary)> = summaries.into_iter().collect();
    rows.sort_by(|(a, ra), (b, rb)| rb.sessions.cmp(&ra.sessions).then_with(|| a.cmp(b)));
    rows.truncate(limit);
    rows
}

/// The figures per value of `dimension`, most sessions first (ties by value), at most `limit` rows.
pub fn breakdown(
    sessions: &[SessionFacts],
    events: &[EventFact],
    dimension: &str,
    limit: usize,
) -> Vec<BreakdownRow> {
    breakdown_rows(summarize(sessions, events, &[], Some(dimension)), limit)
}

/// A breakdown's rows from its summaries per value, most sessions first
/// (ties by value), at most `limit`.
pub fn breakdown_rows(summaries: HashMap<Option<String>, Summary>, limit: usize) -> Vec<BreakdownRow> {
    by_value(summaries, limit)
        .into_iter()
        .map(|(value, s)| BreakdownRow {
            value,
            figures: s.figures(),
        })
        .collect()
}

/// The dimensions attribution credits orders to: where the visitor came from.
pub const SOURCE_DIMENSIONS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer",
    "landing_page",
];

/// An order: what attribution needs of an `order_completed` event.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderFact {
    /// The session it was placed in.
    pub session_id: SessionId,
    /// Its visitor.
    pub visitor_id: VisitorId,
    /// When.
    pub at: Timestamp,
    /// Its `total` (0 when the event carries none).
    pub total: f64,
}

impl OrderFact {
    /// The order an `order_completed` event records.
    pub fn from_event(e: &EventFact, visitor_id: VisitorId) -> Self {
        Self {
            session_id: e.session_id,
            visitor_id,
            at: e.at,
            total: order_total(e),
        }
    }
}

/// A session as attribution sees it: where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFacts {
    /// The session.
    pub id: SessionId,
    /// Its visitor.
    pub visitor_id: VisitorId,
    /// Its start.
    pub started_at: Timestamp,
    /// The [`SOURCE_DIMENSIONS`] its first request recorded (referrer: full URL).
    pub dimensions: BTreeMap<&'static str, Option<String>>,
}

/// Which session of a visitor's journey an order is credited to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// The visitor's earliest session within the lookback window before the order.
    First,
    /// The session the order was placed in.
    Last,
}

impl Model {
    /// `first` or `last`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "first" => Some(Self::First),
            "last" => Some(Self::Last),
            _ => None,
        }
    }
}

/// One value's row of attribution.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionRow {
    /// The value credited (`null`: the session had none, e.g. no `utm_source`).
    pub value: Option<String>,
    /// Distinct visitors whose orders are credited to it.
    pub visitors: u64,
    /// Orders credited to it.
    pub orders: u64,
    /// The sum of their totals.
    pub revenue: f64,
    /// Revenue / orders.
    pub average_order_value: f64,
}

/// The lookback of first-touch attribution that rollups are kept for (the
/// route's default); another lookback reads raw data.
pub const DEFAULT_LOOKBACK: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// The dimension under which a day's summaries keep what attribution
/// credits to the values of `dimension` by `model` (with [`DEFAULT_LOOKBACK`]).
pub fn credit_dimension(model: Model, dimension: &str) -> String {
    match model {
        Model::First => format!("first:{dimension}"),
        Model::Last => format!("last:{dimension}"),
    }
}

/// What an attribution credits, and to what.
#[derive(Clone, Copy, Debug)]
pub struct AttributionQuery<'a> {
    /// Which session of the journey is credited.
    pub model: Model,
    /// One of [`SOURCE_DIMENSIONS`].
    pub dimension: &'a str,
    /// How long before an order the first session may have started ([`Model::First`]).
    pub lookback: std::time::Duration,
    /// Most rows.
    pub limit: usize,
}

/// Credits each order to a value of the query's dimension by its model,
/// most revenue first (ties: more orders, then by value), at most `limit` rows.
///
/// `sources` holds the order's own session and, for [`Model::First`], the
/// visitor's sessions that may precede it; the earliest started at most
/// `lookback` before the order (and not after it) is credited, ties by
/// session id. An order whose session is missing from `sources` is credited
/// to no value (`null`) rather than lost.
pub fn attribution(
    orders: &[OrderFact],
    sources: &[SourceFacts],
    query: &AttributionQuery<'_>,
) -> Vec<AttributionRow> {
    attribution_rows(credits(orders, sources, query), query.limit)
}

/// What attribution credits to each value: in a [`Summary`], `sessions`
/// counts the orders, `revenue` sums their totals and `visitors` holds the
/// visitors who placed them; nothing else is set. Summable over days: an
/// order belongs to the day it was placed.
pub fn credits(
    orders: &[OrderFact],
    sources: &[SourceFacts],
    query: &AttributionQuery<'_>,
) -> HashMap<Option<String>, Summary> {
    let AttributionQuery {
        model,
        dimension,
        lookback,
        ..
    } = *query;
    let by_id: HashMap<SessionId, &SourceFacts> = sources.iter().map(|s| (s.id, s)).collect();
    let mut by_visitor: HashMap<VisitorId, Vec<&SourceFacts>> = HashMap::new();
    if model == Model::First {
        for s in sources {
            by_visitor.entry(s.visitor_id).or_default().push(s);
        }
        for list in by_visitor.values_mut() {
            list.sort_by_key(|s| (s.started_at, s.id));
        }
    }
    let mut credits: HashMap<Option<String>, Total> = HashMap::new();
    for order in orders {
        let own = by_id.get(&order.session_id).copied();
        let credited = match model {
            Model::Last => own,
            Model::First => {
                let earliest = order.at.minus(lookback);
                by_visitor
                    .get(&order.visitor_id)
                    .and_then(|list| {
                        list.iter()
                            .find(|s| s.started_at >= earliest && s.started_at <= order.at)
                            .copied()
                    })
                    .or(own)
            }
        };
        let value = credited.and_then(|s| value_of(&s.dimensions, dimension));
        let credit = credits.entry(value).or_default();
        credit.visitors.insert(order.visitor_id);
        credit.sum.sessions += 1;
        credit.sum.revenue += order.total;
    }
    credits
        .into_iter()
        .map(|(value, t)| (value, t.finish()))
        .collect()
}

/// Attribution's rows from [`credits`], most revenue first (ties: more
/// orders, then by value), at most `limit`.
pub fn attribution_rows(credits: HashMap<Option<String>, Summary>, limit: usize) -> Vec<AttributionRow> {
    let mut rows: Vec<AttributionRow> = credits
        .into_iter()
        .map(|(value, c)| AttributionRow {
            value,
            visitors: c.visitors.len() as u64,
            orders: c.sessions,
            revenue: round(c.revenue, 2),
            average_order_value: round(
                if c.sessions == 0 {
                    0.0
                } else {
                    c.revenue / c.sessions as f64
                },
                2,
            ),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.revenue
            .total_cmp(&a.revenue)
            .then_with(|| b.orders.cmp(&a.orders))
            .then_with(|| a.value.cmp(&b.value))
    });
    rows.truncate(limit);
    rows
}

/// Sessions reaching each step in order, and the drop-off between steps.
pub fn funnel(
    sessions: &[SessionFacts],
    events: &[EventFact],
    steps: &[(String, StepRule)],
) -> Vec<FunnelStep> {
    whole_funnel(summarize(sessions, events, steps, None), steps)
}

/// The funnel of the summary of all sessions (keyed `None`; all zeros without one).
pub fn whole_funnel(
    mut summaries: HashMap<Option<String>, Summary>,
    steps: &[(String, StepRule)],
) -> Vec<FunnelStep> {
    summaries.remove(&None).unwrap_or_default().funnel_steps(steps)
}

/// The funnel of each value of `dimension` (as [`breakdown`] groups
/// sessions), most sessions first (ties by value), at most `limit` values.
pub fn funnel_by(
    sessions: &[SessionFacts],
    events: &[EventFact],
    steps: &[(String, StepRule)],
    dimension: &str,
    limit: usize,
) -> Vec<FunnelBreakdown> {
    funnel_rows(summarize(sessions, events, steps, Some(dimension)), steps, limit)
}

/// The funnels of the summaries per value, most sessions first (ties by
/// value), at most `limit` values.
pub fn funnel_rows(
    summaries: HashMap<Option<String>, Summary>,
    steps: &[(String, StepRule)],
    limit: usize,
) -> Vec<FunnelBreakdown> {
    by_value(summaries, limit)
        .into_iter()
        .map(|(value, s)| FunnelBreakdown {
            value,
            steps: s.funnel_steps(steps),
        })
        .collect()
}

/// The demo storefront's product pages: the standard funnel's second step.
pub const PRODUCT_PAGES: &str = "/api/storefront/products/";

/// The funnel of the contract: a visit, a product page, a cart, a
/// checkout, an order, each after the one before. `product_pages` is the
/// path prefix of product pages (the demo storefront's: `/api/storefront/products/`).
pub fn standard_funnel(product_pages: &str) -> Vec<(String, StepRule)> {
    [
        ("visit", StepRule::Visit),
        ("product_view", StepRule::PageViewUnder(product_pages.to_owned())),
        ("add_to_cart", StepRule::Event(kinds::ADD_TO_CART.to_owned())),
        (
            "checkout_started",
            StepRule::Event(kinds::CHECKOUT_STARTED.to_owned()),
        ),
        (
            "order_completed",
            StepRule::Event(kinds::ORDER_COMPLETED.to_owned()),
        ),
    ]
    .into_iter()
    .map(|(name, rule)| (name.to_owned(), rule))
    .collect()
}

/// Each session's events in time order. Stable: events of one millisecond
/// keep the order the store gave them (by id, which follows the order they
/// were recorded in).
fn events_by_session(events: &[EventFact]) -> HashMap<SessionId, Vec<&EventFact>> {
    let mut by_session: HashMap<SessionId, Vec<&EventFact>> = HashMap::new();
    for e in events {
        by_session.entry(e.session_id).or_default().push(e);
    }
    for list in by_session.values_mut() {
        list.sort_by_key(|e| e.at);
    }
    by_session
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    // 2026-11-20T00:00:00Z
    const D0: i64 = 1_795_132_800_000;

    fn session(
        visitor: VisitorId,
        start: i64,
        secs: i64,
        page_views: u64,
        other: u64,
        dims: &[(&'static str, &str)],
    ) -> SessionFacts {
        SessionFacts {
            id: SessionId::new(),
            visitor_id: visitor,
            started_at: Timestamp(start),
            last_seen_at: Timestamp(start + secs * 1000),
            page_views,
            converted: false,
            other_events: other,
            dimensions: dims.iter().map(|(k, v)| (*k, Some((*v).to_owned()))).collect(),
        }
    }

    fn event(s: &SessionFacts, kind: &str, page: Option<&str>, secs: i64, total: Option<f64>) -> EventFact {
        EventFact {
            session_id: s.id,
            kind: kind.to_owned(),
            page: page.map(str::to_owned),
            metadata: total.map(|t| serde_json::json!({ "total": t })),
            at: Timestamp(s.started_at.millis() + secs * 1000),
        }
    }

    #[test]
    fn daily_figures_follow_the_definitions() {
        let (alice, bob) = (VisitorId::new(), VisitorId::new());
        let bounce = session(alice, D0 + 1000, 0, 1, 0, &[]);
        let mut buyer = session(alice, D0 + 2000, 120, 3, 2, &[]);
        buyer.converted = true;
        let reader = session(bob, D0 + 3000, 60, 1, 1, &[]);
        // Starts before midnight, runs past it: belongs to the first day.
        let late = session(bob, D0 + DAY - 1000, 600, 2, 0, &[]);
        let events = vec![
            event(&buyer, kinds::CUSTOMER_LOGIN, None, 10, None),
            event(&buyer, kinds::ORDER_COMPLETED, None, 100, Some(59.98)),
            event(&reader, kinds::ADD_TO_CART, None, 30, None),
        ];
        let days = daily(
            &[bounce, buyer, reader, late],
            &events,
            day_of(Timestamp(D0)).unwrap(),
            day_of(Timestamp(D0 + DAY)).unwrap(),
        );
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].date, "2026-11-20");
        let f = &days[0].figures;
        assert_eq!((f.visitors, f.sessions, f.page_views), (2, 4, 7));
        assert_eq!(
            f.bounce_rate, 0.25,
            "only the one-page session without other events"
        );
        assert_eq!(f.avg_session_seconds, (0.0 + 120.0 + 60.0 + 600.0) / 4.0);
        assert_eq!(
            (f.logins, f.conversions, f.conversion_rate, f.revenue),
            (1, 1, 0.25, 59.98)
        );
        assert_eq!(
            days[1].figures,
            Figures::default(),
            "a day without sessions is all zeros"
        );
    }

    #[test]
    fn breakdowns_group_by_domain_and_path_and_sort_by_sessions() {
        let v = VisitorId::new();
        let s = [
            session(
                v,
                D0,
                0,
                1,
                0,
                &[
                    ("referrer", "https://www.Google.com/search?q=x"),
                    ("landing_page", "/p?utm_source=a"),
                ],
            ),
            session(
                v,
                D0,
                0,
                1,
                0,
                &[("referrer", "https://google.com/"), ("landing_page", "/p")],
            ),
            session(
                v,
                D0,
                0,
                1,
                0,
                &[
                    ("referrer", "http://user@news.example:8080/a"),
                    ("landing_page", "/q"),
                ],
            ),
            session(v, D0, 0, 1, 0, &[]),
        ];
        let rows = breakdown(&s, &[], "referrer", 10);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.value.as_deref(), r.figures.sessions))
            .collect();
        assert_eq!(
            got,
            [(Some("google.com"), 2), (None, 1), (Some("news.example"), 1)]
        );
        let rows = breakdown(&s, &[], "landing_page", 1);
        assert_eq!(rows.len(), 1, "the limit holds");
        assert_eq!(
            (rows[0].value.as_deref(), rows[0].figures.sessions),
            (Some("/p"), 2)
        );
    }

    #[test]
    fn the_funnel_counts_steps_in_order() {
        let v = VisitorId::new();
        let steps = vec![
            ("visit".to_owned(), StepRule::Visit),
            (
                "product_view".to_owned(),
                StepRule::PageViewUnder("/api/storefront/products/".to_owned()),
            ),
            (
                "add_to_cart".to_owned(),
                StepRule::Event(kinds::ADD_TO_CART.to_owned()),
            ),
            (
                "order_completed".to_owned(),
                StepRule::Event(kinds::ORDER_COMPLETED.to_owned()),
            ),
        ];
        let all = session(v, D0, 0, 2, 2, &[("device", "desktop")]);
        let out_of_order = session(v, D0, 0, 1, 1, &[("device", "mobile")]);
        let browser = session(v, D0, 0, 1, 0, &[("device", "desktop")]);
        let list_only = session(v, D0, 0, 1, 0, &[]);
        let events = vec![
            event(
                &all,
                kinds::PAGE_VIEW,
                Some("/api/storefront/products/p-1"),
                1,
                None,
            ),
            event(&all, kinds::ADD_TO_CART, None, 2, None),
            event(&all, kinds::ORDER_COMPLETED, None, 3, Some(10.0)),
            // A cart before the product view: the view counts, the cart does not.
            event(&out_of_order, kinds::ADD_TO_CART, None, 1, None),
            event(
                &out_of_order,
                kinds::PAGE_VIEW,
                Some("/api/storefront/products/p-2"),
                2,
                None,
            ),
            event(
                &browser,
                kinds::PAGE_VIEW,
                Some("/api/storefront/products/p-3"),
                1,
                None,
            ),
            event(
                &list_only,
                kinds::PAGE_VIEW,
                Some("/api/storefront/products"),
                1,
                None,
            ),
        ];
        let sessions = [all, out_of_order, browser, list_only];
        let f = funnel(&sessions, &events, &steps);
        let got: Vec<_> = f
            .iter()
            .map(|s| (s.step.as_str(), s.sessions, s.drop_off))
            .collect();
        assert_eq!(
            got,
            [
                ("visit", 4, 0.0),
                ("product_view", 3, 0.25),
                ("add_to_cart", 1, 0.6667),
                ("order_completed", 1, 0.0)
            ]
        );

        // By device: one funnel per value, most sessions first; together they are the whole.
        let by = funnel_by(&sessions, &events, &steps, "device", 10);
        let values: Vec<_> = by.iter().map(|r| r.value.as_deref()).collect();
        assert_eq!(values, [Some("desktop"), None, Some("mobile")]);
        let counts = |i: usize| by[i].steps.iter().map(|s| s.sessions).collect::<Vec<_>>();
        assert_eq!(counts(0), [2, 2, 1, 1]);
        assert_eq!(counts(1), [1, 0, 0, 0]);
        assert_eq!(counts(2), [1, 1, 0, 0]);
        assert_eq!(by[0].steps[2].drop_off, 0.5);
        for (k, step) in f.iter().enumerate() {
            assert_eq!(by.iter().map(|r| r.steps[k].sessions).sum::<u64>(), step.sessions);
        }
        assert_eq!(funnel_by(&sessions, &events, &steps, "device", 1).len(), 1);
    }

    #[test]
    fn attribution_credits_the_ordering_session_or_the_first_within_the_lookback() {
        let source = |visitor, start: i64, utm: Option<&str>, referrer: Option<&str>| SourceFacts {
            id: SessionId::new(),
            visitor_id: visitor,
            started_at: Timestamp(start),
            dimensions: [
                ("utm_source", utm.map(str::to_owned)),
                ("referrer", referrer.map(str::to_owned)),
            ]
            .into_iter()
            .collect(),
        };
        let (ann, ben) = (VisitorId::new(), VisitorId::new());
        // Ann reads the newsletter, leaves, comes back from a search a week later and orders.
        let newsletter = source(ann, D0, Some("newsletter"), None);
        let search = source(
            ann,
            D0 + 7 * DAY,
            None,
            Some("https://www.google.com/search?q=shoes"),
        );
        // Ben comes from the newsletter 40 days before his order: past the lookback.
        let old = source(ben, D0 - 33 * DAY, Some("newsletter"), None);
        let direct = source(ben, D0 + 7 * DAY, None, None);
        let order = |s: &SourceFacts, total| OrderFact {
            session_id: s.id,
            visitor_id: s.visitor_id,
            at: Timestamp(s.started_at.millis() + 60_000),
            total,
        };
        let orders = [order(&search, 80.0), order(&search, 20.0), order(&direct, 30.0)];
        let sources = [newsletter, search, old, direct];
        let month = std::time::Duration::from_secs(30 * 86_400);
        let q = |model, dimension, lookback, limit| AttributionQuery {
            model,
            dimension,
            lookback,
            limit,
        };
        let rows = |model, dimension| {
            attribution(&orders, &sources, &q(model, dimension, month, 10))
                .into_iter()
                .map(|r| (r.value, r.visitors, r.orders, r.revenue, r.average_order_value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(Model::Last, "referrer"),
            [
                (Some("google.com".to_owned()), 1, 2, 100.0, 50.0),
                (None, 1, 1, 30.0, 30.0)
            ]
        );
        assert_eq!(
            rows(Model::First, "utm_source"),
            [
                (Some("newsletter".to_owned()), 1, 2, 100.0, 50.0),
                (None, 1, 1, 30.0, 30.0)
            ]
        );
        let short = attribution(
            &orders,
            &sources,
            &q(Model::First, "utm_source", std::time::Duration::ZERO, 10),
        );
        assert_eq!(
            short.len(),
            1,
            "no earlier session in the window: the ordering session's own value"
        );
        assert_eq!((short[0].value.as_deref(), short[0].orders), (None, 3));
        assert_eq!(
            attribution(&orders, &sources, &q(Model::Last, "referrer", month, 1)).len(),
            1
        );
    }
}
