//! `/api/sellers`: viewers read, admins and owners write; stats per seller.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::orders::date_range;
use super::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::auth::{Admin, Require, Viewer};
use crate::error::{AppError, AppResult};
use crate::ids::SellerId;
use crate::shop::sellers::{self, Seller, SellerDraft, SellerFilter, SellerStats};
use crate::shop::{self, tenant_defaults, Cursor, Page, ShopError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sellers", get(list).post(create))
        .route("/sellers/stats", get(stats))
        .route("/sellers/{id}", get(show).put(update).delete(remove))
}

fn parse_id(id: &str) -> AppResult<SellerId> {
    SellerId::parse(id).ok_or(AppError::NotFound("seller"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    active: Option<bool>,
    /// Part of the name.
    q: Option<String>,
}

/// List sellers, newest first.
#[utoipa::path(get, path = "/api/sellers", tag = "sellers", params(ListQuery),
    responses((status = 200, body = Page<Seller>), (status = 422, description = "bad filter")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Seller>>> {
    let cursor = Cursor::parse(q.cursor.as_deref(), q.limit)?;
    let filter = SellerFilter {
        active: q.active,
        q: q.q,
    };
    let tenant = auth.tenant;
    Ok(Json(
        shop::read(&state.db, move |c| {
            sellers::list(c, tenant, &filter, &cursor)
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// From this instant or day (RFC 3339 or YYYY-MM-DD), inclusive.
    from: Option<String>,
    /// Up to this instant (exclusive) or day (inclusive).
    to: Option<String>,
}

/// Orders, revenue and commission per seller over a date range (cancelled orders excluded).
#[utoipa::path(get, path = "/api/sellers/stats", tag = "sellers", params(StatsQuery),
    responses((status = 200, body = Vec<SellerStats>), (status = 422, description = "bad date")))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> AppResult<Json<Vec<SellerStats>>> {
    let (from, to) = date_range(&state, auth.tenant, q.from.as_deref(), q.to.as_deref()).await?;
    let tenant = auth.tenant;
    Ok(Json(
        shop::read(&state.db, move |c| {
            sellers::stats(c, tenant, from.as_deref(), to.as_deref())
        })
        .await?,
    ))
}

/// One seller.
#[utoipa::path(get, path = "/api/sellers/{id}", tag = "sellers",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Seller), (status = 404, description = "not in this tenant")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Seller>> {
    let (tenant, id) = (auth.tenant, parse_id(&id)?);
    shop::read(&state.db, move |c| sellers::get(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("seller"))
}

/// Create a seller (admin).
#[utoipa::path(post, path = "/api/sellers", tag = "sellers", request_body = SellerDraft,
    responses((status = 201, body = Seller), (status = 422, description = "invalid fields, each named")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(draft): ApiJson<SellerDraft>,
) -> AppResult<(StatusCode, Json<Seller>)> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    let s = shop::write(&state.db, move |c| {
        let input = draft
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        sellers::create(c, tenant, &input, &actor)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// Change a seller (admin); absent fields keep their value.
#[utoipa::path(put, path = "/api/sellers/{id}", tag = "sellers", request_body = SellerDraft,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Seller), (status = 404, description = "not in this tenant"),
              (status = 422, description = "invalid fields")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<SellerDraft>,
) -> AppResult<Json<Seller>> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let s = shop::write(&state.db, move |c| {
        let before = sellers::get(c, tenant, id)?.ok_or(ShopError::NotFound("seller"))?;
        let input = draft
            .over(&before)
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        sellers::update(c, tenant, id, &input, &actor)
    })
    .await?;
    Ok(Json(s))
}

/// Delete a seller without orders (admin).
#[utoipa::path(delete, path = "/api/sellers/{id}", tag = "sellers",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "deleted"), (status = 404, description = "not in this tenant"),
              (status = 409, description = "the seller has orders")))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    shop::write(&state.db, move |c| sellers::delete(c, tenant, id, &actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}
