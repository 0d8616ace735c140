//! A realistic trace, replayed through the HTTP API, checked against the
//! truth its generator knows: returning visitors on several devices, UTM
//! campaigns and referrers, bounces, logins, carts, orders in a later
//! session, crawlers, referrer spam, visitors who asked not to be tracked,
//! addresses a GeoIP database locates, and sessions that
//! expire (a two-second idle timeout: time is controlled, not waited for).
//! Every figure of the daily row, every breakdown and the funnel must match
//! exactly; session durations depend on the wall clock and are checked by
//! the unit tests with a manual clock, here only bounded.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{Server, json};
use serde_json::{Value, json};

/// xorshift64*: a small deterministic generator, so the trace is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A device: its user agent, and what the service must read from it.
struct Device {
    ua: &'static str,
    device: &'static str,
    browser: &'static str,
    os: &'static str,
}

const DEVICES: &[Device] = &[
    Device {
        ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        device: "desktop",
        browser: "Chrome",
        os: "Windows",
    },
    Device {
        ua: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        device: "desktop",
        browser: "Firefox",
        os: "Linux",
    },
    Device {
        ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        device: "mobile",
        browser: "Mobile Safari",
        os: "iOS",
    },
    Device {
        ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
        device: "mobile",
        browser: "Chrome Mobile",
        os: "Android",
    },
    Device {
        ua: "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        device: "tablet",
        browser: "Mobile Safari",
        os: "iOS",
    },
];

const PRICES: &[(&str, f64)] = &[
    ("p-1", 129.99),
    ("p-2", 14.99),
    ("p-3", 189.5),
    ("p-4", 29.95),
    ("p-5", 34.5),
];

/// What one tracked session did, as the truth knows it.
#[derive(Default, Clone)]
struct Truth {
    visitor: usize,
    page_views: u64,
    other_events: u64,
    logins: u64,
    converted: bool,
    revenue: f64,
    dims: BTreeMap<&'static str, Option<String>>,
    /// Funnel progress: 1 = visit, 2 = product view, 3 = cart, 4 = checkout, 5 = order.
    funnel: usize,
    /// Every page viewed (its path: page views record no query).
    pages: Vec<String>,
}

struct Visitor {
    client: reqwest::Client,
    device: &'static Device,
    email: Option<String>,
    /// Where the test GeoIP database puts the visitor's address.
    place: &'static Place,
}

/// A network of the test GeoIP database, and what it says of its addresses.
struct Place {
    prefix: &'static str,
    country: Option<&'static str>,
    city: Option<&'static str>,
}

const PLACES: &[Place] = &[
    Place {
        prefix: "203.0.113.",
        country: Some("DE"),
        city: Some("Berlin"),
    },
    Place {
        prefix: "198.51.100.",
        country: Some("NO"),
        city: None,
    },
    Place {
        prefix: "192.0.2.",
        country: None,
        city: None,
    },
];

/// The test GeoIP database: the first two places (the third is unknown to it).
fn geoip_database(dir: &std::path::Path) -> std::path::PathBuf {
    let bytes = stint_conformance::mmdb::Builder::new()
        .network([203, 0, 113, 0], 24, "DE", Some("Berlin"))
        .network([198, 51, 100, 0], 25, "NO", None)
        .build();
    let path = dir.join("test-city.mmdb");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Plays one session for `v`, returning its truth.
async fn play(s: &Server, rng: &mut Rng, v: &Visitor, index: usize, first: bool) -> Truth {
    let mut t = Truth {
        visitor: index,
        funnel: 1,
        ..Truth::default()
    };
    let c = &v.client;
    // Attribution of the landing request: campaigns and referrers on first visits only.
    let utm = if first {
        *rng.pick(&[None, Some("news"), Some("ads"), Some("news")])
    } else {
        None
    };
    let referrer = if first {
        *rng.pick(&[
            None,
            Some("https://www.google.com/search?q=shop"),
            Some("https://blog.example/post"),
        ])
    } else {
        None
    };
    let landing_product = rng.chance(30);
    let landing = if landing_product {
        format!("/api/storefront/products/{}", rng.pick(PRICES).0)
    } else {
        "/api/storefront/products".to_owned()
    };
    let url = match utm {
        Some(u) => format!("{landing}?utm_source={u}"),
        None => landing.clone(),
    };
    let mut req = c.get(s.url(&url));
    if let Some(r) = referrer {
        req = req.header("referer", r);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    t.page_views += 1;
    t.pages.push(landing.clone());
    if landing_product {
        t.funnel = 2;
    }
    t.dims.insert("device", Some(v.device.device.to_owned()));
    t.dims.insert("browser", Some(v.device.browser.to_owned()));
    t.dims.insert("os", Some(v.device.os.to_owned()));
    t.dims.insert("country", v.place.country.map(str::to_owned));
    t.dims.insert("city", v.place.city.map(str::to_owned));
    t.dims.insert("utm_source", utm.map(str::to_owned));
    t.dims.insert("utm_medium", None);
    t.dims.insert("utm_campaign", None);
    t.dims.insert(
        "referrer",
        referrer.map(|r| {
            if r.contains("google") {
                "google.com".to_owned()
            } else {
                "blog.example".to_owned()
            }
        }),
    );
    t.dims.insert("landing_page", Some(landing));

    if rng.chance(25) {
        return t; // a bounce (unless it landed on a product, it is one either way: one page, no event)
    }
    for _ in 0..rng.below(3) {
        let (id, _) = rng.pick(PRICES);
        let page = format!("/api/storefront/products/{id}");
        assert_eq!(c.get(s.url(&page)).send().await.unwrap().status(), 200);
        t.pages.push(page);
        t.page_views += 1;
        t.funnel = t.funnel.max(2);
    }
    if let (Some(email), true) = (&v.email, rng.chance(40)) {
        let r = c
            .post(s.url("/api/storefront/auth/login"))
            .json(&json!({"email": email, "password": "trace-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        t.logins += 1;
        t.other_events += 1;
    }
    let mut cart: Vec<(&str, f64, u64)> = Vec::new();
    if rng.chance(50) {
        let (id, price) = *rng.pick(PRICES);
        let q = 1 + rng.below(2);
        let r = c
            .post(s.url("/api/storefront/cart/items"))
            .json(&json!({"productId": id, "quantity": q}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        cart.push((id, price, q));
        t.other_events += 1;
        if t.funnel == 2 {
            t.funnel = 3;
        }
    }
    if !cart.is_empty() && rng.chance(60) {
        assert_eq!(
            c.post(s.url("/api/storefront/checkout"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        t.other_events += 1;
        if t.funnel == 3 {
            t.funnel = 4;
        }
    }
    // Orders: from this session's cart, or (returning visitors) straight away.
    let buy = (!cart.is_empty() && rng.chance(60)) || (!first && rng.chance(30));
    if buy {
        if cart.is_empty() {
            let (id, price) = *rng.pick(PRICES);
            cart.push((id, price, 1));
        }
        let items: Vec<Value> = cart
            .iter()
            .map(|(id, _, q)| json!({"productId": id, "quantity": q}))
            .collect();
        let r = c
            .post(s.url("/api/storefront/orders"))
            .json(&json!({"items": items}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let total: f64 = cart.iter().map(|(_, p, q)| p * *q as f64).sum();
        t.revenue += (total * 100.0).round() / 100.0;
        t.converted = true;
        t.other_events += 1;
        if t.funnel == 4 {
            t.funnel = 5;
        }
    }
    if rng.chance(50) {
        assert_eq!(
            c.get(s.url("/api/storefront/session"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        t.page_views += 1;
        t.pages.push("/api/storefront/session".to_owned());
    }
    t
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn figures(sessions: &[&Truth]) -> Value {
    let n = sessions.len() as u64;
    let visitors: HashSet<usize> = sessions.iter().map(|t| t.visitor).collect();
    let bounces = sessions
        .iter()
        .filter(|t| t.page_views == 1 && t.other_events == 0)
        .count() as u64;
    let conversions = sessions.iter().filter(|t| t.converted).count() as u64;
    let rate = |a: u64| {
        if n == 0 {
            0.0
        } else {
            round(a as f64 / n as f64, 4)
        }
    };
    json!({
        "visitors": visitors.len(),
        "sessions": n,
        "pageViews": sessions.iter().map(|t| t.page_views).sum::<u64>(),
        "bounceRate": rate(bounces),
        "logins": sessions.iter().map(|t| t.logins).sum::<u64>(),
        "conversions": conversions,
        "conversionRate": rate(conversions),
        "revenue": round(sessions.iter().map(|t| t.revenue).sum::<f64>(), 2),
    })
}

fn without_duration(mut row: Value) -> Value {
    let obj = row.as_object_mut().unwrap();
    let seconds = obj.remove("avgSessionSeconds").and_then(|v| v.as_f64()).unwrap();
    assert!(
        (0.0..60.0).contains(&seconds),
        "durations are bounded by the run: {seconds}"
    );
    obj.remove("date");
    obj.remove("value");
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_matches_the_truth_of_a_generated_trace() {
    let geo = tempfile::tempdir().unwrap();
    let database = geoip_database(geo.path());
    let s = Server::start(&[
        ("SESSION_TTL", "2"),
        ("SESSION_MAX_AGE", "600"),
        ("TRUST_PROXY", "true"),
        ("STINT_GEOIP_DB", database.to_str().unwrap()),
    ]);
    let mut rng = Rng(0x5EED_2026_1123);
    let mut visitors = Vec::new();
    for i in 0..40 {
        let device = rng.pick(DEVICES);
        let place = rng.pick(PLACES);
        let mut headers = reqwest::header::HeaderMap::new();
        let address = format!("{}{}", place.prefix, 1 + i % 100);
        headers.insert("x-forwarded-for", address.parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(device.ua)
            .default_headers(headers)
            .build()
            .unwrap();
        let email = rng.chance(40).then(|| format!("trace-{i}@example.com"));
        if let Some(email) = &email {
            // Registered from a private window: signing up is no visit.
            let r = s
                .plain()
                .post(s.url("/api/storefront/auth/register"))
                .header("Sec-GPC", "1")
                .json(&json!({"email": email, "password": "trace-password", "name": "Trace"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
        visitors.push(Visitor {
            client,
            device,
            email,
            place,
        });
    }
    // Phase one: every visitor's first session. Crawlers and a visitor who
    // asked not to be tracked browse too, and count nowhere.
    let mut truth = Vec::new();
    for (i, v) in visitors.iter().enumerate() {
        truth.push(play(&s, &mut rng, v, i, true).await);
    }
    for ua in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    ] {
        let bot = reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(ua)
            .build()
            .unwrap();
        for path in [
            "/api/storefront/products",
            "/api/storefront/products/p-1",
            "/api/storefront/products/p-2",
        ] {
            bot.get(s.url(path)).send().await.unwrap();
        }
    }
    // Referrer spam: a browser's user agent, a spammer's referrer.
    let spam = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(DEVICES[1].ua)
        .build()
        .unwrap();
    for path in ["/api/storefront/products", "/api/storefront/products/p-3"] {
        spam.get(s.url(path))
            .header("referer", "http://best-seo-offer.com/try")
            .send()
            .await
            .unwrap();
    }
    let private = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(DEVICES[0].ua)
        .build()
        .unwrap();
    for path in [
        "/api/storefront/products?utm_source=news",
        "/api/storefront/products/p-1",
    ] {
        private
            .get(s.url(path))
            .header("Sec-GPC", "1")
            .send()
            .await
            .unwrap();
    }
    // Every session is idle past its timeout: returning visitors start new ones.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for (i, v) in visitors.iter().enumerate() {
        if rng.chance(50) {
            truth.push(play(&s, &mut rng, v, i, false).await);
        }
    }

    let all: Vec<&Truth> = truth.iter().collect();
    assert!(all.len() > 50 && all.iter().any(|t| t.converted) && all.iter().any(|t| t.logins > 0));
    let (_, daily) = s.admin_get("/api/admin/analytics/daily").await;
    let today = daily["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(without_duration(today), figures(&all), "the daily row");

    for dimension in [
        "device",
        "browser",
        "os",
        "country",
        "city",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referrer",
        "landing_page",
    ] {
        let mut groups: BTreeMap<Option<String>, Vec<&Truth>> = BTreeMap::new();
        for t in &truth {
            groups.entry(t.dims[dimension].clone()).or_default().push(t);
        }
        let mut want: Vec<(Option<String>, Value)> =
            groups.iter().map(|(k, g)| (k.clone(), figures(g))).collect();
        want.sort_by(|a, b| {
            b.1["sessions"]
                .as_u64()
                .cmp(&a.1["sessions"].as_u64())
                .then_with(|| a.0.cmp(&b.0))
        });
        let (status, got) = s
            .admin_get(&format!(
                "/api/admin/analytics/breakdown?dimension={dimension}&limit=100"
            ))
            .await;
        assert_eq!(status, 200);
        let got: Vec<(Option<String>, Value)> = got["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["value"].as_str().map(str::to_owned),
                    without_duration(r.clone()),
                )
            })
            .collect();
        assert_eq!(got, want, "breakdown by {dimension}");
    }

    let (_, funnel) = s.admin_get("/api/admin/analytics/funnel").await;
    let reached = |step: usize| truth.iter().filter(|t| t.funnel >= step).count() as u64;
    let got: Vec<u64> = funnel["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["sessions"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (1..=5).map(reached).collect::<Vec<_>>(), "the funnel");
    for step in 2..=5 {
        let (before, now) = (reached(step - 1), reached(step));
        let want = if before == 0 {
            0.0
        } else {
            round(1.0 - now as f64 / before as f64, 4)
        };
        assert_eq!(
            funnel["data"][step - 1]["dropOff"].as_f64(),
            Some(want),
            "drop-off at step {step}"
        );
    }
    // The funnel by device: each value's sessions, step by step.
    let (status, by_device) = s.admin_get("/api/admin/analytics/funnel?dimension=device").await;
    assert_eq!(status, 200);
    let mut want: Vec<(Option<String>, Vec<u64>)> = Vec::new();
    for t in &truth {
        let value = t.dims["device"].clone();
        if !want.iter().any(|(v, _)| *v == value) {
            let group: Vec<&Truth> = truth.iter().filter(|u| u.dims["device"] == value).collect();
            let steps = (1..=5)
                .map(|step| group.iter().filter(|u| u.funnel >= step).count() as u64)
                .collect();
            want.push((value, steps));
        }
    }
    want.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then_with(|| a.0.cmp(&b.0)));
    let got: Vec<(Option<String>, Vec<u64>)> = by_device["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["value"].as_str().map(str::to_owned),
                r["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|st| st["sessions"].as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want, "the funnel by device");

    // Attribution: every order credited to its own session (last) or to the
    // visitor's first session (first), which came from another source for
    // the returning visitors who ordered.
    let first_of = |visitor: usize| &truth[visitor];
    assert!(
        truth
            .iter()
            .skip(visitors.len())
            .any(|t| t.converted && first_of(t.visitor).dims["utm_source"] != t.dims["utm_source"]),
        "the trace has a visitor who converts later from another source"
    );
    for (model, dimension) in [
        ("last", "utm_source"),
        ("first", "utm_source"),
        ("last", "referrer"),
        ("first", "referrer"),
        ("first", "landing_page"),
    ] {
        let mut credit: BTreeMap<Option<String>, (HashSet<usize>, u64, f64)> = BTreeMap::new();
        for t in truth.iter().filter(|t| t.converted) {
            let credited = if model == "first" { first_of(t.visitor) } else { t };
            let entry = credit.entry(credited.dims[dimension].clone()).or_default();
            entry.0.insert(t.visitor);
            entry.1 += 1;
            entry.2 += t.revenue;
        }
        let mut want: Vec<(Option<String>, u64, u64, f64, f64)> = credit
            .into_iter()
            .map(|(value, (visitors, orders, revenue))| {
                (
                    value,
                    visitors.len() as u64,
                    orders,
                    round(revenue, 2),
                    round(revenue / orders as f64, 2),
                )
            })
            .collect();
        want.sort_by(|a, b| {
            b.3.total_cmp(&a.3)
                .then_with(|| b.2.cmp(&a.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        let (status, got) = s
            .admin_get(&format!(
                "/api/admin/analytics/attribution?model={model}&dimension={dimension}"
            ))
            .await;
        assert_eq!(status, 200);
        let got: Vec<(Option<String>, u64, u64, f64, f64)> = got["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["value"].as_str().map(str::to_owned),
                    r["visitors"].as_u64().unwrap(),
                    r["orders"].as_u64().unwrap(),
                    r["revenue"].as_f64().unwrap(),
                    r["averageOrderValue"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "attribution, {model} by {dimension}");
    }

    // Real time over 30 minutes: the whole trace is in it; its top pages
    // are the trace's page views (crawlers and untracked visitors aside).
    let mut views: BTreeMap<&str, u64> = BTreeMap::new();
    for page in truth.iter().flat_map(|t| &t.pages) {
        *views.entry(page.as_str()).or_default() += 1;
    }
    let mut want: Vec<(&str, u64)> = views.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    want.truncate(10);
    let (status, realtime) = s.admin_get("/api/admin/analytics/realtime?minutes=30").await;
    assert_eq!(status, 200);
    let got: Vec<(&str, u64)> = realtime["data"]["topPages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["page"].as_str().unwrap(), p["pageViews"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want, "the top pages of the last 30 minutes");

    let (_, body) = json(s.plain().get(s.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(body["status"], "ok");
}
