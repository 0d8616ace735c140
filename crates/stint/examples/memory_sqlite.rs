//! The shortest Stint app: sessions in process, history in SQLite under
//! `./data`. Every page view is recorded, and sessions survive a restart.
//!
//! ```sh
//! cargo run -p stint --example memory_sqlite
//! curl -i localhost:3000/
//! ```

use axum::{Router, routing::get};
use stint::{Session, Stint};

async fn home(session: Session) -> String {
    format!(
        "page view {} of session {}\n",
        session.record().page_views,
        session.id()
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stint = Stint::builder().data_dir("data").build().await?;
    let app = Router::new().route("/", get(home)).layer(stint.layer());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    stint.serve(listener, app).await?;
    Ok(())
}
