//! The dashboard in a real headless browser (Debian's Chromium, driven by
//! playwright-core): it signs in with the admin token, loads without console
//! errors on a desktop and a phone, shows the numbers the API gives (real
//! time and its top pages in both windows, today, the days, revenue by
//! source, the funnel and the funnel by device, countries, recent sessions),
//! saves a table as CSV, opens a session's timeline, shows an empty state
//! for a shop without visitors, and refuses a wrong token. `scripts/test`
//! installs Chromium and playwright-core if missing. With
//! `SCREENSHOTS=dir`, the driver leaves a screenshot of each viewport there.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};

/// Runs the playwright-core driver in `tests/browser` and returns what it saw.
fn drive(signed_in: &str, signed_out: &str, visitor: &str, empty: &str) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run scripts/test, which installs both"
    );
    let out = Command::new("timeout")
        .args([
            "180",
            "node",
            "dashboard.mjs",
            signed_in,
            signed_out,
            visitor,
            empty,
        ])
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
    let s = Server::start(&[("TRUST_PROXY", "true")]);
    let empty = Server::start(&[]);
    let mut visitor = String::new();
    for (i, country) in ["DE", "DE", "FR"].into_iter().enumerate() {
        let b = s.browser();
        let landing = if i == 0 {
            "/api/storefront/products?utm_source=news"
        } else {
            "/api/storefront/products"
        };
        let r = b
            .get(s.url(landing))
            .header("cf-ipcountry", country)
            .send()
            .await
            .unwrap();
        visitor = common::cookie_value(r.headers(), "visitor_id").unwrap();
        b.get(s.url("/api/storefront/products/p-1")).send().await.unwrap();
        b.post(s.url("/api/storefront/cart/items"))
            .json(&json!({"productId": "p-1", "quantity": 1}))
            .send()
            .await
            .unwrap();
        if i == 0 {
            let r = b
                .post(s.url("/api/storefront/orders"))
                .json(&json!({"items": [{"productId": "p-1", "quantity": 1}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    }
    let (_, today) = s.admin_get("/api/admin/analytics/daily").await;
    let today = today["data"].as_array().unwrap().last().unwrap().clone();
    let (_, rt) = s.admin_get("/api/admin/analytics/realtime").await;
    let revenue = format!("{:.2}", today["revenue"].as_f64().unwrap());

    let signed_in = s.url(&format!("/dashboard#token={ADMIN_TOKEN}"));
    let signed_out = s.url("/dashboard");
    let empty_in = empty.url(&format!("/dashboard#token={ADMIN_TOKEN}"));
    let seen = tokio::task::spawn_blocking(move || drive(&signed_in, &signed_out, &visitor, &empty_in))
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
        assert_eq!(
            v["attribution"],
            json!([["news", "1", "1", revenue, revenue]]),
            "{view}: revenue by source"
        );
        assert_eq!(
            v["countries"].as_array().unwrap()[..2]
                .iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect::<Vec<_>>(),
            [(json!("DE"), json!("2")), (json!("FR"), json!("1"))],
            "{view}: countries"
        );
        let top: Vec<Value> = rt["data"]["topPages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| json!([p["page"], p["pageViews"].to_string()]))
            .collect();
        assert_eq!(v["topPages"], json!(top), "{view}: top pages");
        assert_eq!(v["topPages30"], json!(top), "{view}: the 30-minute window");
        assert_eq!(v["recentSessions"], 3, "{view}: recent sessions without a search");
        let by_device = v["funnelByDevice"].as_array().unwrap();
        let visits: u64 = by_device
            .iter()
            .map(|r| r[1].as_str().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(
            visits,
            today["sessions"].as_u64().unwrap(),
            "{view}: funnel by device"
        );
        let width = v["chartWidth"].as_array().unwrap();
        let (drawn, room) = (width[0].as_f64().unwrap(), width[1].as_f64().unwrap());
        assert!(
            (drawn - room).abs() <= 2.0 || (room < 280.0 && drawn == 280.0),
            "{view}: the chart fills its card ({drawn} of {room})"
        );
        for label in v["chartTexts"].as_array().unwrap() {
            let label = label.as_str().unwrap();
            assert!(
                label.len() == 5 && label.as_bytes()[2] == b'-',
                "{view}: only day labels on the chart, not {label:?}"
            );
        }
        let csv = &v["attributionCsv"];
        assert_eq!(csv["name"], "stint-attribution-last-utm_source.csv");
        assert!(
            csv["text"]
                .as_str()
                .unwrap()
                .starts_with("value,visitors,orders,revenue,averageOrderValue\nnews,1,1,"),
            "{csv}"
        );
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
    let blank = &seen["empty"];
    assert_eq!(blank["todayHidden"], true, "no zero tiles without a visitor");
    assert!(
        blank["message"]
            .as_str()
            .unwrap()
            .starts_with("No visitors yet today"),
        "{blank}"
    );
    assert_eq!(blank["attribution"], "No orders in this range yet.");
    assert_eq!(blank["funnel"], "Nothing in this range yet.");
    assert_eq!(blank["zeroPercentShown"], json!([]), "no 0.0% of nothing");
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
