//! Analytics over HTTP: a scripted day of visitors, and every figure of the
//! daily row, the breakdowns and the funnel checked exactly.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{CHROME, Server};
use serde_json::{Value, json};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

fn client(ua: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(ua)
        .build()
        .unwrap()
}

fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = i64::try_from(now / 86_400).unwrap();
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

async fn scripted_day(s: &Server) {
    // A: a campaign visit that buys.
    let a = client(CHROME);
    a.get(s.url("/api/storefront/products?utm_source=news&utm_campaign=bf"))
        .send()
        .await
        .unwrap();
    a.get(s.url("/api/storefront/products/p-1")).send().await.unwrap();
    a.post(s.url("/api/storefront/cart/items"))
        .json(&json!({"productId": "p-1", "quantity": 1}))
        .send()
        .await
        .unwrap();
    a.post(s.url("/api/storefront/checkout")).send().await.unwrap();
    let r = a
        .post(s.url("/api/storefront/orders"))
        .json(&json!({"items": [{"productId": "p-1", "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // B: a bounce from a search engine.
    let b = client(CHROME);
    b.get(s.url("/api/storefront/products"))
        .header("referer", "https://www.google.com/search?q=socks")
        .send()
        .await
        .unwrap();
    // C: a phone that looks at a product and signs in.
    let c = client(IPHONE);
    c.get(s.url("/api/storefront/products/p-2")).send().await.unwrap();
    let r = c
        .post(s.url("/api/storefront/auth/login"))
        .json(&json!({"email": "customer@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c.get(s.url("/api/storefront/session")).send().await.unwrap();
    // Counted nowhere: a crawler, and a visitor who asked not to be tracked.
    client("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        .get(s.url("/api/storefront/products"))
        .send()
        .await
        .unwrap();
    client(CHROME)
        .get(s.url("/api/storefront/products"))
        .header("DNT", "1")
        .send()
        .await
        .unwrap();
}

fn rows(body: &Value) -> Vec<(Value, u64)> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].clone(), r["sessions"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn daily_breakdowns_and_funnel_are_exact_for_a_scripted_day() {
    let s = Server::start(&[]);
    scripted_day(&s).await;
    let today = today();

    let (status, daily) = s.admin_get("/api/admin/analytics/daily").await;
    assert_eq!(status, 200, "{daily}");
    let days = daily["data"].as_array().unwrap();
    assert_eq!(days.len(), 7, "the last seven days by default");
    let row = days.last().unwrap();
    assert_eq!(row["date"], today.as_str());
    assert_eq!(row["visitors"], 3);
    assert_eq!(row["sessions"], 3);
    assert_eq!(row["pageViews"], 5);
    assert_eq!(row["bounceRate"], 0.3333);
    assert_eq!(row["logins"], 1);
    assert_eq!(row["conversions"], 1);
    assert_eq!(row["conversionRate"], 0.3333);
    assert_eq!(row["revenue"], 129.99);
    assert!(row["avgSessionSeconds"].as_f64().unwrap() >= 0.0);
    assert!(days[..6].iter().all(|d| d["sessions"] == 0));

    let (_, utm) = s
        .admin_get("/api/admin/analytics/breakdown?dimension=utm_source")
        .await;
    assert_eq!(rows(&utm), [(Value::Null, 2), (json!("news"), 1)]);
    let news = &utm["data"][1];
    assert_eq!(
        (news["conversions"].as_u64(), news["revenue"].as_f64()),
        (Some(1), Some(129.99))
    );
    let (_, referrer) = s
        .admin_get("/api/admin/analytics/breakdown?dimension=referrer")
        .await;
    assert_eq!(rows(&referrer), [(Value::Null, 2), (json!("google.com"), 1)]);
    assert_eq!(referrer["data"][1]["bounceRate"], 1.0);
    let (_, device) = s
        .admin_get("/api/admin/analytics/breakdown?dimension=device")
        .await;
    assert_eq!(rows(&device), [(json!("desktop"), 2), (json!("mobile"), 1)]);
    let (_, landing) = s
        .admin_get("/api/admin/analytics/breakdown?dimension=landing_page&limit=1")
        .await;
    assert_eq!(rows(&landing), [(json!("/api/storefront/products"), 2)]);

    let (_, funnel) = s.admin_get("/api/admin/analytics/funnel").await;
    let steps: Vec<(String, u64, f64)> = funnel["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["step"].as_str().unwrap().to_owned(),
                st["sessions"].as_u64().unwrap(),
                st["dropOff"].as_f64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("visit", 3, 0.0),
        ("product_view", 2, 0.3333),
        ("add_to_cart", 1, 0.5),
        ("checkout_started", 1, 0.0),
        ("order_completed", 1, 0.0),
    ];
    assert_eq!(steps, want.map(|(a, b, c)| (a.to_owned(), b, c)));

    let (_, one_day) = s
        .admin_get(&format!("/api/admin/analytics/daily?from={today}&to={today}"))
        .await;
    assert_eq!(one_day["data"].as_array().unwrap().len(), 1);
}

/// The CSV form of `path`: its content type, download name and cells.
async fn csv_of(s: &Server, path: &str) -> (String, String, Vec<Vec<String>>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = s
        .plain()
        .get(s.url(&format!("{path}{sep}format=csv")))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let header = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    let text = r.text().await.unwrap();
    let cells = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (kind, disposition, cells)
}

/// Every analytics route's CSV holds the same figures as its JSON: one
/// column per field, in the JSON's order, a row per row.
#[tokio::test]
async fn every_analytics_route_answers_csv_with_the_same_figures() {
    let s = Server::start(&[]);
    scripted_day(&s).await;
    for (path, name) in [
        ("/api/admin/analytics/daily", "stint-daily-"),
        (
            "/api/admin/analytics/breakdown?dimension=utm_source",
            "stint-utm_source-",
        ),
        ("/api/admin/analytics/funnel", "stint-funnel-"),
    ] {
        let (_, json) = s.admin_get(path).await;
        let rows = json["data"].as_array().unwrap();
        let (kind, disposition, cells) = csv_of(&s, path).await;
        assert_eq!(kind, "text/csv; charset=utf-8", "{path}");
        assert!(
            disposition.starts_with("attachment; filename=\"") && disposition.contains(name),
            "{disposition}"
        );
        let (header, body) = cells.split_first().unwrap();
        let fields: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
        assert_eq!(header.len(), fields.len(), "{path}: {header:?}");
        assert_eq!(body.len(), rows.len(), "{path}");
        for (row, cells) in rows.iter().zip(body) {
            for (column, cell) in header.iter().zip(cells) {
                match &row[column] {
                    Value::Null => assert_eq!(cell, "", "{path} {column}"),
                    Value::String(text) => assert_eq!(cell, text, "{path} {column}"),
                    Value::Number(n) => assert_eq!(cell.parse::<f64>().ok(), n.as_f64(), "{path} {column}"),
                    other => panic!("{path} {column}: {other}"),
                }
            }
        }
    }
    // The scripted day is in it.
    let (_, _, daily) = csv_of(&s, "/api/admin/analytics/daily").await;
    let today = daily.last().unwrap();
    assert_eq!((today[1].as_str(), today[9].as_str()), ("3", "129.99"));
}

/// The funnel by a dimension: one funnel per value, which together make the whole.
#[tokio::test]
async fn the_funnel_by_device_splits_the_whole_funnel() {
    let s = Server::start(&[]);
    scripted_day(&s).await;
    let (_, whole) = s.admin_get("/api/admin/analytics/funnel").await;
    let whole = whole["data"].as_array().unwrap().clone();
    let (status, by) = s.admin_get("/api/admin/analytics/funnel?dimension=device").await;
    assert_eq!(status, 200, "{by}");
    let by = by["data"].as_array().unwrap().clone();
    let values: Vec<&str> = by.iter().map(|v| v["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["desktop", "mobile"], "most sessions first");
    assert_eq!(by[0]["steps"][0]["sessions"], 2);
    for (k, step) in whole.iter().enumerate() {
        let sum: u64 = by
            .iter()
            .map(|v| v["steps"][k]["sessions"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, step["sessions"].as_u64().unwrap(), "{}", step["step"]);
        assert!(by.iter().all(|v| v["steps"][k]["step"] == step["step"]));
    }
    let (_, disposition, cells) = csv_of(&s, "/api/admin/analytics/funnel?dimension=device").await;
    assert!(disposition.contains("stint-funnel-device-"), "{disposition}");
    assert_eq!(cells[0], ["value", "step", "sessions", "dropOff"]);
    assert_eq!(cells.len() - 1, by.len() * whole.len());
    assert_eq!(cells[1][..3], ["desktop", "visit", "2"]);
    let (status, _) = s
        .admin_get("/api/admin/analytics/funnel?dimension=device&limit=1")
        .await;
    assert_eq!(status, 200);
}

/// The real-time window (5 or 30 minutes) with its top pages, in JSON and CSV.
#[tokio::test]
async fn real_time_has_its_window_and_top_pages() {
    let s = Server::start(&[]);
    scripted_day(&s).await;
    // Page views reach the durable store within the writer's batching delay.
    let mut json = Value::Null;
    for _ in 0..100 {
        let (status, body) = s.admin_get("/api/admin/analytics/realtime").await;
        assert_eq!(status, 200, "{body}");
        json = body["data"].clone();
        let counted: u64 = json["topPages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pageViews"].as_u64().unwrap())
            .sum();
        if counted == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The scripted day's three tracked sessions at least (the hot store also
    // holds the live session of the visitor who asked not to be tracked).
    let active = json["activeSessions"].as_u64().unwrap();
    assert!(active >= 3, "{json}");
    let pages: Vec<(String, u64)> = json["topPages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["page"].as_str().unwrap().to_owned(),
                p["pageViews"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pages.iter().map(|p| p.1).sum::<u64>(),
        5,
        "the scripted day's five page views: {pages:?}"
    );
    assert!(
        pages.windows(2).all(|w| w[0].1 >= w[1].1),
        "most viewed first: {pages:?}"
    );
    let (_, thirty) = s.admin_get("/api/admin/analytics/realtime?minutes=30").await;
    assert_eq!(thirty["data"]["activeSessions"], active);
    assert_eq!(thirty["data"]["topPages"], json["topPages"]);

    let (_, disposition, cells) = csv_of(&s, "/api/admin/analytics/realtime?minutes=30").await;
    assert!(disposition.contains("stint-realtime-30min.csv"), "{disposition}");
    assert_eq!(
        cells[0],
        [
            "activeVisitors",
            "activeSessions",
            "activeCustomers",
            "page",
            "pageViews"
        ]
    );
    assert_eq!(cells.len() - 1, pages.len());
    for (row, (page, views)) in cells[1..].iter().zip(&pages) {
        let counts = ["activeVisitors", "activeSessions", "activeCustomers"].map(|k| json[k].to_string());
        assert_eq!(row[..3], counts);
        assert_eq!((&row[3], &row[4]), (page, &views.to_string()));
    }
}

#[tokio::test]
async fn bad_analytics_parameters_get_400() {
    let s = Server::start(&[]);
    for path in [
        "/api/admin/analytics/daily?from=2026-13-01",
        "/api/admin/analytics/daily?from=yesterday",
        "/api/admin/analytics/daily?from=2026-11-20&to=2026-11-10",
        "/api/admin/analytics/daily?from=2020-01-01&to=2026-01-01",
        "/api/admin/analytics/breakdown",
        "/api/admin/analytics/breakdown?dimension=password",
        "/api/admin/analytics/breakdown?dimension=device&limit=0",
        "/api/admin/analytics/funnel?to=x",
        "/api/admin/analytics/daily?format=xml",
        "/api/admin/analytics/realtime?format=CSV",
        "/api/admin/analytics/realtime?minutes=7",
        "/api/admin/analytics/funnel?dimension=password",
        "/api/admin/analytics/attribution?model=linear",
        "/api/admin/analytics/attribution?dimension=device",
        "/api/admin/analytics/attribution?lookbackDays=-1",
        "/api/admin/analytics/attribution?lookbackDays=400",
        "/api/admin/analytics/attribution?from=2026-11-20&to=2026-11-10",
        "/api/admin/analytics/attribution?format=pdf",
    ] {
        let (status, body) = s.admin_get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn a_visitor_who_returns_and_orders_later_is_one_journey() {
    let s = Server::start(&[("SESSION_TTL", "1"), ("SESSION_MAX_AGE", "60")]);
    let b = client(CHROME);
    let r = b
        .get(s.url("/api/storefront/products?utm_source=news"))
        .send()
        .await
        .unwrap();
    let visitor = common::cookie_value(r.headers(), "visitor_id").unwrap();
    b.get(s.url("/api/storefront/products/p-3")).send().await.unwrap();
    // The first session expires; the visitor comes back from a search and orders.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    b.get(s.url("/api/storefront/products/p-3"))
        .header("referer", "https://www.google.com/search?q=p-3")
        .send()
        .await
        .unwrap();
    let r = b
        .post(s.url("/api/storefront/orders"))
        .json(&json!({"items": [{"productId": "p-3", "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    let (status, order) = common::json(r).await;
    assert_eq!(status, 201);
    let (status, history) = s.admin_get(&format!("/api/admin/visitors/{visitor}")).await;
    assert_eq!(status, 200);
    let sessions = history["data"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "two sessions, one visitor");
    assert!(
        sessions[0]["startedAt"].as_str() < sessions[1]["startedAt"].as_str(),
        "oldest first"
    );
    assert_eq!(sessions[0]["utmSource"], "news");
    assert_eq!(sessions[0]["converted"], false);
    assert_eq!(
        sessions[1]["converted"], true,
        "the order belongs to the later session"
    );
    assert_eq!(
        history["data"]["orders"][0]["sessionId"],
        sessions[1]["sessionId"]
    );
    assert_eq!(order["data"]["sessionId"], sessions[1]["sessionId"]);
    let (_, daily) = s.admin_get("/api/admin/analytics/daily").await;
    let today = daily["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            today["visitors"].as_u64(),
            today["sessions"].as_u64(),
            today["conversions"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );

    // Attribution: the order's own session came from the search; the
    // visitor's first, from the newsletter.
    let revenue = today["revenue"].as_f64().unwrap();
    assert!(revenue > 0.0);
    let credited = |body: Value| -> Vec<(Value, u64, u64, f64, f64)> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["value"].clone(),
                    r["visitors"].as_u64().unwrap(),
                    r["orders"].as_u64().unwrap(),
                    r["revenue"].as_f64().unwrap(),
                    r["averageOrderValue"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let one = |value: Value| vec![(value, 1, 1, revenue, revenue)];
    for (query, want) in [
        ("", one(Value::Null)),
        ("?model=last&dimension=referrer", one(json!("google.com"))),
        (
            "?model=last&dimension=landing_page",
            one(json!("/api/storefront/products/p-3")),
        ),
        ("?model=first", one(json!("news"))),
        (
            "?model=first&dimension=landing_page",
            one(json!("/api/storefront/products")),
        ),
        ("?model=first&lookbackDays=0", one(Value::Null)),
        ("?from=2020-01-01&to=2020-01-31&model=first", vec![]),
    ] {
        let (status, body) = s
            .admin_get(&format!("/api/admin/analytics/attribution{query}"))
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(credited(body), want, "{query}");
    }
    let (_, _, csv) = csv_of(&s, "/api/admin/analytics/attribution?model=first").await;
    assert_eq!(
        csv[0],
        ["value", "visitors", "orders", "revenue", "averageOrderValue"]
    );
    assert_eq!(csv[1][..3], ["news", "1", "1"]);
    assert_eq!(csv[1][3].parse::<f64>().unwrap(), revenue);
}
