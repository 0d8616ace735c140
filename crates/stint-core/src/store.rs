//! The two stores behind the engine, as traits.
//!
//! - [`HotStore`] keeps the live sessions, keyed by the hash of their token,
//!   and is asked once per request. Every operation is one atomic step, so
//!   that parallel requests on one session lose no page view and no write.
//! - [`ColdStore`] keeps history: every session, its events, its end. It is
//!   written in batches of [`Record`]s by a writer off the request path, and
//!   read by the admin API, the read-through of sessions the hot tier lost, and
//!   the background jobs. It is three traits by concern: [`HistoryStore`],
//!   [`AnalyticsStore`] and [`PrivacyStore`].
//!
//! A new store implements the trait and passes the conformance suite in the
//! `stint-conformance` crate.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;
use crate::event::Event;
use crate::id::{SessionId, VisitorId};
use crate::policy::Policy;
use crate::session::SessionRecord;
use crate::time::Timestamp;
use crate::token::TokenHash;

/// The hot path's instructions for [`HotStore::resume`].
#[derive(Clone, Copy, Debug)]
pub struct Touch {
    /// The time of the request.
    pub now: Timestamp,
    /// Whether the request counts as a page view.
    pub page_view: bool,
    /// Idle timeout and lifetime.
    pub policy: Policy,
}

/// What a token found.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The token is the session's current one; the session was touched.
    Current(SessionRecord),
    /// The token was replaced at a login within the grace window. The session,
    /// shown as anonymous, was touched like any other; the caller must not
    /// hand out the new token or act with the customer's rights.
    Superseded(SessionRecord),
    /// No live session answers to this token.
    Missing,
}

/// One change to a session's application data.
#[derive(Clone, Debug, PartialEq)]
pub enum DataOp {
    /// Sets a key.
    Set(String, Value),
    /// Removes a key.
    Remove(String),
}

/// A set of changes applied to a session in one atomic step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// Signs a customer in: the session becomes a customer session.
    pub customer_id: Option<String>,
    /// Marks the session converted by this order.
    pub order_id: Option<String>,
    /// Replaces the token; the old one keeps finding the session (as anonymous)
    /// until the given time.
    pub new_token: Option<(TokenHash, Timestamp)>,
    /// Data changes, in order.
    pub data: Vec<DataOp>,
}

impl Update {
    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.customer_id.is_none()
            && self.order_id.is_none()
            && self.new_token.is_none()
            && self.data.is_empty()
    }
}

impl Update {
    /// Applies the update to the record of `session`: the customer (and so
    /// the kind), the order (and so the conversion), the data. The version
    /// and the token are the store's to change, with its own index.
    pub fn apply_to(&self, session: &mut SessionRecord) {
        if let Some(customer) = &self.customer_id {
            session.kind = crate::session::SessionKind::Customer;
            session.customer_id = Some(customer.clone());
        }
        if let Some(order) = &self.order_id {
            session.converted = true;
            session.order_id = Some(order.clone());
        }
        apply_data(session, &self.data);
    }
}

/// Applies data changes to a session, in order. The data is copied only if
/// there is a change (it is shared with the stored session until then).
pub fn apply_data(session: &mut SessionRecord, ops: &[DataOp]) {
    if ops.is_empty() {
        return;
    }
    let data = std::sync::Arc::make_mut(&mut session.data);
    for op in ops {
        match op {
            DataOp::Set(k, v) => {
                data.insert(k.clone(), v.clone());
            }
            DataOp::Remove(k) => {
                data.remove(k);
            }
        }
    }
}

/// A read-modify-write of one data key, run by the store against the newest
/// value, atomically (a store may run it more than once, so it must be pure).
/// It gets the current value (if any) and returns the new one, or a refusal.
pub type Modify<'a> = dyn Fn(Option<&Value>) -> std::result::Result<Value, String> + Send + Sync + 'a;

/// Live figures of the hot store.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Realtime {
    /// Distinct visitors seen since the cut-off.
    pub active_visitors: u64,
    /// Sessions seen since the cut-off.
    pub active_sessions: u64,
    /// Distinct customers seen since the cut-off.
    pub active_customers: u64,
}

/// The store of live sessions.
///
/// A session and every token of it lie in one shard: [`SessionId::shard`]
/// equals [`TokenHash::shard`] for every token the engine hands a store. A
/// store spread over several nodes (a Redis Cluster) keeps a shard on one node,
/// so that each call below is one step on one node.
#[async_trait]
pub trait HotStore: Send + Sync + 'static {
    /// Stores a session under the hash of its token. Replaces a session of the
    /// same id (the read-through re-caches this way).
    async fn insert(&self, session: &SessionRecord, token: &TokenHash, policy: &Policy) -> Result<()>;

    /// The hot path, in one atomic step: finds the session of `token`, checks
    /// idle and absolute expiry (an expired session is dropped and reported
    /// [`Lookup::Missing`]), slides the idle timeout, counts the page view,
    /// and returns the session as it is now.
    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup>;

    /// The live session `id`, untouched.
    async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// Applies `update` atomically and bumps the version; `None` if the session
    /// is not live. Data changes touch only their keys: a parallel writer's
    /// other keys survive.
    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>>;

    /// Runs `f` on the value of `key` and stores its result, atomically;
    /// returns the session after the change, or `None` if it is not live.
    /// A refusal by `f` is [`crate::Error::InvalidData`] and changes nothing.
    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>>;

    /// Removes the session and every token of it; returns it if it was live.
    async fn remove(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// The live sessions of a customer.
    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>>;

    /// Counts of what was seen since `since`.
    async fn realtime(&self, since: Timestamp) -> Result<Realtime>;

    /// Number of live sessions held.
    async fn count(&self) -> Result<u64>;

    /// Answers if the store is reachable.
    async fn ping(&self) -> Result<()>;
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The customer signed out.
    Logout,
    /// An administrator, the customer or a password change revoked it.
    Revoked,
    /// Idle timeout or absolute lifetime.
    Expired,
}

impl EndReason {
    /// `logout`, `revoked` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// One write to the cold store.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// The session as it is now, under its current token. Newer versions win;
    /// an ended session stays ended.
    Snapshot {
        /// The session.
        session: SessionRecord,
        /// Its current token's hash when it is new (creation, login); `None`
        /// keeps the one stored.
        token: Option<TokenHash>,
    },
    /// A page view: the event, and the session's count after it.
    PageView {
        /// The `page_view` event.
        event: Event,
        /// The session's page views, this one included.
        page_views: u64,
    },
    /// Any other event.
    Event(Event),
    /// The session ended; its token no longer works.
    End {
        /// The session.
        id: SessionId,
        /// When.
        at: Timestamp,
        /// Why.
        reason: EndReason,
    },
}

impl Record {
    /// The session the record is about.
    pub fn session_id(&self) -> SessionId {
        match self {
            Self::Snapshot { session, .. } => session.id,
            Self::PageView { event, .. } | Self::Event(event) => event.session_id,
            Self::End { id, .. } => *id,
        }
    }
}

/// A page of the admin's session listing.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    /// `Some(true)`: only live sessions; `Some(false)`: only ended or expired ones.
    pub active: Option<bool>,
    /// Only this customer's.
    pub customer_id: Option<String>,
    /// Only this visitor's.
    pub visitor_id: Option<VisitorId>,
    /// Only converted (or not converted) sessions.
    pub converted: Option<bool>,
    /// At most this many.
    pub limit: u32,
    /// Only sessions older than this one (the cursor).
    pub before: Option<SessionId>,
    /// The time "live" is judged at.
    pub now: Timestamp,
    /// The timeouts "live" is judged by.
    pub policy: Policy,
}

/// Counts of the cold store.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColdStats {
    /// Sessions recorded.
    pub sessions: u64,
    /// Sessions not ended.
    pub open_sessions: u64,
    /// Events recorded.
    pub events: u64,
}

/// The durable store of history: every session, its events, its end,
/// written in batches and read back. With [`AnalyticsStore`] and
/// [`PrivacyStore`] it makes a [`ColdStore`].
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Writes a batch in one transaction. Idempotent: writing the same batch
    /// twice leaves the store as writing it once.
    async fn write(&self, batch: &[Record]) -> Result<()>;

    /// The session whose current token is `token`, if it has not ended.
    /// (Expiry is the caller's to judge.)
    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>>;

    /// The session `id`, live or ended.
    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>>;

    /// The session `id` with its current token's hash, if it has not ended
    /// (expiry is the caller's to judge): what a hot tier needs to take over
    /// a session it does not hold.
    async fn open_session(&self, id: &SessionId) -> Result<Option<(SessionRecord, TokenHash)>>;

    /// Sessions matching `query`, newest first.
    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>>;

    /// The events of a session, oldest first.
    async fn events(&self, id: &SessionId) -> Result<Vec<Event>>;

    /// A customer's sessions that have not ended and were seen since `since`.
    async fn customer_sessions(&self, customer_id: &str, since: Timestamp) -> Result<Vec<SessionRecord>>;

    /// Ends the sessions that expired by `now` (idle timeout or lifetime):
    /// `ended_at` is the moment each expired. Returns how many.
    async fn close_expired(&self, now: Timestamp, policy: &Policy) -> Result<u64>;

    /// Counts.
    async fn stats(&self) -> Result<ColdStats>;

    /// Answers if the store is reachable.
    async fn ping(&self) -> Result<()>;
}

/// The figures over history: the facts of a range, and the rollups of past
/// days.
#[async_trait]
pub trait AnalyticsStore: Send + Sync + 'static {
    /// The facts analytics needs about the tracked sessions that started in
    /// `[from, to)`, and the events of theirs that feed figures (logins,
    /// carts, checkouts, orders, and the page views of pages under `pages`
    /// when given), each session's in the order they happened (by time, then by id).
    async fn analytics_facts(
        &self,
        from: Timestamp,
        to: Timestamp,
        pages: Option<&str>,
    ) -> Result<(
        Vec<crate::analytics::SessionFacts>,
        Vec<crate::analytics::EventFact>,
    )>;

    /// Attribution's facts: the orders (`order_completed` events) placed in
    /// `[from, to)` in tracked sessions, in the order they happened, and
    /// the sessions they may be credited to: each order's own, and the
    /// tracked sessions of the same visitors that started in `[since, to)`.
    async fn attribution_facts(
        &self,
        from: Timestamp,
        to: Timestamp,
        since: Timestamp,
    ) -> Result<(
        Vec<crate::analytics::OrderFact>,
        Vec<crate::analytics::SourceFacts>,
    )>;

    /// Stores the figures of past days (rollups), replacing any stored for
    /// the same days: rolling a day up twice leaves one row.
    async fn save_rollups(&self, rows: &[crate::analytics::DayRow], at: Timestamp) -> Result<()>;

    /// The stored rollups of the days from `from` to `to` (`YYYY-MM-DD`, inclusive), by date.
    async fn rollups(&self, from: &str, to: &str) -> Result<Vec<crate::analytics::DayRow>>;

    /// Stores the summaries of the day `date` (`YYYY-MM-DD`), replacing
    /// every summary stored for that day.
    async fn save_day_summaries(&self, date: &str, summaries: &[crate::analytics::DaySummary]) -> Result<()>;

    /// The stored summaries of `dimension` (or [`crate::analytics::ALL`])
    /// of the days from `from` to `to` (`YYYY-MM-DD`, inclusive).
    async fn day_summaries(
        &self,
        from: &str,
        to: &str,
        dimension: &str,
    ) -> Result<Vec<crate::analytics::DaySummary>>;

    /// The `limit` pages with the most page views recorded at or after
    /// `since`, most viewed first (ties by page).
    async fn top_pages(&self, since: Timestamp, limit: u32) -> Result<Vec<crate::analytics::PageCount>>;
}

/// Deletion: the right to erasure and the retention of raw events.
#[async_trait]
pub trait PrivacyStore: Send + Sync + 'static {
    /// Deletes these sessions and all their events (the right to erasure),
    /// and takes their visitors out of the day summaries of the days they
    /// started on (the summaries' sums stay: they are anonymous); returns
    /// how many sessions were deleted.
    async fn erase(&self, sessions: &[SessionId]) -> Result<u64>;

    /// Deletes the raw events that happened before `before` (retention);
    /// returns how many. Sessions stay.
    async fn delete_events_before(&self, before: Timestamp) -> Result<u64>;
}

/// Everything the engine asks of its durable store: history, analytics and
/// privacy. Implemented for every type that implements the three, so a store
/// implements those and passes the cold-store conformance suite.
pub trait ColdStore: HistoryStore + AnalyticsStore + PrivacyStore {}

impl<T: HistoryStore + AnalyticsStore + PrivacyStore> ColdStore for T {}

/// Where the engine sends cold-store records: a batching writer in production.
///
/// Every method is bounded in time: an unreachable database makes them
/// fail with [`crate::Error::Unavailable`], never hang a request.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Queues a record. Waits a bounded time for room when the queue is full
    /// (backpressure); fails if there is still none (the record is then lost
    /// and counted) or once the writer has stopped.
    async fn send(&self, record: Record) -> Result<()>;

    /// Queues `records` in order, as [`Sink::send`] would one by one; a
    /// journaling sink writes them in one go (a new session's snapshot and
    /// first events are one write, not three).
    async fn send_all(&self, records: Vec<Record>) -> Result<()> {
        for record in records {
            self.send(record).await?;
        }
        Ok(())
    }

    /// Queues a record and waits until it, and everything queued before it,
    /// is committed to the cold store. On a timeout the record stays queued.
    async fn commit(&self, record: Record) -> Result<()>;

    /// Waits until everything queued so far is committed: reads that follow
    /// see every request already answered.
    async fn flush(&self) -> Result<()>;
}
