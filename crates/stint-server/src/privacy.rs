//! The rights of access and erasure: everything stored about one visitor or
//! customer, as one JSON document, and its deletion from every store.

use crate::shop::Shop;
use serde_json::{Value, json};
use stint_core::{Engine, Person};

use crate::api::ApiError;
use crate::views::{CustomerView, OrderView};

/// Everything stored about `who`: sessions (with their data and events),
/// orders and, for a customer, the account (never its password hash).
/// `None` if nothing is stored.
pub async fn export(engine: &Engine, shop: &Shop, who: &Person) -> Result<Option<Value>, ApiError> {
    let sessions: Vec<Value> = engine
        .person(who)
        .await?
        .into_iter()
        .map(|(session, events)| {
            let mut v = serde_json::to_value(&session).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("data".to_owned(), Value::Object((*session.data).clone()));
                map.insert(
                    "events".to_owned(),
                    serde_json::to_value(events).unwrap_or(Value::Null),
                );
            }
            v
        })
        .collect();
    let (subject, account, orders) = match who {
        Person::Visitor(v) => (
            json!({ "visitorId": v }),
            Value::Null,
            shop.orders_of_visitor(v).await?,
        ),
        Person::Customer(c) => {
            let account = shop
                .customer(c)
                .await?
                .map(|a| serde_json::to_value(CustomerView::from(&a)).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            (
                json!({ "customerId": c }),
                account,
                shop.orders_of_customer(c).await?,
            )
        }
    };
    if sessions.is_empty() && orders.is_empty() && account.is_null() {
        return Ok(None);
    }
    let mut doc = subject;
    if let Value::Object(map) = &mut doc {
        if !account.is_null() {
            map.insert("customer".to_owned(), account);
        }
        map.insert("exportedAt".to_owned(), json!(engine.now()));
        map.insert("sessions".to_owned(), Value::Array(sessions));
        map.insert(
            "orders".to_owned(),
            serde_json::to_value(orders.iter().map(OrderView::from).collect::<Vec<_>>())
                .unwrap_or(Value::Null),
        );
    }
    Ok(Some(doc))
}

/// Erases `who`'s sessions and events from every store; returns how many sessions.
pub async fn erase(engine: &Engine, who: &Person) -> Result<u64, ApiError> {
    Ok(engine.erase(who).await?)
}
