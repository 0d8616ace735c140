//! The OpenAPI 3.1 document of every route, served at `GET /api/openapi.json`.
//!
//! It is generated from the code: each handler carries a `#[utoipa::path]`
//! annotation next to its signature, the answer types derive their schemas
//! beside their `Serialize`, and the routers register handlers through
//! utoipa-axum's `routes!`, which routes and documents a handler in one
//! step, so that a route cannot exist undocumented.

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `{"success": true, "data": …}`: every JSON answer of the storefront, the
/// admin API and the session API.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    /// The answer.
    pub data: T,
}

/// `{"success": false, "error": "…"}`: every error, with a message that says
/// what was wrong.
#[derive(Serialize, ToSchema)]
pub struct Failure {
    /// Always `false`.
    pub success: bool,
    /// What went wrong, in words.
    pub error: String,
}

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stint",
        description = "Session management and visitor-journey tracking for e-commerce backends. \
            The storefront is a demo behind the session layer (cookies `session` and `visitor_id`); \
            the admin API takes `STINT_ADMIN_TOKEN`, the session API and the gateway a key of \
            `STINT_SERVICE_KEY`, each as `Authorization: Bearer`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "storefront", description = "The demo storefront, behind the session layer"),
        (name = "admin", description = "Sessions, people and analytics, for the shop's staff"),
        (name = "session API", description = "Stint for backends in any language"),
        (name = "gateway", description = "Forward-auth for nginx, Traefik and Envoy"),
        (name = "operations", description = "Health, readiness, metrics, the dashboard and this document")
    )
)]
pub struct ApiDoc;

/// The two bearer schemes.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = |description: &str| {
            let mut scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
            scheme.description = Some(description.to_owned());
            SecurityScheme::Http(scheme)
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("admin", bearer("STINT_ADMIN_TOKEN"));
        components.add_security_scheme("service", bearer("A key of STINT_SERVICE_KEY"));
    }
}
