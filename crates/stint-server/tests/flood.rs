//! A flood of cookieless requests from one address is served, but stores
//! no more sessions than the creation limit allows.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::Server;
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_cookieless_requests_leave_the_hot_store_bounded() {
    let s = Arc::new(Server::start(&[("SESSION_CREATE_LIMIT", "600")]));
    const TOTAL: u64 = 100_000;
    const WORKERS: u64 = 64;
    let ok = Arc::new(AtomicU64::new(0));
    let tasks = (0..WORKERS).map(|_| {
        let (s, ok) = (s.clone(), ok.clone());
        tokio::spawn(async move {
            let c = s.plain();
            for _ in 0..TOTAL / WORKERS {
                let r = c.get(s.url("/api/storefront/products")).send().await.unwrap();
                if r.status() == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    for t in join_all(tasks).await {
        t.unwrap();
    }
    let served = ok.load(Ordering::Relaxed);
    assert_eq!(served, TOTAL / WORKERS * WORKERS, "every request was served");
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    let held = stats["data"]["hot"]["sessions"].as_u64().unwrap();
    // The burst of 600, plus 10 a second for as long as the flood lasted.
    assert!((600..=2_000).contains(&held), "hot store holds {held} sessions");
    let limited = s
        .metric("stint_sessions_rate_limited_total")
        .await
        .map_or(0, |v| v as u64);
    assert_eq!(
        limited + held,
        served,
        "each request either stored a session or was counted as limited"
    );
}
