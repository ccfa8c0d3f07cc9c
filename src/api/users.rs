//! `/api/users`: owners and admins manage their tenant's users.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::audit;
use crate::auth::store::{self as users, User, UserPatch};
use crate::auth::{password, Admin, Auth, Require, Role};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show).put(update).delete(remove))
}

fn parse_id(id: &str) -> AppResult<UserId> {
    UserId::parse(id).ok_or(AppError::NotFound("user"))
}

/// Only an owner may grant or change the owner role.
fn may_assign(auth: &Auth, role: Role) -> AppResult<()> {
    if role == Role::Owner && auth.role != Role::Owner {
        return Err(AppError::forbidden("only an owner can make another owner"));
    }
    Ok(())
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
) -> AppResult<Json<Vec<User>>> {
    let tenant = auth.tenant;
    Ok(Json(state.db.read(move |c| users::users(c, tenant)).await?))
}

async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<Json<User>> {
    let (tenant, id) = (auth.tenant, parse_id(&id)?);
    state
        .db
        .read(move |c| users::user(c, tenant, id))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("user"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    role: String,
    password: String,
}

async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(body): ApiJson<CreateUser>,
) -> AppResult<(StatusCode, Json<User>)> {
    let email = body.email.trim().to_lowercase();
    let role = Role::parse(&body.role);
    let mut check = Check::new();
    check.ensure(
        super::json::is_email(&email),
        "email",
        "must be a valid e-mail address",
    );
    check.ensure(
        role.is_some(),
        "role",
        "must be one of owner, admin, agent, viewer",
    );
    if let Err(m) = password::check_policy(&body.password) {
        check.push("password", m);
    }
    check.ensure(
        body.name.len() <= 200,
        "name",
        "must be at most 200 characters",
    );
    check.finish()?;
    let role = role.ok_or(AppError::field("role", "unknown role"))?;
    may_assign(&auth, role)?;
    let hash = password::hash(body.password).await?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let created = state
        .db
        .write(move |c| {
            let u = users::create_user(
                c,
                tenant,
                &users::NewUser {
                    email: &email,
                    name: body.name.trim(),
                    role,
                    password_hash: &hash,
                },
            )?;
            audit::record(
                c,
                tenant,
                &actor,
                "create",
                "user",
                Some(&u.id.to_string()),
                serde_json::json!({"after": {"email": u.email, "role": u.role}}),
            )?;
            Ok(u)
        })
        .await;
    match created {
        Ok(u) => Ok((StatusCode::CREATED, Json(u))),
        Err(e) if users::is_unique_violation(&e) => {
            Err(AppError::Validation(vec![crate::error::FieldError::new(
                "email",
                "already has an account",
            )]))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUser {
    name: Option<String>,
    role: Option<String>,
    active: Option<bool>,
    password: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> AppResult<Json<User>> {
    let id = parse_id(&id)?;
    let role = match &body.role {
        Some(r) => Some(Role::parse(r).ok_or(AppError::field(
            "role",
            "must be one of owner, admin, agent, viewer",
        ))?),
        None => None,
    };
    if let Some(p) = &body.password {
        password::check_policy(p).map_err(|m| AppError::field("password", m))?;
    }
    let hash = match body.password {
        Some(p) => Some(password::hash(p).await?),
        None => None,
    };
    let (tenant, actor, actor_role) = (auth.tenant, auth.actor(), auth.role);
    let demotes = role.is_some_and(|r| r != Role::Owner) || body.active == Some(false);
    let updated = state
        .db
        .write(move |c| {
            let Some(before) = users::user(c, tenant, id)? else {
                return Ok(Err(AppError::NotFound("user")));
            };
            if (before.role == Role::Owner || role == Some(Role::Owner)) && actor_role != Role::Owner {
                return Ok(Err(AppError::forbidden("only an owner can change an owner")));
            }
            if before.role == Role::Owner && demotes && users::active_owner_count(c, tenant)? <= 1 {
                return Ok(Err(AppError::conflict("last_owner", "a tenant must keep at least one active owner")));
            }
            let after = users::update_user(c, tenant, id, &UserPatch {
                name: body.name.map(|n| n.trim().to_string()),
                role,
                active: body.active,
                password_hash: hash,
            })?;
            if let Some(a) = &after {
                audit::record(c, tenant, &actor, "update", "user", Some(&id.to_string()),
                    serde_json::json!({"before": {"role": before.role, "active": before.active, "name": before.name},
                                       "after": {"role": a.role, "active": a.active, "name": a.name}}))?;
            }
            Ok(after.ok_or(AppError::NotFound("user")))
        })
        .await??;
    if !updated.active {
        let uid = updated.id;
        let fams = state
            .db
            .write(move |c| users::revoke_user_sessions(c, uid))
            .await?;
        state.revoke_sessions(fams);
    }
    Ok(Json(updated))
}

async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    if auth.user == Some(id) {
        return Err(AppError::conflict(
            "cannot_delete_self",
            "you cannot delete your own account",
        ));
    }
    let (tenant, actor, actor_role) = (auth.tenant, auth.actor(), auth.role);
    let fams = state
        .db
        .write(move |c| {
            let Some(before) = users::user(c, tenant, id)? else {
                return Ok(Err(AppError::NotFound("user")));
            };
            if before.role == Role::Owner {
                if actor_role != Role::Owner {
                    return Ok(Err(AppError::forbidden(
                        "only an owner can delete an owner",
                    )));
                }
                if users::active_owner_count(c, tenant)? <= 1 {
                    return Ok(Err(AppError::conflict(
                        "last_owner",
                        "a tenant must keep at least one active owner",
                    )));
                }
            }
            let fams = users::revoke_user_sessions(c, id)?;
            users::delete_user(c, tenant, id)?;
            audit::record(
                c,
                tenant,
                &actor,
                "delete",
                "user",
                Some(&id.to_string()),
                serde_json::json!({"before": {"email": before.email, "role": before.role}}),
            )?;
            Ok(Ok(fams))
        })
        .await??;
    state.revoke_sessions(fams);
    Ok(StatusCode::NO_CONTENT)
}
