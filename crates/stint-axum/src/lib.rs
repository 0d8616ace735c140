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
//! ```
//! use std::sync::Arc;
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
//! let (writer, _task) = Writer::spawn(cold.clone(), WriterConfig::default());
//! let engine = Engine::new(
//!     Arc::new(MemoryStore::new()),
//!     cold,
//!     Arc::new(writer),
//!     Arc::new(SystemClock),
//!     Policy::default(),
//! );
//! let keys = CookieKeys::from_env_value("a secret of at least thirty-two bytes").unwrap();
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/account", get(account))
//!     .layer(SessionLayer::new(engine, SessionConfig::new(keys)));
//! # let _ = app;
//! # });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
pub mod cookies;
mod error;
mod layer;
mod limit;
mod session;

pub use config::SessionConfig;
pub use cookies::{CookieKeys, KeyError};
pub use error::{AuthenticationRequired, MissingSessionLayer, SessionError};
pub use layer::{SessionLayer, SessionService};
pub use session::{CustomerSession, Session};
