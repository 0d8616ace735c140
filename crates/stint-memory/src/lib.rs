//! # stint-memory
//!
//! The in-process [`HotStore`] of Stint: the embedded default when one
//! instance serves the shop, and the local tier in front of the cold store.
//!
//! Sessions sit in sharded maps keyed by the SHA-256 of their token; each
//! session has its own lock, so requests on different sessions never wait for
//! each other and requests on one session are applied one after the other
//! (no lost page view, no lost write). Expired sessions are dropped when they
//! are next asked for and by a sweeper ([`MemoryStore::spawn_sweeper`]), so
//! memory follows the number of live sessions.
//!
//! ```
//! use std::sync::Arc;
//! use stint_core::store::{HotStore, Lookup, Touch};
//! use stint_core::{Attributes, Policy, SessionRecord, Timestamp, Token, VisitorId};
//! use stint_memory::MemoryStore;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let policy = Policy::default();
//! let now = Timestamp(1_795_000_000_000);
//! let session = SessionRecord::new(VisitorId::new(), Attributes::default(), now);
//! let token = Token::generate();
//! store.insert(&session, &token.hash(), &policy).await.unwrap();
//!
//! let touch = Touch { now: now.plus_secs(60), page_view: true, policy };
//! let Lookup::Current(found) = store.resume(&token.hash(), &touch).await.unwrap() else { panic!() };
//! assert_eq!((found.id, found.page_views), (session.id, 1));
//!
//! // Idle for longer than the timeout: gone.
//! let late = Touch { now: now.plus_secs(60 + 1800), ..touch };
//! assert_eq!(store.resume(&token.hash(), &late).await.unwrap(), Lookup::Missing);
//! # });
//! ```
//!
//! [`Failover`] puts a shared hot store (Redis) in front of a local
//! `MemoryStore`, which serves while the shared one is down.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod failover;

pub use failover::Failover;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use parking_lot::Mutex;
use stint_core::store::{HotStore, Lookup, Modify, Realtime, Touch, Update};
use stint_core::{Clock, Error, Policy, Result, SessionId, SessionRecord, Timestamp, TokenHash};

/// The in-process hot store.
///
/// Unbounded by default; [`MemoryStore::with_capacity`] bounds the live
/// sessions it holds. Past the bound, sessions not seen for the longest
/// leave memory (a second-chance "clock" over the order they came in: a
/// session used since the hand last passed it gets another round). They
/// stay in the durable store, and the engine reads an evicted session back
/// at its next request, with its page views and data.
#[derive(Debug)]
pub struct MemoryStore {
    tokens: DashMap<TokenHash, Slot>,
    sessions: DashMap<SessionId, Arc<Mutex<Entry>>>,
    customers: DashMap<String, HashSet<SessionId>>,
    capacity: usize,
    /// The clock's ring: session ids in the order they came in (ids of
    /// sessions gone meanwhile are skipped, and dropped by the sweeper).
    ring: Mutex<VecDeque<SessionId>>,
    evictions: AtomicU64,
    /// Evicted ids, kept for a failover tier to take (`None`: not kept).
    evicted: Option<Mutex<Vec<SessionId>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            tokens: DashMap::new(),
            sessions: DashMap::new(),
            customers: DashMap::new(),
            capacity: usize::MAX,
            ring: Mutex::new(VecDeque::new()),
            evictions: AtomicU64::new(0),
            evicted: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    entry: Arc<Mutex<Entry>>,
    /// Set on a token replaced at login: it works (as anonymous) until then.
    superseded_until: Option<Timestamp>,
}

#[derive(Debug)]
struct Entry {
    session: SessionRecord,
    /// The current token. A token replaced at login is not kept here: its
    /// slot finds this entry until its grace window ends, and finds nothing
    /// once the entry is removed; the sweeper drops it after the window.
    token: TokenHash,
    expires_at: Timestamp,
    removed: bool,
    /// Used since the clock's hand last passed: spared once.
    referenced: bool,
}

impl MemoryStore {
    /// An empty store, unbounded.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that holds at most `capacity` live sessions (at
    /// least 1).
    ///
    /// ```
    /// use stint_memory::MemoryStore;
    /// let store = MemoryStore::with_capacity(100_000);
    /// assert_eq!(store.capacity(), Some(100_000));
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Keeps the ids of evicted sessions for [`MemoryStore::take_evicted`]
    /// (a failover tier must tell its primary that its copy is stale).
    #[must_use]
    pub fn recording_evictions(mut self) -> Self {
        self.evicted = Some(Mutex::new(Vec::new()));
        self
    }

    /// The bound on live sessions, if any.
    pub fn capacity(&self) -> Option<usize> {
        (self.capacity != usize::MAX).then_some(self.capacity)
    }

    /// Live sessions held now.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Sessions evicted to keep within the capacity, since the start.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// The ids of sessions evicted since the last call (only with
    /// [`MemoryStore::recording_evictions`]).
    pub fn take_evicted(&self) -> Vec<SessionId> {
        self.evicted
            .as_ref()
            .map(|e| std::mem::take(&mut *e.lock()))
            .unwrap_or_default()
    }

    /// Evicts until the store is within its capacity: the hand of the clock
    /// spares a session used since it last passed (once), and evicts the
    /// first one that was not.
    fn make_room(&self) {
        // Every session is passed at most twice: once to clear its mark,
        // once to evict it.
        let mut budget = self.ring.lock().len().saturating_mul(2);
        while self.sessions.len() > self.capacity && budget > 0 {
            budget -= 1;
            let Some(id) = self.ring.lock().pop_front() else {
                return;
            };
            let Some(entry) = self.entry(&id) else {
                continue;
            };
            let spared = {
                let mut e = entry.lock();
                std::mem::replace(&mut e.referenced, false)
            };
            if spared {
                self.ring.lock().push_back(id);
            } else if self.drop_session(&id).is_some() {
                self.evictions.fetch_add(1, Ordering::Relaxed);
                if let Some(evicted) = &self.evicted {
                    evicted.lock().push(id);
                }
            }
        }
    }

    /// Drops every session that expired by `now`, and every replaced token
    /// past its grace window; returns how many sessions were dropped.
    pub fn purge_expired(&self, now: Timestamp) -> usize {
        let mut expired = Vec::new();
        for item in self.sessions.iter() {
            if item.value().lock().expires_at <= now {
                expired.push(*item.key());
            }
        }
        let n = expired
            .iter()
            .filter(|id| self.drop_session(id).is_some())
            .count();
        self.tokens
            .retain(|_, slot| slot.superseded_until.is_none_or(|until| until > now));
        if self.capacity != usize::MAX {
            self.ring.lock().retain(|id| self.sessions.contains_key(id));
        }
        n
    }

    /// Runs [`MemoryStore::purge_expired`] every `every` on the current tokio
    /// runtime, until the store is dropped.
    pub fn spawn_sweeper(
        self: &Arc<Self>,
        every: Duration,
        clock: Arc<dyn Clock>,
    ) -> tokio::task::JoinHandle<()> {
        let store: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(store) = store.upgrade() else { break };
                store.purge_expired(clock.now());
            }
        })
    }

    /// A copy of every session, with its current token; the store keeps them.
    pub fn sessions(&self) -> Vec<(SessionRecord, TokenHash)> {
        self.sessions
            .iter()
            .filter_map(|item| {
                let e = item.value().lock();
                (!e.removed).then(|| (e.session.clone(), e.token))
            })
            .collect()
    }

    /// Takes every session out of the store, with its current token: how a
    /// local tier hands what it served during an outage back to the shared store.
    pub fn drain(&self) -> Vec<(SessionRecord, TokenHash)> {
        let ids: Vec<SessionId> = self.sessions.iter().map(|e| *e.key()).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let token = self.entry(&id).map(|e| e.lock().token);
            if let (Some(session), Some(token)) = (self.drop_session(&id), token) {
                out.push((session, token));
            }
        }
        out
    }

    fn entry(&self, id: &SessionId) -> Option<Arc<Mutex<Entry>>> {
        self.sessions.get(id).map(|e| Arc::clone(e.value()))
    }

    /// Removes a session, its tokens and its index entries.
    fn drop_session(&self, id: &SessionId) -> Option<SessionRecord> {
        let (_, entry) = self.sessions.remove(id)?;
        let mut e = entry.lock();
        if e.removed {
            return None;
        }
        e.removed = true;
        self.tokens.remove(&e.token);
        if let Some(customer) = &e.session.customer_id {
            self.unindex(customer, id);
        }
        Some(e.session.clone())
    }

    fn unindex(&self, customer: &str, id: &SessionId) {
        if let Some(mut ids) = self.customers.get_mut(customer) {
            ids.remove(id);
        }
        self.customers.remove_if(customer, |_, ids| ids.is_empty());
    }
}

#[async_trait]
impl HotStore for MemoryStore {
    async fn insert(&self, session: &SessionRecord, token: &TokenHash, policy: &Policy) -> Result<()> {
        if self.sessions.contains_key(&session.id) {
            self.drop_session(&session.id);
        }
        let entry = Arc::new(Mutex::new(Entry {
            session: session.clone(),
            token: *token,
            expires_at: session.expires_at(policy),
            removed: false,
            referenced: false,
        }));
        self.sessions.insert(session.id, Arc::clone(&entry));
        self.tokens.insert(
            *token,
            Slot {
                entry,
                superseded_until: None,
            },
        );
        if let Some(customer) = &session.customer_id {
            self.customers
                .entry(customer.clone())
                .or_default()
                .insert(session.id);
        }
        if self.capacity != usize::MAX {
            let ring_len = {
                let mut ring = self.ring.lock();
                ring.push_back(session.id);
                ring.len()
            };
            // Counting the map's shards once per new session; the clock runs
            // only past the bound.
            let held = self.sessions.len();
            // Ids of sessions gone meanwhile pile up between two sweeps
            // when sessions end faster than the bound evicts: compact.
            if ring_len > held.saturating_mul(2).saturating_add(1024) {
                self.ring.lock().retain(|id| self.sessions.contains_key(id));
            }
            if held > self.capacity {
                self.make_room();
            }
        }
        Ok(())
    }

    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup> {
        let Some(slot) = self.tokens.get(token).map(|s| s.value().clone()) else {
            return Ok(Lookup::Missing);
        };
        if slot.superseded_until.is_some_and(|until| until <= touch.now) {
            self.tokens.remove(token);
            return Ok(Lookup::Missing);
        }
        let mut e = slot.entry.lock();
        if e.removed {
            return Ok(Lookup::Missing);
        }
        if e.expires_at <= touch.now {
            let id = e.session.id;
            drop(e);
            self.drop_session(&id);
            return Ok(Lookup::Missing);
        }
        e.referenced = true;
        let s = &mut e.session;
        s.last_seen_at = s.last_seen_at.max(touch.now);
        if touch.page_view {
            s.page_views += 1;
        }
        e.expires_at = e.session.expires_at(&touch.policy);
        Ok(match slot.superseded_until {
            None => Lookup::Current(e.session.clone()),
            Some(_) => Lookup::Superseded(e.session.as_anonymous()),
        })
    }

    async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        Ok(self.entry(id).and_then(|entry| {
            let e = entry.lock();
            (!e.removed).then(|| e.session.clone())
        }))
    }

    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>> {
        let Some(entry) = self.entry(id) else {
            return Ok(None);
        };
        let mut e = entry.lock();
        if e.removed {
            return Ok(None);
        }
        if let Some(customer) = &update.customer_id {
            if let Some(old) = e.session.customer_id.take() {
                self.unindex(&old, id);
            }
            self.customers.entry(customer.clone()).or_default().insert(*id);
        }
        if let Some((new_token, grace_until)) = update.new_token {
            let old = std::mem::replace(&mut e.token, new_token);
            self.tokens.insert(
                old,
                Slot {
                    entry: Arc::clone(&entry),
                    superseded_until: Some(grace_until),
                },
            );
            self.tokens.insert(
                new_token,
                Slot {
                    entry: Arc::clone(&entry),
                    superseded_until: None,
                },
            );
        }
        update.apply_to(&mut e.session);
        e.session.version += 1;
        e.referenced = true;
        Ok(Some(e.session.clone()))
    }

    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>> {
        let Some(entry) = self.entry(id) else {
            return Ok(None);
        };
        let mut e = entry.lock();
        if e.removed {
            return Ok(None);
        }
        let value = f(e.session.data.get(key)).map_err(Error::InvalidData)?;
        Arc::make_mut(&mut e.session.data).insert(key.to_owned(), value);
        e.session.version += 1;
        e.referenced = true;
        Ok(Some(e.session.clone()))
    }

    async fn remove(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        Ok(self.drop_session(id))
    }

    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>> {
        let ids: Vec<SessionId> = match self.customers.get(customer_id) {
            Some(ids) => ids.iter().copied().collect(),
            None => return Ok(Vec::new()),
        };
        Ok(ids
            .iter()
            .filter_map(|id| self.entry(id))
            .filter_map(|entry| {
                let e = entry.lock();
                (!e.removed).then(|| e.session.clone())
            })
            .collect())
    }

    async fn realtime(&self, since: Timestamp) -> Result<Realtime> {
        let mut visitors = HashSet::new();
        let mut customers = HashSet::new();
        let mut sessions = 0u64;
        for item in self.sessions.iter() {
            let e = item.value().lock();
            if e.session.last_seen_at >= since && e.expires_at > since {
                sessions += 1;
                visitors.insert(e.session.visitor_id);
                if let Some(c) = &e.session.customer_id {
                    customers.insert(c.clone());
                }
            }
        }
        Ok(Realtime {
            active_visitors: visitors.len() as u64,
            active_sessions: sessions,
            active_customers: customers.len() as u64,
        })
    }

    async fn count(&self) -> Result<u64> {
        Ok(self.sessions.len() as u64)
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_core::{Attributes, Token, VisitorId};

    async fn add(store: &MemoryStore) -> (SessionRecord, TokenHash) {
        let s = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
        let t = Token::generate().hash();
        store.insert(&s, &t, &Policy::default()).await.unwrap();
        (s, t)
    }

    fn touch() -> Touch {
        Touch {
            now: Timestamp(1_000),
            page_view: true,
            policy: Policy::default(),
        }
    }

    /// Past the bound the sessions not used since the clock's hand last
    /// passed leave first; used ones get a second round.
    #[tokio::test]
    async fn the_bound_evicts_the_sessions_not_used_lately() {
        let store = MemoryStore::with_capacity(3).recording_evictions();
        let a = add(&store).await;
        let b = add(&store).await;
        let c = add(&store).await;
        // a and c are in use; b is not.
        assert!(matches!(
            store.resume(&a.1, &touch()).await.unwrap(),
            Lookup::Current(_)
        ));
        assert!(matches!(
            store.resume(&c.1, &touch()).await.unwrap(),
            Lookup::Current(_)
        ));
        let d = add(&store).await;
        assert_eq!(store.len(), 3);
        assert_eq!(store.evictions(), 1);
        assert_eq!(store.take_evicted(), vec![b.0.id]);
        assert!(store.take_evicted().is_empty(), "taken once");
        assert_eq!(store.resume(&b.1, &touch()).await.unwrap(), Lookup::Missing);
        for kept in [&a, &c, &d] {
            assert!(store.get(&kept.0.id).await.unwrap().is_some());
        }
        // With nothing used since, the oldest goes next.
        add(&store).await;
        assert_eq!(store.len(), 3);
        assert_eq!(store.evictions(), 2);
    }

    /// Many sessions through a small bound: memory stays at the bound and
    /// the clock's ring does not grow with sessions that ended.
    #[tokio::test]
    async fn memory_stays_at_the_bound() {
        let store = MemoryStore::with_capacity(100);
        for i in 0..5_000 {
            let (s, _) = add(&store).await;
            if i % 2 == 0 {
                store.remove(&s.id).await.unwrap();
            }
        }
        assert!(store.len() <= 100);
        assert!(store.ring.lock().len() <= 2 * 100 + 1024 + 1);
        assert!(store.tokens.len() <= 100);
    }

    #[tokio::test]
    async fn unbounded_by_default() {
        let store = MemoryStore::new();
        assert_eq!(store.capacity(), None);
        for _ in 0..1_000 {
            add(&store).await;
        }
        assert_eq!((store.len(), store.evictions()), (1_000, 0));
        assert!(store.ring.lock().is_empty(), "no ring kept without a bound");
    }

    #[tokio::test]
    async fn purge_drops_expired_sessions_and_their_tokens() {
        let store = MemoryStore::new();
        let policy = Policy::default();
        let now = Timestamp(0);
        for _ in 0..10 {
            let s = SessionRecord::new(VisitorId::new(), Attributes::default(), now);
            store
                .insert(&s, &Token::generate().hash(), &policy)
                .await
                .unwrap();
        }
        assert_eq!(store.purge_expired(now.plus_secs(1799)), 0);
        assert_eq!(store.purge_expired(now.plus_secs(1800)), 10);
        assert_eq!(store.sessions.len(), 0);
        assert_eq!(store.tokens.len(), 0);
    }

    #[tokio::test]
    async fn a_replaced_token_of_a_removed_session_goes_with_its_grace_window() {
        let store = MemoryStore::new();
        let policy = Policy::default();
        let s = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
        let (old, new) = (Token::generate().hash(), Token::generate().hash());
        store.insert(&s, &old, &policy).await.unwrap();
        let login = Update {
            new_token: Some((new, Timestamp(0).plus_secs(10))),
            ..Update::default()
        };
        store.update(&s.id, &login).await.unwrap().unwrap();
        store.remove(&s.id).await.unwrap().unwrap();
        // The replaced token's slot outlives the session, finding nothing…
        assert_eq!(store.tokens.len(), 1);
        let touch = Touch {
            now: Timestamp(1_000),
            page_view: true,
            policy,
        };
        assert_eq!(store.resume(&old, &touch).await.unwrap(), Lookup::Missing);
        // …until the sweep after its window.
        store.purge_expired(Timestamp(9_999));
        assert_eq!(store.tokens.len(), 1);
        store.purge_expired(Timestamp(10_000));
        assert!(store.tokens.is_empty());
    }

    #[tokio::test]
    async fn drain_hands_over_every_session_with_its_token() {
        let store = MemoryStore::new();
        let policy = Policy::default();
        let mut inserted = Vec::new();
        for _ in 0..5 {
            let s = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(0));
            let t = Token::generate().hash();
            store.insert(&s, &t, &policy).await.unwrap();
            inserted.push((s, t));
        }
        let mut copied = store.sessions();
        copied.sort_by_key(|(s, _)| s.id);
        let mut drained = store.drain();
        drained.sort_by_key(|(s, _)| s.id);
        inserted.sort_by_key(|(s, _)| s.id);
        assert_eq!(drained, inserted);
        assert_eq!(copied, inserted);
        assert_eq!(store.count().await.unwrap(), 0);
        assert!(store.tokens.is_empty());
    }
}
