//! The gateway behind a real nginx, with the configuration shipped in
//! `deploy/nginx/stint.conf`: browser (a test client) → nginx → Stint for
//! each page's session → an upstream that echoes the headers it got. The
//! test command installs nginx (`STINT_TEST_NGINX`); this test starts its own
//! on a free port, with the shipped file's addresses and key filled in.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use common::{CHROME, Server};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};

const KEY: &str = "nginx-test-service-key-012345";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An upstream application that answers every request with the path and
/// the headers it received.
async fn echo_upstream() -> String {
    async fn echo(uri: axum::http::Uri, headers: HeaderMap) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        axum::Json(json!({ "path": uri.to_string(), "headers": headers }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, Router::new().fallback(echo)).await.unwrap();
    });
    addr.to_string()
}

/// nginx with the shipped configuration, killed when dropped.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(stint: &str, app: &str) -> Nginx {
        let bin = std::env::var("STINT_TEST_NGINX")
            .expect("STINT_TEST_NGINX is not set: run scripts/test, which installs nginx");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/stint.conf");
        let mut conf = std::fs::read_to_string(&shipped).unwrap();
        let port = free_port();
        for (from, to) in [
            ("server 127.0.0.1:8080;", format!("server {stint};")),
            ("server 127.0.0.1:3000;", format!("server {app};")),
            ("listen 80;", format!("listen 127.0.0.1:{port};")),
            ("Bearer CHANGE-ME", format!("Bearer {KEY}")),
        ] {
            assert!(
                conf.contains(from),
                "deploy/nginx/stint.conf no longer has {from:?}"
            );
            conf = conf.replace(from, &to);
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        std::fs::write(dir.path().join("stint.conf"), conf).unwrap();
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            let p: PathBuf = dir.path().join(temp);
            std::fs::create_dir(&p).unwrap();
        }
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 include {d}/stint.conf;\n}}\n"
            ),
        )
        .unwrap();
        let mut child = Command::new(bin)
            .args([
                "-p",
                &d.to_string(),
                "-c",
                &format!("{d}/nginx.conf"),
                "-e",
                &format!("{d}/error.log"),
            ])
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        panic!(
            "nginx did not listen on {port}: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    /// `SIGTERM`: the master stops its workers (a `SIGKILL` would leave
    /// them running, listening on the port).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A page through nginx: its status, `Set-Cookie` headers, and what the
/// upstream received.
async fn page(browser: &reqwest::Client, url: &str) -> (u16, Vec<String>, Value) {
    let r = browser.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (status, cookies, r.json().await.unwrap())
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name].as_str()
}

#[tokio::test]
async fn pages_through_nginx_carry_the_session_and_survive_stints_absence() {
    let mut s = Server::start(&[("STINT_SERVICE_KEY", KEY)]);
    let app = echo_upstream().await;
    let nginx = Nginx::start(s.base.trim_start_matches("http://"), &app);
    let jar = Arc::new(Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .user_agent(CHROME)
        .build()
        .unwrap();

    // First page: a session, both cookies as two whole headers, the identity upstream.
    let (status, cookies, first) = page(&browser, &nginx.url("/shoes?utm_source=nginx")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("session=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("visitor_id=")),
        "{cookies:?}"
    );
    assert_eq!(first["path"], "/shoes?utm_source=nginx");
    let sid = header(&first, "x-stint-session-id")
        .expect("the session id upstream")
        .to_owned();
    assert_eq!(header(&first, "x-stint-session-type"), Some("ANONYMOUS"));
    assert_eq!(header(&first, "x-stint-customer-id"), None, "empty: not sent");
    assert!(header(&first, "x-stint-visitor-id").is_some());

    // The session resumes; no cookie again; a browser cannot claim an identity.
    let r = browser
        .get(nginx.url("/shoes/p-1"))
        .header("x-stint-customer-id", "someone-else")
        .header("x-stint-session-type", "CUSTOMER")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    let second: Value = r.json().await.unwrap();
    assert_eq!(header(&second, "x-stint-session-id"), Some(sid.as_str()));
    assert_eq!(header(&second, "x-stint-customer-id"), None, "{second}");
    assert_eq!(header(&second, "x-stint-session-type"), Some("ANONYMOUS"));

    // One page view per page.
    let (_, session) = s
        .service_call(
            KEY,
            reqwest::Method::GET,
            &format!("/api/v1/sessions/{sid}"),
            None,
        )
        .await;
    assert_eq!(session["data"]["pageViews"], 2, "{session}");
    assert_eq!(session["data"]["utmSource"], "nginx");
    assert_eq!(session["data"]["ipAddress"], "127.0.0.0");

    // The application signs the customer in through the session API and
    // hands the browser the new cookie: the next page is the customer's.
    let (status, login) = s
        .service_call(
            KEY,
            reqwest::Method::POST,
            &format!("/api/v1/sessions/{sid}/login"),
            Some(json!({"customerId": "c-77"})),
        )
        .await;
    assert_eq!(status, 200, "{login}");
    let url: reqwest::Url = nginx.url("/").parse().unwrap();
    for c in login["data"]["setCookie"].as_array().unwrap() {
        jar.add_cookie_str(c.as_str().unwrap(), &url);
    }
    assert!(jar.cookies(&url).is_some());
    let (_, _, third) = page(&browser, &nginx.url("/account")).await;
    assert_eq!(header(&third, "x-stint-session-id"), Some(sid.as_str()));
    assert_eq!(header(&third, "x-stint-session-type"), Some("CUSTOMER"));
    assert_eq!(header(&third, "x-stint-customer-id"), Some("c-77"));
    let pages = s.event_pages(&sid, 5).await;
    assert_eq!(pages, ["/shoes", "/shoes/p-1", "/account"]);

    // Stint stopped: the page is served all the same, without a session.
    s.stop();
    let (status, cookies, without) = page(&browser, &nginx.url("/shoes")).await;
    assert_eq!(status, 200, "{without}");
    assert!(cookies.is_empty());
    assert_eq!(header(&without, "x-stint-session-id"), None, "{without}");
    assert_eq!(header(&without, "x-stint-customer-id"), None);
}
