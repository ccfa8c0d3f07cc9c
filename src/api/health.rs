//! `/health` for people and load balancers, `/metrics` for Prometheus.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let sqlite = state.db.check().await.map_err(|e| e.to_string());
    let st = state.state.clone();
    let redb = tokio::task::spawn_blocking(move || st.check().map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let healthy = sqlite.is_ok() && redb.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => json!("ok"),
        Err(e) => json!({"error": e}),
    };
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "rss_bytes": crate::telemetry::rss_bytes(),
        "checks": { "sqlite": show(&sqlite), "redb": show(&redb) },
        "sqlite_synchronous": state.db.synchronous(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("process_resident_memory_bytes").set(crate::telemetry::rss_bytes() as f64);
    metrics::gauge!("process_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
