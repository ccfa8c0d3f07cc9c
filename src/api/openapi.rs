//! `/api/openapi.json`: the OpenAPI 3.1 document, generated from the code.
//!
//! Handlers annotated with `#[utoipa::path]` are listed in [`ApiDoc`]; routes written
//! before that (foundation) are described in [`PLAIN_ROUTES`]. `tests/shop_openapi.rs`
//! compares this document with every route the router really serves, so a new route
//! without documentation fails the build's tests.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DashOffice API",
        description = "Self-hosted WhatsApp commerce appliance. Authenticate with `Authorization: Bearer <access token or API key>`. Errors are application/problem+json with a stable `code`. Money is integer minor units plus an ISO 4217 currency."
    ),
    paths(
        super::products::list,
        super::products::create,
        super::products::show,
        super::products::update,
        super::products::remove,
        super::products::categories,
        super::products::export,
        super::products::import,
        super::customers::list,
        super::customers::create,
        super::customers::show,
        super::customers::update,
        super::customers::remove,
        super::customers::export,
        super::customers::import,
        super::sellers::list,
        super::sellers::create,
        super::sellers::show,
        super::sellers::update,
        super::sellers::remove,
        super::sellers::stats,
        super::orders::list,
        super::orders::create,
        super::orders::show,
        super::orders::set_status,
        serve,
    ),
    modifiers(&Bearer, &PlainRoutes),
    tags(
        (name = "products", description = "The catalogue"),
        (name = "customers", description = "WhatsApp contacts, phone in E.164"),
        (name = "sellers", description = "Salespeople and their stats"),
        (name = "orders", description = "Orders and their status machine"),
    )
)]
pub struct ApiDoc;

/// Routes documented by hand: (method, path, tag, summary, success status).
pub const PLAIN_ROUTES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "get",
        "/health",
        "system",
        "Health of the stores (no auth)",
        "200",
    ),
    ("get", "/metrics", "system", "Prometheus metrics", "200"),
    (
        "post",
        "/api/auth/login",
        "auth",
        "Log in with e-mail and password; returns an access and a refresh token",
        "200",
    ),
    (
        "post",
        "/api/auth/refresh",
        "auth",
        "Swap a refresh token for a new pair (rotation; reuse revokes the family)",
        "200",
    ),
    (
        "post",
        "/api/auth/logout",
        "auth",
        "Revoke this session",
        "204",
    ),
    (
        "get",
        "/api/auth/me",
        "auth",
        "The caller: user, tenant and role",
        "200",
    ),
    (
        "post",
        "/api/auth/register",
        "auth",
        "Create a tenant and its owner",
        "201",
    ),
    (
        "get",
        "/api/users",
        "users",
        "List the tenant's users (admin)",
        "200",
    ),
    (
        "post",
        "/api/users",
        "users",
        "Create a user (admin)",
        "201",
    ),
    ("get", "/api/users/{id}", "users", "One user (admin)", "200"),
    (
        "put",
        "/api/users/{id}",
        "users",
        "Change a user (admin)",
        "200",
    ),
    (
        "delete",
        "/api/users/{id}",
        "users",
        "Delete a user (admin)",
        "204",
    ),
    (
        "get",
        "/api/api-keys",
        "api-keys",
        "List API keys (admin)",
        "200",
    ),
    (
        "post",
        "/api/api-keys",
        "api-keys",
        "Create an API key; the secret is shown once (admin)",
        "201",
    ),
    (
        "delete",
        "/api/api-keys/{id}",
        "api-keys",
        "Revoke an API key (admin)",
        "204",
    ),
    ("get", "/api/tenant", "tenant", "The shop's settings", "200"),
    (
        "put",
        "/api/tenant",
        "tenant",
        "Change the shop's settings (admin)",
        "200",
    ),
    (
        "get",
        "/api/audit",
        "audit",
        "The audit log, newest first (admin)",
        "200",
    ),
];

/// Hand-documented routes that need no token.
const PUBLIC: &[&str] = &[
    "/health",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/register",
];

/// The OpenAPI document (this one); no auth.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        document()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    });
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}

/// The whole document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        doc.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

struct PlainRoutes;

impl Modify for PlainRoutes {
    fn modify(&self, doc: &mut Document) {
        for (method, path, tag, summary, status) in PLAIN_ROUTES {
            let method = match *method {
                "get" => HttpMethod::Get,
                "post" => HttpMethod::Post,
                "put" => HttpMethod::Put,
                "delete" => HttpMethod::Delete,
                _ => HttpMethod::Patch,
            };
            let mut op = OperationBuilder::new()
                .tag(*tag)
                .summary(Some(*summary))
                .response(*status, ResponseBuilder::new().description("success"))
                .response(
                    "default",
                    ResponseBuilder::new().description("problem+json error with a stable `code`"),
                );
            if PUBLIC.contains(path) {
                op = op.securities(Some(vec![SecurityRequirement::default()]));
            }
            if path.contains("{id}") {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name("id")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True),
                );
            }
            doc.paths
                .add_path_operation(*path, vec![method], op.build());
        }
    }
}
