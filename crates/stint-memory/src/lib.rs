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

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use parking_lot::Mutex;
use stint_core::store::{HotStore, Lookup, Modify, Realtime, Touch, Update};
use stint_core::{Clock, Error, Policy, Result, SessionId, SessionRecord, Timestamp, TokenHash};

/// The in-process hot store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: DashMap<TokenHash, Slot>,
    sessions: DashMap<SessionId, Arc<Mutex<Entry>>>,
    customers: DashMap<String, HashSet<SessionId>>,
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
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
