//! Parallel requests on one session lose no page view and no write.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, cookie_value, json};
use futures_util::future::join_all;
use serde_json::json;

async fn one_session(s: &Server) -> (String, String) {
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .send()
        .await
        .unwrap();
    let cookie = format!(
        "session={}; visitor_id={}",
        cookie_value(r.headers(), "session").unwrap(),
        cookie_value(r.headers(), "visitor_id").unwrap()
    );
    let (_, body) = json(r).await;
    (cookie, body["data"]["sessionId"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_parallel_page_views_are_all_counted() {
    let s = Server::start(&[]);
    let (cookie, sid) = one_session(&s).await;
    let c = s.plain();
    let requests = (0..100).map(|i| {
        let path = if i % 2 == 0 {
            "/api/storefront/products"
        } else {
            "/api/storefront/products/p-1"
        };
        c.get(s.url(path)).header("cookie", &cookie).send()
    });
    for r in join_all(requests).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let (_, body) = json(
        c.get(s.url("/api/storefront/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["data"]["sessionId"], sid.as_str());
    assert_eq!(body["data"]["pageViews"], 102);
    // Every one of them reached the durable store as an event.
    let events = s.events(&sid, 103).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "page_view").count(), 102);
    let (_, admin) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!(admin["data"]["pageViews"], 102);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_cart_additions_all_land() {
    let s = Server::start(&[]);
    let (cookie, sid) = one_session(&s).await;
    let c = s.plain();
    let requests = (0..50).map(|i| {
        let product = if i % 2 == 0 { "p-1" } else { "p-2" };
        c.post(s.url("/api/storefront/cart/items"))
            .header("cookie", &cookie)
            .json(&json!({"productId": product, "quantity": 1}))
            .send()
    });
    for r in join_all(requests).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let (_, cart) = json(
        c.get(s.url("/api/storefront/cart"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let items = cart["data"]["items"].as_array().unwrap();
    let qty = |p: &str| {
        items
            .iter()
            .find(|i| i["productId"] == p)
            .map(|i| i["quantity"].as_u64().unwrap())
    };
    assert_eq!((qty("p-1"), qty("p-2")), (Some(25), Some(25)));
    let events = s.events(&sid, 52).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "add_to_cart").count(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_first_visits_each_get_their_own_session() {
    let s = Server::start(&[]);
    let c = s.plain();
    let replies = join_all((0..60).map(|_| c.get(s.url("/api/storefront/session")).send())).await;
    let mut ids = Vec::new();
    for r in replies {
        let (status, body) = json(r.unwrap()).await;
        assert_eq!(status, 200);
        ids.push(body["data"]["sessionId"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60);
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(stats["data"]["hot"]["sessions"], 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_racing_a_login_stay_on_the_journey_without_the_customers_rights() {
    let s = Server::start(&[]);
    let (old_cookie, sid) = one_session(&s).await;
    let c = s.plain();
    let login = c
        .post(s.url("/api/storefront/auth/login"))
        .header("cookie", &old_cookie)
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send();
    let racing = (0..30).map(|_| {
        c.get(s.url("/api/storefront/session"))
            .header("cookie", &old_cookie)
            .send()
    });
    let (login, racing) = tokio::join!(login, join_all(racing));
    let login = login.unwrap();
    let new_cookie = cookie_value(login.headers(), "session").unwrap();
    assert_eq!(login.status(), 200);
    for r in racing {
        let r = r.unwrap();
        assert_eq!(r.status(), 200);
        let sent = cookie_value(r.headers(), "session");
        assert!(
            sent.as_deref() != Some(new_cookie.as_str()),
            "an old-token request got the new token"
        );
        let (_, body) = json(r).await;
        assert_eq!(
            body["data"]["sessionId"],
            sid.as_str(),
            "the journey is not split"
        );
        assert_eq!(
            body["data"]["customerId"],
            serde_json::Value::Null,
            "no customer rights on the old token"
        );
    }
    let r = c
        .get(s.url("/api/storefront/me"))
        .header("cookie", format!("session={new_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
