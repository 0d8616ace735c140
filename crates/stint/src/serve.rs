//! Serving an app with the defences a server on the open internet needs:
//! a client has [`ServeConfig::header_timeout`] to send a request's head
//! (from its connection, or from the end of its previous request), an idle
//! keep-alive connection is closed after [`ServeConfig::idle_timeout`], a
//! request's handler has [`ServeConfig::request_timeout`], and at most
//! [`ServeConfig::max_connections`] connections are open: past that the
//! listener stops accepting, and new clients wait in the kernel's backlog
//! instead of the process running out of descriptors.
//!
//! hyper's own header timer starts when a connection is idle too, so it
//! cannot give an idle connection more time than a slow head; each
//! connection here keeps its phase (waiting for a head, busy, idle) and its
//! own deadline instead.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

/// How [`Stint::serve`](crate::Stint::serve) treats connections.
///
/// ```
/// use std::time::Duration;
/// let config = stint::ServeConfig::default()
///     .header_timeout(Duration::from_secs(5))
///     .max_connections(2_000);
/// assert_eq!(config.idle_timeout, Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// Time a client has to send a whole request head, counted from the
    /// connection's start or from the end of its previous response (default
    /// 10 s). Slow-header clients (slowloris) are cut off by it.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may stay idle, once a client has begun
    /// a request on it, before it is closed (default 60 s).
    pub idle_timeout: Duration,
    /// Time a request's handler has before the client gets
    /// `503 Service Unavailable` (default 30 s).
    pub request_timeout: Duration,
    /// Connections open at once (default 8,192, and never more than the
    /// process's file-descriptor limit leaves room for).
    pub max_connections: usize,
    /// At shutdown, time the requests in flight have to finish (default 30 s).
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 8_192,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ServeConfig {
    /// Sets [`ServeConfig::header_timeout`].
    #[must_use]
    pub fn header_timeout(mut self, t: Duration) -> Self {
        self.header_timeout = t;
        self
    }

    /// Sets [`ServeConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Sets [`ServeConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets [`ServeConfig::max_connections`] (at least 1).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`ServeConfig::shutdown_grace`].
    #[must_use]
    pub fn shutdown_grace(mut self, t: Duration) -> Self {
        self.shutdown_grace = t;
        self
    }
}

/// Connections the descriptor limit leaves room for: the store's pools,
/// the journal and the listener need some too.
fn descriptor_room() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
    usize::try_from(limit).ok().map(|l| l.saturating_sub(128).max(16))
}

/// Serves `app` on `listener` until `signal` completes, then lets the
/// requests in flight finish (at most `shutdown_grace`).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = match descriptor_room() {
        Some(room) if room < config.max_connections => {
            tracing::warn!(
                configured = config.max_connections,
                room,
                "fewer file descriptors than connections: serving at most {room} at once (raise the limit with ulimit -n)"
            );
            room
        }
        _ => config.max_connections,
    };
    let app = app.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        config.request_timeout,
    ));
    let permits = Arc::new(Semaphore::new(max));
    let (closing, _) = watch::channel(false);
    tokio::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors or memory: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let conn = Connection {
            app: app.clone(),
            peer,
            config,
            closing: closing.subscribe(),
        };
        tokio::spawn(async move {
            metrics::gauge!("stint_connections_open").increment(1.0);
            conn.run(stream).await;
            metrics::gauge!("stint_connections_open").decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(config.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace; closing their connections");
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Where a connection is: waiting for a request's head, serving requests,
/// or idle between them.
const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// A connection's phase and since when, shared by its reads, its requests
/// and its watchdog.
struct Phase {
    start: Instant,
    phase: AtomicU8,
    /// Milliseconds from `start` to when the phase began.
    since: AtomicU64,
    in_flight: AtomicU32,
}

impl Phase {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    /// The first byte after an idle spell: a request's head has begun.
    fn read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.enter(HEAD);
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.phase.store(BUSY, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    /// Which deadline has passed, if any.
    fn overdue(&self, config: &ServeConfig) -> Option<&'static str> {
        let (limit, reason) = match self.phase.load(Ordering::Acquire) {
            HEAD => (config.header_timeout, "header_timeout"),
            IDLE => (config.idle_timeout, "idle"),
            _ => return None,
        };
        let waited = self.now().saturating_sub(self.since.load(Ordering::Relaxed));
        (u128::from(waited) > limit.as_millis()).then_some(reason)
    }
}

/// A request being served; the connection is idle again once none is.
struct InFlight(Arc<Phase>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.enter(IDLE);
        }
    }
}

/// The socket, telling the phase when bytes arrive.
struct Tracked {
    inner: TcpStream,
    phase: Arc<Phase>,
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.phase.read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

struct Connection {
    app: Router,
    peer: SocketAddr,
    config: ServeConfig,
    closing: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let phase = Arc::new(Phase::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            phase: Arc::clone(&phase),
        });
        let (app, peer, requests) = (self.app, self.peer, Arc::clone(&phase));
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = requests.begin();
            let response = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        tokio::pin!(conn);
        let shortest = self.config.header_timeout.min(self.config.idle_timeout);
        let every = (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut watchdog = tokio::time::interval(every);
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutting_down = false;
        loop {
            tokio::select! {
                served = conn.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                changed = self.closing.changed(), if !shutting_down => {
                    if changed.is_err() || *self.closing.borrow() {
                        shutting_down = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
                _ = watchdog.tick() => match phase.overdue(&self.config) {
                    // A half-sent head: nothing to finish, drop the socket.
                    Some(reason @ "header_timeout") => {
                        metrics::counter!("stint_connections_closed_total", "reason" => reason).increment(1);
                        return;
                    }
                    Some(reason) if !shutting_down => {
                        metrics::counter!("stint_connections_closed_total", "reason" => reason).increment(1);
                        shutting_down = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ => {}
                },
            }
        }
    }
}
