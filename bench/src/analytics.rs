//! How long the analytics queries take over a large history: a generated
//! month of sessions and events written through the batching writer, then
//! the daily figures (computed, then from rollups), a breakdown and the
//! funnel, each timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use stint_core::analytics::{StepRule, day_of};
use stint_core::event::{Event, kinds};
use stint_core::store::{Record, Sink};
use stint_core::{
    Attributes, Clock, Engine, Policy, SessionRecord, SystemClock, Timestamp, Token, VisitorId,
};
use stint_memory::MemoryStore;
use stint_sql::{SqlStore, Writer, WriterConfig};

/// The timings of one store.
pub struct Outcome {
    /// Events written.
    pub events: u64,
    /// Sessions written.
    pub sessions: u64,
    /// Daily figures of the whole range, computed from the raw data.
    pub daily_computed: Duration,
    /// The same, read from rollups.
    pub daily_rolled_up: Duration,
    /// Breakdown by UTM source over the range.
    pub breakdown: Duration,
    /// The funnel over the range.
    pub funnel: Duration,
}

/// Writes about `events` events over `days` past days into the store at `url`, and times the queries.
pub async fn measure(url: &str, events: u64, days: u64) -> Result<Outcome> {
    let store = Arc::new(SqlStore::connect(url).await?);
    let config = WriterConfig::default();
    let (writer, task) = Writer::spawn(store.clone(), config);
    let now = SystemClock.now();
    let day_ms = 86_400_000i64;
    let first_day = now.millis() - i64::try_from(days).unwrap_or(30) * day_ms;
    let sources = [None, Some("news"), Some("ads"), Some("social")];
    let devices = ["desktop", "mobile", "tablet"];
    let mut written = 0u64;
    let mut sessions = 0u64;
    let mut n = 0u64;
    while written < events {
        n += 1;
        let start = Timestamp(first_day + i64::try_from(n * 7919 % (days * 86_400)).unwrap_or(0) * 1000);
        let attributes = Attributes {
            device: Some(devices[(n % 3) as usize].into()),
            browser: Some("Chrome".into()),
            os: Some("Windows".into()),
            landing_page: Some("/api/storefront/products".into()),
            utm_source: sources[(n % 4) as usize].map(Into::into),
            ..Attributes::default()
        };
        let mut s = SessionRecord::new(VisitorId::new(), attributes, start);
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
        if n.is_multiple_of(4) {
            let at = Timestamp(s.last_seen_at.millis() + 1000);
            writer
                .send(Record::Event(
                    Event::new(s.id, s.visitor_id, kinds::ADD_TO_CART, at).product("p-1"),
                ))
                .await?;
            written += 1;
        }
        if s.converted {
            let at = Timestamp(s.last_seen_at.millis() + 2000);
            let order = Event::new(s.id, s.visitor_id, kinds::ORDER_COMPLETED, at)
                .metadata(serde_json::json!({"total": 129.99}));
            writer.send(Record::Event(order)).await?;
            written += 1;
        }
        sessions += 1;
    }
    writer.flush().await?;
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        store.clone(),
        Arc::new(writer.clone()),
        Arc::new(SystemClock),
        Policy::default(),
    );
    let from = day_of(Timestamp(first_day)).ok_or_else(|| anyhow::anyhow!("date"))?;
    let to = day_of(now).ok_or_else(|| anyhow::anyhow!("date"))?;
    let timed = Instant::now();
    let rows = engine.daily(from, to).await?;
    let daily_computed = timed.elapsed();
    anyhow::ensure!(
        rows.iter().map(|r| r.figures.sessions).sum::<u64>() == sessions,
        "every session counted"
    );
    engine.rollup(from, to).await?;
    let timed = Instant::now();
    engine.daily(from, to).await?;
    let daily_rolled_up = timed.elapsed();
    let timed = Instant::now();
    let (s, e) = engine.analytics_facts(from, to, None).await?;
    stint_core::analytics::breakdown(&s, &e, "utm_source", 50);
    let breakdown = timed.elapsed();
    let timed = Instant::now();
    let (s, e) = engine
        .analytics_facts(from, to, Some("/api/storefront/products/"))
        .await?;
    let steps = [
        ("visit".to_owned(), StepRule::Visit),
        (
            "product_view".to_owned(),
            StepRule::PageViewUnder("/api/storefront/products/".to_owned()),
        ),
        (
            "add_to_cart".to_owned(),
            StepRule::Event(kinds::ADD_TO_CART.to_owned()),
        ),
        (
            "order_completed".to_owned(),
            StepRule::Event(kinds::ORDER_COMPLETED.to_owned()),
        ),
    ];
    stint_core::analytics::funnel(&s, &e, &steps);
    let funnel = timed.elapsed();
    task.shutdown().await;
    store.close().await;
    Ok(Outcome {
        events: written,
        sessions,
        daily_computed,
        daily_rolled_up,
        breakdown,
        funnel,
    })
}
