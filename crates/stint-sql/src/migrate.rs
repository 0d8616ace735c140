//! Migrations: plain SQL files per backend, compiled into the binary and
//! applied in order, each in its own transaction.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};
use sqlx::{PgPool, SqliteConnection};

use crate::StoreError;

/// The SQLite migrations, oldest first.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (2, "leases", include_str!("../migrations/sqlite/0002_leases.sql")),
    (
        3,
        "daily metrics",
        include_str!("../migrations/sqlite/0003_daily_metrics.sql"),
    ),
    (
        4,
        "open sessions by customer",
        include_str!("../migrations/sqlite/0004_open_sessions_by_customer.sql"),
    ),
    (
        5,
        "day summaries",
        include_str!("../migrations/sqlite/0005_day_summaries.sql"),
    ),
    (
        6,
        "events by time",
        include_str!("../migrations/sqlite/0006_events_by_time.sql"),
    ),
];

/// The PostgreSQL migrations, oldest first.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "leases",
        include_str!("../migrations/postgres/0002_leases.sql"),
    ),
    (
        3,
        "daily metrics",
        include_str!("../migrations/postgres/0003_daily_metrics.sql"),
    ),
    (
        4,
        "open sessions by customer",
        include_str!("../migrations/postgres/0004_open_sessions_by_customer.sql"),
    ),
    (
        5,
        "day summaries",
        include_str!("../migrations/postgres/0005_day_summaries.sql"),
    ),
    (
        6,
        "events by time",
        include_str!("../migrations/postgres/0006_events_by_time.sql"),
    ),
];

/// The checksum recorded for migration 1 by the databases it created. It
/// created the demo storefront's tables too, until they moved to the server
/// (which creates them itself); its text changed, and databases migrated
/// before must still find the checksum they recorded. A database created
/// now records the same one.
const INITIAL_CHECKSUM_SQLITE: &str =
    "0fc43b3e7d32c623e21acc5744df3cbc7682f8e1ab5a1fdb764bfaaab155efe9551cb36d95e3d0ab7ad3612dc5243abd";
const INITIAL_CHECKSUM_POSTGRES: &str =
    "6dce85570a4e5b88ee616f25af24dc469cae2292a28b558ec464f3db92371a9936e1e78cdb81445729a1389e4f84bfdf";

fn migrator(files: &[(i64, &'static str, &'static str)], initial_checksum: &str) -> Migrator {
    let migrations = files
        .iter()
        .map(|(version, description, sql)| {
            let mut m = Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                AssertSqlSafe(*sql).into_sql_str(),
                false,
            );
            if *version == 1 {
                m.checksum = Cow::Owned(hex(initial_checksum));
            }
            m
        })
        .collect();
    Migrator::with_migrations(migrations)
}

fn hex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            };
            (digit(pair[0]) << 4) | digit(pair[1])
        })
        .collect()
}

/// Applies the pending SQLite migrations. A migration that fails is rolled
/// back and stops here with its version named.
///
/// # Errors
///
/// [`StoreError::Migrate`] naming the migration that failed; it is rolled back.
pub async fn sqlite(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    run(&migrator(SQLITE, INITIAL_CHECKSUM_SQLITE), conn)
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()))
}

/// Applies the pending PostgreSQL migrations, under the migrator's advisory
/// lock (several instances may start at once). A migration that fails is
/// rolled back and stops here with its version named.
///
/// Behind a transaction-mode pooler (`transaction_pooler`) a session's lock
/// would stay with whichever server connection took it: the whole run is
/// then one transaction that takes the same lock for itself
/// (`pg_advisory_xact_lock`, which an instance migrating directly waits
/// for too), and drops the statements the migrator prepared before it
/// commits, since the server connection goes on to serve other clients.
///
/// # Errors
///
/// As [`sqlite`].
pub async fn postgres(pool: &PgPool, transaction_pooler: bool) -> Result<(), StoreError> {
    let failed = |e: &dyn std::fmt::Display| StoreError::Migrate(e.to_string());
    let mut migrator = migrator(POSTGRES, INITIAL_CHECKSUM_POSTGRES);
    if !transaction_pooler {
        return run(&migrator, pool).await.map_err(|e| failed(&e));
    }
    migrator.set_locking(false);
    let mut tx = pool.begin().await.map_err(|e| failed(&e))?;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .persistent(false)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| failed(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .persistent(false)
        .bind(lock_id(&database))
        .execute(&mut *tx)
        .await
        .map_err(|e| failed(&e))?;
    run(&migrator, &mut *tx).await.map_err(|e| failed(&e))?;
    sqlx::raw_sql("DEALLOCATE ALL")
        .execute(&mut *tx)
        .await
        .map_err(|e| failed(&e))?;
    tx.commit().await.map_err(|e| failed(&e))
}

/// `migrator.run(on)`, boxed as a `Send` future: left generic, the
/// compiler cannot prove the caller's future `Send` for every lifetime, and
/// [`SqlStore::connect`](crate::SqlStore::connect) could not be spawned.
fn run<'a, A>(migrator: &'a Migrator, on: A) -> BoxFuture<'a, Result<(), MigrateError>>
where
    A: sqlx::Acquire<'a> + Send + 'a,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    Box::pin(migrator.run(on))
}

/// The key of sqlx's migration lock for `database` (as sqlx derives it), so
/// that a run through a pooler and a direct one exclude each other.
fn lock_id(database: &str) -> i64 {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32_ad9e * i64::from(CRC.checksum(database.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned checksums are those of migration 1 as databases recorded it.
    #[test]
    fn the_pinned_checksums_decode_to_sha384_digests() {
        for c in [INITIAL_CHECKSUM_SQLITE, INITIAL_CHECKSUM_POSTGRES] {
            let bytes = hex(c);
            assert_eq!(bytes.len(), 48);
            let back: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(back, c);
        }
    }
}
