//! The closed-loop load generator: keep-alive HTTP/1.1 connections, each
//! sending its next request as soon as the last answer is read.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{COOKIE, HOST, SET_COOKIE, USER_AGENT};
use hyper_util::rt::TokioIo;

use crate::Workload;

pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
pub const PATH: &str = "/api/storefront/products";

/// One run's parameters.
pub struct Config {
    /// The server.
    pub addr: SocketAddr,
    /// What visitors do.
    pub workload: Workload,
    /// Simulated visitors.
    pub visitors: usize,
    /// Connections.
    pub connections: usize,
    /// Measured time.
    pub duration: Duration,
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

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

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
    jar: Option<&Jar>,
) -> Result<hyper::Response<hyper::body::Incoming>> {
    let mut req = Request::get(PATH).header(HOST, host).header(USER_AGENT, CHROME);
    if let Some(c) = jar.and_then(|j| j.cookie.as_deref()) {
        req = req.header(COOKIE, c);
    }
    sender.ready().await?;
    Ok(sender.send_request(req.body(Empty::new())?).await?)
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
            let res = send(&mut sender, &host, None).await?;
            let headers = res.headers().clone();
            res.into_body().collect().await?;
            jar.lock().map_err(|_| anyhow!("poisoned"))?.absorb(&headers);
        }
    }
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut tasks = Vec::new();
    for task in 0..config.connections {
        let jars = Arc::clone(&jars);
        let host = host.clone();
        let addr = config.addr;
        let workload = config.workload;
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
                let t = Instant::now();
                match send(&mut sender, &host, jar.as_ref()).await {
                    Ok(res) => {
                        let status = res.status();
                        let headers = (workload == Workload::Returning
                            && res.headers().contains_key(SET_COOKIE))
                        .then(|| res.headers().clone());
                        let body = res.into_body().collect().await;
                        let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                        if status.is_success() && body.is_ok() {
                            ok += 1;
                            hist.saturating_record(us);
                        } else {
                            errors += 1;
                        }
                        if let (Some(h), Ok(mut j)) = (headers, jars[idx].lock()) {
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
