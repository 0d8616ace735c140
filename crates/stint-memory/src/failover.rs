//! The failover tier: a shared hot store (Redis) while it answers, and a
//! local in-process tier while it does not. The engine reads sessions the
//! local tier lacks through from the durable store, by token (a request) or
//! by id (a change), as it does for any hot store that lost a session.
//!
//! - The first call that finds the primary unavailable turns the tier
//!   *degraded*: that call, and every call after it, is served locally, so no
//!   request fails. [`Failover::ping`](HotStore::ping) fails while degraded
//!   (readiness reports the outage), and the gauge `stint_hot_degraded` is 1.
//! - While degraded, [`Failover::keep_probing`] probes the primary once per
//!   `probe_every` (no reconnect storm; requests never wait on a probe). When
//!   it answers again, the local sessions are copied to it (they are newer)
//!   while requests carry on; then a gate lets the calls on the local tier
//!   finish and holds new ones, the sessions removed locally are removed from
//!   the primary, those that changed since their copy are written again, and
//!   the gate opens on the primary. No local change is lost in the hand-over,
//!   and requests wait only for the second, short pass.
//! - [`Failover::strict`] (production): the local tier works only while the
//!   durable store answers, so that sessions are never kept in memory alone.
//!   With both stores down, calls fail and the session layer serves requests
//!   without a session.
//!
//! ```
//! # async fn demo(
//! #     redis: std::sync::Arc<stint_memory::MemoryStore>,
//! #     durable: std::sync::Arc<dyn stint_core::ColdStore>,
//! # ) {
//! use std::{sync::Arc, time::Duration};
//! use stint_core::Policy;
//! use stint_memory::Failover;
//!
//! // `redis` would be a `stint_redis::RedisStore`; any hot store can be the primary.
//! let tier = Arc::new(
//!     Failover::new(redis, Policy::default())
//!         .strict(durable)
//!         .probe_every(Duration::from_secs(1)),
//! );
//! let prober = tokio::spawn({
//!     let tier = tier.clone();
//!     async move { tier.keep_probing().await }
//! });
//! # prober.abort();
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use stint_core::store::{Lookup, Modify, Realtime, Touch, Update};
use stint_core::{
    ColdStore, Error, HotStore, Policy, Result, SessionId, SessionRecord, Timestamp, TokenHash,
};

use crate::MemoryStore;

/// What identifies a version of a session: whether it changed since a copy.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    version: u64,
    page_views: u64,
    last_seen_at: Timestamp,
    token: TokenHash,
}

impl Fingerprint {
    fn of(s: &SessionRecord, token: &TokenHash) -> Self {
        Self {
            version: s.version,
            page_views: s.page_views,
            last_seen_at: s.last_seen_at,
            token: *token,
        }
    }
}

/// A primary hot store first, the local tier while it is down.
pub struct Failover<P> {
    shared: Arc<P>,
    local: Arc<MemoryStore>,
    /// Production: serve locally only while this store answers.
    strict: Option<Arc<dyn ColdStore>>,
    policy: Policy,
    probe_every: Duration,
    degraded: AtomicBool,
    /// Whether the durable store answered the last probe (for `strict`).
    cold_ok: AtomicBool,
    /// Held (shared) by every call on the local tier, and (exclusive) by the
    /// hand-over to the primary.
    gate: tokio::sync::RwLock<()>,
    /// Sessions removed while degraded, to remove from the primary when it is back.
    removed: parking_lot::Mutex<HashSet<SessionId>>,
}

impl<P> std::fmt::Debug for Failover<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover")
            .field("degraded", &self.degraded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Runs a call on the primary; if it is unavailable, or already known to be,
/// on the local tier, inside the gate. The second form gives the local call
/// apart.
macro_rules! tiered {
    ($self:ident, $store:ident => $call:expr) => {
        tiered!($self, $store => $call, local => {
            let $store = &*$self.local;
            $call
        })
    };
    ($self:ident, $store:ident => $call:expr, local => $local:expr) => {
        loop {
            if !$self.is_degraded() {
                let $store = &*$self.shared;
                match $call.await {
                    Err(Error::Unavailable { message, .. }) => $self.degrade(&message),
                    other => break other,
                }
            }
            let _gate = $self.gate.read().await;
            if !$self.is_degraded() {
                // The primary came back while this call waited at the gate.
                continue;
            }
            $self.usable_local()?;
            break $local.await;
        }
    };
}

impl<P: HotStore> Failover<P> {
    /// `shared` in front of a new local tier; sessions handed back to it
    /// follow `policy`. Not strict; probes once a second.
    pub fn new(shared: Arc<P>, policy: Policy) -> Self {
        Self {
            shared,
            local: Arc::new(MemoryStore::new()),
            strict: None,
            policy,
            probe_every: Duration::from_secs(1),
            degraded: AtomicBool::new(false),
            cold_ok: AtomicBool::new(true),
            gate: tokio::sync::RwLock::new(()),
            removed: parking_lot::Mutex::new(HashSet::new()),
        }
    }

    /// Serve locally only while `durable` answers (production): sessions
    /// are never kept in memory alone. Each probe asks it.
    #[must_use]
    pub fn strict(mut self, durable: Arc<dyn ColdStore>) -> Self {
        self.strict = Some(durable);
        self
    }

    /// How often [`Failover::keep_probing`] probes the primary while degraded.
    #[must_use]
    pub fn probe_every(mut self, every: Duration) -> Self {
        self.probe_every = every;
        self
    }

    /// Uses `local` as the local tier, to bound it
    /// ([`MemoryStore::with_capacity`]). Make it
    /// [`recording_evictions`](MemoryStore::recording_evictions), so that a
    /// session evicted during an outage is also dropped from the primary
    /// when it returns (its copy there is older).
    #[must_use]
    pub fn local_tier(mut self, local: Arc<MemoryStore>) -> Self {
        self.local = local;
        self
    }

    /// Whether calls are served by the local tier (the primary is down).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The primary store.
    pub fn primary(&self) -> &Arc<P> {
        &self.shared
    }

    /// The local tier (its sweeper is the caller's to run).
    pub fn local(&self) -> &Arc<MemoryStore> {
        &self.local
    }

    fn degrade(&self, why: &str) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "the shared hot store is unavailable: serving from the local tier and the durable store"
            );
            metrics::counter!("stint_hot_fallbacks_total").increment(1);
            metrics::gauge!("stint_hot_degraded").set(1.0);
        }
    }

    fn usable_local(&self) -> Result<()> {
        if self.strict.is_some() && !self.cold_ok.load(Ordering::Relaxed) {
            return Err(Error::hot(
                "the shared hot store and the durable store are both unavailable; sessions are never kept in memory alone",
            ));
        }
        Ok(())
    }

    /// Probes the primary every `probe_every` while degraded and returns to
    /// it when it answers. Runs until its task is aborted.
    pub async fn keep_probing(&self) {
        let mut tick = tokio::time::interval(self.probe_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.is_degraded() {
                self.probe().await;
            }
        }
    }

    /// One probe; true if the tier is back on the primary.
    pub async fn probe(&self) -> bool {
        if let Some(durable) = &self.strict {
            self.cold_ok
                .store(durable.ping().await.is_ok(), Ordering::Relaxed);
        }
        if self.shared.ping().await.is_err() {
            return false;
        }
        // First with the gate open: a copy of every local session goes to
        // the primary while requests carry on locally. Then with the gate closed:
        // the removals, and the sessions that changed since their copy.
        let Some(copied) = self.copy_to_shared().await else {
            return false;
        };
        let _closed = self.gate.write().await;
        // A session the bounded local tier evicted may have an older copy
        // in the primary: it goes, and its next request reads it through
        // from the durable store.
        self.removed.lock().extend(self.local.take_evicted());
        let removed: Vec<SessionId> = self.removed.lock().iter().copied().collect();
        for id in &removed {
            if self.shared.remove(id).await.is_err() {
                return false;
            }
            self.removed.lock().remove(id);
        }
        let changed: Vec<(SessionRecord, TokenHash)> = self
            .local
            .drain()
            .into_iter()
            .filter(|(s, t)| copied.get(&s.id) != Some(&Fingerprint::of(s, t)))
            .collect();
        let n = copied.len() + changed.len();
        if !self.insert_shared(changed).await {
            return false;
        }
        self.degraded.store(false, Ordering::Relaxed);
        metrics::gauge!("stint_hot_degraded").set(0.0);
        tracing::info!(
            sessions = n,
            "the shared hot store is back: sessions handed over, serving from it again"
        );
        true
    }

    /// Copies every local session to the primary; what each looked like, or
    /// `None` if the primary failed.
    async fn copy_to_shared(&self) -> Option<HashMap<SessionId, Fingerprint>> {
        let sessions = self.local.sessions();
        let copied = sessions
            .iter()
            .map(|(s, t)| (s.id, Fingerprint::of(s, t)))
            .collect();
        self.insert_shared(sessions).await.then_some(copied)
    }

    /// Inserts sessions into the primary, 64 at a time. If it fails, the ones
    /// not inserted are put back in the local tier (unless a request read
    /// one back meanwhile: that copy is newer) and the result is false.
    async fn insert_shared(&self, sessions: Vec<(SessionRecord, TokenHash)>) -> bool {
        futures_util::stream::iter(sessions)
            .map(|(session, token)| async move {
                if self.shared.insert(&session, &token, &self.policy).await.is_ok() {
                    return true;
                }
                if matches!(self.local.get(&session.id).await, Ok(None)) {
                    let _ = self.local.insert(&session, &token, &self.policy).await;
                }
                false
            })
            .buffer_unordered(64)
            .fold(true, |all, ok| async move { all && ok })
            .await
    }

    /// A removal while degraded: the session may also be in the primary, where
    /// its token would work again once the primary is back.
    async fn remove_locally(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.removed.lock().insert(*id);
        self.local.remove(id).await
    }
}

#[async_trait]
impl<P: HotStore> HotStore for Failover<P> {
    async fn insert(&self, session: &SessionRecord, token: &TokenHash, policy: &Policy) -> Result<()> {
        tiered!(self, s => s.insert(session, token, policy))
    }

    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup> {
        tiered!(self, s => s.resume(token, touch))
    }

    async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        tiered!(self, s => s.get(id))
    }

    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>> {
        tiered!(self, s => s.update(id, update))
    }

    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>> {
        tiered!(self, s => s.modify(id, key, f))
    }

    async fn remove(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        tiered!(self, s => s.remove(id), local => self.remove_locally(id))
    }

    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>> {
        tiered!(self, s => s.customer_sessions(customer_id))
    }

    async fn realtime(&self, since: Timestamp) -> Result<Realtime> {
        tiered!(self, s => s.realtime(since))
    }

    async fn count(&self) -> Result<u64> {
        tiered!(self, s => s.count())
    }

    async fn ping(&self) -> Result<()> {
        if self.is_degraded() {
            return Err(Error::hot(
                "the shared hot store is unavailable; serving from the local tier",
            ));
        }
        self.shared.ping().await
    }
}
