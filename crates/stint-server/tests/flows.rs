//! The visitor journey, end to end against the built binary: the seeds' four
//! flows (visit, resume, login, order) and what surrounds them.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, cookie_value, json, set_cookie};
use serde_json::{Value, json};

#[tokio::test]
async fn first_visit_sets_both_cookies_with_the_contract_attributes() {
    let s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = set_cookie(r.headers(), "session")
        .expect("session cookie")
        .to_owned();
    let visitor = set_cookie(r.headers(), "visitor_id")
        .expect("visitor cookie")
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    assert!(!session.contains("Secure"), "no Secure in development");
    assert!(!visitor.contains("HttpOnly"), "pages may read the visitor id");
    for attr in ["SameSite=Lax", "Path=/", "Max-Age=31536000"] {
        assert!(visitor.contains(attr), "{visitor} lacks {attr}");
    }
    let (_, body) = json(r).await;
    assert_eq!(body["success"], true);
    let products = body["data"].as_array().unwrap();
    assert!(products.len() >= 3);
    assert!(
        products
            .iter()
            .all(|p| p["id"].is_string() && p["name"].is_string() && p["price"].is_number())
    );
}

#[tokio::test]
async fn the_four_flows_visit_resume_login_order() {
    let s = Server::start(&[]);
    let b = s.browser();
    // 1. Visit.
    let r = b
        .get(s.url("/api/storefront/products?utm_source=news&utm_campaign=bf"))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(r.headers(), "session").is_some());
    // 2. Resume: same session, the page views count this request too.
    let (_, first) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    let first = &first["data"];
    assert_eq!(first["pageViews"], 2);
    assert_eq!(first["type"], "ANONYMOUS");
    assert_eq!(first["customerId"], Value::Null);
    assert_eq!(
        first["landingPage"],
        "/api/storefront/products?utm_source=news&utm_campaign=bf"
    );
    assert_eq!(first["utmSource"], "news");
    assert_eq!(first["utmCampaign"], "bf");
    assert_eq!(first["device"], "desktop");
    assert_eq!(first["browser"], "Chrome");
    assert_eq!(first["os"], "Windows");
    assert_eq!(first["ipAddress"], "127.0.0.0");
    let sid = first["sessionId"].as_str().unwrap().to_owned();
    let r = b.get(s.url("/api/storefront/products/p-2")).send().await.unwrap();
    assert!(
        set_cookie(r.headers(), "session").is_none(),
        "the cookie is not re-sent on every response"
    );
    let (_, again) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(again["data"]["sessionId"], sid.as_str());
    assert_eq!(again["data"]["pageViews"], 4);

    // 3. Login: same session id, a fresh token, CUSTOMER.
    let before = b.get(s.url("/api/storefront/session")).send().await.unwrap();
    drop(before);
    let r = b
        .post(s.url("/api/storefront/auth/login"))
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert!(
        set_cookie(r.headers(), "session").is_some(),
        "login rotates the token"
    );
    let (status, login) = json(r).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["session"]["sessionId"], sid.as_str());
    assert_eq!(login["data"]["session"]["type"], "CUSTOMER");
    let customer = login["data"]["customer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(login["data"]["session"]["customerId"], customer.as_str());
    assert_eq!(login["data"]["customer"]["email"], "customer@example.com");
    let (status, me) = json(b.get(s.url("/api/storefront/me")).send().await.unwrap()).await;
    assert_eq!(
        (status, me["data"]["id"].as_str()),
        (200, Some(customer.as_str()))
    );

    // 4. Order: converted, with the order id.
    let r = b
        .post(s.url("/api/storefront/orders"))
        .json(
            &json!({"items": [{"productId": "p-1", "quantity": 2}, {"productId": "p-2", "quantity": 1}],
                      "shippingAddress": {"city": "Berlin"}}),
        )
        .send()
        .await
        .unwrap();
    let (status, order) = json(r).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["data"]["sessionId"], sid.as_str());
    assert_eq!(order["data"]["total"], 2.0 * 129.99 + 14.99);
    let order_id = order["data"]["id"].as_str().unwrap().to_owned();
    let (_, after) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(after["data"]["converted"], true);
    assert_eq!(after["data"]["orderId"], order_id.as_str());
    assert_eq!(after["data"]["sessionId"], sid.as_str());

    // The journey, as the admin API tells it.
    let events = s.events(&sid, 10).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "session_start",
            "page_view",
            "page_view",
            "page_view",
            "page_view",
            "page_view",
            "customer_login",
            "page_view",
            "order_completed",
            "page_view"
        ]
    );
    assert_eq!(events[3]["page"], "/api/storefront/products/p-2");
    assert_eq!(events[7]["page"], "/api/storefront/me");
    assert_eq!(events[8]["metadata"]["orderId"], order_id.as_str());
    let (status, admin) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!(status, 200);
    assert_eq!(admin["data"]["converted"], true);
    assert_eq!(admin["data"]["pageViews"], 7);
}

#[tokio::test]
async fn the_pre_login_token_never_carries_the_customers_rights() {
    let s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/products"))
        .send()
        .await
        .unwrap();
    let old = cookie_value(r.headers(), "session").unwrap();
    let visitor = cookie_value(r.headers(), "visitor_id").unwrap();
    let cookie = format!("session={old}; visitor_id={visitor}");
    let r = s
        .plain()
        .post(s.url("/api/storefront/auth/login"))
        .header("cookie", &cookie)
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    let new = cookie_value(r.headers(), "session").unwrap();
    assert_ne!(new, old);
    let (_, login) = json(r).await;
    let sid = login["data"]["session"]["sessionId"].as_str().unwrap().to_owned();

    // In the grace window the old token finds the same journey, anonymously,
    // and is never answered with the new token.
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(set_cookie(r.headers(), "session").is_none());
    let (_, seen) = json(r).await;
    assert_eq!(seen["data"]["sessionId"], sid.as_str());
    assert_eq!(seen["data"]["type"], "ANONYMOUS");
    assert_eq!(seen["data"]["customerId"], Value::Null);
    let r = s
        .plain()
        .get(s.url("/api/storefront/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(
        (status, body),
        (401, json!({"success": false, "error": "Authentication required"}))
    );

    // The new token is the customer's.
    let r = s
        .plain()
        .get(s.url("/api/storefront/me"))
        .header("cookie", format!("session={new}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn register_login_and_logout() {
    let s = Server::start(&[]);
    let b = s.browser();
    let reg = |body: Value| b.post(s.url("/api/storefront/auth/register")).json(&body).send();
    let (status, created) = json(
        reg(json!({"email": "Ada@Example.com", "password": "correct horse", "name": "Ada"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["email"], "ada@example.com");
    assert!(created["data"].get("passwordHash").is_none() && !created.to_string().contains("argon2"));
    let (status, _) = json(
        reg(json!({"email": "ada@example.com", "password": "another one", "name": "Ada"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    for bad in [
        json!({"email": "not-an-email", "password": "long enough", "name": "X"}),
        json!({"email": "x@example.com", "password": "short", "name": "X"}),
        json!({"email": "x@example.com", "password": "long enough", "name": ""}),
        json!({"email": "x@example.com", "password": 12345678, "name": "X"}),
        json!({"password": "long enough", "name": "X"}),
    ] {
        let (status, body) = json(reg(bad.clone()).await.unwrap()).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert_eq!(body["success"], false);
        assert!(body["error"].as_str().unwrap().len() > 5);
    }

    let login = |password: &str| {
        b.post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": password}))
            .send()
    };
    let (status, body) = json(login("wrong password").await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("Invalid email or password"))
    );
    let (status, unknown) = json(
        b.post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": "nobody@example.com", "password": "whatever1"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &unknown["error"]),
        (401, &body["error"]),
        "the same answer for an unknown email"
    );
    let r = login("correct horse").await.unwrap();
    let customer_token = cookie_value(r.headers(), "session").unwrap();
    let (status, ok) = json(r).await;
    assert_eq!(status, 200);
    let sid = ok["data"]["session"]["sessionId"].as_str().unwrap().to_owned();

    let r = b.post(s.url("/api/storefront/auth/logout")).send().await.unwrap();
    let cleared = set_cookie(r.headers(), "session").unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(r.status(), 200);
    let (_, next) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_ne!(next["data"]["sessionId"], sid.as_str());
    assert_eq!(next["data"]["type"], "ANONYMOUS");
    let (_, ended) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
    assert!(
        ended["data"]["endedAt"].is_string(),
        "history kept, with its end: {ended}"
    );
    // The signed-out token, replayed, is worthless.
    let replay = s
        .plain()
        .get(s.url("/api/storefront/me"))
        .header("cookie", format!("session={customer_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let (_, fresh) = json(
        s.plain()
            .get(s.url("/api/storefront/session"))
            .header("cookie", format!("session={customer_token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(fresh["data"]["sessionId"], sid.as_str());
    let events = s.events(&sid, 3).await;
    assert_eq!(events.last().unwrap()["type"], "customer_logout");
}

#[tokio::test]
async fn a_cart_survives_in_the_session_and_checkout_is_recorded() {
    let s = Server::start(&[]);
    let b = s.browser();
    let add = |p: &str, q: i64| {
        b.post(s.url("/api/storefront/cart/items"))
            .json(&json!({"productId": p, "quantity": q}))
            .send()
    };
    let (status, cart) = json(add("p-3", 1).await.unwrap()).await;
    assert_eq!(status, 200, "{cart}");
    let (_, cart) = json(add("p-3", 2).await.unwrap()).await;
    assert_eq!(cart["data"]["items"][0]["quantity"], 3);
    assert_eq!(cart["data"]["total"], 3.0 * 189.5);
    let (status, co) = json(b.post(s.url("/api/storefront/checkout")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(co["data"]["cart"]["items"][0]["productId"], "p-3");
    let sid = co["data"]["sessionId"].as_str().unwrap().to_owned();
    let events = s.events(&sid, 4).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["session_start", "add_to_cart", "add_to_cart", "checkout_started"]
    );
    assert_eq!(events[1]["productId"], "p-3");
    assert_eq!(events[2]["metadata"]["quantity"], 2);
}

#[tokio::test]
async fn guests_order_too_and_the_visitor_history_shows_it() {
    let s = Server::start(&[]);
    let b = s.browser();
    let r = b
        .post(s.url("/api/storefront/orders"))
        .json(&json!({"items": [{"productId": "p-5", "quantity": 1}], "shippingAddress": null}))
        .send()
        .await
        .unwrap();
    let visitor = cookie_value(r.headers(), "visitor_id").unwrap();
    let (status, order) = json(r).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["data"]["customerId"], Value::Null);
    let (status, history) = s.admin_get(&format!("/api/admin/visitors/{visitor}")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["data"]["orders"][0]["id"], order["data"]["id"]);
    assert_eq!(history["data"]["sessions"][0]["converted"], true);
}

#[tokio::test]
async fn customers_see_and_revoke_their_other_sessions() {
    let s = Server::start(&[]);
    let login = |b: &reqwest::Client| {
        b.post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": "customer@example.com", "password": "password123"}))
            .send()
    };
    let (phone, laptop) = (s.browser(), s.browser());
    let (_, on_phone) = json(login(&phone).await.unwrap()).await;
    let (_, on_laptop) = json(login(&laptop).await.unwrap()).await;
    let customer = on_phone["data"]["customer"]["id"].as_str().unwrap().to_owned();
    let (status, mine) = json(
        laptop
            .get(s.url("/api/storefront/me/sessions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let mine = mine["data"].as_array().unwrap();
    assert_eq!(mine.len(), 2);
    let current: Vec<_> = mine.iter().filter(|m| m["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], on_laptop["data"]["session"]["sessionId"]);
    assert_eq!(current[0]["browser"], "Chrome");
    assert_eq!(current[0]["ip"], "127.0.0.0");

    let (status, admin) = s
        .admin_get(&format!("/api/admin/customers/{customer}/sessions"))
        .await;
    assert_eq!(
        (status, admin["data"]["sessions"].as_array().unwrap().len()),
        (200, 2)
    );

    let (status, revoked) = json(
        laptop
            .delete(s.url("/api/storefront/me/sessions/others"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &revoked["data"]["revoked"]), (200, &json!(1)));
    // Effective on the phone's very next request.
    let r = phone.get(s.url("/api/storefront/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        laptop
            .get(s.url("/api/storefront/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The admin revokes the rest.
    let (status, body) = s
        .admin_delete(&format!("/api/admin/customers/{customer}/sessions"))
        .await;
    assert_eq!((status, &body["data"]["revoked"]), (200, &json!(1)));
    assert_eq!(
        laptop
            .get(s.url("/api/storefront/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_password_change_signs_out_every_other_session() {
    let s = Server::start(&[]);
    let (a, b) = (s.browser(), s.browser());
    let reg = json!({"email": "pw@example.com", "password": "first password", "name": "P"});
    assert_eq!(
        a.post(s.url("/api/storefront/auth/register"))
            .json(&reg)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    for c in [&a, &b] {
        let r = c
            .post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": "pw@example.com", "password": "first password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let change = |current: &str, new: &str| {
        a.post(s.url("/api/storefront/me/password"))
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    assert_eq!(
        change("wrong one!", "second password").await.unwrap().status(),
        401
    );
    assert_eq!(change("first password", "short").await.unwrap().status(), 400);
    let (status, body) = json(change("first password", "second password").await.unwrap()).await;
    assert_eq!((status, &body["data"]["revoked"]), (200, &json!(1)));
    assert_eq!(
        b.get(s.url("/api/storefront/me")).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        a.get(s.url("/api/storefront/me")).send().await.unwrap().status(),
        200
    );
    let relogin = a
        .post(s.url("/api/storefront/auth/login"))
        .json(&json!({"email": "pw@example.com", "password": "second password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(relogin.status(), 200);
}

#[tokio::test]
async fn the_admin_lists_revokes_and_pages_sessions() {
    let s = Server::start(&[]);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let b = s.browser();
        let (_, body) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
        ids.push(body["data"]["sessionId"].as_str().unwrap().to_owned());
    }
    // The listing reads the durable store, which the writer fills in the background.
    for _ in 0..100 {
        let (_, stats) = s.admin_get("/api/admin/stats").await;
        if stats["data"]["cold"]["sessions"] == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, page) = s.admin_get("/api/admin/sessions?limit=3").await;
    assert_eq!(status, 200);
    let listed = page["data"]["sessions"].as_array().unwrap().clone();
    let cursor = page["data"]["nextCursor"].as_str().expect("a next page");
    let (_, rest) = s
        .admin_get(&format!("/api/admin/sessions?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(rest["data"]["nextCursor"], Value::Null);
    let rest = rest["data"]["sessions"].as_array().unwrap();
    let all: Vec<&str> = listed
        .iter()
        .chain(rest)
        .map(|x| x["sessionId"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(all, newest_first);

    let (status, _) = s.admin_get("/api/admin/sessions?active=true&limit=10").await;
    assert_eq!(status, 200);
    let victim = &ids[0];
    let (status, body) = s.admin_delete(&format!("/api/admin/sessions/{victim}")).await;
    assert_eq!((status, &body["data"]["revoked"]), (200, &json!(true)));
    let (_, gone) = s.admin_get(&format!("/api/admin/sessions/{victim}")).await;
    assert!(gone["data"]["endedAt"].is_string());
    let (status, _) = s
        .admin_get("/api/admin/sessions/01a20764-0f0b-7324-a08b-7835e6efc1c1")
        .await;
    assert_eq!(status, 404);
    let (status, rt) = s.admin_get("/api/admin/analytics/realtime").await;
    assert_eq!(status, 200);
    assert_eq!(rt["data"]["activeSessions"], 4);
    assert_eq!(rt["data"]["activeVisitors"], 4);
    assert_eq!(rt["data"]["activeCustomers"], 0);
    let (status, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["data"]["hot"]["sessions"], 4);
    assert_eq!(stats["data"]["cold"]["sessions"], 5);
    let backend = match std::env::var("STINT_TEST_BACKEND").as_deref() {
        Ok("postgres" | "pgbouncer") => "postgres",
        _ => "sqlite",
    };
    assert_eq!(
        stats["data"]["cold"]["kind"], backend,
        "the durable store under test"
    );
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let s = Server::start(&[]);
    let c = s.plain();
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    let (status, ready) = json(c.get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
    let b = s.browser();
    b.get(s.url("/api/storefront/products")).send().await.unwrap();
    b.get(s.url("/api/storefront/products")).send().await.unwrap();
    // The admin's read waits for the writer: the events are written by now.
    s.admin_get("/api/admin/sessions").await;
    let text = s.metrics_text().await;
    assert!(text.contains("stint_events_written_total 3"), "{text}");
    for metric in [
        "stint_http_requests_total",
        "stint_http_request_duration_seconds",
        "stint_sessions_created_total",
        "stint_records_queued_total",
        "stint_events_queued_total",
        "stint_sessions_resumed_total",
    ] {
        assert!(text.contains(metric), "{metric} missing from /metrics:\n{text}");
    }
    assert!(text.contains(r#"route="/api/storefront/products""#), "{text}");
}

#[tokio::test]
async fn the_cart_survives_login_and_merges_with_the_customers_other_cart() {
    let s = Server::start(&[]);
    let (phone, laptop) = (s.browser(), s.browser());
    let login = |b: &reqwest::Client| {
        b.post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": "customer@example.com", "password": "password123"}))
            .send()
    };
    let add = |b: &reqwest::Client, p: &str, q: u32| {
        b.post(s.url("/api/storefront/cart/items"))
            .json(&json!({"productId": p, "quantity": q}))
            .send()
    };
    assert_eq!(login(&phone).await.unwrap().status(), 200);
    add(&phone, "p-1", 2).await.unwrap();
    add(&laptop, "p-1", 1).await.unwrap();
    add(&laptop, "p-2", 1).await.unwrap();
    let (_, before) = json(laptop.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(login(&laptop).await.unwrap().status(), 200);
    let (_, cart) = json(laptop.get(s.url("/api/storefront/cart")).send().await.unwrap()).await;
    let items: Vec<(String, u64)> = cart["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["productId"].as_str().unwrap().to_owned(),
                i["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(items, [("p-1".to_owned(), 3), ("p-2".to_owned(), 1)]);
    let (_, after) = json(laptop.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_eq!(
        after["data"]["sessionId"], before["data"]["sessionId"],
        "the same journey"
    );
    let (_, phone_cart) = json(phone.get(s.url("/api/storefront/cart")).send().await.unwrap()).await;
    assert_eq!(
        phone_cart["data"]["items"][0]["quantity"], 2,
        "the other session keeps its cart"
    );
}
