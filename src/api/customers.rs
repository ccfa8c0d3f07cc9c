//! `/api/customers`: viewers read, agents and up manage.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::products::{csv_response, ensure_body};
use super::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::auth::{Agent, Require, Viewer};
use crate::error::{AppError, AppResult};
use crate::ids::CustomerId;
use crate::shop::csv_io::{self, ImportSummary};
use crate::shop::customers::{self, Customer, CustomerDraft, CustomerFilter};
use crate::shop::{self, tenant_defaults, Cursor, Page, ShopError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list).post(create))
        .route("/customers/export", get(export))
        .route("/customers/import", post(import))
        .route("/customers/{id}", get(show).put(update).delete(remove))
}

fn parse_id(id: &str) -> AppResult<CustomerId> {
    CustomerId::parse(id).ok_or(AppError::NotFound("customer"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    opted_out: Option<bool>,
    tag: Option<String>,
    /// Search words in name, phone, e-mail, tags, notes (case and accents ignored).
    q: Option<String>,
}

/// List customers, newest first.
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(ListQuery),
    responses((status = 200, body = Page<Customer>), (status = 422, description = "bad filter")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Customer>>> {
    let cursor = Cursor::parse(q.cursor.as_deref(), q.limit)?;
    let filter = CustomerFilter {
        opted_out: q.opted_out,
        tag: q.tag,
        q: q.q,
    };
    let tenant = auth.tenant;
    Ok(Json(
        shop::read(&state.db, move |c| {
            customers::list(c, tenant, &filter, &cursor)
        })
        .await?,
    ))
}

/// One customer.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Customer), (status = 404, description = "not in this tenant")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Customer>> {
    let (tenant, id) = (auth.tenant, parse_id(&id)?);
    shop::read(&state.db, move |c| customers::get(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("customer"))
}

/// Create a customer (agent); the phone is stored in E.164.
#[utoipa::path(post, path = "/api/customers", tag = "customers", request_body = CustomerDraft,
    responses((status = 201, body = Customer), (status = 409, description = "phone already used"),
              (status = 422, description = "invalid fields, each named")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    ApiJson(draft): ApiJson<CustomerDraft>,
) -> AppResult<(StatusCode, Json<Customer>)> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    let k = shop::write(&state.db, move |c| {
        let input = draft
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        customers::create(c, tenant, &input, &actor)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(k)))
}

/// Change a customer (agent); absent fields keep their value.
#[utoipa::path(put, path = "/api/customers/{id}", tag = "customers", request_body = CustomerDraft,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Customer), (status = 404, description = "not in this tenant"),
              (status = 409, description = "phone already used"), (status = 422, description = "invalid fields")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<CustomerDraft>,
) -> AppResult<Json<Customer>> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let k = shop::write(&state.db, move |c| {
        let before = customers::get(c, tenant, id)?.ok_or(ShopError::NotFound("customer"))?;
        let input = draft
            .over(&before)
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        customers::update(c, tenant, id, &input, &actor)
    })
    .await?;
    Ok(Json(k))
}

/// Delete a customer without orders (agent).
#[utoipa::path(delete, path = "/api/customers/{id}", tag = "customers",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "deleted"), (status = 404, description = "not in this tenant"),
              (status = 409, description = "the customer has orders")))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    shop::write(&state.db, move |c| customers::delete(c, tenant, id, &actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All customers as CSV (agent).
#[utoipa::path(get, path = "/api/customers/export", tag = "customers",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
) -> AppResult<impl IntoResponse> {
    let tenant = auth.tenant;
    let csv = shop::read(&state.db, move |c| csv_io::export_customers(c, tenant)).await?;
    Ok(csv_response(csv, "customers.csv"))
}

/// Import customers from CSV (agent), keyed by phone: all rows or none.
#[utoipa::path(post, path = "/api/customers/import", tag = "customers",
    request_body(content = String, content_type = "text/csv",
        description = "columns: phone,name,email,tags,notes,opted_out; tags separated by |"),
    responses((status = 200, body = ImportSummary),
              (status = 422, description = "nothing imported; each error names `line N, column M (name)`")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    body: Bytes,
) -> AppResult<Json<ImportSummary>> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    ensure_body(&body)?;
    let data = body.to_vec();
    let summary = shop::write(&state.db, move |c| {
        csv_io::import_customers(c, tenant, &data, &actor)
    })
    .await?;
    Ok(Json(summary))
}
