//! The cold-store conformance suite, on PostgreSQL (a fresh database per
//! case): directly, on a server that accepts TLS connections only, and
//! through PgBouncer in transaction pooling mode. `scripts/test` starts the
//! servers and sets `STINT_TEST_POSTGRES_URL`, `STINT_TEST_POSTGRES_TLS_URL`
//! and `STINT_TEST_PGBOUNCER_URL` (the last two verify the server's
//! certificate against `STINT_TEST_TLS_CA`).

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sqlx::Connection;
use stint_core::ColdStore;
use stint_sql::SqlStore;

fn env(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run scripts/test, which starts PostgreSQL"))
}

/// `url` naming the database `name` instead, its parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').unwrap();
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// A new, empty database on the server `admin` (a URL's variable) names,
/// reached as `via` names it.
async fn new_database_via(admin: &str, via: &str) -> String {
    let admin = env(admin);
    let name = format!("stint_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    with_database(&env(via), &name)
}

/// A new, empty database on the test server; its URL.
async fn new_database() -> String {
    new_database_via("STINT_TEST_POSTGRES_URL", "STINT_TEST_POSTGRES_URL").await
}

async fn fresh() -> Arc<dyn ColdStore> {
    Arc::new(SqlStore::connect(&new_database().await).await.unwrap())
}

async fn fresh_over_tls() -> Arc<dyn ColdStore> {
    let url = new_database_via("STINT_TEST_POSTGRES_TLS_URL", "STINT_TEST_POSTGRES_TLS_URL").await;
    Arc::new(SqlStore::connect(&url).await.unwrap())
}

async fn fresh_through_pgbouncer() -> Arc<dyn ColdStore> {
    let url = new_database_via("STINT_TEST_POSTGRES_URL", "STINT_TEST_PGBOUNCER_URL").await;
    Arc::new(SqlStore::connect(&url).await.unwrap())
}

stint_conformance::cold_store_suite!(fresh());

mod over_tls {
    stint_conformance::cold_store_suite!(super::fresh_over_tls());
}

mod through_pgbouncer {
    stint_conformance::cold_store_suite!(super::fresh_through_pgbouncer());
}

/// The TLS-only server refuses a client that does not use TLS, so the suite
/// above did run over TLS.
#[tokio::test]
async fn the_tls_server_takes_tls_only() {
    let url = env("STINT_TEST_POSTGRES_TLS_URL");
    let plain = format!("{}?sslmode=disable", url.split_once('?').unwrap().0);
    let err = SqlStore::connect(&plain).await.unwrap_err();
    assert!(matches!(err, stint_sql::StoreError::Connect(_)), "{err}");
    assert!(err.to_string().contains("no encryption"), "{err}");
}

/// A server whose certificate does not chain to the root the URL names is
/// refused, directly and through PgBouncer, with the reason.
#[tokio::test]
async fn a_certificate_from_another_authority_is_refused() {
    let wrong = env("STINT_TEST_TLS_WRONG_CA");
    for var in ["STINT_TEST_POSTGRES_TLS_URL", "STINT_TEST_PGBOUNCER_URL"] {
        let url = env(var).replace(&env("STINT_TEST_TLS_CA"), &wrong);
        assert!(url.contains(&wrong), "{url}");
        let err = SqlStore::connect(&url).await.unwrap_err();
        assert!(matches!(err, stint_sql::StoreError::Connect(_)), "{var}: {err}");
        assert!(
            err.to_string().contains("invalid peer certificate"),
            "{var}: {err}"
        );
    }
}

/// `verify-full` checks the name too: the certificate is for localhost and
/// 127.0.0.1, not for another address of the same machine.
#[tokio::test]
async fn verify_full_checks_the_host_name() {
    let url = new_database_via("STINT_TEST_POSTGRES_TLS_URL", "STINT_TEST_POSTGRES_TLS_URL")
        .await
        .replace("@127.0.0.1:", "@127.0.0.2:");
    let err = SqlStore::connect(&url).await.unwrap_err();
    assert!(
        err.to_string().contains("not valid for name \"127.0.0.2\""),
        "{err}"
    );
    // verify-ca trusts the authority and not the name.
    let url = url.replace("sslmode=verify-full", "sslmode=verify-ca");
    SqlStore::connect(&url).await.unwrap();
}

/// Through PgBouncer in transaction mode, parallel work on one store shares
/// few server connections handed out in turn: every statement still finds
/// what it prepared, and every write lands.
#[tokio::test]
async fn parallel_work_through_pgbouncer_loses_nothing() {
    use stint_core::event::{Event, kinds};
    use stint_core::store::{HistoryStore, Record};
    use stint_core::{Attributes, SessionRecord, Timestamp, VisitorId};

    let store = Arc::new(
        SqlStore::connect(&new_database_via("STINT_TEST_POSTGRES_URL", "STINT_TEST_PGBOUNCER_URL").await)
            .await
            .unwrap(),
    );
    let at = Timestamp(1_795_000_000_000);
    let mut tasks = Vec::new();
    for i in 0..48 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let s = SessionRecord::new(VisitorId::new(), Attributes::default(), at.plus_secs(i));
            let mut batch = vec![Record::Snapshot {
                session: s.clone(),
                token: None,
            }];
            for n in 0..5 {
                batch.push(Record::Event(Event::new(
                    s.id,
                    s.visitor_id,
                    kinds::PAGE_VIEW,
                    at.plus_secs(i + n),
                )));
            }
            store.write(&batch).await.unwrap();
            let back = store.session(&s.id).await.unwrap().unwrap();
            assert_eq!(back.id, s.id);
            assert_eq!(store.events(&s.id).await.unwrap().len(), 5);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.sessions, 48);
    assert_eq!(stats.events, 48 * 5);
}

/// Instances that start together through PgBouncer migrate the database
/// once; one migrating directly at the same time waits for them.
#[tokio::test]
async fn instances_starting_together_through_pgbouncer_migrate_once() {
    let url = new_database_via("STINT_TEST_POSTGRES_URL", "STINT_TEST_PGBOUNCER_URL").await;
    let direct = with_database(
        &env("STINT_TEST_POSTGRES_URL"),
        url.split_once('?').unwrap().0.rsplit_once('/').unwrap().1,
    );
    let starts: Vec<_> = (0..4)
        .map(|i| {
            let url = if i == 3 { direct.clone() } else { url.clone() };
            tokio::spawn(async move { SqlStore::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().unwrap();
    }
    let mut conn = sqlx::PgConnection::connect(&direct).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(applied, 6, "every migration once");
}

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
