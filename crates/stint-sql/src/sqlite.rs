//! The cold store on SQLite.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use stint_core::event::Event;
use stint_core::store::{ColdStats, ColdStore, EndReason, Record, SessionQuery};
use stint_core::{Attributes, Error, Policy, Result, Session, SessionId, SessionKind, Timestamp, TokenHash};

use crate::StoreError;
use crate::migrate;

macro_rules! session_columns {
    () => {
        "id, visitor_id, kind, customer_id, page_views, converted, order_id, started_at, last_seen_at, \
         ended_at, version, ip_address, device, browser, os, country, city, landing_page, referrer, \
         utm_source, utm_medium, utm_campaign, data"
    };
}

/// The SQLite cold store. Clone it freely: it is a handle on a pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH` or
    /// `sqlite::memory:`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
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
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if in_memory { 1 } else { 8 })
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        if in_memory {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| StoreError::Connect(e.to_string()))?;
            migrate::sqlite(&mut conn).await?;
        }
        Ok(Self { pool })
    }

    /// Opens the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// The connection pool, for the demo storefront's tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (after a checkpoint of the write-ahead log).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn cold(e: sqlx::Error) -> Error {
    Error::cold(e)
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what,
        message: e.to_string(),
    }
}

fn ms(t: Timestamp) -> i64 {
    t.millis()
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

pub(crate) fn session_from_row(row: &SqliteRow) -> Result<Session> {
    let get_s = |c: &str| {
        row.try_get::<Option<String>, _>(c)
            .map_err(|e| corrupt("session", e))
    };
    let id: String = row.try_get("id").map_err(|e| corrupt("session", e))?;
    let visitor: String = row.try_get("visitor_id").map_err(|e| corrupt("session", e))?;
    let kind: String = row.try_get("kind").map_err(|e| corrupt("session", e))?;
    let data: String = row.try_get("data").map_err(|e| corrupt("session", e))?;
    let data: Map<String, Value> = serde_json::from_str(&data).map_err(|e| corrupt("session data", e))?;
    let int = |c: &str| row.try_get::<i64, _>(c).map_err(|e| corrupt("session", e));
    Ok(Session {
        id: id.parse().map_err(|e| corrupt("session id", e))?,
        visitor_id: visitor.parse().map_err(|e| corrupt("visitor id", e))?,
        kind: SessionKind::parse(&kind).ok_or_else(|| corrupt("session kind", kind))?,
        customer_id: get_s("customer_id")?,
        page_views: u64::try_from(int("page_views")?).unwrap_or(0),
        converted: int("converted")? != 0,
        order_id: get_s("order_id")?,
        started_at: Timestamp(int("started_at")?),
        last_seen_at: Timestamp(int("last_seen_at")?),
        ended_at: row
            .try_get::<Option<i64>, _>("ended_at")
            .map_err(|e| corrupt("session", e))?
            .map(Timestamp),
        attributes: Arc::new(Attributes {
            ip_address: get_s("ip_address")?,
            device: get_s("device")?,
            browser: get_s("browser")?,
            os: get_s("os")?,
            country: get_s("country")?,
            city: get_s("city")?,
            landing_page: get_s("landing_page")?,
            referrer: get_s("referrer")?,
            utm_source: get_s("utm_source")?,
            utm_medium: get_s("utm_medium")?,
            utm_campaign: get_s("utm_campaign")?,
        }),
        data: Arc::new(data),
        version: u64::try_from(int("version")?).unwrap_or(0),
    })
}

fn event_from_row(row: &SqliteRow) -> Result<Event> {
    let s = |c: &str| {
        row.try_get::<Option<String>, _>(c)
            .map_err(|e| corrupt("event", e))
    };
    let id: String = row.try_get("id").map_err(|e| corrupt("event", e))?;
    let session: String = row.try_get("session_id").map_err(|e| corrupt("event", e))?;
    let visitor: String = row.try_get("visitor_id").map_err(|e| corrupt("event", e))?;
    let metadata = match s("metadata")? {
        Some(m) => Some(serde_json::from_str(&m).map_err(|e| corrupt("event metadata", e))?),
        None => None,
    };
    Ok(Event {
        id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt("event id", e))?,
        session_id: session.parse().map_err(|e| corrupt("session id", e))?,
        visitor_id: visitor.parse().map_err(|e| corrupt("visitor id", e))?,
        kind: row.try_get("kind").map_err(|e| corrupt("event", e))?,
        page: s("page")?,
        product_id: s("product_id")?,
        metadata,
        at: Timestamp(row.try_get("at").map_err(|e| corrupt("event", e))?),
    })
}

/// A batch folded into the statements it needs: one snapshot per session
/// (the newest), every event, one activity update per session, every end.
#[derive(Default)]
struct Folded<'a> {
    snapshots: HashMap<SessionId, (&'a Session, Option<TokenHash>)>,
    events: Vec<&'a Event>,
    activity: HashMap<SessionId, (Timestamp, u64)>,
    ends: Vec<(SessionId, Timestamp, EndReason)>,
}

impl<'a> Folded<'a> {
    fn new(batch: &'a [Record]) -> Self {
        let mut f = Folded::default();
        for r in batch {
            match r {
                Record::Snapshot { session, token } => {
                    let slot = f.snapshots.entry(session.id).or_insert((session, *token));
                    if session.version >= slot.0.version {
                        let token = token.or(slot.1);
                        *slot = (session, token);
                    } else if slot.1.is_none() {
                        slot.1 = *token;
                    }
                }
                Record::PageView { event, page_views } => {
                    f.touch(event, *page_views);
                    f.events.push(event);
                }
                Record::Event(event) => {
                    f.touch(event, 0);
                    f.events.push(event);
                }
                Record::End { id, at, reason } => f.ends.push((*id, *at, *reason)),
            }
        }
        f
    }

    fn touch(&mut self, event: &Event, page_views: u64) {
        let slot = self
            .activity
            .entry(event.session_id)
            .or_insert((event.at, page_views));
        slot.0 = slot.0.max(event.at);
        slot.1 = slot.1.max(page_views);
    }
}

/// Rows per multi-row statement: few enough to stay far below SQLite's limit
/// on bound parameters (32,766), many enough that a batch is a handful of
/// statements rather than one per record.
const ROWS_PER_STATEMENT: usize = 256;

async fn upsert_snapshots(
    tx: &mut Transaction<'_, Sqlite>,
    rows: &[(&Session, Option<TokenHash>)],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut data = Vec::with_capacity(chunk.len());
        for (s, _) in chunk {
            data.push(serde_json::to_string(&*s.data).map_err(|e| corrupt("session data", e))?);
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO sessions (id, visitor_id, token_hash, kind, customer_id, page_views, converted, order_id, \
             started_at, last_seen_at, version, ip_address, device, browser, os, country, city, landing_page, \
             referrer, utm_source, utm_medium, utm_campaign, data) ",
        );
        q.push_values(chunk.iter().zip(data), |mut b, ((s, token), data)| {
            let a = &*s.attributes;
            b.push_bind(s.id.to_string())
                .push_bind(s.visitor_id.to_string())
                .push_bind(token.map(|t| t.as_bytes().to_vec()))
                .push_bind(s.kind.as_str())
                .push_bind(s.customer_id.clone())
                .push_bind(count(s.page_views))
                .push_bind(i64::from(s.converted))
                .push_bind(s.order_id.clone())
                .push_bind(ms(s.started_at))
                .push_bind(ms(s.last_seen_at))
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
        q.push(
            " ON CONFLICT (id) DO UPDATE SET \
             token_hash = CASE WHEN sessions.ended_at IS NOT NULL THEN NULL \
                               WHEN excluded.version >= sessions.version THEN COALESCE(excluded.token_hash, sessions.token_hash) \
                               ELSE sessions.token_hash END, \
             kind = CASE WHEN excluded.version >= sessions.version THEN excluded.kind ELSE sessions.kind END, \
             customer_id = CASE WHEN excluded.version >= sessions.version THEN excluded.customer_id ELSE sessions.customer_id END, \
             converted = MAX(sessions.converted, excluded.converted), \
             order_id = CASE WHEN excluded.version >= sessions.version THEN COALESCE(excluded.order_id, sessions.order_id) ELSE sessions.order_id END, \
             data = CASE WHEN excluded.version >= sessions.version THEN excluded.data ELSE sessions.data END, \
             page_views = MAX(sessions.page_views, excluded.page_views), \
             last_seen_at = MAX(sessions.last_seen_at, excluded.last_seen_at), \
             version = MAX(sessions.version, excluded.version)",
        );
        q.build().execute(&mut **tx).await.map_err(cold)?;
    }
    Ok(())
}

async fn insert_events(tx: &mut Transaction<'_, Sqlite>, events: &[&Event]) -> Result<()> {
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (id, session_id, visitor_id, kind, page, product_id, metadata, at) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.id.to_string())
                .push_bind(e.session_id.to_string())
                .push_bind(e.visitor_id.to_string())
                .push_bind(e.kind.clone())
                .push_bind(e.page.clone())
                .push_bind(e.product_id.clone())
                .push_bind(e.metadata.as_ref().map(Value::to_string))
                .push_bind(ms(e.at));
        });
        q.push(" ON CONFLICT (id) DO NOTHING");
        q.build().execute(&mut **tx).await.map_err(cold)?;
    }
    Ok(())
}

async fn record_activity(
    tx: &mut Transaction<'_, Sqlite>,
    activity: &HashMap<SessionId, (Timestamp, u64)>,
) -> Result<()> {
    let rows: Vec<_> = activity.iter().collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE sessions SET last_seen_at = MAX(sessions.last_seen_at, v.column2), \
             page_views = MAX(sessions.page_views, v.column3) FROM (",
        );
        q.push_values(chunk, |mut b, (id, (at, page_views))| {
            b.push_bind(id.to_string())
                .push_bind(ms(*at))
                .push_bind(count(*page_views));
        });
        q.push(") AS v WHERE sessions.id = v.column1");
        q.build().execute(&mut **tx).await.map_err(cold)?;
    }
    Ok(())
}

#[async_trait]
impl ColdStore for SqliteStore {
    async fn write(&self, batch: &[Record]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let f = Folded::new(batch);
        let mut tx = self.pool.begin().await.map_err(cold)?;
        let snapshots: Vec<_> = f.snapshots.values().copied().collect();
        upsert_snapshots(&mut tx, &snapshots).await?;
        insert_events(&mut tx, &f.events).await?;
        record_activity(&mut tx, &f.activity).await?;
        for (id, at, reason) in &f.ends {
            sqlx::query(
                "UPDATE sessions SET ended_at = COALESCE(ended_at, ?), end_reason = COALESCE(end_reason, ?), \
                     token_hash = NULL, \
                     duration_secs = COALESCE(duration_secs, (MAX(last_seen_at, started_at) - started_at) / 1000) \
                 WHERE id = ?",
            )
            .bind(ms(*at))
            .bind(reason.as_str())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(cold)?;
        }
        tx.commit().await.map_err(cold)
    }

    async fn session_by_token(&self, token: &TokenHash) -> Result<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE token_hash = ? AND ended_at IS NULL"
        ))
        .bind(token.as_bytes().to_vec())
        .fetch_optional(&self.pool)
        .await
        .map_err(cold)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(cold)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn sessions(&self, q: &SessionQuery) -> Result<Vec<Session>> {
        // Live means: not ended, not idle past the timeout, not past the lifetime.
        // The cut-offs come from the caller's clock, not SQLite's.
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions \
             WHERE (?1 IS NULL OR customer_id = ?1) \
               AND (?2 IS NULL OR visitor_id = ?2) \
               AND (?3 IS NULL OR converted = ?3) \
               AND (?4 IS NULL OR id < ?4) \
               AND (?5 IS NULL OR ?5 = (ended_at IS NULL AND last_seen_at > ?6 AND started_at > ?7)) \
             ORDER BY id DESC LIMIT ?8"
        ))
        .bind(q.customer_id.as_deref())
        .bind(q.visitor_id.map(|v| v.to_string()))
        .bind(q.converted.map(i64::from))
        .bind(q.before.map(|b| b.to_string()))
        .bind(q.active.map(i64::from))
        .bind(ms(q.now) - secs_ms(q.policy.idle_timeout_secs))
        .bind(ms(q.now) - secs_ms(q.policy.max_age_secs))
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(cold)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn events(&self, id: &SessionId) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT id, session_id, visitor_id, kind, page, product_id, metadata, at FROM events \
             WHERE session_id = ? ORDER BY at, id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(cold)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn customer_sessions(&self, customer_id: &str, since: Timestamp) -> Result<Vec<Session>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE customer_id = ? AND ended_at IS NULL AND last_seen_at >= ? ORDER BY id DESC"
        ))
        .bind(customer_id)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await
        .map_err(cold)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn close_expired(&self, now: Timestamp, policy: &Policy) -> Result<u64> {
        let idle = secs_ms(policy.idle_timeout_secs);
        let max = secs_ms(policy.max_age_secs);
        let done = sqlx::query(
            "UPDATE sessions SET \
                 ended_at = MIN(last_seen_at + ?1, started_at + ?2), end_reason = 'expired', token_hash = NULL, \
                 duration_secs = (MAX(last_seen_at, started_at) - started_at) / 1000 \
             WHERE ended_at IS NULL AND (last_seen_at <= ?3 - ?1 OR started_at <= ?3 - ?2)",
        )
        .bind(idle)
        .bind(max)
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(cold)?;
        Ok(done.rows_affected())
    }

    async fn stats(&self) -> Result<ColdStats> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM sessions) AS sessions, \
                    (SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL) AS open_sessions, \
                    (SELECT COUNT(*) FROM events) AS events",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(cold)?;
        let n = |c: &str| {
            row.try_get::<i64, _>(c)
                .map(|v| u64::try_from(v).unwrap_or(0))
                .map_err(|e| corrupt("stats", e))
        };
        Ok(ColdStats {
            sessions: n("sessions")?,
            open_sessions: n("open_sessions")?,
            events: n("events")?,
        })
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(cold)?;
        Ok(())
    }
}
