//! `/api/products`: the catalogue. Viewers read, admins and owners write.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiJson;
use super::ApiQuery;
use crate::app::AppState;
use crate::auth::{Admin, Require, Viewer};
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::ProductId;
use crate::shop::csv_io::{self, ImportSummary};
use crate::shop::products::{self, Category, Product, ProductDraft, ProductFilter};
use crate::shop::{self, tenant_defaults, Cursor, Page, ShopError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/categories", get(categories))
        .route("/products/export", get(export))
        .route("/products/import", post(import))
        .route("/products/{id}", get(show).put(update).delete(remove))
}

pub(crate) fn parse_id(id: &str) -> AppResult<ProductId> {
    ProductId::parse(id).ok_or(AppError::NotFound("product"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// 1-200, default 50.
    limit: Option<u32>,
    category: Option<String>,
    active: Option<bool>,
    /// true: unlimited or > 0 in stock; false: out of stock.
    in_stock: Option<bool>,
    /// Search words (case and accents ignored).
    q: Option<String>,
}

/// List products, newest first.
#[utoipa::path(get, path = "/api/products", tag = "products", params(ListQuery),
    responses((status = 200, body = Page<Product>), (status = 422, description = "bad filter")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Product>>> {
    let cursor = Cursor::parse(q.cursor.as_deref(), q.limit)?;
    let filter = ProductFilter {
        category: q.category,
        active: q.active,
        in_stock: q.in_stock,
        q: q.q,
    };
    let tenant = auth.tenant;
    let plain = filter.is_empty();
    let read = move |c: &rusqlite::Connection| products::list(c, tenant, &filter, &cursor);
    let page = if plain {
        shop::read_now(&state.db, read).await?
    } else {
        shop::read(&state.db, read).await?
    };
    Ok(Json(page))
}

/// Categories with active products.
#[utoipa::path(get, path = "/api/products/categories", tag = "products",
    responses((status = 200, body = Vec<Category>)))]
pub(crate) async fn categories(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
) -> AppResult<Json<Vec<Category>>> {
    let tenant = auth.tenant;
    Ok(Json(
        shop::read(&state.db, move |c| products::categories(c, tenant)).await?,
    ))
}

/// One product.
#[utoipa::path(get, path = "/api/products/{id}", tag = "products",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Product), (status = 404, description = "not in this tenant")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Product>> {
    let (tenant, id) = (auth.tenant, parse_id(&id)?);
    shop::read(&state.db, move |c| products::get(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("product"))
}

/// Create a product (admin).
#[utoipa::path(post, path = "/api/products", tag = "products", request_body = ProductDraft,
    responses((status = 201, body = Product), (status = 409, description = "SKU already used"),
              (status = 422, description = "invalid fields, each named")))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(draft): ApiJson<ProductDraft>,
) -> AppResult<(StatusCode, Json<Product>)> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    let p = shop::write(&state.db, move |c| {
        let input = draft
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        products::create(c, tenant, &input, &actor)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// Change a product (admin); absent fields keep their value.
#[utoipa::path(put, path = "/api/products/{id}", tag = "products", request_body = ProductDraft,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Product), (status = 404, description = "not in this tenant"),
              (status = 409, description = "SKU already used"), (status = 422, description = "invalid fields")))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ProductDraft>,
) -> AppResult<Json<Product>> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let p = shop::write(&state.db, move |c| {
        let before = products::get(c, tenant, id)?.ok_or(ShopError::NotFound("product"))?;
        let input = draft
            .over(&before)
            .validate(&tenant_defaults(c, tenant)?)
            .map_err(ShopError::Invalid)?;
        products::update(c, tenant, id, &input, &actor)
    })
    .await?;
    Ok(Json(p))
}

/// Delete a product (admin); orders keep their snapshot.
#[utoipa::path(delete, path = "/api/products/{id}", tag = "products",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204, description = "deleted"), (status = 404, description = "not in this tenant")))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    shop::write(&state.db, move |c| products::delete(c, tenant, id, &actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All products as CSV (the import format).
#[utoipa::path(get, path = "/api/products/export", tag = "products",
    responses((status = 200, content_type = "text/csv", body = String)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
) -> AppResult<impl IntoResponse> {
    let tenant = auth.tenant;
    let csv = shop::read(&state.db, move |c| csv_io::export_products(c, tenant)).await?;
    Ok(csv_response(csv, "products.csv"))
}

/// Import products from CSV (admin): all rows or none; errors name line and column.
#[utoipa::path(post, path = "/api/products/import", tag = "products",
    request_body(content = String, content_type = "text/csv",
        description = "columns: sku,name,description,price,currency,stock,category,tags,images,active; price as decimal text (45.90), tags/images separated by |, empty stock = unlimited"),
    responses((status = 200, body = ImportSummary),
              (status = 422, description = "nothing imported; each error names `line N, column M (name)`")))]
pub(crate) async fn import(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    body: Bytes,
) -> AppResult<Json<ImportSummary>> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    ensure_body(&body)?;
    let data = body.to_vec();
    let summary = shop::write(&state.db, move |c| {
        csv_io::import_products(c, tenant, &data, &actor)
    })
    .await?;
    Ok(Json(summary))
}

pub(crate) fn ensure_body(body: &Bytes) -> AppResult<()> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(AppError::Validation(vec![FieldError::new(
            "body",
            "send the CSV file as the request body",
        )]));
    }
    Ok(())
}

pub(crate) fn csv_response(csv: Vec<u8>, name: &str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        csv,
    )
}
