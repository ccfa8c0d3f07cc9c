//! SQL for tenants, users, refresh tokens and API keys. Tenant data always takes a `TenantId`.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::ids::{now_text, ApiKeyId, TenantId, UserId};
use crate::store::{CachedSql, DbError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    pub country: String,
    pub locale: String,
    pub settings: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub family_id: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// True when a write failed on a UNIQUE constraint.
pub fn is_unique_violation(e: &DbError) -> bool {
    matches!(e, DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn role_col(r: &Row, idx: usize) -> rusqlite::Result<Role> {
    let s: String = r.get(idx)?;
    Role::parse(&s).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(idx, "role".into(), rusqlite::types::Type::Text)
    })
}

const TENANT_COLS: &str =
    "id, name, timezone, currency, country, locale, settings, created_at, updated_at";

fn tenant_row(r: &Row) -> rusqlite::Result<Tenant> {
    let settings: String = r.get(6)?;
    Ok(Tenant {
        id: r.get(0)?,
        name: r.get(1)?,
        timezone: r.get(2)?,
        currency: r.get(3)?,
        country: r.get(4)?,
        locale: r.get(5)?,
        settings: serde_json::from_str(&settings).unwrap_or(serde_json::json!({})),
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub fn create_tenant(c: &Connection, name: &str) -> Result<Tenant, DbError> {
    let id = TenantId::new();
    let now = now_text();
    c.execute(
        "INSERT INTO tenants (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![id, name, now],
    )?;
    tenant(c, id)?.ok_or_else(|| DbError::Other("tenant vanished".into()))
}

pub fn tenant(c: &Connection, id: TenantId) -> Result<Option<Tenant>, DbError> {
    Ok(c.query_row(
        &format!("SELECT {TENANT_COLS} FROM tenants WHERE id = ?1"),
        [id],
        tenant_row,
    )
    .optional()?)
}

pub fn tenant_by_name(c: &Connection, name: &str) -> Result<Option<Tenant>, DbError> {
    Ok(c.query_row(
        &format!("SELECT {TENANT_COLS} FROM tenants WHERE name = ?1 ORDER BY id LIMIT 1"),
        [name],
        tenant_row,
    )
    .optional()?)
}

pub fn update_tenant(c: &Connection, t: &Tenant) -> Result<(), DbError> {
    c.execute(
        "UPDATE tenants SET name=?2, timezone=?3, currency=?4, country=?5, locale=?6, settings=?7, updated_at=?8 WHERE id=?1",
        params![t.id, t.name, t.timezone, t.currency, t.country, t.locale, t.settings.to_string(), now_text()],
    )?;
    Ok(())
}

const USER_COLS: &str =
    "id, tenant_id, email, name, role, active, created_at, updated_at, password_hash";

fn user_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        role: role_col(r, 4)?,
        active: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        password_hash: r.get(8)?,
    })
}

/// Login looks users up by e-mail across tenants (e-mails are unique).
pub fn user_by_email(c: &Connection, email: &str) -> Result<Option<User>, DbError> {
    Ok(c.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
        [email],
        user_row,
    )
    .optional()?)
}

pub fn user(c: &Connection, tenant: TenantId, id: UserId) -> Result<Option<User>, DbError> {
    Ok(c.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE tenant_id = ?1 AND id = ?2"),
        params![tenant, id],
        user_row,
    )
    .optional()?)
}

pub fn users(c: &Connection, tenant: TenantId) -> Result<Vec<User>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {USER_COLS} FROM users WHERE tenant_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = st.query_map([tenant], user_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub fn create_user(c: &Connection, tenant: TenantId, u: &NewUser) -> Result<User, DbError> {
    let id = UserId::new();
    let now = now_text();
    c.execute(
        "INSERT INTO users (id, tenant_id, email, name, password_hash, role, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
        params![id, tenant, u.email, u.name, u.password_hash, u.role.as_str(), now],
    )?;
    user(c, tenant, id)?.ok_or_else(|| DbError::Other("user vanished".into()))
}

pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

pub fn update_user(
    c: &Connection,
    tenant: TenantId,
    id: UserId,
    p: &UserPatch,
) -> Result<Option<User>, DbError> {
    let n = c.execute(
        "UPDATE users SET name = COALESCE(?3, name), role = COALESCE(?4, role),
            active = COALESCE(?5, active), password_hash = COALESCE(?6, password_hash), updated_at = ?7
         WHERE tenant_id = ?1 AND id = ?2",
        params![
            tenant,
            id,
            p.name,
            p.role.map(|r| r.as_str()),
            p.active,
            p.password_hash,
            now_text()
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    user(c, tenant, id)
}

pub fn delete_user(c: &Connection, tenant: TenantId, id: UserId) -> Result<bool, DbError> {
    Ok(c.execute(
        "DELETE FROM users WHERE tenant_id = ?1 AND id = ?2",
        params![tenant, id],
    )? > 0)
}

pub fn active_owner_count(c: &Connection, tenant: TenantId) -> Result<i64, DbError> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM users WHERE tenant_id = ?1 AND role = 'owner' AND active = 1",
        [tenant],
        |r| r.get(0),
    )?)
}

pub fn insert_refresh(
    c: &Connection,
    tenant: TenantId,
    user: UserId,
    family: &str,
    hash: &str,
    expires_at: &str,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![uuid::Uuid::now_v7().to_string(), tenant, user, family, hash, expires_at, now_text()],
    )?;
    Ok(())
}

pub fn refresh_by_hash(c: &Connection, hash: &str) -> Result<Option<RefreshToken>, DbError> {
    Ok(c.query_row(
        "SELECT id, tenant_id, user_id, family_id, expires_at, used_at, revoked_at
             FROM refresh_tokens WHERE token_hash = ?1",
        [hash],
        |r| {
            Ok(RefreshToken {
                id: r.get(0)?,
                tenant_id: r.get(1)?,
                user_id: r.get(2)?,
                family_id: r.get(3)?,
                expires_at: r.get(4)?,
                used_at: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        },
    )
    .optional()?)
}

/// Marks a token spent; false when another request spent it first.
pub fn spend_refresh(c: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(c.execute(
        "UPDATE refresh_tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL AND revoked_at IS NULL",
        params![id, now_text()],
    )? == 1)
}

pub fn revoke_family(c: &Connection, family: &str) -> Result<(), DbError> {
    c.execute(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
        params![family, now_text()],
    )?;
    Ok(())
}

pub fn revoke_user_sessions(c: &Connection, user: UserId) -> Result<Vec<String>, DbError> {
    let mut st = c.prepare(
        "SELECT DISTINCT family_id FROM refresh_tokens WHERE user_id = ?1 AND revoked_at IS NULL",
    )?;
    let fams: Vec<String> = st
        .query_map([user], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for f in &fams {
        revoke_family(c, f)?;
    }
    Ok(fams)
}

/// Families revoked recently enough that an access token of theirs may still be alive.
pub fn revoked_families_since(c: &Connection, since: &str) -> Result<Vec<String>, DbError> {
    let mut st = c.prepare(
        "SELECT DISTINCT family_id FROM refresh_tokens WHERE revoked_at IS NOT NULL AND revoked_at >= ?1",
    )?;
    let rows = st.query_map([since], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const KEY_COLS: &str = "id, tenant_id, name, prefix, role, created_at, last_used_at";

fn key_row(r: &Row) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        role: role_col(r, 4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
    })
}

pub fn insert_api_key(
    c: &Connection,
    tenant: TenantId,
    name: &str,
    role: Role,
    secret: &str,
    created_by: &str,
) -> Result<ApiKey, DbError> {
    let id = ApiKeyId::new();
    let prefix: String = secret.chars().take(10).collect();
    c.execute(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            tenant,
            name,
            prefix,
            super::tokens::hash_secret(secret),
            role.as_str(),
            created_by,
            now_text()
        ],
    )?;
    Ok(c.query_row(
        &format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1"),
        [id],
        key_row,
    )?)
}

pub fn api_keys(c: &Connection, tenant: TenantId) -> Result<Vec<ApiKey>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL ORDER BY id"
    ))?;
    let rows = st.query_map([tenant], key_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn api_key_by_hash(c: &Connection, hash: &str) -> Result<Option<ApiKey>, DbError> {
    Ok(c.query_row_cached(
        &format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"),
        [hash],
        key_row,
    )
    .optional()?)
}

pub fn revoke_api_key(c: &Connection, tenant: TenantId, id: ApiKeyId) -> Result<bool, DbError> {
    Ok(c.execute(
        "UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![tenant, id, now_text()],
    )? > 0)
}

pub fn touch_api_key(c: &Connection, id: ApiKeyId) -> Result<(), DbError> {
    c.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
        params![id, now_text()],
    )?;
    Ok(())
}
