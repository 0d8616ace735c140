//! A slow store, not a dead one: Redis paused (`CLIENT PAUSE`) and
//! PostgreSQL with its sessions table locked cost no request more than its
//! bound and fail none, and every page view of the stall is recorded once.
//! (In a file of its own: the PostgreSQL stall holds a lock on a database of
//! this test only, and the Redis stall pauses a Redis of its own.)

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{RedisServer, Server};
use futures_util::future::join_all;

/// What the load saw: answered requests per visitor, failures, the slowest.
struct Load {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
    slowest_ms: Arc<AtomicU64>,
    answered: Vec<Arc<AtomicU64>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Returning visitors (their cookies) and new ones, until stopped.
fn load(s: &Arc<Server>, visitors: &[(String, String)]) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let slowest_ms = Arc::new(AtomicU64::new(0));
    let mut answered = Vec::new();
    let mut tasks = Vec::new();
    let returning = visitors.iter().map(|(cookie, _)| Some(cookie.clone()));
    for cookie in returning.chain([None, None]) {
        let ok = Arc::new(AtomicU64::new(0));
        if cookie.is_some() {
            answered.push(ok.clone());
        }
        let (s, stop, failures, slowest) = (s.clone(), stop.clone(), failures.clone(), slowest_ms.clone());
        tasks.push(tokio::spawn(async move {
            let c = s.plain();
            while !stop.load(Ordering::Relaxed) {
                let mut r = c.get(s.url("/api/storefront/products/p-3"));
                if let Some(cookie) = &cookie {
                    r = r.header("cookie", cookie);
                }
                let start = Instant::now();
                match r.send().await {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
                let ms = u64::try_from(start.elapsed().as_millis()).unwrap();
                slowest.fetch_max(ms, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    Load {
        stop,
        failures,
        slowest_ms,
        answered,
        tasks,
    }
}

impl Load {
    async fn finish(self) -> (u64, u64, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in join_all(self.tasks).await {
            t.unwrap();
        }
        (
            self.failures.load(Ordering::Relaxed),
            self.slowest_ms.load(Ordering::Relaxed),
            self.answered.iter().map(|a| a.load(Ordering::Relaxed)).collect(),
        )
    }
}

/// Every page view of every answered request is recorded, once.
async fn all_recorded(s: &Server, visitors: &[(String, String)], answered: &[u64]) {
    for ((_, sid), ok) in visitors.iter().zip(answered) {
        let want = 1 + *ok as usize; // the first GET /session, then the load
        assert_eq!(s.page_view_events(sid, want).await, want, "session {sid}");
    }
}

/// Sends one command to Redis over RESP and returns its answer's first line.
fn redis_command(port: u16, args: &[&str]) -> String {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut msg = format!("*{}\r\n", args.len());
    for a in args {
        msg.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    c.write_all(msg.as_bytes()).unwrap();
    let mut buf = [0u8; 128];
    let n = c.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_redis_costs_no_request_more_than_its_bound() {
    let redis = RedisServer::start();
    let s = Arc::new(Server::start_in_process(&[("REDIS_URL", &redis.url())]));
    let visitors = s.new_sessions(6).await;
    let running = load(&s, &visitors);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        redis_command(redis.port, &["CLIENT", "PAUSE", "2500", "ALL"]),
        "+OK"
    );
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let (failures, slowest, answered) = running.finish().await;
    assert_eq!(failures, 0, "every request was answered");
    assert!(slowest < 1_500, "the slowest request took {slowest} ms");
    all_recorded(&s, &visitors, &answered).await;
    let (_, ready) = common::json(s.plain().get(s.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["status"], "ready", "back on Redis: {ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_postgres_costs_no_request_more_than_its_bound() {
    let s = Arc::new(Server::start_postgres(&[]));
    let url = std::fs::read_to_string(s.data_dir.join("postgres-url")).unwrap();
    let visitors = s.new_sessions(6).await;
    let running = load(&s, &visitors);
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("LOCK TABLE sessions, events IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(3_000)).await;
        tx.rollback().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (failures, slowest, answered) = running.finish().await;
    assert_eq!(failures, 0, "every request was answered");
    assert!(slowest < 1_500, "the slowest request took {slowest} ms");
    all_recorded(&s, &visitors, &answered).await;
}
