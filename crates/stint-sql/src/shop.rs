//! The demo storefront's own tables: customers and orders. They are the
//! shop's data, not the session layer's, and exist so that the demo shows a
//! complete journey.

use serde_json::Value;
use sqlx::Row;
use stint_core::{Error, Result, SessionId, Timestamp, VisitorId};

use crate::SqliteStore;

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

fn cold(e: sqlx::Error) -> Error {
    Error::cold(e)
}

fn corrupt(e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what: "shop row",
        message: e.to_string(),
    }
}

fn customer_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Customer> {
    Ok(Customer {
        id: row.try_get("id").map_err(corrupt)?,
        email: row.try_get("email").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        password_hash: row.try_get("password_hash").map_err(corrupt)?,
        created_at: Timestamp(row.try_get("created_at").map_err(corrupt)?),
    })
}

impl SqliteStore {
    /// Registers a customer; `Ok(false)` if the email is taken.
    pub async fn insert_customer(&self, c: &Customer) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO customers (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&c.id)
        .bind(&c.email)
        .bind(&c.name)
        .bind(&c.password_hash)
        .bind(c.created_at.millis())
        .execute(self.pool())
        .await
        .map_err(cold)?;
        Ok(done.rows_affected() == 1)
    }

    /// The customer with this (lower-cased) email.
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>> {
        let row =
            sqlx::query("SELECT id, email, name, password_hash, created_at FROM customers WHERE email = ?")
                .bind(email)
                .fetch_optional(self.pool())
                .await
                .map_err(cold)?;
        row.as_ref().map(customer_from_row).transpose()
    }

    /// The customer with this id.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let row =
            sqlx::query("SELECT id, email, name, password_hash, created_at FROM customers WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(cold)?;
        row.as_ref().map(customer_from_row).transpose()
    }

    /// Replaces a customer's password hash.
    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE customers SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(cold)?;
        Ok(())
    }

    /// Stores an order (synchronously: an order is the shop's own record).
    pub async fn insert_order(&self, o: &Order) -> Result<()> {
        sqlx::query(
            "INSERT INTO orders (id, session_id, visitor_id, customer_id, total_cents, items, shipping_address, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&o.id)
        .bind(o.session_id.to_string())
        .bind(o.visitor_id.to_string())
        .bind(o.customer_id.as_deref())
        .bind(o.total_cents)
        .bind(o.items.to_string())
        .bind(o.shipping_address.to_string())
        .bind(o.created_at.millis())
        .execute(self.pool())
        .await
        .map_err(cold)?;
        Ok(())
    }

    /// A visitor's orders, oldest first.
    pub async fn orders_of_visitor(&self, visitor: &VisitorId) -> Result<Vec<Order>> {
        let rows = sqlx::query(
            "SELECT id, session_id, visitor_id, customer_id, total_cents, items, shipping_address, created_at \
             FROM orders WHERE visitor_id = ? ORDER BY created_at, id",
        )
        .bind(visitor.to_string())
        .fetch_all(self.pool())
        .await
        .map_err(cold)?;
        rows.iter()
            .map(|row| {
                let session: String = row.try_get("session_id").map_err(corrupt)?;
                let visitor: String = row.try_get("visitor_id").map_err(corrupt)?;
                let items: String = row.try_get("items").map_err(corrupt)?;
                let address: Option<String> = row.try_get("shipping_address").map_err(corrupt)?;
                Ok(Order {
                    id: row.try_get("id").map_err(corrupt)?,
                    session_id: session.parse().map_err(corrupt)?,
                    visitor_id: visitor.parse().map_err(corrupt)?,
                    customer_id: row.try_get("customer_id").map_err(corrupt)?,
                    total_cents: row.try_get("total_cents").map_err(corrupt)?,
                    items: serde_json::from_str(&items).map_err(corrupt)?,
                    shipping_address: address
                        .map(|a| serde_json::from_str(&a))
                        .transpose()
                        .map_err(corrupt)?
                        .unwrap_or(Value::Null),
                    created_at: Timestamp(row.try_get("created_at").map_err(corrupt)?),
                })
            })
            .collect()
    }
}
