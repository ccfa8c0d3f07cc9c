//! `/api/api-keys`: per-tenant keys for integrations, shown once, stored hashed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::audit;
use crate::auth::store::{self as store, ApiKey};
use crate::auth::{tokens, Admin, Require, Role};
use crate::error::{AppError, AppResult};
use crate::ids::ApiKeyId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", delete(revoke))
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
) -> AppResult<Json<Vec<ApiKey>>> {
    let tenant = auth.tenant;
    Ok(Json(
        state.db.read(move |c| store::api_keys(c, tenant)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    #[serde(default)]
    role: Option<String>,
}

#[derive(Serialize)]
struct CreatedKey {
    #[serde(flatten)]
    key: ApiKey,
    /// The secret: shown this once, never again.
    secret: String,
}

async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(body): ApiJson<CreateKey>,
) -> AppResult<(StatusCode, Json<CreatedKey>)> {
    let role = match body.role.as_deref() {
        None => Some(Role::Admin.min(auth.role)),
        Some(r) => Role::parse(r),
    };
    let mut check = Check::new();
    check.ensure(
        !body.name.trim().is_empty() && body.name.len() <= 100,
        "name",
        "must be 1 to 100 characters",
    );
    check.ensure(
        role.is_some(),
        "role",
        "must be one of owner, admin, agent, viewer",
    );
    check.finish()?;
    let role = role.ok_or(AppError::field("role", "unknown role"))?;
    if role > auth.role {
        return Err(AppError::forbidden(
            "a key cannot have a higher role than its creator",
        ));
    }
    let secret = tokens::new_api_key();
    let (tenant, actor, s) = (auth.tenant, auth.actor(), secret.clone());
    let key = state
        .db
        .write(move |c| {
            let k = store::insert_api_key(c, tenant, body.name.trim(), role, &s, &actor)?;
            audit::record(
                c,
                tenant,
                &actor,
                "create",
                "api_key",
                Some(&k.id.to_string()),
                serde_json::json!({"after": {"name": k.name, "role": k.role}}),
            )?;
            Ok(k)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, secret })))
}

async fn revoke(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = ApiKeyId::parse(&id).ok_or(AppError::NotFound("api key"))?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let done = state
        .db
        .write(move |c| {
            let done = store::revoke_api_key(c, tenant, id)?;
            if done {
                audit::record(
                    c,
                    tenant,
                    &actor,
                    "revoke",
                    "api_key",
                    Some(&id.to_string()),
                    serde_json::json!({}),
                )?;
            }
            Ok(done)
        })
        .await?;
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("api key"))
    }
}
