//! `stint`: the session layer as a service. See the README for the commands
//! and every setting.

#![forbid(unsafe_code)]

mod api;
mod app;
mod catalogue;
mod config;
mod export;
mod openapi;
mod passwords;
mod privacy;
mod routes;
mod shop;
mod state;
mod views;

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use metrics_exporter_prometheus::PrometheusBuilder;
use stint_core::{Clock, Engine, Person, SystemClock};
use stint_memory::MemoryStore;
use stint_sql::{SqlStore, Writer, WriterConfig};
use tokio::net::TcpListener;

use crate::config::{ServeArgs, Settings};
use crate::shop::{Customer, Shop};
use crate::state::AppState;

#[derive(Parser, Debug)]
#[command(
    name = "stint",
    version,
    about = "Session management and visitor-journey tracking for web backends"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Apply the durable store's migrations and exit.
    Migrate,
    /// Roll up the daily figures of past days (default: yesterday) and print them.
    Rollup {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
    },
    /// Print everything stored about one visitor or customer, as JSON (right of access).
    Export(PersonArgs),
    /// Delete every session and event of one visitor or customer (right to erasure).
    Erase(PersonArgs),
}

/// One person, by visitor id or by customer id.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct PersonArgs {
    /// A visitor id (the `visitor_id` cookie).
    #[arg(long)]
    visitor: Option<String>,
    /// A customer id.
    #[arg(long)]
    customer: Option<String>,
}

impl PersonArgs {
    fn person(&self) -> Result<Person> {
        match (&self.visitor, &self.customer) {
            (Some(v), _) => {
                Ok(Person::Visitor(v.parse().map_err(|_| {
                    anyhow::anyhow!("--visitor must be a visitor id (a UUID)")
                })?))
            }
            (None, Some(c)) if !c.is_empty() => Ok(Person::Customer(c.clone())),
            _ => anyhow::bail!("give --visitor ID or --customer ID"),
        }
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => exit_on_usage(e),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Help and version as clap prints them; a bad setting as one line naming
/// the variable (clap's own message names it by its value name), and exit 2.
fn exit_on_usage(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    eprintln!("{line}");
    std::process::exit(2);
}

async fn run(cli: Cli) -> Result<()> {
    let settings = cli.settings;
    settings.validate()?;
    match cli.command {
        Command::Serve(args) => serve(settings, args).await,
        Command::Rollup { from, to } => rollup(&settings, from.as_deref(), to.as_deref()).await,
        Command::Export(who) => offline(&settings, &who, false).await,
        Command::Erase(who) => offline(&settings, &who, true).await,
        Command::Migrate => {
            let store = open_store(&settings).await?;
            let shop = open_shop(&settings).await?;
            shop.close().await;
            store.close().await;
            println!("migrations applied to {}", settings.database_url());
            Ok(())
        }
    }
}

/// Opens the durable store named by the settings, applying its migrations.
async fn open_store(settings: &Settings) -> Result<SqlStore> {
    if settings.database_url.is_none() {
        settings.ensure_data_dir()?;
    }
    SqlStore::connect(&settings.database_url())
        .await
        .with_context(|| "DATABASE_URL: cannot open the durable store".to_string())
}

fn parse_day(name: &str, s: &str) -> Result<time::Date> {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, FORMAT).map_err(|_| anyhow::anyhow!("--{name} must be a date as YYYY-MM-DD"))
}

/// `rollup`, on the stores directly: past days only (today is live).
async fn rollup(settings: &Settings, from: Option<&str>, to: Option<&str>) -> Result<()> {
    let today = stint_core::analytics::day_of(SystemClock.now())
        .ok_or_else(|| anyhow::anyhow!("clock out of range"))?;
    let yesterday = today
        .previous_day()
        .ok_or_else(|| anyhow::anyhow!("clock out of range"))?;
    let to = to.map(|t| parse_day("to", t)).transpose()?.unwrap_or(yesterday);
    let from = from.map(|f| parse_day("from", f)).transpose()?.unwrap_or(to);
    if from > to {
        anyhow::bail!("--from must not be after --to");
    }
    let store = Arc::new(open_store(settings).await?);
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let engine = Engine::new(
        offline_hot(settings)?,
        store.clone(),
        Arc::new(writer),
        Arc::new(SystemClock),
        settings.policy(),
    );
    let rows = engine.rollup(from, to).await?;
    task.shutdown().await;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&rows)?);
    Ok(())
}

/// `export` and `erase`, on the stores directly. With the embedded default
/// the service must be stopped (it holds the in-process tier).
async fn offline(settings: &Settings, who: &PersonArgs, erase: bool) -> Result<()> {
    let who = who.person()?;
    let store = Arc::new(open_store(settings).await?);
    let (writer, task) = Writer::spawn(store.clone(), WriterConfig::default());
    let engine = Engine::new(
        offline_hot(settings)?,
        store.clone(),
        Arc::new(writer),
        Arc::new(SystemClock),
        settings.policy(),
    );
    let out = if erase {
        serde_json::json!({ "erased": privacy::erase(&engine, &who).await.map_err(|e| anyhow::anyhow!("{e}"))? })
    } else {
        let shop = open_shop(settings).await?;
        let doc = privacy::export(&engine, &shop, &who).await;
        shop.close().await;
        doc.map_err(|e| anyhow::anyhow!("{e}"))?
            .ok_or_else(|| anyhow::anyhow!("nothing is stored about this person"))?
    };
    task.shutdown().await;
    store.close().await;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The hot store of a command run beside the service: Redis when configured
/// (so that an erasure ends live sessions everywhere), else an empty
/// in-process one (the service, which holds the real one, is stopped).
fn offline_hot(settings: &Settings) -> Result<Arc<dyn stint_core::HotStore>> {
    Ok(match settings.redis()? {
        Some(redis) => Arc::new(redis),
        None => Arc::new(MemoryStore::new()),
    })
}

/// The demo customer of the contract exists from the start.
/// The demo shop's tables, in the durable store's database (migrated first).
async fn open_shop(settings: &Settings) -> Result<Shop> {
    Shop::open(&settings.database_url())
        .await
        .with_context(|| "DATABASE_URL: cannot open the demo shop's tables".to_string())
}

async fn seed_demo_customer(shop: &Shop, clock: &dyn Clock) -> Result<()> {
    const EMAIL: &str = "customer@example.com";
    if shop.customer_by_email(EMAIL).await?.is_some() {
        return Ok(());
    }
    let hash = passwords::hash("password123".to_owned())
        .await
        .map_err(|e| anyhow::anyhow!("hashing the demo password: {e}"))?;
    shop.insert_customer(&Customer {
        id: uuid::Uuid::now_v7().to_string(),
        email: EMAIL.to_owned(),
        name: "Demo Customer".to_owned(),
        password_hash: hash,
        created_at: clock.now(),
    })
    .await?;
    Ok(())
}

async fn serve(settings: Settings, args: ServeArgs) -> Result<()> {
    // A secret generated in development is kept in the data directory.
    if settings.admin_token.is_none() || settings.service_key.is_none() {
        settings.ensure_data_dir()?;
    }
    let admin_token = settings.admin_token()?;
    let service_keys = settings.service_keys()?;
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let stint = settings
        .builder()?
        .serve_config(args.serve_config())
        .build()
        .await?;
    let shop = open_shop(&settings).await?;
    seed_demo_customer(&shop, &SystemClock).await?;
    // Build the user-agent rules now rather than on the first request.
    let _ = stint_core::context::AgentParser::shared();

    let state = AppState {
        engine: stint.engine().clone(),
        store: stint.durable().clone(),
        shop: shop.clone(),
        writer: stint.writer().clone(),
        admin_token: admin_token.into(),
        service_keys: service_keys.into(),
        layer: stint.layer(),
        metrics,
        tier: stint.failover().cloned(),
        memory: stint.memory_tier().clone(),
    };
    let app = app::router(state, stint.layer());
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("STINT_LISTEN: cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("stint listening on http://{addr}");
    let served = stint.serve(listener, app).await;
    shop.close().await;
    served.context("server error")?;
    tracing::info!("stopped");
    Ok(())
}
