//! The writer's journal: every record is appended to a file before it is
//! queued, so that a crash of the process (`kill -9`, an out-of-memory kill,
//! a panic that aborts) loses no record that a request was answered with.
//!
//! - Each process writes its own directory, `journal/<id>/`, locked while it
//!   runs (an advisory file lock the operating system drops with the process).
//!   A record is one frame, `u32` length then MessagePack, in numbered
//!   segments; a zero length ends a segment.
//! - A segment's space is reserved when it is opened (`fallocate`) and the
//!   file is mapped into memory (`MAP_SHARED`): appending is a copy, no
//!   system call. The mapped pages belong to the kernel's page cache, so they
//!   outlive the process as a `write` would. A group of frames is copied
//!   length last, after a fence: a process killed half-way leaves a zero
//!   length, and the replay sees none of the group. Because the space is
//!   reserved, a full disk fails the opening of a segment (an error the
//!   writer reports), never a copy into the mapping.
//! - Records reach the queue in the order they reach the journal (one lock
//!   covers both), and the writer commits the queue in order: once a batch
//!   with a record of segment *n* is committed, every earlier segment is, and
//!   is deleted. A segment holding a record the queue refused (the database
//!   was down and the queue full) is kept.
//! - At start-up, every directory whose lock is free belongs to a process
//!   that is gone: its records are written to the cold store (writing is
//!   idempotent: events by id, snapshots by version, ends for good) and the
//!   directory is deleted. Any instance may adopt another's orphans.
//! - Nothing is `fsync`ed, so a crash of the whole machine can lose the last
//!   seconds.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};

use memmap2::{MmapMut, MmapOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stint_core::store::{EndReason, Record};
use stint_core::{
    Attributes, Error, Event, Result, SessionId, SessionKind, SessionRecord, Timestamp, TokenHash, VisitorId,
};
use uuid::Uuid;

/// The space reserved for a segment (more for a larger group of records).
/// Small enough that a full disk shows within a few thousand page views, and
/// that committed records leave the disk soon; large enough that opening
/// segments costs nothing per record.
const SEGMENT_BYTES: usize = 256 << 10;

/// A frame larger than this is taken for garbage (a torn tail).
const MAX_FRAME: usize = 64 << 20;

/// The journal of this process.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// Held for the process's life: the lock that says the directory is in use.
    _lock: File,
    /// The segment being appended to; none after a segment could not be
    /// opened (a full disk), until one can.
    open: Option<Segment>,
    /// The number of the last segment opened.
    segment: u64,
    buf: Vec<u8>,
    /// Segments with a record the queue refused: kept for the next start.
    pinned: BTreeSet<u64>,
    /// The oldest segment still on disk.
    oldest: u64,
    /// Closed by a clean shutdown: nothing more is appended.
    closed: bool,
}

/// A segment file, its reserved space mapped.
#[derive(Debug)]
struct Segment {
    file: File,
    map: MmapMut,
    /// The bytes written so far.
    len: usize,
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::cold(format!("journal: {what}: {e}"))
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:010}.seg"))
}

impl Journal {
    /// Opens a new journal directory under `root`.
    pub(crate) fn create(root: &Path) -> Result<Journal> {
        let dir = root.join(Uuid::now_v7().simple().to_string());
        std::fs::create_dir_all(&dir).map_err(|e| io("creating its directory", e))?;
        let lock = File::create(dir.join("lock")).map_err(|e| io("creating its lock", e))?;
        lock.try_lock()
            .map_err(|e| Error::cold(format!("journal: locking: {e}")))?;
        let open = Segment::open(&segment_path(&dir, 0), SEGMENT_BYTES)?;
        Ok(Journal {
            dir,
            _lock: lock,
            open: Some(open),
            segment: 0,
            buf: Vec::with_capacity(512),
            pinned: BTreeSet::new(),
            oldest: 0,
            closed: false,
        })
    }

    /// Appends `records` as one group, all in one segment; returns it.
    pub(crate) fn append_all(&mut self, records: &[Record]) -> Result<u64> {
        if self.closed {
            return Err(Error::WriterClosed);
        }
        if records.is_empty() {
            // Nothing to copy: a group is written from its first length on.
            return Ok(self.segment);
        }
        self.buf.clear();
        for record in records {
            let start = self.buf.len();
            self.buf.extend_from_slice(&[0; 4]);
            rmp_serde::encode::write(&mut self.buf, &EntryRef::from(record))
                .map_err(|e| Error::cold(format!("journal: encoding: {e}")))?;
            let len = u32::try_from(self.buf.len() - start - 4)
                .ok()
                .filter(|&n| n as usize <= MAX_FRAME)
                .ok_or_else(|| Error::cold("journal: record too large"))?;
            self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
        // Room for the group and the zero length that ends the segment.
        let needed = self.buf.len() + 4;
        let segment = match self.open.as_mut() {
            Some(s) if s.room() >= needed => s,
            _ => {
                let next = self.segment + 1;
                let opened = Segment::open(&segment_path(&self.dir, next), needed.max(SEGMENT_BYTES))?;
                if let Some(full) = self.open.take() {
                    full.close();
                }
                self.segment = next;
                self.open.insert(opened)
            }
        };
        segment.append(&self.buf);
        Ok(self.segment)
    }

    /// Keeps `segment` for the next start: one of its records was not queued.
    pub(crate) fn pin(&mut self, segment: u64) {
        self.pinned.insert(segment);
    }

    /// Everything of segments before `segment` is committed: delete them.
    pub(crate) fn committed_before(&mut self, segment: u64) {
        while self.oldest < segment.min(self.segment) {
            if !self.pinned.contains(&self.oldest) {
                let _ = std::fs::remove_file(segment_path(&self.dir, self.oldest));
            }
            self.oldest += 1;
        }
    }

    /// A clean shutdown committed everything: the directory goes, unless it
    /// holds records that were never queued.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        if let Some(open) = self.open.take() {
            open.close();
        }
        if self.pinned.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            for n in self.oldest..=self.segment {
                if !self.pinned.contains(&n) {
                    let _ = std::fs::remove_file(segment_path(&self.dir, n));
                }
            }
        }
    }
}

impl Segment {
    /// Creates the segment at `path` with `bytes` of space reserved, mapped.
    fn open(path: &Path, bytes: usize) -> Result<Segment> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io("opening a segment", e))?;
        let reserved = reserve(&file, bytes).and_then(|()| map(&file, bytes));
        match reserved {
            Ok(map) => Ok(Segment { file, map, len: 0 }),
            Err(e) => {
                // A full disk: nothing is left behind for the replay to read.
                let _ = std::fs::remove_file(path);
                Err(io("reserving a segment", e))
            }
        }
    }

    fn room(&self) -> usize {
        self.map.len() - self.len
    }

    /// Copies `frames` (one or more, each with its length) in, the first
    /// length last: until it is there, the replay reads none of them.
    fn append(&mut self, frames: &[u8]) {
        let at = self.len;
        self.map[at + 4..at + frames.len()].copy_from_slice(&frames[4..]);
        fence(Ordering::Release);
        self.map[at..at + 4].copy_from_slice(&frames[..4]);
        self.len += frames.len();
    }

    /// Unmaps the segment and gives back the space it did not use.
    fn close(self) {
        let Segment { file, map, len } = self;
        drop(map);
        let _ = file.set_len(len as u64);
    }
}

/// Allocates the file's blocks, so that no later store into the mapping
/// needs the disk to have room (it would be a `SIGBUS`).
fn reserve(file: &File, bytes: usize) -> std::io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, bytes as u64) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP => {
            // A filesystem without `fallocate`: zeros take the space as well.
            let mut file = file;
            file.write_all(&vec![0; bytes])?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Maps a segment's reserved space.
///
/// `unsafe` because the mapping would fault if another process truncated
/// the file. None does: the segment is in a directory this process holds
/// locked, no Stint process reads a locked journal, and the file is only
/// shortened (by [`Segment::close`]) after it is unmapped. See
/// ARCHITECTURE.md, "The journal's memory mapping".
#[allow(unsafe_code)]
fn map(file: &File, bytes: usize) -> std::io::Result<MmapMut> {
    // SAFETY: see above; the mapping lives inside its `Segment` with the
    // file, and nothing else in this process maps or writes the file.
    unsafe { MmapOptions::new().len(bytes).map_mut(file) }
}

/// The journals under `root` whose process is gone: their directories and
/// records, oldest first. The caller writes the records, then deletes the
/// directories ([`remove`]).
pub(crate) fn orphans(root: &Path) -> Result<Vec<(PathBuf, Vec<Record>)>> {
    std::fs::create_dir_all(root).map_err(|e| io("creating its directory", e))?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| io("listing", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(lock) = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("lock"))
        else {
            continue;
        };
        if lock.try_lock().is_err() {
            // A running process owns it.
            continue;
        }
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| io("listing", e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "seg"))
            .collect();
        segments.sort();
        let mut records = Vec::new();
        for seg in segments {
            read_segment(&seg, &mut records)?;
        }
        out.push((dir, records));
    }
    Ok(out)
}

/// Deletes an adopted journal once its records are written.
pub(crate) fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

fn read_segment(path: &Path, into: &mut Vec<Record>) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io("reading a segment", e))?;
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if len == 0 {
            // The end of what was written in a segment's reserved space.
            break;
        }
        let Some(frame) = bytes.get(at + 4..at + 4 + len).filter(|_| len <= MAX_FRAME) else {
            tracing::warn!(segment = %path.display(), "journal: a torn frame at the end, ignored");
            break;
        };
        match rmp_serde::from_slice::<Entry>(frame) {
            Ok(entry) => into.push(entry.into()),
            Err(e) => {
                tracing::warn!(segment = %path.display(), error = %e, "journal: an unreadable frame, the rest of the segment ignored");
                break;
            }
        }
        at += 4 + len;
    }
    Ok(())
}

/// A record as the journal reads it back: every field, raw. Ids and hashes
/// are MessagePack `bin`; a journal written before they were reads too, as
/// arrays of bytes.
#[derive(Deserialize)]
enum Entry {
    Snapshot(
        Box<StoredSession>,
        #[serde(with = "serde_bytes")] Option<[u8; 32]>,
    ),
    PageView(StoredEvent, u64),
    Event(StoredEvent),
    End(#[serde(with = "serde_bytes")] [u8; 16], i64, u8),
}

/// [`Entry`] as it is written: the same shape, borrowed from the record, so
/// that journaling copies nothing but bytes.
#[derive(Serialize)]
enum EntryRef<'a> {
    Snapshot(
        SessionRef<'a>,
        #[serde(with = "serde_bytes")] Option<&'a [u8; 32]>,
    ),
    PageView(EventRef<'a>, u64),
    Event(EventRef<'a>),
    End(#[serde(with = "serde_bytes")] &'a [u8; 16], i64, u8),
}

#[derive(Serialize)]
struct SessionRef<'a> {
    #[serde(with = "serde_bytes")]
    id: &'a [u8; 16],
    #[serde(with = "serde_bytes")]
    visitor: &'a [u8; 16],
    customer: Option<&'a str>,
    page_views: u64,
    converted: bool,
    order: Option<&'a str>,
    started: i64,
    last_seen: i64,
    ended: Option<i64>,
    attributes: &'a Attributes,
    data: &'a Map<String, Value>,
    version: u64,
}

#[derive(Serialize)]
struct EventRef<'a> {
    #[serde(with = "serde_bytes")]
    id: &'a [u8; 16],
    #[serde(with = "serde_bytes")]
    session: &'a [u8; 16],
    #[serde(with = "serde_bytes")]
    visitor: &'a [u8; 16],
    kind: &'a str,
    page: Option<&'a str>,
    product: Option<&'a str>,
    metadata: Option<&'a Value>,
    at: i64,
}

#[derive(Deserialize)]
struct StoredSession {
    #[serde(with = "serde_bytes")]
    id: [u8; 16],
    #[serde(with = "serde_bytes")]
    visitor: [u8; 16],
    customer: Option<String>,
    page_views: u64,
    converted: bool,
    order: Option<String>,
    started: i64,
    last_seen: i64,
    ended: Option<i64>,
    attributes: Attributes,
    data: Map<String, Value>,
    version: u64,
}

#[derive(Deserialize)]
struct StoredEvent {
    #[serde(with = "serde_bytes")]
    id: [u8; 16],
    #[serde(with = "serde_bytes")]
    session: [u8; 16],
    #[serde(with = "serde_bytes")]
    visitor: [u8; 16],
    kind: String,
    page: Option<String>,
    product: Option<String>,
    metadata: Option<Value>,
    at: i64,
}

impl<'a> From<&'a Record> for EntryRef<'a> {
    fn from(r: &'a Record) -> Self {
        match r {
            Record::Snapshot { session: s, token } => EntryRef::Snapshot(
                SessionRef {
                    id: s.id.as_uuid().as_bytes(),
                    visitor: s.visitor_id.as_uuid().as_bytes(),
                    customer: s.customer_id.as_deref(),
                    page_views: s.page_views,
                    converted: s.converted,
                    order: s.order_id.as_deref(),
                    started: s.started_at.0,
                    last_seen: s.last_seen_at.0,
                    ended: s.ended_at.map(|t| t.0),
                    attributes: &s.attributes,
                    data: &s.data,
                    version: s.version,
                },
                token.as_ref().map(TokenHash::as_bytes),
            ),
            Record::PageView { event, page_views } => EntryRef::PageView(event.into(), *page_views),
            Record::Event(event) => EntryRef::Event(event.into()),
            Record::End { id, at, reason } => EntryRef::End(
                id.as_uuid().as_bytes(),
                at.0,
                match reason {
                    EndReason::Logout => 0,
                    EndReason::Revoked => 1,
                    EndReason::Expired => 2,
                },
            ),
        }
    }
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(e: &'a Event) -> Self {
        EventRef {
            id: e.id.as_bytes(),
            session: e.session_id.as_uuid().as_bytes(),
            visitor: e.visitor_id.as_uuid().as_bytes(),
            kind: &e.kind,
            page: e.page.as_deref(),
            product: e.product_id.as_deref(),
            metadata: e.metadata.as_ref(),
            at: e.at.0,
        }
    }
}

impl From<StoredEvent> for Event {
    fn from(e: StoredEvent) -> Self {
        let mut event = Event::new(
            SessionId::from_uuid(Uuid::from_bytes(e.session)),
            VisitorId::from_uuid(Uuid::from_bytes(e.visitor)),
            e.kind,
            Timestamp(e.at),
        );
        event.id = Uuid::from_bytes(e.id);
        event.page = e.page;
        event.product_id = e.product;
        event.metadata = e.metadata;
        event
    }
}

impl From<Entry> for Record {
    fn from(e: Entry) -> Self {
        match e {
            Entry::Snapshot(s, token) => Record::Snapshot {
                session: SessionRecord {
                    id: SessionId::from_uuid(Uuid::from_bytes(s.id)),
                    visitor_id: VisitorId::from_uuid(Uuid::from_bytes(s.visitor)),
                    kind: if s.customer.is_some() {
                        SessionKind::Customer
                    } else {
                        SessionKind::Anonymous
                    },
                    customer_id: s.customer,
                    page_views: s.page_views,
                    converted: s.converted,
                    order_id: s.order,
                    started_at: Timestamp(s.started),
                    last_seen_at: Timestamp(s.last_seen),
                    ended_at: s.ended.map(Timestamp),
                    attributes: std::sync::Arc::new(s.attributes),
                    data: stint_core::data_from(s.data),
                    version: s.version,
                },
                token: token.map(TokenHash),
            },
            Entry::PageView(event, page_views) => Record::PageView {
                event: event.into(),
                page_views,
            },
            Entry::Event(event) => Record::Event(event.into()),
            Entry::End(id, at, reason) => Record::End {
                id: SessionId::from_uuid(Uuid::from_bytes(id)),
                at: Timestamp(at),
                reason: match reason {
                    0 => EndReason::Logout,
                    1 => EndReason::Revoked,
                    _ => EndReason::Expired,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stint_core::Token;

    fn records() -> Vec<Record> {
        let mut s = SessionRecord::new(
            VisitorId::new(),
            Attributes {
                device: Some("mobile".into()),
                ..Attributes::default()
            },
            Timestamp(1_795_000_000_000),
        );
        s.kind = SessionKind::Customer;
        s.customer_id = Some("c-1".into());
        s.version = 3;
        std::sync::Arc::make_mut(&mut s.data).insert("cart".into(), json!([{"p": 1}]));
        let e = Event::new(s.id, s.visitor_id, "page_view", Timestamp(1_795_000_000_500))
            .page("/p")
            .metadata(json!({"total": 12.5}));
        vec![
            Record::Snapshot {
                session: s.clone(),
                token: Some(Token::generate().hash()),
            },
            Record::PageView {
                event: e.clone(),
                page_views: 4,
            },
            Record::Event(e),
            Record::End {
                id: s.id,
                at: Timestamp(1_795_000_001_000),
                reason: EndReason::Revoked,
            },
        ]
    }

    #[test]
    fn records_survive_a_process_that_never_closed_its_journal() {
        let root = tempfile::tempdir().unwrap();
        let written = records();
        let mut j = Journal::create(root.path()).unwrap();
        for r in &written {
            j.append_all(std::slice::from_ref(r)).unwrap();
        }
        // While this process holds the journal, nobody adopts it.
        assert!(orphans(root.path()).unwrap().is_empty());
        drop(j); // the lock goes with it, as with a killed process
        let found = orphans(root.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, written);
        remove(&found[0].0);
        assert!(orphans(root.path()).unwrap().is_empty());
    }

    #[test]
    fn records_appended_in_one_write_come_back_in_order() {
        let root = tempfile::tempdir().unwrap();
        let written = records();
        let mut j = Journal::create(root.path()).unwrap();
        assert_eq!(j.append_all(&[]).unwrap(), 0, "an empty group is no frame");
        j.append_all(&written[..1]).unwrap();
        j.append_all(&written[1..]).unwrap();
        drop(j);
        let found = orphans(root.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, written);
    }

    #[test]
    fn a_torn_tail_is_ignored_and_the_rest_kept() {
        let root = tempfile::tempdir().unwrap();
        let written = records();
        let mut j = Journal::create(root.path()).unwrap();
        for r in &written {
            j.append_all(std::slice::from_ref(r)).unwrap();
        }
        let seg = segment_path(&j.dir, 0);
        let end = j.open.as_ref().unwrap().len as u64;
        drop(j);
        // A length that promises more than the segment holds.
        let mut f = OpenOptions::new().write(true).open(&seg).unwrap();
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(end)).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3]).unwrap();
        f.set_len(end + 7).unwrap();
        let found = orphans(root.path()).unwrap();
        assert_eq!(found[0].1, written);
    }

    #[test]
    fn a_group_whose_first_length_never_landed_is_not_read() {
        let root = tempfile::tempdir().unwrap();
        let written = records();
        let mut j = Journal::create(root.path()).unwrap();
        j.append_all(&written[..1]).unwrap();
        let seg = segment_path(&j.dir, 0);
        let end = j.open.as_ref().unwrap().len;
        // A process killed while copying a group: every byte but the first
        // length is in place.
        j.append_all(&written[1..]).unwrap();
        let used = j.open.as_ref().unwrap().len;
        j.open.as_mut().unwrap().map[end..end + 4].fill(0);
        drop(j);
        let bytes = std::fs::read(&seg).unwrap();
        assert!(
            bytes[end + 4..used].iter().any(|&b| b != 0),
            "the group's bytes are there"
        );
        let found = orphans(root.path()).unwrap();
        assert_eq!(found[0].1, written[..1], "but none of its records is read");
    }

    #[test]
    fn a_segment_reserves_its_space_and_gives_back_what_it_did_not_use() {
        let root = tempfile::tempdir().unwrap();
        let mut j = Journal::create(root.path()).unwrap();
        let r = &records()[1];
        j.append_all(std::slice::from_ref(r)).unwrap();
        let first = segment_path(&j.dir, 0);
        let used = j.open.as_ref().unwrap().len as u64;
        let meta = std::fs::metadata(&first).unwrap();
        assert_eq!(meta.len(), SEGMENT_BYTES as u64);
        // Allocated, not a hole: a full disk cannot fault a copy later.
        assert!(
            std::os::unix::fs::MetadataExt::blocks(&meta) * 512 >= SEGMENT_BYTES as u64,
            "{meta:?}"
        );
        while j.append_all(std::slice::from_ref(r)).unwrap() == 0 {}
        let closed = std::fs::metadata(&first).unwrap().len();
        assert!(closed > used && closed < SEGMENT_BYTES as u64, "{closed}");
        // A group larger than a segment gets a segment of its own size.
        let mut big = records()[0].clone();
        if let Record::Snapshot { session, .. } = &mut big {
            std::sync::Arc::make_mut(&mut session.data)
                .insert("blob".into(), json!("x".repeat(SEGMENT_BYTES * 2)));
        }
        let n = j.append_all(std::slice::from_ref(&big)).unwrap();
        assert_eq!(n, 2);
        drop(j);
        let found = orphans(root.path()).unwrap();
        assert_eq!(found[0].1.last(), Some(&big));
    }

    #[test]
    fn ids_are_written_as_bytes_in_one_piece() {
        let root = tempfile::tempdir().unwrap();
        let written = records();
        let Record::PageView { event, .. } = &written[1] else {
            unreachable!()
        };
        let mut j = Journal::create(root.path()).unwrap();
        j.append_all(&written[1..2]).unwrap();
        let bytes = std::fs::read(segment_path(&j.dir, 0)).unwrap();
        // `bin 8` of 16 bytes, then the id itself: not an array of 16 numbers.
        let mut id = vec![0xc4, 16];
        id.extend_from_slice(event.session_id.as_uuid().as_bytes());
        assert!(bytes.windows(id.len()).any(|w| w == id), "{bytes:?}");
    }

    #[test]
    fn a_journal_with_ids_as_arrays_of_numbers_still_reads() {
        // The encoding before ids became `bin`: serde's default for byte arrays.
        #[derive(Serialize)]
        struct OldEvent<'a> {
            id: &'a [u8; 16],
            session: &'a [u8; 16],
            visitor: &'a [u8; 16],
            kind: &'a str,
            page: Option<&'a str>,
            product: Option<&'a str>,
            metadata: Option<&'a Value>,
            at: i64,
        }
        #[derive(Serialize)]
        enum OldEntry<'a> {
            #[allow(dead_code)]
            Snapshot((), ()),
            PageView(OldEvent<'a>, u64),
            #[allow(dead_code)]
            Event(OldEvent<'a>),
            End(&'a [u8; 16], i64, u8),
        }
        let written = records();
        let (Record::PageView { event: e, page_views }, Record::End { id, at, .. }) =
            (&written[1], &written[3])
        else {
            unreachable!()
        };
        let old = [
            OldEntry::PageView(
                OldEvent {
                    id: e.id.as_bytes(),
                    session: e.session_id.as_uuid().as_bytes(),
                    visitor: e.visitor_id.as_uuid().as_bytes(),
                    kind: &e.kind,
                    page: e.page.as_deref(),
                    product: e.product_id.as_deref(),
                    metadata: e.metadata.as_ref(),
                    at: e.at.0,
                },
                *page_views,
            ),
            OldEntry::End(id.as_uuid().as_bytes(), at.0, 1),
        ];
        let mut bytes = Vec::new();
        for entry in &old {
            let frame = rmp_serde::to_vec(entry).unwrap();
            bytes.extend_from_slice(&u32::try_from(frame.len()).unwrap().to_le_bytes());
            bytes.extend_from_slice(&frame);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0000000000.seg");
        std::fs::write(&path, bytes).unwrap();
        let mut read = Vec::new();
        read_segment(&path, &mut read).unwrap();
        assert_eq!(
            read,
            written[1..2]
                .iter()
                .chain(&written[3..])
                .cloned()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn committed_segments_are_deleted_and_a_clean_close_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut j = Journal::create(root.path()).unwrap();
        let r = &records()[1];
        let mut last = 0;
        while last < 3 {
            last = j.append_all(std::slice::from_ref(r)).unwrap();
        }
        j.pin(1);
        j.committed_before(3);
        let left: Vec<_> = std::fs::read_dir(&j.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".seg"))
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["0000000001.seg", "0000000003.seg"]);
        let dir = j.dir.clone();
        j.close();
        assert!(j.append_all(std::slice::from_ref(r)).is_err(), "closed");
        // The pinned segment stays for the next start; the rest is gone.
        assert!(segment_path(&dir, 1).exists());
        assert!(!segment_path(&dir, 3).exists());
    }
}
