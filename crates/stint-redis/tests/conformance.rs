//! The hot-store conformance suite on a real Redis server and on a real
//! three-master Redis Cluster, both started by `scripts/test`
//! (`STINT_TEST_REDIS_URL`, `STINT_TEST_REDIS_CLUSTER`). Each case gets its own
//! key prefix, so cases share the servers without seeing each other.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_core::store::{Lookup, Touch};
use stint_core::{
    Attributes, Error, HotStore, Policy, SessionId, SessionRecord, Timestamp, Token, VisitorId,
};
use stint_redis::{RedisOptions, RedisStore};

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run scripts/test, which starts Redis"))
}

fn options() -> RedisOptions {
    let mut o = RedisOptions::new(Policy::default());
    o.prefix = format!("t{}:", uuid::Uuid::new_v4().simple());
    o
}

fn open(var: &str) -> Arc<RedisStore> {
    Arc::new(RedisStore::open(&url(var), options()).unwrap())
}

async fn single() -> Arc<dyn HotStore> {
    open("STINT_TEST_REDIS_URL")
}

async fn cluster() -> Arc<dyn HotStore> {
    let store = open("STINT_TEST_REDIS_CLUSTER");
    assert!(store.is_cluster());
    store
}

mod single_server {
    stint_conformance::hot_store_suite!(super::single());
}

mod cluster {
    stint_conformance::hot_store_suite!(super::cluster());
}

/// The CA of the test command's certificates (`STINT_TEST_TLS_CA`), or another one.
fn root(var: &str) -> Vec<u8> {
    std::fs::read(url(var)).unwrap()
}

fn open_tls(var: &str, ca: &str) -> Arc<RedisStore> {
    let mut o = options();
    o.root_certificates = Some(root(ca));
    Arc::new(RedisStore::open(&url(var), o).unwrap())
}

/// Redis over TLS, as an ACL user (the server's default user is off).
async fn single_over_tls() -> Arc<dyn HotStore> {
    open_tls("STINT_TEST_REDIS_TLS_URL", "STINT_TEST_TLS_CA")
}

/// A Redis Cluster whose nodes speak TLS only.
async fn cluster_over_tls() -> Arc<dyn HotStore> {
    let store = open_tls("STINT_TEST_REDIS_TLS_CLUSTER", "STINT_TEST_TLS_CA");
    assert!(store.is_cluster());
    store
}

mod single_server_over_tls {
    stint_conformance::hot_store_suite!(super::single_over_tls());
}

mod cluster_over_tls {
    stint_conformance::hot_store_suite!(super::cluster_over_tls());
}

/// A server whose certificate does not chain to the roots given, or to the
/// system's, is not talked to: every call fails as when Redis is down.
#[tokio::test]
async fn a_certificate_from_another_authority_is_refused() {
    for var in ["STINT_TEST_REDIS_TLS_URL", "STINT_TEST_REDIS_TLS_CLUSTER"] {
        let store = open_tls(var, "STINT_TEST_TLS_WRONG_CA");
        let err = store.ping().await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{var}: {err:?}");
        // Without roots of its own the store trusts the system's, which do
        // not know the test command's authority either.
        let store = RedisStore::open(&url(var), options()).unwrap();
        let err = store.ping().await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{var}: {err:?}");
    }
    // The right roots, for contrast.
    open_tls("STINT_TEST_REDIS_TLS_URL", "STINT_TEST_TLS_CA")
        .ping()
        .await
        .unwrap();
}

/// The ACL user's password is checked: a wrong one is an outage too.
#[tokio::test]
async fn a_wrong_password_is_refused() {
    let mut o = options();
    o.root_certificates = Some(root("STINT_TEST_TLS_CA"));
    let wrong = url("STINT_TEST_REDIS_TLS_URL").replace(":stint-secret@", ":not-the-secret@");
    let store = RedisStore::open(&wrong, o).unwrap();
    assert!(matches!(
        store.ping().await.unwrap_err(),
        Error::Unavailable { .. }
    ));
}

/// Settings that would quietly not do what they say are refused up front.
#[test]
fn tls_settings_that_cannot_apply_are_refused() {
    let mut o = options();
    o.root_certificates = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
    let e = RedisStore::open("redis://127.0.0.1:6379", o.clone()).unwrap_err();
    assert!(e.to_string().contains("not rediss://"), "{e}");
    let e = RedisStore::open("rediss://127.0.0.1:6379,redis://127.0.0.1:6380", options()).unwrap_err();
    assert!(e.to_string().contains("all rediss://"), "{e}");
    let e = RedisStore::open("rediss://127.0.0.1:6379", o).unwrap_err();
    assert!(matches!(e, Error::InvalidData(_)), "{e}");
}

fn new_session() -> (SessionRecord, stint_core::TokenHash) {
    let t = Token::generate().hash();
    let mut s = SessionRecord::new(
        VisitorId::new(),
        Attributes::default(),
        Timestamp(1_795_000_000_000),
    );
    s.id = SessionId::for_token(&t);
    (s, t)
}

/// The hot path is one command to Redis, on a server and on a cluster alike.
#[tokio::test]
async fn a_resume_is_one_round_trip() {
    for var in ["STINT_TEST_REDIS_URL", "STINT_TEST_REDIS_CLUSTER"] {
        let store = open(var);
        let (s, t) = new_session();
        store.insert(&s, &t, &Policy::default()).await.unwrap();
        // The first call may load the script (EVALSHA, NOSCRIPT, EVAL).
        let touch = Touch {
            now: s.started_at.plus_secs(1),
            page_view: true,
            policy: Policy::default(),
        };
        store.resume(&t, &touch).await.unwrap();
        let before = store.round_trips();
        for _ in 0..10 {
            assert!(matches!(
                store.resume(&t, &touch).await.unwrap(),
                Lookup::Current(_)
            ));
        }
        assert_eq!(store.round_trips() - before, 10, "{var}");
    }
}

/// Redis holds the token's hash, never the token.
#[tokio::test]
async fn no_key_or_value_holds_a_token() {
    let o = options();
    let prefix = o.prefix.clone();
    let store = RedisStore::open(&url("STINT_TEST_REDIS_URL"), o).unwrap();
    let token = Token::generate();
    let mut s = SessionRecord::new(
        VisitorId::new(),
        Attributes::default(),
        Timestamp(1_795_000_000_000),
    );
    s.id = SessionId::for_token(&token.hash());
    store.insert(&s, &token.hash(), &Policy::default()).await.unwrap();
    let client = redis::Client::open(url("STINT_TEST_REDIS_URL")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3, "session, token and activity keys");
    let raw = token.encode();
    for key in keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query_async(&mut conn).await.unwrap();
        for hay in [&key, &dump] {
            assert!(
                !hay.windows(32).any(|w| w == token_bytes(&token)),
                "raw token stored"
            );
            assert!(
                !hay.windows(raw.len()).any(|w| w == raw.as_bytes()),
                "token text stored"
            );
        }
    }
}

fn token_bytes(t: &Token) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t.encode())
        .unwrap()
}

/// After `SCRIPT FLUSH` (a restart, a failover) the scripts are sent again.
#[tokio::test]
async fn scripts_are_reloaded_after_noscript() {
    let store = open("STINT_TEST_REDIS_URL");
    let (s, t) = new_session();
    store.insert(&s, &t, &Policy::default()).await.unwrap();
    let client = redis::Client::open(url("STINT_TEST_REDIS_URL")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let touch = Touch {
        now: s.started_at,
        page_view: true,
        policy: Policy::default(),
    };
    for n in 1..=3 {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        match store.resume(&t, &touch).await.unwrap() {
            Lookup::Current(x) => assert_eq!(x.page_views, n),
            other => panic!("{other:?}"),
        }
    }
}

/// An unreachable Redis is an `Unavailable` error within the timeout, never a hang.
#[tokio::test]
async fn an_unreachable_redis_fails_fast() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for urls in [
        format!("redis://127.0.0.1:{port}"),
        format!("redis://127.0.0.1:{port},redis://127.0.0.1:{}", port + 1),
    ] {
        let store = RedisStore::open(&urls, options()).unwrap();
        let started = std::time::Instant::now();
        let err = store.ping().await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { store: "hot", .. }), "{err:?}");
        let (s, t) = new_session();
        let err = store.insert(&s, &t, &Policy::default()).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{urls}");
    }
}

/// A malformed URL or prefix is refused when the store is made.
#[test]
fn bad_configuration_is_refused() {
    assert!(RedisStore::open("http://x", RedisOptions::new(Policy::default())).is_err());
    assert!(RedisStore::open("", RedisOptions::new(Policy::default())).is_err());
    let mut o = RedisOptions::new(Policy::default());
    o.prefix = "a{b}".into();
    assert!(RedisStore::open("redis://127.0.0.1", o).is_err());
}

/// The session's activity mark (its score in the shard's real-time set) and
/// the time to live of its record, in real milliseconds.
async fn mark_and_ttl(prefix: &str, s: &SessionRecord) -> (i64, i64) {
    let client = redis::Client::open(url("STINT_TEST_REDIS_URL")).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let base = format!("{prefix}{{{:02x}}}", s.id.shard());
    let marks: Vec<(Vec<u8>, i64)> = redis::cmd("ZRANGE")
        .arg(format!("{base}r"))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(marks.len(), 1, "one session, one mark");
    let mut key = format!("{base}s").into_bytes();
    key.extend_from_slice(s.id.as_uuid().as_bytes());
    let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap();
    (marks[0].1, ttl)
}

fn at(s: &SessionRecord, secs: u64) -> Touch {
    Touch {
        now: s.started_at.plus_secs(secs),
        page_view: true,
        policy: Policy::default(),
    }
}

/// Within a refresh window a request counts its page view but leaves the
/// keys' time to live and the activity mark alone: the keys live a window
/// longer than the session, and the real-time figures look a window back.
#[tokio::test]
async fn keys_and_marks_are_refreshed_once_per_window() {
    let o = options();
    assert_eq!(o.refresh_window, std::time::Duration::from_secs(10));
    let prefix = o.prefix.clone();
    let store = RedisStore::open(&url("STINT_TEST_REDIS_URL"), o).unwrap();
    // Starts on a window's first millisecond.
    let (s, t) = new_session();
    assert_eq!(s.started_at.0 % 10_000, 0);
    store.insert(&s, &t, &Policy::default()).await.unwrap();
    let idle = 1_800_000;
    let (mark, ttl) = mark_and_ttl(&prefix, &s).await;
    assert_eq!(mark, s.started_at.0);
    assert!(ttl > idle && ttl <= idle + 10_000, "{ttl}");

    match store.resume(&t, &at(&s, 9)).await.unwrap() {
        Lookup::Current(x) => assert_eq!(x.page_views, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mark_and_ttl(&prefix, &s).await.0,
        s.started_at.0,
        "same window: not moved"
    );
    let seen = |r: stint_core::store::Realtime| r.active_sessions;
    assert_eq!(seen(store.realtime(s.started_at.plus_secs(9)).await.unwrap()), 1);
    assert_eq!(seen(store.realtime(s.started_at.plus_secs(11)).await.unwrap()), 0);

    match store.resume(&t, &at(&s, 12)).await.unwrap() {
        Lookup::Current(x) => assert_eq!(x.page_views, 2),
        other => panic!("{other:?}"),
    }
    let (mark, ttl) = mark_and_ttl(&prefix, &s).await;
    assert_eq!(mark, s.started_at.plus_secs(12).0, "next window: moved");
    assert!(ttl > idle && ttl <= idle + 10_000, "{ttl}");
    assert_eq!(seen(store.realtime(s.started_at.plus_secs(11)).await.unwrap()), 1);

    // The script still judges expiry by the last request, not by the keys.
    assert_eq!(
        store.resume(&t, &at(&s, 12 + 1_800)).await.unwrap(),
        Lookup::Missing
    );
}

/// A zero window refreshes on every request.
#[tokio::test]
async fn a_zero_window_refreshes_on_every_request() {
    let mut o = options();
    o.refresh_window = std::time::Duration::ZERO;
    let prefix = o.prefix.clone();
    let store = RedisStore::open(&url("STINT_TEST_REDIS_URL"), o).unwrap();
    let (s, t) = new_session();
    store.insert(&s, &t, &Policy::default()).await.unwrap();
    assert!(mark_and_ttl(&prefix, &s).await.1 <= 1_800_000);
    for secs in [1, 2] {
        store.resume(&t, &at(&s, secs)).await.unwrap();
        assert_eq!(mark_and_ttl(&prefix, &s).await.0, s.started_at.plus_secs(secs).0);
    }
}
