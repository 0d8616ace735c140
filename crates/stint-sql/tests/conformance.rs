//! The cold-store conformance suite, on SQLite (a fresh file per case).

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stint_core::ColdStore;
use stint_sql::SqlStore;

async fn fresh() -> Arc<dyn ColdStore> {
    // Kept after the test: the store outlives this function.
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(SqlStore::open(&dir.join("stint.db")).await.unwrap())
}

stint_conformance::cold_store_suite!(fresh());

/// A migration that fails is rolled back whole and reported as such.
#[tokio::test]
async fn a_failed_migration_stops_and_changes_nothing() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stint.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE events (unrelated INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = SqlStore::open(&path).await.unwrap_err();
    assert!(matches!(err, stint_sql::StoreError::Migrate(_)), "{err}");
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sessions'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        sessions, 0,
        "the sessions table of the failed migration was rolled back"
    );
}
