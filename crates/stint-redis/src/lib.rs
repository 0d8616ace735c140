//! # stint-redis
//!
//! The shared hot store of Stint on Redis: one server, or a Redis Cluster,
//! in plain text or over TLS (`rediss://`, rustls; see
//! [`RedisOptions::root_certificates`]). Several instances of a service
//! share their live sessions through it.
//!
//! - **One round trip per request.** [`HotStore::resume`] is one Lua script
//!   (`EVALSHA`, loaded on first use and again after a `NOSCRIPT`): it finds
//!   the session of a token, checks idle and absolute expiry and counts the
//!   page view; on a session's first request in each refresh window (see
//!   [`RedisOptions::refresh_window`]) it also slides the TTL and marks the
//!   session active.
//! - **Cluster-ready keys.** Everything of one session lives in its shard
//!   (see [`stint_core::TokenHash::shard`]): the keys carry the shard as a hash
//!   tag, `{prefix}{ab}…`, so that what one script touches lies in one slot.
//!   Keys hold token *hashes*, never tokens.
//! - **Compact records.** A session is one binary string (see the `codec`
//!   module) whose header the scripts patch in place; there is no JSON on the
//!   hot path.
//! - Expiry is enforced by the scripts against the request's time, and Redis
//!   TTLs collect what nobody touches again.
//!
//! Every call is bounded by a timeout and fails with
//! [`stint_core::Error::Unavailable`] when Redis does not answer in time: the
//! caller decides how to degrade.
//!
//! ```no_run
//! # async fn demo() -> stint_core::Result<()> {
//! use stint_core::{HotStore, Policy};
//! use stint_redis::{RedisOptions, RedisStore};
//!
//! let store = RedisStore::open("redis://127.0.0.1:6379", RedisOptions::new(Policy::default()))?;
//! store.ping().await?;
//! println!("{} live sessions", store.count().await?);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ErrorKind, FromRedisValue, ServerErrorKind, TlsCertificates, Value};
use stint_core::store::{Lookup, Modify, Realtime, Touch, Update};
use stint_core::{Error, HotStore, Policy, Result, SessionId, SessionRecord, TokenHash};
use tokio::sync::OnceCell;

/// How a [`RedisStore`] names and bounds things.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Put in front of every key, so that several services can share a Redis.
    /// Must not contain `{` or `}` (the hash tags are Stint's). Default `stint:`.
    pub prefix: String,
    /// The session rules: the customer index is kept as long as a session can live.
    pub policy: Policy,
    /// The longest any call waits for Redis. Default 250 ms.
    pub timeout: Duration,
    /// How often a session in use has its keys' time to live slid and its
    /// activity mark moved: on its first request in each window of this
    /// length, which spares Redis four of the resume's commands on the
    /// others (the page view and the last-seen time are still written on
    /// every request). In exchange its keys live up to one window longer than
    /// the session, and the real-time figures count a session up to one
    /// window longer. Zero refreshes on every request. Default 10 s.
    pub refresh_window: Duration,
    /// The certificate authorities (PEM) that a `rediss://` server's
    /// certificate must chain to, in place of the system's roots: a private
    /// CA's. `None` (the default) trusts the system's roots. Never used to
    /// skip verification: a server whose certificate does not verify is not
    /// talked to, and calls fail as when Redis is down.
    pub root_certificates: Option<Vec<u8>>,
}

impl RedisOptions {
    /// The defaults, for sessions that follow `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            prefix: "stint:".to_owned(),
            policy,
            timeout: Duration::from_millis(250),
            refresh_window: Duration::from_secs(10),
            root_certificates: None,
        }
    }
}

enum Conn {
    Single(ConnectionManager),
    /// Connected on first use: a cluster that is down at start-up must not
    /// stop the service, and a failed attempt is retried by the next call.
    Cluster(Box<(ClusterClient, OnceCell<ClusterConnection>)>),
}

struct Script {
    source: &'static str,
    sha: String,
}

impl Script {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            sha: redis::Script::new(source).get_hash().to_owned(),
        }
    }
}

/// The Redis hot store. Cheap to share behind an `Arc`; one per process.
pub struct RedisStore {
    conn: Conn,
    prefix: Vec<u8>,
    policy: Policy,
    timeout: Duration,
    /// [`RedisOptions::refresh_window`] in ms, and as the text a script gets.
    window_ms: i64,
    window_arg: Vec<u8>,
    round_trips: AtomicU64,
    resume: Script,
    insert: Script,
    update: Script,
    remove: Script,
    index: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &matches!(self.conn, Conn::Cluster(..)))
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .finish_non_exhaustive()
    }
}

/// Makes ring rustls's process-wide cryptography, unless the application
/// chose one first. With ring the only provider built in, rustls finds it by
/// itself; an application that also builds another (aws-lc-rs) would leave
/// rustls unable to choose, and the first TLS connection would panic.
fn install_crypto_provider() {
    // An error means a provider is installed already: the application's.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::hot(format!("redis: {e}"))
}

impl RedisStore {
    /// A store over `urls`: one `redis://` URL for a single server, or a
    /// comma-separated list of the nodes of a Redis Cluster; `rediss://` for
    /// Redis over TLS (every node of a cluster alike). A user and password
    /// go in the URL (`rediss://USER:PASSWORD@HOST:PORT`). Connects lazily:
    /// this fails only on a malformed URL, prefix or certificate, never
    /// because Redis is down.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidData`] for a malformed URL, no URL, a cluster whose
    /// nodes mix `redis://` and `rediss://`, root certificates with a URL
    /// that is not `rediss://` (they would silently go unused), root
    /// certificates that are not PEM, or a prefix with `{` or `}`. Redis
    /// being down is not an error here.
    pub fn open(urls: &str, options: RedisOptions) -> Result<Self> {
        if options.prefix.contains(['{', '}']) {
            return Err(Error::InvalidData(
                "the Redis key prefix must not contain { or }".to_owned(),
            ));
        }
        let nodes: Vec<&str> = urls.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        let tls = nodes.iter().filter(|u| u.starts_with("rediss://")).count();
        if tls != 0 && tls != nodes.len() {
            return Err(Error::InvalidData(
                "the nodes of a Redis Cluster must all be redis:// or all rediss://".to_owned(),
            ));
        }
        if options.root_certificates.is_some() && tls == 0 {
            return Err(Error::InvalidData(
                "root certificates for Redis are given, but the URL is not rediss:// (Redis over TLS)"
                    .to_owned(),
            ));
        }
        if tls != 0 {
            install_crypto_provider();
        }
        let certificates = |root: &Vec<u8>| TlsCertificates {
            client_tls: None,
            root_cert: Some(root.clone()),
        };
        let invalid = |e: redis::RedisError| Error::InvalidData(e.to_string());
        let conn = match nodes.as_slice() {
            [] => return Err(Error::InvalidData("no Redis URL given".to_owned())),
            [one] => {
                let client = match &options.root_certificates {
                    Some(root) => redis::Client::build_with_tls(*one, certificates(root)).map_err(invalid)?,
                    None => redis::Client::open(*one).map_err(invalid)?,
                };
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(options.timeout * 4))
                    .set_response_timeout(Some(options.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                Conn::Single(ConnectionManager::new_lazy_with_config(client, config).map_err(invalid)?)
            }
            many => {
                let mut builder = ClusterClient::builder(many.iter().copied())
                    .connection_timeout(options.timeout * 4)
                    .response_timeout(options.timeout)
                    .retries(1);
                if let Some(root) = &options.root_certificates {
                    builder = builder.certs(certificates(root));
                }
                Conn::Cluster(Box::new((builder.build().map_err(invalid)?, OnceCell::new())))
            }
        };
        Ok(Self {
            conn,
            prefix: options.prefix.into_bytes(),
            policy: options.policy,
            timeout: options.timeout,
            window_ms: stint_core::duration_millis(options.refresh_window),
            window_arg: options.refresh_window.as_millis().to_string().into_bytes(),
            round_trips: AtomicU64::new(0),
            resume: Script::new(include_str!("lua/resume.lua")),
            insert: Script::new(include_str!("lua/insert.lua")),
            update: Script::new(include_str!("lua/update.lua")),
            remove: Script::new(include_str!("lua/remove.lua")),
            index: Script::new(include_str!("lua/index.lua")),
        })
    }

    /// Whether the store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(..))
    }

    /// Commands sent to Redis so far (a script is one; a pipelined batch of
    /// N commands is N). The hot path costs one per request.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Sends one command, bounded by the timeout.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> std::result::Result<T, redis::RedisError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let call = async {
            match &self.conn {
                Conn::Single(manager) => cmd.query_async(&mut manager.clone()).await,
                Conn::Cluster(cluster) => {
                    let (client, cell) = &**cluster;
                    let conn = cell
                        .get_or_try_init(|| async { client.get_async_connection().await })
                        .await?;
                    cmd.query_async(&mut conn.clone()).await
                }
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(redis::RedisError::from((ErrorKind::Io, "timed out"))),
        }
    }

    async fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        self.query(cmd).await.map_err(unavailable)
    }

    /// Runs a script by its hash, sending the source once if this node has
    /// not seen it yet (first use, a restart, a failover).
    async fn eval<T: FromRedisValue>(&self, script: &Script, key: &[u8], args: &[&[u8]]) -> Result<T> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.sha).arg(1).arg(key);
        for a in args {
            cmd.arg(*a);
        }
        match self.query(&cmd).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(script.source).arg(1).arg(key);
                for a in args {
                    cmd.arg(*a);
                }
                self.run(&cmd).await
            }
            r => r.map_err(unavailable),
        }
    }

    /// `{prefix}{ab}`: the shard's hash tag, which every key of the shard starts with.
    fn base(&self, shard: u8) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut k = Vec::with_capacity(self.prefix.len() + 4 + 33);
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(&[
            b'{',
            HEX[usize::from(shard >> 4)],
            HEX[usize::from(shard & 15)],
            b'}',
        ]);
        k
    }

    fn key(&self, shard: u8, kind: u8, id: &[u8]) -> Vec<u8> {
        let mut k = self.base(shard);
        k.push(kind);
        k.extend_from_slice(id);
        k
    }

    fn session_key(&self, id: &SessionId) -> Vec<u8> {
        self.key(id.shard(), b's', id.as_uuid().as_bytes())
    }

    fn customer_key(&self, customer_id: &str) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.extend_from_slice(b"c:");
        k.extend_from_slice(customer_id.as_bytes());
        k
    }

    fn ms(d: Duration) -> Vec<u8> {
        stint_core::duration_millis(d).to_string().into_bytes()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<(SessionRecord, TokenHash)>> {
        let rec: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(self.session_key(id))).await?;
        rec.as_deref().map(codec::decode).transpose()
    }

    /// Writes `next` (derived from the `read` version) unless the session
    /// changed meanwhile; `Ok(None)` asks the caller to read again.
    async fn write_if_unchanged(
        &self,
        read: &SessionRecord,
        next: &mut SessionRecord,
        token: &TokenHash,
        rotate: Option<(TokenHash, stint_core::Timestamp)>,
    ) -> Result<Option<bool>> {
        let rec = codec::encode(next, token)?;
        let (new_token, until) = match &rotate {
            Some((t, until)) => (t.as_bytes().to_vec(), until.0.to_string().into_bytes()),
            None => (Vec::new(), Vec::new()),
        };
        let version = read.version.to_string().into_bytes();
        let reply: Value = self
            .eval(
                &self.update,
                &self.session_key(&read.id),
                &[
                    &self.base(read.id.shard()),
                    &version,
                    &rec,
                    &new_token,
                    &until,
                    read.id.as_uuid().as_bytes(),
                ],
            )
            .await?;
        match reply {
            Value::Nil => Ok(Some(false)),
            Value::Int(0) => Ok(None),
            Value::Array(items) => {
                let (_, ls, pv): (i64, i64, i64) =
                    FromRedisValue::from_redis_value(Value::Array(items)).map_err(unavailable)?;
                next.last_seen_at = stint_core::Timestamp(ls);
                next.page_views = u64::try_from(pv).unwrap_or(0);
                Ok(Some(true))
            }
            other => Err(unavailable(format!("unexpected reply {other:?}"))),
        }
    }

    /// Read, change, compare-and-set: repeated until no parallel writer got in between.
    async fn change(
        &self,
        id: &SessionId,
        mut apply: impl FnMut(&mut SessionRecord) -> Result<Option<(TokenHash, stint_core::Timestamp)>>,
    ) -> Result<Option<SessionRecord>> {
        loop {
            let Some((read, token)) = self.read(id).await? else {
                return Ok(None);
            };
            let mut next = read.clone();
            let rotate = apply(&mut next)?;
            next.version = read.version + 1;
            let current = rotate.map_or(token, |(t, _)| t);
            match self
                .write_if_unchanged(&read, &mut next, &current, rotate)
                .await?
            {
                Some(true) => return Ok(Some(next)),
                Some(false) => return Ok(None),
                None => tokio::task::yield_now().await,
            }
        }
    }

    async fn index_customer(&self, customer_id: &str, id: &SessionId) -> Result<()> {
        let ttl = Self::ms(self.policy.max_age);
        self.eval::<i64>(
            &self.index,
            &self.customer_key(customer_id),
            &[id.as_uuid().as_bytes(), &ttl],
        )
        .await
        .map(drop)
    }

    async fn unindex_customer(&self, customer_id: &str, id: &SessionId) -> Result<()> {
        self.run::<i64>(
            redis::cmd("SREM")
                .arg(self.customer_key(customer_id))
                .arg(id.as_uuid().as_bytes()),
        )
        .await
        .map(drop)
    }

    /// The activity marks of every shard of sessions seen since `since`:
    /// those moved in the window before it too, as a session's mark is up to
    /// one refresh window older than its last request.
    async fn marks(&self, since: stint_core::Timestamp) -> Result<Vec<Vec<u8>>> {
        let since = since.0.saturating_sub(self.window_ms);
        let reads = (0..=255u8).map(|shard| {
            let mut key = self.base(shard);
            key.push(b'r');
            async move {
                self.run::<Vec<Vec<u8>>>(
                    redis::cmd("ZRANGE")
                        .arg(key)
                        .arg(since)
                        .arg("+inf")
                        .arg("BYSCORE"),
                )
                .await
            }
        });
        Ok(try_join_all(reads).await?.into_iter().flatten().collect())
    }
}

#[async_trait]
impl HotStore for RedisStore {
    async fn insert(&self, session: &SessionRecord, token: &TokenHash, policy: &Policy) -> Result<()> {
        if token.shard() != session.id.shard() {
            return Err(Error::InvalidData(
                "a session and its token must share a shard".to_owned(),
            ));
        }
        let rec = codec::encode(session, token)?;
        let from = session.last_seen_at.max(session.started_at);
        // A window longer than the session can live, as the resume script
        // slides it only once per window.
        let idle = session.last_seen_at.plus(policy.idle_timeout).0;
        let expires = idle
            .saturating_add(self.window_ms)
            .min(session.started_at.plus(policy.max_age).0);
        let ttl = (expires - from.0).max(1).to_string().into_bytes();
        self.eval::<i64>(
            &self.insert,
            &self.session_key(&session.id),
            &[
                &self.base(session.id.shard()),
                &rec,
                token.as_bytes(),
                &ttl,
                session.id.as_uuid().as_bytes(),
            ],
        )
        .await?;
        if let Some(c) = &session.customer_id {
            self.index_customer(c, &session.id).await?;
        }
        Ok(())
    }

    async fn resume(&self, token: &TokenHash, touch: &Touch) -> Result<Lookup> {
        let reply: Option<(Vec<u8>, i64, i64, i64)> = self
            .eval(
                &self.resume,
                &self.key(token.shard(), b't', token.as_bytes()),
                &[
                    &self.base(token.shard()),
                    touch.now.0.to_string().as_bytes(),
                    &Self::ms(touch.policy.idle_timeout),
                    &Self::ms(touch.policy.max_age),
                    if touch.page_view { b"1" } else { b"0" },
                    &self.window_arg,
                ],
            )
            .await?;
        let Some((rec, superseded, ls, pv)) = reply else {
            return Ok(Lookup::Missing);
        };
        let (mut session, _) = codec::decode(&rec)?;
        session.last_seen_at = stint_core::Timestamp(ls);
        session.page_views = u64::try_from(pv).unwrap_or(0);
        Ok(if superseded == 1 {
            Lookup::Superseded(session.as_anonymous())
        } else {
            Lookup::Current(session)
        })
    }

    async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        Ok(self.read(id).await?.map(|(s, _)| s))
    }

    async fn update(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>> {
        if let Some((t, _)) = &update.new_token
            && t.shard() != id.shard()
        {
            return Err(Error::InvalidData(
                "a session and its token must share a shard".to_owned(),
            ));
        }
        let mut previous_customer = None;
        let session = self
            .change(id, |s| {
                previous_customer = s.customer_id.clone();
                update.apply_to(s);
                Ok(update.new_token)
            })
            .await?;
        if let (Some(s), Some(customer)) = (&session, &update.customer_id) {
            if let Some(old) = previous_customer.filter(|old| old != customer) {
                self.unindex_customer(&old, id).await?;
            }
            self.index_customer(customer, &s.id).await?;
        }
        Ok(session)
    }

    async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>> {
        self.change(id, |s| {
            let value = f(s.data.get(key)).map_err(Error::InvalidData)?;
            Arc::make_mut(&mut s.data).insert(key.to_owned(), value);
            Ok(None)
        })
        .await
    }

    async fn remove(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        let rec: Option<Vec<u8>> = self
            .eval(&self.remove, &self.session_key(id), &[&self.base(id.shard())])
            .await?;
        let Some(rec) = rec else {
            return Ok(None);
        };
        let (session, _) = codec::decode(&rec)?;
        if let Some(c) = &session.customer_id {
            self.unindex_customer(c, id).await?;
        }
        Ok(Some(session))
    }

    async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>> {
        let key = self.customer_key(customer_id);
        let members: Vec<Vec<u8>> = self.run(redis::cmd("SMEMBERS").arg(&key)).await?;
        let ids: Vec<SessionId> = members
            .iter()
            .filter_map(|m| uuid::Uuid::from_slice(m).ok())
            .map(SessionId::from_uuid)
            .collect();
        let found = try_join_all(ids.iter().map(|id| self.read(id))).await?;
        let mut out = Vec::new();
        for (id, found) in ids.iter().zip(found) {
            match found {
                Some((s, _)) if s.customer_id.as_deref() == Some(customer_id) => out.push(s),
                // Expired or signed in as someone else since: the index forgets it.
                _ => self.unindex_customer(customer_id, id).await?,
            }
        }
        Ok(out)
    }

    async fn realtime(&self, since: stint_core::Timestamp) -> Result<Realtime> {
        let marks = self.marks(since).await?;
        let mut visitors = HashSet::new();
        let mut customers = HashSet::new();
        let mut sessions = 0u64;
        for mark in &marks {
            if let Some((_, visitor, customer)) = codec::split_mark(mark) {
                sessions += 1;
                visitors.insert(visitor);
                if !customer.is_empty() {
                    customers.insert(customer);
                }
            }
        }
        Ok(Realtime {
            active_visitors: visitors.len() as u64,
            active_sessions: sessions,
            active_customers: customers.len() as u64,
        })
    }

    async fn count(&self) -> Result<u64> {
        let counts = try_join_all((0..=255u8).map(|shard| {
            let mut key = self.base(shard);
            key.push(b'r');
            async move { self.run::<u64>(redis::cmd("ZCARD").arg(key)).await }
        }))
        .await?;
        Ok(counts.into_iter().sum())
    }

    async fn ping(&self) -> Result<()> {
        self.run::<String>(&redis::cmd("PING")).await.map(drop)
    }
}
