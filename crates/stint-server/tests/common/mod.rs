//! Starts the built `stint` binary on a free port with its own data
//! directory, and talks to it over HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const SECRET: &str = "test-cookie-secret-of-at-least-32-bytes";
pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

pub struct Server {
    pub base: String,
    pub child: Option<Child>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// A server with the test secrets and `env` on a fresh data directory.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, env);
        s._tmp = Some(tmp);
        s
    }

    /// A server on PostgreSQL whatever `STINT_TEST_BACKEND` says.
    pub fn start_postgres(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let url = create_postgres_database(tmp.path());
        let mut env = env.to_vec();
        env.push(("DATABASE_URL", &url));
        let mut s = Self::start_in(tmp.path(), &env);
        s._tmp = Some(tmp);
        s
    }

    /// Another instance on the same stores as the server of `dir` (its
    /// database and Redis prefix), with a data directory of its own: two
    /// processes never serve one data directory without a shared hot store.
    pub fn start_beside(dir: &Path, env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        for marker in ["postgres-url", "redis-prefix"] {
            if let Ok(v) = std::fs::read_to_string(dir.join(marker)) {
                std::fs::write(tmp.path().join(marker), v).unwrap();
            }
        }
        let sqlite = format!("sqlite://{}", dir.join("stint.db").display());
        let mut env = env.to_vec();
        if postgres_database(dir).is_none() {
            env.push(("DATABASE_URL", &sqlite));
        }
        let mut s = Self::start_in(tmp.path(), &env);
        s._tmp = Some(tmp);
        s
    }

    /// A server with the in-process hot tier whatever `STINT_TEST_HOT`
    /// says (on the durable store `STINT_TEST_BACKEND` names).
    pub fn start_in_process(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Self::launch(tmp.path(), env, false);
        s._tmp = Some(tmp);
        s
    }

    /// A server on an existing data directory (for restarts).
    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::launch(dir, env, true)
    }

    fn launch(dir: &Path, env: &[(&str, &str)], shared_hot: bool) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stint"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("STINT_DATA_DIR", dir)
            .env("COOKIE_SECRET", SECRET)
            .env("STINT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = postgres_database(dir) {
            cmd.env("DATABASE_URL", url);
        }
        let mut redis_url = None;
        if let Some((url, prefix)) = redis_for(dir).filter(|_| shared_hot) {
            cmd.env("REDIS_URL", &url).env("STINT_REDIS_PREFIX", prefix);
            redis_url = Some(url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        // The test command's CA, for the Redis over TLS the test runs on
        // (unless it names a CA, or another Redis, itself).
        let named = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let redis_url = named("REDIS_URL").or(redis_url);
        if redis_url.is_some_and(|u| u.starts_with("rediss://")) && named("STINT_REDIS_CA").is_none() {
            cmd.env(
                "STINT_REDIS_CA",
                std::env::var("STINT_TEST_TLS_CA").expect("STINT_TEST_TLS_CA is not set: run scripts/test"),
            );
        }
        let mut child = cmd.spawn().expect("start stint");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("stint exited before listening").unwrap();
            if let Some(addr) = line.strip_prefix("stint listening on ") {
                break addr.trim().to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            base,
            child: Some(child),
            data_dir: dir.to_path_buf(),
            _tmp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM, and the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        panic!("stint did not stop within 10 s of SIGTERM");
    }

    /// The `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.plain()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of the unlabelled metric `name`, if it has been recorded.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        self.metrics_text().await.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Waits until session `sid` shows at least `want` page views among its
    /// events (the writer is asynchronous; a store may be coming back), and
    /// returns how many it shows.
    pub async fn page_view_events(&self, sid: &str, want: usize) -> usize {
        let mut got = 0;
        for _ in 0..200 {
            let (status, body) = self.admin_get(&format!("/api/admin/sessions/{sid}/events")).await;
            if status == 200 {
                got = body["data"]["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["type"] == "page_view")
                    .count();
                if got >= want {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got
    }

    /// `n` visitors with a session each: their `Cookie` header and session id.
    pub async fn new_sessions(&self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let r = self
                .plain()
                .get(self.url("/api/storefront/session"))
                .send()
                .await
                .unwrap();
            let cookie = format!("session={}", cookie_value(r.headers(), "session").unwrap());
            let (_, body) = json(r).await;
            out.push((cookie, body["data"]["sessionId"].as_str().unwrap().to_owned()));
        }
        out
    }

    /// `kill -9`: no shutdown, no draining.
    pub fn crash(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Takes the data directory away from the server so it survives `stop`.
    pub fn keep_data(&mut self) -> tempfile::TempDir {
        self._tmp.take().unwrap()
    }

    /// A browser: keeps cookies, sends a desktop Chrome user agent.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(CHROME)
            .build()
            .unwrap()
    }

    /// A client without cookies.
    pub fn plain(&self) -> reqwest::Client {
        reqwest::Client::builder().user_agent(CHROME).build().unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let r = self
            .plain()
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn admin_delete(&self, path: &str) -> (u16, Value) {
        let r = self
            .plain()
            .delete(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Waits until the admin API shows `n` events for `session` (the writer
    /// is asynchronous), and returns them.
    pub async fn events(&self, session: &str, n: usize) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..100 {
            let (status, body) = self
                .admin_get(&format!("/api/admin/sessions/{session}/events"))
                .await;
            assert_eq!(status, 200, "{body}");
            last = body["data"]["events"].as_array().unwrap().clone();
            if last.len() >= n {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} events, found {}: {last:?}", last.len());
    }

    /// The types of the first `n` events of `session` (waiting for them).
    pub async fn event_kinds(&self, session: &str, n: usize) -> Vec<String> {
        self.events(session, n)
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The pages of the page views among the first `n` events of `session`.
    pub async fn event_pages(&self, session: &str, n: usize) -> Vec<String> {
        self.events(session, n)
            .await
            .iter()
            .filter_map(|e| e["page"].as_str().map(str::to_owned))
            .collect()
    }

    /// A session API call with `key`: its status and JSON answer.
    pub async fn service_call(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.plain().request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        json(r.send().await.unwrap()).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// With `STINT_TEST_HOT=redis` (or `redis-cluster`, or
/// `redis-cluster-tls`): the Redis server (or cluster) the test command
/// started, and a key prefix of this data directory's own, kept for restarts.
fn redis_for(dir: &Path) -> Option<(String, String)> {
    let var = match std::env::var("STINT_TEST_HOT").ok()?.as_str() {
        "redis" => "STINT_TEST_REDIS_URL",
        "redis-cluster" => "STINT_TEST_REDIS_CLUSTER",
        "redis-cluster-tls" => "STINT_TEST_REDIS_TLS_CLUSTER",
        "memory" => return None,
        other => panic!("STINT_TEST_HOT={other}: expected memory, redis, redis-cluster or redis-cluster-tls"),
    };
    let url = std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run scripts/test, which starts Redis"));
    Some((url, redis_prefix(dir)))
}

/// The Redis key prefix of the data directory `dir` (made on first use).
pub fn redis_prefix(dir: &Path) -> String {
    let marker = dir.join("redis-prefix");
    if let Ok(p) = std::fs::read_to_string(&marker) {
        return p;
    }
    let p = format!("e2e{}:", uuid::Uuid::new_v4().simple());
    std::fs::write(&marker, &p).unwrap();
    p
}

/// A redis-server of a test's own (to stop and start), on a free port, without persistence.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = RedisServer { port, child: None };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port (empty: it keeps nothing on disk).
    pub fn restart(&mut self) {
        let bin = std::env::var("STINT_TEST_REDIS_SERVER")
            .expect("STINT_TEST_REDIS_SERVER is not set: run scripts/test, which installs Redis");
        let child = Command::new(bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// With `STINT_TEST_BACKEND=postgres` (or `pgbouncer`: through PgBouncer in
/// transaction mode, over TLS): the URL of the PostgreSQL database of this
/// data directory, created on first use (so a restart finds it again).
fn postgres_database(dir: &Path) -> Option<String> {
    match std::env::var("STINT_TEST_BACKEND").ok().as_deref() {
        Some("postgres") => Some(create_postgres_database(dir)),
        Some("pgbouncer") => Some(database_of(dir, "STINT_TEST_PGBOUNCER_URL")),
        _ => None,
    }
}

/// A fresh PostgreSQL database for the data directory `dir` (the same one
/// again if `dir` already has one).
pub fn create_postgres_database(dir: &Path) -> String {
    database_of(dir, "STINT_TEST_POSTGRES_URL")
}

/// The database of `dir` on the test server, reached as `via` says; made
/// on first use.
fn database_of(dir: &Path, via: &str) -> String {
    let marker = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url;
    }
    let url = create_database_via("STINT_TEST_POSTGRES_URL", via);
    std::fs::write(&marker, &url).unwrap();
    url
}

/// A fresh database on the server whose admin URL `admin` (a variable)
/// holds, as `via` (another variable: the same server over TLS, or a pooler
/// in front of it) reaches it: its URL, with `via`'s parameters.
pub fn create_database_via(admin: &str, via: &str) -> String {
    let var = |v: &str| std::env::var(v).unwrap_or_else(|_| panic!("{v} is not set: run scripts/test"));
    let (admin_url, via_url) = (var(admin), var(via));
    let name = format!("stint_e2e_{}", uuid::Uuid::new_v4().simple());
    let sql = format!("CREATE DATABASE {name}");
    // The callers run inside a runtime; this runs on its own thread and runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
    })
    .join()
    .unwrap();
    let (base, query) = via_url
        .split_once('?')
        .map_or((via_url.as_str(), None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').unwrap();
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Stops (`stop`) or starts (`start`) the test PostgreSQL server.
pub fn pg_ctl(action: &str) {
    let ctl = std::env::var("STINT_TEST_PG_CTL").expect("STINT_TEST_PG_CTL is not set: run scripts/test");
    let data = std::env::var("STINT_TEST_PG_DATA").expect("STINT_TEST_PG_DATA is not set: run scripts/test");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &ctl]);
        c
    } else {
        Command::new(&ctl)
    };
    cmd.args(["-D", &data, "-w", "-t", "60"]);
    match action {
        "stop" => cmd.args(["stop", "-m", "fast"]),
        _ => cmd.args(["-l", &format!("{data}/../server.log"), "start"]),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "pg_ctl {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `Set-Cookie` header for `name`, if any.
pub fn set_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of the `name` cookie set by a response.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie(headers, name).map(|c| c[name.len() + 1..].split(';').next().unwrap().to_owned())
}

pub async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}
