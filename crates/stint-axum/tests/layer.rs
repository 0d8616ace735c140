//! The layer in process, with a clock the tests move: cookie refresh, key
//! rotation, the login grace window, expiry, data saving.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, Response, StatusCode};
use stint_axum::{CookieKeys, CustomerSession, Session, SessionConfig, SessionLayer};
use stint_core::{Engine, ManualClock, Policy, Timestamp};
use stint_memory::MemoryStore;
use stint_sql::{SqlStore, Writer, WriterConfig};
use tower::ServiceExt;

const OLD: &str = "an-old-secret-of-at-least-32-bytes!!";
const NEW: &str = "the-new-secret-of-at-least-32-bytes!";

struct App {
    router: Router,
    clock: ManualClock,
}

async fn app(secrets: &str) -> App {
    let clock = ManualClock::new(Timestamp(1_795_000_000_000));
    let cold = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
    let (writer, _task) = Writer::spawn(cold.clone(), WriterConfig::default());
    let policy = Policy {
        idle_timeout: std::time::Duration::from_secs(600),
        max_age: std::time::Duration::from_secs(3600),
        rotation_grace: std::time::Duration::from_secs(10),
        active_window: std::time::Duration::from_secs(300),
    };
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        cold,
        Arc::new(writer),
        Arc::new(clock.clone()),
        policy,
    );
    let router = Router::new()
        .route(
            "/",
            get(|s: Session| async move { s.record().page_views.to_string() }),
        )
        .route("/id", get(|s: Session| async move { s.id().to_string() }))
        .route(
            "/login",
            post(|s: Session| async move {
                s.login("c-1").await.unwrap();
                "ok"
            }),
        )
        .route(
            "/limits",
            post(|s: Session| async move {
                let mut refused = Vec::new();
                for i in 0..65 {
                    if s.insert(&format!("k{i}"), i).is_err() {
                        refused.push(i);
                    }
                }
                let big = s.insert("k0", "x".repeat(20_000)).is_err();
                let modified = s
                    .modify("k1", |_: Option<String>| Ok("y".repeat(20_000)))
                    .await
                    .is_err();
                let kept = s.get::<u64>("k1").unwrap();
                format!("{refused:?} {big} {modified} {kept:?}")
            }),
        )
        .route(
            "/logout",
            post(|s: Session| async move {
                s.logout().await.unwrap();
                "bye"
            }),
        )
        .route(
            "/me",
            get(|c: CustomerSession| async move { c.customer_id.clone() }),
        )
        .route(
            "/note",
            post(|s: Session| async move {
                s.insert("note", "hello").unwrap();
                "saved"
            })
            .get(|s: Session| async move { s.get::<String>("note").unwrap().unwrap_or_default() }),
        )
        .layer(SessionLayer::new(
            engine,
            SessionConfig::new(CookieKeys::from_env_value(secrets).unwrap()),
        ));
    App { router, clock }
}

impl App {
    async fn call(&self, method: &str, path: &str, cookie: Option<&str>) -> Response<Body> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        self.router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }
}

fn session_cookie(r: &Response<Body>) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

async fn text(r: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn the_cookie_is_resent_once_half_its_max_age_has_passed() {
    let app = app(NEW).await;
    let first = app.call("GET", "/", None).await;
    let cookie = session_cookie(&first).unwrap();
    app.clock.advance_secs(299);
    let r = app.call("GET", "/", Some(&cookie)).await;
    assert_eq!(session_cookie(&r), None, "not re-sent before half of Max-Age");
    app.clock.advance_secs(2);
    let r = app.call("GET", "/", Some(&cookie)).await;
    let refreshed = session_cookie(&r).expect("re-sent after half of Max-Age");
    assert_ne!(refreshed, cookie, "a new issue time");
    assert_eq!(text(r).await, "3");
    // The refreshed cookie carries the same session and is not re-sent again at once.
    let r = app.call("GET", "/", Some(&refreshed)).await;
    assert_eq!(session_cookie(&r), None);
    assert_eq!(text(r).await, "4");
}

#[tokio::test]
async fn rotation_re_signs_on_the_next_response() {
    // One app whose key list is `NEW,OLD`; a cookie made with `OLD` alone but
    // for a session this app stores is produced by signing its token with OLD.
    let app = app(&format!("{NEW},{OLD}")).await;
    let cookie = session_cookie(&app.call("GET", "/", None).await).unwrap();
    let keys_new = CookieKeys::from_env_value(NEW).unwrap();
    let verified = keys_new
        .verify("session", cookie.strip_prefix("session=").unwrap())
        .unwrap();
    let old_signed =
        CookieKeys::from_env_value(OLD)
            .unwrap()
            .sign("session", &verified.token, verified.issued_at);
    let r = app.call("GET", "/", Some(&format!("session={old_signed}"))).await;
    let resigned = session_cookie(&r).expect("re-signed with the first key");
    assert_eq!(
        keys_new
            .verify("session", resigned.strip_prefix("session=").unwrap())
            .unwrap()
            .key_index,
        0
    );
    assert_eq!(text(r).await, "2", "same session");
}

#[tokio::test]
async fn the_pre_login_token_stops_working_after_the_grace_window() {
    let app = app(NEW).await;
    let old = session_cookie(&app.call("GET", "/", None).await).unwrap();
    let id = text(app.call("GET", "/id", Some(&old)).await).await;
    let r = app.call("POST", "/login", Some(&old)).await;
    let new = session_cookie(&r).unwrap();
    app.clock.advance_secs(5);
    let r = app.call("GET", "/id", Some(&old)).await;
    assert_eq!(session_cookie(&r), None, "never answered with the new token");
    assert_eq!(text(r).await, id, "same journey in the grace window");
    assert_eq!(
        app.call("GET", "/me", Some(&old)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.call("GET", "/me", Some(&new)).await.status(), StatusCode::OK);
    app.clock.advance_secs(5);
    let r = app.call("GET", "/id", Some(&old)).await;
    assert!(session_cookie(&r).is_some(), "after the window: a new session");
    assert_ne!(text(r).await, id);
    assert_eq!(text(app.call("GET", "/id", Some(&new)).await).await, id);
}

#[tokio::test]
async fn idle_and_absolute_expiry_start_a_new_session() {
    let app = app(NEW).await;
    let cookie = session_cookie(&app.call("GET", "/", None).await).unwrap();
    let id = text(app.call("GET", "/id", Some(&cookie)).await).await;
    app.clock.advance_secs(599);
    assert_eq!(text(app.call("GET", "/id", Some(&cookie)).await).await, id);
    app.clock.advance_secs(600);
    let r = app.call("GET", "/id", Some(&cookie)).await;
    assert_ne!(text(r).await, id, "idle past the timeout");

    let mut cookie = session_cookie(&app.call("GET", "/", None).await).unwrap();
    let id = text(app.call("GET", "/id", Some(&cookie)).await).await;
    for _ in 0..6 {
        app.clock.advance_secs(500);
        let r = app.call("GET", "/id", Some(&cookie)).await;
        if let Some(c) = session_cookie(&r) {
            cookie = c;
        }
        assert_eq!(text(r).await, id);
    }
    app.clock.advance_secs(600);
    assert_ne!(
        text(app.call("GET", "/id", Some(&cookie)).await).await,
        id,
        "past the absolute lifetime"
    );
}

#[tokio::test]
async fn data_inserted_by_a_handler_is_saved_after_it() {
    let app = app(NEW).await;
    let cookie = session_cookie(&app.call("POST", "/note", None).await).unwrap();
    assert_eq!(text(app.call("GET", "/note", Some(&cookie)).await).await, "hello");
}

#[tokio::test]
async fn a_pre_login_token_cannot_sign_the_customer_out() {
    let app = app(NEW).await;
    let old = session_cookie(&app.call("GET", "/", None).await).unwrap();
    let new = session_cookie(&app.call("POST", "/login", Some(&old)).await).unwrap();
    let r = app.call("POST", "/logout", Some(&old)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        session_cookie(&r).unwrap().ends_with("session="),
        "the old cookie is cleared"
    );
    assert_eq!(
        app.call("GET", "/me", Some(&new)).await.status(),
        StatusCode::OK,
        "the customer stays signed in"
    );
    app.call("POST", "/logout", Some(&new)).await;
    assert_eq!(
        app.call("GET", "/me", Some(&new)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn session_data_is_bounded_in_keys_and_value_size() {
    let app = app(NEW).await;
    let r = app.call("POST", "/limits", None).await;
    assert_eq!(text(r).await, "[64] true true Some(1)");
}
