//! The batching writer's linger: it gathers records nobody waits for, and
//! never holds up anyone who does.

use std::sync::Arc;
use std::time::Duration;

use stint_core::event::{Event, kinds};
use stint_core::store::{ColdStore, Record, Sink};
use stint_core::{SessionId, Timestamp, VisitorId};
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
    let (writer, task) = Writer::spawn(store.clone() as Arc<dyn ColdStore>, config);
    (store, writer, task, dir)
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
    let (session, visitor) = (SessionId::new(), VisitorId::new());
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
    let (session, visitor) = (SessionId::new(), VisitorId::new());
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
    let (session, visitor) = (SessionId::new(), VisitorId::new());
    writer.send(page_view(session, visitor, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::time::timeout(PATIENCE, task.shutdown())
        .await
        .expect("the shutdown waited for the linger");
    assert_eq!(store.events(&session).await.unwrap().len(), 1);
}
