//! Analytics and observability: events, rollups, KPIs, error tracking and alerts.
//!
//! # Recording events (for the shop, channels/outbox and conversation modules)
//!
//! Call [`record`] **inside your own write closure**, so the event commits (or rolls back)
//! with the change it describes:
//!
//! ```ignore
//! state.db.write(move |c| {
//!     let order = shop::orders::create(c, tenant, &new)?;
//!     analytics::record(c, &Event::new(tenant, EventKind::OrderCreated {
//!         total_minor: order.total.minor, currency: order.total.currency.to_string(),
//!     }).bot(bot_id).conversation(conv_id).at(now))?;
//!     Ok(order)
//! }).await?;
//! ```
//!
//! What each kind means (producers keep to this, the KPIs depend on it):
//! - `message_in`: a customer message accepted by us (once per provider message id).
//! - `message_out`: a message the provider accepted from us. The first `message_out` after
//!   one or more `message_in` of the same conversation is a *reply*; [`record`] stores its
//!   response time (from the first unanswered inbound) on the event.
//! - `delivery_status{status}`: `sent|delivered|read|failed` from the provider; emit
//!   `delivered` at most once per message (delivery rate = delivered / messages out).
//! - `send_failed{reason}`: a send we gave up on (non-retriable or dead-lettered).
//! - `flow_started{flow}` / `flow_completed{flow}`, `handoff`,
//!   `order_created{total_minor,currency}` / `order_cancelled`.
//!
//! Rollups ([`rollup`]) run in the background; KPIs ([`kpi`]) read raw events, so they
//! include events not rolled up yet; charts ([`rollup::timeseries`]) read the rollups.
//!
//! # Errors and alerts
//! - [`errors::record`] puts a failure (HTTP 5xx, failed background job) into `error_logs`.
//! - [`alerts::raise`] / [`alerts::resolve`] open and close incidents (channel down, dead
//!   letters, critical error); owners are told once per incident and once on resolution.
//! - [`metric_names`] lists the Prometheus metrics other modules emit.

pub mod aggregate;
pub mod alerts;
pub mod errors;
pub mod events;
pub mod kpi;
pub mod metric_names;
pub mod retention;
pub mod rollup;

pub use events::{record, Event, EventKind};

/// Unix milliseconds of a UTC time.
pub fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// RFC 3339 text (milliseconds, `Z`) of Unix milliseconds, as the API shows times.
pub fn ms_text(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(crate::ids::time_text)
        .unwrap_or_default()
}

/// The tenant's time zone; UTC when unknown or unparseable.
pub fn tenant_tz(
    c: &rusqlite::Connection,
    tenant: crate::ids::TenantId,
) -> Result<chrono_tz::Tz, crate::store::DbError> {
    use rusqlite::OptionalExtension;
    let name: Option<String> = c
        .query_row(
            "SELECT timezone FROM tenants WHERE id = ?1",
            [tenant],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name
        .and_then(|n| n.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::UTC))
}
