//! The failover tier through the conformance suites: the hot-store suite
//! with its primary up (in process, and a real Redis server), and the outage
//! cases with its primary behind a switch (in process, and a real Redis).
//! Redis comes from `scripts/test` (`STINT_TEST_REDIS_URL`); each case gets
//! its own key prefix.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_conformance::failover::{Harness, Switch, policy};
use stint_core::{HotStore, Policy};
use stint_memory::{Failover, MemoryStore};
use stint_redis::{RedisOptions, RedisStore};

fn redis() -> Arc<RedisStore> {
    let url = std::env::var("STINT_TEST_REDIS_URL")
        .expect("STINT_TEST_REDIS_URL is not set: run scripts/test, which starts Redis");
    let mut options = RedisOptions::new(Policy::default());
    options.prefix = format!("f{}:", uuid::Uuid::new_v4().simple());
    Arc::new(RedisStore::open(&url, options).unwrap())
}

/// A failover tier over `primary`, which a switch turns off and on.
struct Tier<P>(Arc<Failover<Switch<P>>>);

impl<P: HotStore> Tier<P> {
    fn new(primary: Arc<P>) -> Arc<Self> {
        Arc::new(Self(Arc::new(Failover::new(
            Arc::new(Switch::new(primary)),
            policy(),
        ))))
    }
}

#[async_trait::async_trait]
impl<P: HotStore> Harness for Tier<P> {
    fn tier(&self) -> Arc<dyn HotStore> {
        self.0.clone()
    }
    fn primary(&self) -> Arc<dyn HotStore> {
        self.0.primary().inner().clone()
    }
    fn set_primary_up(&self, up: bool) {
        self.0.primary().set_up(up);
    }
    async fn probe(&self) -> bool {
        self.0.probe().await
    }
}

/// The tier with its primary up, as the hot-store suite sees it.
async fn up<P: HotStore>(primary: Arc<P>) -> Arc<dyn HotStore> {
    Tier::new(primary).0.clone()
}

mod in_process {
    stint_conformance::hot_store_suite!(super::up(std::sync::Arc::new(super::MemoryStore::new())));
}

mod on_redis {
    stint_conformance::hot_store_suite!(super::up(super::redis()));
}

mod in_process_outages {
    stint_conformance::failover_suite!(async {
        super::Tier::new(std::sync::Arc::new(super::MemoryStore::new())) as std::sync::Arc<dyn super::Harness>
    });
}

mod redis_outages {
    stint_conformance::failover_suite!(async {
        super::Tier::new(super::redis()) as std::sync::Arc<dyn super::Harness>
    });
}
