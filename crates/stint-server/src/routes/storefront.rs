//! The demo storefront: products, the cart, accounts and orders, every route
//! behind the session layer.

use crate::shop::{Customer, Order};
use crate::views::{CheckoutView, CustomerView, DeviceSession, LoggedIn, LoggedOut, OrderView, Revoked};
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use stint_axum::Session;
use stint_core::event::kinds;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, ApiResult, Json, Reply, SignedIn, created, ok};
use crate::catalogue::{self, Cart, CartView, MAX_LINES, MAX_QUANTITY, PRODUCTS, ProductView};
use crate::passwords;
use crate::state::AppState;

/// The storefront's routes (mounted under `/api/storefront`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(products))
        .routes(routes!(product))
        .routes(routes!(session))
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(cart))
        .routes(routes!(add_to_cart))
        .routes(routes!(checkout))
        .routes(routes!(place_order))
        .routes(routes!(me))
        .routes(routes!(my_sessions))
        .routes(routes!(revoke_my_other_sessions))
        .routes(routes!(change_password))
}

#[utoipa::path(get, path = "/products", tag = "storefront",
    responses((status = 200, description = "The demo catalogue", body = crate::openapi::Envelope<Vec<ProductView>>)))]
async fn products() -> Reply<Vec<ProductView>> {
    ok(PRODUCTS.iter().map(ProductView::from).collect())
}

#[utoipa::path(get, path = "/products/{id}", tag = "storefront",
    params(("id" = String, Path, description = "A product id, e.g. p-1")),
    responses((status = 200, description = "The product", body = crate::openapi::Envelope<ProductView>),
        (status = 404, description = "Unknown product", body = crate::openapi::Failure)))]
async fn product(Path(id): Path<String>) -> ApiResult<Reply<ProductView>> {
    catalogue::product(&id)
        .map(|p| ok(ProductView::from(p)))
        .ok_or_else(|| ApiError::NotFound(format!("Product not found: {}", clip(&id))))
}

#[utoipa::path(get, path = "/session", tag = "storefront",
    responses((status = 200, description = "The current session (this request counted)", body = crate::openapi::Envelope<stint_core::SessionSchema>)))]
async fn session(session: Session) -> Reply<stint_core::SessionRecord> {
    ok(session.record())
}

/// `POST /auth/register`'s body (read field by field, for messages that
/// name the field).
#[derive(ToSchema)]
#[allow(dead_code)]
struct Registration {
    email: String,
    password: String,
    name: String,
}

/// `POST /auth/login`'s body.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Credentials {
    email: String,
    password: String,
}

/// `POST /me/password`'s body.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Echoes user input in messages only in part, so an error cannot be a megabyte.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn field<'a>(v: &'a Value, name: &str) -> ApiResult<&'a str> {
    match v.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::BadRequest(format!("{name} must be a string"))),
        None => Err(ApiError::BadRequest(format!("{name} is required"))),
    }
}

fn normalise_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(ApiError::BadRequest("email is not a valid address".into()))
    }
}

#[utoipa::path(post, path = "/auth/register", tag = "storefront", request_body = Registration,
    responses((status = 201, description = "The new customer", body = crate::openapi::Envelope<CustomerView>),
        (status = 400, description = "Bad email, name or weak password", body = crate::openapi::Failure),
        (status = 409, description = "Email taken", body = crate::openapi::Failure)))]
async fn register(State(app): State<AppState>, Json(body): Json<Value>) -> ApiResult<Reply<CustomerView>> {
    let email = normalise_email(field(&body, "email")?)?;
    let password = field(&body, "password")?;
    let name = field(&body, "name")?.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest("name must have 1 to 100 characters".into()));
    }
    passwords::check_strength(password)?;
    if app.shop.customer_by_email(&email).await?.is_some() {
        return Err(ApiError::Conflict("Email already registered".into()));
    }
    let customer = Customer {
        id: uuid::Uuid::now_v7().to_string(),
        email,
        name: name.to_owned(),
        password_hash: passwords::hash(password.to_owned()).await?,
        created_at: app.engine.now(),
    };
    if !app.shop.insert_customer(&customer).await? {
        return Err(ApiError::Conflict("Email already registered".into()));
    }
    Ok(created(CustomerView::from(&customer)))
}

#[utoipa::path(post, path = "/auth/login", tag = "storefront", request_body = Credentials,
    responses((status = 200, description = "Signed in: the same sessionId, type CUSTOMER, a new token in the cookie", body = crate::openapi::Envelope<LoggedIn>),
        (status = 401, description = "Wrong email or password", body = crate::openapi::Failure)))]
async fn login(
    State(app): State<AppState>,
    session: Session,
    Json(body): Json<Value>,
) -> ApiResult<Reply<LoggedIn>> {
    let email = field(&body, "email")?.trim().to_lowercase();
    let password = field(&body, "password")?;
    if password.len() > passwords::MAX_LEN {
        return Err(ApiError::Unauthorized("Invalid email or password"));
    }
    let customer = app.shop.customer_by_email(&email).await?;
    // Verify against a real hash even for an unknown email, so that timing
    // does not tell which emails are registered.
    let hash = customer
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    let matches = passwords::verify(password.to_owned(), hash).await?;
    let Some(customer) = customer.filter(|_| matches) else {
        return Err(ApiError::Unauthorized("Invalid email or password"));
    };
    session.login(&customer.id).await?;
    merge_carts(&app, &session, &customer.id).await?;
    Ok(ok(LoggedIn {
        customer: CustomerView::from(&customer),
        session: session.record(),
    }))
}

/// The cart survives login: the session keeps its (anonymous) cart, and the
/// cart of the customer's most recently seen other live session is merged
/// into it (same product: quantities summed). The other session keeps its own.
async fn merge_carts(app: &AppState, session: &Session, customer_id: &str) -> ApiResult<()> {
    let current = session.id();
    let other = app
        .engine
        .customer_sessions(customer_id)
        .await?
        .into_iter()
        .filter(|s| s.id != current)
        .find_map(|s| {
            s.data
                .get("cart")
                .and_then(|c| serde_json::from_value::<Cart>(c.clone()).ok())
        })
        .filter(|c| !c.items.is_empty());
    if let Some(other) = other {
        session
            .modify("cart", |cart: Option<Cart>| {
                Ok(cart.unwrap_or_default().merged_with(&other))
            })
            .await?;
    }
    Ok(())
}

/// An Argon2id hash of a random password, for unknown emails.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3RpbnRkdW1teXNhbHQ$2VfsZpkuHx0T6gfZsU7y0pLY9wILHM1y1ZBr8V5f0Bk";

#[utoipa::path(post, path = "/auth/logout", tag = "storefront",
    responses((status = 200, description = "The session ended (its history is kept)", body = crate::openapi::Envelope<LoggedOut>)))]
async fn logout(session: Session) -> ApiResult<Reply<LoggedOut>> {
    let id = session.id();
    session.logout().await?;
    Ok(ok(LoggedOut {
        session_id: id,
        logged_out: true,
    }))
}

fn cart_of(session: &Session) -> ApiResult<Cart> {
    Ok(session.get::<Cart>("cart")?.unwrap_or_default())
}

#[utoipa::path(get, path = "/cart", tag = "storefront",
    responses((status = 200, description = "The cart kept in the session's data", body = crate::openapi::Envelope<CartView>)))]
async fn cart(session: Session) -> ApiResult<Reply<CartView>> {
    Ok(ok(cart_of(&session)?.view()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CartItem {
    product_id: String,
    quantity: i64,
}

fn quantity(q: i64) -> ApiResult<u32> {
    if q <= 0 {
        return Err(ApiError::BadRequest("quantity must be a positive integer".into()));
    }
    u32::try_from(q)
        .ok()
        .filter(|q| *q <= MAX_QUANTITY)
        .ok_or_else(|| ApiError::BadRequest(format!("quantity must be at most {MAX_QUANTITY}")))
}

#[utoipa::path(post, path = "/cart/items", tag = "storefront", request_body = CartItem,
    responses((status = 200, description = "The cart; records add_to_cart", body = crate::openapi::Envelope<CartView>),
        (status = 400, description = "Unknown product or bad quantity", body = crate::openapi::Failure)))]
async fn add_to_cart(session: Session, Json(item): Json<CartItem>) -> ApiResult<Reply<CartView>> {
    let product = catalogue::product(&item.product_id)
        .ok_or_else(|| ApiError::BadRequest(format!("Unknown product: {}", clip(&item.product_id))))?;
    let quantity = quantity(item.quantity)?;
    let cart: Cart = session
        .modify("cart", |cart: Option<Cart>| {
            cart.unwrap_or_default().add(product.id, quantity)
        })
        .await?;
    let event = session
        .event(kinds::ADD_TO_CART)
        .product(product.id)
        .page("/api/storefront/cart/items")
        .metadata(json!({ "quantity": quantity, "price": catalogue::units(product.price_cents) }));
    session.track(event).await?;
    Ok(ok(cart.view()))
}

#[utoipa::path(post, path = "/checkout", tag = "storefront",
    responses((status = 200, description = "Records checkout_started", body = crate::openapi::Envelope<CheckoutView>)))]
async fn checkout(session: Session) -> ApiResult<Reply<CheckoutView>> {
    let cart = cart_of(&session)?;
    let event = session
        .event(kinds::CHECKOUT_STARTED)
        .page("/api/storefront/checkout")
        .metadata(json!({ "total": catalogue::units(cart.total_cents()), "items": cart.items.len() }));
    session.track(event).await?;
    Ok(ok(CheckoutView {
        cart: cart.view(),
        session_id: session.id(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OrderRequest {
    items: Vec<CartItem>,
    #[serde(default)]
    shipping_address: Value,
}

#[utoipa::path(post, path = "/orders", tag = "storefront", request_body = OrderRequest,
    responses((status = 201, description = "The order; the session is converted; records order_completed", body = crate::openapi::Envelope<OrderView>),
        (status = 400, description = "No items, unknown product or bad quantity", body = crate::openapi::Failure)))]
async fn place_order(
    State(app): State<AppState>,
    session: Session,
    Json(body): Json<OrderRequest>,
) -> ApiResult<Reply<OrderView>> {
    if body.items.is_empty() {
        return Err(ApiError::BadRequest("items must not be empty".into()));
    }
    if body.items.len() > MAX_LINES {
        return Err(ApiError::BadRequest(format!(
            "At most {MAX_LINES} items per order"
        )));
    }
    let mut lines = Vec::with_capacity(body.items.len());
    let mut total_cents = 0i64;
    for item in &body.items {
        let product = catalogue::product(&item.product_id)
            .ok_or_else(|| ApiError::BadRequest(format!("Unknown product: {}", clip(&item.product_id))))?;
        let quantity = quantity(item.quantity)?;
        total_cents += product.price_cents * i64::from(quantity);
        lines.push(json!({
            "productId": product.id,
            "name": product.name,
            "price": catalogue::units(product.price_cents),
            "quantity": quantity,
        }));
    }
    if body.shipping_address.to_string().len() > 2048 {
        return Err(ApiError::BadRequest("shippingAddress is too large".into()));
    }
    let record = session.record();
    let order = Order {
        id: uuid::Uuid::now_v7().to_string(),
        session_id: record.id,
        visitor_id: record.visitor_id,
        customer_id: record.customer_id.clone(),
        total_cents,
        items: Value::Array(lines),
        shipping_address: body.shipping_address,
        created_at: app.engine.now(),
    };
    app.shop.insert_order(&order).await?;
    let total = catalogue::units(total_cents);
    session
        .convert(
            &order.id,
            json!({ "orderId": order.id, "total": total, "items": order.items }),
        )
        .await?;
    session.remove("cart");
    Ok(created(OrderView::from(&order)))
}

#[utoipa::path(get, path = "/me", tag = "storefront",
    responses((status = 200, description = "The signed-in customer", body = crate::openapi::Envelope<CustomerView>),
        (status = 401, description = "Authentication required", body = crate::openapi::Failure)))]
async fn me(State(app): State<AppState>, SignedIn(customer): SignedIn) -> ApiResult<Reply<CustomerView>> {
    let c = app
        .shop
        .customer(&customer.customer_id)
        .await?
        .ok_or(ApiError::Unauthorized("Authentication required"))?;
    Ok(ok(CustomerView::from(&c)))
}

#[utoipa::path(get, path = "/me/sessions", tag = "storefront",
    responses((status = 200, description = "The customer's active sessions", body = crate::openapi::Envelope<Vec<DeviceSession>>),
        (status = 401, description = "Authentication required", body = crate::openapi::Failure)))]
async fn my_sessions(
    State(app): State<AppState>,
    SignedIn(customer): SignedIn,
) -> ApiResult<Reply<Vec<DeviceSession>>> {
    let current = customer.id();
    let sessions = app.engine.customer_sessions(&customer.customer_id).await?;
    Ok(ok(sessions
        .iter()
        .map(|s| DeviceSession::of(s, current))
        .collect()))
}

#[utoipa::path(delete, path = "/me/sessions/others", tag = "storefront",
    responses((status = 200, description = "Every other session of the customer signed out", body = crate::openapi::Envelope<Revoked>),
        (status = 401, description = "Authentication required", body = crate::openapi::Failure)))]
async fn revoke_my_other_sessions(
    State(app): State<AppState>,
    SignedIn(customer): SignedIn,
) -> ApiResult<Reply<Revoked>> {
    let keep = customer.id();
    let n = app
        .engine
        .revoke_customer(&customer.customer_id, Some(&keep))
        .await?;
    Ok(ok(Revoked { revoked: n }))
}

#[utoipa::path(post, path = "/me/password", tag = "storefront", request_body = PasswordChange,
    responses((status = 200, description = "Changed; every other session of the customer is revoked", body = crate::openapi::Envelope<Revoked>),
        (status = 400, description = "Weak new password", body = crate::openapi::Failure),
        (status = 401, description = "Wrong current password", body = crate::openapi::Failure)))]
async fn change_password(
    State(app): State<AppState>,
    SignedIn(customer): SignedIn,
    Json(body): Json<Value>,
) -> ApiResult<Reply<Revoked>> {
    let current = field(&body, "currentPassword")?;
    let new = field(&body, "newPassword")?;
    let c = app
        .shop
        .customer(&customer.customer_id)
        .await?
        .ok_or(ApiError::Unauthorized("Authentication required"))?;
    if current.len() > passwords::MAX_LEN || !passwords::verify(current.to_owned(), c.password_hash).await? {
        return Err(ApiError::Unauthorized("Current password is wrong"));
    }
    passwords::check_strength(new)?;
    app.shop
        .set_password_hash(&c.id, &passwords::hash(new.to_owned()).await?)
        .await?;
    let keep = customer.id();
    let n = app.engine.revoke_customer(&c.id, Some(&keep)).await?;
    Ok(ok(Revoked { revoked: n }))
}
