//! The shop's one error type, and how it reads at the HTTP edge.

use serde_json::json;

use crate::error::{AppError, FieldError};
use crate::store::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// Input that does not fit; every bad field is named.
    #[error("invalid input: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value already used by another record of the tenant.
    #[error("{field} {value:?} is already used")]
    Duplicate { field: &'static str, value: String },
    #[error("an order cannot go from {from} to {to}")]
    IllegalTransition {
        from: &'static str,
        to: &'static str,
        allowed: Vec<&'static str>,
    },
    #[error("not enough stock of {sku} ({name}): {requested} requested, {available} available")]
    InsufficientStock {
        product_id: String,
        sku: String,
        name: String,
        requested: i64,
        available: i64,
    },
    /// The record is referenced and cannot be deleted.
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for ShopError {
    fn from(e: rusqlite::Error) -> Self {
        ShopError::Db(DbError::Sqlite(e))
    }
}

impl ShopError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ShopError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<ShopError> for AppError {
    fn from(e: ShopError) -> Self {
        match e {
            ShopError::Invalid(fields) => AppError::Validation(fields),
            ShopError::NotFound(what) => AppError::NotFound(what),
            ShopError::Duplicate { field, ref value } => AppError::Conflict {
                code: "duplicate",
                detail: e.to_string(),
                extra: Some(json!({"field": field, "value": value})),
            },
            ShopError::IllegalTransition {
                from,
                to,
                ref allowed,
            } => AppError::Conflict {
                code: "illegal_transition",
                detail: format!(
                    "an order cannot go from {from} to {to}; allowed from {from}: {}",
                    if allowed.is_empty() {
                        "none (final state)".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
                extra: Some(json!({"from": from, "to": to, "allowed": allowed})),
            },
            ShopError::InsufficientStock {
                ref product_id,
                ref sku,
                ref name,
                requested,
                available,
            } => AppError::Conflict {
                code: "insufficient_stock",
                detail: e.to_string(),
                extra: Some(json!({
                    "product_id": product_id, "sku": sku, "name": name,
                    "requested": requested, "available": available
                })),
            },
            ShopError::InUse(detail) => AppError::conflict("in_use", detail),
            ShopError::Db(e) => e.into(),
        }
    }
}
