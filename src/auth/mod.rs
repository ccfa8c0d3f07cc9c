//! Tenants, users, roles, passwords, tokens and API keys, and the extractors that make
//! a handler's signature say who may call it.

pub mod limits;
pub mod password;
pub mod store;
pub mod tokens;

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::AppError;
use crate::ids::{ApiKeyId, TenantId, UserId};

/// Roles, weakest first: a role can do everything the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Agent,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "viewer" => Role::Viewer,
            "agent" => Role::Agent,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => return None,
        })
    }
}

/// Who is calling: a logged-in user or an API key, always inside one tenant.
#[derive(Debug, Clone)]
pub struct Auth {
    pub tenant: TenantId,
    pub role: Role,
    pub user: Option<UserId>,
    pub api_key: Option<ApiKeyId>,
    /// Refresh-token family of this login (None for API keys).
    pub session: Option<String>,
}

impl Auth {
    /// Text for audit and history rows: `user:<id>` or `api_key:<id>`.
    pub fn actor(&self) -> String {
        match (self.user, self.api_key) {
            (Some(u), _) => format!("user:{u}"),
            (_, Some(k)) => format!("api_key:{k}"),
            _ => "system".into(),
        }
    }

    pub fn require(&self, min: Role) -> Result<(), AppError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "this action needs the {} role or higher; you are {}",
                min.as_str(),
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, AppError> {
        if let Some(auth) = parts.extensions.get::<Auth>() {
            return Ok(auth.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let query_token = query_token(parts);
        let token = match (header, &query_token) {
            (Some(h), _) => h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
                .ok_or_else(|| AppError::unauthorized("bad_token", "expected a Bearer token"))?
                .trim(),
            (None, Some(t)) => t.as_str(),
            (None, None) => {
                return Err(AppError::unauthorized(
                    "missing_token",
                    "an Authorization: Bearer token is required",
                ))
            }
        };
        let auth = if token.starts_with(tokens::API_KEY_PREFIX) {
            let hash = tokens::hash_secret(token);
            let found = state
                .db
                .read_now(move |c| store::api_key_by_hash(c, &hash))
                .await?;
            let key = found.ok_or_else(|| {
                AppError::unauthorized("bad_api_key", "the API key is unknown or revoked")
            })?;
            state.touch_api_key(key.id);
            Auth {
                tenant: key.tenant_id,
                role: key.role,
                user: None,
                api_key: Some(key.id),
                session: None,
            }
        } else {
            let claims = state.keys.verify_access(token)?;
            if state.is_session_revoked(&claims.sid) {
                return Err(AppError::unauthorized(
                    "session_revoked",
                    "this session was logged out; log in again",
                ));
            }
            Auth {
                tenant: claims.tid,
                role: claims.role,
                user: Some(claims.sub),
                api_key: None,
                session: Some(claims.sid),
            }
        };
        if let Some(slot) = parts.extensions.get::<crate::api::TenantSlot>() {
            if let Ok(mut t) = slot.0.lock() {
                *t = Some(auth.tenant);
            }
        }
        state.limits.check_tenant(auth.tenant)?;
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// `?access_token=` is accepted only for the SSE stream (EventSource cannot send headers).
fn query_token(parts: &Parts) -> Option<String> {
    // Inside the nested `/api` router the path is stripped; the original one is kept.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(&parts.uri);
    if uri.path() != "/api/events" {
        return None;
    }
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// A minimum role as a type, for [`Require`].
pub trait MinRole {
    const ROLE: Role;
}
pub struct Viewer;
pub struct Agent;
pub struct Admin;
pub struct Owner;
impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Agent {
    const ROLE: Role = Role::Agent;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}
impl MinRole for Owner {
    const ROLE: Role = Role::Owner;
}

/// An authenticated caller with at least role `R`: `Require(auth): Require<Admin>`.
pub struct Require<R: MinRole>(pub Auth, pub PhantomData<R>);

impl<R: MinRole> FromRequestParts<AppState> for Require<R> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let auth = Auth::from_request_parts(parts, state).await?;
        auth.require(R::ROLE)?;
        Ok(Require(auth, PhantomData))
    }
}
