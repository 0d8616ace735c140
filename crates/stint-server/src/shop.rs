//! The demo storefront's own records: customers and orders. They are the
//! shop's data, not the session layer's: they live in the same database as
//! Stint's tables (the one `DATABASE_URL` names) but in tables the server
//! creates and queries itself. One text of each statement serves SQLite and
//! PostgreSQL (`$N` placeholders are understood by both); [`on_db!`] runs it
//! on whichever the URL named, behind a transaction-mode pooler as
//! [`stint_sql::PostgresUrl`] describes (each statement in a transaction of
//! its own, prepared unnamed).

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use stint_core::{Error, Result, SessionId, Timestamp, VisitorId};
use stint_sql::PostgresUrl;

/// A registered customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    /// Id.
    pub id: String,
    /// Email, lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Registration time.
    pub created_at: Timestamp,
}

/// A placed order.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Id.
    pub id: String,
    /// The session it was placed in.
    pub session_id: SessionId,
    /// The visitor who placed it.
    pub visitor_id: VisitorId,
    /// The customer, if signed in.
    pub customer_id: Option<String>,
    /// Total, in cents.
    pub total_cents: i64,
    /// Lines, as JSON.
    pub items: Value,
    /// The shipping address, as JSON.
    pub shipping_address: Value,
    /// When.
    pub created_at: Timestamp,
}

/// The shop's tables. `IF NOT EXISTS`: databases that Stint's own first
/// migration set up before the shop moved out already have them.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS customers (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS orders (
        id               TEXT PRIMARY KEY,
        session_id       TEXT NOT NULL,
        visitor_id       TEXT NOT NULL,
        customer_id      TEXT,
        total_cents      BIGINT NOT NULL,
        items            TEXT NOT NULL,
        shipping_address TEXT,
        created_at       BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS orders_visitor ON orders (visitor_id, created_at)",
    "CREATE INDEX IF NOT EXISTS orders_session ON orders (session_id)",
    "CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, created_at)",
];

const CUSTOMER: &str = "SELECT id, email, name, password_hash, created_at FROM customers";
const ORDER: &str = "SELECT id, session_id, visitor_id, customer_id, total_cents, items, shipping_address, \
                     created_at FROM orders";

fn db(e: sqlx::Error) -> Error {
    Error::cold(e)
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what,
        message: e.to_string(),
    }
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    /// The pool, and whether a transaction-mode pooler stands between.
    Postgres(PgPool, bool),
}

/// Runs `$body` with `$c` bound to a connection and `$persistent` to whether
/// statements may be kept prepared; compiled once per backend.
macro_rules! on_db {
    ($shop:expr, |$c:ident, $persistent:ident| $body:expr) => {
        match &$shop.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await.map_err(db)?;
                let $c: &mut sqlx::SqliteConnection = &mut *conn;
                let $persistent = true;
                $body
            }
            Pool::Postgres(pool, false) => {
                let mut conn = pool.acquire().await.map_err(db)?;
                let $c: &mut sqlx::PgConnection = &mut *conn;
                let $persistent = true;
                $body
            }
            Pool::Postgres(pool, true) => {
                let mut tx = pool.begin().await.map_err(db)?;
                let out = {
                    let $c: &mut sqlx::PgConnection = &mut *tx;
                    let $persistent = false;
                    $body
                };
                tx.commit().await.map_err(db)?;
                out
            }
        }
    };
}

/// The shop's records in the durable store's database.
#[derive(Clone, Debug)]
pub struct Shop {
    pool: Pool,
}

impl Shop {
    /// Connects to the database at `url` (the durable store's, already
    /// created and migrated) and creates the shop's tables if missing.
    pub async fn open(url: &str) -> Result<Shop> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(db)?
                .busy_timeout(Duration::from_secs(10));
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options)
                    .await
                    .map_err(db)?,
            )
        } else {
            let url = PostgresUrl::parse(url).map_err(|e| Error::InvalidData(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(url.options().clone())
                .await
                .map_err(db)?;
            Pool::Postgres(pool, url.transaction_pooler())
        };
        let shop = Shop { pool };
        for statement in SCHEMA {
            on_db!(shop, |c, persistent| {
                sqlx::query(*statement)
                    .persistent(persistent)
                    .execute(c)
                    .await
                    .map_err(db)?;
            });
        }
        Ok(shop)
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p, _) => p.close().await,
        }
    }

    /// Registers a customer; `Ok(false)` if the email is taken.
    pub async fn insert_customer(&self, customer: &Customer) -> Result<bool> {
        let done = on_db!(self, |c, persistent| sqlx::query(
            "INSERT INTO customers (id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
        )
        .persistent(persistent)
        .bind(&customer.id)
        .bind(&customer.email)
        .bind(&customer.name)
        .bind(&customer.password_hash)
        .bind(customer.created_at.millis())
        .execute(c)
        .await
        .map_err(db)?
        .rows_affected());
        Ok(done == 1)
    }

    /// The customer with this (lower-cased) email.
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>> {
        on_db!(self, |c, persistent| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER} WHERE email = $1")))
                .persistent(persistent)
                .bind(email)
                .fetch_optional(c)
                .await
                .map_err(db)?;
            row.as_ref().map(customer).transpose()
        })
    }

    /// The customer with this id.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        on_db!(self, |c, persistent| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER} WHERE id = $1")))
                .persistent(persistent)
                .bind(id)
                .fetch_optional(c)
                .await
                .map_err(db)?;
            row.as_ref().map(customer).transpose()
        })
    }

    /// Replaces a customer's password hash.
    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        on_db!(self, |c, persistent| {
            sqlx::query("UPDATE customers SET password_hash = $1 WHERE id = $2")
                .persistent(persistent)
                .bind(hash)
                .bind(id)
                .execute(c)
                .await
                .map_err(db)?;
        });
        Ok(())
    }

    /// Stores an order (synchronously: an order is the shop's own record).
    pub async fn insert_order(&self, o: &Order) -> Result<()> {
        on_db!(self, |c, persistent| {
            sqlx::query(
                "INSERT INTO orders (id, session_id, visitor_id, customer_id, total_cents, items, \
                 shipping_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .persistent(persistent)
            .bind(&o.id)
            .bind(o.session_id.to_string())
            .bind(o.visitor_id.to_string())
            .bind(o.customer_id.as_deref())
            .bind(o.total_cents)
            .bind(o.items.to_string())
            .bind(o.shipping_address.to_string())
            .bind(o.created_at.millis())
            .execute(c)
            .await
            .map_err(db)?;
        });
        Ok(())
    }

    /// A customer's orders, oldest first.
    pub async fn orders_of_customer(&self, customer: &str) -> Result<Vec<Order>> {
        on_db!(self, |c, persistent| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{ORDER} WHERE customer_id = $1 ORDER BY created_at, id"
            )))
            .persistent(persistent)
            .bind(customer)
            .fetch_all(c)
            .await
            .map_err(db)?;
            rows.iter().map(order).collect()
        })
    }

    /// A visitor's orders, oldest first.
    pub async fn orders_of_visitor(&self, visitor: &VisitorId) -> Result<Vec<Order>> {
        on_db!(self, |c, persistent| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{ORDER} WHERE visitor_id = $1 ORDER BY created_at, id"
            )))
            .persistent(persistent)
            .bind(visitor.to_string())
            .fetch_all(c)
            .await
            .map_err(db)?;
            rows.iter().map(order).collect()
        })
    }
}

/// A row of either backend, read by column name.
trait Columns {
    fn text(&self, name: &str) -> Result<String>;
    fn optional_text(&self, name: &str) -> Result<Option<String>>;
    fn int(&self, name: &str) -> Result<i64>;
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, name: &str) -> Result<String> {
                self.try_get(name).map_err(db)
            }
            fn optional_text(&self, name: &str) -> Result<Option<String>> {
                self.try_get(name).map_err(db)
            }
            fn int(&self, name: &str) -> Result<i64> {
                self.try_get(name).map_err(db)
            }
        }
    };
}
columns!(SqliteRow);
columns!(PgRow);

fn customer(row: &impl Columns) -> Result<Customer> {
    Ok(Customer {
        id: row.text("id")?,
        email: row.text("email")?,
        name: row.text("name")?,
        password_hash: row.text("password_hash")?,
        created_at: Timestamp(row.int("created_at")?),
    })
}

fn order(row: &impl Columns) -> Result<Order> {
    let text = |name: &str| row.text(name);
    let items: Value = serde_json::from_str(&text("items")?).map_err(|e| corrupt("order items", e))?;
    let shipping_address = match row.optional_text("shipping_address")? {
        Some(a) => serde_json::from_str(&a).map_err(|e| corrupt("order address", e))?,
        None => Value::Null,
    };
    Ok(Order {
        id: text("id")?,
        session_id: text("session_id")?
            .parse()
            .map_err(|e| corrupt("session id", e))?,
        visitor_id: text("visitor_id")?
            .parse()
            .map_err(|e| corrupt("visitor id", e))?,
        customer_id: row.optional_text("customer_id")?,
        total_cents: row.int("total_cents")?,
        items,
        shipping_address,
        created_at: Timestamp(row.int("created_at")?),
    })
}
