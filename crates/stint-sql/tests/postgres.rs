//! The cold-store conformance suite, on PostgreSQL (a fresh database per
//! case). `scripts/test` starts the server and sets `STINT_TEST_POSTGRES_URL`.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sqlx::Connection;
use stint_core::ColdStore;
use stint_sql::SqlStore;

/// A new, empty database on the test server; its URL.
async fn new_database() -> String {
    let admin = std::env::var("STINT_TEST_POSTGRES_URL")
        .expect("STINT_TEST_POSTGRES_URL is not set: run scripts/test, which starts PostgreSQL");
    let name = format!("stint_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn fresh() -> Arc<dyn ColdStore> {
    Arc::new(SqlStore::connect(&new_database().await).await.unwrap())
}

stint_conformance::cold_store_suite!(fresh());

/// A migration that fails is rolled back whole and reported as such.
#[tokio::test]
async fn a_failed_migration_stops_and_changes_nothing() {
    let url = new_database().await;
    // A table in the way of the first migration, half-way through it.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE events (unrelated INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = SqlStore::connect(&url).await.unwrap_err();
    assert!(matches!(err, stint_sql::StoreError::Migrate(_)), "{err}");
    assert!(err.to_string().contains("migration failed"), "{err}");
    let sessions: Option<String> = sqlx::query_scalar("SELECT to_regclass('public.sessions')::TEXT")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        sessions, None,
        "the sessions table of the failed migration was rolled back"
    );
}
