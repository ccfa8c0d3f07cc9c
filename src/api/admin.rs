//! `/api/admin`: error log (with the unseen counter) and incidents, for owners and admins.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery};
use crate::analytics::alerts::{self, Incident};
use crate::analytics::errors::{self, ErrorEntry};
use crate::app::AppState;
use crate::auth::{Admin, Require};
use crate::error::{AppError, AppResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/errors", get(list_errors))
        .route("/admin/errors/seen", post(mark_seen))
        .route("/admin/incidents", get(list_incidents))
        .route("/admin/incidents/{id}/resolve", post(resolve_incident))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorsQuery {
    unseen: Option<bool>,
    cursor: Option<i64>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct ErrorPage {
    items: Vec<ErrorEntry>,
    unseen_count: i64,
    next_cursor: Option<String>,
}

async fn list_errors(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiQuery(q): ApiQuery<ErrorsQuery>,
) -> AppResult<Json<ErrorPage>> {
    let tenant = auth.tenant;
    let (items, next, unseen_count) = state
        .db
        .read(move |c| {
            let (items, next) = errors::list(
                c,
                tenant,
                q.unseen.unwrap_or(false),
                q.cursor,
                q.limit.unwrap_or(50),
            )?;
            Ok((items, next, errors::unseen_count(c, tenant)?))
        })
        .await?;
    Ok(Json(ErrorPage {
        items,
        unseen_count,
        next_cursor: next.map(|n| n.to_string()),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeenBody {
    #[serde(default)]
    ids: Vec<i64>,
    up_to: Option<i64>,
}

#[derive(Serialize)]
struct Seen {
    marked: usize,
    unseen_count: i64,
}

async fn mark_seen(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(body): ApiJson<SeenBody>,
) -> AppResult<Json<Seen>> {
    if body.ids.len() > 1000 {
        return Err(AppError::field("ids", "at most 1000 ids at once"));
    }
    let tenant = auth.tenant;
    let (marked, unseen_count) = state
        .db
        .write(move |c| {
            let n = errors::mark_seen(c, tenant, &body.ids, body.up_to)?;
            Ok((n, errors::unseen_count(c, tenant)?))
        })
        .await?;
    Ok(Json(Seen {
        marked,
        unseen_count,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentsQuery {
    all: Option<bool>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct IncidentList {
    items: Vec<Incident>,
}

async fn list_incidents(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiQuery(q): ApiQuery<IncidentsQuery>,
) -> AppResult<Json<IncidentList>> {
    let tenant = auth.tenant;
    let items = state
        .db
        .read(move |c| alerts::list(c, tenant, q.all.unwrap_or(false), q.limit.unwrap_or(100)))
        .await?;
    Ok(Json(IncidentList { items }))
}

async fn resolve_incident(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<i64>,
) -> AppResult<Json<serde_json::Value>> {
    let tenant = auth.tenant;
    let done = state
        .db
        .write(move |c| alerts::resolve_by_id(c, tenant, id))
        .await?;
    if !done {
        return Err(AppError::NotFound("open incident"));
    }
    alerts::kick();
    Ok(Json(serde_json::json!({ "id": id, "resolved": true })))
}
