//! # stint-axum
//!
//! Stint's session layer for axum services: [`SessionLayer`] finds the
//! visitor's session (or starts one) before the handler and sets the cookies
//! after it; the [`Session`] extractor gives the handler the session, its
//! typed data, login / logout / convert and event recording;
//! [`CustomerSession`] admits signed-in customers only.
//!
//! Cookies follow Stint's contract: `session` (the signed token, `HttpOnly`,
//! `SameSite=Lax`, `Max-Age` = the idle timeout, re-sent once half of it has
//! passed) and `visitor_id` (readable by pages, long-lived). A missing,
//! malformed, expired, revoked or wrongly signed cookie never fails a request:
//! it gets a new session.
//!
//! Most applications wire the layer through the `stint` crate's builder,
//! which also runs the journal, the sweeper, the Redis failover and the
//! jobs. Assembled by hand, an [`Engine`](stint_core::Engine) needs a hot
//! store, a durable store and a writer whose task is drained at shutdown
//! (records still queued are otherwise lost), and the app must be served
//! with `ConnectInfo` so that the layer sees each client's address:
//!
//! ```
//! use std::{net::SocketAddr, sync::Arc, time::Duration};
//! use axum::{Router, routing::get};
//! use stint_axum::{CookieKeys, CustomerSession, Session, SessionConfig, SessionLayer};
//! use stint_core::{Engine, Policy, SystemClock};
//! use stint_memory::MemoryStore;
//! use stint_sql::{SqlStore, Writer, WriterConfig};
//!
//! async fn home(session: Session) -> String {
//!     format!("page view {} of session {}", session.record().page_views, session.id())
//! }
//!
//! async fn account(customer: CustomerSession) -> String {
//!     format!("hello, customer {}", customer.customer_id)
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cold = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
//! let (writer, writer_task) = Writer::spawn(cold.clone(), WriterConfig::default());
//! let hot = Arc::new(MemoryStore::new());
//! // Expired sessions leave memory even if nobody asks for them again.
//! let sweeper = hot.spawn_sweeper(Duration::from_secs(30), Arc::new(SystemClock));
//! let engine = Engine::new(hot, cold, Arc::new(writer), Arc::new(SystemClock), Policy::default());
//! let keys = CookieKeys::from_env_value("a secret of at least thirty-two bytes").unwrap();
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/account", get(account))
//!     .layer(SessionLayer::new(engine, SessionConfig::new(keys)));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
//!     .with_graceful_shutdown(async { /* until Ctrl-C, in a real service */ })
//!     .await
//!     .unwrap();
//! sweeper.abort();
//! writer_task.shutdown().await; // every queued record reaches the durable store
//! # });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
pub mod cookies;
mod error;
mod geo;
mod layer;
mod limit;
mod session;

pub use config::SessionConfig;
pub use cookies::{CookieKeys, KeyError};
pub use error::{AuthenticationRequired, MissingSessionLayer, SessionError};
pub use geo::{GeoIp, GeoIpError};
pub use layer::{Forwarded, SessionLayer, SessionService};
pub use session::{CustomerSession, Session};
