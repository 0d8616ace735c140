//! The engine: every operation on a session, over a hot store, a cold store
//! and the writer that feeds the cold store. Its methods are grouped by
//! concern: `request` (resume, create: the hot path), `change` (login,
//! logout, revocation, conversion, data, events), `history` (the admin's and
//! the customer's reads), `privacy` (access and erasure), `analytics` (the
//! figures) and `retention` (closing expired sessions, deleting old events).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use crate::error::{Error, Result};
use crate::event::{Event, kinds};
use crate::id::{SessionId, VisitorId};
use crate::policy::Policy;
use crate::session::{Attributes, SessionRecord};
use crate::store::{
    ColdStore, DataOp, EndReason, HotStore, Lookup, Modify, Realtime, Record, SessionQuery, Sink, Touch,
    Update,
};
use crate::time::{Clock, Timestamp};
use crate::token::Token;

mod analytics;
mod change;
mod history;
mod privacy;
mod request;
mod retention;

/// Whose data: a visitor (a browser) or a customer (an account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Person {
    /// Everything of this visitor id.
    Visitor(VisitorId),
    /// Everything of this customer id.
    Customer(String),
}

/// What one request contributes to its session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hit<'a> {
    /// The page viewed, if the request counts as a page view.
    pub page: Option<&'a str>,
    /// Whether the visitor allows analytics. If not (Do Not Track, Global
    /// Privacy Control), the session works and counts its page views, but no
    /// event of it is stored.
    pub analytics: bool,
}

impl<'a> Hit<'a> {
    /// A page view of `page`, recorded.
    pub fn page(page: &'a str) -> Self {
        Self {
            page: Some(page),
            analytics: true,
        }
    }
}

/// A session found by its token.
#[derive(Clone, Debug, PartialEq)]
pub struct Resumed {
    /// The session, this request counted.
    pub session: SessionRecord,
    /// The token was replaced at a login moments ago: the session is shown as
    /// anonymous and the new token must not be handed out.
    pub superseded: bool,
}

/// The session engine. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    hot: Arc<dyn HotStore>,
    cold: Arc<dyn ColdStore>,
    sink: Arc<dyn Sink>,
    clock: Arc<dyn Clock>,
    policy: Policy,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over the given stores. `sink` is where cold-store records go
    /// (normally a batching writer over `cold`).
    pub fn new(
        hot: Arc<dyn HotStore>,
        cold: Arc<dyn ColdStore>,
        sink: Arc<dyn Sink>,
        clock: Arc<dyn Clock>,
        policy: Policy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                hot,
                cold,
                sink,
                clock,
                policy,
            }),
        }
    }

    /// The rules sessions live by.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The current time, by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The hot store.
    pub fn hot(&self) -> &Arc<dyn HotStore> {
        &self.inner.hot
    }

    /// The cold store.
    pub fn cold(&self) -> &Arc<dyn ColdStore> {
        &self.inner.cold
    }
}
