//! Configuration: flags and environment variables, checked once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::time::Duration;

use stint::{JobsConfig, Stint, StintBuilder};
use stint_axum::CookieKeys;
use stint_core::Policy;

/// `development` or `production`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Generated secrets, plain cookies.
    Development,
    /// `Secure` cookies, secrets required, no memory-only store.
    Production,
}

/// The settings every command shares (see the README's table).
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Where the embedded database and generated secrets live.
    #[arg(
        long,
        env = "STINT_DATA_DIR",
        value_name = "STINT_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// `development` or `production`.
    #[arg(
        long = "env",
        env = "STINT_ENV",
        value_name = "STINT_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub mode: Mode,

    /// Cookie signing keys, comma-separated, the signing one first (32+ bytes each).
    #[arg(
        long,
        env = "COOKIE_SECRET",
        value_name = "COOKIE_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub cookie_secret: Option<String>,

    /// Idle timeout of a session, seconds.
    #[arg(long, env = "SESSION_TTL", value_name = "SESSION_TTL", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub session_ttl: u64,

    /// Absolute lifetime of a session, seconds.
    #[arg(long, env = "SESSION_MAX_AGE", value_name = "SESSION_MAX_AGE", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub session_max_age: u64,

    /// Lifetime of the visitor cookie, seconds.
    #[arg(long, env = "VISITOR_TTL", value_name = "VISITOR_TTL", default_value_t = 31_536_000, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub visitor_ttl: u64,

    /// The durable store: `sqlite://PATH` or `postgres://…` (default: `stint.db` in the data directory).
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// The shared hot store: `redis://…` (`rediss://…` over TLS), or a
    /// comma-separated list of the nodes of a Redis Cluster (default: the
    /// in-process tier).
    #[arg(long, env = "REDIS_URL", value_name = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,

    /// A PEM file of the certificate authorities a `rediss://` server's
    /// certificate must chain to, in place of the system's roots.
    #[arg(long, env = "STINT_REDIS_CA", value_name = "STINT_REDIS_CA", global = true)]
    pub redis_ca: Option<PathBuf>,

    /// Put in front of every Redis key (so that services can share a Redis).
    #[arg(
        long,
        env = "STINT_REDIS_PREFIX",
        value_name = "STINT_REDIS_PREFIX",
        default_value = "stint:",
        global = true
    )]
    pub redis_prefix: String,

    /// Bearer token of the admin API and the dashboard.
    #[arg(
        long,
        env = "STINT_ADMIN_TOKEN",
        value_name = "STINT_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,

    /// Keys of the session API and the gateway (`/api/v1/*`), comma-separated:
    /// any of them is accepted (rotation).
    #[arg(
        long,
        env = "STINT_SERVICE_KEY",
        value_name = "STINT_SERVICE_KEY",
        hide_env_values = true,
        global = true
    )]
    pub service_key: Option<String>,

    /// Take the client address from `X-Forwarded-For` / `X-Real-IP`.
    #[arg(long, env = "TRUST_PROXY", value_name = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set, value_parser = parse_bool, global = true)]
    pub trust_proxy: bool,

    /// New sessions stored per client address per minute; 0 = no limit.
    #[arg(
        long,
        env = "SESSION_CREATE_LIMIT",
        value_name = "SESSION_CREATE_LIMIT",
        default_value_t = 600,
        global = true
    )]
    pub session_create_limit: u32,

    /// Run the background jobs (close expired sessions) in this process.
    #[arg(long, env = "ENABLE_CRON", value_name = "ENABLE_CRON", default_value_t = true, action = clap::ArgAction::Set, value_parser = parse_bool, global = true)]
    pub enable_cron: bool,

    /// Honour `DNT: 1` and `Sec-GPC: 1`: sessions work, but no analytics of them is stored.
    #[arg(long, env = "STINT_HONOR_DNT", value_name = "STINT_HONOR_DNT", default_value_t = true, action = clap::ArgAction::Set, value_parser = parse_bool, global = true)]
    pub honor_dnt: bool,

    /// A MaxMind-format GeoIP database (GeoLite2 or DB-IP, City or Country):
    /// new sessions get their country and city from it.
    #[arg(long, env = "STINT_GEOIP_DB", value_name = "STINT_GEOIP_DB", global = true)]
    pub geoip_db: Option<PathBuf>,

    /// A referrer-spam list replacing the built-in one (Matomo's
    /// `spammers.txt` format: one host per line).
    #[arg(
        long,
        env = "STINT_REFERRER_SPAM",
        value_name = "STINT_REFERRER_SPAM",
        global = true
    )]
    pub referrer_spam: Option<PathBuf>,

    /// Live sessions the in-process tier holds at most (with Redis: the local tier while Redis is down).
    #[arg(long, env = "STINT_HOT_CAPACITY", value_name = "STINT_HOT_CAPACITY", default_value_t = stint::DEFAULT_HOT_CAPACITY as u64, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub hot_capacity: u64,

    /// Days raw events are kept (sessions stay); 0 = forever.
    #[arg(
        long,
        env = "STINT_RETENTION_DAYS",
        value_name = "STINT_RETENTION_DAYS",
        default_value_t = 395,
        global = true
    )]
    pub retention_days: u64,

    /// Seconds between two rounds of the background jobs.
    #[arg(long, env = "STINT_JOB_INTERVAL", value_name = "STINT_JOB_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub job_interval: u64,
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("expected true or false, got {other:?}")),
    }
}

/// `serve`'s own settings.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "STINT_LISTEN",
        value_name = "STINT_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Seconds a client has to send a request's head (from its connection or its previous response).
    #[arg(long, env = "STINT_HEADER_TIMEOUT", value_name = "STINT_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,

    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "STINT_IDLE_TIMEOUT", value_name = "STINT_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,

    /// Seconds a request has before it is answered 503.
    #[arg(long, env = "STINT_REQUEST_TIMEOUT", value_name = "STINT_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,

    /// Connections open at once; past it the listener stops accepting.
    #[arg(long, env = "STINT_MAX_CONNECTIONS", value_name = "STINT_MAX_CONNECTIONS", default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

impl ServeArgs {
    /// How the server treats connections.
    pub fn serve_config(&self) -> stint::ServeConfig {
        stint::ServeConfig::default()
            .header_timeout(Duration::from_secs(self.header_timeout))
            .idle_timeout(Duration::from_secs(self.idle_timeout))
            .request_timeout(Duration::from_secs(self.request_timeout))
            .max_connections(usize::try_from(self.max_connections).unwrap_or(usize::MAX))
    }
}

impl Settings {
    /// The session policy.
    pub fn policy(&self) -> Policy {
        Policy {
            idle_timeout: Duration::from_secs(self.session_ttl),
            max_age: Duration::from_secs(self.session_max_age),
            ..Policy::default()
        }
    }

    /// Checks what can be checked without touching a store. Errors name the variable.
    pub fn validate(&self) -> Result<()> {
        if self.session_max_age < self.session_ttl {
            bail!(
                "SESSION_MAX_AGE ({}) must not be shorter than SESSION_TTL ({})",
                self.session_max_age,
                self.session_ttl
            );
        }
        if let Some(url) = &self.redis_url
            && (url.trim().is_empty()
                || !url.split(',').all(|u| {
                    let u = u.trim();
                    ["redis://", "rediss://"]
                        .iter()
                        .any(|scheme| u.starts_with(scheme) && u.len() > scheme.len())
                }))
        {
            bail!("REDIS_URL must be a redis:// (or rediss://) URL or a comma-separated list of them");
        }
        if self.redis_ca.is_some()
            && !self
                .redis_url
                .as_deref()
                .is_some_and(|u| u.trim_start().starts_with("rediss://"))
        {
            bail!("STINT_REDIS_CA is set, but REDIS_URL is not a rediss:// URL (Redis over TLS)");
        }
        if self.redis_prefix.contains(['{', '}']) {
            bail!("STINT_REDIS_PREFIX must not contain {{ or }}");
        }
        if let Some(url) = &self.database_url
            && !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            bail!("DATABASE_URL must be sqlite://PATH or postgres://USER@HOST/DATABASE");
        }
        if self.mode == Mode::Production {
            match &self.cookie_secret {
                None => bail!("COOKIE_SECRET is required in production (32 bytes or more)"),
                Some(s) => {
                    CookieKeys::from_env_value(s).map_err(|e| anyhow::anyhow!("COOKIE_SECRET: {e}"))?;
                }
            }
            if self.admin_token.as_deref().is_none_or(|t| t.len() < 16) {
                bail!("STINT_ADMIN_TOKEN is required in production (16 characters or more)");
            }
        } else if let Some(s) = &self.cookie_secret {
            CookieKeys::from_env_value(s).map_err(|e| anyhow::anyhow!("COOKIE_SECRET: {e}"))?;
        }
        Ok(())
    }

    /// The certificate authorities `STINT_REDIS_CA` names, read.
    pub fn redis_root_certificates(&self) -> Result<Option<Vec<u8>>> {
        let Some(path) = &self.redis_ca else {
            return Ok(None);
        };
        let pem =
            std::fs::read(path).with_context(|| format!("STINT_REDIS_CA: cannot read {}", path.display()))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            bail!("STINT_REDIS_CA: {} holds no PEM certificate", path.display());
        }
        Ok(Some(pem))
    }

    /// The Redis store named by `REDIS_URL`, if any.
    pub fn redis(&self) -> Result<Option<stint_redis::RedisStore>> {
        let Some(url) = &self.redis_url else {
            return Ok(None);
        };
        let mut options = stint_redis::RedisOptions::new(self.policy());
        options.prefix = self.redis_prefix.clone();
        options.root_certificates = self.redis_root_certificates()?;
        stint_redis::RedisStore::open(url, options)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))
    }

    /// The builder of the service's sessions: stores, keys, rules and jobs
    /// as these settings say.
    ///
    /// # Errors
    ///
    /// When `STINT_REDIS_CA`, `STINT_GEOIP_DB` or `STINT_REFERRER_SPAM` cannot be read.
    pub fn builder(&self) -> Result<StintBuilder> {
        let geoip = match &self.geoip_db {
            Some(path) => {
                let db = stint_axum::GeoIp::open(path).map_err(|e| anyhow::anyhow!("STINT_GEOIP_DB: {e}"))?;
                tracing::info!(path = %path.display(), kind = db.database_type(), "GeoIP database loaded");
                Some(std::sync::Arc::new(db))
            }
            None => None,
        };
        let spam = match &self.referrer_spam {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("STINT_REFERRER_SPAM: cannot read {}: {e}", path.display())
                })?;
                let list = stint_core::context::ReferrerSpam::parse(&text);
                tracing::info!(path = %path.display(), hosts = list.len(), "referrer-spam list loaded");
                Some(std::sync::Arc::new(list))
            }
            None => None,
        };
        let mut b = Stint::builder()
            .data_dir(&self.data_dir)
            .policy(self.policy())
            .redis_prefix(&self.redis_prefix)
            .hot_capacity(usize::try_from(self.hot_capacity).unwrap_or(usize::MAX))
            .production(self.mode == Mode::Production);
        if let Some(url) = &self.database_url {
            b = b.database_url(url);
        }
        if let Some(url) = &self.redis_url {
            b = b.redis_url(url);
        }
        if let Some(pem) = self.redis_root_certificates()? {
            b = b.redis_root_certificates(pem);
        }
        if let Some(secret) = &self.cookie_secret {
            b = b.cookie_secret(secret);
        }
        if self.enable_cron {
            b = b.jobs(
                JobsConfig::default()
                    .every(Duration::from_secs(self.job_interval))
                    .retention_days(self.retention_days),
            );
        }
        let (visitor_ttl, trust_proxy, limit, honor_dnt) = (
            self.visitor_ttl,
            self.trust_proxy,
            self.session_create_limit,
            self.honor_dnt,
        );
        Ok(b.configure_layer(move |c| {
            let c = c
                .with_visitor_ttl(Duration::from_secs(visitor_ttl))
                .with_trust_proxy(trust_proxy)
                .with_create_limit_per_minute(limit)
                .with_privacy_signals(honor_dnt);
            let c = match spam {
                Some(list) => c.with_referrer_spam(Some(list)),
                None => c,
            };
            match geoip {
                Some(db) => c.with_geoip(db),
                None => c,
            }
        }))
    }

    /// The durable store's URL.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("stint.db").display()),
        }
    }

    /// Creates the data directory if the embedded store or generated secrets need it.
    pub fn ensure_data_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("STINT_DATA_DIR: cannot create {}", self.data_dir.display()))
    }

    /// The keys of the session API: `STINT_SERVICE_KEY`'s; in development,
    /// one generated and kept in the data directory when it is unset; in
    /// production, none (the routes answer 404) when it is unset.
    ///
    /// # Errors
    ///
    /// A key shorter than 16 characters; a kept key that cannot be written.
    pub fn service_keys(&self) -> Result<Vec<String>> {
        if let Some(raw) = &self.service_key {
            let keys: Vec<String> = raw.split(',').map(|k| k.trim().to_owned()).collect();
            if keys.iter().any(|k| k.len() < 16) {
                bail!("STINT_SERVICE_KEY: each key needs 16 characters or more");
            }
            return Ok(keys);
        }
        if self.mode == Mode::Production {
            return Ok(Vec::new());
        }
        let path = self.data_dir.join("service_key");
        let (key, created) =
            stint::kept_secret(&path).with_context(|| format!("cannot write {}", path.display()))?;
        if created {
            println!("service key (kept in {}): {key}", path.display());
        }
        Ok(vec![key])
    }

    /// The admin token: configured, or (development) generated once, printed
    /// once and kept in the data directory.
    pub fn admin_token(&self) -> Result<String> {
        if let Some(t) = &self.admin_token {
            if t.is_empty() {
                bail!("STINT_ADMIN_TOKEN must not be empty");
            }
            return Ok(t.clone());
        }
        let path = self.data_dir.join("admin_token");
        let (token, created) =
            stint::kept_secret(&path).with_context(|| format!("cannot write {}", path.display()))?;
        if created {
            println!("admin token (kept in {}): {token}", path.display());
        }
        Ok(token)
    }
}
