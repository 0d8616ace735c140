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

/// An engine over an in-memory SQLite store, with a clock at day one, 10:00.
async fn engine() -> (ManualClock, Arc<SqlStore>, Engine) {
    let clock = ManualClock::new(Timestamp(DAY_ONE_10AM));
    let cold = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    // Its task handle is dropped (detached): the task runs while the engine's writer lives.
    let (writer, _task) = Writer::spawn(cold.clone(), WriterConfig::default());
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        cold.clone(),
        Arc::new(writer),
        Arc::new(clock.clone()),
        Policy::default(),
    );
    (clock, cold, engine)
}

#[tokio::test]
async fn past_days_come_from_rollups_and_today_is_live() {
    let (clock, cold, engine) = engine().await;
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

/// A range's summaries are the same whether its past days come from their
/// rollups or from raw data: every dimension, the funnel, and the visitors
/// (a visitor of several days counts once). An erased visitor leaves the
/// rollups.
#[tokio::test]
async fn rolled_up_days_sum_to_what_raw_data_says() {
    use stint_core::analytics::{
        AttributionQuery, DEFAULT_LOOKBACK, DIMENSIONS, Model, PRODUCT_PAGES, SOURCE_DIMENSIONS, Summary,
    };
    use stint_core::event::{Event, kinds};
    use stint_core::{Hit, Person};

    let (clock, cold, engine) = engine().await;
    let regular = VisitorId::new();
    let product = format!("{PRODUCT_PAGES}p-1");
    for day in 0..3u64 {
        for i in 0..6u64 {
            let n = day * 6 + i;
            let visitor = if i == 0 { regular } else { VisitorId::new() };
            let attributes = Attributes {
                device: Some(["desktop", "mobile"][(n % 2) as usize].into()),
                browser: Some("Firefox".into()),
                os: Some("Linux".into()),
                country: (n % 3 != 0).then(|| "DE".into()),
                city: (n % 3 == 1).then(|| "Berlin".into()),
                landing_page: Some(format!("/api/storefront/products?n={n}").into()),
                referrer: (n % 4 == 0).then(|| "https://www.google.com/search?q=x".into()),
                // The regular visitor first comes from the newsletter.
                utm_source: if n == 0 {
                    Some("newsletter".into())
                } else {
                    [None, Some("news"), Some("ads")][(n % 3) as usize].map(Into::into)
                },
                utm_medium: None,
                utm_campaign: (n % 5 == 0).then(|| "bf".into()),
                ..Attributes::default()
            };
            let (s, token) = engine
                .create(visitor, attributes, Hit::page("/api/storefront/products"))
                .await
                .unwrap();
            clock.advance_secs(30);
            if n % 3 != 2 {
                engine.resume(&token, Hit::page(&product)).await.unwrap();
            }
            if n % 2 == 0 {
                engine
                    .track(Event::new(s.id, s.visitor_id, kinds::ADD_TO_CART, clock.now()))
                    .await
                    .unwrap();
            }
            if n % 4 == 0 {
                engine
                    .track(Event::new(
                        s.id,
                        s.visitor_id,
                        kinds::CHECKOUT_STARTED,
                        clock.now(),
                    ))
                    .await
                    .unwrap();
            }
            if n % 3 == 0 {
                engine
                    .convert(
                        &s.id,
                        &format!("o-{n}"),
                        serde_json::json!({"total": 10.5 + n as f64}),
                    )
                    .await
                    .unwrap();
            }
            if n % 5 == 1 {
                engine.login(&s.id, &format!("c-{n}")).await.unwrap();
            }
            clock.advance_secs(60);
        }
        clock.advance_secs(86_400);
    }
    let first = day_of(Timestamp(DAY_ONE_10AM)).unwrap();
    let today = day_of(clock.now()).unwrap();
    let all_of = |dimension: Option<&'static str>| {
        let engine = engine.clone();
        async move {
            let mut rows: Vec<(Option<String>, Summary)> = engine
                .summaries(first, today, dimension, true)
                .await
                .unwrap()
                .into_iter()
                .collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            rows
        }
    };
    // Every summary: of all sessions, then per dimension.
    let every_summary = || async {
        let mut out = vec![all_of(None).await];
        for d in DIMENSIONS {
            out.push(all_of(Some(d)).await);
        }
        out
    };
    // Every attribution of the default lookback: by model, then by source dimension.
    let every_attribution = || async {
        let mut out = Vec::new();
        for model in [Model::First, Model::Last] {
            for dimension in SOURCE_DIMENSIONS {
                let query = AttributionQuery {
                    model,
                    dimension,
                    lookback: DEFAULT_LOOKBACK,
                    limit: 50,
                };
                let rows = engine.attribution(first, today, &query).await.unwrap();
                out.push(((model, *dimension), rows));
            }
        }
        out
    };
    let raw = every_summary().await;
    let whole = &raw[0][0].1;
    assert_eq!(whole.sessions, 18);
    assert!(
        whole.funnel.iter().all(|&n| n > 0),
        "every step is reached: {whole:?}"
    );
    let by_device = &raw[1];
    assert_eq!(
        by_device.iter().map(|(_, s)| s.visitors.len()).sum::<usize>(),
        15 + 1,
        "the regular visitor (on a desktop each day) counts once over the range"
    );

    let credited = every_attribution().await;
    for ((model, dimension), rows) in &credited {
        assert_eq!(
            rows.iter().map(|r| r.orders).sum::<u64>(),
            6,
            "{model:?} {dimension}: every order credited once"
        );
    }
    let short_raw = engine
        .attribution(
            first,
            today,
            &AttributionQuery {
                model: Model::First,
                dimension: "utm_source",
                lookback: std::time::Duration::from_secs(60),
                limit: 50,
            },
        )
        .await
        .unwrap();
    let first_by_source = &credited
        .iter()
        .find(|(k, _)| *k == (Model::First, "utm_source"))
        .unwrap()
        .1;
    assert_ne!(
        &short_raw, first_by_source,
        "the regular visitor's first visit is a day before their later orders"
    );

    assert_eq!(engine.rollup(first, today).await.unwrap().len(), 3);
    assert_eq!(
        cold.day_summaries("2026-11-20", "2026-11-23", "*")
            .await
            .unwrap()
            .len(),
        3,
        "three days rolled up, today not"
    );
    let rolled = every_summary().await;
    for (i, (r, w)) in rolled.iter().zip(&raw).enumerate() {
        let name = if i == 0 { "all" } else { DIMENSIONS[i - 1] };
        assert_eq!(r, w, "{name}: rolled up as raw");
    }
    // Attribution: the same from the days' credits as from raw data, and a
    // lookback other than the default still answers (from raw data).
    for (rolled, raw) in every_attribution().await.iter().zip(&credited) {
        assert_eq!(rolled, raw, "{:?}: rolled up as raw", raw.0);
    }
    let short = AttributionQuery {
        model: Model::First,
        dimension: "utm_source",
        lookback: std::time::Duration::from_secs(60),
        limit: 50,
    };
    assert_eq!(engine.attribution(first, today, &short).await.unwrap(), short_raw);

    // Raw events gone: the rolled-up days still add up the same.
    cold.delete_events_before(clock.now()).await.unwrap();
    assert_eq!(
        all_of(Some("utm_source")).await,
        raw[DIMENSIONS.iter().position(|d| *d == "utm_source").unwrap() + 1]
    );

    // The regular visitor asks to be forgotten: no summary keeps their id.
    engine.erase(&Person::Visitor(regular)).await.unwrap();
    for d in DIMENSIONS {
        for (_, s) in all_of(Some(d)).await {
            assert!(!s.visitors.contains(&regular), "{d}");
        }
    }
}

/// A range longer than a week is rolled up whole (read a week at a time).
#[tokio::test]
async fn a_long_range_rolls_up_every_day() {
    let (clock, cold, engine) = engine().await;
    let first = day_of(clock.now()).unwrap();
    for _ in 0..10 {
        engine
            .create(VisitorId::new(), tracked(), Hit::page("/api/storefront/products"))
            .await
            .unwrap();
        clock.advance_secs(86_400);
    }
    let today = day_of(clock.now()).unwrap();
    let rows = engine.rollup(first, today).await.unwrap();
    assert_eq!(rows.len(), 10, "every day that is over, none twice");
    assert!(rows.iter().all(|r| r.figures.sessions == 1));
    let marked = cold.day_summaries("2026-11-20", "2026-12-01", "*").await.unwrap();
    assert_eq!(marked.len(), 10);
}
