//! The shop back office: products, customers, sellers and orders. Types + SQL, no HTTP.
//!
//! Every function takes the `TenantId` it works in and a `&Connection`; writes are meant
//! to run inside [`crate::store::Db::write`] (use [`write`] to keep the typed error).
//! Money is integer minor units plus an ISO 4217 code; there are no floats here.

pub mod csv_io;
pub mod customers;
pub mod demo;
pub mod error;
pub mod orders;
pub mod page;
pub mod products;
pub mod sellers;
pub mod text;

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};

pub use error::ShopError;
pub use page::{Cursor, Page};

use crate::ids::TenantId;
use crate::store::{Db, DbError};

/// Runs `f` in the shared write transaction and keeps its `ShopError`: an `Err` rolls
/// back only this closure (the writer's savepoint) and comes back typed.
pub async fn write<T, F>(db: &Db, f: F) -> Result<T, ShopError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ShopError> + Send + 'static,
{
    let slot: Arc<Mutex<Option<ShopError>>> = Arc::new(Mutex::new(None));
    let keep = slot.clone();
    let out = db
        .write(move |c| {
            f(c).map_err(|e| {
                let msg = e.to_string();
                if let Ok(mut s) = keep.lock() {
                    *s = Some(e);
                }
                DbError::Other(msg)
            })
        })
        .await;
    match out {
        Ok(v) => Ok(v),
        Err(e) => {
            let kept = slot.lock().ok().and_then(|mut s| s.take());
            Err(kept.unwrap_or(ShopError::Db(e)))
        }
    }
}

/// Runs `f` all-or-nothing inside the caller's transaction (a nested savepoint), so a
/// failed shop operation leaves nothing behind even when the caller goes on and commits
/// other work in the same transaction (the conversation glue records the failure).
pub fn atomic<T>(
    c: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, ShopError>,
) -> Result<T, ShopError> {
    c.execute_batch("SAVEPOINT shop_op")?;
    match f(c) {
        Ok(v) => {
            c.execute_batch("RELEASE shop_op")?;
            Ok(v)
        }
        Err(e) => {
            c.execute_batch("ROLLBACK TO shop_op; RELEASE shop_op")?;
            Err(e)
        }
    }
}

/// Runs `f` on a read connection, keeping the typed error.
pub async fn read<T, F>(db: &Db, f: F) -> Result<T, ShopError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ShopError> + Send + 'static,
{
    db.read(move |c| Ok(f(c))).await?
}

/// [`Db::read_now`] keeping the typed error: for reads that touch one page of an index.
pub async fn read_now<T, F>(db: &Db, f: F) -> Result<T, ShopError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ShopError> + Send + 'static,
{
    db.read_now(move |c| Ok(f(c))).await?
}

/// The tenant's defaults that shop input is read against.
#[derive(Debug, Clone)]
pub struct TenantDefaults {
    pub currency: String,
    /// ISO 3166 alpha-2, for phone numbers written without a country code.
    pub country: String,
    /// IANA time zone, for date-only ranges ("orders of 2026-11-24" in Lima).
    pub timezone: String,
}

pub fn tenant_defaults(c: &Connection, tenant: TenantId) -> Result<TenantDefaults, ShopError> {
    c.prepare_cached("SELECT currency, country, timezone FROM tenants WHERE id = ?1")?
        .query_row([tenant], |r| {
            Ok(TenantDefaults {
                currency: r.get(0)?,
                country: r.get(1)?,
                timezone: r.get(2)?,
            })
        })
        .optional()?
        .ok_or(ShopError::NotFound("tenant"))
}

/// OpenAPI schemas for the shop's id types (UUID strings).
macro_rules! uuid_schema {
    ($($t:ty),*) => {$(
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }
        impl utoipa::ToSchema for $t {}
    )*};
}
uuid_schema!(
    crate::ids::ProductId,
    crate::ids::CustomerId,
    crate::ids::SellerId,
    crate::ids::OrderId
);
