//! The load generator: keep-alive HTTP/1.1 connections. Closed loop: each
//! connection sends its next request as soon as the last answer is read.
//! Open loop (`Config::rate`): requests are due at a fixed rate whatever the
//! server does, and each one's latency runs from when it was due, so that a
//! request kept waiting by a slow one before it counts its wait (no
//! coordinated omission).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderValue, SET_COOKIE, USER_AGENT};
use hyper_util::rt::TokioIo;

use crate::Workload;

pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
pub const PATH: &str = "/api/storefront/products";

/// What each request asks.
#[derive(Clone, Debug)]
pub enum Target {
    /// `GET /api/storefront/products` with the visitor's cookies, as a browser.
    Page,
    /// `POST /api/v1/sessions/resolve` with the visitor's cookies in the
    /// body, as a shop's backend forwarding that page request; the cookies
    /// come back in the answer's `setCookie`.
    Resolve {
        /// The session API's key.
        key: String,
    },
}

/// One run's parameters.
pub struct Config {
    /// The server.
    pub addr: SocketAddr,
    /// What each request asks.
    pub target: Target,
    /// What visitors do.
    pub workload: Workload,
    /// Simulated visitors.
    pub visitors: usize,
    /// Connections.
    pub connections: usize,
    /// Measured time.
    pub duration: Duration,
    /// Open loop: requests due per second, spread evenly; `None`: closed loop.
    pub rate: Option<f64>,
}

/// What a run measured.
pub struct Outcome {
    /// Answered requests (2xx).
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Measured time.
    pub elapsed: Duration,
    /// Latencies, microseconds.
    pub latency: Histogram<u64>,
}

impl Outcome {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency quantile, milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// A visitor's cookies.
#[derive(Default, Clone)]
pub struct Jar {
    /// The `Cookie` header to send, if any.
    pub cookie: Option<String>,
}

impl Jar {
    /// Takes the `Set-Cookie` headers of an answer.
    pub fn absorb(&mut self, headers: &hyper::HeaderMap) {
        let mut pairs: Vec<(String, String)> = self
            .cookie
            .as_deref()
            .map(|c| {
                c.split("; ")
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut changed = false;
        for h in headers.get_all(SET_COOKIE) {
            let Ok(h) = h.to_str() else { continue };
            let Some((name, value)) = h.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            pairs.retain(|(k, _)| k != name);
            if !value.is_empty() && !h.contains("Max-Age=0") {
                pairs.push((name.to_owned(), value.to_owned()));
            }
            changed = true;
        }
        if changed {
            self.cookie = (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut Sender,
    host: &str,
    target: &Target,
    jar: Option<&Jar>,
) -> Result<hyper::Response<hyper::body::Incoming>> {
    let cookie = jar.and_then(|j| j.cookie.as_deref());
    let req = match target {
        Target::Page => {
            let mut req = Request::get(PATH).header(HOST, host).header(USER_AGENT, CHROME);
            if let Some(c) = cookie {
                req = req.header(COOKIE, c);
            }
            req.body(Full::new(Bytes::new()))?
        }
        Target::Resolve { key } => {
            let body = serde_json::json!({
                "cookie": cookie.unwrap_or_default(),
                "userAgent": CHROME,
                "ip": "127.0.0.1",
                "method": "GET",
                "url": PATH,
            });
            Request::post("/api/v1/sessions/resolve")
                .header(HOST, host)
                .header(AUTHORIZATION, format!("Bearer {key}"))
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body.to_string())))?
        }
    };
    sender.ready().await?;
    Ok(sender.send_request(req).await?)
}

/// The `Set-Cookie` values of an answer: its headers for a page, the
/// `setCookie` of its JSON for `resolve` (read only when it holds any).
fn set_cookies(target: &Target, headers: &hyper::HeaderMap, body: &[u8]) -> Option<hyper::HeaderMap> {
    match target {
        Target::Page => headers.contains_key(SET_COOKIE).then(|| headers.clone()),
        Target::Resolve { .. } => {
            if !body.windows(14).any(|w| w == b"\"setCookie\":[\"") {
                return None;
            }
            let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
            let mut out = hyper::HeaderMap::new();
            for c in answer["data"]["setCookie"].as_array()? {
                out.append(SET_COOKIE, HeaderValue::from_str(c.as_str()?).ok()?);
            }
            Some(out)
        }
    }
}

/// Runs the workload against `config.addr`.
pub async fn drive(config: &Config) -> Result<Outcome> {
    let host = config.addr.to_string();
    let jars: Arc<Vec<Mutex<Jar>>> =
        Arc::new((0..config.visitors).map(|_| Mutex::new(Jar::default())).collect());
    if config.workload == Workload::Returning {
        // Every visitor's first request creates its session.
        let mut sender = connect(config.addr).await?;
        for jar in jars.iter() {
            let res = send(&mut sender, &host, &config.target, None).await?;
            let headers = res.headers().clone();
            let body = res.into_body().collect().await?.to_bytes();
            if let Some(cookies) = set_cookies(&config.target, &headers, &body) {
                jar.lock().map_err(|_| anyhow!("poisoned"))?.absorb(&cookies);
            }
        }
    }
    let start = Instant::now();
    let deadline = start + config.duration;
    let due = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..config.connections {
        let due = Arc::clone(&due);
        let rate = config.rate;
        let jars = Arc::clone(&jars);
        let host = host.clone();
        let addr = config.addr;
        let workload = config.workload;
        let target = config.target.clone();
        let n_conn = config.connections;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| anyhow!("{e}"))?;
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut sender = connect(addr).await?;
            let mut k = 0usize;
            while Instant::now() < deadline {
                let idx = (task + k * n_conn) % jars.len().max(1);
                k += 1;
                let jar = match workload {
                    Workload::Returning => jars[idx].lock().ok().map(|j| j.clone()),
                    Workload::New => None,
                };
                let t = match rate {
                    None => Instant::now(),
                    Some(rate) => {
                        // The next request due, on whichever connection is free.
                        let n = due.fetch_add(1, Ordering::Relaxed);
                        let at = start + Duration::from_secs_f64(n as f64 / rate);
                        if at >= deadline {
                            break;
                        }
                        wait_until(at).await;
                        at
                    }
                };
                match send(&mut sender, &host, &target, jar.as_ref()).await {
                    Ok(res) => {
                        let status = res.status();
                        let (head, body) = res.into_parts();
                        let headers = head.headers;
                        let body = body.collect().await.map(|b| b.to_bytes());
                        let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                        if status.is_success() && body.is_ok() {
                            ok += 1;
                            hist.saturating_record(us);
                        } else {
                            errors += 1;
                        }
                        let cookies = match (&body, workload) {
                            (Ok(b), Workload::Returning) => set_cookies(&target, &headers, b),
                            _ => None,
                        };
                        if let (Some(h), Ok(mut j)) = (cookies, jars[idx].lock()) {
                            j.absorb(&h);
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        sender = connect(addr).await?;
                    }
                }
            }
            Ok::<_, anyhow::Error>((ok, errors, hist))
        }));
    }
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| anyhow!("{e}"))?;
    let (mut requests, mut errors) = (0, 0);
    for t in tasks {
        let (ok, err, hist) = t.await??;
        requests += ok;
        errors += err;
        latency.add(hist).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(Outcome {
        requests,
        errors,
        elapsed: start.elapsed(),
        latency,
    })
}

/// Waits until `at` to within microseconds: tokio's timer ticks in
/// milliseconds, which would send an open loop's requests in bursts and add
/// up to a millisecond to every latency, so the last stretch yields in a
/// loop (on the load generator's own core).
async fn wait_until(at: Instant) {
    let now = Instant::now();
    if at > now + Duration::from_millis(2) {
        tokio::time::sleep_until((at - Duration::from_millis(1)).into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}
