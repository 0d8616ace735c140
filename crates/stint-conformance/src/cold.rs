//! The cold-store cases.

use std::sync::Arc;

use serde_json::json;
use stint_core::event::{Event, kinds};
use stint_core::store::{ColdStore, EndReason, Record, SessionQuery};
use stint_core::{Attributes, Policy, SessionKind, SessionRecord, Timestamp, Token, TokenHash, VisitorId};

const T0: Timestamp = Timestamp(1_795_000_000_000);

fn policy() -> Policy {
    Policy {
        idle_timeout: std::time::Duration::from_secs(1800),
        max_age: std::time::Duration::from_secs(7200),
        rotation_grace: std::time::Duration::from_secs(10),
        active_window: std::time::Duration::from_secs(300),
    }
}

fn session(at: Timestamp) -> SessionRecord {
    SessionRecord::new(
        VisitorId::new(),
        Attributes {
            ip_address: Some("203.0.113.0".into()),
            device: Some("mobile".into()),
            browser: Some("Mobile Safari".into()),
            os: Some("iOS".into()),
            country: Some("DE".into()),
            city: None,
            landing_page: Some("/api/storefront/products?utm_source=news".into()),
            referrer: Some("https://www.google.com/".into()),
            utm_source: Some("news".into()),
            utm_medium: None,
            utm_campaign: Some("bf".into()),
        },
        at,
    )
}

async fn put(store: &Arc<dyn ColdStore>, s: &SessionRecord) -> TokenHash {
    let t = Token::generate().hash();
    store
        .write(&[Record::Snapshot {
            session: s.clone(),
            token: Some(t),
        }])
        .await
        .unwrap();
    t
}

/// An open session is found by id with its current token (the one of its
/// newest snapshot that named one); an ended one is not.
pub async fn open_sessions_are_found_with_their_current_token(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    put(&store, &s).await;
    let second = put(&store, &s).await;
    let (found, token) = store.open_session(&s.id).await.unwrap().unwrap();
    assert_eq!((found.id, token), (s.id, second));
    store
        .write(&[Record::End {
            id: s.id,
            at: T0.plus_secs(1),
            reason: EndReason::Logout,
        }])
        .await
        .unwrap();
    assert!(store.open_session(&s.id).await.unwrap().is_none());
    assert!(store.open_session(&session(T0).id).await.unwrap().is_none());
}

/// What is written is read back, by id and by current token.
pub async fn snapshots_are_found_by_id_and_token(store: Arc<dyn ColdStore>) {
    let mut s = session(T0);
    s.page_views = 3;
    s.data = Arc::new(
        json!({"cart": [{"productId": "p1", "quantity": 2}]})
            .as_object()
            .unwrap()
            .clone(),
    );
    let t = put(&store, &s).await;
    assert_eq!(store.session(&s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.session_by_token(&t).await.unwrap(), Some(s.clone()));
    assert_eq!(
        store.session_by_token(&Token::generate().hash()).await.unwrap(),
        None
    );
    assert_eq!(store.session(&session(T0).id).await.unwrap(), None);
}

/// A snapshot of an older version never overwrites a newer one; a snapshot
/// without a token keeps the stored token.
pub async fn newer_snapshots_win_in_any_order(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    let t = put(&store, &s).await;
    let mut v2 = s.clone();
    v2.version = 2;
    v2.kind = SessionKind::Customer;
    v2.customer_id = Some("c-1".into());
    let mut v1 = s.clone();
    v1.version = 1;
    v1.data = Arc::new(json!({"old": true}).as_object().unwrap().clone());
    store
        .write(&[
            Record::Snapshot {
                session: v2.clone(),
                token: None,
            },
            Record::Snapshot {
                session: v1,
                token: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.session(&s.id).await.unwrap(), Some(v2.clone()));
    assert_eq!(
        store.session_by_token(&t).await.unwrap().map(|x| x.version),
        Some(2)
    );
    let rotated = Token::generate().hash();
    let mut v3 = v2.clone();
    v3.version = 3;
    store
        .write(&[Record::Snapshot {
            session: v3,
            token: Some(rotated),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.session_by_token(&t).await.unwrap(),
        None,
        "the replaced token is gone"
    );
    assert_eq!(
        store.session_by_token(&rotated).await.unwrap().map(|x| x.version),
        Some(3)
    );
}

/// Page views move the counters and `last_seen_at` forward only.
pub async fn page_views_advance_counters_and_never_rewind(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    put(&store, &s).await;
    let pv = |n: u64, at: Timestamp| Record::PageView {
        event: Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, at).page("/p"),
        page_views: n,
    };
    store
        .write(&[pv(3, T0.plus_secs(30)), pv(2, T0.plus_secs(20))])
        .await
        .unwrap();
    let got = store.session(&s.id).await.unwrap().unwrap();
    assert_eq!((got.page_views, got.last_seen_at), (3, T0.plus_secs(30)));
    // A snapshot taken earlier does not rewind them either.
    let mut stale = s.clone();
    stale.version = 1;
    store
        .write(&[Record::Snapshot {
            session: stale,
            token: None,
        }])
        .await
        .unwrap();
    let got = store.session(&s.id).await.unwrap().unwrap();
    assert_eq!(
        (got.page_views, got.last_seen_at, got.version),
        (3, T0.plus_secs(30), 1)
    );
    assert_eq!(store.events(&s.id).await.unwrap().len(), 2);
}

/// Events come back oldest first with every field; the same event twice is stored once.
pub async fn events_are_kept_in_order_and_written_once(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    put(&store, &s).await;
    let late = Event::new(s.id, s.visitor_id, kinds::ORDER_COMPLETED, T0.plus_secs(9))
        .metadata(json!({"orderId": "o-1", "total": 12.5}));
    let early = Event::new(s.id, s.visitor_id, kinds::ADD_TO_CART, T0.plus_secs(1))
        .product("p-1")
        .page("/api/storefront/cart/items");
    store
        .write(&[Record::Event(late.clone()), Record::Event(early.clone())])
        .await
        .unwrap();
    store.write(&[Record::Event(late.clone())]).await.unwrap();
    let events = store.events(&s.id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, "add_to_cart");
    assert_eq!(events[0].product_id.as_deref(), Some("p-1"));
    assert_eq!(events[0].page.as_deref(), Some("/api/storefront/cart/items"));
    assert_eq!(events[1].metadata, Some(json!({"orderId": "o-1", "total": 12.5})));
    assert_eq!(events[1].at, T0.plus_secs(9));
    assert_eq!(events[1].id, late.id);
    assert!(store.events(&session(T0).id).await.unwrap().is_empty());
}

/// Each session's events are its own, in order, however they interleave in
/// time with other sessions' (an order an hour after the last page view
/// included); erasing one session leaves the others' alone; and analytics
/// counts each session's events besides page views, which decide a bounce.
pub async fn interleaved_sessions_keep_their_own_events(store: Arc<dyn ColdStore>) {
    let sessions: Vec<SessionRecord> = (0..3).map(|i| session(T0.plus_secs(10 * i))).collect();
    for s in &sessions {
        put(&store, s).await;
    }
    let mut written: Vec<Vec<Event>> = vec![Vec::new(); 3];
    let mut batch = Vec::new();
    for n in 0..30u64 {
        let i = (n % 3) as usize;
        let s = &sessions[i];
        let e = Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, T0.plus_secs(20 + 7 * n)).page("/p");
        written[i].push(e.clone());
        batch.push(Record::PageView {
            event: e,
            page_views: n / 3 + 1,
        });
    }
    // The second session comes back an hour later to order; the third adds
    // to its cart between two page views.
    let (order, cart) = (
        Event::new(
            sessions[1].id,
            sessions[1].visitor_id,
            kinds::ORDER_COMPLETED,
            T0.plus_secs(3600),
        )
        .metadata(json!({"total": 20.0})),
        Event::new(
            sessions[2].id,
            sessions[2].visitor_id,
            kinds::ADD_TO_CART,
            T0.plus_secs(50),
        ),
    );
    written[1].push(order.clone());
    written[2].insert(1, cart.clone());
    batch.push(Record::Event(cart));
    store.write(&batch).await.unwrap();
    store.write(&[Record::Event(order)]).await.unwrap();
    for (s, mine) in sessions.iter().zip(&written) {
        let ids: Vec<_> = store.events(&s.id).await.unwrap().iter().map(|e| e.id).collect();
        let want: Vec<_> = mine.iter().map(|e| e.id).collect();
        assert_eq!(ids, want, "session {}", s.id);
    }
    let (facts, events) = store
        .analytics_facts(T0, T0.plus_secs(86_400), None)
        .await
        .unwrap();
    let other = |i: usize| {
        facts
            .iter()
            .find(|f| f.id == sessions[i].id)
            .map(|f| f.other_events)
    };
    assert_eq!((other(0), other(1), other(2)), (Some(0), Some(1), Some(1)));
    assert_eq!(
        events.len(),
        2,
        "the order and the cart, no page view: {events:?}"
    );
    assert_eq!(store.erase(&[sessions[1].id]).await.unwrap(), 1);
    assert!(store.events(&sessions[1].id).await.unwrap().is_empty());
    for i in [0, 2] {
        assert_eq!(
            store.events(&sessions[i].id).await.unwrap().len(),
            written[i].len()
        );
    }
}

/// After an end, no snapshot reopens the session or brings its token back.
pub async fn an_ended_session_stays_ended(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    let t = put(&store, &s).await;
    store
        .write(&[Record::End {
            id: s.id,
            at: T0.plus_secs(5),
            reason: EndReason::Revoked,
        }])
        .await
        .unwrap();
    let mut newer = s.clone();
    newer.version = 9;
    store
        .write(&[Record::Snapshot {
            session: newer,
            token: Some(t),
        }])
        .await
        .unwrap();
    let got = store.session(&s.id).await.unwrap().unwrap();
    assert_eq!(got.ended_at, Some(T0.plus_secs(5)));
    assert_eq!(store.session_by_token(&t).await.unwrap(), None);
    // An end for a session never seen is harmless.
    store
        .write(&[Record::End {
            id: session(T0).id,
            at: T0,
            reason: EndReason::Logout,
        }])
        .await
        .unwrap();
}

/// Filters, newest first, and the cursor.
pub async fn listing_filters_and_pages(store: Arc<dyn ColdStore>) {
    let mut all = Vec::new();
    for i in 0..5u64 {
        let mut s = session(T0.plus_secs(i));
        if i % 2 == 0 {
            s.kind = SessionKind::Customer;
            s.customer_id = Some("c-list".into());
        }
        if i == 4 {
            s.converted = true;
            s.order_id = Some("o-4".into());
        }
        put(&store, &s).await;
        all.push(s);
    }
    store
        .write(&[Record::End {
            id: all[0].id,
            at: T0.plus_secs(60),
            reason: EndReason::Logout,
        }])
        .await
        .unwrap();
    let now = T0.plus_secs(120);
    let ids = |v: Vec<SessionRecord>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let q = |f: &dyn Fn(&mut SessionQuery)| {
        let mut q = SessionQuery {
            limit: 100,
            now,
            ..SessionQuery::default()
        };
        f(&mut q);
        q
    };
    let mine = ids(store
        .sessions(&q(&|q| q.customer_id = Some("c-list".into())))
        .await
        .unwrap());
    assert_eq!(mine, vec![all[4].id, all[2].id, all[0].id]);
    let converted = ids(store.sessions(&q(&|q| q.converted = Some(true))).await.unwrap());
    assert_eq!(converted, vec![all[4].id]);
    let active = ids(store
        .sessions(&q(&|q| {
            q.active = Some(true);
            q.customer_id = Some("c-list".into());
        }))
        .await
        .unwrap());
    assert_eq!(active, vec![all[4].id, all[2].id]);
    let inactive = ids(store
        .sessions(&q(&|q| {
            q.active = Some(false);
            q.customer_id = Some("c-list".into());
        }))
        .await
        .unwrap());
    assert_eq!(inactive, vec![all[0].id]);
    let visitor = all[1].visitor_id;
    let by_visitor = ids(store
        .sessions(&q(&|q| q.visitor_id = Some(visitor)))
        .await
        .unwrap());
    assert_eq!(by_visitor, vec![all[1].id]);
    // Two pages of two, then the rest.
    let first = ids(store
        .sessions(&q(&|q| {
            q.customer_id = Some("c-list".into());
            q.limit = 2;
        }))
        .await
        .unwrap());
    assert_eq!(first, vec![all[4].id, all[2].id]);
    let cursor = first[1];
    let second = ids(store
        .sessions(&q(&|q| {
            q.customer_id = Some("c-list".into());
            q.limit = 2;
            q.before = Some(cursor);
        }))
        .await
        .unwrap());
    assert_eq!(second, vec![all[0].id]);
    // After the idle timeout nobody is active.
    let later = store
        .sessions(&SessionQuery {
            active: Some(true),
            limit: 100,
            now: T0.plus_secs(4000),
            customer_id: Some("c-list".into()),
            ..SessionQuery::default()
        })
        .await
        .unwrap();
    assert!(later.is_empty());
}

/// A customer's open sessions seen since the cut-off.
pub async fn customer_sessions_are_the_open_ones(store: Arc<dyn ColdStore>) {
    let mk = |at: Timestamp| {
        let mut s = session(at);
        s.kind = SessionKind::Customer;
        s.customer_id = Some("c-open".into());
        s
    };
    let (a, b, old) = (mk(T0.plus_secs(100)), mk(T0.plus_secs(200)), mk(T0));
    for s in [&a, &b, &old] {
        put(&store, s).await;
    }
    store
        .write(&[Record::End {
            id: b.id,
            at: T0.plus_secs(300),
            reason: EndReason::Revoked,
        }])
        .await
        .unwrap();
    let got = store.customer_sessions("c-open", T0.plus_secs(50)).await.unwrap();
    assert_eq!(got.into_iter().map(|s| s.id).collect::<Vec<_>>(), vec![a.id]);
}

/// The closing job ends expired sessions at the moment they expired.
pub async fn expired_sessions_are_closed(store: Arc<dyn ColdStore>) {
    let idle = session(T0);
    let mut long = session(T0);
    long.last_seen_at = T0.plus_secs(7000);
    let fresh = session(T0.plus_secs(7000));
    for s in [&idle, &long, &fresh] {
        put(&store, s).await;
    }
    let n = store.close_expired(T0.plus_secs(7300), &policy()).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        store.session(&idle.id).await.unwrap().unwrap().ended_at,
        Some(T0.plus_secs(1800))
    );
    assert_eq!(
        store.session(&long.id).await.unwrap().unwrap().ended_at,
        Some(T0.plus_secs(7200))
    );
    assert_eq!(store.session(&fresh.id).await.unwrap().unwrap().ended_at, None);
    assert_eq!(
        store.close_expired(T0.plus_secs(7300), &policy()).await.unwrap(),
        0
    );
    assert_eq!(store.stats().await.unwrap().open_sessions, 1);
}

/// A batch written twice (a retry after an unclear failure) counts once.
pub async fn batches_are_idempotent(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    let batch = vec![
        Record::Snapshot {
            session: s.clone(),
            token: Some(Token::generate().hash()),
        },
        Record::Event(Event::new(s.id, s.visitor_id, kinds::SESSION_START, T0)),
        Record::PageView {
            event: Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, T0).page("/"),
            page_views: 1,
        },
    ];
    store.write(&batch).await.unwrap();
    let once = store.stats().await.unwrap();
    store.write(&batch).await.unwrap();
    assert_eq!(store.stats().await.unwrap(), once);
    assert_eq!((once.sessions, once.events), (1, 2));
    store.ping().await.unwrap();
}

/// Erasure deletes the sessions named and their events, and nothing else.
pub async fn erasure_deletes_sessions_and_their_events(store: Arc<dyn ColdStore>) {
    let (gone, kept) = (session(T0), session(T0));
    for s in [&gone, &kept] {
        put(&store, s).await;
        store
            .write(&[Record::Event(Event::new(
                s.id,
                s.visitor_id,
                kinds::SESSION_START,
                T0,
            ))])
            .await
            .unwrap();
    }
    assert_eq!(store.erase(&[gone.id]).await.unwrap(), 1);
    assert_eq!(store.session(&gone.id).await.unwrap(), None);
    assert!(store.events(&gone.id).await.unwrap().is_empty());
    assert!(store.session(&kept.id).await.unwrap().is_some());
    assert_eq!(store.events(&kept.id).await.unwrap().len(), 1);
    assert_eq!(
        store.erase(&[gone.id]).await.unwrap(),
        0,
        "erasing twice is harmless"
    );
    assert_eq!(store.erase(&[]).await.unwrap(), 0);
}

/// Retention deletes the events before the cut-off, and keeps the sessions.
pub async fn retention_deletes_old_events_only(store: Arc<dyn ColdStore>) {
    let s = session(T0);
    put(&store, &s).await;
    let at = |secs| {
        Record::Event(Event::new(
            s.id,
            s.visitor_id,
            kinds::ADD_TO_CART,
            T0.plus_secs(secs),
        ))
    };
    store.write(&[at(0), at(10), at(20)]).await.unwrap();
    assert_eq!(store.delete_events_before(T0.plus_secs(10)).await.unwrap(), 1);
    let left: Vec<_> = store
        .events(&s.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(left, vec![T0.plus_secs(10), T0.plus_secs(20)]);
    assert!(store.session(&s.id).await.unwrap().is_some());
    assert_eq!(store.delete_events_before(T0.plus_secs(10)).await.unwrap(), 0);
}

/// A day rolled up twice is one row, the last; rows come back by date.
pub async fn rollups_replace_and_read_back(store: Arc<dyn ColdStore>) {
    use stint_core::analytics::{DayRow, Figures};
    let row = |date: &str, sessions: u64| DayRow {
        date: date.to_owned(),
        figures: Figures {
            visitors: 2,
            sessions,
            page_views: 7,
            bounce_rate: 0.3333,
            avg_session_seconds: 61.5,
            logins: 1,
            conversions: 1,
            conversion_rate: 0.3333,
            revenue: 129.99,
        },
    };
    store
        .save_rollups(&[row("2026-11-21", 3), row("2026-11-20", 1)], T0)
        .await
        .unwrap();
    store.save_rollups(&[row("2026-11-21", 3)], T0).await.unwrap();
    assert_eq!(
        store.rollups("2026-11-01", "2026-11-30").await.unwrap(),
        vec![row("2026-11-20", 1), row("2026-11-21", 3)]
    );
    store.save_rollups(&[row("2026-11-20", 4)], T0).await.unwrap();
    assert_eq!(
        store.rollups("2026-11-20", "2026-11-20").await.unwrap(),
        vec![row("2026-11-20", 4)]
    );
    assert!(
        store
            .rollups("2026-12-01", "2026-12-31")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Real time's top pages: page views at or after the cut-off, most viewed
/// first, ties by page, at most `limit`; other kinds of events do not count.
pub async fn top_pages_count_recent_page_views(store: Arc<dyn ColdStore>) {
    let start = T0.plus_secs(10 * 86_400);
    let s = session(start);
    put(&store, &s).await;
    let view = |page: &str, secs| {
        let mut e = Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, start.plus_secs(secs));
        e.page = Some(page.to_owned());
        Record::Event(e)
    };
    let mut cart = Event::new(s.id, s.visitor_id, kinds::ADD_TO_CART, start.plus_secs(70));
    cart.page = Some("/cart".to_owned());
    store
        .write(&[
            view("/old", 0),
            view("/old", 1),
            view("/old", 2),
            view("/b", 60),
            view("/a", 61),
            view("/c", 62),
            view("/c", 63),
            Record::Event(cart),
        ])
        .await
        .unwrap();
    let top = store.top_pages(start.plus_secs(60), 10).await.unwrap();
    let got: Vec<(&str, u64)> = top.iter().map(|p| (p.page.as_str(), p.page_views)).collect();
    assert_eq!(got, [("/c", 2), ("/a", 1), ("/b", 1)]);
    assert_eq!(store.top_pages(start.plus_secs(60), 1).await.unwrap().len(), 1);
    let all = store.top_pages(start, 10).await.unwrap();
    assert_eq!((all[0].page.as_str(), all[0].page_views), ("/old", 3));
    assert!(
        store
            .top_pages(start.plus_secs(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Attribution's facts: the orders of the range in tracked sessions, with
/// each order's own session and the same visitor's sessions since the
/// lookback's start; nothing of other visitors, untracked sessions or
/// orders outside the range.
pub async fn attribution_facts_bring_orders_and_their_visitors_sessions(store: Arc<dyn ColdStore>) {
    const DAY: u64 = 86_400;
    let from = T0.plus_secs(40 * DAY);
    let (to, since) = (from.plus_secs(DAY), T0.plus_secs(10 * DAY));
    let with = |at: Timestamp, visitor: VisitorId, utm: Option<&str>, tracked: bool| {
        let mut s = session(at);
        s.visitor_id = visitor;
        let mut a = (*s.attributes).clone();
        a.utm_source = utm.map(Into::into);
        if !tracked {
            a = Attributes::default();
        }
        s.attributes = Arc::new(a);
        s
    };
    let order = |s: &SessionRecord, at: Timestamp, total: f64| {
        let mut e = Event::new(s.id, s.visitor_id, kinds::ORDER_COMPLETED, at);
        e.metadata = Some(json!({ "total": total }));
        Record::Event(e)
    };
    let (ann, ben, cy, dot) = (
        VisitorId::new(),
        VisitorId::new(),
        VisitorId::new(),
        VisitorId::new(),
    );
    let too_early = with(T0, ann, Some("old"), true);
    let newsletter = with(T0.plus_secs(20 * DAY), ann, Some("news"), true);
    let search = with(from.plus_secs(60), ann, None, true);
    let untracked = with(from.plus_secs(60), ben, None, false);
    let browsing = with(from.plus_secs(60), cy, Some("ads"), true);
    // Dot's session started before the lookback and ordered in the range.
    let long = with(T0.plus_secs(5 * DAY), dot, Some("mail"), true);
    for s in [&too_early, &newsletter, &search, &untracked, &browsing, &long] {
        put(&store, s).await;
    }
    store
        .write(&[
            order(&newsletter, T0.plus_secs(20 * DAY + 60), 5.0),
            order(&search, from.plus_secs(120), 50.0),
            order(&untracked, from.plus_secs(120), 70.0),
            order(&long, from.plus_secs(180), 20.5),
            order(&search, to.plus_secs(1), 9.0),
        ])
        .await
        .unwrap();
    let (orders, sources) = store.attribution_facts(from, to, since).await.unwrap();
    let got: Vec<_> = orders
        .iter()
        .map(|o| (o.session_id, o.visitor_id, o.at, o.total))
        .collect();
    assert_eq!(
        got,
        [
            (search.id, ann, from.plus_secs(120), 50.0),
            (long.id, dot, from.plus_secs(180), 20.5)
        ]
    );
    let mut ids: Vec<_> = sources.iter().map(|s| s.id).collect();
    ids.sort();
    let mut want = vec![newsletter.id, search.id, long.id];
    want.sort();
    assert_eq!(ids, want);
    let news = sources.iter().find(|s| s.id == newsletter.id).unwrap();
    assert_eq!((news.visitor_id, news.started_at), (ann, newsletter.started_at));
    assert_eq!(news.dimensions["utm_source"].as_deref(), Some("news"));
    assert_eq!(
        news.dimensions["referrer"].as_deref(),
        Some("https://www.google.com/")
    );
}

/// Day summaries read back as stored, by dimension and date range; saving
/// a day again replaces all of that day's; erasing a session takes its
/// visitor out of the summaries of the day it started.
pub async fn day_summaries_replace_and_read_back(store: Arc<dyn ColdStore>) {
    use stint_core::analytics::{ALL, DaySummary, Summary};
    let s = session(T0);
    put(&store, &s).await;
    let date = stint_core::analytics::day_of(T0).unwrap().to_string();
    let other = VisitorId::new();
    let mut both = vec![s.visitor_id, other];
    both.sort();
    let summary = |sessions: u64, visitors: Vec<VisitorId>| Summary {
        sessions,
        page_views: 7,
        bounces: 1,
        seconds: 345,
        logins: 2,
        conversions: 1,
        revenue: 59.98,
        funnel: vec![sessions, 1, 0, 0, 0],
        visitors,
    };
    let row = |dimension: &str, value: Option<&str>, summary: Summary| DaySummary {
        date: date.clone(),
        dimension: dimension.to_owned(),
        value: value.map(str::to_owned),
        summary,
    };
    let first = vec![
        row(ALL, None, summary(3, Vec::new())),
        row("device", Some("mobile"), summary(2, both.clone())),
        row("device", None, summary(1, vec![other])),
        row("utm_source", Some("news"), summary(3, both.clone())),
    ];
    store.save_day_summaries(&date, &first).await.unwrap();
    let mut devices = store.day_summaries(&date, &date, "device").await.unwrap();
    devices.sort_by(|a, b| a.value.cmp(&b.value));
    assert_eq!(devices, [first[2].clone(), first[1].clone()]);
    assert_eq!(
        store.day_summaries(&date, &date, ALL).await.unwrap(),
        [first[0].clone()]
    );
    assert!(
        store
            .day_summaries("1999-01-01", "1999-12-31", ALL)
            .await
            .unwrap()
            .is_empty()
    );

    let again = vec![row(ALL, None, summary(4, Vec::new()))];
    store.save_day_summaries(&date, &again).await.unwrap();
    assert_eq!(store.day_summaries(&date, &date, ALL).await.unwrap(), again);
    assert!(
        store
            .day_summaries(&date, &date, "device")
            .await
            .unwrap()
            .is_empty(),
        "a day saved again keeps none of its earlier rows"
    );

    store.save_day_summaries(&date, &first).await.unwrap();
    store.erase(&[s.id]).await.unwrap();
    let news = store.day_summaries(&date, &date, "utm_source").await.unwrap();
    assert_eq!(news[0].summary.visitors, [other], "the erased visitor is gone");
    assert_eq!(news[0].summary.sessions, 3, "the anonymous sums stay");
    let none = store.day_summaries(&date, &date, "device").await.unwrap();
    assert!(
        none.iter()
            .any(|r| r.value.is_none() && r.summary.visitors == [other])
    );
}
