//! `/media/{name}`: received media files for the dashboard. An `<img>` cannot send an
//! Authorization header, so the inbox gets short-lived signed URLs instead
//! (HMAC of name and expiry with a key derived from the data-dir key).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::app::AppState;
use crate::channels::signature::hmac_sha256_hex;
use crate::error::{AppError, AppResult};

/// How long a signed media URL stays valid.
const TTL_SECS: i64 = 3600;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{name}", get(serve))
}

/// `<sha256 hex>.<ext>`, the only names the media store writes.
fn valid_name(name: &str) -> bool {
    let Some((hash, ext)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && (1..=5).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A URL the browser can load for `name` during the next hour.
pub fn signed_url(state: &AppState, name: &str) -> Option<String> {
    if !valid_name(name) {
        return None;
    }
    let exp = chrono::Utc::now().timestamp() + TTL_SECS;
    let sig = hmac_sha256_hex(&state.media_key, format!("{name}:{exp}").as_bytes());
    Some(format!("/media/{name}?exp={exp}&sig={sig}"))
}

#[derive(Deserialize)]
struct Signed {
    exp: i64,
    sig: String,
}

async fn serve(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<Signed>,
) -> AppResult<Response> {
    let expected = hmac_sha256_hex(&state.media_key, format!("{name}:{}", q.exp).as_bytes());
    let fresh = q.exp >= chrono::Utc::now().timestamp();
    let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), q.sig.as_bytes()).into();
    if !valid_name(&name) || !fresh || !same {
        return Err(AppError::NotFound("media"));
    }
    let bytes = tokio::fs::read(state.media_dir.join(&name))
        .await
        .map_err(|_| AppError::NotFound("media"))?;
    let mime = match name.rsplit('.').next().unwrap_or("") {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "ogg" | "opus" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}
