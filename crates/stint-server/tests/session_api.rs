//! The session API (`/api/v1/*`) and the gateway (`/api/v1/auth`) against the
//! built binary, as a backend in another language would call them: the
//! seeds' flows, parallel data updates, customers' sessions, the gateway's
//! answers for nginx, Traefik and Envoy, and bad input of every kind.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{CHROME, Server};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const KEY: &str = "test-service-key-0123456789";
const OTHER_KEY: &str = "test-service-key-rotated-9876";

fn start() -> Server {
    Server::start(&[("STINT_SERVICE_KEY", &format!("{KEY},{OTHER_KEY}"))])
}

/// `POST`s `body` to `path` of the session API with the key.
async fn call(s: &Server, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    s.service_call(KEY, method, path, body).await
}

async fn post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    call(s, reqwest::Method::POST, path, Some(body)).await
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    call(s, reqwest::Method::GET, path, None).await
}

/// What a backend forwards for a browser's `GET url` with `cookie`.
fn page(url: &str, cookie: &str) -> Value {
    json!({"cookie": cookie, "userAgent": CHROME, "ip": "203.0.113.7", "method": "GET", "url": url,
           "referrer": "https://news.example/today"})
}

/// The `Cookie` header a browser sends back after `set_cookie` (name=value of each).
fn cookie_header(set_cookie: &Value, previous: &str) -> String {
    let mut jar: Vec<(String, String)> = previous
        .split("; ")
        .filter_map(|c| c.split_once('=').map(|(n, v)| (n.to_owned(), v.to_owned())))
        .collect();
    for c in set_cookie.as_array().unwrap() {
        let pair = c.as_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        jar.retain(|(n, _)| n != name);
        if !value.is_empty() {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn the_four_flows_through_the_session_api() {
    let s = start();
    // 1. First visit: a session and both cookies, attributed.
    let (status, first) = post(
        &s,
        "/api/v1/sessions/resolve",
        page("/shoes?utm_source=news&utm_campaign=bf", ""),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let first = &first["data"];
    assert_eq!(
        (first["created"].as_bool(), first["bot"].as_bool()),
        (Some(true), Some(false))
    );
    let sid = first["session"]["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(first["session"]["pageViews"], 1);
    assert_eq!(first["session"]["utmSource"], "news");
    assert_eq!(
        first["session"]["landingPage"],
        "/shoes?utm_source=news&utm_campaign=bf"
    );
    assert_eq!(first["session"]["ipAddress"], "203.0.113.0");
    assert_eq!(first["session"]["browser"], "Chrome");
    let set = first["setCookie"].as_array().unwrap();
    assert_eq!(set.len(), 2, "{set:?}");
    assert!(set.iter().any(|c| c.as_str().unwrap().starts_with("session=")));
    let session_set = set
        .iter()
        .map(|c| c.as_str().unwrap())
        .find(|c| c.starts_with("session="))
        .unwrap();
    let token = session_set.split(['=', '.']).nth(1).unwrap();
    assert!(token.len() >= 32, "{token}");
    let mut rest = first.clone();
    rest["setCookie"] = Value::Null;
    assert!(
        !rest.to_string().contains(token),
        "the token is in setCookie only"
    );
    let mut cookie = cookie_header(&first["setCookie"], "");

    // 2. Resume: the same session, the page view counted, no cookie re-sent.
    let (_, again) = post(&s, "/api/v1/sessions/resolve", page("/shoes/p-1", &cookie)).await;
    let again = &again["data"];
    assert_eq!(again["session"]["sessionId"], sid.as_str());
    assert_eq!(again["session"]["pageViews"], 2);
    assert_eq!(again["created"], false);
    assert_eq!(again["setCookie"], json!([]));
    // A POST is not a page view, unless the backend says it is.
    let mut form = page("/cart", &cookie);
    form["method"] = json!("POST");
    let (_, posted) = post(&s, "/api/v1/sessions/resolve", form.clone()).await;
    assert_eq!(posted["data"]["session"]["pageViews"], 2);
    form["pageView"] = json!(true);
    let (_, counted) = post(&s, "/api/v1/sessions/resolve", form).await;
    assert_eq!(counted["data"]["session"]["pageViews"], 3);

    // The shop's own events and the cart.
    let (status, ev) = post(
        &s,
        &format!("/api/v1/sessions/{sid}/events"),
        json!({"type": "add_to_cart", "productId": "p-1", "metadata": {"quantity": 2}}),
    )
    .await;
    assert_eq!(
        (status, ev["data"]["recorded"].as_bool()),
        (201, Some(true)),
        "{ev}"
    );

    // 3. Login: same session id, a new token, CUSTOMER.
    let (status, login) = post(
        &s,
        &format!("/api/v1/sessions/{sid}/login"),
        json!({"customerId": "c-42"}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["data"]["session"]["sessionId"], sid.as_str());
    assert_eq!(login["data"]["session"]["type"], "CUSTOMER");
    assert_eq!(login["data"]["session"]["customerId"], "c-42");
    let before = cookie.clone();
    cookie = cookie_header(&login["data"]["setCookie"], &cookie);
    assert_ne!(before, cookie, "a new token");
    let (_, me) = post(&s, "/api/v1/sessions/resolve", page("/account", &cookie)).await;
    assert_eq!(me["data"]["session"]["sessionId"], sid.as_str());
    assert_eq!(me["data"]["session"]["type"], "CUSTOMER");
    // The pre-login token no longer carries the customer.
    let (_, old) = post(&s, "/api/v1/sessions/resolve", page("/account", &before)).await;
    assert_ne!(old["data"]["session"]["customerId"], "c-42", "{old}");

    // 4. Order: converted, revenue in the day's figures.
    let (status, order) = post(
        &s,
        &format!("/api/v1/sessions/{sid}/convert"),
        json!({"orderId": "o-1001", "total": 59.9, "currency": "EUR"}),
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["data"]["converted"], true);
    assert_eq!(order["data"]["orderId"], "o-1001");
    let (_, session) = get(&s, &format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(session["data"]["converted"], true);

    // Logout: the cookie is cleared and the session ends.
    let (status, out) = post(&s, &format!("/api/v1/sessions/{sid}/logout"), json!({})).await;
    assert_eq!(status, 200, "{out}");
    assert!(
        out["data"]["setCookie"][0]
            .as_str()
            .unwrap()
            .contains("Max-Age=0"),
        "{out}"
    );
    let (_, after) = post(&s, "/api/v1/sessions/resolve", page("/", &cookie)).await;
    assert_eq!(after["data"]["created"], true);
    assert_ne!(after["data"]["session"]["sessionId"], sid.as_str());

    let kinds = s.event_kinds(&sid, 10).await;
    assert_eq!(
        kinds,
        [
            "session_start",
            "page_view",
            "page_view",
            "page_view",
            "add_to_cart",
            "customer_login",
            "page_view",
            // The pre-login token, in its grace window: the same journey.
            "page_view",
            "order_completed",
            "customer_logout"
        ]
    );
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let (_, daily) = s
        .admin_get(&format!("/api/admin/analytics/daily?from={today}&to={today}"))
        .await;
    assert_eq!(daily["data"][0]["revenue"], 59.9, "{daily}");
    assert_eq!(daily["data"][0]["conversions"], 1);
}

#[tokio::test]
async fn parallel_data_updates_lose_nothing() {
    let s = start();
    let (_, first) = post(&s, "/api/v1/sessions/resolve", page("/", "")).await;
    let sid = first["data"]["session"]["sessionId"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/sessions/{sid}/data");
    let (status, _) = call(
        &s,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"set": {"gone": 1}})),
    )
    .await;
    assert_eq!(status, 200);
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let (client, url) = (s.plain(), s.url(&path));
            let body = if i == 0 {
                json!({"set": {"k0": 0}, "remove": ["gone"]})
            } else {
                json!({"set": {format!("k{i}"): i}})
            };
            tokio::spawn(async move {
                let r = client
                    .patch(url)
                    .bearer_auth(KEY)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    let (_, data) = get(&s, &path).await;
    let data = data["data"].as_object().unwrap();
    assert_eq!(data.len(), 40, "{data:?}");
    assert!((0..40).all(|i| data[&format!("k{i}")] == i));
    assert!(!data.contains_key("gone"));
}

#[tokio::test]
async fn a_customers_sessions_are_listed_and_revoked() {
    let s = start();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (_, r) = post(&s, "/api/v1/sessions/resolve", page("/", "")).await;
        let sid = r["data"]["session"]["sessionId"].as_str().unwrap().to_owned();
        let (_, login) = post(
            &s,
            &format!("/api/v1/sessions/{sid}/login"),
            json!({"customerId": "c-7"}),
        )
        .await;
        let cookie = cookie_header(
            &login["data"]["setCookie"],
            &cookie_header(&r["data"]["setCookie"], ""),
        );
        sessions.push((sid, cookie));
    }
    let (_, listed) = get(&s, "/api/v1/customers/c-7/sessions").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
    let keep = &sessions[0].0;
    let (status, revoked) = call(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/v1/customers/c-7/sessions?except={keep}"),
        None,
    )
    .await;
    assert_eq!(
        (status, revoked["data"]["revoked"].as_u64()),
        (200, Some(2)),
        "{revoked}"
    );
    let (_, listed) = get(&s, "/api/v1/customers/c-7/sessions").await;
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [keep.as_str()]);
    // A revoked session's cookie starts a new anonymous one.
    let (_, r) = post(&s, "/api/v1/sessions/resolve", page("/", &sessions[1].1)).await;
    assert_eq!(r["data"]["created"], true);
    assert_eq!(r["data"]["session"]["type"], "ANONYMOUS");
    let (_, r) = post(&s, "/api/v1/sessions/resolve", page("/", &sessions[0].1)).await;
    assert_eq!(r["data"]["session"]["sessionId"], keep.as_str());
}

#[tokio::test]
async fn bots_and_visitors_who_opt_out() {
    let s = start();
    let mut bot = page("/", "");
    bot["userAgent"] = json!("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
    let (_, r) = post(&s, "/api/v1/sessions/resolve", bot).await;
    assert_eq!(
        r["data"],
        json!({"session": null, "setCookie": [], "created": false, "bot": true})
    );

    let mut dnt = page("/?utm_source=x", "");
    dnt["dnt"] = json!(true);
    let (_, r) = post(&s, "/api/v1/sessions/resolve", dnt).await;
    let session = &r["data"]["session"];
    assert_eq!(session["utmSource"], Value::Null, "{r}");
    assert_eq!(session["ipAddress"], Value::Null);
    let sid = session["sessionId"].as_str().unwrap();
    let (status, ev) = post(
        &s,
        &format!("/api/v1/sessions/{sid}/events"),
        json!({"type": "checkout_started"}),
    )
    .await;
    assert_eq!((status, ev["data"]["recorded"].as_bool()), (201, Some(false)));
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(
        stats["data"]["cold"]["events"], 0,
        "nothing of theirs is recorded: {stats}"
    );
}

#[tokio::test]
async fn keys_rotate_and_production_needs_one() {
    let s = start();
    for key in [KEY, OTHER_KEY] {
        let r = s
            .plain()
            .post(s.url("/api/v1/sessions/resolve"))
            .bearer_auth(key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{key}");
    }
    for auth in [
        None,
        Some("Bearer wrong-key-wrong-key-wrong"),
        Some(ADMIN_AS_BEARER),
    ] {
        let mut r = s.plain().post(s.url("/api/v1/sessions/resolve")).json(&json!({}));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let (status, body) = common::json(r.send().await.unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("Service key required")),
            "{auth:?}"
        );
    }
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(
        stats["data"]["hot"]["sessions"], 2,
        "refused calls store nothing: {stats}"
    );

    let production = Server::start(&[("STINT_ENV", "production")]);
    let r = production
        .plain()
        .post(production.url("/api/v1/sessions/resolve"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = production
        .plain()
        .get(production.url("/api/v1/auth"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

const ADMIN_AS_BEARER: &str = "Bearer test-admin-token-0123456789";

#[tokio::test]
async fn bad_input_gets_a_4xx_and_changes_nothing() {
    let s = start();
    let (_, first) = post(&s, "/api/v1/sessions/resolve", page("/", "")).await;
    let sid = first["data"]["session"]["sessionId"].as_str().unwrap().to_owned();
    let unknown = "01a22ff2-d00b-7479-8a63-c81e1dc5e1db";
    let huge_cookie = format!("session={}", "a".repeat(100 * 1024));
    let cases: Vec<(reqwest::Method, String, Option<Value>, u16, &str)> = vec![
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(page("/", &huge_cookie)),
            413,
            "too large",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(page("/", &"session=x; ".repeat(1000))),
            431,
            "cookie: at most",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(json!({"ip": "not-an-address"})),
            400,
            "ip",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(json!({"url": "https://elsewhere/"})),
            400,
            "url",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(json!({"method": "GE T"})),
            400,
            "method",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(json!({"userAgent": "bad\u{1}agent"})),
            400,
            "userAgent",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/resolve".into(),
            Some(json!({"cookie": 42})),
            422,
            "",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{unknown}/login"),
            Some(json!({"customerId": "c-1"})),
            404,
            "not found",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sessions/not-an-id/login".into(),
            Some(json!({"customerId": "c-1"})),
            400,
            "session id",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{sid}/login"),
            Some(json!({"customerId": ""})),
            400,
            "customerId",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{sid}/convert"),
            Some(json!({"orderId": "o-1", "total": -1})),
            400,
            "total",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{sid}/convert"),
            Some(json!({"orderId": "o-1", "total": 5, "currency": "euro"})),
            400,
            "currency",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{unknown}/convert"),
            Some(json!({"orderId": "o-1", "total": 5})),
            404,
            "not found",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{sid}/events"),
            Some(json!({"type": "page_view"})),
            400,
            "recorded by Stint",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{sid}/events"),
            Some(json!({"type": "Bad Type"})),
            400,
            "type",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{unknown}/events"),
            Some(json!({"type": "add_to_cart"})),
            404,
            "not found",
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/sessions/{unknown}/logout"),
            Some(json!({})),
            404,
            "not found",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/sessions/{sid}/data"),
            Some(json!({"set": {"big": "x".repeat(20_000)}})),
            400,
            "bytes per value",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/sessions/{sid}/data"),
            Some(
                json!({"set": (0..65).map(|i| (format!("k{i}"), json!(i))).collect::<serde_json::Map<_, _>>()}),
            ),
            400,
            "at most 64 keys",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/sessions/{sid}/data"),
            Some(json!({"set": []})),
            422,
            "",
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/sessions/{unknown}"),
            None,
            404,
            "not found",
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/sessions/{unknown}/data"),
            None,
            404,
            "not found",
        ),
        (
            reqwest::Method::DELETE,
            "/api/v1/customers/c-1/sessions?except=nope".into(),
            None,
            400,
            "session id",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/nothing-here".into(),
            None,
            404,
            "Not found",
        ),
    ];
    for (method, path, body, want, says) in cases {
        let (status, answer) = call(&s, method.clone(), &path, body).await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        assert_eq!(answer["success"], false, "{method} {path}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            message.contains(&says.to_lowercase()),
            "{method} {path}: {answer}"
        );
    }
    // Malformed JSON.
    let r = s
        .plain()
        .post(s.url("/api/v1/sessions/resolve"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{\"cookie\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing of it changed the session, and no session was made by it.
    let (_, session) = get(&s, &format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(session["data"]["type"], "ANONYMOUS");
    assert_eq!(session["data"]["converted"], false);
    let (_, data) = get(&s, &format!("/api/v1/sessions/{sid}/data")).await;
    assert_eq!(data["data"], json!({}));
    let (_, stats) = s.admin_get("/api/admin/stats").await;
    assert_eq!(stats["data"]["hot"]["sessions"], 1, "{stats}");
}

/// The gateway's answer for a proxy's question.
async fn ask(s: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap) {
    let mut r = s.plain().get(s.url(path)).bearer_auth(KEY);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.headers().clone())
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_gateway_answers_nginx_traefik_and_envoy() {
    let s = start();
    // nginx: X-Original-URI and the client's address last in X-Forwarded-For.
    let (status, first) = ask(
        &s,
        "/api/v1/auth",
        &[
            ("x-original-uri", "/shoes?utm_source=mail"),
            ("x-original-method", "GET"),
            ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
            ("user-agent", CHROME),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let sid = h(&first, "x-stint-session-id").unwrap().to_owned();
    assert_eq!(h(&first, "x-stint-session-type"), Some("ANONYMOUS"));
    assert_eq!(h(&first, "x-stint-customer-id"), Some(""));
    assert!(h(&first, "x-stint-visitor-id").is_some());
    let cookies: Vec<&str> = first
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2);
    let session_cookie = h(&first, "x-stint-set-cookie-session").unwrap();
    assert!(cookies.contains(&session_cookie) && session_cookie.starts_with("session="));
    assert!(
        h(&first, "x-stint-set-cookie-visitor")
            .unwrap()
            .starts_with("visitor_id=")
    );
    let cookie = cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ");
    let (_, session) = get(&s, &format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(session["data"]["utmSource"], "mail");
    assert_eq!(session["data"]["ipAddress"], "203.0.113.0");

    // Traefik: X-Forwarded-Uri / -Method; the session resumes, no cookie again.
    let (_, again) = ask(
        &s,
        "/api/v1/auth",
        &[
            ("x-forwarded-uri", "/shoes/p-1"),
            ("x-forwarded-method", "GET"),
            ("cookie", &cookie),
            ("user-agent", CHROME),
        ],
    )
    .await;
    assert_eq!(h(&again, "x-stint-session-id"), Some(sid.as_str()));
    assert!(again.get("set-cookie").is_none());
    // Envoy: the original path after the prefix, the original method.
    let (_, envoy) = ask(
        &s,
        "/api/v1/auth/shoes/p-2?color=red",
        &[("cookie", &cookie), ("user-agent", CHROME)],
    )
    .await;
    assert_eq!(h(&envoy, "x-stint-session-id"), Some(sid.as_str()));
    let (_, session) = get(&s, &format!("/api/v1/sessions/{sid}")).await;
    assert_eq!(session["data"]["pageViews"], 3, "one page view per page");
    let pages = s.event_pages(&sid, 4).await;
    assert_eq!(pages, ["/shoes", "/shoes/p-1", "/shoes/p-2"]);

    // A protected path: 401 until the session is a customer's.
    let protected = [
        ("x-original-uri", "/account"),
        ("cookie", cookie.as_str()),
        ("user-agent", CHROME),
    ];
    assert_eq!(ask(&s, "/api/v1/auth?require=customer", &protected).await.0, 401);
    let (_, login) = post(
        &s,
        &format!("/api/v1/sessions/{sid}/login"),
        json!({"customerId": "c-9"}),
    )
    .await;
    let cookie = cookie_header(&login["data"]["setCookie"], &cookie);
    let protected = [
        ("x-original-uri", "/account"),
        ("cookie", cookie.as_str()),
        ("user-agent", CHROME),
    ];
    let (status, customer) = ask(&s, "/api/v1/auth?require=customer", &protected).await;
    assert_eq!(status, 200);
    assert_eq!(h(&customer, "x-stint-session-type"), Some("CUSTOMER"));
    assert_eq!(h(&customer, "x-stint-customer-id"), Some("c-9"));
    assert_eq!(h(&customer, "x-stint-session-id"), Some(sid.as_str()));
    let envoy_protected = [
        ("cookie", cookie.as_str()),
        ("user-agent", CHROME),
        ("x-stint-require", "customer"),
    ];
    assert_eq!(ask(&s, "/api/v1/auth/account", &envoy_protected).await.0, 200);

    // A bot: 200, no identity, no cookie.
    let (status, bot) = ask(
        &s,
        "/api/v1/auth",
        &[("user-agent", "Googlebot/2.1 (+http://www.google.com/bot.html)")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(bot.get("x-stint-session-id").is_none() && bot.get("set-cookie").is_none());
    // Garbage from the browser never makes the gateway fail the page.
    let (status, _) = ask(
        &s,
        "/api/v1/auth",
        &[
            ("x-original-uri", "not a uri"),
            ("x-forwarded-for", "garbage"),
            ("cookie", "session=%%%; visitor_id=x"),
            ("user-agent", CHROME),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ask(&s, "/api/v1/auth?require=admin", &[]).await.0, 400);
}

/// With `STINT_GEOIP_DB`, a session the session API starts is located from
/// the address the backend forwards, before it is anonymised.
#[tokio::test]
async fn sessions_are_located_from_the_forwarded_address() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("city.mmdb");
    std::fs::write(
        &database,
        stint_conformance::mmdb::Builder::new()
            .network([203, 0, 113, 0], 24, "DE", Some("Berlin"))
            .build(),
    )
    .unwrap();
    let s = Server::start(&[
        ("STINT_SERVICE_KEY", KEY),
        ("STINT_GEOIP_DB", database.to_str().unwrap()),
    ]);
    let (status, body) = post(&s, "/api/v1/sessions/resolve", page("/shoes", "")).await;
    assert_eq!(status, 200, "{body}");
    let session = &body["data"]["session"];
    assert_eq!(
        (&session["country"], &session["city"], &session["ipAddress"]),
        (&json!("DE"), &json!("Berlin"), &json!("203.0.113.0"))
    );
    let mut elsewhere = page("/shoes", "");
    elsewhere["ip"] = json!("192.0.2.10");
    let (_, body) = post(&s, "/api/v1/sessions/resolve", elsewhere).await;
    let session = &body["data"]["session"];
    assert_eq!(
        (&session["country"], &session["city"]),
        (&Value::Null, &Value::Null)
    );
}

/// A visit referred by a referrer-spam host is a bot's: served, not stored.
/// The built-in list is Matomo's; `STINT_REFERRER_SPAM` replaces it with a file.
#[tokio::test]
async fn referrer_spam_is_treated_as_a_bot() {
    let referred = |referrer: &str| {
        let mut p = page("/shoes", "");
        p["referrer"] = json!(referrer);
        p
    };
    let s = start();
    for (referrer, bot) in [
        ("http://semalt.com/crawler.php?u=shop", true),
        ("https://www.darodar.com/", true),
        ("https://news.example/today", false),
    ] {
        let (status, body) = post(&s, "/api/v1/sessions/resolve", referred(referrer)).await;
        assert_eq!(status, 200, "{body}");
        let d = &body["data"];
        assert_eq!(d["bot"], bot, "{referrer}");
        assert_eq!(d["created"], !bot, "{referrer}: a spam visit stores no session");
    }

    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("spammers.txt");
    std::fs::write(&list, "# ours\nspam.example\n").unwrap();
    let s = Server::start(&[
        ("STINT_SERVICE_KEY", KEY),
        ("STINT_REFERRER_SPAM", list.to_str().unwrap()),
    ]);
    for (referrer, bot) in [("https://www.spam.example/", true), ("http://semalt.com/", false)] {
        let (_, body) = post(&s, "/api/v1/sessions/resolve", referred(referrer)).await;
        assert_eq!(body["data"]["bot"], bot, "{referrer}: the file replaces the list");
    }
    let (_, body) = s.admin_get("/api/admin/analytics/daily").await;
    let today = body["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["sessions"], 1, "only the visit from semalt.com counts here");
}
