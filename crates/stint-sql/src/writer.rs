//! The batching writer: records leave the request path through a bounded
//! queue and reach the cold store in group commits.
//!
//! One task drains the queue: it takes everything waiting (up to a batch
//! size), writes it in one transaction, and goes back for more. Under load
//! batches grow by themselves; when idle, a record is written at once. A full
//! queue makes senders wait (backpressure), it never drops. A failed write is
//! retried with backoff; the batch is kept until it lands.
//!
//! With a journal ([`Writer::spawn_journaled`]), every record is also
//! appended to a file before it is queued, and the journals of processes
//! that died are written at start-up: a crash loses nothing a request was
//! answered with (see the `journal` module).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use stint_core::store::{HistoryStore, Record, Sink};
use stint_core::{Error, Result};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::journal::{self, Journal};
use tokio::task::JoinHandle;

/// Writer settings.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Records the queue holds before senders wait.
    pub queue: usize,
    /// Most records written in one transaction.
    pub batch: usize,
    /// How long the writer waits for more records when fewer than a batch
    /// are queued: the longer, the fewer commits, and each commit rewrites the
    /// index pages it touched. The wait ends early for a [`Sink::commit`], a
    /// [`Sink::flush`] or a shutdown, so nobody who waits for the store waits
    /// for the linger; what it delays is only when the store gets records
    /// nobody asked for yet (and the journal keeps those safe meanwhile).
    pub linger: Duration,
    /// Longest pause between retries of a failed batch.
    pub max_backoff: Duration,
    /// How many times a batch is retried at shutdown before it is given up
    /// (and counted as lost) so that the process can end.
    pub shutdown_retries: u32,
    /// While the cold store is failing, how long a sender waits for room in
    /// a full queue before the record is dropped (counted in
    /// `stint_records_dropped_total` and logged): a request is never held
    /// longer than this by an unreachable database. While the store answers,
    /// a full queue makes senders wait for it (backpressure), however long.
    pub send_timeout: Duration,
    /// How long [`Sink::commit`] and [`Sink::flush`] wait for the commit
    /// before they report the cold store unavailable (the record stays queued).
    pub commit_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            queue: 65_536,
            batch: 2_048,
            linger: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            shutdown_retries: 5,
            send_timeout: Duration::from_millis(250),
            commit_timeout: Duration::from_secs(2),
        }
    }
}

/// A record and the journal segment it is in (0 without a journal).
enum Msg {
    Record(Record, u64),
    Commit(Record, u64, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// The sending side: give it to the engine as its [`Sink`].
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    /// Set while the last write failed.
    failing: Arc<AtomicBool>,
    send_timeout: Duration,
    commit_timeout: Duration,
    journal: Option<Arc<Mutex<Journal>>>,
    /// Set while the journal cannot be written (a full disk).
    journal_failing: Arc<AtomicBool>,
    /// Set while records are refused (a full queue of a failing store).
    dropping: Arc<AtomicBool>,
    /// Cuts the writer's linger short: someone waits for the store.
    hurry: Arc<Notify>,
}

/// The running writer task; [`WriterTask::shutdown`] drains it.
#[derive(Debug)]
pub struct WriterTask {
    tx: mpsc::Sender<Msg>,
    join: JoinHandle<()>,
    hurry: Arc<Notify>,
    /// Set by [`WriterTask::shutdown`]: a batch that fails from then on is
    /// retried `shutdown_retries` times, not until the store answers.
    stopping: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer on the current tokio runtime.
    pub fn spawn(store: Arc<dyn HistoryStore>, config: WriterConfig) -> (Writer, WriterTask) {
        Self::start(store, config, None)
    }

    /// Starts the writer with a journal under `root` (a directory of its
    /// own; several processes may share it). First writes the journals of
    /// processes that died, and returns how many of their records it wrote.
    ///
    /// # Errors
    ///
    /// When the journal's directory cannot be created or locked, or a dead process's
    /// journal cannot be written to the store (nothing of it is lost: it stays for the next
    /// start).
    pub async fn spawn_journaled(
        store: Arc<dyn HistoryStore>,
        config: WriterConfig,
        root: &Path,
    ) -> Result<(Writer, WriterTask, usize)> {
        let mut replayed = 0;
        for (dir, records) in journal::orphans(root)? {
            for chunk in records.chunks(config.batch.max(1)) {
                store.write(chunk).await?;
            }
            replayed += records.len();
            journal::remove(&dir);
        }
        if replayed > 0 {
            metrics::counter!("stint_journal_replayed_total").increment(replayed as u64);
            tracing::info!(
                records = replayed,
                "wrote the journal of a process that stopped without draining"
            );
        }
        let journal = Arc::new(Mutex::new(Journal::create(root)?));
        let (writer, task) = Self::start(store, config, Some(journal));
        Ok((writer, task, replayed))
    }

    fn start(
        store: Arc<dyn HistoryStore>,
        config: WriterConfig,
        journal: Option<Arc<Mutex<Journal>>>,
    ) -> (Writer, WriterTask) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let failing = Arc::new(AtomicBool::new(false));
        let hurry = Arc::new(Notify::new());
        let stopping = Arc::new(AtomicBool::new(false));
        let join = tokio::spawn(run(
            store,
            rx,
            config,
            Arc::clone(&failing),
            journal.clone(),
            Arc::clone(&hurry),
            Arc::clone(&stopping),
        ));
        let writer = Writer {
            tx: tx.clone(),
            failing,
            send_timeout: config.send_timeout,
            commit_timeout: config.commit_timeout,
            journal,
            journal_failing: Arc::new(AtomicBool::new(false)),
            dropping: Arc::new(AtomicBool::new(false)),
            hurry: Arc::clone(&hurry),
        };
        (
            writer,
            WriterTask {
                tx,
                join,
                hurry,
                stopping,
            },
        )
    }

    /// Waits until everything queued so far is committed.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](stint_core::Error::Unavailable) when the store does not
    /// commit in time (the records stay queued);
    /// [`Error::WriterClosed`](stint_core::Error::WriterClosed) once the writer has
    /// stopped.
    pub async fn flush(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Flush(done))
            .await
            .map_err(|_| Error::WriterClosed)?;
        self.hurry.notify_one();
        wait.await.map_err(|_| Error::WriterClosed)
    }

    /// Records waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

impl WriterTask {
    /// Writes everything queued, then stops the task. Records sent afterwards
    /// are refused with [`Error::WriterClosed`]. While the store fails, a
    /// batch is retried `shutdown_retries` times and then given up (the
    /// journal keeps it for the next start), and so is everything after it:
    /// the process can end.
    pub async fn shutdown(self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.hurry.notify_one();
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Stop(done)).await.is_ok() {
            self.hurry.notify_one();
            let _ = wait.await;
        }
        let _ = self.join.await;
    }
}

impl Writer {
    /// Waits for `done` at most `commit_timeout`.
    async fn wait(&self, done: oneshot::Receiver<()>) -> Result<()> {
        match tokio::time::timeout(self.commit_timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::WriterClosed),
            Err(_) => Err(Error::cold("the cold store is not keeping up (unreachable?)")),
        }
    }
}

impl Writer {
    /// Whether the last batch failed to reach the durable store (it is
    /// retried until it does).
    pub fn store_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Whether the last append to the journal failed (a full disk): records
    /// are still queued for the store, but a crash would lose them until
    /// the journal takes them again.
    pub fn journal_failing(&self) -> bool {
        self.journal_failing.load(Ordering::Relaxed)
    }

    /// Room in the queue for `n` records; in a full queue, waits for it (at
    /// most `send_timeout` while the store is failing: then `None`, as for
    /// more records than the queue holds).
    async fn room(&self, n: usize) -> Result<Option<mpsc::PermitIterator<'_, Msg>>> {
        if n > self.tx.max_capacity() {
            return Ok(None);
        }
        match self.tx.try_reserve_many(n) {
            Ok(permits) => return Ok(Some(permits)),
            Err(mpsc::error::TrySendError::Closed(())) => return Err(Error::WriterClosed),
            Err(mpsc::error::TrySendError::Full(())) => {}
        }
        // While the store answers, only slower than the requests come, wait
        // (backpressure); once it fails, give up within `send_timeout`, even
        // if the wait began before it failed.
        loop {
            match tokio::time::timeout(self.send_timeout, self.tx.reserve_many(n)).await {
                Ok(Ok(permits)) => return Ok(Some(permits)),
                Ok(Err(_)) => return Err(Error::WriterClosed),
                Err(_) if self.failing.load(Ordering::Relaxed) => return Ok(None),
                Err(_) => {}
            }
        }
    }

    /// Journals `records` as one group (if there is a journal), then queues
    /// them, under one lock: the queue's order is the journal's. The last
    /// record is queued as `last` makes it (a commit carries its waiter).
    ///
    /// The room in the queue is taken before the lock: the writer takes the
    /// lock after each commit (to delete committed segments), so a sender that
    /// waited for room while holding it would wait for the writer, and the
    /// writer for it.
    async fn journaled<R>(&self, records: R, last: impl FnOnce(Record, u64) -> Msg) -> Result<()>
    where
        R: AsRef<[Record]> + IntoIterator<Item = Record>,
    {
        records.as_ref().iter().for_each(count_queued);
        let room = self.room(records.as_ref().len()).await?;
        let mut journal = match &self.journal {
            Some(j) => Some(j.lock().await),
            None => None,
        };
        let segment = journal
            .as_deref_mut()
            .map_or(0, |j| append(j, records.as_ref(), &self.journal_failing));
        let Some(mut permits) = room else {
            metrics::counter!("stint_records_dropped_total").increment(records.as_ref().len() as u64);
            if !self.dropping.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    "the cold-store queue is full and the store fails: records are refused (those the journal took are written at the next start) until it answers"
                );
            }
            // They are in the journal: the next start writes them.
            if let Some(j) = journal.as_mut() {
                j.pin(segment);
            }
            return Err(Error::cold("the write queue is full"));
        };
        if self.dropping.swap(false, Ordering::Relaxed) {
            tracing::info!("the cold-store queue takes records again");
        }
        let mut last = Some(last);
        let mut records = records.into_iter().peekable();
        while let Some(record) = records.next() {
            let msg = match last.take_if(|_| records.peek().is_none()) {
                Some(last) => last(record, segment),
                None => Msg::Record(record, segment),
            };
            // One permit was reserved per record.
            if let Some(permit) = permits.next() {
                permit.send(msg);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for Writer {
    async fn send(&self, record: Record) -> Result<()> {
        self.journaled([record], Msg::Record).await
    }

    async fn send_all(&self, records: Vec<Record>) -> Result<()> {
        self.journaled(records, Msg::Record).await
    }

    async fn commit(&self, record: Record) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.journaled([record], |r, segment| Msg::Commit(r, segment, done))
            .await?;
        self.hurry.notify_one();
        self.wait(wait).await
    }

    async fn flush(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        let Some(mut permits) = self.room(1).await? else {
            return Err(Error::cold("the write queue is full"));
        };
        if let Some(permit) = permits.next() {
            permit.send(Msg::Flush(done));
        }
        self.hurry.notify_one();
        self.wait(wait).await
    }
}

/// Journals `records` as one group and returns their segment; a failure is
/// counted, and the records are queued all the same (segment 0). The log
/// says when the journal starts failing and when it works again, not at
/// every record.
fn append(journal: &mut Journal, records: &[Record], failing: &AtomicBool) -> u64 {
    match journal.append_all(records) {
        Ok(segment) => {
            if failing.swap(false, Ordering::Relaxed) {
                tracing::info!("the journal is written again");
            }
            segment
        }
        Err(e) => {
            metrics::counter!("stint_journal_failures_total").increment(records.len() as u64);
            if !failing.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    error = %e,
                    "the journal cannot be written (disk full?): records are queued all the same, but a crash before it recovers would lose them"
                );
            }
            0
        }
    }
}

fn is_event(record: &Record) -> bool {
    matches!(record, Record::Event(_) | Record::PageView { .. })
}

fn count_queued(record: &Record) {
    metrics::counter!("stint_records_queued_total").increment(1);
    if is_event(record) {
        metrics::counter!("stint_events_queued_total").increment(1);
    }
}

async fn run(
    store: Arc<dyn HistoryStore>,
    mut rx: mpsc::Receiver<Msg>,
    config: WriterConfig,
    failing: Arc<AtomicBool>,
    journal: Option<Arc<Mutex<Journal>>>,
    hurry: Arc<Notify>,
    stopping: Arc<AtomicBool>,
) {
    let mut batch: Vec<Record> = Vec::with_capacity(config.batch);
    // The newest journal segment in the batch; whether a record was given up.
    let mut segment = 0;
    let mut lost = false;
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut stop: Option<oneshot::Sender<()>> = None;
    while let Some(first) = rx.recv().await {
        // Group commit: unless a batch is already waiting, or someone waits
        // for this commit, give the queue a moment to fill. A waiter queued
        // meanwhile ends the moment (a stale wake-up only makes one batch
        // smaller).
        let urgent = matches!(first, Msg::Commit(..) | Msg::Flush(_) | Msg::Stop(_));
        if !urgent && rx.len() < config.batch && !config.linger.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(config.linger) => {}
                () = hurry.notified() => {}
            }
        }
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r, seg) => {
                    batch.push(r);
                    segment = segment.max(seg);
                }
                Msg::Commit(r, seg, done) => {
                    batch.push(r);
                    segment = segment.max(seg);
                    waiters.push(done);
                }
                Msg::Flush(done) => waiters.push(done),
                Msg::Stop(done) => {
                    stop = Some(done);
                    rx.close();
                }
            }
            if batch.len() < config.batch {
                next = rx.try_recv().ok();
            }
        }
        // Once a batch is given up at shutdown, the rest follow at once:
        // the journal holds them all.
        let at_stop = if lost { 0 } else { config.shutdown_retries };
        if write(&*store, &batch, config.max_backoff, &failing, &stopping, at_stop).await {
            // After a batch was given up, no segment is deleted any more: a
            // later commit would otherwise delete the segments holding it. The
            // next start writes them again, which is idempotent.
            if let Some(j) = journal.as_ref().filter(|_| !lost) {
                j.lock().await.committed_before(segment);
            }
            for w in waiters.drain(..) {
                let _ = w.send(());
            }
        } else {
            lost = true;
            // Dropped unanswered: they learn that the writer closed.
            waiters.clear();
        }
        batch.clear();
        if let Some(done) = stop.take() {
            // Drain what raced in before the close.
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    Msg::Record(r, _) | Msg::Commit(r, _, _) => batch.push(r),
                    Msg::Flush(_) | Msg::Stop(_) => {}
                }
            }
            let at_stop = if lost { 0 } else { config.shutdown_retries };
            lost |= !write(&*store, &batch, config.max_backoff, &failing, &stopping, at_stop).await;
            // Drained: the journal has nothing left to save, unless a batch
            // was given up (then it stays, for the next start to write).
            if let Some(j) = &journal
                && !lost
            {
                j.lock().await.close();
            }
            let _ = done.send(());
            break;
        }
    }
}

/// Writes one batch, retrying with backoff until the store answers; `false`
/// when the writer is stopping and the batch was given up.
async fn write(
    store: &dyn HistoryStore,
    batch: &[Record],
    max_backoff: Duration,
    failing: &AtomicBool,
    stopping: &AtomicBool,
    at_stop: u32,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let mut backoff = Duration::from_millis(50);
    let mut attempt = 0u32;
    loop {
        match store.write(batch).await {
            Ok(()) => {
                failing.store(false, Ordering::Relaxed);
                metrics::counter!("stint_records_written_total").increment(batch.len() as u64);
                let events = batch.iter().filter(|r| is_event(r)).count();
                metrics::counter!("stint_events_written_total").increment(events as u64);
                metrics::counter!("stint_writer_batches_total").increment(1);
                return true;
            }
            Err(e) => {
                failing.store(true, Ordering::Relaxed);
                attempt += 1;
                metrics::counter!("stint_writer_failures_total").increment(1);
                // Until the store answers; once the writer is stopping, a
                // batch that failed more than `at_stop` times is given up.
                if stopping.load(Ordering::Relaxed) && attempt > at_stop {
                    metrics::counter!("stint_records_lost_total").increment(batch.len() as u64);
                    tracing::error!(error = %e, records = batch.len(), "cold store write failed at shutdown; records left in the journal, if any");
                    return false;
                }
                tracing::warn!(error = %e, records = batch.len(), attempt, "cold store write failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
}
