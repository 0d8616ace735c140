//! The rights of access and erasure, over the admin API and the command line.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{ADMIN_TOKEN, SECRET, Server, cookie_value, json};
use serde_json::{Value, json};

async fn login(s: &Server, b: &reqwest::Client) -> Value {
    let r = b
        .post(s.url("/api/storefront/auth/login"))
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    json(r).await.1
}

#[tokio::test]
async fn a_visitor_is_exported_then_erased_everywhere() {
    let s = Server::start(&[]);
    let b = s.browser();
    let r = b
        .get(s.url("/api/storefront/products?utm_source=mail"))
        .send()
        .await
        .unwrap();
    let token = cookie_value(r.headers(), "session").unwrap();
    let visitor = cookie_value(r.headers(), "visitor_id").unwrap();
    b.post(s.url("/api/storefront/cart/items"))
        .json(&json!({"productId": "p-4", "quantity": 1}))
        .send()
        .await
        .unwrap();
    let (_, order) = json(
        b.post(s.url("/api/storefront/orders"))
            .json(
                &json!({"items": [{"productId": "p-4", "quantity": 1}], "shippingAddress": {"city": "Oslo"}}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;

    let (status, doc) = s
        .admin_get(&format!("/api/admin/visitors/{visitor}/export"))
        .await;
    assert_eq!(status, 200, "{doc}");
    let doc = &doc["data"];
    assert_eq!(doc["visitorId"], visitor.as_str());
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["utmSource"], "mail");
    let kinds: Vec<&str> = sessions[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["session_start", "page_view", "add_to_cart", "order_completed"]
    );
    assert_eq!(doc["orders"][0]["id"], order["data"]["id"]);
    assert_eq!(doc["orders"][0]["shippingAddress"]["city"], "Oslo");
    let text = doc.to_string();
    assert!(
        !text.contains(token.split('.').next().unwrap()),
        "no token in an export"
    );

    let sid = sessions[0]["sessionId"].as_str().unwrap().to_owned();
    let (status, erased) = s.admin_delete(&format!("/api/admin/visitors/{visitor}")).await;
    assert_eq!((status, &erased["data"]["erased"]), (200, &json!(1)));
    // Gone from the hot store: the cookie starts a new session.
    let (_, now) = json(b.get(s.url("/api/storefront/session")).send().await.unwrap()).await;
    assert_ne!(now["data"]["sessionId"], sid.as_str());
    // Gone from the cold store: no session, no events.
    let (status, _) = s.admin_get(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!(status, 404);
    let (status, _) = s.admin_get(&format!("/api/admin/sessions/{sid}/events")).await;
    assert_eq!(status, 404);
    let (_, again) = s
        .admin_get(&format!("/api/admin/visitors/{visitor}/export"))
        .await;
    let left = again["data"]["sessions"].as_array().map_or(0, Vec::len);
    assert_eq!(left, 1, "only the session started after the erasure: {again}");
    assert_ne!(again["data"]["sessions"][0]["sessionId"], sid.as_str());
}

#[tokio::test]
async fn a_customer_is_exported_then_erased_and_signed_out_everywhere() {
    let s = Server::start(&[]);
    let (a, b) = (s.browser(), s.browser());
    let logged = login(&s, &a).await;
    login(&s, &b).await;
    let customer = logged["data"]["customer"]["id"].as_str().unwrap().to_owned();

    let (status, doc) = s
        .admin_get(&format!("/api/admin/customers/{customer}/export"))
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["data"]["customer"]["email"], "customer@example.com");
    assert_eq!(doc["data"]["sessions"].as_array().unwrap().len(), 2);
    assert!(!doc.to_string().contains("argon2"), "never the password hash");

    let (status, erased) = s.admin_delete(&format!("/api/admin/customers/{customer}")).await;
    assert_eq!((status, &erased["data"]["erased"]), (200, &json!(2)));
    for c in [&a, &b] {
        assert_eq!(
            c.get(s.url("/api/storefront/me")).send().await.unwrap().status(),
            401
        );
    }
    let (_, after) = s
        .admin_get(&format!("/api/admin/customers/{customer}/export"))
        .await;
    assert_eq!(
        after["data"]["sessions"],
        json!([]),
        "the account stays, its sessions are gone"
    );
    let (status, body) = s.admin_get("/api/admin/visitors/not-a-uuid/export").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s
        .admin_get("/api/admin/visitors/0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d/export")
        .await;
    assert_eq!(status, 404);
    let (status, body) = s
        .admin_delete("/api/admin/visitors/0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d")
        .await;
    assert_eq!((status, &body["data"]["erased"]), (200, &json!(0)));
}

fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stint"));
    cmd.env_clear()
        .env("STINT_DATA_DIR", dir)
        .env("COOKIE_SECRET", SECRET)
        .env("STINT_ADMIN_TOKEN", ADMIN_TOKEN)
        .args(args);
    if let Ok(url) = std::fs::read_to_string(dir.join("postgres-url")) {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn export_and_erase_work_from_the_command_line_on_a_stopped_service() {
    let mut s = Server::start(&[]);
    let b = s.browser();
    let r = b.get(s.url("/api/storefront/products")).send().await.unwrap();
    let visitor = cookie_value(r.headers(), "visitor_id").unwrap();
    let logged = login(&s, &b).await;
    let customer = logged["data"]["customer"]["id"].as_str().unwrap().to_owned();
    let dir = s.keep_data();
    assert!(s.stop().success());

    let (ok, out, err) = cli(dir.path(), &["export", "--visitor", &visitor]);
    assert!(ok, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(doc["sessions"][0]["type"], "CUSTOMER");

    let (ok, out, err) = cli(dir.path(), &["erase", "--customer", &customer]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["erased"], 1);
    let (ok, _, err) = cli(dir.path(), &["export", "--visitor", &visitor]);
    assert!(!ok && err.contains("nothing is stored"), "{err}");

    for bad in [
        vec!["export"],
        vec!["erase", "--visitor", "x"],
        vec!["export", "--visitor", &visitor, "--customer", "c"],
    ] {
        let (ok, _, err) = cli(dir.path(), &bad);
        assert!(!ok, "{bad:?}");
        assert!(!err.is_empty());
    }
}

async fn visit_with(s: &Server, header: Option<(&str, &str)>) -> (String, Value) {
    let mut req = s.plain().get(s.url("/api/storefront/products?utm_source=ads"));
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let cookie = format!(
        "session={}",
        cookie_value(r.headers(), "session").expect("a session works")
    );
    let c = s.plain();
    let mut req = c
        .get(s.url("/api/storefront/products/p-1"))
        .header("cookie", &cookie);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    req.send().await.unwrap();
    let mut req = c
        .post(s.url("/api/storefront/cart/items"))
        .header("cookie", &cookie);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let (status, _) = json(
        req.json(&json!({"productId": "p-1", "quantity": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let mut req = c.get(s.url("/api/storefront/session")).header("cookie", &cookie);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let (_, body) = json(req.send().await.unwrap()).await;
    (
        body["data"]["sessionId"].as_str().unwrap().to_owned(),
        body["data"].clone(),
    )
}

#[tokio::test]
async fn do_not_track_and_global_privacy_control_leave_no_analytics() {
    let s = Server::start(&[]);
    for signal in [("DNT", "1"), ("Sec-GPC", "1")] {
        let (sid, session) = visit_with(&s, Some(signal)).await;
        assert_eq!(session["pageViews"], 3, "the session works and counts: {session}");
        for field in ["device", "browser", "os", "ipAddress", "utmSource", "landingPage"] {
            assert_eq!(session[field], Value::Null, "{signal:?}: {field} kept");
        }
        let (status, events) = s.admin_get(&format!("/api/admin/sessions/{sid}/events")).await;
        assert_eq!(status, 200);
        assert_eq!(events["data"]["events"], json!([]), "{signal:?}");
    }
    let (sid, session) = visit_with(&s, None).await;
    assert_eq!(session["utmSource"], "ads");
    assert_eq!(
        s.events(&sid, 5).await.len(),
        5,
        "without a signal, everything is recorded"
    );

    let s = Server::start(&[("STINT_HONOR_DNT", "false")]);
    let (sid, session) = visit_with(&s, Some(("DNT", "1"))).await;
    assert_eq!(session["utmSource"], "ads");
    assert_eq!(
        s.events(&sid, 5).await.len(),
        5,
        "signals ignored when so configured"
    );
}
