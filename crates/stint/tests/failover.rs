//! The failover tier with Redis down: sessions are served locally, the
//! engine reads what the local tier lacks through from the durable store, and
//! production never keeps sessions in memory alone.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use stint_core::{
    Attributes, Error, HistoryStore, HotStore, Policy, SessionId, SessionRecord, Timestamp, Token, TokenHash,
    VisitorId,
};
use stint_memory::Failover;
use stint_redis::{RedisOptions, RedisStore};
use stint_sql::SqlStore;

type Tiered = Failover<RedisStore>;

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
    let tier = Failover::new(dead_redis(), Policy::default()).probe_every(Duration::from_secs(60));
    if strict { tier.strict(cold) } else { tier }
}

async fn cold(dir: &std::path::Path, up: bool) -> Arc<SqlStore> {
    let store = SqlStore::open(&dir.join("t.db")).await.unwrap();
    if !up {
        store.close().await;
    }
    Arc::new(store)
}

fn session() -> (SessionRecord, TokenHash) {
    let t = Token::generate().hash();
    let mut s = SessionRecord::new(
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

/// A session resumed on Redis just before it failed is changed through the
/// local tier, not taken for ended: the engine reads it through from the
/// durable store by id, and the change reaches Redis when it is back.
#[tokio::test]
async fn a_change_during_an_outage_reads_the_session_through_from_the_durable_store() {
    use stint_conformance::failover::Switch;
    use stint_core::{Engine, ManualClock};
    let dir = tempfile::tempdir().unwrap();
    let store = cold(dir.path(), true).await;
    let (writer, task) = stint_sql::Writer::spawn(store.clone(), stint_sql::WriterConfig::default());
    let redis = Arc::new(Switch::new(Arc::new(stint_memory::MemoryStore::new())));
    let tier = Arc::new(Failover::new(redis.clone(), Policy::default()));
    let (s, t) = session();
    let engine = Engine::new(
        tier.clone(),
        store.clone(),
        Arc::new(writer),
        Arc::new(ManualClock::new(s.started_at.plus_secs(60))),
        Policy::default(),
    );
    // Known to Redis and, through the writer, to the durable store.
    tier.insert(&s, &t, &Policy::default()).await.unwrap();
    store
        .write(&[stint_core::store::Record::Snapshot {
            session: s.clone(),
            token: Some(t),
        }])
        .await
        .unwrap();

    redis.set_up(false);
    let after = engine
        .save(
            &s.id,
            vec![stint_core::store::DataOp::Set(
                "cart".into(),
                serde_json::json!(["p-1"]),
            )],
        )
        .await
        .unwrap()
        .expect("read through, not missing");
    assert!(tier.is_degraded());
    assert_eq!(after.data.get("cart"), Some(&serde_json::json!(["p-1"])));

    redis.set_up(true);
    assert!(tier.probe().await);
    let there = redis.inner().get(&s.id).await.unwrap().expect("handed to Redis");
    assert_eq!(there.data.get("cart"), Some(&serde_json::json!(["p-1"])));

    // A session that has ended is not brought back by a change.
    engine.logout(&s.id).await.unwrap();
    assert_eq!(engine.save(&s.id, Vec::new()).await.unwrap(), None);
    task.shutdown().await;
}

/// While Redis is down the local tier keeps its bound: sessions past it
/// leave memory, and come back from the durable store with their counts.
/// A session evicted during the outage is dropped from Redis too when it
/// returns (Redis's copy is older), so its next request reads it through.
#[tokio::test]
async fn the_local_tier_keeps_its_bound_and_evicted_sessions_come_back() {
    use stint_conformance::failover::Switch;
    use stint_core::{Engine, Hit, ManualClock, VisitorId};
    let dir = tempfile::tempdir().unwrap();
    let store = cold(dir.path(), true).await;
    let (writer, task) = stint_sql::Writer::spawn(store.clone(), stint_sql::WriterConfig::default());
    let redis = Arc::new(Switch::new(Arc::new(stint_memory::MemoryStore::new())));
    let local = Arc::new(stint_memory::MemoryStore::with_capacity(2).recording_evictions());
    let tier = Arc::new(Failover::new(redis.clone(), Policy::default()).local_tier(local.clone()));
    let clock = Arc::new(ManualClock::new(Timestamp(1_795_000_000_000)));
    let engine = Engine::new(
        tier.clone(),
        store.clone(),
        Arc::new(writer),
        clock.clone(),
        Policy::default(),
    );
    // A session made while Redis is up: in Redis and, once written, in the durable store.
    let (first, token) = engine
        .create(VisitorId::new(), Attributes::default(), Hit::page("/"))
        .await
        .unwrap();
    assert!(redis.inner().get(&first.id).await.unwrap().is_some());

    redis.set_up(false);
    let resumed = engine.resume(&token, Hit::page("/a")).await.unwrap().unwrap();
    assert_eq!((resumed.session.id, resumed.session.page_views), (first.id, 2));
    assert!(tier.is_degraded());
    // New visitors until the first session has left the bounded local tier.
    crowd_out(&engine, &local, &first.id).await;
    assert!(local.evictions() > 0);
    // Its next request reads it back from the durable store, counts intact.
    let back = engine.resume(&token, Hit::page("/b")).await.unwrap().unwrap();
    assert_eq!((back.session.id, back.session.page_views), (first.id, 3));

    // Evicted again, then Redis returns: its stale copy there (2 page views
    // fewer) must not come back.
    crowd_out(&engine, &local, &first.id).await;
    redis.set_up(true);
    assert!(tier.probe().await);
    assert_eq!(
        redis.inner().get(&first.id).await.unwrap(),
        None,
        "the stale copy is gone"
    );
    let after = engine.resume(&token, Hit::page("/c")).await.unwrap().unwrap();
    assert_eq!((after.session.id, after.session.page_views), (first.id, 4));
    task.shutdown().await;
}

/// New visitors until session `id` has left the bounded local tier, which
/// never holds more than its bound meanwhile.
async fn crowd_out(engine: &stint_core::Engine, local: &stint_memory::MemoryStore, id: &SessionId) {
    use stint_core::{Hit, VisitorId};
    for _ in 0..10 {
        if local.get(id).await.unwrap().is_none() {
            break;
        }
        engine
            .create(VisitorId::new(), Attributes::default(), Hit::page("/"))
            .await
            .unwrap();
        assert!(local.len() <= 2, "the bound holds: {}", local.len());
    }
    assert!(local.get(id).await.unwrap().is_none(), "evicted");
}
