//! The hot store of a service configured with Redis: Redis while it answers,
//! and the local tier (in-process, read through from the durable store by
//! the engine) while it does not.
//!
//! - The first call that finds Redis unavailable turns the service
//!   *degraded*: that call, and every call after it, is served locally, so no
//!   request fails. `/readyz` answers 503 naming `redis`, and the gauge
//!   `stint_hot_degraded` is 1.
//! - While degraded, one background task probes Redis once per
//!   `probe_every` (no reconnect storm; requests never wait on a probe). When
//!   it answers again, the task copies the local sessions to Redis (they are
//!   newer) while requests carry on; then it closes a gate that lets the calls
//!   on the local tier finish and holds new ones, removes from Redis the
//!   sessions removed locally, writes again the sessions that changed since
//!   their copy, and opens the gate on Redis. No local change is lost in the
//!   hand-over, and requests wait only for the second, short pass.
//! - In production the local tier works only while the durable store
//!   answers: Stint never keeps sessions in memory alone there. With both
//!   stores down, calls fail and the session layer serves requests without a
//!   session.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use stint_core::store::{Lookup, Modify, Realtime, Touch, Update};
use stint_core::{
    Clock, ColdStore, Error, HotStore, Policy, Result, Session, SessionId, Timestamp, TokenHash,
};
use stint_memory::MemoryStore;
use stint_redis::RedisStore;
use stint_sql::{SqlStore, Writer};

/// What identifies a version of a session: whether it changed since a copy.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    version: u64,
    page_views: u64,
    last_seen_at: Timestamp,
    token: TokenHash,
}

impl Fingerprint {
    fn of(s: &Session, token: &TokenHash) -> Self {
        Self {
            version: s.version,
            page_views: s.page_views,
            last_seen_at: s.last_seen_at,
            token: *token,
        }
    }
}

/// Redis first, the local tier while Redis is down.
pub struct Tiered {
    shared: Arc<RedisStore>,
    local: Arc<MemoryStore>,
    cold: Arc<SqlStore>,
    /// Flushed before a session is read from `cold` (it may hold its latest change).
    writer: Writer,
    clock: Arc<dyn Clock>,
    policy: Policy,
    /// Production: no serving from memory alone.
    strict: bool,
    probe_every: Duration,
    degraded: AtomicBool,
    /// Whether the durable store answered the last probe (for `strict`).
    cold_ok: AtomicBool,
    /// Held (shared) by every call on the local tier, and (exclusive) by the
    /// hand-over to Redis.
    gate: tokio::sync::RwLock<()>,
    /// Sessions removed while degraded, to remove from Redis when it is back.
    removed: parking_lot::Mutex<HashSet<SessionId>>,
}

impl std::fmt::Debug for Tiered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiered")
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

/// Runs a call on Redis; if Redis is unavailable, or already known to be,
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
                // Redis came back while this call waited at the gate.
                continue;
            }
            $self.usable_local()?;
            break $local.await;
        }
    };
}

impl Tiered {
    /// Redis (`shared`) in front of the local tier; `strict` in production.
    pub fn new(
        shared: Arc<RedisStore>,
        cold: Arc<SqlStore>,
        writer: Writer,
        clock: Arc<dyn Clock>,
        policy: Policy,
        strict: bool,
        probe_every: Duration,
    ) -> Self {
        Self {
            shared,
            local: Arc::new(MemoryStore::new()),
            cold,
            writer,
            clock,
            policy,
            strict,
            probe_every,
            degraded: AtomicBool::new(false),
            cold_ok: AtomicBool::new(true),
            gate: tokio::sync::RwLock::new(()),
            removed: parking_lot::Mutex::new(HashSet::new()),
        }
    }

    /// Whether the service is running on its local tier (Redis is down).
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The Redis store behind.
    pub fn shared(&self) -> &Arc<RedisStore> {
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
                "Redis is unavailable: serving from the local tier and the durable store"
            );
            metrics::counter!("stint_hot_fallbacks_total").increment(1);
            metrics::gauge!("stint_hot_degraded").set(1.0);
        }
    }

    fn usable_local(&self) -> Result<()> {
        if self.strict && !self.cold_ok.load(Ordering::Relaxed) {
            return Err(Error::hot(
                "Redis and the durable store are both unavailable; production never keeps sessions in memory alone",
            ));
        }
        Ok(())
    }

    /// Probes Redis every `probe_every` while degraded and returns to it
    /// when it answers. Runs until aborted.
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

    /// One probe; true if the service is back on Redis.
    pub async fn probe(&self) -> bool {
        if self.strict {
            self.cold_ok
                .store(self.cold.ping().await.is_ok(), Ordering::Relaxed);
        }
        if self.shared.ping().await.is_err() {
            return false;
        }
        // First with the gate open: a copy of every local session goes to
        // Redis while requests carry on locally. Then with the gate closed:
        // the removals, and the sessions that changed since their copy.
        let Some(copied) = self.copy_to_shared().await else {
            return false;
        };
        let _closed = self.gate.write().await;
        let removed: Vec<SessionId> = self.removed.lock().iter().copied().collect();
        for id in &removed {
            if self.shared.remove(id).await.is_err() {
                return false;
            }
            self.removed.lock().remove(id);
        }
        let changed: Vec<(Session, TokenHash)> = self
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
            "Redis is back: sessions handed over, serving from it again"
        );
        true
    }

    /// Copies every local session to Redis; what each looked like, or
    /// `None` if Redis failed.
    async fn copy_to_shared(&self) -> Option<HashMap<SessionId, Fingerprint>> {
        let sessions = self.local.sessions();
        let copied = sessions
            .iter()
            .map(|(s, t)| (s.id, Fingerprint::of(s, t)))
            .collect();
        self.insert_shared(sessions).await.then_some(copied)
    }

    /// Inserts sessions into Redis, 64 at a time. If Redis fails, the ones
    /// not inserted are put back in the local tier (unless a request read
    /// one back meanwhile: that copy is newer) and the result is false.
    async fn insert_shared(&self, sessions: Vec<(Session, TokenHash)>) -> bool {
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

    /// Brings session `id` into the local tier if it is not there: a request
    /// that resumed it on Redis just before Redis failed changes it here,
    /// and must not find it missing (that would read as ended, and the
    /// change would be lost).
    async fn take_over(&self, id: &SessionId) -> Result<()> {
        if self.local.get(id).await?.is_some() {
            return Ok(());
        }
        self.writer.flush().await?;
        if let Some((session, token)) = self.cold.open_session_with_token(id).await?
            && session.is_live(&self.policy, self.clock.now())
            && self.local.get(id).await?.is_none()
        {
            self.local.insert(&session, &token, &self.policy).await?;
        }
        Ok(())
    }

    /// A removal while degraded: the session may also be in Redis, where
    /// its token would work again once Redis is back.
    async fn remove_locally(&self, id: &SessionId) -> Result<Option<Session>> {
        self.removed.lock().insert(*id);
        self.local.remove(id).await
    }
}

#[async_trait]
impl HotStore for Tiered {
    async fn insert(&self, session: &Session, token: &TokenHash, policy: &Policy) -> Result<()> {
        tiered!(self, s => s.insert(session, token, policy))
    }

    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup> {
        tiered!(self, s => s.resume(token, touch))
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>> {
        tiered!(self, s => s.get(id))
    }

    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<Session>> {
        tiered!(self, s => s.update(id, update), local => async {
            self.take_over(id).await?;
            self.local.update(id, update).await
        })
    }

    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<Session>> {
        tiered!(self, s => s.modify(id, key, f), local => async {
            self.take_over(id).await?;
            self.local.modify(id, key, f).await
        })
    }

    async fn remove(&self, id: &SessionId) -> Result<Option<Session>> {
        tiered!(self, s => s.remove(id), local => self.remove_locally(id))
    }

    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<Session>> {
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
            return Err(Error::hot("Redis is unavailable; serving from the local tier"));
        }
        self.shared.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_core::{Attributes, Token, VisitorId};
    use stint_redis::RedisOptions;
    use stint_sql::SqlStore;

    /// A Redis store on a port nobody listens on.
    fn dead_redis() -> Arc<RedisStore> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut options = RedisOptions::new(Policy::default());
        options.timeout = Duration::from_millis(100);
        Arc::new(RedisStore::open(&format!("redis://127.0.0.1:{port}"), options).unwrap())
    }

    fn tier(cold: Arc<SqlStore>, strict: bool) -> Tiered {
        let (writer, _task) = stint_sql::Writer::spawn(cold.clone(), stint_sql::WriterConfig::default());
        Tiered::new(
            dead_redis(),
            cold,
            writer,
            Arc::new(stint_core::SystemClock),
            Policy::default(),
            strict,
            Duration::from_secs(60),
        )
    }

    async fn cold(dir: &std::path::Path, up: bool) -> Arc<SqlStore> {
        let store = SqlStore::open(&dir.join("t.db")).await.unwrap();
        if !up {
            store.close().await;
        }
        Arc::new(store)
    }

    fn session() -> (Session, TokenHash) {
        let t = Token::generate().hash();
        let mut s = Session::new(
            VisitorId::new(),
            Attributes::default(),
            Timestamp(1_795_000_000_000),
        );
        s.id = SessionId::for_token(&t);
        (s, t)
    }

    #[tokio::test]
    async fn redis_down_falls_back_to_the_local_tier() {
        let dir = tempfile::tempdir().unwrap();
        let tier = tier(cold(dir.path(), true).await, true);
        let (s, t) = session();
        tier.insert(&s, &t, &Policy::default()).await.unwrap();
        assert!(tier.is_degraded());
        assert_eq!(tier.get(&s.id).await.unwrap().map(|x| x.id), Some(s.id));
        assert!(tier.ping().await.is_err(), "readiness reports the outage");
    }

    #[tokio::test]
    async fn production_never_keeps_sessions_in_memory_alone() {
        let dir = tempfile::tempdir().unwrap();
        for (strict, works) in [(true, false), (false, true)] {
            let tier = tier(cold(dir.path(), false).await, strict);
            let (s, t) = session();
            // The first failure turns the service degraded; a probe finds the durable store down too.
            let _ = tier.insert(&s, &t, &Policy::default()).await;
            assert!(!tier.probe().await);
            let (s, t) = session();
            let r = tier.insert(&s, &t, &Policy::default()).await;
            assert_eq!(r.is_ok(), works, "strict: {strict}: {r:?}");
            if !works {
                assert!(matches!(r, Err(Error::Unavailable { .. })));
            }
        }
    }

    /// A session resumed on Redis just before it failed is changed locally,
    /// not taken for ended.
    #[tokio::test]
    async fn a_change_while_degraded_takes_the_session_over_from_the_durable_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = cold(dir.path(), true).await;
        let mut s = Session::new(
            VisitorId::new(),
            Attributes::default(),
            stint_core::SystemClock.now(),
        );
        let t = Token::generate().hash();
        s.id = SessionId::for_token(&t);
        store
            .write(&[stint_core::store::Record::Snapshot {
                session: s.clone(),
                token: Some(t),
            }])
            .await
            .unwrap();
        let tier = tier(store, true);
        let set = Update {
            data: vec![stint_core::store::DataOp::Set(
                "cart".into(),
                serde_json::json!([1]),
            )],
            ..Update::default()
        };
        let after = tier
            .update(&s.id, &set)
            .await
            .unwrap()
            .expect("taken over, not missing");
        assert!(tier.is_degraded());
        assert_eq!(after.data.get("cart"), Some(&serde_json::json!([1])));
        // The visitor's token finds it locally too.
        let touch = Touch {
            now: stint_core::SystemClock.now(),
            page_view: true,
            policy: Policy::default(),
        };
        assert!(matches!(
            tier.resume(&t, &touch).await.unwrap(),
            Lookup::Current(_)
        ));
    }
}
