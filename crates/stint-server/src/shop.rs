//! The demo storefront's own records: customers and orders. They are the
//! shop's data, not the session layer's: they live in the same database as
//! Stint's tables (the one `DATABASE_URL` names) but in tables the server
//! creates and queries itself, through sqlx's `Any` driver, so that one text
//! of each statement serves SQLite and PostgreSQL.

use serde_json::Value;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};
use stint_core::{Error, Result, SessionId, Timestamp, VisitorId};

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

/// The shop's records in the durable store's database.
#[derive(Clone, Debug)]
pub struct Shop {
    pool: AnyPool,
}

impl Shop {
    /// Connects to the database at `url` (the durable store's, already
    /// created and migrated) and creates the shop's tables if missing.
    pub async fn open(url: &str) -> Result<Shop> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(db)?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await.map_err(db)?;
        }
        Ok(Shop { pool })
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Registers a customer; `Ok(false)` if the email is taken.
    pub async fn insert_customer(&self, c: &Customer) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO customers (id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING",
        )
        .bind(&c.id)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.password_hash)
        .bind(c.created_at.millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    /// The customer with this (lower-cased) email.
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER} WHERE email = $1")))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(customer).transpose()
    }

    /// The customer with this id.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CUSTOMER} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(customer).transpose()
    }

    /// Replaces a customer's password hash.
    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE customers SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Stores an order (synchronously: an order is the shop's own record).
    pub async fn insert_order(&self, o: &Order) -> Result<()> {
        sqlx::query(
            "INSERT INTO orders (id, session_id, visitor_id, customer_id, total_cents, items, \
             shipping_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&o.id)
        .bind(o.session_id.to_string())
        .bind(o.visitor_id.to_string())
        .bind(o.customer_id.as_deref())
        .bind(o.total_cents)
        .bind(o.items.to_string())
        .bind(o.shipping_address.to_string())
        .bind(o.created_at.millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// A customer's orders, oldest first.
    pub async fn orders_of_customer(&self, customer: &str) -> Result<Vec<Order>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ORDER} WHERE customer_id = $1 ORDER BY created_at, id"
        )))
        .bind(customer)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(order).collect()
    }

    /// A visitor's orders, oldest first.
    pub async fn orders_of_visitor(&self, visitor: &VisitorId) -> Result<Vec<Order>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ORDER} WHERE visitor_id = $1 ORDER BY created_at, id"
        )))
        .bind(visitor.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(order).collect()
    }
}

fn customer(row: &AnyRow) -> Result<Customer> {
    Ok(Customer {
        id: row.try_get("id").map_err(db)?,
        email: row.try_get("email").map_err(db)?,
        name: row.try_get("name").map_err(db)?,
        password_hash: row.try_get("password_hash").map_err(db)?,
        created_at: Timestamp(row.try_get("created_at").map_err(db)?),
    })
}

fn order(row: &AnyRow) -> Result<Order> {
    let text = |name: &str| -> Result<String> { row.try_get(name).map_err(db) };
    let items: Value = serde_json::from_str(&text("items")?).map_err(|e| corrupt("order items", e))?;
    let shipping_address = match row.try_get::<Option<String>, _>("shipping_address").map_err(db)? {
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
        customer_id: row.try_get("customer_id").map_err(db)?,
        total_cents: row.try_get("total_cents").map_err(db)?,
        items,
        shipping_address,
        created_at: Timestamp(row.try_get("created_at").map_err(db)?),
    })
}
