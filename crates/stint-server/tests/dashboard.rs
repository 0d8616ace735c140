//! The dashboard in a real headless browser (Debian's Chromium, driven by
//! playwright-core): it signs in with the admin token, loads without console
//! errors on a desktop and a phone, shows the numbers the API gives, opens a
//! session's timeline, and refuses a wrong token. `scripts/test` installs
//! Chromium and playwright-core if missing.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

/// Runs the playwright-core driver in `tests/browser` and returns what it saw.
fn drive(signed_in: &str, signed_out: &str, visitor: &str) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run scripts/test, which installs both"
    );
    let out = Command::new("timeout")
        .args(["180", "node", "dashboard.mjs", signed_in, signed_out, visitor])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_the_apis_numbers_without_console_errors() {
    let s = Server::start(&[]);
    let mut visitor = String::new();
    for _ in 0..3 {
        let b = s.browser();
        let r = b.get(s.url("/api/storefront/products")).send().await.unwrap();
        visitor = common::cookie_value(r.headers(), "visitor_id").unwrap();
        b.get(s.url("/api/storefront/products/p-1")).send().await.unwrap();
        b.post(s.url("/api/storefront/cart/items"))
            .json(&json!({"productId": "p-1", "quantity": 1}))
            .send()
            .await
            .unwrap();
    }
    let (_, today) = s.admin_get("/api/admin/analytics/daily").await;
    let today = today["data"].as_array().unwrap().last().unwrap().clone();
    let (_, rt) = s.admin_get("/api/admin/analytics/realtime").await;

    let signed_in = s.url(&format!("/dashboard#token={ADMIN_TOKEN}"));
    let signed_out = s.url("/dashboard");
    let seen = tokio::task::spawn_blocking(move || drive(&signed_in, &signed_out, &visitor))
        .await
        .unwrap();
    assert_eq!(seen["errors"], json!([]), "no console errors");
    for view in ["desktop", "phone"] {
        let v = &seen[view];
        assert_eq!(
            v["rtVisitors"],
            rt["data"]["activeVisitors"].to_string(),
            "{view}"
        );
        assert_eq!(
            v["rtSessions"],
            rt["data"]["activeSessions"].to_string(),
            "{view}"
        );
        assert_eq!(v["todaySessions"], today["sessions"].to_string(), "{view}");
        assert_eq!(v["todayVisitors"], today["visitors"].to_string(), "{view}");
        assert_eq!(v["todayPageViews"], today["pageViews"].to_string(), "{view}");
        assert_eq!(
            v["dailyDates"].as_array().unwrap().last().unwrap(),
            &today["date"],
            "{view}"
        );
        assert_eq!(
            v["funnel"][0],
            json!(["visit", today["sessions"].to_string()]),
            "{view}"
        );
        assert_eq!(v["funnel"][1], json!(["product_view", "3"]), "{view}");
        assert!(
            v["bars"].as_u64().unwrap() >= 21,
            "{view}: the chart has its bars"
        );
        assert_eq!(v["overflows"], false, "{view}: nothing wider than the screen");
        assert_eq!(v["addressBarToken"], false, "the token leaves the address bar");
    }
    let timeline: Vec<&str> = seen["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(timeline.iter().any(|t| t.contains("add_to_cart")), "{timeline:?}");
    assert!(
        timeline
            .iter()
            .any(|t| t.contains("page_view") && t.contains("/api/storefront/products/p-1")),
        "{timeline:?}"
    );
    assert_eq!(seen["signin"]["appHidden"], true);
    assert_eq!(seen["signin"]["refused"], "The admin token was refused.");

    let js = s.plain().get(s.url("/dashboard/app.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.headers().contains_key("content-security-policy"));
}
