//! What every route can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use stint_core::Engine;
use stint_sql::{SqlStore, Writer};

/// What every route can reach.
#[derive(Clone)]
pub struct AppState {
    /// The session engine.
    pub engine: Engine,
    /// The durable store.
    pub store: Arc<SqlStore>,
    /// The demo shop's customers and orders.
    pub shop: crate::shop::Shop,
    /// The writer feeding the durable store.
    pub writer: Writer,
    /// The admin bearer token.
    pub admin_token: Arc<str>,
    /// The keys of the session API and the gateway; none: those routes are off.
    pub service_keys: Arc<[String]>,
    /// The session layer, which the session API and the gateway run for
    /// the requests they are told about.
    pub layer: stint_axum::SessionLayer,
    /// The Prometheus exporter.
    pub metrics: PrometheusHandle,
    /// The in-process tier (with Redis, the local one).
    pub memory: Arc<stint_memory::MemoryStore>,
    /// Redis and the local tier, when `REDIS_URL` is set.
    pub tier: Option<Arc<stint_memory::Failover<stint_redis::RedisStore>>>,
}
