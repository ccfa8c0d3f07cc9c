//! `/api/outbox`: what waits, what failed, and the dead letters' retry and discard.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiQuery, ItemsPage};
use crate::app::AppState;
use crate::audit;
use crate::auth::{Agent, Require, Viewer};
use crate::error::{AppError, AppResult};
use crate::ids::BotId;
use crate::outbox::queue::{self, OutboxItem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/outbox", get(list))
        .route("/outbox/{id}", get(show))
        .route("/outbox/{id}/retry", post(retry))
        .route("/outbox/{id}/discard", post(discard))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    status: Option<String>,
    bot: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

const STATUSES: [&str; 6] = ["queued", "sending", "sent", "failed", "dead", "discarded"];

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<Query>,
) -> AppResult<Json<ItemsPage<OutboxItem, i64>>> {
    if let Some(s) = &q.status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(AppError::field(
                "status",
                format!("must be one of {}", STATUSES.join(", ")),
            ));
        }
    }
    let bot = match &q.bot {
        Some(b) => Some(BotId::parse(b).ok_or(AppError::field("bot", "must be a bot id"))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let tenant = auth.tenant;
    let items: Vec<OutboxItem> = state
        .db
        .read(move |c| queue::list(c, tenant, q.status.as_deref(), bot, q.before, limit))
        .await?;
    let next = if items.len() as u32 == limit {
        items.last().map(|i| i.id)
    } else {
        None
    };
    Ok(Json(ItemsPage {
        items,
        next_before: next,
    }))
}

async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<i64>,
) -> AppResult<Json<OutboxItem>> {
    let tenant = auth.tenant;
    state
        .db
        .read(move |c| queue::get(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("outbox message"))
}

async fn retry(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<i64>,
) -> AppResult<Json<Value>> {
    act(state, auth, id, "retry").await
}

async fn discard(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<i64>,
) -> AppResult<Json<Value>> {
    act(state, auth, id, "discard").await
}

async fn act(
    state: AppState,
    auth: crate::auth::Auth,
    id: i64,
    action: &'static str,
) -> AppResult<Json<Value>> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    let done = state
        .db
        .write(move |c| {
            let r = if action == "retry" {
                queue::retry(c, tenant, id)?
            } else {
                queue::discard(c, tenant, id)?
            };
            if r == Some(true) {
                audit::record(
                    c,
                    tenant,
                    &actor,
                    action,
                    "outbox",
                    Some(&id.to_string()),
                    json!({}),
                )?;
            }
            Ok(r)
        })
        .await?;
    match done {
        None => Err(AppError::NotFound("outbox message")),
        Some(false) => Err(AppError::conflict(
            "wrong_state",
            format!("only dead, failed (or, to discard, queued) messages can be {action}ed"),
        )),
        Some(true) => {
            state.outbox.wake.notify_one();
            Ok(Json(json!({"id": id, "action": action})))
        }
    }
}
