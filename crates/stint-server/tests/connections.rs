//! Hostile and careless clients: slow request heads (slowloris), idle
//! keep-alive connections and a crowd of connections are cut off or held
//! back by the server's connection settings, and ordinary requests are
//! served all the while.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

fn connect(s: &Server) -> TcpStream {
    let addr = s.base.trim_start_matches("http://");
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Reads until the server closes the connection; how long that took.
fn closed_after(mut c: TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

fn get(c: &mut TcpStream, path: &str) -> String {
    write!(c, "GET {path} HTTP/1.1\r\nHost: stint\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = c.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// 200 connections that send part of a head and then nothing are all
/// closed once the header timeout has passed, while a well-behaved client
/// is served meanwhile.
#[test]
fn slow_request_heads_are_cut_off() {
    let s = Server::start(&[("STINT_HEADER_TIMEOUT", "1")]);
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = connect(&s);
            c.write_all(b"GET /api/storefront/products HTTP/1.1\r\nHost: stint\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    let mut ok = connect(&s);
    assert!(get(&mut ok, "/healthz").starts_with("HTTP/1.1 200"));
    for c in slow {
        let waited = closed_after(c);
        assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    }
    // A connection that never sends a byte is a slow head too.
    let silent = connect(&s);
    assert!(closed_after(silent) < Duration::from_secs(5));
}

/// A keep-alive connection serves several requests, then is closed once it
/// has been idle for the idle timeout (and not at the shorter header
/// timeout).
#[test]
fn idle_keep_alive_connections_are_closed() {
    let s = Server::start(&[("STINT_HEADER_TIMEOUT", "1"), ("STINT_IDLE_TIMEOUT", "3")]);
    let mut c = connect(&s);
    for _ in 0..3 {
        assert!(get(&mut c, "/healthz").starts_with("HTTP/1.1 200"));
    }
    let waited = closed_after(c);
    assert!(
        waited > Duration::from_millis(2_000) && waited < Duration::from_secs(6),
        "closed after {waited:?}"
    );
}

/// Past the bound on open connections the listener stops accepting: a new
/// client waits (it is not refused, and the process does not run out of
/// descriptors) and is served as soon as a connection closes.
#[test]
fn past_the_connection_bound_new_clients_wait_for_room() {
    let s = Server::start(&[("STINT_MAX_CONNECTIONS", "4"), ("STINT_HEADER_TIMEOUT", "30")]);
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect(&s)).collect();
    for c in &mut held {
        assert!(get(c, "/healthz").starts_with("HTTP/1.1 200"));
    }
    let mut waiting = connect(&s);
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: stint\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let mut buf = [0u8; 256];
    let early = waiting.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered past the bound: {early:?}"
    );
    drop(held.pop());
    waiting.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = waiting.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

/// The connection settings are configuration like any other: a bad value
/// stops start-up naming the variable.
#[test]
fn bad_connection_settings_stop_start_up() {
    for (var, value) in [
        ("STINT_HEADER_TIMEOUT", "0"),
        ("STINT_IDLE_TIMEOUT", "soon"),
        ("STINT_MAX_CONNECTIONS", "-1"),
        ("STINT_REQUEST_TIMEOUT", ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stint"))
            .env_clear()
            .env("STINT_DATA_DIR", dir.path())
            .env(var, value)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var), "{var}: {err}");
    }
}

fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

/// A flood of sign-ins (each password check takes some 19 MiB and tens of
/// milliseconds) is answered, by a check or a 503, without the server's
/// memory growing with the flood: checks run a few at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_does_not_exhaust_memory() {
    let s = Server::start(&[]);
    let pid = s.child.as_ref().unwrap().id();
    let before = rss_mib(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (peak, watching) = (peak.clone(), watching.clone());
        std::thread::spawn(move || {
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_mib(pid), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let client = s.plain();
    let logins = (0..300).map(|i| {
        client
            .post(s.url("/api/storefront/auth/login"))
            .json(&serde_json::json!({
                "email": "customer@example.com",
                "password": if i % 2 == 0 { "password123" } else { "wrong-password" },
            }))
            .send()
    });
    let answers = futures_util::future::join_all(logins).await;
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    for a in answers {
        let status = a.unwrap().status().as_u16();
        assert!(matches!(status, 200 | 401 | 503), "{status}");
    }
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    // Checks run one per core, but glibc keeps a freed hash's memory in the
    // arena of the blocking thread that ran it (up to eight arenas a core):
    // growth levels off at a few hundred MiB whatever the flood's size,
    // where unbounded checks took 4.5 GB for these 300.
    assert!(grew < 1_024, "memory grew by {grew} MiB during the flood");
}
