//! `Stint::serve`: a handler that overruns the request timeout is answered
//! 503 while others are served; a shutdown lets the requests in flight
//! finish and drains what they recorded.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use stint::{ServeConfig, Session, Stint};
use stint_core::HistoryStore;

async fn slow(session: Session) -> String {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    session.id().to_string()
}

async fn fast(session: Session) -> String {
    session.id().to_string()
}

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

async fn start(config: ServeConfig) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let stint = Stint::builder()
        .data_dir(dir.path())
        .serve_config(config)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route("/slow", get(slow))
        .route("/fast", get(fast))
        .layer(stint.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(stint.serve_with_shutdown(listener, app, async {
        let _ = stopped.await;
    }));
    Running {
        base,
        stop,
        done,
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overrunning_handler_is_answered_503_and_others_are_served() {
    let s = start(ServeConfig::default().request_timeout(Duration::from_millis(300))).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let (slow, fast) = tokio::join!(
        client.get(format!("{}/slow", s.base)).send(),
        client.get(format!("{}/fast", s.base)).send(),
    );
    let slow = slow.unwrap();
    assert_eq!(slow.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(1_400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fast.unwrap().status(), 200);
    s.stop.send(()).unwrap();
    s.done.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_the_requests_in_flight_finish() {
    let s = start(ServeConfig::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/slow", s.base);
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.stop.send(()).unwrap();
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200, "finished, not cut off");
    let id: stint::SessionId = answer.text().await.unwrap().parse().unwrap();
    s.done.await.unwrap().unwrap();

    // Drained: the session and its page view are in the durable store.
    let store = stint::SqlStore::open(&s.dir.path().join("stint.db"))
        .await
        .unwrap();
    let events = store.events(&id).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "page_view"), "{events:?}");
}
