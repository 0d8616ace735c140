//! The hot-store cases.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Value, json};
use stint_core::store::{DataOp, HotStore, Lookup, Touch, Update};
use stint_core::{
    Attributes, Error, Policy, SessionId, SessionKind, SessionRecord, Timestamp, Token, TokenHash, VisitorId,
};

const T0: Timestamp = Timestamp(1_795_000_000_000);

fn policy() -> Policy {
    Policy {
        idle_timeout: std::time::Duration::from_secs(1800),
        max_age: std::time::Duration::from_secs(7200),
        rotation_grace: std::time::Duration::from_secs(10),
        active_window: std::time::Duration::from_secs(300),
    }
}

fn touch(at: Timestamp, page_view: bool) -> Touch {
    Touch {
        now: at,
        page_view,
        policy: policy(),
    }
}

/// A session of `visitor` and a token of it, in one shard, as the engine makes them.
fn session_of(visitor: VisitorId, at: Timestamp) -> (SessionRecord, TokenHash) {
    let t = Token::generate().hash();
    let mut s = SessionRecord::new(visitor, Attributes::default(), at);
    s.id = SessionId::for_token(&t);
    (s, t)
}

async fn new_session(store: &Arc<dyn HotStore>, at: Timestamp) -> (SessionRecord, TokenHash) {
    let (s, t) = session_of(VisitorId::new(), at);
    store.insert(&s, &t, &policy()).await.unwrap();
    (s, t)
}

/// A new token for the session `s`, as a login draws it.
fn next_token(s: &SessionRecord) -> TokenHash {
    Token::generate_for(&s.id).hash()
}

fn current(l: Lookup) -> SessionRecord {
    match l {
        Lookup::Current(s) => s,
        other => panic!("expected the current session, got {other:?}"),
    }
}

/// A page view increments the count and moves `last_seen_at`; other requests only move it.
pub async fn resume_counts_page_views_and_slides_the_idle_timeout(store: Arc<dyn HotStore>) {
    let (s, t) = new_session(&store, T0).await;
    let a = current(store.resume(&t, &touch(T0.plus_secs(1000), true)).await.unwrap());
    assert_eq!(
        (a.id, a.page_views, a.last_seen_at),
        (s.id, 1, T0.plus_secs(1000))
    );
    let b = current(store.resume(&t, &touch(T0.plus_secs(2000), false)).await.unwrap());
    assert_eq!((b.page_views, b.last_seen_at), (1, T0.plus_secs(2000)));
    // 2000 s after the start but only 1000 s idle: alive thanks to the slide.
    let c = current(store.resume(&t, &touch(T0.plus_secs(3000), true)).await.unwrap());
    assert_eq!(c.page_views, 2);
    assert_eq!(store.get(&s.id).await.unwrap().unwrap().page_views, 2);
}

/// A token nobody issued finds nothing.
pub async fn unknown_tokens_find_nothing(store: Arc<dyn HotStore>) {
    new_session(&store, T0).await;
    let lookup = store
        .resume(&Token::generate().hash(), &touch(T0, true))
        .await
        .unwrap();
    assert_eq!(lookup, Lookup::Missing);
}

/// Idle past the timeout: the session is gone, by token and by id.
pub async fn idle_sessions_expire(store: Arc<dyn HotStore>) {
    let (s, t) = new_session(&store, T0).await;
    current(store.resume(&t, &touch(T0.plus_secs(1799), true)).await.unwrap());
    let late = T0.plus_secs(1799 + 1800);
    assert_eq!(
        store.resume(&t, &touch(late, true)).await.unwrap(),
        Lookup::Missing
    );
    assert_eq!(store.get(&s.id).await.unwrap(), None);
}

/// Activity cannot keep a session alive past its absolute lifetime.
pub async fn the_absolute_lifetime_is_enforced(store: Arc<dyn HotStore>) {
    let (_, t) = new_session(&store, T0).await;
    let mut at = T0;
    while at < T0.plus_secs(7200 - 1200) {
        at = at.plus_secs(1200);
        current(store.resume(&t, &touch(at, true)).await.unwrap());
    }
    assert_eq!(
        store.resume(&t, &touch(T0.plus_secs(7200), true)).await.unwrap(),
        Lookup::Missing
    );
}

/// Login: the new token finds the customer session; the old one finds it as
/// anonymous during the grace window, then nothing.
pub async fn login_rotates_the_token_with_a_grace_window(store: Arc<dyn HotStore>) {
    let (s, old) = new_session(&store, T0).await;
    let new = next_token(&s);
    let update = Update {
        customer_id: Some("c-1".into()),
        new_token: Some((new, T0.plus_secs(10))),
        ..Update::default()
    };
    let after = store.update(&s.id, &update).await.unwrap().unwrap();
    assert_eq!(
        (after.id, after.kind, after.customer_id.as_deref()),
        (s.id, SessionKind::Customer, Some("c-1"))
    );
    let a = current(store.resume(&new, &touch(T0.plus_secs(1), true)).await.unwrap());
    assert_eq!((a.id, a.kind), (s.id, SessionKind::Customer));
    match store.resume(&old, &touch(T0.plus_secs(5), true)).await.unwrap() {
        Lookup::Superseded(x) => {
            assert_eq!(
                (x.id, x.kind, x.customer_id),
                (s.id, SessionKind::Anonymous, None)
            );
            assert_eq!(
                x.page_views, 2,
                "a superseded request still counts on the same session"
            );
        }
        other => panic!("expected the superseded session, got {other:?}"),
    }
    assert_eq!(
        store.resume(&old, &touch(T0.plus_secs(10), true)).await.unwrap(),
        Lookup::Missing
    );
    current(store.resume(&new, &touch(T0.plus_secs(11), true)).await.unwrap());
}

/// Two updates of different keys both survive; a removal removes; versions grow.
pub async fn data_updates_touch_only_their_keys(store: Arc<dyn HotStore>) {
    let (s, _) = new_session(&store, T0).await;
    let set = |k: &str, v: Value| Update {
        data: vec![DataOp::Set(k.into(), v)],
        ..Update::default()
    };
    let a = store.update(&s.id, &set("a", json!(1))).await.unwrap().unwrap();
    let b = store
        .update(&s.id, &set("b", json!({"x": [1, 2]})))
        .await
        .unwrap()
        .unwrap();
    assert!(b.version > a.version && a.version > s.version);
    assert_eq!(b.data.get("a"), Some(&json!(1)));
    assert_eq!(b.data.get("b"), Some(&json!({"x": [1, 2]})));
    let remove = Update {
        data: vec![DataOp::Remove("a".into())],
        ..Update::default()
    };
    let c = store.update(&s.id, &remove).await.unwrap().unwrap();
    assert_eq!(c.data.get("a"), None);
    assert_eq!(
        store.get(&s.id).await.unwrap().unwrap().data.get("b"),
        Some(&json!({"x": [1, 2]}))
    );
}

/// Fifty parallel read-modify-writes of one key all land.
pub async fn modify_is_atomic_under_parallel_requests(store: Arc<dyn HotStore>) {
    let (s, _) = new_session(&store, T0).await;
    let tasks = (0..50).map(|_| {
        let store = Arc::clone(&store);
        let id = s.id;
        tokio::spawn(async move {
            let inc = |v: Option<&Value>| Ok(json!(v.and_then(Value::as_u64).unwrap_or(0) + 1));
            store.modify(&id, "n", &inc).await.unwrap().unwrap();
        })
    });
    for r in join_all(tasks).await {
        r.unwrap();
    }
    assert_eq!(
        store.get(&s.id).await.unwrap().unwrap().data.get("n"),
        Some(&json!(50))
    );
}

/// A hundred parallel page views are a hundred page views.
pub async fn parallel_page_views_are_all_counted(store: Arc<dyn HotStore>) {
    let (s, t) = new_session(&store, T0).await;
    let tasks = (0..100).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            current(store.resume(&t, &touch(T0.plus_secs(i), true)).await.unwrap()).page_views
        })
    });
    let mut seen: Vec<u64> = join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=100).collect::<Vec<u64>>(),
        "every request saw its own count"
    );
    assert_eq!(store.get(&s.id).await.unwrap().unwrap().page_views, 100);
}

/// A modify that refuses leaves the value and the version as they were.
pub async fn a_refused_modify_changes_nothing(store: Arc<dyn HotStore>) {
    let (s, _) = new_session(&store, T0).await;
    let set = Update {
        data: vec![DataOp::Set("k".into(), json!("v"))],
        ..Update::default()
    };
    let before = store.update(&s.id, &set).await.unwrap().unwrap();
    let refuse = |_: Option<&Value>| Err("no".to_owned());
    let err = store.modify(&s.id, "k", &refuse).await.unwrap_err();
    assert!(matches!(err, Error::InvalidData(ref m) if m == "no"), "{err:?}");
    let after = store.get(&s.id).await.unwrap().unwrap();
    assert_eq!(
        (after.data.get("k"), after.version),
        (Some(&json!("v")), before.version)
    );
}

/// After removal no token works, the id finds nothing, updates do nothing.
pub async fn removal_ends_every_token(store: Arc<dyn HotStore>) {
    let (s, old) = new_session(&store, T0).await;
    let new = next_token(&s);
    let login = Update {
        customer_id: Some("c-9".into()),
        new_token: Some((new, T0.plus_secs(10))),
        ..Update::default()
    };
    store.update(&s.id, &login).await.unwrap().unwrap();
    let removed = store.remove(&s.id).await.unwrap().unwrap();
    assert_eq!(removed.id, s.id);
    assert_eq!(store.remove(&s.id).await.unwrap(), None);
    for t in [old, new] {
        assert_eq!(
            store.resume(&t, &touch(T0.plus_secs(1), true)).await.unwrap(),
            Lookup::Missing
        );
    }
    assert_eq!(store.get(&s.id).await.unwrap(), None);
    assert_eq!(store.update(&s.id, &Update::default()).await.unwrap(), None);
    assert!(store.customer_sessions("c-9").await.unwrap().is_empty());
}

/// A customer's sessions, and no one else's.
pub async fn customer_sessions_are_indexed(store: Arc<dyn HotStore>) {
    let mut mine = Vec::new();
    for customer in ["alice", "alice", "bob"] {
        let (s, _) = new_session(&store, T0).await;
        let login = Update {
            customer_id: Some(customer.into()),
            new_token: Some((next_token(&s), T0.plus_secs(10))),
            ..Update::default()
        };
        store.update(&s.id, &login).await.unwrap().unwrap();
        if customer == "alice" {
            mine.push(s.id);
        }
    }
    new_session(&store, T0).await;
    let mut found: Vec<_> = store
        .customer_sessions("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    found.sort();
    mine.sort();
    assert_eq!(found, mine);
    assert_eq!(store.customer_sessions("bob").await.unwrap().len(), 1);
    assert!(store.customer_sessions("carol").await.unwrap().is_empty());
}

/// Sessions, visitors and customers seen since the cut-off.
pub async fn realtime_counts_recent_activity(store: Arc<dyn HotStore>) {
    let (_, old) = new_session(&store, T0).await;
    let (a, ta) = new_session(&store, T0).await;
    let visitor = a.visitor_id;
    let (b, tb) = session_of(visitor, T0);
    store.insert(&b, &tb, &policy()).await.unwrap();
    let login = Update {
        customer_id: Some("c".into()),
        ..Update::default()
    };
    store.update(&b.id, &login).await.unwrap();
    let now = T0.plus_secs(600);
    current(store.resume(&ta, &touch(now, true)).await.unwrap());
    current(store.resume(&tb, &touch(now, true)).await.unwrap());
    let r = store.realtime(T0.plus_secs(300)).await.unwrap();
    assert_eq!(
        (r.active_sessions, r.active_visitors, r.active_customers),
        (2, 1, 1)
    );
    current(store.resume(&old, &touch(now, true)).await.unwrap());
    let r = store.realtime(T0.plus_secs(300)).await.unwrap();
    assert_eq!((r.active_sessions, r.active_visitors), (3, 2));
    assert_eq!(store.count().await.unwrap(), 3);
    // Twenty minutes on, nothing in the last five, everything in the last thirty.
    let later = now.plus_secs(1_200);
    let five = store
        .realtime(later.minus(std::time::Duration::from_secs(300)))
        .await
        .unwrap();
    assert_eq!((five.active_sessions, five.active_visitors), (0, 0));
    let thirty = store
        .realtime(later.minus(std::time::Duration::from_secs(1_800)))
        .await
        .unwrap();
    assert_eq!(
        (
            thirty.active_sessions,
            thirty.active_visitors,
            thirty.active_customers
        ),
        (3, 2, 1)
    );
}

/// Re-inserting a session (the read-through) replaces it and its token.
pub async fn insert_replaces_a_session_of_the_same_id(store: Arc<dyn HotStore>) {
    let (mut s, old) = new_session(&store, T0).await;
    s.page_views = 7;
    let t = next_token(&s);
    store.insert(&s, &t, &policy()).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1);
    let x = current(store.resume(&t, &touch(T0, true)).await.unwrap());
    assert_eq!(x.page_views, 8);
    assert_eq!(
        store.resume(&old, &touch(T0, true)).await.unwrap(),
        Lookup::Missing
    );
}
