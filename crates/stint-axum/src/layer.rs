//! The tower layer: finds or starts the session before the handler, saves
//! and sets cookies after it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use futures_util::future::BoxFuture;
use http::header::{COOKIE, REFERER, SET_COOKIE, USER_AGENT};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request};
use stint_core::context::{AgentParser, RequestInfo, client_ip};
use stint_core::{Attributes, Engine, Hit, Timestamp, Token, VisitorId};
use tower_layer::Layer;
use tower_service::Service;

use crate::config::SessionConfig;
use crate::limit::CreateLimit;
use crate::session::{CookieAction, DataLimits, Session, State};

/// The session layer. Put it in front of the routes that have sessions.
///
/// ```
/// use axum::{Router, routing::get};
/// use stint_axum::{CookieKeys, Session, SessionConfig, SessionLayer};
/// # fn engine() -> stint_core::Engine { unimplemented!() }
///
/// async fn whoami(session: Session) -> String {
///     session.id().to_string()
/// }
///
/// # fn app() {
/// let keys = CookieKeys::new(["a secret of at least thirty-two bytes"]).unwrap();
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .layer(SessionLayer::new(engine(), SessionConfig::new(keys)));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    engine: Engine,
    config: SessionConfig,
    limit: Option<CreateLimit>,
    agents: &'static AgentParser,
    /// Whether the missing client address was reported already.
    warned_no_peer: std::sync::atomic::AtomicBool,
}

impl SessionLayer {
    /// A layer over `engine` with `config`.
    pub fn new(engine: Engine, config: SessionConfig) -> Self {
        let limit = CreateLimit::new(config.create_limit_per_minute);
        Self {
            shared: Arc::new(Shared {
                engine,
                config,
                limit,
                agents: AgentParser::shared(),
                warned_no_peer: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }
}

impl SessionLayer {
    /// Finds or starts the session of a request whose head is `head`, as
    /// the layer does before a handler: its cookies, user agent, client
    /// address (a [`ConnectInfo`] in its extensions, or the forwarding
    /// headers when `trust_proxy` is set), method and URI decide, under the
    /// same rules (sliding timeout, rotation grace window, creation limit,
    /// bots, privacy signals, the page view). For services that receive a
    /// request on another's behalf: a session API, a gateway. Pass the
    /// session to [`SessionLayer::finish`] once done with it.
    pub async fn resolve(&self, head: &Parts) -> Session {
        self.shared.open(head).await
    }

    /// Saves what changed in `session` and appends the `Set-Cookie` headers
    /// the browser is to get to `headers`, as the layer does after a
    /// handler.
    pub async fn finish(&self, session: &Session, headers: &mut HeaderMap) {
        self.shared.close(session, headers).await;
    }

    /// The `Set-Cookie` value that hands `token` to the browser: signed with
    /// the current key, with the session cookie's attributes.
    pub fn session_cookie(&self, token: &Token) -> String {
        let cfg = &self.shared.config;
        let now_secs = self.shared.engine.now().unix_secs();
        self.shared.session_cookie(
            cfg.keys.sign(&cfg.session_cookie, token, now_secs),
            self.shared.engine.policy().idle_timeout,
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_session_cookie(&self) -> String {
        self.shared.session_cookie(String::new(), Duration::ZERO)
    }

    /// The settings the layer runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`SessionLayer`] wraps around a route.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request<Body>> for SessionService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            // The body is not `Sync`: hold only the head across the lookup.
            let (mut head, body) = req.into_parts();
            let session = shared.open(&head).await;
            head.extensions.insert(session.clone());
            let req = Request::from_parts(head, body);
            let mut response = inner.call(req).await?;
            shared.close(&session, response.headers_mut()).await;
            Ok(response)
        })
    }
}

/// Marks a request head that another service forwarded (for
/// [`SessionLayer::resolve`]): its client address is the one that service
/// named in a [`ConnectInfo`], or none when it named none, which is then
/// not a wiring mistake worth a warning.
#[derive(Clone, Copy, Debug, Default)]
pub struct Forwarded;

/// The two cookies of a request, as sent.
fn read_cookies<'a>(headers: &'a HeaderMap, config: &SessionConfig) -> (Option<&'a str>, Option<&'a str>) {
    let mut session = None;
    let mut visitor = None;
    let mut total = 0;
    for value in headers.get_all(COOKIE) {
        total += value.len();
        if total > config.max_cookie_header {
            return (None, None);
        }
        let Ok(text) = value.to_str() else { continue };
        for c in Cookie::split_parse(text).flatten() {
            let (name, value) = (c.name_raw(), c.value_raw());
            if name == Some(config.session_cookie.as_str()) && session.is_none() {
                session = value;
            } else if name == Some(config.visitor_cookie.as_str()) && visitor.is_none() {
                visitor = value;
            }
        }
    }
    (session, visitor)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    /// Once per layer: without the client's address the per-address creation
    /// limit cannot work and sessions store no address. It is a wiring
    /// mistake that nothing else would show.
    fn warn_no_peer(&self) {
        if !self
            .warned_no_peer
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                "the session layer sees no client address: serve the app with \
                 `into_make_service_with_connect_info::<SocketAddr>()` (or `Stint::serve`), \
                 or set trust_proxy behind a proxy; until then the per-address creation limit \
                 is off and sessions store no address"
            );
        }
    }

    async fn open(&self, req: &Parts) -> Session {
        let cfg = &self.config;
        let engine = &self.engine;
        let headers = &req.headers;
        let (session_cookie, visitor_cookie) = read_cookies(headers, cfg);
        // Behind a nested router the URI is cut to the nested part; the
        // journey is about the path the visitor asked for.
        let uri = req.extensions.get::<OriginalUri>().map_or(&req.uri, |o| &o.0);
        let page = (cfg.count_page_views && req.method == Method::GET).then(|| uri.path());
        let analytics = !(cfg.honor_privacy_signals
            && (header(headers, "dnt") == Some("1") || header(headers, "sec-gpc") == Some("1")));
        let hit = Hit { page, analytics };
        let limits = DataLimits {
            max_keys: cfg.data_max_keys,
            max_value_bytes: cfg.data_max_value_bytes,
        };
        let visitor_from_cookie = visitor_cookie.and_then(|v| v.parse::<VisitorId>().ok());
        if let Some(verified) = session_cookie.and_then(|v| cfg.keys.verify(&cfg.session_cookie, v)) {
            match engine.resume(&verified.token, hit).await {
                Ok(Some(found)) => {
                    metrics::counter!("stint_sessions_resumed_total").increment(1);
                    let issued = Timestamp::from_unix_secs(verified.issued_at);
                    let stale = engine.now().since(issued) > engine.policy().idle_timeout / 2;
                    let cookie = if !found.superseded && (stale || verified.key_index > 0) {
                        CookieAction::Set(verified.token)
                    } else {
                        CookieAction::Keep
                    };
                    let set_visitor = visitor_from_cookie != Some(found.session.visitor_id);
                    return Session::new(
                        engine.clone(),
                        State {
                            record: found.session,
                            stored: true,
                            superseded: found.superseded,
                            ended: false,
                            pending: Vec::new(),
                            cookie,
                            set_visitor,
                            analytics,
                            limits,
                            bot: false,
                            created: false,
                        },
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "session lookup failed; starting a new session"),
            }
        }

        let peer = req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        if peer.is_none() && !cfg.trust_proxy && req.extensions.get::<Forwarded>().is_none() {
            self.warn_no_peer();
        }
        let info = RequestInfo {
            peer,
            forwarded_for: header(headers, "x-forwarded-for"),
            real_ip: header(headers, "x-real-ip"),
            trust_proxy: cfg.trust_proxy,
            user_agent: headers.get(USER_AGENT).and_then(|v| v.to_str().ok()),
            referer: headers.get(REFERER).and_then(|v| v.to_str().ok()),
            path: uri.path(),
            query: uri.query(),
            country: header(headers, "cf-ipcountry"),
            geo: cfg
                .geoip
                .as_deref()
                .map(|g| g as &dyn stint_core::context::Geolocate),
        };
        let visitor = visitor_from_cookie.unwrap_or_else(VisitorId::new);
        let unstored = |engine: &Engine, attributes, bot| {
            Session::new(
                engine.clone(),
                State {
                    record: engine.ephemeral(visitor, attributes, page.is_some()),
                    stored: false,
                    superseded: false,
                    ended: false,
                    pending: Vec::new(),
                    cookie: CookieAction::Keep,
                    set_visitor: false,
                    analytics,
                    limits,
                    bot,
                    created: false,
                },
            )
        };
        if info.is_bot(self.agents) {
            let family = info
                .user_agent
                .map(|ua| self.agents.classify(ua).browser.clone())
                .unwrap_or_default();
            metrics::counter!("stint_bot_requests_total", "family" => family).increment(1);
            return unstored(engine, info.attributes(self.agents), true);
        }
        if cfg
            .referrer_spam
            .as_deref()
            .is_some_and(|list| info.is_referrer_spam(list))
        {
            metrics::counter!("stint_bot_requests_total", "family" => "referrer spam").increment(1);
            return unstored(engine, info.attributes(self.agents), true);
        }
        let ip: Option<IpAddr> = client_ip(info.peer, info.forwarded_for, info.real_ip, info.trust_proxy);
        if let (Some(limit), Some(ip)) = (&self.limit, ip)
            && !limit.allow(ip)
        {
            metrics::counter!("stint_sessions_rate_limited_total").increment(1);
            return unstored(engine, info.attributes(self.agents), false);
        }
        // A visitor who asked not to be tracked leaves no device, address or
        // attribution behind.
        let attributes = if analytics {
            info.attributes(self.agents)
        } else {
            Attributes::default()
        };
        match engine.create(visitor, attributes.clone(), hit).await {
            Ok((record, token)) => {
                metrics::counter!("stint_sessions_created_total").increment(1);
                Session::new(
                    engine.clone(),
                    State {
                        record,
                        stored: true,
                        superseded: false,
                        ended: false,
                        pending: Vec::new(),
                        cookie: CookieAction::Set(token),
                        set_visitor: visitor_from_cookie.is_none(),
                        analytics,
                        limits,
                        bot: false,
                        created: true,
                    },
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "session could not be stored; serving without one");
                unstored(engine, attributes, false)
            }
        }
    }

    async fn close(&self, session: &Session, headers: &mut HeaderMap) {
        if let Err(e) = session.flush().await {
            tracing::warn!(error = %e, "session data could not be saved");
        }
        let (cookie, visitor) = {
            let mut st = session.state().lock();
            let cookie = std::mem::take(&mut st.cookie);
            let visitor = st.set_visitor.then_some(st.record.visitor_id);
            (cookie, visitor)
        };
        let cfg = &self.config;
        let now_secs = self.engine.now().unix_secs();
        let ttl = self.engine.policy().idle_timeout;
        let set = match cookie {
            CookieAction::Keep => None,
            CookieAction::Set(token) => {
                Some(self.session_cookie(cfg.keys.sign(&cfg.session_cookie, &token, now_secs), ttl))
            }
            CookieAction::Clear => Some(self.session_cookie(String::new(), Duration::ZERO)),
        };
        if let Some(c) = set {
            append(headers, &c);
        }
        if let Some(visitor) = visitor {
            let c = Cookie::build((cfg.visitor_cookie.clone(), visitor.to_string()))
                .path("/")
                .same_site(SameSite::Lax)
                .secure(cfg.secure)
                .max_age(max_age(cfg.visitor_ttl))
                .build();
            append(headers, &c.to_string());
        }
    }

    fn session_cookie(&self, value: String, ttl: Duration) -> String {
        Cookie::build((self.config.session_cookie.clone(), value))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.config.secure)
            .max_age(max_age(ttl))
            .build()
            .to_string()
    }
}

/// A cookie's `Max-Age`: whole seconds, saturating.
fn max_age(ttl: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
}

fn append(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        headers.append(SET_COOKIE, v);
    }
}
