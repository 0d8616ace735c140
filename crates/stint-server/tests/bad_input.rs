//! Bad input gets a clear 4xx in the JSON envelope, or (for cookies) a fresh
//! session; never a 500, a panic or a hung request.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ADMIN_TOKEN, SECRET, Server, cookie_value, json, set_cookie};
use serde_json::json;

#[tokio::test]
async fn bad_session_cookies_get_a_fresh_session_and_a_200() {
    let s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .send()
        .await
        .unwrap();
    let good = cookie_value(r.headers(), "session").unwrap();
    let (_, body) = json(r).await;
    let sid = body["data"]["sessionId"].as_str().unwrap().to_owned();
    let mut tampered = good.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (token, rest) = good.split_once('.').unwrap();
    let (_, mac) = rest.split_once('.').unwrap();
    let cases = [
        tampered,
        format!("{token}.1.{mac}"),
        "garbage".to_owned(),
        "".to_owned(),
        "a.b.c".to_owned(),
        "%%%%".to_owned(),
        "x".repeat(4000),
        format!("{good}{good}"),
    ];
    for value in &cases {
        let r = s
            .plain()
            .get(s.url("/api/storefront/session"))
            .header("cookie", format!("session={value}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "cookie {value:.40}");
        assert!(
            set_cookie(r.headers(), "session").is_some(),
            "a new session for {value:.40}"
        );
        let (_, body) = json(r).await;
        assert_ne!(body["data"]["sessionId"], sid.as_str(), "cookie {value:.40}");
        assert_eq!(body["data"]["pageViews"], 1);
    }
    // A cookie signed with another secret is as good as none.
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", "session=; visitor_id=not-a-uuid; session=also-ignored")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let visitor = cookie_value(r.headers(), "visitor_id").expect("a malformed visitor id is replaced");
    assert_eq!(visitor.len(), 36);
    // A huge Cookie header is ignored whole, not parsed.
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", format!("session={good}; pad={}", "y".repeat(9000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = json(r).await;
    assert_ne!(body["data"]["sessionId"], sid.as_str());
    // The real one still works, and a valid visitor id is kept on a new session.
    let visitor_id = "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d";
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", format!("session=nope; visitor_id={visitor_id}"))
        .send()
        .await
        .unwrap();
    assert!(
        set_cookie(r.headers(), "visitor_id").is_none(),
        "a valid visitor id is kept"
    );
    let (_, body) = json(r).await;
    assert_eq!(body["data"]["visitorId"], visitor_id);
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", format!("session={good}"))
        .send()
        .await
        .unwrap();
    let (_, body) = json(r).await;
    assert_eq!(body["data"]["sessionId"], sid.as_str());
    assert!(!SECRET.is_empty());
}

#[tokio::test]
async fn an_expired_session_is_replaced() {
    let s = Server::start(&[("SESSION_TTL", "1"), ("SESSION_MAX_AGE", "60")]);
    let b = s.browser();
    let (_, first) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let r = b.get(s.url("/api/storefront/session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, second) = json(r).await;
    assert_ne!(second["data"]["sessionId"], first["data"]["sessionId"]);
    assert_eq!(
        second["data"]["visitorId"], first["data"]["visitorId"],
        "the visitor stays"
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_or_413_with_a_message() {
    let s = Server::start(&[]);
    let c = s.plain();
    let post = |path: &str, body: String| {
        c.post(s.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("/api/storefront/cart/items", "{not json".into(), 400),
        ("/api/storefront/cart/items", "[]".into(), 422),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1"}"#.into(),
            422,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1", "quantity": "two"}"#.into(),
            422,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "nope", "quantity": 1}"#.into(),
            400,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1", "quantity": 0}"#.into(),
            400,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1", "quantity": -3}"#.into(),
            400,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1", "quantity": 1e99}"#.into(),
            422,
        ),
        (
            "/api/storefront/cart/items",
            r#"{"productId": "p-1", "quantity": 1000000}"#.into(),
            400,
        ),
        ("/api/storefront/orders", r#"{"items": []}"#.into(), 400),
        (
            "/api/storefront/orders",
            r#"{"items": [{"productId": "p-404", "quantity": 1}]}"#.into(),
            400,
        ),
        (
            "/api/storefront/orders",
            r#"{"items": [{"productId": "p-1", "quantity": 0}]}"#.into(),
            400,
        ),
        ("/api/storefront/orders", r#"{"shippingAddress": {}}"#.into(), 422),
        ("/api/storefront/auth/login", "null".into(), 400),
        (
            "/api/storefront/auth/register",
            format!(r#"{{"email": "{}@x.io"}}"#, "a".repeat(300)),
            400,
        ),
        (
            "/api/storefront/cart/items",
            format!(r#"{{"productId": "{}", "quantity": 1}}"#, "p".repeat(100_000)),
            413,
        ),
    ];
    for (path, body, want) in cases {
        let shown: String = body.chars().take(60).collect();
        let (status, reply) = json(post(path, body).await.unwrap()).await;
        assert_eq!(status, want, "{path} {shown} -> {reply}");
        assert_eq!(reply["success"], false);
        assert!(reply["error"].as_str().is_some_and(|e| !e.is_empty()), "{reply}");
    }
    // Wrong content type.
    let r = c
        .post(s.url("/api/storefront/cart/items"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, reply) = json(r).await;
    assert_eq!((status, reply["success"].as_bool()), (415, Some(false)));
}

#[tokio::test]
async fn bad_ids_and_unknown_things_get_4xx() {
    let s = Server::start(&[]);
    let (status, body) = json(
        s.plain()
            .get(s.url("/api/storefront/products/p-999"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["success"].as_bool()), (404, Some(false)));
    let (status, _) = json(s.plain().get(s.url("/api/nothing/here")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    for path in [
        "/api/admin/sessions/not-a-uuid",
        "/api/admin/sessions/not-a-uuid/events",
        "/api/admin/visitors/123",
        "/api/admin/sessions?limit=0",
        "/api/admin/sessions?limit=abc",
        "/api/admin/sessions?active=maybe",
        "/api/admin/sessions?visitorId=x",
        "/api/admin/sessions?cursor=zzz",
    ] {
        let (status, body) = s.admin_get(path).await;
        assert_eq!(status, 400, "{path} -> {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let (status, _) = s
        .admin_delete("/api/admin/sessions/0190f1d2-5b7e-7c3a-9d1e-2a3b4c5d6e7f")
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .admin_get(&format!("/api/admin/customers/{}/sessions", "c".repeat(300)))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_admin_api_refuses_without_the_token() {
    let s = Server::start(&[]);
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic abc"),
        Some(&*format!("Bearer {ADMIN_TOKEN}x")),
    ] {
        let mut req = s.plain().get(s.url("/api/admin/sessions"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let (status, body) = json(req.send().await.unwrap()).await;
        assert_eq!(
            (status, body["success"].as_bool()),
            (401, Some(false)),
            "{auth:?}"
        );
    }
    let r = s
        .plain()
        .delete(s.url("/api/admin/customers/x/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn customer_only_routes_answer_401_to_anonymous_sessions() {
    let s = Server::start(&[]);
    for (method, path) in [
        ("GET", "/api/storefront/me"),
        ("GET", "/api/storefront/me/sessions"),
        ("DELETE", "/api/storefront/me/sessions/others"),
    ] {
        let r = s
            .browser()
            .request(method.parse().unwrap(), s.url(path))
            .send()
            .await
            .unwrap();
        let (status, body) = json(r).await;
        assert_eq!(
            (status, body),
            (401, json!({"success": false, "error": "Authentication required"}))
        );
    }
}

#[tokio::test]
async fn bots_get_no_stored_session_and_over_the_limit_clients_are_still_served() {
    let s = Server::start(&[("SESSION_CREATE_LIMIT", "5")]);
    let bot = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        .build()
        .unwrap();
    for _ in 0..3 {
        let r = bot.get(s.url("/api/storefront/products")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            set_cookie(r.headers(), "session").is_none(),
            "no session cookie for a crawler"
        );
    }
    let mut with_cookie = 0;
    for _ in 0..8 {
        let r = s
            .plain()
            .get(s.url("/api/storefront/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        with_cookie += usize::from(set_cookie(r.headers(), "session").is_some());
    }
    assert_eq!(
        with_cookie, 5,
        "five sessions stored, the rest served without one"
    );
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(stats["data"]["hot"]["sessions"], 5);
    let metrics = s.metrics_text().await;
    assert!(
        metrics.contains(r#"stint_bot_requests_total{family="Googlebot"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("stint_sessions_rate_limited_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/products"))
        .header("x-padding", "p".repeat(20_000))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!((status, body["success"].as_bool()), (431, Some(false)), "{body}");
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(
        stats["data"]["hot"]["sessions"], 0,
        "no session was started for it"
    );
}
