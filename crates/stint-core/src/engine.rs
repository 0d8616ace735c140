//! The engine: every operation on a session, over a hot store, a cold store
//! and the writer that feeds the cold store.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use crate::error::{Error, Result};
use crate::event::{Event, kinds};
use crate::id::{SessionId, VisitorId};
use crate::policy::Policy;
use crate::session::{Attributes, Session};
use crate::store::{
    ColdStore, DataOp, EndReason, HotStore, Lookup, Modify, Realtime, Record, SessionQuery, Sink, Touch,
    Update,
};
use crate::time::{Clock, Timestamp};
use crate::token::Token;

/// Whose data: a visitor (a browser) or a customer (an account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Person {
    /// Everything of this visitor id.
    Visitor(VisitorId),
    /// Everything of this customer id.
    Customer(String),
}

/// What one request contributes to its session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The page viewed, if the request counts as a page view.
    pub page: Option<&'a str>,
    /// Whether the visitor allows analytics. If not (Do Not Track, Global
    /// Privacy Control), the session works and counts its page views, but no
    /// event of it is stored.
    pub analytics: bool,
}

impl<'a> Hit<'a> {
    /// A page view of `page`, recorded.
    pub fn page(page: &'a str) -> Self {
        Self {
            page: Some(page),
            analytics: true,
        }
    }
}

/// A session found by its token.
#[derive(Clone, Debug, PartialEq)]
pub struct Resumed {
    /// The session, this request counted.
    pub session: Session,
    /// The token was replaced at a login moments ago: the session is shown as
    /// anonymous and the new token must not be handed out.
    pub superseded: bool,
}

/// The session engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    hot: Arc<dyn HotStore>,
    cold: Arc<dyn ColdStore>,
    sink: Arc<dyn Sink>,
    clock: Arc<dyn Clock>,
    policy: Policy,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over the given stores. `sink` is where cold-store records go
    /// (normally a batching writer over `cold`).
    pub fn new(
        hot: Arc<dyn HotStore>,
        cold: Arc<dyn ColdStore>,
        sink: Arc<dyn Sink>,
        clock: Arc<dyn Clock>,
        policy: Policy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                hot,
                cold,
                sink,
                clock,
                policy,
            }),
        }
    }

    /// The rules sessions live by.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The current time, by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The hot store.
    pub fn hot(&self) -> &Arc<dyn HotStore> {
        &self.inner.hot
    }

    /// The cold store.
    pub fn cold(&self) -> &Arc<dyn ColdStore> {
        &self.inner.cold
    }

    /// Finds the session of `token` and counts the request: a page view of
    /// `hit.page` when given, recorded as an event if `hit.analytics`. A token the hot store does not know is looked up
    /// once in the cold store (the hot tier may have lost a live session to a
    /// restart or an eviction) and re-cached. `None`: no live session.
    pub async fn resume(&self, token: &Token, hit: Hit<'_>) -> Result<Option<Resumed>> {
        let i = &*self.inner;
        let hash = token.hash();
        let touch = Touch {
            now: i.clock.now(),
            page_view: hit.page.is_some(),
            policy: i.policy,
        };
        let mut lookup = i.hot.resume(&hash, &touch).await?;
        if lookup == Lookup::Missing {
            // The writer may still hold this session's end (a logout, a
            // revocation): the read must come after it.
            i.sink.flush().await?;
            match i.cold.session_by_token(&hash).await? {
                // A session and its tokens share a shard (see `TokenHash::shard`);
                // the engine issues no other kind, so a mismatch is not worth keeping.
                Some(s) if s.is_live(&i.policy, touch.now) && s.id.shard() == hash.shard() => {
                    i.hot.insert(&s, &hash, &i.policy).await?;
                    lookup = i.hot.resume(&hash, &touch).await?;
                }
                _ => return Ok(None),
            }
        }
        let (session, superseded) = match lookup {
            Lookup::Current(s) => (s, false),
            Lookup::Superseded(s) => (s, true),
            Lookup::Missing => return Ok(None),
        };
        if let (Some(page), true) = (hit.page, hit.analytics) {
            let event = Event::new(session.id, session.visitor_id, kinds::PAGE_VIEW, touch.now).page(page);
            i.sink
                .send(Record::PageView {
                    event,
                    page_views: session.page_views,
                })
                .await?;
        }
        Ok(Some(Resumed { session, superseded }))
    }

    /// Starts a session for `visitor_id`, counting this request as its first
    /// page view when `hit.page` is given; its start and page view are
    /// recorded as events if `hit.analytics`.
    pub async fn create(
        &self,
        visitor_id: VisitorId,
        attributes: Attributes,
        hit: Hit<'_>,
    ) -> Result<(Session, Token)> {
        let i = &*self.inner;
        let token = Token::generate();
        let hash = token.hash();
        let mut session = self.ephemeral(visitor_id, attributes, hit.page.is_some());
        session.id = SessionId::for_token(&hash);
        i.hot.insert(&session, &hash, &i.policy).await?;
        let at = session.started_at;
        let mut records = Vec::with_capacity(3);
        records.push(Record::Snapshot {
            session: session.clone(),
            token: Some(hash),
        });
        if hit.analytics {
            records.push(Record::Event(Event::new(
                session.id,
                visitor_id,
                kinds::SESSION_START,
                at,
            )));
            if let Some(page) = hit.page {
                let event = Event::new(session.id, visitor_id, kinds::PAGE_VIEW, at).page(page);
                records.push(Record::PageView { event, page_views: 1 });
            }
        }
        i.sink.send_all(records).await?;
        Ok((session, token))
    }

    /// A session that is stored nowhere and counted nowhere: what a bot, or a
    /// client over its creation limit, gets.
    pub fn ephemeral(&self, visitor_id: VisitorId, attributes: Attributes, page_view: bool) -> Session {
        let mut session = Session::new(visitor_id, attributes, self.now());
        session.page_views = u64::from(page_view);
        session
    }

    /// Stores a session that was handed out without being stored (see
    /// [`Engine::ephemeral`]) and returns its token: a bot or a client over its
    /// creation limit that signs in or orders is worth keeping.
    pub async fn adopt(&self, session: &Session) -> Result<Token> {
        let i = &*self.inner;
        let token = Token::generate_for(&session.id);
        i.hot.insert(session, &token.hash(), &i.policy).await?;
        let start = Event::new(
            session.id,
            session.visitor_id,
            kinds::SESSION_START,
            session.started_at,
        );
        i.sink
            .send_all(vec![
                Record::Snapshot {
                    session: session.clone(),
                    token: Some(token.hash()),
                },
                Record::Event(start),
            ])
            .await?;
        Ok(token)
    }

    /// Signs `customer_id` in to the session: same session id, type
    /// `CUSTOMER`, a fresh token (returned). The old token finds the session
    /// as an anonymous one for the grace window, then nothing.
    pub async fn login(&self, id: &SessionId, customer_id: &str) -> Result<(Session, Token)> {
        let i = &*self.inner;
        let now = i.clock.now();
        let token = Token::generate_for(id);
        let update = Update {
            customer_id: Some(customer_id.to_owned()),
            new_token: Some((token.hash(), now.plus_secs(i.policy.rotation_grace_secs))),
            ..Update::default()
        };
        let session = self
            .read_through(id, || i.hot.update(id, &update))
            .await?
            .ok_or(Error::SessionNotFound)?;
        let event = Event::new(session.id, session.visitor_id, kinds::CUSTOMER_LOGIN, now)
            .metadata(json!({ "customerId": customer_id }));
        i.sink
            .send_all(vec![
                Record::Snapshot {
                    session: session.clone(),
                    token: Some(token.hash()),
                },
                Record::Event(event),
            ])
            .await?;
        Ok((session, token))
    }

    /// Signs out: the session ends (its token stops working everywhere at
    /// once) and its history is kept. Returns the ended session, if it was live.
    pub async fn logout(&self, id: &SessionId) -> Result<Option<Session>> {
        self.end(id, EndReason::Logout).await
    }

    /// Revokes a session (an administrator, the customer, a password change):
    /// like a logout. Returns whether a live session was ended.
    pub async fn revoke(&self, id: &SessionId) -> Result<bool> {
        Ok(self.end(id, EndReason::Revoked).await?.is_some())
    }

    async fn end(&self, id: &SessionId, reason: EndReason) -> Result<Option<Session>> {
        let i = &*self.inner;
        let now = i.clock.now();
        let removed = i.hot.remove(id).await?;
        let session = match removed {
            Some(s) => Some(s),
            // Not in the hot tier (a restart): it may still be open in the cold store.
            None => i.cold.session(id).await?.filter(|s| s.is_live(&i.policy, now)),
        };
        let Some(mut session) = session else {
            return Ok(None);
        };
        if reason == EndReason::Logout {
            let event = Event::new(session.id, session.visitor_id, kinds::CUSTOMER_LOGOUT, now);
            i.sink.send(Record::Event(event)).await?;
        }
        // Waits for the commit: until the end is durable, a read-through could
        // bring the token back.
        i.sink
            .commit(Record::End {
                id: *id,
                at: now,
                reason,
            })
            .await?;
        session.ended_at = Some(now);
        Ok(Some(session))
    }

    /// Marks the session converted by `order_id` and records
    /// `order_completed` with `metadata` (the order's total, items, …).
    pub async fn convert(
        &self,
        id: &SessionId,
        order_id: &str,
        metadata: serde_json::Value,
    ) -> Result<Session> {
        let update = Update {
            order_id: Some(order_id.to_owned()),
            ..Update::default()
        };
        let session = self.apply(id, &update).await?.ok_or(Error::SessionNotFound)?;
        let event =
            Event::new(session.id, session.visitor_id, kinds::ORDER_COMPLETED, self.now()).metadata(metadata);
        self.inner.sink.send(Record::Event(event)).await?;
        Ok(session)
    }

    /// Saves data changes (key by key; other keys changed in parallel survive).
    pub async fn save(&self, id: &SessionId, ops: Vec<DataOp>) -> Result<Option<Session>> {
        let update = Update {
            data: ops,
            ..Update::default()
        };
        self.apply(id, &update).await
    }

    /// Read-modify-write of one data key, atomic against parallel requests.
    pub async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<Session>> {
        let hot = &self.inner.hot;
        let session = self.read_through(id, || hot.modify(id, key, f)).await?;
        if let Some(s) = &session {
            self.snapshot(s).await?;
        }
        Ok(session)
    }

    async fn apply(&self, id: &SessionId, update: &Update) -> Result<Option<Session>> {
        let hot = &self.inner.hot;
        let session = self.read_through(id, || hot.update(id, update)).await?;
        if let Some(s) = &session {
            self.snapshot(s).await?;
        }
        Ok(session)
    }

    /// Runs `op`, a change of session `id` in the hot store. If the hot
    /// store does not hold the session (a restart, an eviction, a failover
    /// tier serving locally while its primary is down) and the cold store
    /// has it open and live, the session is read through once and `op` runs
    /// again: a change by id is never lost for want of a cached copy. The
    /// by-token read-through of [`Engine::resume`] is the other half of the
    /// same rule.
    async fn read_through<'a, F, Fut>(&self, id: &SessionId, op: F) -> Result<Option<Session>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Session>>> + 'a,
    {
        if let Some(s) = op().await? {
            return Ok(Some(s));
        }
        let i = &*self.inner;
        // The writer may still hold this session's end: read after it.
        i.sink.flush().await?;
        match i.cold.open_session(id).await? {
            Some((s, token)) if s.is_live(&i.policy, i.clock.now()) && s.id.shard() == token.shard() => {
                // A request may have re-cached it meanwhile, with newer counts.
                if i.hot.get(id).await?.is_none() {
                    i.hot.insert(&s, &token, &i.policy).await?;
                }
                op().await
            }
            _ => Ok(None),
        }
    }

    async fn snapshot(&self, session: &Session) -> Result<()> {
        self.inner
            .sink
            .send(Record::Snapshot {
                session: session.clone(),
                token: None,
            })
            .await
    }

    /// Records an event of the application's own.
    pub async fn track(&self, event: Event) -> Result<()> {
        self.inner.sink.send(Record::Event(event)).await
    }

    /// The session `id`: live from the hot store, else from history.
    pub async fn get(&self, id: &SessionId) -> Result<Option<Session>> {
        if let Some(s) = self.inner.hot.get(id).await? {
            return Ok(Some(s));
        }
        self.inner.sink.flush().await?;
        self.inner.cold.session(id).await
    }

    /// Sessions matching `query`, newest first, live ones as the hot store
    /// has them now. Sees every request answered before the call.
    pub async fn list(&self, mut query: SessionQuery) -> Result<Vec<Session>> {
        self.inner.sink.flush().await?;
        query.now = self.now();
        query.policy = self.inner.policy;
        let mut sessions = self.inner.cold.sessions(&query).await?;
        for s in &mut sessions {
            if s.ended_at.is_none()
                && let Some(live) = self.inner.hot.get(&s.id).await?
            {
                *s = live;
            }
        }
        Ok(sessions)
    }

    /// The events of a session, oldest first, up to the last request answered.
    pub async fn events(&self, id: &SessionId) -> Result<Vec<Event>> {
        self.inner.sink.flush().await?;
        self.inner.cold.events(id).await
    }

    /// A customer's live sessions, most recently seen first: those in the hot
    /// store, and those only the cold store still knows (after a restart).
    pub async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<Session>> {
        let i = &*self.inner;
        let now = i.clock.now();
        let mut by_id: HashMap<SessionId, Session> = HashMap::new();
        let since =
            Timestamp(now.0 - i64::try_from(i.policy.idle_timeout_secs).unwrap_or(i64::MAX / 2000) * 1000);
        for s in i.cold.customer_sessions(customer_id, since).await? {
            if s.is_live(&i.policy, now) {
                by_id.insert(s.id, s);
            }
        }
        for s in i.hot.customer_sessions(customer_id).await? {
            by_id.insert(s.id, s);
        }
        let mut out: Vec<Session> = by_id.into_values().collect();
        out.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Revokes every live session of a customer except `keep`; returns how many.
    pub async fn revoke_customer(&self, customer_id: &str, keep: Option<&SessionId>) -> Result<u64> {
        let mut n = 0;
        for s in self.customer_sessions(customer_id).await? {
            if Some(&s.id) != keep && self.revoke(&s.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every session of a visitor or a customer, oldest first, as stored now
    /// (live ones as the hot store has them), with their events.
    pub async fn person(&self, who: &Person) -> Result<Vec<(Session, Vec<Event>)>> {
        let mut out = Vec::new();
        for session in self.sessions_of(who).await? {
            let events = self.inner.cold.events(&session.id).await?;
            out.push((session, events));
        }
        Ok(out)
    }

    /// Erases a visitor or a customer: every session of theirs leaves the hot
    /// store (its tokens stop working) and, with its events, the cold store.
    /// Returns how many sessions were erased.
    pub async fn erase(&self, who: &Person) -> Result<u64> {
        let sessions = self.sessions_of(who).await?;
        let ids: Vec<SessionId> = sessions.iter().map(|s| s.id).collect();
        for id in &ids {
            self.inner.hot.remove(id).await?;
        }
        // Whatever the writer still held for them is written before the delete.
        self.inner.sink.flush().await?;
        self.inner.cold.erase(&ids).await
    }

    async fn sessions_of(&self, who: &Person) -> Result<Vec<Session>> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let query = SessionQuery {
                visitor_id: match who {
                    Person::Visitor(v) => Some(*v),
                    Person::Customer(_) => None,
                },
                customer_id: match who {
                    Person::Customer(c) => Some(c.clone()),
                    Person::Visitor(_) => None,
                },
                limit: 1000,
                before,
                ..SessionQuery::default()
            };
            let page = self.list(query).await?;
            let done = page.len() < 1000;
            before = page.last().map(|s| s.id);
            all.extend(page);
            if done {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }

    /// The analytics facts of the tracked sessions that started from the UTC
    /// day `from` to the UTC day `to`, inclusive; live sessions as the hot
    /// store has them now. Page views come only for pages under `pages` (the
    /// funnel's); the other figures need none.
    pub async fn analytics_facts(
        &self,
        from: time::Date,
        to: time::Date,
        pages: Option<&str>,
    ) -> Result<(
        Vec<crate::analytics::SessionFacts>,
        Vec<crate::analytics::EventFact>,
    )> {
        use crate::analytics::start_of;
        self.inner.sink.flush().await?;
        let end = to.next_day().map_or(Timestamp(i64::MAX), start_of);
        let (mut sessions, events) = self
            .inner
            .cold
            .analytics_facts(start_of(from), end, pages)
            .await?;
        let live_since = Timestamp(
            self.now().millis().saturating_sub(
                i64::try_from(self.inner.policy.max_age_secs)
                    .unwrap_or(i64::MAX / 1000)
                    .saturating_mul(1000),
            ),
        );
        for s in sessions.iter_mut().filter(|s| s.started_at >= live_since) {
            if let Some(live) = self.inner.hot.get(&s.id).await? {
                s.page_views = live.page_views;
                s.last_seen_at = live.last_seen_at;
                s.converted = live.converted;
            }
        }
        Ok((sessions, events))
    }

    /// Rolls up the days from `from` to `to` that are over (today is live and
    /// never rolled up): computes their figures and stores them, replacing
    /// earlier rollups of the same days. Returns the rows stored.
    pub async fn rollup(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        let Some(yesterday) = crate::analytics::day_of(self.now()).and_then(time::Date::previous_day) else {
            return Ok(Vec::new());
        };
        let to = to.min(yesterday);
        if from > to {
            return Ok(Vec::new());
        }
        let (sessions, events) = self.analytics_facts(from, to, None).await?;
        let rows = crate::analytics::daily(&sessions, &events, from, to);
        self.inner.cold.save_rollups(&rows, self.now()).await?;
        Ok(rows)
    }

    /// One row per day from `from` to `to`: past days from their rollups
    /// where there are, other days (today among them) computed from the facts.
    pub async fn daily(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        let mut stored: HashMap<String, crate::analytics::DayRow> = self
            .inner
            .cold
            .rollups(&from.to_string(), &to.to_string())
            .await?
            .into_iter()
            .map(|r| (r.date.clone(), r))
            .collect();
        let mut missing = Vec::new();
        let mut day = from;
        while day <= to {
            if !stored.contains_key(&day.to_string()) {
                missing.push(day);
            }
            match day.next_day() {
                Some(d) => day = d,
                None => break,
            }
        }
        if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
            let (sessions, events) = self.analytics_facts(*first, *last, None).await?;
            for row in crate::analytics::daily(&sessions, &events, *first, *last) {
                stored.entry(row.date.clone()).or_insert(row);
            }
        }
        let mut rows: Vec<_> = stored.into_values().collect();
        rows.sort_by(|a, b| a.date.cmp(&b.date));
        Ok(rows)
    }

    /// Real-time figures over the active window.
    pub async fn realtime(&self) -> Result<Realtime> {
        let since = Timestamp(
            self.now().0 - i64::try_from(self.inner.policy.active_window_secs).unwrap_or(300) * 1000,
        );
        self.inner.hot.realtime(since).await
    }

    /// Deletes raw events older than `days` days (sessions stay); returns how many.
    pub async fn apply_retention(&self, days: u64) -> Result<u64> {
        let cutoff = Timestamp(
            self.now().millis().saturating_sub(
                i64::try_from(days)
                    .unwrap_or(i64::MAX / 86_400_000)
                    .saturating_mul(86_400_000),
            ),
        );
        self.inner.cold.delete_events_before(cutoff).await
    }

    /// Ends, in the cold store, the sessions that expired; returns how many.
    pub async fn close_expired(&self) -> Result<u64> {
        self.inner
            .cold
            .close_expired(self.now(), &self.inner.policy)
            .await
    }
}
