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

/// A database that migration 1 created when it still held the demo shop's
/// tables keeps migrating (its recorded checksum is still the one expected),
/// and its shop tables stay as they were; a new database has none of them.
#[tokio::test]
async fn a_database_migrated_before_the_shop_moved_out_still_migrates() {
    use sqlx::Connection;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stint.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let old = include_str!("fixtures/0001_initial_with_shop.sqlite.sql");
    let first = Migration::new(
        1,
        "initial".into(),
        MigrationType::Simple,
        sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(old)),
        false,
    );
    Migrator::with_migrations(vec![first])
        .run(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO customers (id, email, name, password_hash, created_at) VALUES ('c', 'a@b.c', 'A', 'h', 1)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = SqlStore::open(&path).await.expect("migrates past version 1");
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let customers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(customers, 1, "the shop's data is untouched");

    let fresh = dir.path().join("new.db");
    SqlStore::open(&fresh).await.unwrap().close().await;
    let url = format!("sqlite://{}", fresh.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let shop: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('customers', 'orders')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(shop, 0, "Stint's own tables only");
}
