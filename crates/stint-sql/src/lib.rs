//! # stint-sql
//!
//! Stint's cold store on SQL: [`SqliteStore`] implements
//! [`ColdStore`](stint_core::ColdStore) on SQLite (sqlx, runtime queries, the
//! SQLite library bundled), with its migrations compiled in, and
//! [`Writer`] is the batching writer that carries records from the request
//! path to it in group commits.
//!
//! ```
//! use std::sync::Arc;
//! use stint_core::event::{Event, kinds};
//! use stint_core::store::{ColdStore, Record, Sink};
//! use stint_core::{Attributes, Session, Timestamp, VisitorId};
//! use stint_sql::{SqliteStore, Writer, WriterConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
//! let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
//!
//! let session = Session::new(VisitorId::new(), Attributes::default(), Timestamp(1_795_000_000_000));
//! writer.send(Record::Snapshot { session: session.clone(), token: None }).await.unwrap();
//! let start = Event::new(session.id, session.visitor_id, kinds::SESSION_START, session.started_at);
//! writer.send(Record::Event(start)).await.unwrap();
//!
//! task.shutdown().await; // everything queued is written
//! assert_eq!(store.events(&session.id).await.unwrap().len(), 1);
//! # });
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod migrate;
mod shop;
mod sqlite;
mod writer;

pub use shop::{Customer, Order};
pub use sqlite::SqliteStore;
pub use writer::{Writer, WriterConfig, WriterTask};

/// What can go wrong opening a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL or settings are wrong.
    #[error("{0}")]
    Config(String),
    /// The database could not be opened or reached.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// A migration failed; nothing of it was applied.
    #[error("migration failed: {0}")]
    Migrate(String),
}
