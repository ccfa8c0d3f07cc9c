//! HTTP: one router built from per-area routers, with the cross-cutting layers
//! (request id, tracing, metrics, error log, problem+json, limits, security headers).

mod admin;
mod analytics;
mod api_keys;
mod audit;
mod auth;
mod bots;
mod conversations;
mod customers;
mod flows;
mod health;
pub mod json;
mod media;
pub mod openapi;
mod orders;
mod outbox;
mod products;
mod sandbox;
mod sellers;
mod tenant;
mod users;
mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::problem;
use crate::ids::TenantId;

pub use json::{ApiJson, ApiQuery, Check};

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A page of a list keyed by a "before" cursor, serialised straight from the rows.
#[derive(serde::Serialize)]
pub(crate) struct ItemsPage<T, C> {
    pub items: Vec<T>,
    pub next_before: Option<C>,
}

/// The tenant of the request, filled in by the auth extractor so outer layers
/// (error log) can see it.
#[derive(Clone, Default)]
pub struct TenantSlot(pub Arc<Mutex<Option<TenantId>>>);

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(api_keys::routes())
        .merge(tenant::routes())
        .merge(audit::routes())
        .merge(bots::routes())
        .merge(conversations::routes())
        .merge(flows::routes())
        .merge(sandbox::routes())
        .merge(outbox::routes())
        .merge(products::routes())
        .merge(customers::routes())
        .merge(sellers::routes())
        .merge(orders::routes())
        .merge(openapi::routes())
        .merge(analytics::routes())
        .merge(admin::routes());

    let body_limit = state.config.body_limit_bytes;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);

    Router::new()
        .nest("/api", api)
        .merge(health::routes())
        .merge(webhooks::routes())
        .merge(media::routes())
        .fallback(|req: Request| crate::web::serve(req, not_found))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                        let id = req
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("http", request_id = %id, method = %req.method(), uri = %req.uri().path())
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(middleware::from_fn_with_state(state.clone(), observe))
                .layer(CatchPanicLayer::new())
                .layer(middleware::from_fn(problemify))
                .layer(CompressionLayer::new())
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
                .layer(DefaultBodyLimit::max(body_limit))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                    ),
                )),
        )
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("no route for {} {}", req.method(), req.uri().path()),
        vec![],
        None,
    )
}

async fn method_not_allowed(req: Request) -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
        vec![],
        None,
    )
}

/// Metrics per route and status, and every 5xx into `error_logs` with its request id.
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|r| r.header_value().to_str().ok())
        .map(str::to_string);
    let slot = TenantSlot::default();
    req.extensions_mut().insert(slot.clone());

    let res = next.run(req).await;

    let status = res.status().as_u16();
    let labels = [
        ("method", method),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());

    if status >= 500 {
        let cause = res
            .extensions()
            .get::<crate::error::InternalCause>()
            .map(|c| c.0.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let tenant = slot.0.lock().ok().and_then(|t| *t);
        let db = state.db.clone();
        tokio::spawn(async move {
            let _ = db
                .write(move |c| {
                    crate::analytics::errors::record(
                        c,
                        tenant,
                        "http",
                        &route,
                        crate::analytics::errors::Severity::Error,
                        &cause,
                        request_id.as_deref(),
                    )?;
                    Ok(())
                })
                .await;
        });
    }
    res
}

/// Framework answers (timeouts, limits, panics) become problem+json like ours.
async fn problemify(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if is_problem {
        return res;
    }
    let (code, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported media type"),
        s if s.is_server_error() => ("internal", "an internal error occurred; it was logged"),
        _ => ("bad_request", "the request was not understood"),
    };
    let mut out = problem(status, code, detail.into(), vec![], None);
    for (k, v) in res.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}
