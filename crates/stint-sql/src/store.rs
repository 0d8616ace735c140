//! The cold store on SQL: one type over SQLite and PostgreSQL.
//!
//! Both backends share the schema's shape and, where the dialects agree, the
//! statements (`$N` placeholders are understood by both). Where they differ
//! (`MAX`/`GREATEST`, `UPDATE … FROM (VALUES …)`), [`Dialect`] holds each
//! backend's text. Code that runs a statement is written once and expanded
//! for each pool by [`on_pool!`].

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, SqliteConnection};
use std::collections::HashMap;

use stint_core::analytics::{DayRow, DaySummary, EventFact, OrderFact, PageCount, SessionFacts, SourceFacts};
use stint_core::event::{Event, kinds};
use stint_core::store::{AnalyticsStore, ColdStats, HistoryStore, PrivacyStore, Record, SessionQuery};
use stint_core::{Error, Policy, Result, SessionId, SessionRecord, Timestamp, TokenHash};

use crate::batch::{Folded, Snapshot};
use crate::rows::{self, RowExt, corrupt, session_columns};
use crate::{PostgresUrl, StoreError, migrate};

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    /// The pool, and whether its database is a file (not in memory).
    Sqlite(SqlitePool, bool),
    /// The pool, and whether a pooler in transaction mode stands between
    /// (see [`PostgresUrl`](crate::PostgresUrl)).
    Postgres(PgPool, bool),
}

/// Runs `$body` with `$p` bound to a connection (and `$d` to the dialect) of
/// whichever backend the store has; the body is compiled once per backend.
/// Behind a transaction-mode pooler the connection is a transaction, so
/// that the body's statements run on one server connection; it commits
/// when the body is done (a body that returns early, on an error, rolls it
/// back). `pool` binds `$p` to the pool itself.
macro_rules! on_pool {
    ($store:expr, |$p:ident, $d:ident| $body:expr) => {
        on_pool!(@ &$store.pool, |$p, $d| $body)
    };
    (writes $store:expr, |$p:ident, $d:ident| $body:expr) => {
        on_pool!(@ &$store.writes, |$p, $d| $body)
    };
    (pool $store:expr, |$p:ident, $d:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($p, _) => {
                #[allow(unused_variables)]
                let $d = &$crate::store::SQLITE;
                $body
            }
            $crate::store::Pool::Postgres($p, _) => {
                #[allow(unused_variables)]
                let $d = &$crate::store::POSTGRES;
                $body
            }
        }
    };
    (@ $pool:expr, |$p:ident, $d:ident| $body:expr) => {
        match $pool {
            $crate::store::Pool::Sqlite(pool, file) => {
                #[allow(unused_variables)]
                let $d = &$crate::store::SQLITE;
                let mut conn = pool.acquire().await.map_err(stint_core::Error::cold)?;
                let out: stint_core::Result<_> = async {
                    #[allow(unused_mut)]
                    let mut $p: &mut sqlx::SqliteConnection = &mut *conn;
                    $body
                }
                .await;
                if out.is_err() && *file {
                    // SQLite rolls a transaction back by itself on some errors
                    // (a full disk, a lock held too long) while sqlx still
                    // counts it open: that connection's next transaction would
                    // be a savepoint inside nothing, and never commit. A new
                    // connection starts clean. (An in-memory database lives in
                    // its one connection: that one is kept.)
                    conn.close_on_drop();
                }
                out
            }
            $crate::store::Pool::Postgres(pool, false) => {
                #[allow(unused_variables)]
                let $d = &$crate::store::POSTGRES;
                let mut conn = pool.acquire().await.map_err(stint_core::Error::cold)?;
                #[allow(unused_mut)]
                let mut $p: &mut sqlx::PgConnection = &mut *conn;
                $body
            }
            $crate::store::Pool::Postgres(pool, true) => {
                #[allow(unused_variables)]
                let $d = &$crate::store::POSTGRES_POOLED;
                let mut tx = pool.begin().await.map_err(stint_core::Error::cold)?;
                let out = {
                    #[allow(unused_mut)]
                    let mut $p: &mut sqlx::PgConnection = &mut *tx;
                    $body
                };
                tx.commit().await.map_err(stint_core::Error::cold)?;
                out
            }
        }
    };
}
pub(crate) use on_pool;

/// The snapshot upsert's conflict clause: the newest version wins, counters
/// only grow, an ended session keeps no token. `$max` is the dialect's
/// two-argument maximum.
macro_rules! upsert_conflict {
    ($max:literal) => {
        concat!(
            " ON CONFLICT (id) DO UPDATE SET \
             token_hash = CASE WHEN sessions.ended_at IS NOT NULL THEN NULL \
                               WHEN excluded.version >= sessions.version THEN COALESCE(excluded.token_hash, sessions.token_hash) \
                               ELSE sessions.token_hash END, \
             kind = CASE WHEN excluded.version >= sessions.version THEN excluded.kind ELSE sessions.kind END, \
             customer_id = CASE WHEN excluded.version >= sessions.version THEN excluded.customer_id ELSE sessions.customer_id END, \
             converted = ", $max, "(sessions.converted, excluded.converted), \
             order_id = CASE WHEN excluded.version >= sessions.version THEN COALESCE(excluded.order_id, sessions.order_id) ELSE sessions.order_id END, \
             data = CASE WHEN excluded.version >= sessions.version THEN excluded.data ELSE sessions.data END, \
             page_views = ", $max, "(sessions.page_views, excluded.page_views), \
             last_seen_at = ", $max, "(sessions.last_seen_at, excluded.last_seen_at), \
             version = ", $max, "(sessions.version, excluded.version)"
        )
    };
}

/// Ends one session (`$1` when, `$2` why, `$3` the id); an earlier end stays.
macro_rules! end_session {
    ($max:literal) => {
        concat!(
            "UPDATE sessions SET ended_at = COALESCE(ended_at, $1), end_reason = COALESCE(end_reason, $2), \
             token_hash = NULL, \
             duration_secs = COALESCE(duration_secs, (",
            $max,
            "(last_seen_at, started_at) - started_at) / 1000) \
             WHERE id = $3"
        )
    };
}

/// Ends every session expired at `$3` (`$1` idle timeout, `$2` lifetime, in
/// ms) at the moment it expired.
macro_rules! close_expired {
    ($max:literal, $min:literal) => {
        concat!(
            "UPDATE sessions SET \
             ended_at = ",
            $min,
            "(last_seen_at + $1, started_at + $2), end_reason = 'expired', token_hash = NULL, \
             duration_secs = (",
            $max,
            "(last_seen_at, started_at) - started_at) / 1000 \
             WHERE ended_at IS NULL AND (last_seen_at <= $3 - $1 OR started_at <= $3 - $2)"
        )
    };
}

/// The statements whose text differs between the backends.
pub(crate) struct Dialect {
    /// The backend's name, for `/api/admin/stats`.
    pub(crate) name: &'static str,
    /// Whether statements are prepared once per connection and kept
    /// (named), or prepared for each run (unnamed): behind a
    /// transaction-mode pooler a named statement would be looked for on a
    /// server connection that never saw it.
    pub(crate) persistent: bool,
    upsert_conflict: &'static str,
    /// How a batch of events is inserted, and what a repeated event id does.
    event_head: &'static str,
    event_tail: &'static str,
    activity_head: &'static str,
    activity_tail: &'static str,
    end: &'static str,
    close_expired: &'static str,
    sessions: &'static str,
}

pub(crate) const SQLITE: Dialect = Dialect {
    name: "sqlite",
    persistent: true,
    upsert_conflict: upsert_conflict!("MAX"),
    // `OR IGNORE` rather than `ON CONFLICT DO NOTHING`: a statement that
    // cannot abort needs no statement journal, which otherwise copies every
    // page the insert touches.
    event_head: "INSERT OR IGNORE INTO events (id, session_id, visitor_id, kind, page, product_id, metadata, at) ",
    event_tail: "",
    activity_head: "UPDATE sessions SET last_seen_at = MAX(sessions.last_seen_at, v.column2), \
         page_views = MAX(sessions.page_views, v.column3) FROM (",
    activity_tail: ") AS v WHERE sessions.id = v.column1",
    end: end_session!("MAX"),
    close_expired: close_expired!("MAX", "MIN"),
    sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions \
         WHERE ($1 IS NULL OR customer_id = $1) \
           AND ($2 IS NULL OR visitor_id = $2) \
           AND ($3 IS NULL OR converted = $3) \
           AND ($4 IS NULL OR id < $4) \
           AND ($5 IS NULL OR $5 = (ended_at IS NULL AND last_seen_at > $6 AND started_at > $7)) \
         ORDER BY id DESC LIMIT $8"
    ),
};

pub(crate) const POSTGRES: Dialect = Dialect {
    name: "postgres",
    persistent: true,
    upsert_conflict: upsert_conflict!("GREATEST"),
    event_head: "INSERT INTO events (id, session_id, visitor_id, kind, page, product_id, metadata, at) ",
    event_tail: " ON CONFLICT (id) DO NOTHING",
    activity_head: "UPDATE sessions SET last_seen_at = GREATEST(sessions.last_seen_at, v.at), \
         page_views = GREATEST(sessions.page_views, v.page_views) FROM (",
    activity_tail: ") AS v (id, at, page_views) WHERE sessions.id = v.id",
    end: end_session!("GREATEST"),
    close_expired: close_expired!("GREATEST", "LEAST"),
    sessions: concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions \
         WHERE ($1::TEXT IS NULL OR customer_id = $1) \
           AND ($2::TEXT IS NULL OR visitor_id = $2) \
           AND ($3::BIGINT IS NULL OR converted = $3) \
           AND ($4::TEXT IS NULL OR id < $4) \
           AND ($5::BIGINT IS NULL OR ($5 = 1) = (ended_at IS NULL AND last_seen_at > $6 AND started_at > $7)) \
         ORDER BY id DESC LIMIT $8"
    ),
};

/// PostgreSQL behind a transaction-mode pooler.
pub(crate) const POSTGRES_POOLED: Dialect = Dialect {
    persistent: false,
    ..POSTGRES
};

/// The cold store. Clone it freely: it is a handle on a pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) pool: Pool,
    /// Where the writer's batches go. SQLite: a connection of its own
    /// (SQLite has one writer at a time anyway), so that every batch finds
    /// the pages the last one left in its cache; PostgreSQL: the pool.
    writes: Pool,
}

/// Rows per multi-row statement: few enough to stay far below either
/// backend's limit on bound parameters, many enough that a batch is a
/// handful of statements rather than one per record.
const ROWS_PER_STATEMENT: usize = 256;

/// How far outside its session's span (`started_at` to `last_seen_at`) an
/// event is still looked for: the instances sharing a Redis stamp times
/// with their own clocks, which may differ by this much.
const SPAN_SLACK_MS: i64 = 60_000;

/// The event kinds analytics reads besides page views (the funnel's steps).
const FUNNEL_KINDS: [&str; 4] = [
    kinds::CUSTOMER_LOGIN,
    kinds::ADD_TO_CART,
    kinds::CHECKOUT_STARTED,
    kinds::ORDER_COMPLETED,
];

fn cold(e: sqlx::Error) -> Error {
    Error::cold(e)
}

/// sqlx's error with its cause: a refused certificate says why only there
/// ("invalid peer certificate: UnknownIssuer").
fn connect_error(e: &sqlx::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    if message.contains("unsupported startup parameter") {
        message.push_str(
            " (a pooler in transaction mode, such as PgBouncer? add pgbouncer=true to DATABASE_URL)",
        );
    }
    message
}

fn ms(t: Timestamp) -> i64 {
    t.millis()
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Opens the store at `url` and applies the pending migrations:
    /// `sqlite://PATH` (created if missing), `sqlite::memory:`, or
    /// `postgres://…` / `postgresql://…`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for a URL that is neither SQLite nor PostgreSQL or is
    /// malformed; [`StoreError::Connect`] when the database cannot be reached (the message
    /// says why: refused, unknown database, authentication); [`StoreError::Migrate`] when a
    /// migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else if url.starts_with("sqlite:") {
            Self::connect_sqlite(url).await
        } else {
            Err(StoreError::Config(
                "DATABASE_URL must start with sqlite:// or postgres://".to_owned(),
            ))
        }
    }

    /// Opens (creating if needed) the SQLite database file at `path`.
    ///
    /// # Errors
    ///
    /// As [`SqlStore::connect`].
    pub async fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    async fn connect_sqlite(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
            // 16 MiB of page cache (the default is 2 MiB): a group commit of
            // thousands of events no longer spills dirty pages mid-transaction.
            .pragma("cache_size", "-16384")
            // A checkpoint copies each page once however often it changed, so
            // fewer, larger checkpoints write the hot index pages far less
            // often; the WAL is cut back to the same 64 MiB after each.
            .pragma("wal_autocheckpoint", "16384")
            .pragma("journal_size_limit", "67108864");
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            // Switching a new file to WAL needs the database to itself: do it,
            // and the migrations, on one connection before the pool opens more.
            let mut first = SqliteConnection::connect_with(&options)
                .await
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            migrate::sqlite(&mut first).await?;
            first
                .close()
                .await
                .map_err(|e| StoreError::Connect(e.to_string()))?;
        }
        let open = |connections: u32| -> BoxFuture<'static, Result<SqlitePool, sqlx::Error>> {
            Box::pin(
                SqlitePoolOptions::new()
                    .max_connections(connections)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options.clone()),
            )
        };
        // An in-memory database lives in one connection.
        let pool = open(if in_memory { 1 } else { 8 })
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let writes = if in_memory {
            pool.clone()
        } else {
            open(1).await.map_err(|e| StoreError::Connect(e.to_string()))?
        };
        if in_memory {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            migrate::sqlite(&mut conn).await?;
        }
        Ok(Self {
            pool: Pool::Sqlite(pool, !in_memory),
            writes: Pool::Sqlite(writes, !in_memory),
        })
    }

    async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        let url = PostgresUrl::parse(url)?;
        let options = url.options().clone();
        // One connection first: the pool would only report that it timed
        // out, where this says why (connection refused, no such database,
        // authentication failed, a certificate that does not verify).
        let probe = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&options))
            .await
            .map_err(|_| StoreError::Connect("no answer from the server within 10 s".to_owned()))?
            .map_err(|e| StoreError::Connect(connect_error(&e)))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Connect(connect_error(&e)))?;
        migrate::postgres(&pool, url.transaction_pooler()).await?;
        Ok(Self {
            pool: Pool::Postgres(pool.clone(), url.transaction_pooler()),
            writes: Pool::Postgres(pool, url.transaction_pooler()),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        on_pool!(pool self, |_p, d| d.name)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        for pool in [&self.pool, &self.writes] {
            match pool {
                Pool::Sqlite(p, _) => p.close().await,
                Pool::Postgres(p, _) => p.close().await,
            }
        }
    }

    async fn write_batch(&self, f: &Folded<'_>) -> Result<()> {
        on_pool!(writes self, |p, d| {
            let mut tx = p.begin().await.map_err(cold)?;
            let snapshots: Vec<&Snapshot<'_>> = f.snapshots.values().collect();
            for chunk in snapshots.chunks(ROWS_PER_STATEMENT) {
                let mut data = Vec::with_capacity(chunk.len());
                for snapshot in chunk {
                    data.push(serde_json::to_string(&*snapshot.session.data).map_err(|e| corrupt("session data", e))?);
                }
                let mut q = QueryBuilder::new(
                    "INSERT INTO sessions (id, visitor_id, token_hash, kind, customer_id, page_views, converted, \
                     order_id, started_at, last_seen_at, version, ip_address, device, browser, os, country, city, \
                     landing_page, referrer, utm_source, utm_medium, utm_campaign, data) ",
                );
                q.push_values(chunk.iter().zip(data), |mut b, (snapshot, data)| {
                    let (s, token, (last_seen, page_views)) = (snapshot.session, snapshot.token, snapshot.activity);
                    let a = &*s.attributes;
                    b.push_bind(s.id.to_string())
                        .push_bind(s.visitor_id.to_string())
                        .push_bind(token.map(|t| t.as_bytes().to_vec()))
                        .push_bind(s.kind.as_str())
                        .push_bind(s.customer_id.clone())
                        .push_bind(count(page_views))
                        .push_bind(i64::from(s.converted))
                        .push_bind(s.order_id.clone())
                        .push_bind(ms(s.started_at))
                        .push_bind(ms(last_seen))
                        .push_bind(count(s.version))
                        .push_bind(a.ip_address.clone())
                        .push_bind(a.device.clone())
                        .push_bind(a.browser.clone())
                        .push_bind(a.os.clone())
                        .push_bind(a.country.clone())
                        .push_bind(a.city.clone())
                        .push_bind(a.landing_page.clone())
                        .push_bind(a.referrer.clone())
                        .push_bind(a.utm_source.clone())
                        .push_bind(a.utm_medium.clone())
                        .push_bind(a.utm_campaign.clone())
                        .push_bind(data);
                });
                q.push(d.upsert_conflict);
                q.build().persistent(d.persistent).execute(&mut *tx).await.map_err(cold)?;
            }
            for chunk in f.events.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::new(d.event_head);
                q.push_values(chunk, |mut b, e: &&Event| {
                    b.push_bind(e.id.to_string())
                        .push_bind(e.session_id.to_string())
                        .push_bind(e.visitor_id.to_string())
                        .push_bind(e.kind.clone())
                        .push_bind(e.page.clone())
                        .push_bind(e.product_id.clone())
                        .push_bind(e.metadata.as_ref().map(Value::to_string))
                        .push_bind(ms(e.at));
                });
                q.push(d.event_tail);
                q.build().persistent(d.persistent).execute(&mut *tx).await.map_err(cold)?;
            }
            let activity: Vec<_> = f.activity.iter().collect();
            for chunk in activity.chunks(ROWS_PER_STATEMENT) {
                let mut q = QueryBuilder::new(d.activity_head);
                q.push_values(chunk, |mut b, (id, (at, page_views))| {
                    // Typed, so that PostgreSQL need not guess a VALUES list's types.
                    b.push_bind(id.to_string())
                        .push_bind(ms(*at))
                        .push_unseparated(if d.name == "postgres" { "::BIGINT" } else { "" })
                        .push_bind(count(*page_views))
                        .push_unseparated(if d.name == "postgres" { "::BIGINT" } else { "" });
                });
                q.push(d.activity_tail);
                q.build().persistent(d.persistent).execute(&mut *tx).await.map_err(cold)?;
            }
            for (id, at, reason) in &f.ends {
                sqlx::query(d.end)
                    .persistent(d.persistent)
                    .bind(ms(*at))
                    .bind(reason.as_str())
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(cold)?;
            }
            tx.commit().await.map_err(cold)
        })
    }
}

#[async_trait]
impl HistoryStore for SqlStore {
    async fn write(&self, batch: &[Record]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write_batch(&Folded::new(batch)).await
    }

    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE token_hash = $1 AND ended_at IS NULL"
        );
        on_pool!(self, |p, d| {
            let row = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(token.as_bytes().to_vec())
                .fetch_optional(p)
                .await
                .map_err(cold)?;
            row.as_ref().map(rows::session).transpose()
        })
    }

    async fn session(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        const SQL: &str = concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = $1");
        on_pool!(self, |p, d| {
            let row = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(id.to_string())
                .fetch_optional(p)
                .await
                .map_err(cold)?;
            row.as_ref().map(rows::session).transpose()
        })
    }

    async fn open_session(&self, id: &SessionId) -> Result<Option<(SessionRecord, TokenHash)>> {
        const SQL: &str = concat!(
            "SELECT ",
            session_columns!(),
            ", token_hash FROM sessions WHERE id = $1 AND ended_at IS NULL AND token_hash IS NOT NULL"
        );
        on_pool!(self, |p, d| {
            let Some(row) = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(id.to_string())
                .fetch_optional(p)
                .await
                .map_err(cold)?
            else {
                return Ok(None);
            };
            let session = rows::session(&row)?;
            let raw: Vec<u8> = sqlx::Row::try_get(&row, "token_hash").map_err(cold)?;
            let token =
                <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| corrupt("token hash", "not 32 bytes"))?;
            Ok(Some((session, TokenHash(token))))
        })
    }

    async fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRecord>> {
        // Live means: not ended, not idle past the timeout, not past the
        // lifetime; judged by the caller's clock, not the database's.
        on_pool!(self, |p, d| {
            let rows = sqlx::query(d.sessions)
                .persistent(d.persistent)
                .bind(q.customer_id.as_deref())
                .bind(q.visitor_id.map(|v| v.to_string()))
                .bind(q.converted.map(i64::from))
                .bind(q.before.map(|b| b.to_string()))
                .bind(q.active.map(i64::from))
                .bind(ms(q.now.minus(q.policy.idle_timeout)))
                .bind(ms(q.now.minus(q.policy.max_age)))
                .bind(i64::from(q.limit))
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter().map(rows::session).collect()
        })
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<Event>> {
        // Within the session's span, by the index by time (events have no
        // index by session: see migration 6).
        const SQL: &str = "SELECT e.id, e.session_id, e.visitor_id, e.kind, e.page, e.product_id, e.metadata, e.at \
                           FROM sessions s CROSS JOIN events e \
                           WHERE s.id = $1 AND e.at >= s.started_at - $2 AND e.at <= s.last_seen_at + $2 \
                             AND e.session_id = s.id ORDER BY e.at, e.id";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(id.to_string())
                .bind(SPAN_SLACK_MS)
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter().map(rows::event).collect()
        })
    }

    async fn customer_sessions(&self, customer_id: &str, since: Timestamp) -> Result<Vec<SessionRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE customer_id = $1 AND ended_at IS NULL AND last_seen_at >= $2 ORDER BY id DESC"
        );
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(customer_id)
                .bind(ms(since))
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter().map(rows::session).collect()
        })
    }

    async fn close_expired(&self, now: Timestamp, policy: &Policy) -> Result<u64> {
        on_pool!(self, |p, d| {
            let done = sqlx::query(d.close_expired)
                .persistent(d.persistent)
                .bind(stint_core::duration_millis(policy.idle_timeout))
                .bind(stint_core::duration_millis(policy.max_age))
                .bind(ms(now))
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(done.rows_affected())
        })
    }

    async fn stats(&self) -> Result<ColdStats> {
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM sessions) AS sessions, \
                           (SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL) AS open_sessions, \
                           (SELECT COUNT(*) FROM events) AS events";
        on_pool!(self, |p, d| {
            let row = sqlx::query(SQL)
                .persistent(d.persistent)
                .fetch_one(p)
                .await
                .map_err(cold)?;
            let n = |c: &str| row.int(c).map(|v| u64::try_from(v).unwrap_or(0));
            Ok(ColdStats {
                sessions: n("sessions")?,
                open_sessions: n("open_sessions")?,
                events: n("events")?,
            })
        })
    }

    async fn ping(&self) -> Result<()> {
        on_pool!(self, |p, d| {
            sqlx::query("SELECT 1")
                .persistent(d.persistent)
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(())
        })
    }
}

#[async_trait]
impl AnalyticsStore for SqlStore {
    async fn analytics_facts(
        &self,
        from: Timestamp,
        to: Timestamp,
        pages: Option<&str>,
    ) -> Result<(Vec<SessionFacts>, Vec<EventFact>)> {
        // Tracked sessions have a landing page; those of visitors who asked
        // not to be tracked keep none.
        const SESSIONS: &str = "SELECT s.id, s.visitor_id, s.started_at, s.last_seen_at, s.page_views, s.converted, \
             s.device, s.browser, s.os, s.country, s.city, s.utm_source, s.utm_medium, s.utm_campaign, s.referrer, \
             s.landing_page FROM sessions s \
             WHERE s.started_at >= $1 AND s.started_at < $2 AND s.landing_page IS NOT NULL";
        // Their events lie between the first start and the last time one of
        // them was seen: one range of the index by time, sorted per session
        // as analytics reads them. Page views are most events: they come
        // only when asked for.
        const EVENTS: &str = "SELECT session_id, kind, page, metadata, at FROM events \
             WHERE at >= $1 AND at <= $2 \
               AND (kind NOT IN ('session_start', 'page_view') OR (kind = 'page_view' AND $3 AND page LIKE $4)) \
             ORDER BY session_id, at, id";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SESSIONS)
                .persistent(d.persistent)
                .bind(ms(from))
                .bind(ms(to))
                .fetch_all(&mut *p)
                .await
                .map_err(cold)?;
            let mut sessions = rows.iter().map(rows::session_facts).collect::<Result<Vec<_>>>()?;
            let Some(last) = sessions.iter().map(|s| ms(s.last_seen_at)).max() else {
                return Ok((sessions, Vec::new()));
            };
            let pattern = pages.map(|p| format!("{}%", p.replace(['%', '_'], "")));
            let rows = sqlx::query(EVENTS)
                .persistent(d.persistent)
                .bind(ms(from) - SPAN_SLACK_MS)
                .bind(last + SPAN_SLACK_MS)
                .bind(pattern.is_some())
                .bind(pattern.unwrap_or_default())
                .fetch_all(p)
                .await
                .map_err(cold)?;
            let index: HashMap<SessionId, usize> =
                sessions.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
            let mut events = Vec::new();
            for row in &rows {
                let event = rows::event_fact(row)?;
                // The range also holds other sessions' events.
                let Some(&i) = index.get(&event.session_id) else {
                    continue;
                };
                let page_view = event.kind == kinds::PAGE_VIEW;
                if !page_view {
                    // A bounce is one page view and nothing else.
                    sessions[i].other_events += 1;
                }
                if page_view || FUNNEL_KINDS.contains(&event.kind.as_str()) {
                    events.push(event);
                }
            }
            Ok((sessions, events))
        })
    }

    async fn attribution_facts(
        &self,
        from: Timestamp,
        to: Timestamp,
        since: Timestamp,
    ) -> Result<(Vec<OrderFact>, Vec<SourceFacts>)> {
        // Each order with its own session's source, so that an order is
        // credited even when its session started before `since`.
        const ORDERS: &str = "SELECT e.session_id, e.kind, e.page, e.metadata, e.at, \
             s.id, s.visitor_id, s.started_at, s.utm_source, s.utm_medium, s.utm_campaign, s.referrer, \
             s.landing_page FROM events e JOIN sessions s ON s.id = e.session_id \
             WHERE e.kind = 'order_completed' AND e.at >= $1 AND e.at < $2 AND s.landing_page IS NOT NULL \
             ORDER BY e.at, e.id";
        const EARLIER: &str = "SELECT s.id, s.visitor_id, s.started_at, s.utm_source, s.utm_medium, \
             s.utm_campaign, s.referrer, s.landing_page FROM sessions s \
             WHERE s.visitor_id IN (SELECT o.visitor_id FROM events e JOIN sessions o ON o.id = e.session_id \
                 WHERE e.kind = 'order_completed' AND e.at >= $1 AND e.at < $2) \
               AND s.started_at >= $3 AND s.started_at < $2 AND s.landing_page IS NOT NULL";
        on_pool!(self, |p, d| {
            let orders = sqlx::query(ORDERS)
                .persistent(d.persistent)
                .bind(ms(from))
                .bind(ms(to))
                .fetch_all(&mut *p)
                .await
                .map_err(cold)?;
            let earlier = sqlx::query(EARLIER)
                .persistent(d.persistent)
                .bind(ms(from))
                .bind(ms(to))
                .bind(ms(since))
                .fetch_all(p)
                .await
                .map_err(cold)?;
            let mut sources: HashMap<SessionId, SourceFacts> = HashMap::new();
            let mut facts = Vec::with_capacity(orders.len());
            for row in &orders {
                let source = rows::source_facts(row)?;
                facts.push(OrderFact::from_event(&rows::event_fact(row)?, source.visitor_id));
                sources.insert(source.id, source);
            }
            for row in &earlier {
                let source = rows::source_facts(row)?;
                sources.insert(source.id, source);
            }
            Ok((facts, sources.into_values().collect()))
        })
    }

    async fn save_day_summaries(&self, date: &str, summaries: &[DaySummary]) -> Result<()> {
        on_pool!(self, |p, d| {
            let mut tx = p.begin().await.map_err(cold)?;
            sqlx::query("DELETE FROM day_summaries WHERE date = $1")
                .persistent(d.persistent)
                .bind(date)
                .execute(&mut *tx)
                .await
                .map_err(cold)?;
            for chunk in summaries.chunks(ROWS_PER_STATEMENT / 2) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO day_summaries (date, dimension, value, sessions, page_views, bounces, seconds, \
                     logins, conversions, revenue, funnel, visitors) ",
                );
                q.push_values(chunk, |mut b, r| {
                    let s = &r.summary;
                    b.push_bind(date.to_owned())
                        .push_bind(r.dimension.clone())
                        .push_bind(r.value.clone())
                        .push_bind(count(s.sessions))
                        .push_bind(count(s.page_views))
                        .push_bind(count(s.bounces))
                        .push_bind(count(s.seconds))
                        .push_bind(count(s.logins))
                        .push_bind(count(s.conversions))
                        .push_bind(s.revenue)
                        .push_bind(rows::funnel_text(&s.funnel))
                        .push_bind(rows::visitor_bytes(&s.visitors));
                });
                q.build()
                    .persistent(d.persistent)
                    .execute(&mut *tx)
                    .await
                    .map_err(cold)?;
            }
            tx.commit().await.map_err(cold)
        })
    }

    async fn day_summaries(&self, from: &str, to: &str, dimension: &str) -> Result<Vec<DaySummary>> {
        const SQL: &str = "SELECT date, dimension, value, sessions, page_views, bounces, seconds, logins, \
             conversions, revenue, funnel, visitors FROM day_summaries \
             WHERE dimension = $1 AND date >= $2 AND date <= $3 ORDER BY date";
        on_pool!(self, |p, d| {
            let found = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(dimension)
                .bind(from)
                .bind(to)
                .fetch_all(p)
                .await
                .map_err(cold)?;
            found.iter().map(rows::day_summary).collect()
        })
    }

    async fn top_pages(&self, since: Timestamp, limit: u32) -> Result<Vec<PageCount>> {
        // The index on `at` bounds the scan to the window.
        const SQL: &str = "SELECT e.page, COUNT(*) AS views FROM events e \
             WHERE e.at >= $1 AND e.kind = 'page_view' AND e.page IS NOT NULL \
             GROUP BY e.page ORDER BY views DESC, e.page LIMIT $2";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(ms(since))
                .bind(i64::from(limit))
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter()
                .map(|r| {
                    let views: i64 = sqlx::Row::try_get(r, "views").map_err(cold)?;
                    Ok(PageCount {
                        page: sqlx::Row::try_get(r, "page").map_err(cold)?,
                        page_views: u64::try_from(views).unwrap_or_default(),
                    })
                })
                .collect()
        })
    }

    async fn save_rollups(&self, days: &[DayRow], at: Timestamp) -> Result<()> {
        const SQL: &str = "INSERT INTO daily_metrics (date, visitors, sessions, page_views, bounce_rate, \
             avg_session_seconds, logins, conversions, conversion_rate, revenue, computed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (date) DO UPDATE SET visitors = excluded.visitors, sessions = excluded.sessions, \
             page_views = excluded.page_views, bounce_rate = excluded.bounce_rate, \
             avg_session_seconds = excluded.avg_session_seconds, logins = excluded.logins, \
             conversions = excluded.conversions, conversion_rate = excluded.conversion_rate, \
             revenue = excluded.revenue, computed_at = excluded.computed_at";
        on_pool!(self, |p, d| {
            let mut tx = p.begin().await.map_err(cold)?;
            for day in days {
                let f = &day.figures;
                sqlx::query(SQL)
                    .persistent(d.persistent)
                    .bind(&day.date)
                    .bind(count(f.visitors))
                    .bind(count(f.sessions))
                    .bind(count(f.page_views))
                    .bind(f.bounce_rate)
                    .bind(f.avg_session_seconds)
                    .bind(count(f.logins))
                    .bind(count(f.conversions))
                    .bind(f.conversion_rate)
                    .bind(f.revenue)
                    .bind(ms(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(cold)?;
            }
            tx.commit().await.map_err(cold)
        })
    }

    async fn rollups(&self, from: &str, to: &str) -> Result<Vec<DayRow>> {
        const SQL: &str = "SELECT date, visitors, sessions, page_views, bounce_rate, avg_session_seconds, logins, \
             conversions, conversion_rate, revenue FROM daily_metrics WHERE date >= $1 AND date <= $2 ORDER BY date";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL)
                .persistent(d.persistent)
                .bind(from)
                .bind(to)
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter().map(rows::day_row).collect()
        })
    }
}

#[async_trait]
impl PrivacyStore for SqlStore {
    async fn erase(&self, sessions: &[SessionId]) -> Result<u64> {
        let mut erased = 0;
        on_pool!(self, |p, d| {
            let mut tx = p.begin().await.map_err(cold)?;
            for chunk in sessions.chunks(ROWS_PER_STATEMENT) {
                let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                // The visitors leave the summaries of the days their sessions were on.
                let starts = in_list(
                    "SELECT visitor_id, started_at, last_seen_at FROM sessions WHERE id IN (",
                    &ids,
                )
                .build()
                .persistent(d.persistent)
                .fetch_all(&mut *tx)
                .await
                .map_err(cold)?;
                let mut gone: HashMap<String, Vec<[u8; 16]>> = HashMap::new();
                for row in &starts {
                    let visitor: stint_core::VisitorId = row
                        .text("visitor_id")?
                        .parse()
                        .map_err(|e| corrupt("visitor id", e))?;
                    // Every day the session was on: its orders count on the day they were placed.
                    let (first, last) = (
                        Timestamp(row.int("started_at")?),
                        Timestamp(row.int("last_seen_at")?),
                    );
                    use stint_core::analytics::{day_of, days};
                    if let (Some(first), Some(last)) = (day_of(first), day_of(last)) {
                        for day in days(first, last) {
                            gone.entry(day.to_string()).or_default().push(visitor.to_bytes());
                        }
                    }
                }
                for (date, visitors) in &gone {
                    let kept =
                        sqlx::query("SELECT dimension, value, visitors FROM day_summaries WHERE date = $1")
                            .persistent(d.persistent)
                            .bind(date)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(cold)?;
                    for row in &kept {
                        let raw = row.bytes("visitors")?;
                        let left = rows::without_visitors(&raw, visitors);
                        if left.len() == raw.len() {
                            continue;
                        }
                        let value = row.opt_text("value")?;
                        sqlx::query(
                            "UPDATE day_summaries SET visitors = $1 WHERE date = $2 AND dimension = $3 \
                             AND (value = $4 OR (value IS NULL AND $4 IS NULL))",
                        )
                        .persistent(d.persistent)
                        .bind(left)
                        .bind(date)
                        .bind(row.text("dimension")?)
                        .bind(value)
                        .execute(&mut *tx)
                        .await
                        .map_err(cold)?;
                    }
                }
                // Each session's events within its span (see `events`).
                let mut q = in_list(
                    &format!(
                        "DELETE FROM events WHERE id IN (SELECT e.id FROM sessions s CROSS JOIN events e \
                         WHERE e.at >= s.started_at - {SPAN_SLACK_MS} AND e.at <= s.last_seen_at + {SPAN_SLACK_MS} \
                           AND e.session_id = s.id AND s.id IN ("
                    ),
                    &ids,
                );
                q.push(")");
                q.build()
                    .persistent(d.persistent)
                    .execute(&mut *tx)
                    .await
                    .map_err(cold)?;
                erased += in_list("DELETE FROM sessions WHERE id IN (", &ids)
                    .build()
                    .persistent(d.persistent)
                    .execute(&mut *tx)
                    .await
                    .map_err(cold)?
                    .rows_affected();
            }
            tx.commit().await.map_err(cold)
        })?;
        Ok(erased)
    }

    async fn delete_events_before(&self, before: Timestamp) -> Result<u64> {
        on_pool!(self, |p, d| {
            let done = sqlx::query("DELETE FROM events WHERE at < $1")
                .persistent(d.persistent)
                .bind(ms(before))
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(done.rows_affected())
        })
    }
}

/// `head` (ending in `IN (`) followed by the bound `ids` and `)`.
fn in_list<DB>(head: &str, ids: &[String]) -> QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut q = QueryBuilder::new(head);
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
    }
    q.push(")");
    q
}
