//! Each program in `examples/`, built by `cargo test`, run as a user would
//! run it and asked real requests: `GET /` answers 200 with the session
//! cookie, the journey works, and a `SIGTERM` loses no record.
//!
//! The Redis and PostgreSQL example needs the servers `scripts/test` starts
//! (`STINT_TEST_REDIS_URL`, `STINT_TEST_POSTGRES_URL`); without them it
//! fails rather than skips.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use stint_core::{HistoryStore, SessionId};

/// A running example, in a directory of its own (its `./data`).
struct Example {
    child: Child,
    addr: SocketAddr,
    /// Taken back by [`Example::stop`], to start again on the same data.
    dir: Option<tempfile::TempDir>,
}

impl Example {
    fn start(name: &str, env: &[(&str, &str)]) -> Example {
        Self::start_in(name, tempfile::tempdir().unwrap(), env)
    }

    fn start_in(name: &str, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Example {
        // target/debug/deps/<test> -> target/debug/examples/<name>
        let exe = std::env::current_exe().unwrap();
        let path: PathBuf = exe
            .parent()
            .and_then(|deps| deps.parent())
            .unwrap()
            .join("examples")
            .join(name);
        assert!(path.exists(), "{} is not built", path.display());
        let mut child = Command::new(&path)
            .current_dir(dir.path())
            .env("PORT", "0")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} did not start listening"));
        Example {
            child,
            addr,
            dir: Some(dir),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.as_ref().unwrap().path()
    }

    /// SIGTERM; the exit status and the directory it ran in.
    fn stop(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        (self.child.wait().unwrap(), self.dir.take().unwrap())
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
        .build()
        .unwrap()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// `GET /` answers 200 with both cookies, and the session id it names.
async fn first_visit(b: &reqwest::Client, e: &Example) -> String {
    let r = b.get(e.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookies = set_cookies(&r);
    assert!(cookies.iter().any(|c| c.starts_with("session=")), "{cookies:?}");
    assert!(
        cookies.iter().any(|c| c.starts_with("visitor_id=")),
        "{cookies:?}"
    );
    let body = r.text().await.unwrap();
    assert!(body.starts_with("page view 1 of session "), "{body}");
    body.trim().rsplit(' ').next().unwrap().to_owned()
}

#[tokio::test]
async fn memory_sqlite_records_every_page_view_and_drains_at_sigterm() {
    let e = Example::start("memory_sqlite", &[]);
    let b = browser();
    let id = first_visit(&b, &e).await;
    for n in 2..=3 {
        let body = b.get(e.url("/")).send().await.unwrap().text().await.unwrap();
        assert_eq!(body.trim(), format!("page view {n} of session {id}"));
    }
    let (status, dir) = e.stop();
    assert!(status.success());

    // Everything reached the durable store: the session and its three page views.
    let store = stint::SqlStore::open(&dir.path().join("data/stint.db"))
        .await
        .unwrap();
    let id: SessionId = id.parse().unwrap();
    let session = store
        .session(&id)
        .await
        .unwrap()
        .expect("the session was written");
    assert_eq!(session.page_views, 3);
    let views = store
        .events(&id)
        .await
        .unwrap()
        .iter()
        .filter(|ev| ev.kind == "page_view")
        .count();
    assert_eq!(views, 3);
    store.close().await;

    // A restart on the same data directory finds the session from the same cookie.
    let e = Example::start_in("memory_sqlite", dir, &[]);
    let body = b.get(e.url("/")).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.trim(), format!("page view 4 of session {id}"));
}

#[tokio::test]
async fn a_second_process_on_the_same_data_directory_is_refused() {
    let first = Example::start("memory_sqlite", &[]);
    let path = std::env::current_exe().unwrap();
    let exe = path
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/memory_sqlite");
    let out = Command::new(exe)
        .current_dir(first.dir())
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already served by another Stint process"), "{err}");
    assert!(err.contains(&format!("pid {}", first.child.id())), "{err}");
}

#[tokio::test]
async fn shop_keeps_the_cart_logs_in_and_converts() {
    let e = Example::start("shop", &[]);
    let b = browser();
    let r = b.get(e.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookies(&r).iter().any(|c| c.starts_with("session=")));
    let home: Value = r.json().await.unwrap();
    let id = home["sessionId"].as_str().unwrap().to_owned();

    // Ten items added in parallel: none lost.
    let adds = (0..10).map(|i| {
        b.post(e.url("/cart"))
            .json(&serde_json::json!({ "productId": format!("p-{i}"), "quantity": 1 }))
            .send()
    });
    for r in futures_util::future::join_all(adds).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }

    // Anonymous: the customer-only route refuses with 401, as plain text.
    let r = b.get(e.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.text().await.unwrap(), "Authentication required");

    let r = b
        .post(e.url("/login"))
        .json(&serde_json::json!({ "customerId": "c-42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookies(&r).iter().any(|c| c.starts_with("session=")),
        "login sends a fresh token"
    );
    let login: Value = r.json().await.unwrap();
    assert_eq!(login["sessionId"], id.as_str(), "same session id after login");

    let r = b.post(e.url("/orders")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["total"], 195.0, "ten items at 19.50");

    let r = b.get(e.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap().trim(), "hello, customer c-42");

    // Bad input: a malformed body is refused by axum's own rejection.
    let r = b
        .post(e.url("/cart"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn analytics_reads_todays_figures_from_the_library() {
    let e = Example::start("analytics", &[]);
    let b = browser();
    first_visit(&b, &e).await;
    let r = b.get(e.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stats: Value = b.get(e.url("/stats")).send().await.unwrap().json().await.unwrap();
    let today = &stats["today"][0];
    assert_eq!(today["sessions"], 1, "{stats}");
    assert_eq!(today["visitors"], 1, "{stats}");
    assert_eq!(today["pageViews"], 2, "{stats}");
    assert_eq!(stats["realtime"]["activeSessions"], 1, "{stats}");
}

#[tokio::test]
async fn redis_postgres_shares_sessions_between_instances() {
    let redis = std::env::var("STINT_TEST_REDIS_URL")
        .expect("STINT_TEST_REDIS_URL is not set: run scripts/test, which starts Redis");
    let admin = std::env::var("STINT_TEST_POSTGRES_URL")
        .expect("STINT_TEST_POSTGRES_URL is not set: run scripts/test, which starts PostgreSQL");
    let name = format!("stint_example_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let database = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let prefix = format!("example{}:", uuid::Uuid::new_v4().simple());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("DATABASE_URL", database.as_str()),
        ("COOKIE_SECRET", "an example secret of at least thirty-two bytes"),
        ("STINT_REDIS_PREFIX", prefix.as_str()),
    ];
    let one = Example::start("redis_postgres", &env);
    let two = Example::start("redis_postgres", &env);
    let b = browser();
    let id = first_visit(&b, &one).await;
    let body = b.get(two.url("/")).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        body.trim(),
        format!("page view 2 of session {id}"),
        "the other instance resumes the session"
    );
}
