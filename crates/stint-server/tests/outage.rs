//! The durable store goes away under load and comes back: every request is
//! answered meanwhile, and every event of every answered request reaches the
//! store exactly once. (Alone in its file: it stops the shared test server.)

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Server, json, pg_ctl};
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_answered_while_postgres_is_down_and_no_event_is_lost() {
    let s = Arc::new(Server::start_postgres(&[]));
    let visitors: Vec<_> = s
        .new_sessions(16)
        .await
        .into_iter()
        .map(|(cookie, sid)| (cookie, sid, Arc::new(AtomicU64::new(0))))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let load = visitors.iter().map(|(cookie, _, ok)| {
        let (s, stop, failures, ok, cookie) = (
            s.clone(),
            stop.clone(),
            failures.clone(),
            ok.clone(),
            cookie.clone(),
        );
        tokio::spawn(async move {
            let c = s.plain();
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .get(s.url("/api/storefront/products/p-2"))
                    .header("cookie", &cookie)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    });
    let load: Vec<_> = load.collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    pg_ctl("stop");
    let during = visitors.iter().map(|v| v.2.load(Ordering::Relaxed)).sum::<u64>();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, ready) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["failing"][0], "postgres");
    let answered_while_down = visitors.iter().map(|v| v.2.load(Ordering::Relaxed)).sum::<u64>() - during;
    pg_ctl("start");
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    for t in join_all(load).await {
        t.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "every request was answered");
    assert!(
        answered_while_down > 50,
        "requests were served during the outage: {answered_while_down}"
    );

    // Once the writer has caught up, each session has every page view, once.
    for (_, sid, ok) in &visitors {
        let want = 1 + ok.load(Ordering::Relaxed) as usize; // the first GET /session, then the load
        let got = s.page_view_events(sid, want).await;
        assert_eq!(got, want, "session {sid}");
        let (_, session) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
        assert_eq!(session["data"]["pageViews"], want as u64);
    }
    let (status, _) = json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 200);
}
