//! The outage cases of a failover tier: a hot store in front of a primary
//! that can go down (for Stint, `Failover` in front of Redis). Besides the
//! hot-store suite, which the tier passes with its primary up, it must serve
//! through an outage and hand everything back to the primary when it returns.
//!
//! The primary is put behind a [`Switch`], which fails every call as
//! unavailable while it is off: a real store, turned off on cue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde_json::json;
use stint_core::store::{DataOp, HotStore, Lookup, Modify, Realtime, Touch, Update};
use stint_core::{
    Attributes, Error, Policy, Result, SessionId, SessionRecord, Timestamp, Token, TokenHash, VisitorId,
};

/// The time the cases run at: a tier under test uses a clock set to it.
pub const T0: Timestamp = Timestamp(1_795_000_000_000);

/// The session rules the cases follow: a tier under test is made with them.
pub fn policy() -> Policy {
    Policy {
        idle_timeout: std::time::Duration::from_secs(1800),
        max_age: std::time::Duration::from_secs(7200),
        rotation_grace: std::time::Duration::from_secs(10),
        active_window: std::time::Duration::from_secs(300),
    }
}

/// A hot store that can be turned off: every call fails as unavailable
/// while it is.
#[derive(Debug)]
pub struct Switch<P> {
    inner: Arc<P>,
    up: AtomicBool,
}

impl<P> Switch<P> {
    /// `inner`, on.
    pub fn new(inner: Arc<P>) -> Self {
        Self {
            inner,
            up: AtomicBool::new(true),
        }
    }

    /// Turns the store on or off.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// The store behind the switch.
    pub fn inner(&self) -> &Arc<P> {
        &self.inner
    }

    fn check(&self) -> Result<()> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::hot("switched off"))
        }
    }
}

#[async_trait]
impl<P: HotStore> HotStore for Switch<P> {
    async fn insert(&self, session: &SessionRecord, token: &TokenHash, policy: &Policy) -> Result<()> {
        self.check()?;
        self.inner.insert(session, token, policy).await
    }
    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup> {
        self.check()?;
        self.inner.resume(token, touch).await
    }
    async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.check()?;
        self.inner.get(id).await
    }
    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>> {
        self.check()?;
        self.inner.update(id, update).await
    }
    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>> {
        self.check()?;
        self.inner.modify(id, key, f).await
    }
    async fn remove(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.check()?;
        self.inner.remove(id).await
    }
    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>> {
        self.check()?;
        self.inner.customer_sessions(customer_id).await
    }
    async fn realtime(&self, since: Timestamp) -> Result<Realtime> {
        self.check()?;
        self.inner.realtime(since).await
    }
    async fn count(&self) -> Result<u64> {
        self.check()?;
        self.inner.count().await
    }
    async fn ping(&self) -> Result<()> {
        self.check()?;
        self.inner.ping().await
    }
}

/// A failover tier under test, with the controls the cases need. (Sessions
/// the local tier lacks are the engine's to read through from the durable
/// store; the engine's tests cover that.)
#[async_trait]
pub trait Harness: Send + Sync {
    /// The tier, made with [`policy`] and a clock at [`T0`].
    fn tier(&self) -> Arc<dyn HotStore>;
    /// The primary itself, past its switch.
    fn primary(&self) -> Arc<dyn HotStore>;
    /// Turns the primary on or off.
    fn set_primary_up(&self, up: bool);
    /// One probe of the primary: true if the tier is back on it.
    async fn probe(&self) -> bool;
}

fn touch(at: Timestamp) -> Touch {
    Touch {
        now: at,
        page_view: true,
        policy: policy(),
    }
}

fn new_session() -> (SessionRecord, TokenHash) {
    let t = Token::generate().hash();
    let mut s = SessionRecord::new(VisitorId::new(), Attributes::default(), T0);
    s.id = SessionId::for_token(&t);
    (s, t)
}

fn page_views(l: Lookup) -> u64 {
    match l {
        Lookup::Current(s) => s.page_views,
        other => panic!("expected the current session, got {other:?}"),
    }
}

/// With the primary down, every call is served by the local tier: sessions
/// are created, resumed, changed and removed, and readiness reports it.
pub async fn an_outage_is_served_locally(h: Arc<dyn Harness>) {
    let tier = h.tier();
    assert!(tier.ping().await.is_ok());
    h.set_primary_up(false);
    let (s, t) = new_session();
    tier.insert(&s, &t, &policy()).await.unwrap();
    assert!(tier.ping().await.is_err(), "readiness names the outage");
    assert_eq!(
        page_views(tier.resume(&t, &touch(T0.plus_secs(1))).await.unwrap()),
        1
    );
    let set = Update {
        data: vec![DataOp::Set("cart".into(), json!(["p-1"]))],
        ..Update::default()
    };
    let changed = tier.update(&s.id, &set).await.unwrap().unwrap();
    assert_eq!(changed.data.get("cart"), Some(&json!(["p-1"])));
    assert_eq!(tier.count().await.unwrap(), 1);
    assert!(tier.remove(&s.id).await.unwrap().is_some());
    assert_eq!(
        tier.resume(&t, &touch(T0.plus_secs(2))).await.unwrap(),
        Lookup::Missing
    );
}

/// Sessions created and used during the outage are in the primary once it
/// is back, with their page views and data; the tier serves from it again.
pub async fn the_outages_sessions_are_handed_to_the_primary(h: Arc<dyn Harness>) {
    let tier = h.tier();
    h.set_primary_up(false);
    let (s, t) = new_session();
    tier.insert(&s, &t, &policy()).await.unwrap();
    tier.resume(&t, &touch(T0.plus_secs(1))).await.unwrap();
    let set = Update {
        data: vec![DataOp::Set("k".into(), json!(1))],
        ..Update::default()
    };
    tier.update(&s.id, &set).await.unwrap().unwrap();
    assert!(!h.probe().await, "the primary is still down");
    assert!(tier.ping().await.is_err());

    h.set_primary_up(true);
    assert!(h.probe().await, "the primary answers again");
    assert!(tier.ping().await.is_ok(), "ready again");
    let there = h.primary().get(&s.id).await.unwrap().expect("handed over");
    assert_eq!(there.page_views, 1);
    assert_eq!(there.data.get("k"), Some(&json!(1)));
    // The next request counts on the primary.
    assert_eq!(
        page_views(tier.resume(&t, &touch(T0.plus_secs(2))).await.unwrap()),
        2
    );
    assert_eq!(h.primary().get(&s.id).await.unwrap().unwrap().page_views, 2);
}

/// A session the primary held and that was removed (logged out, revoked)
/// during the outage does not come back with the primary.
pub async fn removals_during_the_outage_reach_the_primary(h: Arc<dyn Harness>) {
    let tier = h.tier();
    let (s, t) = new_session();
    tier.insert(&s, &t, &policy()).await.unwrap();
    h.set_primary_up(false);
    tier.remove(&s.id).await.unwrap();
    h.set_primary_up(true);
    assert!(h.probe().await);
    assert_eq!(h.primary().get(&s.id).await.unwrap(), None);
    assert_eq!(
        tier.resume(&t, &touch(T0.plus_secs(1))).await.unwrap(),
        Lookup::Missing
    );
}
