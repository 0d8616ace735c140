//! The in-process tier's bound (`STINT_HOT_CAPACITY`): past it the sessions
//! not seen for the longest leave memory, memory stays at the bound, and an
//! evicted session comes back from the durable store at its next request
//! with its page views and data.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, json};

#[tokio::test]
async fn past_the_bound_sessions_leave_memory_and_come_back_whole() {
    let s = Server::start_in_process(&[("STINT_HOT_CAPACITY", "20")]);
    let first = s.browser();
    let r = first
        .post(s.url("/api/storefront/cart/items"))
        .json(&serde_json::json!({"productId": "p-2", "quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, before) = json(first.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    let sid = before["data"]["sessionId"].as_str().unwrap().to_owned();
    let views = before["data"]["pageViews"].as_u64().unwrap();

    // Sixty other visitors, each a session of its own.
    for _ in 0..60 {
        let r = s
            .plain()
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(s.metric("stint_memory_capacity").await, Some(20.0));
    let held = s.metric("stint_memory_sessions").await.unwrap();
    assert!(held <= 20.0, "memory holds {held} sessions");
    let evicted = s.metric("stint_memory_evictions_total").await.unwrap();
    assert!(evicted >= 40.0, "{evicted} evictions");

    // The first visitor was evicted long ago; their session comes back.
    let (_, after) = json(first.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(after["data"]["sessionId"], sid.as_str());
    assert_eq!(after["data"]["pageViews"].as_u64().unwrap(), views + 1);
    let (_, cart) = json(first.get(s.url("/api/storefront/cart")).send().await.unwrap()).await;
    assert_eq!(cart["data"]["items"][0]["productId"], "p-2", "{cart}");
    assert_eq!(cart["data"]["items"][0]["quantity"], 3, "{cart}");
}
