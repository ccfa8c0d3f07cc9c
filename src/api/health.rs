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
    let disk = disk_free(&state.data_dir);
    let disk_check = match disk {
        Some(free) if free < MIN_FREE_BYTES => Err(format!(
            "only {free} bytes free in the data directory; writes will fail"
        )),
        _ => Ok(()),
    };
    let healthy = sqlite.is_ok() && redb.is_ok() && disk_check.is_ok();
    let show = |r: &Result<(), String>| match r {
        Ok(()) => json!("ok"),
        Err(e) => json!({"error": e}),
    };
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "rss_bytes": crate::telemetry::rss_bytes(),
        "checks": { "sqlite": show(&sqlite), "redb": show(&redb), "disk": show(&disk_check) },
        "disk_free_bytes": disk,
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

/// Below this, the data directory cannot take a transaction safely: report unhealthy
/// before customers' messages start bouncing.
const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// Free bytes for unprivileged writers on the data directory's file system.
fn disk_free(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}
