//! Sustained events per second into a durable store, through the batching
//! writer, as the service writes them: page views of many sessions, in
//! group commits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use stint_core::event::{Event, kinds};
use stint_core::store::{HistoryStore, Record, Sink};
use stint_core::{Attributes, SessionRecord, Timestamp, Token, VisitorId};
use stint_sql::{SqlStore, Writer, WriterConfig};

/// One measurement.
pub struct Outcome {
    /// Page-view events written.
    pub events: u64,
    /// Time from the first send to the last commit.
    pub elapsed: Duration,
}

impl Outcome {
    /// Events per second.
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Writes `events` page views spread over `sessions` sessions into the store at `url`.
pub async fn measure(url: &str, sessions: usize, events: u64) -> Result<Outcome> {
    let store = Arc::new(SqlStore::connect(url).await?);
    let (writer, task) = Writer::spawn(store.clone() as Arc<dyn HistoryStore>, WriterConfig::default());
    let now = Timestamp(1_795_000_000_000);
    let all: Vec<SessionRecord> = (0..sessions)
        .map(|_| SessionRecord::new(VisitorId::new(), Attributes::default(), now))
        .collect();
    for s in &all {
        writer
            .send(Record::Snapshot {
                session: s.clone(),
                token: Some(Token::generate().hash()),
            })
            .await?;
    }
    writer.flush().await?;
    let start = Instant::now();
    for n in 0..events {
        let s = &all[usize::try_from(n).unwrap_or(0) % all.len()];
        let at = Timestamp(now.millis() + i64::try_from(n).unwrap_or(0));
        let event = Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, at).page("/api/storefront/products");
        writer
            .send(Record::PageView {
                event,
                page_views: n / all.len() as u64 + 1,
            })
            .await?;
    }
    writer.flush().await?;
    let elapsed = start.elapsed();
    task.shutdown().await;
    let written = store.stats().await?.events;
    anyhow::ensure!(written == events, "{written} events in the store, {events} sent");
    store.close().await;
    Ok(Outcome { events, elapsed })
}
