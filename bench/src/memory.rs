//! Memory per live session in the in-process hot store, split into the
//! session's own data and what the store adds to hold it.
//!
//! Measured in this process, away from HTTP and the cold store, so that the
//! figure is the store's alone: the server's resident-memory column of `run`
//! also counts the SQLite page cache, the writer's queue and the runtime.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, Result};
use stint_core::context::{AgentParser, RequestInfo};
use stint_core::{HotStore, Policy, SessionRecord, Timestamp, Token, TokenHash, VisitorId};
use stint_memory::MemoryStore;

/// What `stint-bench memory` found.
pub struct Outcome {
    /// Sessions held.
    pub sessions: usize,
    /// Resident memory per session of the sessions alone, in a vector: their
    /// fields, attributes and data, with their current token's hash.
    pub data: f64,
    /// Resident memory per session of the same sessions in a `MemoryStore`.
    pub stored: f64,
}

impl Outcome {
    /// What the store adds per session beyond its data: the maps by token and
    /// by id, the entry's lock and shared pointer, expiry, allocation slack.
    pub fn overhead(&self) -> f64 {
        self.stored - self.data
    }
}

/// A session as the layer starts one for the benchmark's visitor: a desktop
/// Chrome, an address, the products page, its first page view counted.
fn session(parser: &AgentParser, n: usize, now: Timestamp) -> SessionRecord {
    let [_, _, c, d] = u32::try_from(n % (1 << 24)).unwrap_or(0).to_be_bytes();
    let info = RequestInfo {
        peer: Some(IpAddr::V4(Ipv4Addr::new(198, 51, c, d))),
        user_agent: Some(crate::load::CHROME),
        path: crate::load::PATH,
        ..RequestInfo::default()
    };
    let mut s = SessionRecord::new(VisitorId::new(), info.attributes(parser), now);
    s.page_views = 1;
    s
}

/// Resident memory of this process, in bytes.
fn rss() -> Result<u64> {
    crate::server::rss_of("self").context("no VmRSS in /proc/self/status")
}

/// Holds `sessions` sessions first in a vector, then in a `MemoryStore`, and
/// measures the growth of resident memory each time.
pub fn measure(sessions: usize) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let parser = AgentParser::shared();
    let policy = Policy::default();
    let now = Timestamp(1_795_000_000_000);
    // Warm what every session shares (the parser and its cache) first.
    drop(session(parser, 0, now));

    let before = rss()?;
    let mut plain: Vec<(SessionRecord, TokenHash)> = Vec::with_capacity(sessions);
    for n in 0..sessions {
        plain.push((session(parser, n, now), Token::generate().hash()));
    }
    let data = rss()?.saturating_sub(before);

    let before = rss()?;
    let store = MemoryStore::new();
    rt.block_on(async {
        for n in 0..sessions {
            store
                .insert(&session(parser, n, now), &Token::generate().hash(), &policy)
                .await?;
        }
        anyhow::Ok(())
    })?;
    let stored = rss()?.saturating_sub(before);
    let held = rt.block_on(store.count())?;
    anyhow::ensure!(
        held == sessions as u64,
        "the store holds {held} sessions, not {sessions}"
    );
    anyhow::ensure!(plain.len() == sessions);

    let per = |bytes: u64| bytes as f64 / sessions as f64;
    Ok(Outcome {
        sessions,
        data: per(data),
        stored: per(stored),
    })
}
