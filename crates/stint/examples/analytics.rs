//! Reading the analytics from the library: today's figures (visitors,
//! sessions, page views, bounce rate, conversions, revenue) and the visitors
//! active in the last five minutes, straight from the engine.
//!
//! ```sh
//! cargo run -p stint --example analytics
//! curl localhost:3000/ ; curl localhost:3000/ ; curl localhost:3000/stats
//! ```

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use stint::crates::core::analytics;
use stint::{Engine, Session, SessionError, Stint};

async fn home(session: Session) -> String {
    format!(
        "page view {} of session {}\n",
        session.record().page_views,
        session.id()
    )
}

async fn stats(State(engine): State<Engine>) -> Result<Json<Value>, SessionError> {
    let Some(today) = analytics::day_of(engine.now()) else {
        return Ok(Json(json!({ "error": "the clock is out of range" })));
    };
    // Today is computed live, with every request already answered.
    let daily = engine.daily(today, today).await?;
    let realtime = engine.realtime().await?;
    Ok(Json(json!({ "today": daily, "realtime": realtime })))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stint = Stint::builder().data_dir("data").build().await?;
    let app = Router::new()
        .route("/", get(home).layer(stint.layer()))
        .route("/stats", get(stats))
        .with_state(stint.engine().clone());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    stint.serve(listener, app).await?;
    Ok(())
}
