//! The demo storefront's own tables: customers and orders. They are the
//! shop's data, not the session layer's, and exist so that the demo shows a
//! complete journey.

use serde_json::Value;
use stint_core::{Error, Result, SessionId, Timestamp, VisitorId};

use crate::rows;
use crate::store::{SqlStore, on_pool};

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

impl SqlStore {
    /// Registers a customer; `Ok(false)` if the email is taken.
    pub async fn insert_customer(&self, c: &Customer) -> Result<bool> {
        const SQL: &str = "INSERT INTO customers (id, email, name, password_hash, created_at) \
                           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING";
        on_pool!(self, |p, d| {
            let done = sqlx::query(SQL)
                .bind(&c.id)
                .bind(&c.email)
                .bind(&c.name)
                .bind(&c.password_hash)
                .bind(c.created_at.millis())
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The customer with this (lower-cased) email.
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<Customer>> {
        const SQL: &str = "SELECT id, email, name, password_hash, created_at FROM customers WHERE email = $1";
        on_pool!(self, |p, d| {
            let row = sqlx::query(SQL)
                .bind(email)
                .fetch_optional(p)
                .await
                .map_err(cold)?;
            row.as_ref().map(rows::customer).transpose()
        })
    }

    /// The customer with this id.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        const SQL: &str = "SELECT id, email, name, password_hash, created_at FROM customers WHERE id = $1";
        on_pool!(self, |p, d| {
            let row = sqlx::query(SQL).bind(id).fetch_optional(p).await.map_err(cold)?;
            row.as_ref().map(rows::customer).transpose()
        })
    }

    /// Replaces a customer's password hash.
    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<()> {
        const SQL: &str = "UPDATE customers SET password_hash = $1 WHERE id = $2";
        on_pool!(self, |p, d| {
            sqlx::query(SQL)
                .bind(hash)
                .bind(id)
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(())
        })
    }

    /// Stores an order (synchronously: an order is the shop's own record).
    pub async fn insert_order(&self, o: &Order) -> Result<()> {
        const SQL: &str = "INSERT INTO orders (id, session_id, visitor_id, customer_id, total_cents, items, \
                           shipping_address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, |p, d| {
            sqlx::query(SQL)
                .bind(&o.id)
                .bind(o.session_id.to_string())
                .bind(o.visitor_id.to_string())
                .bind(o.customer_id.as_deref())
                .bind(o.total_cents)
                .bind(o.items.to_string())
                .bind(o.shipping_address.to_string())
                .bind(o.created_at.millis())
                .execute(p)
                .await
                .map_err(cold)?;
            Ok(())
        })
    }

    /// A customer's orders, oldest first.
    pub async fn orders_of_customer(&self, customer: &str) -> Result<Vec<Order>> {
        const SQL: &str = "SELECT id, session_id, visitor_id, customer_id, total_cents, items, shipping_address, \
                           created_at FROM orders WHERE customer_id = $1 ORDER BY created_at, id";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL).bind(customer).fetch_all(p).await.map_err(cold)?;
            rows.iter().map(rows::order).collect()
        })
    }

    /// A visitor's orders, oldest first.
    pub async fn orders_of_visitor(&self, visitor: &VisitorId) -> Result<Vec<Order>> {
        const SQL: &str = "SELECT id, session_id, visitor_id, customer_id, total_cents, items, shipping_address, \
                           created_at FROM orders WHERE visitor_id = $1 ORDER BY created_at, id";
        on_pool!(self, |p, d| {
            let rows = sqlx::query(SQL)
                .bind(visitor.to_string())
                .fetch_all(p)
                .await
                .map_err(cold)?;
            rows.iter().map(rows::order).collect()
        })
    }
}
