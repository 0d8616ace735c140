//! Several instances behind a load balancer: live sessions in Redis, history
//! in PostgreSQL. A session created through one instance resumes through
//! any other; while Redis is down, each instance serves from a local tier
//! read through from PostgreSQL, and hands the sessions back when Redis
//! returns.
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/stint \
//! COOKIE_SECRET=a-secret-of-at-least-thirty-two-bytes PORT=3000 \
//!     cargo run -p stint --example redis_postgres
//! ```

use std::time::Duration;

use axum::{Router, routing::get};
use stint::{JobsConfig, Session, Stint};

async fn home(session: Session) -> String {
    format!(
        "page view {} of session {}\n",
        session.record().page_views,
        session.id()
    )
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let stint = Stint::builder()
        .redis_url(env("REDIS_URL")?)
        // Services sharing one Redis each take a prefix of their own.
        .redis_prefix(env("STINT_REDIS_PREFIX").unwrap_or_else(|_| "stint:".into()))
        .database_url(env("DATABASE_URL")?)
        // Every instance signs with the same keys (comma-separated: rotation).
        .cookie_secret(&env("COOKIE_SECRET")?)
        .idle_timeout(Duration::from_secs(30 * 60))
        // Close expired sessions, roll up past days; one instance at a time.
        .jobs(JobsConfig::default())
        .build()
        .await?;
    let app = Router::new().route("/", get(home)).layer(stint.layer());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    stint.serve(listener, app).await?;
    Ok(())
}
