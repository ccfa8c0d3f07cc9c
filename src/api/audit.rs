//! `/api/audit`: the tenant's audit log, for owners and admins.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::ApiQuery;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Admin, Require};
use crate::error::AppResult;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    entity: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiQuery(q): ApiQuery<Query>,
) -> AppResult<Json<Vec<Entry>>> {
    let tenant = auth.tenant;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(
        state
            .db
            .read(move |c| audit::list(c, tenant, q.entity.as_deref(), q.before, limit))
            .await?,
    ))
}
