//! `stint-bench soak`: the real `stint serve` under a steady load for a
//! long time, at half the rate it can serve, to show that memory, open
//! descriptors and the journal stay flat once the sessions' idle timeout has
//! turned them over.
//!
//! The load is open-loop (requests leave at a fixed rate, whatever the
//! answers do): returning visitors, new visitors, logins and orders mixed.
//! Every `sample` seconds one row is printed: the rate achieved, errors,
//! p99 latency from each request's intended start, the server's resident
//! memory and open descriptors, the journal's size on disk and the sessions
//! the in-process tier holds.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use hdrhistogram::Histogram;

use crate::load::{self, CHROME};

/// What `soak` is told.
#[derive(clap::Args, Clone, Debug)]
pub struct SoakArgs {
    /// Minutes to run.
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// The sessions' idle timeout, seconds (`SESSION_TTL`): short, so that
    /// the run turns sessions over many times.
    #[arg(long, default_value_t = 120)]
    pub session_ttl: u64,
    /// Seconds between two rows.
    #[arg(long, default_value_t = 60)]
    pub sample: u64,
    /// Requests per second; default: half of what 64 clients sending the
    /// same mix back to back reach in 10 seconds.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Visitors kept coming back at a time; older ones leave for good.
    #[arg(long, default_value_t = 5_000)]
    pub visitors: usize,
}

/// One sample of the run.
struct Row {
    at: Duration,
    rps: f64,
    errors: u64,
    p99_ms: f64,
    rss: u64,
    fds: u64,
    journal: u64,
    sessions: u64,
}

struct Server {
    child: Child,
    addr: SocketAddr,
    data: tempfile::TempDir,
}

impl Server {
    fn start(bin: &Path, ttl: u64) -> Result<Server> {
        let data = tempfile::tempdir()?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("STINT_DATA_DIR", data.path())
            .env("COOKIE_SECRET", "soak-secret-soak-secret-soak-secret-soak")
            .env("STINT_ADMIN_TOKEN", "soak-admin-token-0123456789")
            .env("SESSION_TTL", ttl.to_string())
            .env("SESSION_MAX_AGE", (ttl * 4).to_string())
            .env("SESSION_CREATE_LIMIT", "0")
            .env("STINT_JOB_INTERVAL", "10")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting stint")?;
        let addr = crate::server::stint_address(&mut child)?;
        Ok(Server { child, addr, data })
    }

    fn fds(&self) -> u64 {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count() as u64)
            .unwrap_or(0)
    }

    fn journal(&self) -> u64 {
        fn size(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => size(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        size(&self.data.path().join("journal"))
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A visitor's cookies, shared by its requests in flight.
type Jar = Arc<Mutex<load::Jar>>;

/// One request of the mix, for a visitor; a sign-in is followed by a
/// sign-out, as a shop's customers come and go (one account signed in
/// thousands of times at once would be a test of that account alone).
async fn visit(client: &reqwest::Client, base: &str, jar: &Jar, n: u64) -> bool {
    match n % 50 {
        // 2 %: the demo customer signs in, then out.
        0 => {
            let login = client
                .post(format!("{base}/api/storefront/auth/login"))
                .json(&serde_json::json!({"email": "customer@example.com", "password": "password123"}));
            send(login, jar).await
                && send(client.post(format!("{base}/api/storefront/auth/logout")), jar).await
        }
        // 2 %: an order.
        25 => {
            let order = client
                .post(format!("{base}/api/storefront/orders"))
                .json(&serde_json::json!({
                    "items": [{"productId": "p-2", "quantity": 1}],
                    "shippingAddress": {"city": "Berlin"}
                }));
            send(order, jar).await
        }
        // The rest: product pages.
        k => {
            send(
                client.get(format!("{base}/api/storefront/products/p-{}", 1 + k % 6)),
                jar,
            )
            .await
        }
    }
}

/// Sends `req` with the visitor's cookies and keeps the ones it gets back.
async fn send(req: reqwest::RequestBuilder, jar: &Jar) -> bool {
    let cookie = jar.lock().ok().and_then(|j| j.cookie.clone());
    let req = match cookie {
        Some(c) => req.header(reqwest::header::COOKIE, c),
        None => req,
    };
    match req.send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            if let Ok(mut j) = jar.lock() {
                j.absorb(r.headers());
            }
            let _ = r.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// Runs the soak and prints its rows.
pub async fn run(args: &SoakArgs) -> Result<()> {
    let bin = crate::server::build_stint()?;
    let server = Server::start(&bin, args.session_ttl)?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .user_agent(CHROME)
        .pool_max_idle_per_host(512)
        .build()?;
    let visitors: Arc<Mutex<VecDeque<Jar>>> = Arc::new(Mutex::new(VecDeque::new()));
    let rate = match args.rate {
        Some(r) => r,
        None => (capacity(&client, &base, &visitors, args.visitors).await? / 2.0) as u64,
    }
    .max(1);
    eprintln!(
        "soak: {rate} req/s for {} min, SESSION_TTL={} s, a row every {} s",
        args.minutes, args.session_ttl, args.sample
    );
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let (done, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(512));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.minutes * 60.0);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut next_row = start + Duration::from_secs(args.sample);
    let mut rows = Vec::new();
    let (mut last_done, mut last_errors, mut last_at) = (0, 0, Duration::ZERO);
    let mut n: u64 = 0;
    println!(
        "| minute | req/s | errors | p99 ms | server RSS MiB | open fds | journal KiB | sessions in memory |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    loop {
        let intended = start + interval.mul_f64(n as f64);
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        n += 1;
        let jar = pick(&visitors, n, args.visitors)?;
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let (client, base, latency, done, errors) = (
                    client.clone(),
                    base.clone(),
                    latency.clone(),
                    done.clone(),
                    errors.clone(),
                );
                tokio::spawn(async move {
                    let ok = visit(&client, &base, &jar, n).await;
                    let us = intended.elapsed().as_micros() as u64;
                    if let Ok(mut h) = latency.lock() {
                        let _ = h.record(us.max(1));
                    }
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
            // 512 requests already waiting: the server has fallen behind.
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        if Instant::now() >= next_row {
            next_row += Duration::from_secs(args.sample);
            let at = start.elapsed();
            let (d, e) = (done.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
            let p99 = latency
                .lock()
                .map(|mut h| {
                    let q = h.value_at_quantile(0.99) as f64 / 1000.0;
                    h.reset();
                    q
                })
                .unwrap_or(0.0);
            let sessions = metric(&client, &base, "stint_memory_sessions")
                .await
                .unwrap_or(0.0) as u64;
            let row = Row {
                at,
                rps: (d - last_done) as f64 / (at - last_at).as_secs_f64(),
                errors: e - last_errors,
                p99_ms: p99,
                rss: crate::server::rss_of(&server.child.id().to_string()).unwrap_or(0),
                fds: server.fds(),
                journal: server.journal(),
                sessions,
            };
            println!(
                "| {:.0} | {:.0} | {} | {:.2} | {:.1} | {} | {} | {} |",
                row.at.as_secs_f64() / 60.0,
                row.rps,
                row.errors,
                row.p99_ms,
                row.rss as f64 / 1048576.0,
                row.fds,
                row.journal / 1024,
                row.sessions
            );
            (last_done, last_errors, last_at) = (d, e, at);
            rows.push(row);
        }
    }
    // Let the last requests finish.
    let _ = in_flight.acquire_many(512).await;
    server.stop();
    if let (Some(first), Some(last)) = (rows.get(rows.len() / 3), rows.last()) {
        eprintln!(
            "soak: from minute {:.0} to the end, memory went {:.1} -> {:.1} MiB and descriptors {} -> {}; {} errors in all",
            first.at.as_secs_f64() / 60.0,
            first.rss as f64 / 1048576.0,
            last.rss as f64 / 1048576.0,
            first.fds,
            last.fds,
            errors.load(Ordering::Relaxed)
        );
    }
    Ok(())
}

/// The visitor of request `n`: one request in five is a new visitor, who
/// joins the pool (the oldest leaves it past `keep`); the others return.
fn pick(visitors: &Mutex<VecDeque<Jar>>, n: u64, keep: usize) -> Result<Jar> {
    let mut pool = visitors.lock().map_err(|_| anyhow!("poisoned"))?;
    if n.is_multiple_of(5) || pool.is_empty() {
        let jar: Jar = Arc::default();
        pool.push_back(jar.clone());
        if pool.len() > keep {
            pool.pop_front();
        }
        Ok(jar)
    } else {
        let i = (n.wrapping_mul(2_654_435_761) as usize) % pool.len();
        Ok(pool[i].clone())
    }
}

/// Requests per second that 64 clients sending the mix back to back reach
/// in 10 seconds.
async fn capacity(
    client: &reqwest::Client,
    base: &str,
    visitors: &Arc<Mutex<VecDeque<Jar>>>,
    keep: usize,
) -> Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(10);
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (client, base, visitors, next, done) = (
                client.clone(),
                base.to_owned(),
                visitors.clone(),
                next.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed) + 1;
                    let Ok(jar) = pick(&visitors, n, keep) else { break };
                    if visit(&client, &base, &jar, n).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / 10.0)
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}
