//! The session handle that handlers see, and its extractors.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stint_core::store::DataOp;
use stint_core::{Engine, Event, SessionId, SessionKind, Timestamp, Token, VisitorId};

use crate::error::{AuthenticationRequired, MissingSessionLayer, SessionError};

/// What the response must do with the session cookie.
#[derive(Debug, Default)]
pub(crate) enum CookieAction {
    /// Nothing.
    #[default]
    Keep,
    /// Send this token (a new one, or the same one to refresh `Max-Age`).
    Set(Token),
    /// Remove the cookie.
    Clear,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) record: stint_core::SessionRecord,
    pub(crate) stored: bool,
    pub(crate) superseded: bool,
    pub(crate) ended: bool,
    pub(crate) pending: Vec<DataOp>,
    pub(crate) cookie: CookieAction,
    pub(crate) set_visitor: bool,
    /// The visitor allows analytics (no Do Not Track / Global Privacy Control).
    pub(crate) analytics: bool,
    pub(crate) limits: DataLimits,
    /// The request came from a crawler.
    pub(crate) bot: bool,
    /// The session was started by this request.
    pub(crate) created: bool,
}

/// Bounds on a session's data, so that one session cannot fill the hot store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DataLimits {
    pub(crate) max_keys: usize,
    pub(crate) max_value_bytes: usize,
}

/// Longest data key.
const MAX_KEY_LEN: usize = 128;

impl DataLimits {
    pub(crate) fn check(
        &self,
        data: &serde_json::Map<String, Value>,
        key: &str,
        value: &Value,
    ) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(format!("session data keys have 1 to {MAX_KEY_LEN} bytes"));
        }
        if !data.contains_key(key) && data.len() >= self.max_keys {
            return Err(format!("session data holds at most {} keys", self.max_keys));
        }
        let size = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX);
        if size > self.max_value_bytes {
            return Err(format!("{key}: at most {} bytes per value", self.max_value_bytes));
        }
        Ok(())
    }
}

/// The current request's session: read it, change its data, sign a customer
/// in or out, mark it converted, record events.
///
/// Data changes made with [`Session::insert`] and [`Session::remove`] are
/// saved once, after the handler, and only if there are any; they touch only
/// their keys, so parallel requests changing other keys lose nothing. A
/// read-modify-write that must not lose a parallel change of the same key
/// uses [`Session::modify`], which runs atomically in the store at once.
///
/// ```
/// use axum::{Router, routing::get};
/// use stint_axum::Session;
///
/// async fn visits(session: Session) -> String {
///     let n: u64 = session.modify("visits", |n: Option<u64>| Ok(n.unwrap_or(0) + 1)).await.unwrap();
///     format!("visit {n} of session {}", session.id())
/// }
///
/// let app: Router = Router::new().route("/", get(visits));
/// ```
#[derive(Clone, Debug)]
pub struct Session {
    engine: Engine,
    state: Arc<Mutex<State>>,
}

impl Session {
    pub(crate) fn new(engine: Engine, state: State) -> Self {
        Self {
            engine,
            state: Arc::new(Mutex::new(state)),
        }
    }

    pub(crate) fn state(&self) -> &Mutex<State> {
        &self.state
    }

    /// The session as it is now (this request counted), in the contract's shape
    /// when serialised.
    pub fn record(&self) -> stint_core::SessionRecord {
        self.state.lock().record.clone()
    }

    /// The journey's id.
    pub fn id(&self) -> SessionId {
        self.state.lock().record.id
    }

    /// The visitor's id.
    pub fn visitor_id(&self) -> VisitorId {
        self.state.lock().record.visitor_id
    }

    /// The signed-in customer, if any (never during a rotation's grace window).
    pub fn customer_id(&self) -> Option<String> {
        self.state.lock().record.customer_id.clone()
    }

    /// Whether a customer is signed in.
    pub fn is_customer(&self) -> bool {
        self.state.lock().record.kind == SessionKind::Customer
    }

    /// Whether this request started the session (rather than resuming it).
    pub fn is_new(&self) -> bool {
        self.state.lock().created
    }

    /// Whether the request came from a crawler (the session is then not
    /// stored, see [`Session::is_stored`]).
    pub fn is_bot(&self) -> bool {
        self.state.lock().bot
    }

    /// Whether the session is kept in the stores. It is not for bots and for
    /// clients over their creation limit: such a request works, but nothing
    /// of it is stored or counted.
    pub fn is_stored(&self) -> bool {
        self.state.lock().stored
    }

    /// The value of `key`, as `T`.
    ///
    /// # Errors
    ///
    /// [`SessionError::Data`] if the stored value is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let value = self.state.lock().record.data.get(key).cloned();
        value
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| SessionError::Data(format!("{key}: {e}")))
    }

    /// Sets `key` (saved after the handler). Refused past the data limits
    /// (number of keys, size of a value).
    ///
    /// # Errors
    ///
    /// [`SessionError::Data`] if the value cannot be serialised, or breaks the data's
    /// bounds (key length, number of keys, value size).
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|e| SessionError::Data(format!("{key}: {e}")))?;
        let mut st = self.state.lock();
        st.limits
            .check(&st.record.data, key, &value)
            .map_err(SessionError::Data)?;
        Arc::make_mut(&mut st.record.data).insert(key.to_owned(), value.clone());
        st.pending.push(DataOp::Set(key.to_owned(), value));
        Ok(())
    }

    /// Removes `key` (saved after the handler).
    pub fn remove(&self, key: &str) {
        let mut st = self.state.lock();
        Arc::make_mut(&mut st.record.data).remove(key);
        st.pending.push(DataOp::Remove(key.to_owned()));
    }

    /// Replaces the value of `key` with `f(current)`, atomically in the store
    /// (parallel requests on the session each see the other's result), and
    /// returns the new value. `f` may run more than once and must be pure; an
    /// `Err` from it changes nothing and is returned as [`SessionError::Data`].
    ///
    /// # Errors
    ///
    /// [`SessionError::Data`] if `f` refuses, the stored value is not a `T` or the new one
    /// breaks the data's bounds; [`SessionError::Store`] if the store fails.
    pub async fn modify<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(Option<T>) -> Result<T, String> + Send + Sync,
    {
        let (id, stored, limits, data) = {
            let st = self.state.lock();
            (
                st.record.id,
                st.stored && !st.ended,
                st.limits,
                Arc::clone(&st.record.data),
            )
        };
        let step = |current: Option<&Value>| -> Result<Value, String> {
            let current = current
                .map(|v| serde_json::from_value::<T>(v.clone()))
                .transpose()
                .map_err(|e| format!("{key}: {e}"))?;
            let value = serde_json::to_value(f(current)?).map_err(|e| e.to_string())?;
            limits.check(&data, key, &value)?;
            Ok(value)
        };
        let value = if stored {
            let updated = self.engine.modify(&id, key, &step).await.map_err(|e| match e {
                stint_core::Error::InvalidData(m) => SessionError::Data(m),
                other => SessionError::Store(other),
            })?;
            let mut st = self.state.lock();
            match updated {
                Some(s) => {
                    let value = s.data.get(key).cloned().unwrap_or(Value::Null);
                    let data = Arc::clone(&s.data);
                    st.record.data = data;
                    st.record.version = s.version;
                    value
                }
                None => {
                    // The session ended meanwhile (revoked): apply locally only.
                    let value = step(st.record.data.get(key)).map_err(SessionError::Data)?;
                    Arc::make_mut(&mut st.record.data).insert(key.to_owned(), value.clone());
                    value
                }
            }
        } else {
            let mut st = self.state.lock();
            let value = step(st.record.data.get(key)).map_err(SessionError::Data)?;
            Arc::make_mut(&mut st.record.data).insert(key.to_owned(), value.clone());
            value
        };
        serde_json::from_value(value).map_err(|e| SessionError::Data(format!("{key}: {e}")))
    }

    /// Makes sure the session is stored (a login or an order is worth keeping
    /// even for a client over its creation limit).
    async fn ensure_stored(&self) -> Result<SessionId, SessionError> {
        let (record, stored, ended) = {
            let st = self.state.lock();
            (st.record.clone(), st.stored, st.ended)
        };
        if ended {
            return Err(SessionError::Store(stint_core::Error::SessionNotFound));
        }
        if stored {
            return Ok(record.id);
        }
        let token = self.engine.adopt(&record).await?;
        let mut st = self.state.lock();
        st.stored = true;
        st.ended = false;
        st.created = true;
        st.cookie = CookieAction::Set(token);
        st.set_visitor = true;
        Ok(record.id)
    }

    /// Signs `customer_id` in: same session id, type `CUSTOMER`, and a fresh
    /// token in the response's cookie (the old one stops carrying rights).
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] if the session cannot be stored or updated (a store is
    /// unavailable, or the session ended meanwhile).
    pub async fn login(&self, customer_id: &str) -> Result<stint_core::SessionRecord, SessionError> {
        let id = self.ensure_stored().await?;
        self.flush().await?;
        let (session, token) = self.engine.login(&id, customer_id).await?;
        let mut st = self.state.lock();
        st.record = session.clone();
        st.superseded = false;
        st.cookie = CookieAction::Set(token);
        Ok(session)
    }

    /// Signs out: the session ends (history kept) and the cookie is removed;
    /// the next request starts a new anonymous session. A pre-login token in
    /// its grace window carries no rights over the customer's session: it
    /// only loses its cookie.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] if the end cannot be made durable.
    pub async fn logout(&self) -> Result<(), SessionError> {
        let (id, stored) = {
            let st = self.state.lock();
            (st.record.id, st.stored && !st.ended && !st.superseded)
        };
        if stored {
            self.engine.logout(&id).await?;
        }
        let mut st = self.state.lock();
        st.ended = true;
        st.pending.clear();
        st.record.ended_at = Some(self.engine.now());
        st.cookie = CookieAction::Clear;
        Ok(())
    }

    /// Marks the session converted by `order_id`, recording
    /// `order_completed` with `metadata`.
    ///
    /// # Errors
    ///
    /// As [`Session::login`].
    pub async fn convert(
        &self,
        order_id: &str,
        metadata: Value,
    ) -> Result<stint_core::SessionRecord, SessionError> {
        let id = self.ensure_stored().await?;
        self.flush().await?;
        let session = self.engine.convert(&id, order_id, metadata).await?;
        let mut st = self.state.lock();
        let superseded = st.superseded;
        st.record = if superseded {
            session.as_anonymous()
        } else {
            session
        };
        Ok(st.record.clone())
    }

    /// A new event of `kind` in this session, at the current time; fill it in
    /// and pass it to [`Session::track`].
    pub fn event(&self, kind: &str) -> Event {
        let st = self.state.lock();
        Event::new(st.record.id, st.record.visitor_id, kind, self.engine.now())
    }

    /// Whether events of this session are recorded: not for a session that
    /// is not stored, nor for a visitor who asked not to be tracked.
    pub fn is_tracked(&self) -> bool {
        let st = self.state.lock();
        st.stored && st.analytics
    }

    /// Records an event (nothing unless [`Session::is_tracked`]).
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] if the writer refuses the event (its queue stays full while
    /// the durable store fails, or it has stopped).
    pub async fn track(&self, event: Event) -> Result<(), SessionError> {
        if self.is_tracked() {
            self.engine.track(event).await?;
        }
        Ok(())
    }

    /// Saves pending data changes now rather than after the handler.
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] if the store fails; the changes are then lost.
    pub async fn flush(&self) -> Result<(), SessionError> {
        let (id, ops) = {
            let mut st = self.state.lock();
            if !st.stored || st.ended || st.pending.is_empty() {
                return Ok(());
            }
            (st.record.id, std::mem::take(&mut st.pending))
        };
        if let Some(s) = self.engine.save(&id, ops).await? {
            let mut st = self.state.lock();
            st.record.data = Arc::clone(&s.data);
            st.record.version = s.version;
        }
        Ok(())
    }

    /// The time by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.engine.now()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}

/// A session with a signed-in customer; anything else is rejected with 401
/// `Authentication required`. `Option<CustomerSession>` accepts both.
#[derive(Clone, Debug)]
pub struct CustomerSession {
    /// The session.
    pub session: Session,
    /// The signed-in customer.
    pub customer_id: String,
}

impl std::ops::Deref for CustomerSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

fn customer_session(parts: &Parts) -> Option<CustomerSession> {
    let session = parts.extensions.get::<Session>()?.clone();
    let customer_id = {
        let st = session.state.lock();
        if st.ended || st.superseded || st.record.kind != SessionKind::Customer {
            return None;
        }
        st.record.customer_id.clone()?
    };
    Some(CustomerSession { session, customer_id })
}

impl<S: Send + Sync> FromRequestParts<S> for CustomerSession {
    type Rejection = AuthenticationRequired;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        customer_session(parts).ok_or(AuthenticationRequired)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CustomerSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(customer_session(parts))
    }
}
