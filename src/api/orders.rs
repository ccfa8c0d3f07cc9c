//! `/api/orders`: viewers read, agents and up create orders and move their status.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiJson, ApiQuery, Check};
use crate::app::AppState;
use crate::auth::{Agent, Require, Viewer};
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::{time_text, CustomerId, OrderId, SellerId, TenantId};
use crate::shop::orders::{self, Order, OrderDraft, OrderFilter, Status};
use crate::shop::{self, Cursor, Page, ShopError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list).post(create))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/status", post(set_status))
}

fn parse_id(id: &str) -> AppResult<OrderId> {
    OrderId::parse(id).ok_or(AppError::NotFound("order"))
}

/// One end of a date range: RFC 3339, or a day in the shop's time zone (`end`: the day
/// is included).
fn instant(field: &str, s: &str, end: bool, tz: Tz) -> Result<String, FieldError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(time_text(t.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "must be RFC 3339 or YYYY-MM-DD"))?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| FieldError::new(field, "is not a date"))?;
    // A day that starts in a DST gap begins at the first instant that exists.
    let t = tz
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| midnight.and_utc());
    Ok(time_text(t))
}

/// `[from, to)` as stored time text; days are read in the tenant's time zone.
pub(crate) async fn date_range(
    state: &AppState,
    tenant: TenantId,
    from: Option<&str>,
    to: Option<&str>,
) -> AppResult<(Option<String>, Option<String>)> {
    let is_day = |v: Option<&str>| {
        v.is_some_and(|v| !v.trim().is_empty() && DateTime::parse_from_rfc3339(v.trim()).is_err())
    };
    let tz: Tz = if is_day(from) || is_day(to) {
        let d = shop::read(&state.db, move |c| shop::tenant_defaults(c, tenant)).await?;
        d.timezone.parse().unwrap_or(Tz::UTC)
    } else {
        Tz::UTC
    };
    let mut check = Check::new();
    let mut one = |field: &str, v: Option<&str>, end: bool| match v.filter(|v| !v.trim().is_empty())
    {
        Some(v) => match instant(field, v, end, tz) {
            Ok(t) => Some(t),
            Err(e) => {
                check.push(&e.field, e.message);
                None
            }
        },
        None => None,
    };
    let (from, to) = (one("from", from, false), one("to", to, true));
    check.finish()?;
    Ok((from, to))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    status: Option<Status>,
    #[param(value_type = Option<String>, format = Uuid)]
    seller_id: Option<SellerId>,
    #[param(value_type = Option<String>, format = Uuid)]
    customer_id: Option<CustomerId>,
    /// Created from this instant or day (inclusive).
    from: Option<String>,
    /// Created up to this instant (exclusive) or day (inclusive).
    to: Option<String>,
    /// An order number, or words of the customer's name or phone.
    q: Option<String>,
}

/// List orders, newest first.
#[utoipa::path(get, path = "/api/orders", tag = "orders", params(ListQuery),
    responses((status = 200, body = Page<Order>), (status = 422, description = "bad filter")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Order>>> {
    let cursor = Cursor::parse(q.cursor.as_deref(), q.limit)?;
    let (from, to) = date_range(&state, auth.tenant, q.from.as_deref(), q.to.as_deref()).await?;
    let filter = OrderFilter {
        status: q.status,
        seller_id: q.seller_id,
        customer_id: q.customer_id,
        from,
        to,
        q: q.q,
    };
    let tenant = auth.tenant;
    let plain = filter.is_empty();
    let read = move |c: &rusqlite::Connection| orders::list(c, tenant, &filter, &cursor);
    Ok(Json(if plain {
        shop::read_now(&state.db, read).await?
    } else {
        shop::read(&state.db, read).await?
    }))
}

/// One order with its items and status history.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Order), (status = 404, description = "not in this tenant")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Order>> {
    let (tenant, id) = (auth.tenant, parse_id(&id)?);
    shop::read_now(&state.db, move |c| orders::get(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("order"))
}

/// Create a pending order (agent). Prices come from the catalogue.
#[utoipa::path(post, path = "/api/orders", tag = "orders", request_body = OrderDraft,
    responses((status = 201, body = Order),
              (status = 409, description = "insufficient_stock: names the product and what is available"),
              (status = 422, description = "invalid fields, each named")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    ApiJson(draft): ApiJson<OrderDraft>,
) -> AppResult<(StatusCode, Json<Order>)> {
    let new = draft.validate().map_err(AppError::Validation)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let order = shop::write(&state.db, move |c| orders::create(c, tenant, new, &actor)).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusChange {
    /// pending, confirmed, paid, shipped, delivered or cancelled.
    status: Option<String>,
    note: Option<String>,
}

/// Move an order along pending → confirmed → paid → shipped → delivered, or cancel it
/// (agent). Confirming takes stock; cancelling gives it back.
#[utoipa::path(post, path = "/api/orders/{id}/status", tag = "orders", request_body = StatusChange,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Order), (status = 404, description = "not in this tenant"),
              (status = 409, description = "illegal_transition (lists `allowed`) or insufficient_stock"),
              (status = 422, description = "unknown status")))]
pub(crate) async fn set_status(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChange>,
) -> AppResult<Json<Order>> {
    let id = parse_id(&id)?;
    let to = match body.status.as_deref().map(str::trim) {
        None | Some("") => return Err(AppError::field("status", "is required")),
        Some(s) => Status::parse(s).ok_or_else(|| {
            AppError::field(
                "status",
                "must be one of pending, confirmed, paid, shipped, delivered, cancelled",
            )
        })?,
    };
    let note = body.note.unwrap_or_default();
    if note.chars().count() > 1000 {
        return Err(ShopError::field("note", "must be at most 1000 characters").into());
    }
    let (tenant, actor) = (auth.tenant, auth.actor());
    let order = shop::write(&state.db, move |c| {
        orders::set_status(c, tenant, id, to, &actor, &note)
    })
    .await?;
    Ok(Json(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_in_the_shops_time_zone_and_to_includes_its_day() {
        let lima: Tz = "America/Lima".parse().unwrap();
        assert_eq!(
            instant("from", "2026-11-24", false, lima).unwrap(),
            "2026-11-24T05:00:00.000Z"
        );
        assert_eq!(
            instant("to", "2026-11-24", true, lima).unwrap(),
            "2026-11-25T05:00:00.000Z"
        );
        assert_eq!(
            instant("from", "2026-11-24T10:00:00-05:00", false, lima).unwrap(),
            "2026-11-24T15:00:00.000Z"
        );
        assert_eq!(
            instant("from", "ayer", false, lima).unwrap_err().field,
            "from"
        );
    }
}
