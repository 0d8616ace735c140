//! The service on the connections managed services hand out, end to end
//! against the built binary: Redis over TLS (one server with an ACL user, and
//! a cluster), PostgreSQL that accepts TLS connections only, and PgBouncer in
//! transaction pooling mode, all started by `scripts/test` with certificates
//! of a CA it makes (`STINT_TEST_TLS_CA`). A certificate from another
//! authority is refused in each case: Redis is then an outage (the service
//! degrades and `/readyz` names it), the database a start-up error.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, cookie_value, create_database_via, json, set_cookie};
use serde_json::json;

fn env(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run scripts/test, which starts the TLS servers"))
}

fn prefix() -> String {
    format!("tls{}:", uuid::Uuid::new_v4().simple())
}

/// The seeds' four flows on `s`: visit, resume, login (same session, new
/// token), order (converted); then the journey as the durable store has it.
/// The session id, and the browser's cookies at the end.
async fn four_flows(s: &Server) -> (String, String) {
    let b = s.browser();
    let r = b
        .get(s.url("/api/storefront/products?utm_source=tls"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let visitor = cookie_value(r.headers(), "visitor_id").unwrap();
    let (_, first) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    let sid = first["data"]["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(first["data"]["pageViews"], 2);
    let r = b
        .post(s.url("/api/storefront/auth/login"))
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let session = cookie_value(r.headers(), "session").expect("login rotates the token");
    let (status, login) = json(r).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["session"]["sessionId"], sid.as_str());
    assert_eq!(login["data"]["session"]["type"], "CUSTOMER");
    let (status, order) = json(
        b.post(s.url("/api/storefront/orders"))
            .json(&json!({"items": [{"productId": "p-1", "quantity": 1}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let (_, after) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(after["data"]["sessionId"], sid.as_str());
    assert_eq!(after["data"]["converted"], true);
    let kinds = s.event_kinds(&sid, 6).await;
    assert_eq!(
        kinds,
        [
            "session_start",
            "page_view",
            "page_view",
            "customer_login",
            "order_completed",
            "page_view"
        ]
    );
    let (status, ready) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (200, Some("ready")),
        "{ready}"
    );
    (sid, format!("session={session}; visitor_id={visitor}"))
}

/// The admin's view: the hot store is Redis, and it answers.
async fn assert_redis_answers(s: &Server) {
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    let hot = &stats["data"]["hot"];
    assert_eq!(
        (hot["kind"].as_str(), hot["status"].as_str()),
        (Some("redis"), Some("ok")),
        "{stats}"
    );
}

#[tokio::test]
async fn the_flows_on_redis_and_postgresql_over_tls() {
    let database = create_database_via("STINT_TEST_POSTGRES_TLS_URL", "STINT_TEST_POSTGRES_TLS_URL");
    assert!(database.contains("sslmode=verify-full"), "{database}");
    let (redis, ca, prefix) = (
        env("STINT_TEST_REDIS_TLS_URL"),
        env("STINT_TEST_TLS_CA"),
        prefix(),
    );
    let settings = [
        ("REDIS_URL", redis.as_str()),
        ("STINT_REDIS_CA", ca.as_str()),
        ("STINT_REDIS_PREFIX", prefix.as_str()),
        ("DATABASE_URL", database.as_str()),
    ];
    let mut s = Server::start_in_process(&settings);
    let (sid, cookies) = four_flows(&s).await;
    assert_redis_answers(&s).await;
    // The session lives in Redis: another instance on the same stores
    // resumes it from the cookie.
    s.stop();
    let other = Server::start_in_process(&settings);
    let (_, again) = json(
        other
            .plain()
            .get(other.url("/api/storefront/session"))
            .header("cookie", cookies)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["data"]["sessionId"], sid.as_str(), "{again}");
    assert_eq!(again["data"]["type"], "CUSTOMER");
}

#[tokio::test]
async fn the_flows_on_a_redis_cluster_over_tls() {
    let (cluster, ca, prefix) = (
        env("STINT_TEST_REDIS_TLS_CLUSTER"),
        env("STINT_TEST_TLS_CA"),
        prefix(),
    );
    let s = Server::start_in_process(&[
        ("REDIS_URL", cluster.as_str()),
        ("STINT_REDIS_CA", ca.as_str()),
        ("STINT_REDIS_PREFIX", prefix.as_str()),
    ]);
    four_flows(&s).await;
    assert_redis_answers(&s).await;
}

/// Through PgBouncer in transaction mode (three server connections handed
/// out in turn), parallel requests on one session lose no page view, and
/// every one reaches the database.
#[tokio::test]
async fn the_flows_through_pgbouncer_in_transaction_mode() {
    let database = create_database_via("STINT_TEST_POSTGRES_URL", "STINT_TEST_PGBOUNCER_URL");
    assert!(database.contains("pgbouncer=true"), "{database}");
    let s = Server::start_in_process(&[("DATABASE_URL", database.as_str())]);
    four_flows(&s).await;

    let b = s.browser();
    let (_, first) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    let sid = first["data"]["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(first["data"]["pageViews"], 1);
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let (b, url) = (
                b.clone(),
                s.url(&format!("/api/storefront/products/p-{}", i % 3 + 1)),
            );
            tokio::spawn(async move { b.get(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    let (_, after) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(after["data"]["pageViews"], 42, "{after}");
    // session_start, then 42 page views, all in the database.
    let events = s.events(&sid, 43).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "page_view").count(), 42);
    let (status, session) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!((status, session["data"]["pageViews"].as_u64()), (200, Some(42)));
}

/// A Redis whose certificate does not chain to `STINT_REDIS_CA` is never
/// talked to: the service serves from its local tier, and `/readyz` says
/// Redis is what fails.
#[tokio::test]
async fn a_redis_certificate_from_another_authority_is_an_outage() {
    for var in ["STINT_TEST_REDIS_TLS_URL", "STINT_TEST_REDIS_TLS_CLUSTER"] {
        let (redis, wrong, prefix) = (env(var), env("STINT_TEST_TLS_WRONG_CA"), prefix());
        let s = Server::start_in_process(&[
            ("REDIS_URL", redis.as_str()),
            ("STINT_REDIS_CA", wrong.as_str()),
            ("STINT_REDIS_PREFIX", prefix.as_str()),
        ]);
        let b = s.browser();
        let r = b.get(s.url("/api/storefront/products")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{var}: pages are served in the outage");
        assert!(set_cookie(r.headers(), "session").is_some());
        let (_, session) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
        assert_eq!(session["data"]["pageViews"], 2, "{var}: {session}");
        let (status, ready) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
        assert_eq!(status, 503, "{var}: {ready}");
        assert!(
            ready["failing"].as_array().unwrap().iter().any(|f| f == "redis"),
            "{var}: {ready}"
        );
    }
}

/// What the binary prints when it does not start with `settings`.
fn start_fails(settings: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stint"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("STINT_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in settings {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let out = wait
        .recv_timeout(Duration::from_secs(30))
        .expect("stint gave up within 30 s")
        .unwrap();
    assert!(!out.status.success(), "{settings:?} should not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A database whose certificate does not chain to `sslrootcert` is refused,
/// directly and through PgBouncer: the service does not start, and says why.
#[test]
fn a_database_certificate_from_another_authority_stops_start_up() {
    let (ca, wrong) = (env("STINT_TEST_TLS_CA"), env("STINT_TEST_TLS_WRONG_CA"));
    for var in ["STINT_TEST_POSTGRES_TLS_URL", "STINT_TEST_PGBOUNCER_URL"] {
        let url = env(var).replace(&ca, &wrong);
        let err = start_fails(&[("DATABASE_URL", &url)]);
        assert!(err.contains("DATABASE_URL"), "{var}: {err}");
        assert!(err.contains("invalid peer certificate"), "{var}: {err}");
    }
}

/// TLS settings that would not do what they say stop start-up, naming the
/// variable.
#[test]
fn tls_settings_that_cannot_apply_stop_start_up() {
    let ca = env("STINT_TEST_TLS_CA");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("REDIS_URL", "redis://127.0.0.1:6379"), ("STINT_REDIS_CA", &ca)],
            "STINT_REDIS_CA is set, but REDIS_URL is not a rediss:// URL",
        ),
        (
            &[
                ("REDIS_URL", "rediss://127.0.0.1:6379"),
                ("STINT_REDIS_CA", "/nonexistent/ca.pem"),
            ],
            "STINT_REDIS_CA: cannot read /nonexistent/ca.pem",
        ),
        (
            &[("DATABASE_URL", "postgres://127.0.0.1:1/x?sslmode=verify_full")],
            "sslmode=verify_full",
        ),
        (
            &[(
                "DATABASE_URL",
                "postgres://127.0.0.1:1/x?sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
            )],
            "sslrootcert /nonexistent/root.crt",
        ),
    ];
    for (settings, says) in cases {
        let err = start_fails(settings);
        assert!(err.contains(says), "{settings:?}: {err}");
    }
}
