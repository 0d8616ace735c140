//! One way to wire Stint: [`StintBuilder`] opens the stores, starts the
//! writer and the background work, and gives back a running [`Stint`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use stint_axum::{CookieKeys, KeyError, SessionConfig, SessionLayer};
use stint_core::{Clock, ColdStore, Engine, HotStore, Policy, SystemClock};
use stint_memory::{Failover, MemoryStore};
use stint_redis::{RedisOptions, RedisStore};
use stint_sql::{SqlStore, StoreError, Writer, WriterConfig, WriterTask};
use tokio::task::JoinHandle;

use crate::jobs::{Jobs, JobsConfig};
use crate::lock::{DirLock, LockError};
use crate::secret::kept_secret;
use crate::serve::ServeConfig;

/// Why [`StintBuilder::build`] failed. Each message names the setting to
/// change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A setting is wrong; the message names it.
    #[error("{0}")]
    Config(String),
    /// The data directory cannot be created or written.
    #[error("data directory {}: {error}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// Another process already serves sessions from this data directory
    /// with an in-process hot tier.
    #[error(
        "data directory {}: already served by another Stint process{} without a shared hot store; \
         two in-process tiers would each keep their own sessions (a logout through one would not \
         reach the other). Give each process its own data directory, or share sessions through \
         Redis (REDIS_URL)",
        path.display(),
        pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    DataDirInUse {
        /// The directory.
        path: PathBuf,
        /// The other process, if it could be read from the lock file.
        pid: Option<String>,
    },
    /// The durable store cannot be opened or migrated.
    #[error("DATABASE_URL: {0}")]
    Durable(StoreError),
    /// The Redis URL is malformed.
    #[error("REDIS_URL: {0}")]
    Redis(stint_core::Error),
    /// The journal cannot be opened or replayed.
    #[error("the event journal in {}: {error}", path.display())]
    Journal {
        /// The journal's directory.
        path: PathBuf,
        /// What failed.
        error: stint_core::Error,
    },
    /// The cookie keys are unusable.
    #[error("COOKIE_SECRET: {0}")]
    Keys(KeyError),
}

/// The in-process tier's default bound: about 330 MB of sessions.
pub const DEFAULT_HOT_CAPACITY: usize = 500_000;

/// Where the durable store comes from.
enum Durable {
    /// `DATA_DIR/stint.db`.
    Default,
    Url(String),
    Store(Arc<SqlStore>),
}

/// Configures and starts Stint. Every setting has a default; the shortest
/// use is `Stint::builder().build().await?`, which keeps sessions in
/// process and history in `./data/stint.db`.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), stint::BuildError> {
/// use std::time::Duration;
/// use stint::{JobsConfig, Stint};
///
/// let stint = Stint::builder()
///     .data_dir("/var/lib/shop/stint")
///     .database_url("postgres://stint@db:5432/stint")
///     .redis_url("redis://cache:6379")
///     .cookie_secret(&std::env::var("COOKIE_SECRET").unwrap_or_default())
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .production(true)
///     .jobs(JobsConfig::default())
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct StintBuilder {
    data_dir: PathBuf,
    durable: Durable,
    redis_url: Option<String>,
    redis_roots: Option<Vec<u8>>,
    redis_prefix: String,
    keys: Option<Result<CookieKeys, KeyError>>,
    policy: Policy,
    production: bool,
    jobs: Option<JobsConfig>,
    clock: Arc<dyn Clock>,
    writer: WriterConfig,
    sweep_every: Duration,
    probe_every: Duration,
    serve: ServeConfig,
    hot_capacity: usize,
    layer: Box<dyn FnOnce(SessionConfig) -> SessionConfig + Send>,
}

impl std::fmt::Debug for StintBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StintBuilder")
            .field("data_dir", &self.data_dir)
            .field("redis", &self.redis_url.is_some())
            .field("policy", &self.policy)
            .field("production", &self.production)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

impl Default for StintBuilder {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            durable: Durable::Default,
            redis_url: None,
            redis_roots: None,
            redis_prefix: "stint:".to_owned(),
            keys: None,
            policy: Policy::default(),
            production: false,
            jobs: None,
            clock: Arc::new(SystemClock),
            writer: WriterConfig::default(),
            sweep_every: Duration::from_secs(30),
            probe_every: Duration::from_secs(1),
            serve: ServeConfig::default(),
            hot_capacity: DEFAULT_HOT_CAPACITY,
            layer: Box::new(|c| c),
        }
    }
}

impl StintBuilder {
    /// The data directory (default `./data`): the event journal, the
    /// embedded SQLite database when no other durable store is given, and
    /// the cookie key generated when none is given. Keep it on a disk that
    /// outlives the process: what the journal holds is written to the
    /// durable store at the next start.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// The durable store by URL: `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`. Default: SQLite in the
    /// data directory.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.durable = Durable::Url(url.into());
        self
    }

    /// A durable store already open (its migrations applied). Stint does not
    /// close it at shutdown.
    pub fn durable(mut self, store: Arc<SqlStore>) -> Self {
        self.durable = Durable::Store(store);
        self
    }

    /// Shares live sessions through Redis: `redis://HOST:PORT` for one
    /// server, or a comma-separated list of the nodes of a Redis Cluster;
    /// `rediss://` for Redis over TLS (the managed services' way), with a
    /// user and password in the URL where the server wants them
    /// (`rediss://USER:PASSWORD@HOST:PORT`). While Redis is down, sessions
    /// are served from a local tier read through from the durable store,
    /// and handed back when it returns. Default: an in-process hot tier,
    /// which only this process can use.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// The certificate authorities (PEM) a `rediss://` server's certificate
    /// must chain to, in place of the system's roots: for a private CA.
    /// A server whose certificate does not verify is treated as down.
    pub fn redis_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.redis_roots = Some(pem.into());
        self
    }

    /// Put in front of every Redis key (default `stint:`), so that several
    /// services can share a Redis. Must not contain `{` or `}`.
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }

    /// The cookie signing keys. Default: in development, one generated once
    /// and kept in the data directory (`cookie_secret`), with a warning; in
    /// production, [`StintBuilder::build`] fails without keys.
    pub fn keys(mut self, keys: CookieKeys) -> Self {
        self.keys = Some(Ok(keys));
        self
    }

    /// The cookie signing keys as `COOKIE_SECRET` writes them: 32 bytes or
    /// more each, comma-separated, the signing key first. An empty value
    /// means none is given.
    pub fn cookie_secret(mut self, secret: &str) -> Self {
        if !secret.trim().is_empty() {
            self.keys = Some(CookieKeys::from_env_value(secret));
        }
        self
    }

    /// Sliding idle timeout of a session (default 30 minutes).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.policy.idle_timeout = idle.max(Duration::from_secs(1));
        self
    }

    /// Absolute lifetime of a session (default 24 hours).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.policy.max_age = max_age.max(Duration::from_secs(1));
        self
    }

    /// All the session rules at once.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Production: `Secure` cookies, cookie keys required, and sessions are
    /// never kept in memory alone (with Redis and the durable store both
    /// down, requests are served without a session).
    pub fn production(mut self, production: bool) -> Self {
        self.production = production;
        self
    }

    /// Runs the background jobs in this process: closing expired sessions
    /// in the durable store, rolling up past days' figures, deleting raw
    /// events past their retention. With several instances on one database,
    /// one of them runs them at a time. Default: not run.
    pub fn jobs(mut self, jobs: JobsConfig) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// The clock (default: the system's). Tests pass a
    /// [`ManualClock`](stint_core::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Live sessions the in-process tier holds at most (default 500,000,
    /// about 330 MB at some 650 bytes each); with Redis, the bound of the
    /// local tier that serves while Redis is down. Past it the sessions not
    /// seen for the longest leave memory; they stay in the durable store and
    /// are read back, page views and data included, at their next request.
    pub fn hot_capacity(mut self, sessions: usize) -> Self {
        self.hot_capacity = sessions.max(1);
        self
    }

    /// How [`Stint::serve`](crate::Stint::serve) treats connections:
    /// timeouts and the bound on open connections.
    pub fn serve_config(mut self, config: ServeConfig) -> Self {
        self.serve = config;
        self
    }

    /// The batching writer's settings.
    pub fn writer(mut self, config: WriterConfig) -> Self {
        self.writer = config;
        self
    }

    /// Any other setting of the layer (trusted proxy, creation limit,
    /// cookie names, …), on top of the defaults and of what this builder
    /// sets. Several calls apply in order.
    ///
    /// ```
    /// let builder = stint::Stint::builder()
    ///     .configure_layer(|c| c.with_trust_proxy(true).with_create_limit_per_minute(60));
    /// # drop(builder);
    /// ```
    pub fn configure_layer(
        mut self,
        f: impl FnOnce(SessionConfig) -> SessionConfig + Send + 'static,
    ) -> Self {
        let before = self.layer;
        self.layer = Box::new(move |c| f(before(c)));
        self
    }

    /// Opens the stores (applying the durable store's migrations), writes
    /// what a previous process left in the journal, and starts the writer,
    /// the sweeper of the in-process tier, the Redis probe and, if asked,
    /// the jobs. Call [`Stint::shutdown`](crate::Stint::shutdown) (or serve with [`Stint::serve`](crate::Stint::serve),
    /// which does) so that every record reaches the durable store.
    ///
    /// Redis is not needed at start-up: if it does not answer, a warning is
    /// logged and sessions are served from the local tier until it does.
    ///
    /// # Errors
    ///
    /// A setting is wrong, the data directory cannot be written or is
    /// already served by another process without Redis, the durable store
    /// cannot be opened or migrated, or the journal cannot be replayed.
    pub async fn build(self) -> Result<crate::Stint, BuildError> {
        if self.policy.max_age < self.policy.idle_timeout {
            return Err(BuildError::Config(format!(
                "SESSION_MAX_AGE ({}) must not be shorter than SESSION_TTL ({})",
                self.policy.max_age.as_secs(),
                self.policy.idle_timeout.as_secs()
            )));
        }
        if self.redis_prefix.contains(['{', '}']) {
            return Err(BuildError::Config(
                "STINT_REDIS_PREFIX must not contain { or }".to_owned(),
            ));
        }
        let dir = &self.data_dir;
        std::fs::create_dir_all(dir).map_err(|error| BuildError::DataDir {
            path: dir.clone(),
            error,
        })?;
        let lock = if self.redis_url.is_none() {
            Some(DirLock::acquire(dir).map_err(|e| match e {
                LockError::Held(path, pid) => BuildError::DataDirInUse { path, pid },
                LockError::Io(path, error) => BuildError::DataDir { path, error },
            })?)
        } else {
            None
        };
        let keys = match self.keys {
            Some(keys) => keys.map_err(BuildError::Keys)?,
            None if self.production => {
                return Err(BuildError::Config(
                    "COOKIE_SECRET is required in production (32 bytes or more)".to_owned(),
                ));
            }
            None => generated_keys(dir)?,
        };
        let redis = match &self.redis_url {
            Some(url) => {
                let mut options = RedisOptions::new(self.policy);
                options.prefix = self.redis_prefix.clone();
                options.root_certificates = self.redis_roots.clone();
                Some(Arc::new(
                    RedisStore::open(url, options).map_err(BuildError::Redis)?,
                ))
            }
            None => None,
        };

        let (durable, owned) = match self.durable {
            Durable::Store(store) => (store, false),
            Durable::Url(url) => (
                Arc::new(SqlStore::connect(&url).await.map_err(BuildError::Durable)?),
                true,
            ),
            Durable::Default => (
                Arc::new(
                    SqlStore::open(&dir.join("stint.db"))
                        .await
                        .map_err(BuildError::Durable)?,
                ),
                true,
            ),
        };
        let journal = dir.join("journal");
        let (writer, writer_task, _) = Writer::spawn_journaled(durable.clone(), self.writer, &journal)
            .await
            .map_err(|error| BuildError::Journal {
                path: journal.clone(),
                error,
            })?;

        let clock = self.clock;
        let (hot, local, failover): (Arc<dyn HotStore>, Arc<MemoryStore>, _) = match redis {
            Some(redis) => {
                if let Err(e) = redis.ping().await {
                    tracing::warn!(
                        error = %e,
                        "REDIS_URL: Redis does not answer at start-up; serving sessions from the local tier until it does"
                    );
                }
                let local = Arc::new(MemoryStore::with_capacity(self.hot_capacity).recording_evictions());
                let mut failover = Failover::new(redis, self.policy)
                    .probe_every(self.probe_every)
                    .local_tier(local);
                if self.production {
                    failover = failover.strict(durable.clone() as Arc<dyn ColdStore>);
                }
                let failover = Arc::new(failover);
                (failover.clone(), failover.local().clone(), Some(failover))
            }
            None => {
                let memory = Arc::new(MemoryStore::with_capacity(self.hot_capacity));
                (memory.clone(), memory, None)
            }
        };
        let engine = Engine::new(
            hot,
            durable.clone(),
            Arc::new(writer.clone()),
            clock.clone(),
            self.policy,
        );
        let sweeper = local.spawn_sweeper(self.sweep_every, clock);
        let memory = local;
        // Idle services notice Redis coming back too, not only busy ones.
        let prober = failover
            .clone()
            .map(|tier| tokio::spawn(async move { tier.keep_probing().await }));
        let jobs = self
            .jobs
            .map(|config| Jobs::start(engine.clone(), durable.clone(), config));

        let config = (self.layer)(SessionConfig::new(keys).with_secure(self.production));
        let layer = SessionLayer::new(engine.clone(), config);
        Ok(crate::Stint {
            engine,
            layer,
            durable,
            writer,
            failover,
            memory,
            serve: self.serve,
            background: Some(Background {
                writer: writer_task,
                sweeper,
                prober,
                jobs,
                close_durable: owned,
                _lock: lock,
            }),
        })
    }
}

/// Development keys: generated once into the data directory.
fn generated_keys(dir: &Path) -> Result<CookieKeys, BuildError> {
    let path = dir.join("cookie_secret");
    let (secret, made) = kept_secret(&path).map_err(|error| BuildError::DataDir {
        path: path.clone(),
        error,
    })?;
    if made {
        tracing::warn!(
            path = %path.display(),
            "no cookie key was given; generated one in the data directory (development only)"
        );
    }
    CookieKeys::from_env_value(&secret).map_err(BuildError::Keys)
}

/// What runs beside the requests, owned by [`crate::Stint`] until shutdown.
pub(crate) struct Background {
    pub(crate) writer: WriterTask,
    pub(crate) sweeper: JoinHandle<()>,
    pub(crate) prober: Option<JoinHandle<()>>,
    pub(crate) jobs: Option<Jobs>,
    /// Stint opened the durable store, so it closes it.
    pub(crate) close_durable: bool,
    pub(crate) _lock: Option<DirLock>,
}
