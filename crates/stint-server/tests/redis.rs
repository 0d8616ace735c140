//! Stint on Redis: several instances share sessions, a request costs one
//! round trip, and a Redis outage degrades the service without failing a
//! request or losing an event.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{RedisServer, Server, json, redis_prefix};
use futures_util::future::join_all;

fn shared_redis() -> String {
    std::env::var("STINT_TEST_REDIS_URL")
        .expect("STINT_TEST_REDIS_URL is not set: run scripts/test, which starts Redis")
}

async fn metric(s: &Server, name: &str) -> f64 {
    s.metric(name)
        .await
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// A session started on one instance resumes on the other; a login on one
/// is seen on the other; a revocation on one ends it on the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let url = shared_redis();
    let prefix = redis_prefix(dir.path());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("STINT_REDIS_PREFIX", prefix.as_str()),
    ];
    let a = Server::start_in(dir.path(), &env);
    let b = Server::start_in(dir.path(), &env);
    // Cookies are per host, not per port: one browser visits both instances.
    let browser = a.browser();
    let (_, first) = json(
        browser
            .get(a.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let sid = first["data"]["sessionId"].as_str().unwrap().to_owned();
    let (_, again) = json(
        browser
            .get(b.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["data"]["sessionId"], sid.as_str(), "{again}");
    assert_eq!(again["data"]["pageViews"], 2);

    let (status, login) = json(
        browser
            .post(b.url("/api/storefront/auth/login"))
            .json(&serde_json::json!({"email": "customer@example.com", "password": "password123"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let (_, on_a) = json(
        browser
            .get(a.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(on_a["data"]["sessionId"], sid.as_str());
    assert_eq!(on_a["data"]["type"], "CUSTOMER", "{on_a}");

    let (status, revoked) = a.admin_delete(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!(status, 200, "{revoked}");
    let (_, after) = json(
        browser
            .get(b.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(
        after["data"]["sessionId"],
        sid.as_str(),
        "the revoked session is gone on b too"
    );
    assert_eq!(after["data"]["type"], "ANONYMOUS");

    // Real time is the same whichever instance is asked: its counts at once
    // (the shared hot store), its top pages once each instance's writer has
    // committed its page views to the shared durable store.
    let counts = |r: &serde_json::Value| {
        ["activeVisitors", "activeSessions", "activeCustomers"].map(|k| r["data"][k].clone())
    };
    let (_, ra) = a.admin_get("/api/admin/analytics/realtime").await;
    let (_, rb) = b.admin_get("/api/admin/analytics/realtime").await;
    assert_eq!(counts(&ra), counts(&rb));
    assert!(ra["data"]["activeSessions"].as_u64().unwrap() >= 1, "{ra}");
    let mut same = false;
    for _ in 0..100 {
        let (_, ra) = a.admin_get("/api/admin/analytics/realtime").await;
        let (_, rb) = b.admin_get("/api/admin/analytics/realtime").await;
        if ra["data"]["topPages"] == rb["data"]["topPages"] {
            same = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(same, "both instances give the same top pages");
}

/// A returning visitor's page view is one command to Redis, no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_view_is_one_round_trip_to_redis() {
    let dir = tempfile::tempdir().unwrap();
    let url = shared_redis();
    let prefix = redis_prefix(dir.path());
    let s = Server::start_in(
        dir.path(),
        &[("REDIS_URL", &url), ("STINT_REDIS_PREFIX", &prefix)],
    );
    let browser = s.browser();
    // The first visit creates the session; the second resumes it. Each
    // loads its script into Redis on first use (EVALSHA, NOSCRIPT, EVAL).
    for _ in 0..2 {
        browser
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
    }
    // What a scrape itself costs (it counts the live sessions), measured.
    let a = metric(&s, "stint_redis_commands_total").await;
    let b = metric(&s, "stint_redis_commands_total").await;
    let scrape = b - a;
    for _ in 0..50 {
        let r = browser
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let c = metric(&s, "stint_redis_commands_total").await;
    assert_eq!(c - b - scrape, 50.0, "one command per request");
}

/// Redis is killed under load and started again (empty): every request is
/// answered, sessions carry on, readiness says `redis` meanwhile, every page
/// view of every answered request is in the durable store once, and every
/// cart write made before, during and after the outage is in the cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_answered_while_redis_is_down_and_no_event_is_lost() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let s = Arc::new(Server::start(&[("REDIS_URL", &url)]));
    let visitors: Vec<_> = s
        .new_sessions(16)
        .await
        .into_iter()
        .map(|(cookie, sid)| {
            (
                cookie,
                sid,
                Arc::new(AtomicU64::new(0)),
                Arc::new(AtomicU64::new(0)),
            )
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let moved = Arc::new(AtomicU64::new(0));
    let load: Vec<_> = visitors
        .iter()
        .map(|(cookie, sid, ok, added)| {
            let (s, stop, failures, moved, ok, added, cookie, sid) = (
                s.clone(),
                stop.clone(),
                failures.clone(),
                moved.clone(),
                ok.clone(),
                added.clone(),
                cookie.clone(),
                sid.clone(),
            );
            tokio::spawn(async move {
                let c = s.plain();
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    k += 1;
                    if k.is_multiple_of(8) {
                        // A data write: one more of one of six products.
                        let item =
                            serde_json::json!({ "productId": format!("p-{}", k / 8 % 6 + 1), "quantity": 1 });
                        let r = c
                            .post(s.url("/api/storefront/cart/items"))
                            .header("cookie", &cookie)
                            .json(&item)
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => added.fetch_add(1, Ordering::Relaxed),
                            _ => failures.fetch_add(1, Ordering::Relaxed),
                        };
                        continue;
                    }
                    let r = c
                        .get(s.url("/api/storefront/session"))
                        .header("cookie", &cookie)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let (_, body) = json(r).await;
                            if body["data"]["sessionId"] != sid.as_str() {
                                moved.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(600)).await;
    redis.kill();
    let during = visitors.iter().map(|v| v.2.load(Ordering::Relaxed)).sum::<u64>();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, ready) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["failing"][0], "redis");
    assert_eq!(metric(&s, "stint_hot_degraded").await, 1.0);
    let answered_while_down = visitors.iter().map(|v| v.2.load(Ordering::Relaxed)).sum::<u64>() - during;
    redis.restart();
    // The service probes Redis once a second and goes back to it.
    let mut back = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = s.plain().get(s.url("/readyz")).send().await.unwrap();
        if r.status() == 200 {
            back = true;
            break;
        }
    }
    assert!(back, "the service returned to Redis");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for t in join_all(load).await {
        t.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "every request was answered");
    assert_eq!(
        moved.load(Ordering::Relaxed),
        0,
        "every visitor kept their session"
    );
    assert!(
        answered_while_down > 50,
        "requests were served during the outage: {answered_while_down}"
    );
    assert_eq!(metric(&s, "stint_hot_degraded").await, 0.0);

    for (cookie, sid, ok, added) in &visitors {
        let want = 1 + ok.load(Ordering::Relaxed) as usize;
        let got = s.page_view_events(sid, want).await;
        assert_eq!(got, want, "session {sid}");
        // Redis has the session again, with every page view counted.
        let (_, now) = json(
            s.plain()
                .get(s.url("/api/storefront/session"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(now["data"]["sessionId"], sid.as_str());
        assert_eq!(now["data"]["pageViews"], want as u64 + 1);
        // Every answered cart write is in the cart: none was lost to the
        // outage or to the hand-over back to Redis.
        let (_, cart) = json(
            s.plain()
                .get(s.url("/api/storefront/cart"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let quantity: u64 = cart["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["quantity"].as_u64().unwrap())
            .sum();
        let added = added.load(Ordering::Relaxed);
        assert!(added > 20, "cart writes were made: {added}");
        assert_eq!(quantity, added, "session {sid}: {cart}");
    }
}

/// In production, a Redis that is down at start-up does not stop the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_starts_and_serves_while_redis_is_down() {
    let redis = RedisServer::start();
    let url = redis.url();
    drop(redis);
    let s = Server::start(&[("REDIS_URL", &url), ("STINT_ENV", "production")]);
    let browser = s.browser();
    let (status, first) = json(
        browser
            .get(s.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, again) = json(
        browser
            .get(s.url("/api/storefront/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        again["data"]["sessionId"], first["data"]["sessionId"],
        "the local tier and the durable store keep the session"
    );
    let (status, ready) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, ready["failing"][0].as_str()), (503, Some("redis")));
}
