//! The cold-store conformance suite, on PostgreSQL (a fresh database per
//! case). `scripts/test` starts the server and sets `STINT_TEST_POSTGRES_URL`.

use std::sync::Arc;

use sqlx::Connection;
use stint_core::ColdStore;
use stint_sql::SqlStore;

async fn fresh() -> Arc<dyn ColdStore> {
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
    Arc::new(SqlStore::connect(&format!("{base}/{name}")).await.unwrap())
}

stint_conformance::cold_store_suite!(fresh());
