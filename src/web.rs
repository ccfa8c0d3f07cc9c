//! The admin dashboard: static files from `web/`, embedded into the binary (rust-embed)
//! and served at `/`. Any other GET path that is not an API or webhook path gets
//! `index.html`, so the dashboard's own routes (`/inbox`, `/orders/…`) survive a reload.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Vendored files carry their version in the name: cache them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Our own files change with the binary: revalidate every time (cheap, ETag → 304).
const REVALIDATE: &str = "no-cache";

/// The router's fallback: dashboard files and the SPA shell, or `not_found` for API,
/// webhook and non-GET requests (they keep their problem+json 404).
pub async fn serve<F, Fut>(req: Request, not_found: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let path = req.uri().path();
    let is_api = path == "/api"
        || path.starts_with("/api/")
        || path == "/webhooks"
        || path.starts_with("/webhooks/");
    if is_api || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return not_found(req).await;
    }
    let file = path.trim_start_matches('/');
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !file.is_empty() && file != "index.html" {
        if let Some(resp) = asset(file, if_none_match.as_deref()) {
            return resp;
        }
        // A missing file (it has an extension) is a plain 404, not the app shell.
        if file
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
        {
            return not_found(req).await;
        }
    }
    asset("index.html", if_none_match.as_deref()).unwrap_or_else(|| {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("dashboard not built into this binary"))
            .unwrap_or_default()
    })
}

fn asset(file: &str, if_none_match: Option<&str>) -> Option<Response> {
    let embedded = Assets::get(file)?;
    let etag = format!(
        "\"{}\"",
        hex::encode(&embedded.metadata.sha256_hash()[..12])
    );
    let cache = if file.starts_with("vendor/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, &etag);
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .ok();
    }
    let mime = embedded.metadata.mimetype();
    let mime = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    builder
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        )
        .body(Body::from(embedded.data.into_owned()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_and_vendored_libraries_are_embedded() {
        assert!(Assets::get("index.html").is_some());
        assert!(Assets::get("vendor/preact-10.27.2.module.js").is_some());
        assert!(Assets::get("vendor/LICENSE.preact").is_some());
    }
}
