//! `stint-bench`: how much a session layer costs, measured against the same
//! route without one, in the same run.
//!
//! `stint-bench run` starts each contender as a child process on loopback
//! (pinned to the second core where there are two, the load generator to the
//! first), drives it with a closed-loop load generator over keep-alive
//! connections, one cookie jar per simulated visitor, a desktop browser user
//! agent, and prints one table whose ratios compare each contender to the
//! baseline measured in the same run.

#![forbid(unsafe_code)]

mod analytics;
mod events;
mod load;
mod memory;
mod server;
mod soak;

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "stint-bench",
    about = "Benchmarks Stint against a route without a session layer"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs every contender and prints the table.
    Run(RunArgs),
    /// `run` in the open loop at half the baseline's capacity (unless
    /// `--open-loop` says otherwise): the latency a shop sees at a steady
    /// rate, queueing included, against the bare route's.
    OpenLoop(RunArgs),
    /// Drives a server that is already running (for profiling it).
    Drive {
        /// Its address.
        addr: std::net::SocketAddr,
        /// The workload.
        #[arg(long, value_enum, default_value = "returning")]
        workload: Workload,
        /// Seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Sustained events per second into SQLite and (given a URL) PostgreSQL.
    Events {
        /// A PostgreSQL database to measure too (it is written to).
        #[arg(long, env = "STINT_BENCH_POSTGRES_URL")]
        postgres: Option<String>,
        /// Page-view events to write.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Sessions they are spread over.
        #[arg(long, default_value_t = 1_000)]
        sessions: usize,
    },
    /// How long the analytics queries take over a large generated history.
    Analytics {
        /// A PostgreSQL database to measure too (it is written to).
        #[arg(long, env = "STINT_BENCH_POSTGRES_URL")]
        postgres: Option<String>,
        /// Events to generate.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Days they spread over (ending today).
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
    /// Times one analytics route in this process (used by `analytics`).
    #[command(hide = true)]
    AnalyticsRoute {
        /// The store.
        url: String,
        /// The route.
        route: String,
        /// First day, YYYY-MM-DD.
        from: String,
        /// Last day, YYYY-MM-DD.
        to: String,
    },
    /// Memory per live session in the in-process hot store: the session's
    /// own data, and what the store adds to hold it.
    Memory {
        /// Sessions to hold.
        #[arg(long, default_value_t = 200_000)]
        sessions: usize,
    },
    /// The real server under a steady open-loop load for a long time:
    /// memory, descriptors and the journal over time.
    Soak(soak::SoakArgs),
    /// Serves one contender (used by `run`).
    Server {
        /// Which.
        #[arg(value_enum)]
        contender: server::Contender,
    },
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Seconds of measurement per contender and workload.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Simulated visitors of the returning workload.
    #[arg(long, default_value_t = 256)]
    visitors: usize,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Contenders to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<server::Contender>,
    /// Workloads to run (default: both).
    #[arg(long, value_enum, value_delimiter = ',')]
    workloads: Vec<Workload>,
    /// Runs of the whole table. Each figure printed is the median over the
    /// runs, each ratio taken against the baseline of its own run first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Open loop at this fraction of the baseline's capacity: for each run
    /// and workload the baseline is first driven closed-loop, then every
    /// contender at `FRACTION` × its requests a second, each request's
    /// latency counted from when it was due (queueing included).
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    open_loop: Option<f64>,
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!(
            "{s:?}: a fraction of the baseline's capacity, above 0 and at most 1"
        )),
    }
}

/// What the simulated visitors do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Visitors whose first request creates the session, then keep coming back.
    Returning,
    /// No cookies: every request creates a session.
    New,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Server { contender } => server::serve(contender),
        Cmd::Soak(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(soak::run(&args))
        }
        Cmd::Analytics {
            postgres,
            events,
            days,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let dir = tempfile::tempdir()?;
            let mut targets = vec![(
                "sqlite",
                format!("sqlite://{}", dir.path().join("analytics.db").display()),
            )];
            if let Some(url) = postgres {
                targets.push(("postgres", url));
            }
            for (name, url) in targets {
                let o = rt.block_on(analytics::measure(&url, events, days))?;
                println!(
                    "\n{name}: {} events, {} sessions over {days} days; {} sessions in the 30 days queried; \
                     rolling up every past day took {:.1} s\n",
                    o.events,
                    o.sessions,
                    o.queried_sessions,
                    o.rollup.as_secs_f64()
                );
                println!(
                    "| route, last 30 days | raw (ms) | past days rolled up (ms) | ratio to raw | \
                     peak memory growth, raw (MB) | peak memory growth, rolled up (MB) |"
                );
                println!("|---|---|---|---|---|---|");
                for r in &o.routes {
                    println!(
                        "| {} | {:.1} | {:.1} | {:.3} | {:.1} | {:.1} |",
                        r.name,
                        r.raw.as_secs_f64() * 1000.0,
                        r.rolled_up.as_secs_f64() * 1000.0,
                        r.rolled_up.as_secs_f64() / r.raw.as_secs_f64().max(1e-9),
                        r.raw_peak_growth as f64 / 1_048_576.0,
                        r.peak_growth as f64 / 1_048_576.0
                    );
                }
            }
            Ok(())
        }
        Cmd::AnalyticsRoute { url, route, from, to } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(analytics::route(&url, &route, &from, &to))
        }
        Cmd::Events {
            postgres,
            events,
            sessions,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let dir = tempfile::tempdir()?;
            let sqlite = format!("sqlite://{}", dir.path().join("events.db").display());
            let mut targets = vec![("sqlite", sqlite)];
            if let Some(url) = postgres {
                targets.push(("postgres", url));
            }
            println!("| store | events | seconds | events/s |");
            println!("|---|---|---|---|");
            for (name, url) in targets {
                let out = rt.block_on(events::measure(&url, sessions, events))?;
                println!(
                    "| {name} | {} | {:.2} | {:.0} |",
                    out.events,
                    out.elapsed.as_secs_f64(),
                    out.per_second()
                );
            }
            Ok(())
        }
        Cmd::Memory { sessions } => {
            let o = memory::measure(sessions)?;
            println!(
                "| sessions | bytes/session in the store | of which the session's data | the store's own |"
            );
            println!("|---|---|---|---|");
            println!(
                "| {} | {:.0} | {:.0} | {:.0} |",
                o.sessions,
                o.stored,
                o.data,
                o.overhead()
            );
            Ok(())
        }
        Cmd::Drive {
            addr,
            workload,
            seconds,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let config = load::Config {
                addr,
                target: load::Target::Page,
                workload,
                visitors: 256,
                connections: 64,
                duration: Duration::from_secs(seconds),
                rate: None,
            };
            let out = rt.block_on(load::drive(&config))?;
            println!(
                "{:.0} req/s, p99 {:.3} ms, {} errors",
                out.rps(),
                out.quantile_ms(0.99),
                out.errors
            );
            Ok(())
        }
        Cmd::Run(args) => run_pinned(args),
        Cmd::OpenLoop(mut args) => {
            args.open_loop.get_or_insert(0.5);
            run_pinned(args)
        }
    }
}

/// `run`, from the load generator's own core (re-running this program
/// pinned there, with the same arguments, where there are two cores).
fn run_pinned(args: RunArgs) -> Result<()> {
    if let Some(mut cmd) = pin_self()? {
        let status = cmd.status().context("re-running pinned")?;
        std::process::exit(status.code().unwrap_or(1));
    }
    run(args)
}

fn two_cores() -> bool {
    // Once pinned to core 0, this process sees one core: the decision was
    // made before the re-run, and servers still go to core 1.
    if std::env::var_os("STINT_BENCH_PINNED").is_some() {
        return true;
    }
    std::thread::available_parallelism()
        .map(|n| n.get() >= 2)
        .unwrap_or(false)
        && Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Re-runs this command on core 0 (servers get core 1), once.
fn pin_self() -> Result<Option<Command>> {
    if std::env::var_os("STINT_BENCH_PINNED").is_some() || !two_cores() {
        return Ok(None);
    }
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new("taskset");
    cmd.arg("-c")
        .arg("0")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env("STINT_BENCH_PINNED", "1");
    Ok(Some(cmd))
}

fn run(args: RunArgs) -> Result<()> {
    let contenders = if args.only.is_empty() {
        server::Contender::value_variants().to_vec()
    } else {
        args.only.clone()
    };
    if contenders.first() != Some(&server::Contender::Baseline)
        && !contenders.contains(&server::Contender::Baseline)
    {
        bail!("the baseline must run: ratios are against it");
    }
    let workloads = if args.workloads.is_empty() {
        vec![Workload::Returning, Workload::New]
    } else {
        args.workloads.clone()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let tower_sessions = if contenders.iter().any(|c| c.is_tower_sessions()) {
        Some(server::build_tower_sessions()?)
    } else {
        None
    };
    let stint = if contenders.iter().any(|c| c.uses_stint_binary()) {
        Some(server::build_stint()?)
    } else {
        None
    };
    if contenders.iter().any(|c| c.uses_nginx()) && !std::path::Path::new("/usr/sbin/nginx").exists() {
        bail!("the nginx contenders need nginx: apt-get install nginx (scripts/bench does)");
    }
    let redis = if contenders.iter().any(|c| c.uses_redis()) {
        Some(server::Redis::start(two_cores())?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for (run, &workload) in (0..args.runs).flat_map(|run| workloads.iter().map(move |w| (run, w))) {
        let rate = match args.open_loop {
            None => None,
            Some(fraction) => {
                let baseline = server::spawn(server::Contender::Baseline, two_cores(), None, None)?;
                let config = load::Config {
                    addr: baseline.addr,
                    target: load::Target::Page,
                    workload,
                    visitors: args.visitors,
                    connections: args.connections,
                    duration: Duration::from_secs(args.seconds),
                    rate: None,
                };
                let capacity = rt.block_on(load::drive(&config))?.rps();
                baseline.stop();
                eprintln!(
                    "baseline capacity {capacity:.0} req/s ({}); open loop at {:.0} req/s",
                    workload_name(workload),
                    capacity * fraction
                );
                Some(capacity * fraction)
            }
        };
        for &contender in &contenders {
            let redis = redis.as_ref().filter(|_| contender.uses_redis());
            let before = match redis {
                Some(r) => {
                    r.flush()?;
                    Some(r.stats()?)
                }
                None => None,
            };
            let child = server::start(
                contender,
                two_cores(),
                redis,
                stint.as_deref(),
                tower_sessions.as_deref(),
            )?;
            let config = load::Config {
                addr: child.addr,
                target: contender.target(),
                workload,
                visitors: args.visitors,
                connections: args.connections,
                duration: Duration::from_secs(args.seconds),
                rate,
            };
            let cpu_before = child.cpu_time();
            let rss_before = child.rss();
            let result = rt.block_on(load::drive(&config))?;
            let cpu = child.cpu_time().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
            // Only the new visitors make enough sessions to drown the fixed
            // costs (Redis's scripts and shard sets, the server's buffers).
            let per_session = |bytes: u64| {
                (workload == Workload::New && result.requests > 0)
                    .then(|| bytes as f64 / result.requests as f64)
            };
            let rss = child
                .rss()
                .zip(rss_before)
                .and_then(|(a, b)| per_session(a.saturating_sub(b)));
            let after = redis.map(server::Redis::stats).transpose()?;
            child.stop();
            let at_redis = match (redis, before, after) {
                (Some(r), Some(before), Some(after)) => {
                    let requests = result.requests + sessions_setup(workload, &args);
                    // Stint's client counts its round trips. The others' are
                    // the commands Redis ran for them (one per round trip, as
                    // the store sends no pipelines or scripts), less the
                    // `INFO` that took the first reading.
                    let round_trips = if contender == server::Contender::StintRedis {
                        r.round_trips()?
                    } else {
                        after.commands.saturating_sub(before.commands + 1)
                    };
                    Some(AtRedis {
                        round_trips_per_request: round_trips as f64 / requests.max(1) as f64,
                        bytes_per_session: per_session(after.used_memory.saturating_sub(before.used_memory)),
                    })
                }
                _ => None,
            };
            eprintln!(
                "{:<40} {:<10} {:>10.0} req/s",
                contender.name(),
                workload_name(workload),
                result.rps()
            );
            rows.push(Row {
                run,
                rate,
                contender,
                workload,
                out: result,
                cpu,
                rss_per_session: rss,
                at_redis,
            });
        }
    }
    print_table(&rows);
    print_pairs(&rows);
    print_open_loop(&rows);
    Ok(())
}

/// In the open loop, each contender's latency against the baseline's at the
/// same arrival rate (medians over the runs, each ratio within its run).
fn print_open_loop(rows: &[Row]) {
    if rows.iter().all(|r| r.rate.is_none()) {
        return;
    }
    println!();
    println!(
        "| contender (open loop) | workload | due req/s | answered req/s | p50 ms | p99 ms | p99.9 ms | p99 / baseline's |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for first in rows.iter().filter(|r| r.run == 0) {
        let of = |f: &dyn Fn(&Row) -> Option<f64>| over_runs(rows, first, f);
        let p99 = |r: &Row| r.out.quantile_ms(0.99);
        let ratio = of(&|row| baseline_of(rows, row).map(|b| p99(row) / p99(b)));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            first.contender.name(),
            workload_name(first.workload),
            fmt(of(&|r| r.rate), 0),
            fmt(of(&|r| Some(r.out.rps())), 0),
            fmt(of(&|r| Some(r.out.quantile_ms(0.5))), 3),
            fmt(of(&|r| Some(p99(r))), 3),
            fmt(of(&|r| Some(r.out.quantile_ms(0.999))), 3),
            fmt(ratio, 2),
        );
    }
}

/// The ratios the session API and the gateway are judged by: each against
/// the contender it replaces, in the same run (medians over the runs).
fn print_pairs(rows: &[Row]) {
    use server::Contender::{
        Express, ExpressSession, ExpressStint, Nginx, NginxStint, StintApi, StintMemory,
    };
    let pairs = [
        (StintApi, StintMemory, "session API (resolve) / in-process layer"),
        (ExpressStint, Express, "Express + stint-express / Express alone"),
        (
            ExpressSession,
            Express,
            "Express + express-session + connect-redis / Express alone",
        ),
        (
            ExpressStint,
            ExpressSession,
            "Express + stint-express / Express + express-session + connect-redis",
        ),
        (
            NginxStint,
            Nginx,
            "nginx with Stint's gateway / the same nginx without it",
        ),
    ];
    let mut printed = false;
    for (subject, reference, what) in pairs {
        for workload in [Workload::Returning, Workload::New] {
            let ratios: Vec<f64> = rows
                .iter()
                .filter(|r| r.contender == subject && r.workload == workload)
                .filter_map(|r| same_run(rows, reference, r).map(|b| r.out.rps() / b.out.rps()))
                .collect();
            if let Some(ratio) = median(ratios) {
                if !printed {
                    println!();
                    println!("| pair | workload | req/s ratio |");
                    println!("|---|---|---|");
                    printed = true;
                }
                println!("| {what} | {} | {ratio:.3} |", workload_name(workload));
            }
        }
    }
}

/// What Redis measured of one run.
struct AtRedis {
    round_trips_per_request: f64,
    bytes_per_session: Option<f64>,
}

/// Requests the load generator sends before it measures (the returning
/// visitors' first visits), which Redis counts too.
fn sessions_setup(workload: Workload, args: &RunArgs) -> u64 {
    match workload {
        Workload::Returning => args.visitors as u64,
        Workload::New => 0,
    }
}

fn workload_name(w: Workload) -> &'static str {
    match w {
        Workload::Returning => "returning",
        Workload::New => "new",
    }
}

/// One contender under one workload, in one run.
struct Row {
    run: u32,
    /// Open loop: the rate the requests were due at.
    rate: Option<f64>,
    contender: server::Contender,
    workload: Workload,
    out: load::Outcome,
    cpu: Option<Duration>,
    /// Growth of the server's resident memory per session created (new visitors only).
    rss_per_session: Option<f64>,
    at_redis: Option<AtRedis>,
}

/// The median of what is there (`None` for nothing).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// A table cell: `v` with `digits` decimals, or a dash for nothing.
fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// The median of `f` over the runs of `first`'s contender and workload.
fn over_runs(rows: &[Row], first: &Row, f: &dyn Fn(&Row) -> Option<f64>) -> Option<f64> {
    median(
        rows.iter()
            .filter(|r| r.contender == first.contender && r.workload == first.workload)
            .filter_map(f)
            .collect(),
    )
}

/// The row of `contender` in `row`'s run and workload.
fn same_run<'a>(rows: &'a [Row], contender: server::Contender, row: &Row) -> Option<&'a Row> {
    rows.iter()
        .find(|b| b.contender == contender && b.workload == row.workload && b.run == row.run)
}

/// The baseline's row of `row`'s run and workload.
fn baseline_of<'a>(rows: &'a [Row], row: &Row) -> Option<&'a Row> {
    same_run(rows, server::Contender::Baseline, row)
}

fn print_table(rows: &[Row]) {
    let runs = rows.iter().map(|r| r.run + 1).max().unwrap_or(1);
    println!();
    if runs > 1 {
        println!("Medians of {runs} runs; each ratio is taken against its own run's baseline.");
        println!();
    }
    println!(
        "| contender | workload | req/s | ratio to baseline | p50 ms | p99 ms | p99.9 ms | errors | server CPU µs/req | server memory bytes/session | Redis round trips/req | Redis bytes/session |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for first in rows.iter().filter(|r| r.run == 0) {
        let of = |f: &dyn Fn(&Row) -> Option<f64>| over_runs(rows, first, f);
        let ratio = of(&|row| baseline_of(rows, row).map(|b| row.out.rps() / b.out.rps()));
        let cpu = of(&|row| {
            row.cpu
                .filter(|_| row.out.requests > 0)
                .map(|c| c.as_secs_f64() * 1e6 / row.out.requests as f64)
        });
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            first.contender.name(),
            workload_name(first.workload),
            fmt(of(&|r| Some(r.out.rps())), 0),
            fmt(ratio, 3),
            fmt(of(&|r| Some(r.out.quantile_ms(0.5))), 3),
            fmt(of(&|r| Some(r.out.quantile_ms(0.99))), 3),
            fmt(of(&|r| Some(r.out.quantile_ms(0.999))), 3),
            rows.iter()
                .filter(|r| r.contender == first.contender && r.workload == first.workload)
                .map(|r| r.out.errors)
                .sum::<u64>(),
            fmt(cpu, 1),
            fmt(of(&|r| r.rss_per_session), 0),
            fmt(of(&|r| r.at_redis.as_ref().map(|a| a.round_trips_per_request)), 2),
            fmt(of(&|r| r.at_redis.as_ref().and_then(|a| a.bytes_per_session)), 0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }
}
