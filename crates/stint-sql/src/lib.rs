//! # stint-sql
//!
//! Stint's cold store on SQL: [`SqlStore`] implements
//! [`ColdStore`](stint_core::ColdStore) on SQLite (the library bundled) and
//! on PostgreSQL, chosen by the URL (sqlx, runtime queries: no database is
//! needed to build), with each backend's migrations compiled in, and
//! [`Writer`] is the batching writer that carries records from the request
//! path to it in group commits.
//!
//! ```
//! use std::sync::Arc;
//! use stint_core::event::{Event, kinds};
//! use stint_core::store::{HistoryStore, Record, Sink};
//! use stint_core::{Attributes, SessionRecord, Timestamp, VisitorId};
//! use stint_sql::{SqlStore, Writer, WriterConfig};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
//! let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
//!
//! let session = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(1_795_000_000_000));
//! writer.send(Record::Snapshot { session: session.clone(), token: None }).await.unwrap();
//! let start = Event::new(session.id, session.visitor_id, kinds::SESSION_START, session.started_at);
//! writer.send(Record::Event(start)).await.unwrap();
//!
//! task.shutdown().await; // everything queued is written
//! assert_eq!(store.events(&session.id).await.unwrap().len(), 1);
//! # });
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod journal;
mod lease;
pub mod migrate;
mod postgres;
mod rows;
mod store;
mod writer;

pub use postgres::PostgresUrl;
pub use store::SqlStore;
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
