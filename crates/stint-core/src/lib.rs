//! # stint-core
//!
//! The domain of Stint, the session layer for e-commerce backends: ids and
//! tokens, [`SessionRecord`] and [`Event`], the policies (idle timeout, absolute
//! lifetime), the request context (anonymised IP, user agent, bots,
//! attribution), the store traits [`HotStore`] and [`ColdStore`], and the
//! [`Engine`] that runs every operation over them.
//!
//! This crate does no I/O. Stores live in their own crates (`stint-memory`,
//! `stint-sql`), the HTTP side in `stint-axum`, and the `stint` binary wires
//! them together.
//!
//! ```
//! use stint_core::context::{AgentParser, RequestInfo};
//! use stint_core::{Attributes, Policy, SessionRecord, Timestamp, Token, VisitorId};
//!
//! // What the first request of a visit says about the visitor.
//! let info = RequestInfo {
//!     peer: Some("203.0.113.77".parse().unwrap()),
//!     user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"),
//!     path: "/api/storefront/products",
//!     query: Some("utm_source=news"),
//!     ..RequestInfo::default()
//! };
//! let attributes: Attributes = info.attributes(AgentParser::shared());
//! assert_eq!(attributes.ip_address.as_deref(), Some("203.0.113.0"));
//! assert_eq!(attributes.device.as_deref(), Some("mobile"));
//! assert_eq!(attributes.utm_source.as_deref(), Some("news"));
//!
//! // A session and the token its cookie carries; stores only see the hash.
//! let now = Timestamp(1_795_000_000_000);
//! let session = SessionRecord::new(VisitorId::new(), attributes, now);
//! let token = Token::generate();
//! assert_eq!(Token::decode(&token.encode()).map(|t| t.hash()), Some(token.hash()));
//!
//! // It lives for the idle timeout unless seen again.
//! let policy = Policy::default();
//! assert!(session.is_live(&policy, now.plus_secs(1799)));
//! assert!(!session.is_live(&policy, now.plus_secs(1800)));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod context;
mod engine;
mod error;
pub mod event;
mod id;
#[cfg(feature = "openapi")]
mod openapi;
#[cfg(feature = "openapi")]
pub use openapi::SessionSchema;
mod policy;
mod session;
pub mod store;
mod time;
mod token;

pub use engine::{Engine, Hit, Person, Resumed};
pub use error::{Error, Result};
pub use event::Event;
pub use id::{InvalidId, SessionId, VisitorId};
pub use policy::Policy;
pub use session::{Attributes, Data, SessionKind, SessionRecord, data_from, empty_data};
pub use store::{AnalyticsStore, ColdStore, HistoryStore, HotStore, PrivacyStore};
pub use time::{Clock, ManualClock, SystemClock, Timestamp, duration_millis};
pub use token::{TOKEN_TEXT_LEN, Token, TokenHash};
