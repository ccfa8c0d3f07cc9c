//! Request-body extraction that answers in problem+json: bad JSON is 400, a body that
//! parses but does not fit (unknown or missing field, wrong type) is 422 naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("application/json") || ct.contains("+json")
            })
            .unwrap_or(false);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if !is_json {
            return Err(AppError::bad_request(
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        parse(&bytes).map(ApiJson)
    }
}

/// Maps a body-reading failure (including the size limit) to a problem.
pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::bad_request("bad_body", e.body_text())
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                AppError::bad_request("bad_json", format!("the body is not valid JSON: {inner}"))
            }
            _ => {
                let msg = strip_position(&inner.to_string());
                // serde_path_to_error's path already ends at an unknown field, but stops
                // at the parent of a missing one.
                let field = match unknown_field(&msg) {
                    Some(f) if path == "." || path.is_empty() => f.to_string(),
                    Some(_) => path,
                    None => match missing_field(&msg) {
                        Some(f) if path == "." || path.is_empty() => f.to_string(),
                        Some(f) => format!("{path}.{f}"),
                        None => path,
                    },
                };
                AppError::Validation(vec![FieldError::new(field, msg)])
            }
        }
    })?;
    de.end()
        .map_err(|e| AppError::bad_request("bad_json", format!("trailing data after JSON: {e}")))?;
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn unknown_field(msg: &str) -> Option<&str> {
    msg.strip_prefix("unknown field `")?.split('`').next()
}

fn missing_field(msg: &str) -> Option<&str> {
    msg.strip_prefix("missing field `")?.split('`').next()
}

/// Query strings, with the same problem+json errors.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field = unknown_field(&msg).map(str::to_string).unwrap_or(path);
                AppError::Validation(vec![FieldError::new(field, msg)])
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// Collects validation failures so one response lists every bad field.
#[derive(Default)]
pub struct Check(Vec<FieldError>);

impl Check {
    pub fn new() -> Self {
        Check(vec![])
    }
    pub fn ensure(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.0.push(FieldError::new(field, message));
        }
        self
    }
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

pub fn is_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 255
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == ',')
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        n: u32,
    }

    #[test]
    fn syntax_is_400_and_shape_is_422_with_the_field() {
        assert_eq!(parse::<Body>(b"{nope").unwrap_err().code(), "bad_json");
        match parse::<Body>(br#"{"email":"a@b.co","n":1,"x":2}"#).unwrap_err() {
            AppError::Validation(f) => assert_eq!(f[0].field, "x"),
            e => panic!("{e:?}"),
        }
        match parse::<Body>(br#"{"email":"a@b.co","n":"one"}"#).unwrap_err() {
            AppError::Validation(f) => assert_eq!(f[0].field, "n"),
            e => panic!("{e:?}"),
        }
        match parse::<Body>(br#"{"n":1}"#).unwrap_err() {
            AppError::Validation(f) => assert_eq!(f[0].field, "email"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn emails() {
        assert!(is_email("ana@tienda.pe"));
        assert!(!is_email("ana@tienda"));
        assert!(!is_email("ana tienda@x.pe"));
        assert!(!is_email("@x.pe"));
    }
}
