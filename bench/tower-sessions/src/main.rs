//! The tower-sessions contenders of `stint-bench run`.
//!
//! `stint-bench-tower-sessions memory` serves the benchmark's route behind
//! tower-sessions 0.15 with its `MemoryStore`; `stint-bench-tower-sessions
//! redis` behind tower-sessions 0.14 with tower-sessions-redis-store 0.16
//! (fred) on `STINT_BENCH_REDIS_URL`. Either way the handler counts a page
//! view in the session, the response body is the one the benchmark passes in
//! `STINT_BENCH_BODY`, and the process prints `listening ADDR` once it
//! listens, then serves until SIGINT.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

const PATH: &str = "/api/storefront/products";
const COUNTER: &str = "page_views";

/// A handler that reads the session's page-view counter, stores it plus one,
/// and answers with the body. The two tower-sessions releases have distinct
/// `Session` types, hence one handler per release, made alike.
macro_rules! counting_handler {
    ($name:ident, $session:ty) => {
        async fn $name(State(body): State<Bytes>, session: $session) -> Response {
            let seen: u64 = match session.get(COUNTER).await {
                Ok(n) => n.unwrap_or(0),
                Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            };
            if let Err(e) = session.insert(COUNTER, seen + 1).await {
                return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
            }
            ([(CONTENT_TYPE, "application/json")], body).into_response()
        }
    };
}

counting_handler!(products_15, tower_sessions_15::Session);
counting_handler!(products_14, tower_sessions_14::Session);

/// Sessions idle for 30 minutes expire, as Stint's do.
fn idle() -> time::Duration {
    time::Duration::minutes(30)
}

async fn memory(body: Bytes) -> Router {
    use tower_sessions_15::{Expiry, MemoryStore, SessionManagerLayer};
    let layer = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(idle()));
    Router::new()
        .route(PATH, get(products_15))
        .with_state(body)
        .layer(layer)
}

async fn redis(body: Bytes) -> Result<Router> {
    use tower_sessions_14::{Expiry, SessionManagerLayer};
    use tower_sessions_redis_store::RedisStore;
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    let url = std::env::var("STINT_BENCH_REDIS_URL").context("STINT_BENCH_REDIS_URL")?;
    // The pool size of the store's own example.
    let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
    pool.init().await.context("connecting to Redis")?;
    let layer = SessionManagerLayer::new(RedisStore::new(pool))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(idle()));
    Ok(Router::new()
        .route(PATH, get(products_14))
        .with_state(body)
        .layer(layer))
}

fn main() -> Result<()> {
    let which = std::env::args().nth(1).unwrap_or_default();
    let body = Bytes::from(std::env::var("STINT_BENCH_BODY").context("STINT_BENCH_BODY")?);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Pinned to one core, as `stint-bench` runs every contender.
    if std::env::var_os("STINT_BENCH_SERVER_PINNED").is_some() {
        builder.worker_threads(1);
    }
    builder.enable_all().build()?.block_on(async move {
        let app = match which.as_str() {
            "memory" => memory(body).await,
            "redis" => redis(body).await?,
            other => bail!("usage: stint-bench-tower-sessions memory|redis (not {other:?})"),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?);
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
