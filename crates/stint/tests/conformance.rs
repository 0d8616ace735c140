//! The failover tier through the conformance suites: the hot-store suite
//! with its primary up (in process, and a real Redis server), and the outage
//! cases with its primary behind a switch (in process, and a real Redis).
//! Redis comes from `scripts/test` (`STINT_TEST_REDIS_URL`); each case gets
//! its own key prefix.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_conformance::failover::{Harness, Switch, T0, policy};
use stint_core::{ColdStore, HotStore, ManualClock, Policy};
use stint_memory::{Failover, MemoryStore};
use stint_redis::{RedisOptions, RedisStore};
use stint_sql::{SqlStore, Writer, WriterConfig};

fn redis() -> Arc<RedisStore> {
    let url = std::env::var("STINT_TEST_REDIS_URL")
        .expect("STINT_TEST_REDIS_URL is not set: run scripts/test, which starts Redis");
    let mut options = RedisOptions::new(Policy::default());
    options.prefix = format!("f{}:", uuid::Uuid::new_v4().simple());
    Arc::new(RedisStore::open(&url, options).unwrap())
}

/// A failover tier over `primary`, reading from an in-memory SQLite (the
/// tier holds the store and the writer; the writer's task runs as long as
/// they live).
struct Tier<P> {
    tier: Arc<Failover<Switch<P>>>,
    cold: Arc<SqlStore>,
}

impl<P: HotStore> Tier<P> {
    async fn new(primary: Arc<P>) -> Arc<Self> {
        let cold = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let (writer, _task) = Writer::spawn(cold.clone(), WriterConfig::default());
        let tier = Failover::new(
            Arc::new(Switch::new(primary)),
            cold.clone(),
            Arc::new(writer),
            Arc::new(ManualClock::new(T0)),
            policy(),
        );
        Arc::new(Self {
            tier: Arc::new(tier),
            cold,
        })
    }
}

#[async_trait::async_trait]
impl<P: HotStore> Harness for Tier<P> {
    fn tier(&self) -> Arc<dyn HotStore> {
        self.tier.clone()
    }
    fn primary(&self) -> Arc<dyn HotStore> {
        self.tier.primary().inner().clone()
    }
    fn cold(&self) -> Arc<dyn ColdStore> {
        self.cold.clone()
    }
    fn set_primary_up(&self, up: bool) {
        self.tier.primary().set_up(up);
    }
    async fn probe(&self) -> bool {
        self.tier.probe().await
    }
}

/// The tier with its primary up, as the hot-store suite sees it.
async fn up<P: HotStore>(primary: Arc<P>) -> Arc<dyn HotStore> {
    Tier::new(primary).await.tier.clone()
}

mod in_process {
    stint_conformance::hot_store_suite!(super::up(std::sync::Arc::new(super::MemoryStore::new())));
}

mod on_redis {
    stint_conformance::hot_store_suite!(super::up(super::redis()));
}

mod in_process_outages {
    stint_conformance::failover_suite!(async {
        super::Tier::new(std::sync::Arc::new(super::MemoryStore::new())).await
            as std::sync::Arc<dyn super::Harness>
    });
}

mod redis_outages {
    stint_conformance::failover_suite!(async {
        super::Tier::new(super::redis()).await as std::sync::Arc<dyn super::Harness>
    });
}
