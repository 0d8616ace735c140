//! The cold-store conformance suite, on SQLite (a fresh file per case).

use std::sync::Arc;

use stint_core::ColdStore;
use stint_sql::SqlStore;

async fn fresh() -> Arc<dyn ColdStore> {
    // Kept after the test: the store outlives this function.
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(SqlStore::open(&dir.join("stint.db")).await.unwrap())
}

stint_conformance::cold_store_suite!(fresh());
