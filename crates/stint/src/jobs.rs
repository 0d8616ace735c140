//! Background jobs: closing expired sessions in the durable store, rolling
//! up the daily figures of past days, and deleting raw events past their
//! retention (rollups stay). When
//! several instances share the database, one of them runs the jobs at a time:
//! the one holding the `jobs` lease (renewed every round, lapsing after three
//! missed rounds, released at shutdown).

use std::sync::Arc;
use std::time::Duration;

use stint_core::{Engine, analytics};
use stint_sql::SqlStore;
use tokio::task::JoinHandle;

const LEASE: &str = "jobs";

/// What the background jobs do and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobsConfig {
    /// Time between two rounds.
    pub every: Duration,
    /// Days raw events are kept (sessions and rollups stay); `0` keeps them
    /// for ever.
    pub retention_days: u64,
}

impl Default for JobsConfig {
    /// A round a minute; events kept 395 days (13 months, so that a year
    /// can be compared with the one before).
    fn default() -> Self {
        Self {
            every: Duration::from_secs(60),
            retention_days: 395,
        }
    }
}

impl JobsConfig {
    /// Sets the time between two rounds.
    #[must_use]
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Sets the days raw events are kept; `0` keeps them for ever.
    #[must_use]
    pub fn retention_days(mut self, days: u64) -> Self {
        self.retention_days = days;
        self
    }
}

/// The running job loop.
pub(crate) struct Jobs {
    task: JoinHandle<()>,
    store: Arc<SqlStore>,
    holder: String,
}

impl Jobs {
    /// Starts the loop: every round, if this instance holds the lease, run the jobs.
    pub(crate) fn start(engine: Engine, store: Arc<SqlStore>, config: JobsConfig) -> Jobs {
        let holder = uuid::Uuid::new_v4().to_string();
        let task = tokio::spawn(run(
            engine,
            Arc::clone(&store),
            holder.clone(),
            config.every,
            config.retention_days,
        ));
        Jobs { task, store, holder }
    }

    /// Stops the loop and gives the lease up, so another instance takes over at once.
    pub(crate) async fn stop(self) {
        self.task.abort();
        if let Err(e) = self.store.release_lease(LEASE, &self.holder).await {
            tracing::warn!(error = %e, "could not release the jobs lease; it lapses by itself");
        }
    }
}

async fn run(engine: Engine, store: Arc<SqlStore>, holder: String, every: Duration, retention_days: u64) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let lease = every.saturating_mul(3);
    loop {
        tick.tick().await;
        let now = engine.now();
        match store.acquire_lease(LEASE, &holder, now, now.plus(lease)).await {
            Ok(true) => {}
            Ok(false) => {
                metrics::counter!("stint_jobs_skipped_total").increment(1);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "jobs lease unavailable; jobs wait for the next round");
                continue;
            }
        }
        metrics::counter!("stint_jobs_runs_total").increment(1);
        match engine.close_expired().await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("stint_sessions_closed_total").increment(n);
                tracing::info!(sessions = n, "closed expired sessions");
            }
            Err(e) => tracing::warn!(error = %e, "closing expired sessions failed"),
        }
        // Days whose sessions may still be going on are rolled up again each
        // round (a rollup replaces the last one); older days are final.
        if let Some(today) = analytics::day_of(engine.now()) {
            let span = engine.policy().max_age.as_secs().div_ceil(86_400) + 1;
            let from = today - time::Duration::days(i64::try_from(span).unwrap_or(2));
            match engine.rollup(from, today).await {
                Ok(rows) => metrics::counter!("stint_rollup_days_total").increment(rows.len() as u64),
                Err(e) => tracing::warn!(error = %e, "rollup failed"),
            }
        }
        if retention_days > 0 {
            match engine
                .apply_retention(Duration::from_secs(retention_days.saturating_mul(86_400)))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    metrics::counter!("stint_events_expired_total").increment(n);
                    tracing::info!(events = n, days = retention_days, "deleted events past retention");
                }
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
    }
}
