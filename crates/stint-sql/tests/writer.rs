//! The batching writer's linger: it gathers records nobody waits for, and
//! never holds up anyone who does. And its full queue: senders wait for room,
//! and never for each other.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use stint_core::event::{Event, kinds};
use stint_core::store::{HistoryStore, Record, Sink};
use stint_core::{Attributes, SessionId, SessionRecord, Timestamp, VisitorId};
use stint_sql::{SqlStore, Writer, WriterConfig};

/// Far longer than any of the waits below: a call that waited for the
/// linger would run into them.
const LINGER: Duration = Duration::from_secs(3600);
const PATIENCE: Duration = Duration::from_secs(20);

async fn lingering() -> (Arc<SqlStore>, Writer, stint_sql::WriterTask, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open(&dir.path().join("stint.db")).await.unwrap());
    let config = WriterConfig {
        linger: LINGER,
        ..WriterConfig::default()
    };
    let (writer, task) = Writer::spawn(store.clone() as Arc<dyn HistoryStore>, config);
    (store, writer, task, dir)
}

/// A session the store knows: its events are found through its row.
async fn known_session(store: &SqlStore) -> (SessionId, VisitorId) {
    let session = SessionRecord::new(
        VisitorId::new(),
        Attributes::default(),
        Timestamp(1_795_000_000_000),
    );
    let ids = (session.id, session.visitor_id);
    store
        .write(&[Record::Snapshot { session, token: None }])
        .await
        .unwrap();
    ids
}

fn page_view(session: SessionId, visitor: VisitorId, n: i64) -> Record {
    Record::Event(Event::new(
        session,
        visitor,
        kinds::PAGE_VIEW,
        Timestamp(1_795_000_000_000 + n),
    ))
}

#[tokio::test]
async fn a_flush_ends_the_linger_and_finds_every_record_stored() {
    let (store, writer, task, _dir) = lingering().await;
    let (session, visitor) = known_session(&store).await;
    for n in 0..3 {
        writer.send(page_view(session, visitor, n)).await.unwrap();
    }
    // The writer now lingers for an hour; the records are not stored yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(store.events(&session).await.unwrap().is_empty());
    tokio::time::timeout(PATIENCE, Sink::flush(&writer))
        .await
        .expect("the flush waited for the linger")
        .unwrap();
    assert_eq!(store.events(&session).await.unwrap().len(), 3);
    tokio::time::timeout(PATIENCE, task.shutdown())
        .await
        .expect("the shutdown waited for the linger");
}

#[tokio::test]
async fn a_commit_during_the_linger_is_written_at_once() {
    let (store, writer, task, _dir) = lingering().await;
    let (session, visitor) = known_session(&store).await;
    writer.send(page_view(session, visitor, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // `commit` gives up after its own timeout (2 s) were it to wait for the
    // linger: success means the linger was cut short.
    writer.commit(page_view(session, visitor, 1)).await.unwrap();
    assert_eq!(store.events(&session).await.unwrap().len(), 2);
    task.shutdown().await;
}

#[tokio::test]
async fn a_shutdown_during_the_linger_writes_what_was_queued() {
    let (store, writer, task, _dir) = lingering().await;
    let (session, visitor) = known_session(&store).await;
    writer.send(page_view(session, visitor, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(PATIENCE, task.shutdown())
        .await
        .expect("the shutdown waited for the linger");
    assert_eq!(store.events(&session).await.unwrap().len(), 1);
}

/// A store slower than the requests fills the queue; senders then wait for
/// room while the writer, after each commit, takes the journal's lock to delete
/// committed segments. Neither may wait for the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_with_a_journal_makes_senders_wait_and_never_stalls() {
    const SENDERS: i64 = 8;
    const EACH: i64 = 150;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqlStore::open(&dir.path().join("stint.db")).await.unwrap());
    let config = WriterConfig {
        queue: 4,
        batch: 2,
        linger: Duration::ZERO,
        ..WriterConfig::default()
    };
    let (writer, task, _) = Writer::spawn_journaled(
        store.clone() as Arc<dyn HistoryStore>,
        config,
        &dir.path().join("journal"),
    )
    .await
    .unwrap();
    let (session, visitor) = known_session(&store).await;
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for n in 0..EACH {
                    let at = s * EACH + n;
                    if n % 3 == 0 {
                        writer
                            .send_all(vec![page_view(session, visitor, at)])
                            .await
                            .unwrap();
                    } else {
                        writer.send(page_view(session, visitor, at)).await.unwrap();
                    }
                }
            })
        })
        .collect();
    tokio::time::timeout(PATIENCE, async {
        for sender in senders {
            sender.await.unwrap();
        }
    })
    .await
    .expect("the senders and the writer waited for each other");
    tokio::time::timeout(PATIENCE, Sink::flush(&writer))
        .await
        .expect("the flush never came through")
        .unwrap();
    let stored = store.events(&session).await.unwrap().len();
    assert_eq!(i64::try_from(stored).unwrap(), SENDERS * EACH);
    task.shutdown().await;
}

/// While the store fails, a full queue refuses a record after `send_timeout`
/// instead of holding the request, and a shutdown gives the failing batches up
/// instead of retrying them until the store is back; the journal keeps every
/// record for the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_neither_holds_senders_nor_the_shutdown_and_the_journal_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stint.db");
    let root = dir.path().join("journal");
    let store = Arc::new(SqlStore::open(&path).await.unwrap());
    let config = WriterConfig {
        queue: 4,
        batch: 2,
        linger: Duration::ZERO,
        max_backoff: Duration::from_millis(20),
        shutdown_retries: 1,
        send_timeout: Duration::from_millis(50),
        ..WriterConfig::default()
    };
    let (writer, task, _) = Writer::spawn_journaled(store.clone() as Arc<dyn HistoryStore>, config, &root)
        .await
        .unwrap();
    let (session, visitor) = known_session(&store).await;
    // Every write fails from here on.
    store.close().await;
    let mut refused = 0;
    for n in 0..40 {
        let sent = tokio::time::timeout(PATIENCE, writer.send(page_view(session, visitor, n)))
            .await
            .expect("a send waited for a failing store");
        refused += usize::from(sent.is_err());
    }
    assert!(refused > 0, "the queue of 4 never filled");
    drop(writer);
    tokio::time::timeout(PATIENCE, task.shutdown())
        .await
        .expect("the shutdown waited for the failing store");

    let store = Arc::new(SqlStore::open(&path).await.unwrap());
    let (_writer, task, replayed) =
        Writer::spawn_journaled(store.clone() as Arc<dyn HistoryStore>, config, &root)
            .await
            .unwrap();
    assert_eq!(replayed, 40, "the journal kept every record, refused or not");
    assert_eq!(store.events(&session).await.unwrap().len(), 40);
    task.shutdown().await;
}

/// SQLite, except that a batch holding an event of `POISON` fails to write.
struct Poisoned(SqlStore);

const POISON: &str = "/poison";

#[async_trait::async_trait]
impl HistoryStore for Poisoned {
    async fn write(&self, batch: &[Record]) -> stint_core::Result<()> {
        let poisoned = batch
            .iter()
            .any(|r| matches!(r, Record::Event(e) if e.page.as_deref() == Some(POISON)));
        if poisoned {
            return Err(stint_core::Error::cold("a poisoned batch"));
        }
        self.0.write(batch).await
    }
    async fn session_by_token(
        &self,
        token: &stint_core::TokenHash,
    ) -> stint_core::Result<Option<stint_core::SessionRecord>> {
        self.0.session_by_token(token).await
    }
    async fn session(&self, id: &SessionId) -> stint_core::Result<Option<stint_core::SessionRecord>> {
        self.0.session(id).await
    }
    async fn open_session(
        &self,
        id: &SessionId,
    ) -> stint_core::Result<Option<(stint_core::SessionRecord, stint_core::TokenHash)>> {
        self.0.open_session(id).await
    }
    async fn sessions(
        &self,
        query: &stint_core::store::SessionQuery,
    ) -> stint_core::Result<Vec<stint_core::SessionRecord>> {
        self.0.sessions(query).await
    }
    async fn events(&self, id: &SessionId) -> stint_core::Result<Vec<Event>> {
        self.0.events(id).await
    }
    async fn customer_sessions(
        &self,
        customer_id: &str,
        since: Timestamp,
    ) -> stint_core::Result<Vec<stint_core::SessionRecord>> {
        self.0.customer_sessions(customer_id, since).await
    }
    async fn close_expired(&self, now: Timestamp, policy: &stint_core::Policy) -> stint_core::Result<u64> {
        self.0.close_expired(now, policy).await
    }
    async fn stats(&self) -> stint_core::Result<stint_core::store::ColdStats> {
        self.0.stats().await
    }
    async fn ping(&self) -> stint_core::Result<()> {
        self.0.ping().await
    }
}

/// A batch given up at shutdown stays in the journal even when later batches
/// are committed: their commit must not delete the segment that holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_given_up_at_shutdown_is_kept_though_later_ones_commit() {
    // Many journal segments (256 KiB each) of page views.
    const RECORDS: i64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stint.db");
    let root = dir.path().join("journal");
    let store = Arc::new(Poisoned(SqlStore::open(&path).await.unwrap()));
    let config = WriterConfig {
        linger: Duration::ZERO,
        max_backoff: Duration::from_millis(10),
        shutdown_retries: 1,
        ..WriterConfig::default()
    };
    let (writer, task, _) = Writer::spawn_journaled(store.clone() as Arc<dyn HistoryStore>, config, &root)
        .await
        .unwrap();
    let (session, visitor) = known_session(&store.0).await;
    let poison = Event::new(session, visitor, kinds::PAGE_VIEW, Timestamp(1_795_000_000_000)).page(POISON);
    writer.send(Record::Event(poison)).await.unwrap();
    // The first batch now fails again and again; the rest wait in the queue.
    for n in 1..RECORDS {
        writer.send(page_view(session, visitor, n)).await.unwrap();
    }
    drop(writer);
    tokio::time::timeout(PATIENCE, task.shutdown())
        .await
        .expect("the shutdown waited for the poisoned batch");
    let stored = store.events(&session).await.unwrap().len();
    assert!(stored > 0, "the batches after the poisoned one were committed");
    assert!(
        i64::try_from(stored).unwrap() < RECORDS,
        "the poisoned batch was given up"
    );
    store.0.close().await;

    let store = Arc::new(SqlStore::open(&path).await.unwrap());
    let (_writer, task, _) = Writer::spawn_journaled(store.clone() as Arc<dyn HistoryStore>, config, &root)
        .await
        .unwrap();
    assert_eq!(
        i64::try_from(store.events(&session).await.unwrap().len()).unwrap(),
        RECORDS,
        "the next start wrote the given-up batch from the journal"
    );
    task.shutdown().await;
}
