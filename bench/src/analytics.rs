//! How long the analytics routes take over a large history: days of
//! generated sessions and events written through the batching writer, then
//! each route's work over the last 30 days timed twice in the same run:
//! from raw data (the baseline: every past day read raw), and with the past
//! days rolled up (today stays raw, as it is live). Each route runs in a
//! process of its own (`stint-bench analytics-route`), so that one route's
//! freed memory cannot hide the next one's: its timing is the median of
//! three warm runs, its memory how far the process's peak resident memory
//! rose above what it had once connected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use stint_core::analytics::{self, AttributionQuery, Model, PRODUCT_PAGES, day_of, standard_funnel};
use stint_core::event::{Event, kinds};
use stint_core::store::{Record, Sink};
use stint_core::{
    Attributes, Clock, Engine, Policy, SessionRecord, SystemClock, Timestamp, Token, VisitorId,
};
use stint_memory::MemoryStore;
use stint_sql::{SqlStore, Writer, WriterConfig};

/// One route's timings.
pub struct Route {
    /// Its name.
    pub name: &'static str,
    /// Every past day read raw.
    pub raw: Duration,
    /// Past days from their rollups.
    pub rolled_up: Duration,
    /// How far peak resident memory rose over the raw runs, bytes.
    pub raw_peak_growth: u64,
    /// How far peak resident memory rose over the rolled-up runs, bytes.
    pub peak_growth: u64,
}

/// What one store gave.
pub struct Outcome {
    /// Events written.
    pub events: u64,
    /// Sessions written.
    pub sessions: u64,
    /// Sessions in the 30 days queried.
    pub queried_sessions: u64,
    /// Rolling up every past day.
    pub rollup: Duration,
    /// The routes.
    pub routes: Vec<Route>,
}

/// Generates about `events` events over `days` days ending today into the
/// store at `url`, then times the routes over the last 30 days.
pub async fn measure(url: &str, events: u64, days: u64) -> Result<Outcome> {
    let store = Arc::new(SqlStore::connect(url).await?);
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let now = SystemClock.now();
    let day_ms = 86_400_000i64;
    let days_i = i64::try_from(days).context("days")?;
    let first_day = now.millis() - days_i * day_ms;
    let (written, sessions) = generate(&writer, events, days, first_day, now).await?;
    writer.flush().await?;
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        store.clone(),
        Arc::new(writer.clone()),
        Arc::new(SystemClock),
        Policy::default(),
    );
    let today = day_of(now).context("date")?;
    let from = today - time::Duration::days(29);
    let queried_sessions = engine
        .daily(from, today)
        .await?
        .iter()
        .map(|r| r.figures.sessions)
        .sum();

    let raw = time_routes(url, from, today)?;
    let first = day_of(Timestamp(first_day)).context("date")?;
    let timed = Instant::now();
    engine.rollup(first, today).await?;
    let rollup = timed.elapsed();
    let rolled = time_routes(url, from, today)?;
    // Real time's window slides with the clock between the two runs.
    for (a, b) in raw.iter().zip(&rolled).filter(|(a, _)| a.0 != "real time") {
        anyhow::ensure!(
            a.1 == b.1,
            "{} answers differently from rollups:\n{}\n{}",
            a.0,
            a.1,
            b.1
        );
    }
    task.shutdown().await;
    store.close().await;
    Ok(Outcome {
        events: written,
        sessions,
        queried_sessions,
        rollup,
        routes: raw
            .into_iter()
            .zip(rolled)
            .map(|(r, o)| Route {
                name: r.0,
                raw: r.2,
                rolled_up: o.2,
                raw_peak_growth: r.3,
                peak_growth: o.3,
            })
            .collect(),
    })
}

/// Sessions and their events spread evenly over the days and written in
/// the order they happen, as a shop's are; a third of the visitors come
/// back (so that distinct visitors differ from sessions).
async fn generate(
    writer: &Writer,
    events: u64,
    days: u64,
    first_day: i64,
    now: Timestamp,
) -> Result<(u64, u64)> {
    let sources = [None, Some("news"), Some("ads"), Some("social")];
    let referrers = [
        None,
        Some("https://www.google.com/search?q=shop"),
        Some("https://blog.example/post"),
    ];
    let devices = ["desktop", "mobile", "tablet"];
    let countries = [Some("DE"), Some("FR"), Some("US"), None];
    // About 6.6 events a session (a start, 5 page views on average, some
    // carts, checkouts and orders): sessions follow each other at the pace
    // that spreads `events` over the days.
    // (Exactly 6.6 on average over n, so the last session starts about now.)
    let gap_ms = i64::try_from(days * 86_400_000 * 66 / 10 / events.max(1))
        .unwrap_or(1000)
        .max(1);
    let mut returning: Vec<VisitorId> = Vec::new();
    let (mut written, mut sessions, mut n) = (0u64, 0u64, 0u64);
    while written < events {
        n += 1;
        let start = Timestamp(first_day + i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(gap_ms));
        if start >= now {
            break;
        }
        let attributes = Attributes {
            device: Some(devices[(n % 3) as usize].into()),
            browser: Some("Chrome".into()),
            os: Some("Windows".into()),
            country: countries[(n % 4) as usize].map(Into::into),
            landing_page: Some("/api/storefront/products".into()),
            referrer: referrers[(n % 3) as usize].map(Into::into),
            utm_source: sources[(n % 4) as usize].map(Into::into),
            ..Attributes::default()
        };
        let visitor = if n % 3 == 0 && !returning.is_empty() {
            returning[(n as usize / 3) % returning.len()]
        } else {
            let v = VisitorId::new();
            if returning.len() < 50_000 {
                returning.push(v);
            }
            v
        };
        let mut s = SessionRecord::new(visitor, attributes, start);
        let views = 1 + n % 9;
        s.page_views = views;
        s.last_seen_at = Timestamp(start.millis() + i64::try_from(views).unwrap_or(1) * 20_000);
        s.converted = n.is_multiple_of(10);
        writer
            .send(Record::Snapshot {
                session: s.clone(),
                token: Some(Token::generate().hash()),
            })
            .await?;
        writer
            .send(Record::Event(Event::new(
                s.id,
                s.visitor_id,
                kinds::SESSION_START,
                start,
            )))
            .await?;
        written += 1;
        for v in 0..views {
            let at = Timestamp(start.millis() + i64::try_from(v).unwrap_or(0) * 20_000);
            let page = if v % 2 == 1 {
                "/api/storefront/products/p-1"
            } else {
                "/api/storefront/products"
            };
            let event = Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, at).page(page);
            writer
                .send(Record::PageView {
                    event,
                    page_views: v + 1,
                })
                .await?;
            written += 1;
        }
        let mut at = s.last_seen_at.millis();
        let mut step = |kind: &'static str| {
            at += 1000;
            Event::new(s.id, s.visitor_id, kind, Timestamp(at))
        };
        if n.is_multiple_of(4) || s.converted {
            writer
                .send(Record::Event(step(kinds::ADD_TO_CART).product("p-1")))
                .await?;
            written += 1;
        }
        if n.is_multiple_of(5) {
            writer.send(Record::Event(step(kinds::CHECKOUT_STARTED))).await?;
            written += 1;
        }
        if s.converted {
            let order = step(kinds::ORDER_COMPLETED).metadata(serde_json::json!({"total": 129.99}));
            writer.send(Record::Event(order)).await?;
            written += 1;
        }
        sessions += 1;
    }
    Ok((written, sessions))
}

/// The routes, each timed in a process of its own: its name, a digest of
/// its answer (to compare the two ways of computing it), its median time
/// over three runs, and how far peak memory rose.
fn time_routes(
    url: &str,
    from: time::Date,
    to: time::Date,
) -> Result<Vec<(&'static str, String, Duration, u64)>> {
    let exe = std::env::current_exe()?;
    let mut out = Vec::new();
    for name in ROUTES {
        let run = std::process::Command::new(&exe)
            .args(["analytics-route", url, name, &from.to_string(), &to.to_string()])
            .output()?;
        anyhow::ensure!(
            run.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = String::from_utf8(run.stdout)?;
        let mut lines = text.lines();
        let micros: u64 = lines.next().context("time")?.parse()?;
        let peak: u64 = lines.next().context("memory")?.parse()?;
        let digest = lines.collect::<Vec<_>>().join("\n");
        out.push((name, digest, Duration::from_micros(micros), peak));
    }
    Ok(out)
}

/// The routes timed.
const ROUTES: [&str; 6] = [
    "daily",
    "breakdown",
    "funnel",
    "funnel by device",
    "attribution",
    "real time",
];

/// Runs one route three times over the store at `url` and prints its
/// median time (µs), how far peak resident memory rose (bytes) and its
/// answer: `stint-bench analytics-route URL ROUTE FROM TO`.
pub async fn route(url: &str, name: &str, from: &str, to: &str) -> Result<()> {
    let day = |s: &str| {
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).context("a date")
    };
    let (from, to) = (day(from)?, day(to)?);
    let store = Arc::new(SqlStore::connect(url).await?);
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        store.clone(),
        Arc::new(writer),
        Arc::new(SystemClock),
        Policy::default(),
    );
    let steps = standard_funnel(PRODUCT_PAGES);
    let mut times = Vec::new();
    let mut digest = String::new();
    let base = resident();
    reset_peak();
    for _ in 0..3 {
        let timed = Instant::now();
        digest = match name {
            "daily" => format!("{:?}", engine.daily(from, to).await?),
            "breakdown" => {
                let summaries = engine.summaries(from, to, Some("utm_source"), false).await?;
                format!("{:?}", analytics::breakdown_rows(summaries, 50))
            }
            "funnel" => {
                let summaries = engine.summaries(from, to, None, true).await?;
                format!("{:?}", analytics::whole_funnel(summaries, &steps))
            }
            "funnel by device" => {
                let summaries = engine.summaries(from, to, Some("device"), true).await?;
                format!("{:?}", analytics::funnel_rows(summaries, &steps, 50))
            }
            "attribution" => {
                let query = AttributionQuery {
                    model: Model::First,
                    dimension: "utm_source",
                    lookback: Duration::from_secs(30 * 86_400),
                    limit: 50,
                };
                format!("{:?}", engine.attribution(from, to, &query).await?)
            }
            "real time" => {
                let window = Duration::from_secs(1800);
                let (active, top) =
                    tokio::try_join!(engine.realtime_over(window), engine.top_pages(window, 10))?;
                format!("{active:?}{top:?}")
            }
            other => anyhow::bail!("no route {other}"),
        };
        times.push(timed.elapsed());
    }
    times.sort();
    println!("{}", times[1].as_micros());
    println!("{}", peak().saturating_sub(base));
    println!("{digest}");
    task.shutdown().await;
    store.close().await;
    Ok(())
}

/// Resident memory now, bytes (Linux; 0 elsewhere).
fn resident() -> u64 {
    status_kb("VmRSS:") * 1024
}

/// Peak resident memory since the last reset, bytes.
fn peak() -> u64 {
    status_kb("VmHWM:") * 1024
}

/// Resets the peak to the current resident memory (Linux 4.0 and later).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
