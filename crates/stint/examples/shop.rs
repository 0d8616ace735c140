//! A shop's journey on Stint: a cart kept in the session (parallel requests
//! lose no item), login (same session, a fresh cookie token), an order that
//! converts the session, and an event of the shop's own. Customer-only
//! routes take `CustomerSession`; errors answer through `SessionError`'s own
//! response, no `map_err`.
//!
//! ```sh
//! cargo run -p stint --example shop
//! J="-s -c jar -b jar"
//! curl $J localhost:3000/
//! curl $J -X POST -H 'content-type: application/json' -d '{"productId":"p-1","quantity":2}' localhost:3000/cart
//! curl $J -X POST -H 'content-type: application/json' -d '{"customerId":"c-42"}' localhost:3000/login
//! curl $J -X POST localhost:3000/orders
//! curl $J localhost:3000/account
//! ```

use axum::Router;
use axum::extract::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stint::{CustomerSession, Session, SessionError, Stint};

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Cart {
    items: Vec<Item>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    product_id: String,
    quantity: u32,
}

const PRICE: f64 = 19.5;

async fn home(session: Session) -> Json<serde_json::Value> {
    let s = session.record();
    Json(json!({ "sessionId": s.id, "pageViews": s.page_views, "customerId": s.customer_id }))
}

async fn add_to_cart(session: Session, Json(item): Json<Item>) -> Result<Json<Cart>, SessionError> {
    let product = item.product_id.clone();
    // Atomic read-modify-write: two tabs adding at once both land.
    let cart = session
        .modify("cart", |cart: Option<Cart>| {
            let mut cart = cart.unwrap_or_default();
            cart.items.push(item.clone());
            Ok(cart)
        })
        .await?;
    session
        .track(session.event("add_to_cart").product(product))
        .await?;
    Ok(Json(cart))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    customer_id: String,
}

/// A real shop checks a password first; the session only records who signed in.
async fn login(session: Session, Json(body): Json<Login>) -> Result<Json<serde_json::Value>, SessionError> {
    let s = session.login(&body.customer_id).await?;
    Ok(Json(json!({ "sessionId": s.id, "type": "CUSTOMER" })))
}

async fn order(session: Session) -> Result<Response, SessionError> {
    let cart: Cart = session.get("cart")?.unwrap_or_default();
    if cart.items.is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "the cart is empty").into_response());
    }
    let total: f64 = cart.items.iter().map(|i| f64::from(i.quantity) * PRICE).sum();
    let order_id = format!("o-{}", uuid::Uuid::now_v7());
    // The total is the revenue the daily figures count.
    session
        .convert(&order_id, json!({ "total": total, "currency": "EUR" }))
        .await?;
    session.remove("cart");
    session
        .track(
            session
                .event("gift_wrap_offered")
                .metadata(json!({ "orderId": order_id })),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "orderId": order_id, "total": total })),
    )
        .into_response())
}

async fn account(customer: CustomerSession) -> String {
    format!("hello, customer {}\n", customer.customer_id)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stint = Stint::builder().data_dir("data").build().await?;
    let app = Router::new()
        .route("/", get(home))
        .route("/cart", post(add_to_cart))
        .route("/login", post(login))
        .route("/orders", post(order))
        .route("/account", get(account))
        .layer(stint.layer());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    stint.serve(listener, app).await?;
    Ok(())
}
