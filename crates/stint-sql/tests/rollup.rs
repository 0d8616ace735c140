//! Rollups through the engine, with a clock the test moves: past days are
//! rolled up once and for all (twice gives the same row), their figures
//! outlive the raw events, and today stays live.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_core::analytics::day_of;
use stint_core::{
    AnalyticsStore, Attributes, Clock, Engine, Hit, ManualClock, Policy, PrivacyStore, Timestamp, VisitorId,
};
use stint_memory::MemoryStore;
use stint_sql::{SqlStore, Writer, WriterConfig};

// 2026-11-20T10:00:00Z
const DAY_ONE_10AM: i64 = 1_795_132_800_000 + 10 * 3_600_000;

fn tracked() -> Attributes {
    Attributes {
        landing_page: Some("/api/storefront/products".into()),
        ..Attributes::default()
    }
}

#[tokio::test]
async fn past_days_come_from_rollups_and_today_is_live() {
    let clock = ManualClock::new(Timestamp(DAY_ONE_10AM));
    let cold = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let (writer, _task) = Writer::spawn(cold.clone(), WriterConfig::default());
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        cold.clone(),
        Arc::new(writer),
        Arc::new(clock.clone()),
        Policy::default(),
    );
    let visitor = VisitorId::new();
    for _ in 0..2 {
        engine
            .create(visitor, tracked(), Hit::page("/api/storefront/products"))
            .await
            .unwrap();
    }
    let day_one = day_of(clock.now()).unwrap();
    assert!(
        engine.rollup(day_one, day_one).await.unwrap().is_empty(),
        "today is never rolled up"
    );

    clock.advance_secs(86_400);
    let day_two = day_of(clock.now()).unwrap();
    engine
        .create(VisitorId::new(), tracked(), Hit::page("/"))
        .await
        .unwrap();

    let first = engine.rollup(day_one, day_two).await.unwrap();
    assert_eq!(first.len(), 1, "only the day that is over");
    assert_eq!(
        (
            first[0].figures.sessions,
            first[0].figures.visitors,
            first[0].figures.page_views
        ),
        (2, 1, 2)
    );
    assert_eq!(
        engine.rollup(day_one, day_one).await.unwrap(),
        first,
        "idempotent"
    );
    assert_eq!(cold.rollups("2026-11-20", "2026-11-21").await.unwrap(), first);

    // Raw data goes (retention, or even erasure of the sessions); the day's figures stay.
    cold.delete_events_before(clock.now()).await.unwrap();
    let days = engine.daily(day_one, day_two).await.unwrap();
    assert_eq!(days[0], first[0]);
    assert_eq!(
        (days[1].date.as_str(), days[1].figures.sessions),
        ("2026-11-21", 1),
        "today is live"
    );
}
