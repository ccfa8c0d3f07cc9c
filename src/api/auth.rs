//! `/api/auth`: login, refresh (rotating, with reuse detection), logout, me, register.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::auth::store::{self as users, Tenant, User};
use crate::auth::{password, tokens, Auth, Role};
use crate::error::{AppError, AppResult};
use crate::ids::{time_text, TenantId, UserId};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/register", post(register))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_at: String,
    refresh_token: String,
    user: User,
    tenant: Tenant,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Json<TokenPair>> {
    let email = body.email.trim().to_lowercase();
    state.limits.check_login(peer.ip(), &email)?;
    let lookup = email.clone();
    let user = state
        .db
        .read(move |c| users::user_by_email(c, &lookup))
        .await?;
    let ok = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            state.limits.login_failed(peer.ip(), &email);
            metrics::counter!("auth_login_failures_total").increment(1);
            return Err(AppError::unauthorized(
                "invalid_credentials",
                "the e-mail or password is wrong",
            ));
        }
    };
    state.limits.login_succeeded(peer.ip(), &email);
    let family = uuid::Uuid::now_v7().to_string();
    Ok(Json(issue_pair(&state, user, family).await?))
}

/// A new access token and a new refresh token in `family`.
async fn issue_pair(state: &AppState, user: User, family: String) -> AppResult<TokenPair> {
    let (access, exp) = state
        .keys
        .issue_access(user.id, user.tenant_id, user.role, &family)?;
    let refresh = tokens::random_secret();
    let hash = tokens::hash_secret(&refresh);
    let expires = time_text(
        chrono::Utc::now() + chrono::Duration::seconds(state.config.refresh_token_ttl_secs as i64),
    );
    let (tenant_id, user_id) = (user.tenant_id, user.id);
    let tenant = state
        .db
        .write(move |c| {
            users::insert_refresh(c, tenant_id, user_id, &family, &hash, &expires)?;
            users::tenant(c, tenant_id)
        })
        .await?
        .ok_or(AppError::NotFound("tenant"))?;
    Ok(TokenPair {
        access_token: access,
        token_type: "Bearer",
        expires_at: time_text(chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default()),
        refresh_token: refresh,
        user,
        tenant,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

enum Spend {
    Fresh(TenantId, UserId, String),
    Reused(String),
    Invalid,
}

async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> AppResult<Json<TokenPair>> {
    let hash = tokens::hash_secret(body.refresh_token.trim());
    let now = crate::ids::now_text();
    // Look up and spend in one write so two racing refreshes cannot both win.
    let spent = state
        .db
        .write(move |c| {
            let Some(t) = users::refresh_by_hash(c, &hash)? else {
                return Ok(Spend::Invalid);
            };
            if t.revoked_at.is_some() {
                return Ok(Spend::Invalid);
            }
            if t.used_at.is_some() {
                users::revoke_family(c, &t.family_id)?;
                return Ok(Spend::Reused(t.family_id));
            }
            if t.expires_at < now || !users::spend_refresh(c, &t.id)? {
                return Ok(Spend::Invalid);
            }
            Ok(Spend::Fresh(t.tenant_id, t.user_id, t.family_id))
        })
        .await?;
    match spent {
        Spend::Fresh(tenant, user_id, family) => {
            let user = state
                .db
                .read(move |c| users::user(c, tenant, user_id))
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| AppError::unauthorized("bad_refresh_token", "the user is gone"))?;
            Ok(Json(issue_pair(&state, user, family).await?))
        }
        Spend::Reused(family) => {
            tracing::warn!(family = %family, "refresh token reused; revoking the whole family");
            state.revoke_sessions([family]);
            Err(AppError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; every session of this login is revoked",
            ))
        }
        Spend::Invalid => Err(AppError::unauthorized(
            "bad_refresh_token",
            "the refresh token is unknown, expired or revoked",
        )),
    }
}

async fn logout(State(state): State<AppState>, auth: Auth) -> AppResult<StatusCode> {
    let Some(family) = auth.session.clone() else {
        return Err(AppError::bad_request(
            "not_a_session",
            "API keys have no session to log out of; revoke the key instead",
        ));
    };
    let f = family.clone();
    state.db.write(move |c| users::revoke_family(c, &f)).await?;
    state.revoke_sessions([family]);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct Me {
    user: Option<User>,
    tenant: Tenant,
    role: Role,
    via: &'static str,
}

async fn me(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Me>> {
    let (tenant, user_id) = (auth.tenant, auth.user);
    let (tenant_row, user) = state
        .db
        .read(move |c| {
            let t = users::tenant(c, tenant)?;
            let u = match user_id {
                Some(id) => users::user(c, tenant, id)?,
                None => None,
            };
            Ok((t, u))
        })
        .await?;
    Ok(Json(Me {
        user,
        tenant: tenant_row.ok_or(AppError::NotFound("tenant"))?,
        role: auth.role,
        via: if auth.api_key.is_some() {
            "api_key"
        } else {
            "session"
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    tenant_name: String,
    email: String,
    password: String,
    #[serde(default)]
    name: String,
}

async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<(StatusCode, Json<TokenPair>)> {
    if !state.config.registration_enabled {
        return Err(AppError::Forbidden {
            code: "registration_disabled",
            detail: "self-service registration is turned off on this server".into(),
        });
    }
    let email = body.email.trim().to_lowercase();
    let mut check = Check::new();
    check.ensure(
        !body.tenant_name.trim().is_empty(),
        "tenant_name",
        "must not be empty",
    );
    check.ensure(
        super::json::is_email(&email),
        "email",
        "must be a valid e-mail address",
    );
    if let Err(m) = password::check_policy(&body.password) {
        check.push("password", m);
    }
    check.finish()?;
    let hash = password::hash(body.password).await?;
    let (tenant_name, name) = (body.tenant_name.trim().to_string(), body.name);
    let created = state
        .db
        .write(move |c| {
            let t = users::create_tenant(c, &tenant_name)?;
            let u = users::create_user(
                c,
                t.id,
                &users::NewUser {
                    email: &email,
                    name: &name,
                    role: Role::Owner,
                    password_hash: &hash,
                },
            )?;
            crate::audit::record(
                c,
                t.id,
                &format!("user:{}", u.id),
                "register",
                "tenant",
                Some(&t.id.to_string()),
                serde_json::json!({"name": t.name}),
            )?;
            Ok(u)
        })
        .await;
    let user = match created {
        Ok(u) => u,
        Err(e) if users::is_unique_violation(&e) => {
            return Err(AppError::conflict(
                "email_taken",
                "that e-mail already has an account",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let family = uuid::Uuid::now_v7().to_string();
    Ok((
        StatusCode::CREATED,
        Json(issue_pair(&state, user, family).await?),
    ))
}
