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
    (
        "get",
        "/api/bots",
        "bots",
        "List bots with their channels (secrets redacted)",
        "200",
    ),
    (
        "post",
        "/api/bots",
        "bots",
        "Create a bot: primary channel and ordered fallbacks (admin)",
        "201",
    ),
    (
        "get",
        "/api/bots/{id}",
        "bots",
        "One bot (secrets redacted)",
        "200",
    ),
    (
        "put",
        "/api/bots/{id}",
        "bots",
        "Change a bot; empty secrets keep the stored ones (admin)",
        "200",
    ),
    (
        "delete",
        "/api/bots/{id}",
        "bots",
        "Delete a bot (admin)",
        "204",
    ),
    (
        "get",
        "/api/bots/{id}/status",
        "bots",
        "Live status per channel: connected, qr_pending (QR as SVG) or down, and its circuit",
        "200",
    ),
    (
        "post",
        "/api/bots/{id}/messages",
        "bots",
        "Queue a message to a contact (agent)",
        "202",
    ),
    (
        "get",
        "/api/outbox",
        "outbox",
        "Queued, sent, failed and dead messages, newest first",
        "200",
    ),
    (
        "get",
        "/api/outbox/{id}",
        "outbox",
        "One outbox message",
        "200",
    ),
    (
        "post",
        "/api/outbox/{id}/retry",
        "outbox",
        "Retry a dead or failed message (agent)",
        "200",
    ),
    (
        "post",
        "/api/outbox/{id}/discard",
        "outbox",
        "Discard a dead, failed or queued message (agent)",
        "200",
    ),
    (
        "get",
        "/api/conversations",
        "conversations",
        "The inbox: conversations, newest activity first",
        "200",
    ),
    (
        "get",
        "/api/conversations/{id}",
        "conversations",
        "One conversation",
        "200",
    ),
    (
        "get",
        "/api/conversations/{id}/messages",
        "conversations",
        "A conversation's messages, newest first",
        "200",
    ),
    (
        "post",
        "/api/conversations/{id}/messages",
        "conversations",
        "Agent reply (agent)",
        "202",
    ),
    (
        "post",
        "/api/conversations/{id}/assign",
        "conversations",
        "Take over: the bot stays silent (agent)",
        "200",
    ),
    (
        "post",
        "/api/conversations/{id}/release",
        "conversations",
        "Give the conversation back to the bot (agent)",
        "200",
    ),
    (
        "post",
        "/api/conversations/{id}/close",
        "conversations",
        "Close the conversation (agent)",
        "200",
    ),
    (
        "post",
        "/api/conversations/{id}/reset",
        "conversations",
        "Drop the flow session: the next message starts over (agent)",
        "200",
    ),
    (
        "post",
        "/api/conversations/{id}/read",
        "conversations",
        "Mark as read",
        "204",
    ),
    (
        "get",
        "/api/events",
        "conversations",
        "Server-Sent Events of the tenant's inbox (also accepts ?access_token=)",
        "200",
    ),
    (
        "get",
        "/webhooks/cloud/{bot}",
        "webhooks",
        "WhatsApp Cloud API subscription handshake (hub.challenge)",
        "200",
    ),
    (
        "post",
        "/webhooks/cloud/{bot}",
        "webhooks",
        "WhatsApp Cloud API webhook (X-Hub-Signature-256)",
        "200",
    ),
    (
        "post",
        "/webhooks/twilio/{bot}",
        "webhooks",
        "Twilio webhook (X-Twilio-Signature)",
        "200",
    ),
    (
        "post",
        "/webhooks/evolution/{bot}/{token}",
        "webhooks",
        "Evolution API webhook (secret path token + apikey)",
        "200",
    ),
    (
        "post",
        "/webhooks/bridge/{bot}",
        "webhooks",
        "QR bridge webhook (X-Bridge-Signature)",
        "200",
    ),
    ("get", "/api/bots/{bot}/flows", "flows", "A bot's flows (drafts and latest published version)", "200"),
    ("post", "/api/bots/{bot}/flows", "flows", "Create a flow; it is validated and errors name the node and field (admin)", "201"),
    ("get", "/api/bots/{bot}/flows/{flow}", "flows", "One flow", "200"),
    ("put", "/api/bots/{bot}/flows/{flow}", "flows", "Change a flow's draft, validated (admin)", "200"),
    ("delete", "/api/bots/{bot}/flows/{flow}", "flows", "Delete a flow (admin)", "204"),
    ("post", "/api/bots/{bot}/flows/{flow}/publish", "flows", "Publish the draft as the next immutable version (admin)", "200"),
    ("get", "/api/bots/{bot}/flows/{flow}/versions", "flows", "Published versions, newest first", "200"),
    ("post", "/api/bots/{bot}/flows/{flow}/rollback", "flows", "Republish an older version as the newest (admin)", "200"),
    ("post", "/api/bots/{bot}/sandbox", "sandbox", "Simulator: send a message as the test contact and get the bot's replies (agent)", "200"),
    ("delete", "/api/bots/{bot}/sandbox", "sandbox", "Simulator: start the test conversation over (agent)", "200"),
];

/// Hand-documented routes that need no token.
const PUBLIC: &[&str] = &[
    "/health",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/register",
    "/webhooks/cloud/{bot}",
    "/webhooks/twilio/{bot}",
    "/webhooks/evolution/{bot}/{token}",
    "/webhooks/bridge/{bot}",
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
            // Every `{name}` segment is a required path parameter.
            for name in path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True),
                );
            }
            doc.paths
                .add_path_operation(*path, vec![method], op.build());
        }
    }
}
