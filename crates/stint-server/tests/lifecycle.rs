//! Start-up, shutdown and restart: sessions and history survive; bad
//! configuration stops start-up with one line naming the variable.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{SECRET, Server, cookie_value, json};

#[tokio::test]
async fn sessions_and_events_survive_a_restart() {
    let mut s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/products"))
        .send()
        .await
        .unwrap();
    let cookie = format!(
        "session={}; visitor_id={}",
        cookie_value(r.headers(), "session").unwrap(),
        cookie_value(r.headers(), "visitor_id").unwrap()
    );
    let c = s.plain();
    for _ in 0..4 {
        c.get(s.url("/api/storefront/products/p-3"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
    }
    let (_, before) = json(
        c.get(s.url("/api/storefront/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(before["data"]["pageViews"], 6);
    let r = c
        .post(s.url("/api/storefront/cart/items"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"productId": "p-4", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let dir = s.keep_data();
    let status = s.stop();
    assert!(status.success(), "SIGTERM ends stint cleanly: {status}");

    let s = Server::start_in(dir.path(), &[]);
    let c = s.plain();
    let r = c
        .get(s.url("/api/storefront/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, after) = json(r).await;
    assert_eq!(after["data"]["sessionId"], before["data"]["sessionId"]);
    assert_eq!(after["data"]["pageViews"], 7);
    let (_, cart) = json(
        c.get(s.url("/api/storefront/cart"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        cart["data"]["items"][0]["quantity"], 2,
        "session data survives too"
    );
    let sid = after["data"]["sessionId"].as_str().unwrap();
    // 1 start + 6 page views + 1 cart before; 2 page views after.
    let events = s.events(sid, 10).await;
    assert_eq!(events.len(), 10);
}

#[tokio::test]
async fn a_session_revoked_before_a_restart_stays_revoked() {
    let mut s = Server::start(&[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .send()
        .await
        .unwrap();
    let cookie = format!("session={}", cookie_value(r.headers(), "session").unwrap());
    let (_, body) = json(r).await;
    let sid = body["data"]["sessionId"].as_str().unwrap().to_owned();
    let (status, _) = s.admin_delete(&format!("/api/admin/sessions/{sid}")).await;
    assert_eq!(status, 200);
    let dir = s.keep_data();
    assert!(s.stop().success());
    let s = Server::start_in(dir.path(), &[]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, body) = json(r).await;
    assert_ne!(
        body["data"]["sessionId"],
        sid.as_str(),
        "the durable store does not bring it back"
    );
}

fn start_fails(env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stint"));
    cmd.env_clear().env("STINT_DATA_DIR", dir.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{env:?} should not start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let cases: [(&[(&str, &str)], &str); 9] = [
        (
            &[("STINT_REFERRER_SPAM", "/nonexistent/spammers.txt")],
            "STINT_REFERRER_SPAM",
        ),
        (&[("STINT_ENV", "staging")], "STINT_ENV"),
        (&[("STINT_GEOIP_DB", "/nonexistent/city.mmdb")], "STINT_GEOIP_DB"),
        (&[("STINT_ENV", "production")], "COOKIE_SECRET"),
        (&[("COOKIE_SECRET", "too-short")], "COOKIE_SECRET"),
        (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("REDIS_URL", "http://x")], "REDIS_URL"),
        (&[("SESSION_TTL", "soon")], "SESSION_TTL"),
        (
            &[("STINT_ENV", "production"), ("COOKIE_SECRET", SECRET)],
            "STINT_ADMIN_TOKEN",
        ),
    ];
    for (env, variable) in cases {
        let err = start_fails(env, &serve);
        assert!(err.contains(variable), "{env:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| !l.trim().is_empty()).count(),
            1,
            "one line: {err}"
        );
    }
}

#[test]
fn an_unreachable_database_says_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/stint");
    let err = start_fails(&[("DATABASE_URL", &url)], &["serve", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
}

/// Two processes with in-process tiers on one data directory would each
/// keep their own sessions: the second is refused, with one line saying why
/// and what to do.
#[test]
fn a_second_process_on_a_data_directory_without_redis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_stint"))
            .env_clear()
            .env("STINT_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = start();
    {
        use std::io::BufRead;
        let out = std::io::BufReader::new(first.stdout.take().unwrap());
        assert!(
            out.lines()
                .map_while(Result::ok)
                .any(|l| l.starts_with("stint listening on")),
            "the first one serves"
        );
    }
    let second = start().wait_with_output().unwrap();
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(err.contains("already served by another Stint process"), "{err}");
    assert!(err.contains("REDIS_URL"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stint"))
        .env_clear()
        .env("STINT_DATA_DIR", dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("stint.db").exists());
    // Twice is harmless.
    let again = Command::new(env!("CARGO_BIN_EXE_stint"))
        .env_clear()
        .env("STINT_DATA_DIR", dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[tokio::test]
async fn production_mode_marks_cookies_secure() {
    let s = Server::start(&[("STINT_ENV", "production")]);
    let r = s
        .plain()
        .get(s.url("/api/storefront/products"))
        .send()
        .await
        .unwrap();
    let session = common::set_cookie(r.headers(), "session").unwrap();
    let visitor = common::set_cookie(r.headers(), "visitor_id").unwrap();
    assert!(
        session.contains("Secure") && visitor.contains("Secure"),
        "{session} / {visitor}"
    );
}

#[test]
fn rollup_rolls_up_past_days_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stint"))
            .env_clear()
            .env("STINT_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["rollup", "--from", "2026-01-01", "--to", "2026-01-03"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dates: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-01-01", "2026-01-02", "2026-01-03"]);
    assert!(rows.as_array().unwrap().iter().all(|r| r["sessions"] == 0));
    assert!(run(&["rollup"]).status.success(), "yesterday by default");
    for bad in [
        &["rollup", "--from", "2026-02-30"][..],
        &["rollup", "--from", "2026-01-02", "--to", "2026-01-01"],
    ] {
        let out = run(bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--"), "{bad:?}");
    }
}

/// Redis is not needed at start-up: an unreachable `REDIS_URL` is one
/// warning, and the service starts on its local tier.
#[test]
fn an_unreachable_redis_at_start_up_is_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (listening, err) = serve_until_listening(&[
        ("STINT_DATA_DIR", dir.path().to_str().unwrap()),
        ("REDIS_URL", &format!("redis://127.0.0.1:{port}")),
        ("RUST_LOG", "warn"),
    ]);
    assert!(listening, "it starts all the same: {err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("REDIS_URL")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("WARN"), "{err}");
}

/// A data directory that does not exist yet is created, whichever of the
/// secrets the service generates into it (here the service key, with the
/// admin token given).
#[test]
fn a_missing_data_directory_is_created_for_the_secrets_kept_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("not/yet");
    let (listening, err) = serve_until_listening(&[
        ("STINT_DATA_DIR", data.to_str().unwrap()),
        ("STINT_ADMIN_TOKEN", "an-admin-token-of-some-length"),
    ]);
    assert!(listening, "{err}");
    assert!(data.join("service_key").exists());
}

/// Starts `stint serve` with only `env` (and `NO_COLOR`), waits until it
/// says it listens (or exits), stops it, and returns whether it listened
/// and what it wrote to stderr.
fn serve_until_listening(env: &[(&str, &str)]) -> (bool, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stint"))
        .env_clear()
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let listening = out
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("stint listening on"));
    let _ = child.kill();
    let err = child.wait_with_output().unwrap().stderr;
    (listening, String::from_utf8_lossy(&err).into_owned())
}
