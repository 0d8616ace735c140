//! The contenders, each serving `GET /api/storefront/products` with the same
//! JSON body, and the child-process handling.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use bytes::Bytes;
use clap::ValueEnum;
use stint::Stint;

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Contender {
    /// The route with no session layer: the ceiling.
    Baseline,
    /// Stint, in-process hot store, SQLite cold store, every page view recorded.
    StintMemory,
    /// Stint, Redis hot store (a redis-server the benchmark starts, no
    /// persistence), SQLite cold store, every page view recorded.
    StintRedis,
    /// tower-sessions 0.15 with its `MemoryStore`, the handler counting page
    /// views in the session.
    TowerSessionsMemory,
    /// tower-sessions 0.14 with tower-sessions-redis-store 0.16 (fred) on the
    /// benchmark's redis-server, the handler counting page views in the session.
    TowerSessionsRedis,
    /// `stint serve` (in-process hot store, SQLite), asked by a shop's backend
    /// through the session API: each request is `POST /api/v1/sessions/resolve`
    /// with the visitor's cookies.
    StintApi,
    /// nginx in front of the baseline, as a reverse proxy.
    Nginx,
    /// The same nginx and baseline, each page asking `stint serve` through
    /// `auth_request` first, with `deploy/nginx/stint.conf`.
    NginxStint,
    /// The same route in Express (`bench/express`), no session middleware:
    /// the reference of the two below.
    Express,
    /// Express with the `stint-express` package (`clients/node`) asking
    /// `stint serve` (in-process hot store, SQLite) for each page: the
    /// session resumed and the page view recorded.
    ExpressStint,
    /// Express with `express-session` and `connect-redis` on the benchmark's
    /// redis-server, as our users' documents wire them, the handler counting
    /// page views in the session.
    ExpressSession,
}

impl Contender {
    /// The name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::StintMemory => "stint (memory)",
            Self::StintRedis => "stint (redis)",
            Self::TowerSessionsMemory => "tower-sessions 0.15 (memory)",
            Self::TowerSessionsRedis => "tower-sessions 0.14 + redis-store 0.16",
            Self::StintApi => "stint session API (resolve)",
            Self::Nginx => "nginx -> baseline",
            Self::NginxStint => "nginx + stint gateway -> baseline",
            Self::Express => "express",
            Self::ExpressStint => "express + stint-express",
            Self::ExpressSession => "express + express-session + connect-redis",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::StintMemory => "stint-memory",
            Self::StintRedis => "stint-redis",
            Self::TowerSessionsMemory => "memory",
            Self::TowerSessionsRedis => "redis",
            Self::StintApi => "stint-api",
            Self::Nginx | Self::NginxStint => "baseline",
            Self::Express => "plain",
            Self::ExpressStint => "stint",
            Self::ExpressSession => "session",
        }
    }

    /// Whether it keeps its sessions in the benchmark's redis-server.
    pub fn uses_redis(self) -> bool {
        matches!(
            self,
            Self::StintRedis | Self::TowerSessionsRedis | Self::ExpressSession
        )
    }

    /// Whether it is served by the tower-sessions program (`bench/tower-sessions`).
    pub fn is_tower_sessions(self) -> bool {
        matches!(self, Self::TowerSessionsMemory | Self::TowerSessionsRedis)
    }

    /// Whether it runs the `stint` binary (`stint serve`).
    pub fn uses_stint_binary(self) -> bool {
        matches!(self, Self::StintApi | Self::NginxStint | Self::ExpressStint)
    }

    /// Whether it is served by the Express program (`bench/express`).
    pub fn is_express(self) -> bool {
        matches!(self, Self::Express | Self::ExpressStint | Self::ExpressSession)
    }

    /// Whether it runs nginx.
    pub fn uses_nginx(self) -> bool {
        matches!(self, Self::Nginx | Self::NginxStint)
    }

    /// What the load generator asks it.
    pub fn target(self) -> crate::load::Target {
        match self {
            Self::StintApi => crate::load::Target::Resolve {
                key: SERVICE_KEY.to_owned(),
            },
            _ => crate::load::Target::Page,
        }
    }
}

/// The session API's key in the benchmark.
const SERVICE_KEY: &str = "bench-service-key-0123456789";

/// The `stint` binary of this workspace, built (release, into this
/// program's target directory) if it is not up to date.
pub fn build_stint() -> Result<std::path::PathBuf> {
    eprintln!("building the stint binary");
    let target_dir = cargo_build_release(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"),
        &["--locked", "-p", "stint-server"],
    )?;
    Ok(target_dir.join("release").join("stint"))
}

/// `cargo build --release` of `manifest` (with `args`) into this program's
/// target directory, which it returns.
fn cargo_build_release(manifest: &std::path::Path, args: &[&str]) -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().context("the benchmark's directory")?;
    let target_dir = profile_dir.parent().context("the target directory")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .context("running cargo")?;
    anyhow::ensure!(status.success(), "building {} failed", manifest.display());
    Ok(target_dir.to_owned())
}

/// Where a `stint serve` child listens, from the line it prints on its
/// standard output (piped); the rest of that output is read and dropped
/// from then on, so that the server never blocks on a full pipe.
pub fn stint_address(child: &mut Child) -> Result<SocketAddr> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("stint's stdout is not piped"))?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow!("stint exited before listening"))??;
        if let Some(a) = line.strip_prefix("stint listening on http://") {
            break a.trim().parse()?;
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(addr)
}

/// The tower-sessions program: a workspace of its own, so that its
/// dependencies are built when the benchmark runs rather than with the
/// project. Builds it (into this program's target directory) and returns
/// the executable.
pub fn build_tower_sessions() -> Result<std::path::PathBuf> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tower-sessions/Cargo.toml");
    eprintln!("building the tower-sessions contenders ({})", manifest.display());
    let target_dir = cargo_build_release(&manifest, &[])?;
    Ok(target_dir.join("release").join("stint-bench-tower-sessions"))
}

/// The body every contender answers with.
pub fn body() -> Bytes {
    let products: Vec<_> = [
        ("p-1", "Trail running shoes", 129.99),
        ("p-2", "Merino wool socks", 14.99),
        ("p-3", "Waterproof jacket", 189.5),
        ("p-4", "Insulated water bottle", 29.95),
        ("p-5", "Headlamp", 34.5),
        ("p-6", "Daypack, 24 litres", 79.0),
    ]
    .iter()
    .map(|(id, name, price)| serde_json::json!({ "id": id, "name": name, "price": price }))
    .collect();
    Bytes::from(serde_json::json!({ "success": true, "data": products }).to_string())
}

fn routes() -> Router {
    let body = body();
    Router::new().route(
        "/api/storefront/products",
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

/// Serves `contender` on a free loopback port; prints `listening ADDR`.
pub fn serve(contender: Contender) -> Result<()> {
    let pinned = std::env::var_os("STINT_BENCH_SERVER_PINNED").is_some();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if pinned {
        builder.worker_threads(1);
    }
    let rt = builder.enable_all().build()?;
    rt.block_on(async move {
        let dir = tempfile::tempdir()?;
        let mut stint = None;
        let app = match contender {
            Contender::Baseline => routes(),
            Contender::TowerSessionsMemory | Contender::TowerSessionsRedis => {
                anyhow::bail!("the tower-sessions contenders are served by bench/tower-sessions")
            }
            Contender::StintApi | Contender::Nginx | Contender::NginxStint => {
                anyhow::bail!("{} is several processes: `run` starts them", contender.name())
            }
            Contender::Express | Contender::ExpressStint | Contender::ExpressSession => {
                anyhow::bail!("the Express contenders are served by bench/express")
            }
            Contender::StintMemory | Contender::StintRedis => {
                // Wired as `stint serve` wires it, through the same builder:
                // every record journaled before it is queued; with Redis, the
                // failover tier in front of it.
                let mut builder = Stint::builder()
                    .data_dir(dir.path())
                    .cookie_secret("bench-secret-bench-secret-bench-secret")
                    .configure_layer(|c| c.with_create_limit_per_minute(0));
                if contender == Contender::StintRedis {
                    builder = builder
                        .redis_url(std::env::var("STINT_BENCH_REDIS_URL").context("STINT_BENCH_REDIS_URL")?);
                }
                let built = builder.build().await?;
                let app = routes().layer(built.layer());
                stint = Some(built);
                app
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening {}", listener.local_addr()?);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let Some(stint) = stint else {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown)
                .await?;
            return Ok(());
        };
        let redis_store = stint.failover().map(|f| f.primary().clone());
        stint.serve_with_shutdown(listener, app, shutdown).await?;
        // Round trips as the client counted them (Redis's own statistics
        // also count the commands a script runs).
        if let (Some(redis), Some(path)) = (redis_store, std::env::var_os("STINT_BENCH_REPORT")) {
            std::fs::write(path, redis.round_trips().to_string())?;
        }
        Ok(())
    })
}

/// A running contender.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    /// The processes behind the one the load generator talks to (nginx's
    /// upstream and Stint), stopped with it and counted in its CPU time.
    behind: Vec<Child>,
    _dir: Option<tempfile::TempDir>,
}

/// What Redis reports of itself.
#[derive(Clone, Copy, Debug)]
pub struct RedisStats {
    /// `used_memory`, bytes.
    pub used_memory: u64,
    /// `total_commands_processed`.
    pub commands: u64,
}

/// A redis-server of the benchmark's own: loopback, no persistence, on the
/// server's core when pinned.
pub struct Redis {
    /// Its URL.
    pub url: String,
    /// Where the server writes the round trips it made, when it stops.
    pub report: std::path::PathBuf,
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts one on a free port.
    pub fn start(pin: bool) -> Result<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "1", "redis-server"]);
            c
        } else {
            Command::new("redis-server")
        };
        let child = cmd
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("starting redis-server (install it: apt-get install redis-server)")?;
        let dir = tempfile::tempdir()?;
        let r = Redis {
            url: format!("redis://127.0.0.1:{port}"),
            report: dir.path().join("round-trips"),
            port,
            child,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(anyhow!("redis-server did not start"))
    }

    /// The round trips the last server reported when it stopped.
    pub fn round_trips(&self) -> Result<u64> {
        Ok(std::fs::read_to_string(&self.report)
            .context("the server's round-trip report")?
            .trim()
            .parse()?)
    }

    /// Its memory in use and the commands it has run so far, from one `INFO`
    /// (which itself counts as one command, after it answers).
    pub fn stats(&self) -> Result<RedisStats> {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "INFO", "all"])
            .output()
            .context("redis-cli")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| -> Result<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
                .ok_or_else(|| anyhow!("no {name} in INFO"))?
                .trim()
                .parse()
                .map_err(|e| anyhow!("{name}: {e}"))
        };
        Ok(RedisStats {
            used_memory: field("used_memory")?,
            commands: field("total_commands_processed")?,
        })
    }

    /// Empties it between runs.
    pub fn flush(&self) -> Result<()> {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "FLUSHALL"])
            .output()
            .context("redis-cli")?;
        Ok(())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `contender` as a child process, on core 1 when `pin`; the
/// tower-sessions contenders from `tower_sessions` (see [`build_tower_sessions`]).
pub fn spawn(
    contender: Contender,
    pin: bool,
    redis: Option<&Redis>,
    tower_sessions: Option<&std::path::Path>,
) -> Result<Running> {
    let exe = match tower_sessions {
        Some(path) if contender.is_tower_sessions() => path.to_owned(),
        _ if contender.is_tower_sessions() => anyhow::bail!("the tower-sessions program was not built"),
        _ => std::env::current_exe()?,
    };
    let mut cmd = pinned(&exe, pin);
    if pin {
        cmd.env("STINT_BENCH_SERVER_PINNED", "1");
    }
    if let Some(r) = redis {
        cmd.env("STINT_BENCH_REDIS_URL", &r.url)
            .env("STINT_BENCH_REPORT", &r.report);
    }
    if contender.is_tower_sessions() {
        cmd.arg(contender.arg()).env(
            "STINT_BENCH_BODY",
            std::str::from_utf8(&body()).context("the body")?,
        );
    } else {
        cmd.args(["server", contender.arg()]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting a contender")?;
    let addr = listening(&mut child)?;
    Ok(Running {
        addr,
        child,
        behind: Vec::new(),
        _dir: None,
    })
}

/// `taskset -c 1 PROGRAM` when `pin`, else `PROGRAM`.
fn pinned(program: &std::path::Path, pin: bool) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.arg("-c").arg("1").arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Where a contender listens, from the `listening ADDR` line it prints first.
fn listening(child: &mut Child) -> Result<SocketAddr> {
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| anyhow!("the contender said {line:?}"))
}

/// Starts `stint serve` on a free port, with the in-process hot store and
/// SQLite in `dir`, the session API's key, and no creation limit; on one
/// runtime thread when `pin` (as the in-process contenders).
fn spawn_stint(stint: &std::path::Path, pin: bool, dir: &std::path::Path) -> Result<(Child, SocketAddr)> {
    let mut cmd = pinned(stint, pin);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("STINT_DATA_DIR", dir)
        .env("COOKIE_SECRET", "bench-secret-bench-secret-bench-secret")
        .env("STINT_ADMIN_TOKEN", "bench-admin-token-0123456789")
        .env("STINT_SERVICE_KEY", SERVICE_KEY)
        .env("SESSION_CREATE_LIMIT", "0")
        .env("RUST_LOG", "warn");
    if pin {
        cmd.env("TOKIO_WORKER_THREADS", "1");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting stint serve")?;
    let addr = stint_address(&mut child)?;
    Ok((child, addr))
}

/// The Express program's folder, with its packages installed.
fn express_dir() -> Result<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("express");
    anyhow::ensure!(
        dir.join("node_modules/express").exists()
            && dir.join("node_modules/stint-express/dist/esm/index.js").exists(),
        "the Express contenders need Node.js, bench/express's packages and a built clients/node: \
         run scripts/bench, which installs them"
    );
    Ok(dir)
}

/// Starts `contender` in whichever way it is served: the workspace's program
/// (the baseline and the in-process layers), tower-sessions', the Express
/// program, or several processes (`stint serve`, nginx).
pub fn start(
    contender: Contender,
    pin: bool,
    redis: Option<&Redis>,
    stint: Option<&std::path::Path>,
    tower_sessions: Option<&std::path::Path>,
) -> Result<Running> {
    if contender.is_express() {
        spawn_express(contender, pin, redis, stint)
    } else if contender.uses_stint_binary() || contender.uses_nginx() {
        spawn_composite(contender, pin, stint)
    } else {
        spawn(contender, pin, redis, tower_sessions)
    }
}

/// Starts an Express contender (`node bench/express/app.mjs MODE`) on a free
/// port; for `stint-express`, `stint serve` behind it. Both on the server's
/// core when `pin`.
fn spawn_express(
    contender: Contender,
    pin: bool,
    redis: Option<&Redis>,
    stint: Option<&std::path::Path>,
) -> Result<Running> {
    let dir = express_dir()?;
    let data = tempfile::tempdir()?;
    let mut behind = Vec::new();
    let node = std::path::Path::new("node");
    let mut cmd = pinned(node, pin);
    cmd.arg(dir.join("app.mjs"))
        .arg(contender.arg())
        .current_dir(&dir)
        .env(
            "STINT_BENCH_BODY",
            std::str::from_utf8(&body()).context("the body")?,
        );
    if contender == Contender::ExpressStint {
        let stint = stint.context("the stint binary was not built")?;
        let (child, addr) = spawn_stint(stint, pin, data.path())?;
        behind.push(child);
        cmd.env("STINT_URL", format!("http://{addr}"))
            .env("STINT_SERVICE_KEY", SERVICE_KEY);
    }
    if contender == Contender::ExpressSession {
        cmd.env("REDIS_URL", &redis.context("the benchmark's redis-server")?.url);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting node (install Node.js: scripts/bench does)")?;
    let addr = listening(&mut child)?;
    Ok(Running {
        addr,
        child,
        behind,
        _dir: Some(data),
    })
}

/// Starts the contenders made of several processes: the session API
/// (`stint serve`), and nginx in front of the baseline, with or without
/// Stint's gateway. Everything on the server's core when `pin`.
fn spawn_composite(contender: Contender, pin: bool, stint: Option<&std::path::Path>) -> Result<Running> {
    let dir = tempfile::tempdir()?;
    if contender == Contender::StintApi {
        let stint = stint.context("the stint binary was not built")?;
        let (child, addr) = spawn_stint(stint, pin, dir.path())?;
        return Ok(Running {
            addr,
            child,
            behind: Vec::new(),
            _dir: Some(dir),
        });
    }
    let upstream = spawn(Contender::Baseline, pin, None, None)?;
    let mut behind = Vec::new();
    let stint_addr = if contender == Contender::NginxStint {
        let stint = stint.context("the stint binary was not built")?;
        let (child, addr) = spawn_stint(stint, pin, &dir.path().join("stint"))?;
        behind.push(child);
        Some(addr)
    } else {
        None
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let site = match stint_addr {
        // The shipped configuration, its addresses and key filled in.
        Some(stint_addr) => {
            let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/stint.conf");
            let mut conf =
                std::fs::read_to_string(&shipped).with_context(|| shipped.display().to_string())?;
            for (from, to) in [
                ("server 127.0.0.1:8080;", format!("server {stint_addr};")),
                ("server 127.0.0.1:3000;", format!("server {};", upstream.addr)),
                ("listen 80;", format!("listen 127.0.0.1:{port};")),
                ("Bearer CHANGE-ME", format!("Bearer {SERVICE_KEY}")),
            ] {
                anyhow::ensure!(conf.contains(from), "deploy/nginx/stint.conf has no {from:?}");
                conf = conf.replace(from, &to);
            }
            conf
        }
        // The same proxying, without the gateway.
        None => format!(
            "upstream app {{ server {}; keepalive 16; }}\n\
             server {{\n  listen 127.0.0.1:{port};\n  location / {{\n    proxy_set_header Host $host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\";\n    proxy_pass http://app;\n  }}\n}}\n",
            upstream.addr
        ),
    };
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("site.conf"), site)?;
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf;\n}}\n"
        ),
    )?;
    let nginx = std::path::Path::new("/usr/sbin/nginx");
    let child = pinned(nginx, pin)
        .args([
            "-p",
            &d,
            "-c",
            &format!("{d}/nginx.conf"),
            "-e",
            &format!("{d}/error.log"),
        ])
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting nginx (install it: apt-get install nginx)")?;
    let Running { child: up, .. } = upstream;
    behind.push(up);
    let running = Running {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        child,
        behind,
        _dir: Some(dir),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(running.addr).is_ok() {
            return Ok(running);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    running.stop();
    Err(anyhow!("nginx did not start"))
}

impl Running {
    /// User + system CPU time of the server so far (Linux), with the
    /// processes behind it.
    pub fn cpu_time(&self) -> Option<Duration> {
        std::iter::once(&self.child)
            .chain(&self.behind)
            .map(|c| cpu_time_of(c.id()))
            .sum()
    }

    /// Resident memory of the server (Linux), in bytes.
    pub fn rss(&self) -> Option<u64> {
        rss_of(&self.child.id().to_string())
    }

    /// Stops it (SIGINT: a clean shutdown) and waits.
    pub fn stop(self) {
        let Running { child, behind, .. } = self;
        for c in std::iter::once(child).chain(behind) {
            stop_process(c);
        }
    }
}

/// User + system CPU time of process `pid` so far (Linux).
fn cpu_time_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = clock_ticks()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / ticks as f64))
}

/// SIGINT (a clean shutdown), then SIGKILL after five seconds.
fn stop_process(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn clock_ticks() -> Option<u64> {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// Resident memory (Linux `VmRSS`), in bytes, of a process: a pid, or `self`.
pub fn rss_of(process: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}
