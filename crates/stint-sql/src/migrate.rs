//! Migrations: plain SQL files per backend, compiled into the binary and
//! applied in order, each in its own transaction.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
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
];

fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = files
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                AssertSqlSafe(*sql).into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Applies the pending SQLite migrations. A migration that fails is rolled
/// back and stops here with its version named.
pub async fn sqlite(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    migrator(SQLITE)
        .run(conn)
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()))
}

/// Applies the pending PostgreSQL migrations, under the migrator's advisory
/// lock (several instances may start at once). A migration that fails is
/// rolled back and stops here with its version named.
pub async fn postgres(pool: &PgPool) -> Result<(), StoreError> {
    migrator(POSTGRES)
        .run(pool)
        .await
        .map_err(|e| StoreError::Migrate(e.to_string()))
}
