//! One error type at the HTTP edge, rendered as `application/problem+json` with a stable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A field that failed validation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        extra: Option<serde_json::Value>,
    },
    #[error("too many requests")]
    TooManyRequests {
        code: &'static str,
        retry_after_secs: u64,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<serde_json::Value>,
}

impl AppError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            detail: detail.into(),
        }
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            detail: detail.into(),
            extra: None,
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        AppError::Forbidden {
            code: "forbidden",
            detail: detail.into(),
        }
    }
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::Unauthorized {
            code,
            detail: detail.into(),
        }
    }
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(anyhow::anyhow!("{e}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::BadRequest { code, .. }
            | AppError::Unauthorized { code, .. }
            | AppError::Forbidden { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::TooManyRequests { code, .. } => code,
            AppError::NotFound(_) => "not_found",
            AppError::PayloadTooLarge => "payload_too_large",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

/// Renders a problem document; used for errors and for framework rejections alike.
pub fn problem(
    status: StatusCode,
    code: &str,
    detail: String,
    errors: Vec<FieldError>,
    extra: Option<serde_json::Value>,
) -> Response {
    let body = Problem {
        kind: format!("https://dashoffice.dev/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        code,
        errors,
        extra,
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, json).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// Marker put in the response extensions of a 5xx so the error-log layer can record the cause.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let (detail, errors, extra) = match self {
            AppError::Validation(errors) => (
                format!(
                    "{} field(s) are invalid: {}",
                    errors.len(),
                    errors
                        .iter()
                        .map(|e| e.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                errors,
                None,
            ),
            AppError::NotFound(what) => (format!("{what} not found"), vec![], None),
            AppError::Conflict { detail, extra, .. } => (detail, vec![], extra),
            AppError::Internal(ref e) => {
                let cause = format!("{e:#}");
                tracing::error!(error = %cause, "internal error");
                let mut res = problem(
                    status,
                    code,
                    "an internal error occurred; it was logged".into(),
                    vec![],
                    None,
                );
                res.extensions_mut().insert(InternalCause(cause));
                return res;
            }
            AppError::Unavailable(ref why) => {
                tracing::warn!(reason = %why, "unavailable");
                (self.to_string(), vec![], None)
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => {
                let mut res = problem(
                    status,
                    code,
                    format!("too many requests; retry after {retry_after_secs} s"),
                    vec![],
                    None,
                );
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return res;
            }
            other => (other.to_string(), vec![], None),
        };
        problem(status, code, detail, errors, extra)
    }
}

impl From<crate::store::DbError> for AppError {
    fn from(e: crate::store::DbError) -> Self {
        match e {
            crate::store::DbError::Busy => AppError::Unavailable("database busy".into()),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}
