//! # stint
//!
//! Session management and visitor-journey tracking for axum services. Every
//! visitor gets a long-lived visitor id and a session with a sliding idle
//! timeout and an absolute lifetime; sessions turn into customer sessions at
//! login (same session id, a fresh cookie token) and are marked converted
//! when an order is placed; every page view, login, cart change and order is
//! recorded for analytics.
//!
//! [`Stint::builder`] wires everything: the hot store (in process, or Redis
//! with a local failover tier), the durable store (SQLite by default,
//! PostgreSQL), the journal that keeps every answered request's records
//! safe from a crash, the batching writer, the sweeper and, if asked, the
//! background jobs. [`Stint::layer`] is the tower layer for your routes;
//! [`Stint::serve`] runs the app and, on Ctrl-C or `SIGTERM`, drains
//! everything to the durable store.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use stint::{Session, Stint};
//!
//! async fn home(session: Session) -> String {
//!     format!("page view {} of session {}", session.record().page_views, session.id())
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let stint = Stint::builder().data_dir("data").build().await?;
//!     let app = Router::new().route("/", get(home)).layer(stint.layer());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     stint.serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Handlers take the [`Session`] extractor (or [`CustomerSession`] for
//! signed-in customers only): typed data that parallel requests do not
//! overwrite ([`Session::modify`]), login, logout, conversion and events.
//! Analytics and administration are on [`Stint::engine`]. The
//! `examples/` directory has one runnable program per deployment.
//!
//! ## What a process must do, and the builder does
//!
//! - **Drain at shutdown**: events and session changes reach the durable
//!   store in batches, off the request path. [`Stint::shutdown`] (called by
//!   [`Stint::serve`]) writes what is queued; after a crash the journal in
//!   the data directory is written at the next start.
//! - **Give the layer the client's address**: [`Stint::serve`] serves with
//!   `ConnectInfo`, which the per-address creation limit and the stored
//!   (anonymised) address need. With your own server, use
//!   `into_make_service_with_connect_info::<SocketAddr>()`.
//! - **One in-process tier per data directory**: a second process on the
//!   same data directory without Redis is refused at build time
//!   ([`BuildError::DataDirInUse`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod jobs;
mod lock;
mod secret;
mod serve;

use std::future::Future;
use std::sync::Arc;

pub use builder::{BuildError, DEFAULT_HOT_CAPACITY, StintBuilder};
pub use jobs::JobsConfig;
pub use secret::kept_secret;
pub use serve::ServeConfig;
pub use stint_axum::{
    AuthenticationRequired, CookieKeys, CustomerSession, KeyError, MissingSessionLayer, Session,
    SessionConfig, SessionError, SessionLayer,
};
pub use stint_core::{Engine, Event, Policy, SessionId, SessionRecord, Timestamp, VisitorId};
pub use stint_memory::{Failover, MemoryStore};
pub use stint_redis::RedisStore;
pub use stint_sql::{SqlStore, Writer, WriterConfig};

/// The crates behind this one, for what it does not re-export.
pub mod crates {
    pub use stint_axum as axum;
    pub use stint_core as core;
    pub use stint_memory as memory;
    pub use stint_redis as redis;
    pub use stint_sql as sql;
}

use builder::Background;

/// A running Stint: the engine, its stores and its background work. Made by
/// [`Stint::builder`]; ended by [`Stint::shutdown`] or [`Stint::serve`].
pub struct Stint {
    engine: Engine,
    layer: SessionLayer,
    durable: Arc<SqlStore>,
    writer: Writer,
    failover: Option<Arc<Failover<RedisStore>>>,
    memory: Arc<MemoryStore>,
    serve: ServeConfig,
    background: Option<Background>,
}

impl std::fmt::Debug for Stint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stint")
            .field("durable", &self.durable.backend())
            .field("redis", &self.failover.is_some())
            .finish_non_exhaustive()
    }
}

impl Stint {
    /// A builder with every default: sessions in process, history in
    /// `./data/stint.db`.
    pub fn builder() -> StintBuilder {
        StintBuilder::default()
    }

    /// The session layer, for the routes that have sessions.
    pub fn layer(&self) -> SessionLayer {
        self.layer.clone()
    }

    /// The engine: sessions by id, a customer's sessions, revocation,
    /// analytics, privacy requests.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The durable store.
    pub fn durable(&self) -> &Arc<SqlStore> {
        &self.durable
    }

    /// The writer feeding the durable store.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The in-process tier: the hot store itself, or with Redis the local
    /// tier that serves while Redis is down (its size and evictions are
    /// worth watching).
    pub fn memory_tier(&self) -> &Arc<MemoryStore> {
        &self.memory
    }

    /// Redis with its local failover tier, when Redis is configured.
    pub fn failover(&self) -> Option<&Arc<Failover<RedisStore>>> {
        self.failover.as_ref()
    }

    /// Serves `app` on `listener` until Ctrl-C or `SIGTERM`, then stops
    /// accepting, lets the requests in flight finish and shuts Stint down.
    /// The layer sees each client's address; connections follow the
    /// builder's [`ServeConfig`] (header, idle and request timeouts, a bound
    /// on open connections).
    ///
    /// # Errors
    ///
    /// The listener fails. Stint is shut down all the same.
    pub async fn serve(self, listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, app, shutdown_signal()).await
    }

    /// As [`Stint::serve`], until `signal` completes.
    ///
    /// # Errors
    ///
    /// The listener fails. Stint is shut down all the same.
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let served = serve::serve(listener, app, self.serve, signal).await;
        self.shutdown().await;
        served
    }

    /// Stops the background work and writes every queued record to the
    /// durable store (if the store fails, they stay in the journal for the
    /// next start).
    pub async fn shutdown(mut self) {
        let Some(bg) = self.background.take() else {
            return;
        };
        tracing::info!("stint: shutting down, writing queued records to the durable store");
        bg.sweeper.abort();
        if let Some(prober) = bg.prober {
            prober.abort();
        }
        if let Some(jobs) = bg.jobs {
            jobs.stop().await;
        }
        bg.writer.shutdown().await;
        if bg.close_durable {
            self.durable.close().await;
        }
    }
}

impl Drop for Stint {
    fn drop(&mut self) {
        if let Some(bg) = self.background.take() {
            bg.sweeper.abort();
            if let Some(prober) = bg.prober {
                prober.abort();
            }
            tracing::warn!(
                "stint: dropped without shutdown(); records not yet written stay in the journal and are written at the next start"
            );
        }
    }
}

/// Completes on Ctrl-C, or on `SIGTERM` on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The Rust snippets of the repository's README and of this crate's README,
/// compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
