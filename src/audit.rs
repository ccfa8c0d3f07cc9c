//! Audit log: who changed what, when, with a before/after summary. Written in the same
//! transaction as the change it describes.

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::ids::{now_text, TenantId};
use crate::store::DbError;

pub fn record(
    c: &Connection,
    tenant: TenantId,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: Option<&str>,
    summary: serde_json::Value,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO audit_log (tenant_id, actor, action, entity, entity_id, summary, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            tenant,
            actor,
            action,
            entity,
            entity_id,
            summary.to_string(),
            now_text()
        ],
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub summary: serde_json::Value,
    pub created_at: String,
}

/// Newest first, paged by id (`before` = the last id seen).
pub fn list(
    c: &Connection,
    tenant: TenantId,
    entity: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Entry>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT id, actor, action, entity, entity_id, summary, created_at FROM audit_log
         WHERE tenant_id = ?1 AND (?2 IS NULL OR entity = ?2) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = st.query_map(params![tenant, entity, before, limit], |r| {
        let summary: String = r.get(5)?;
        Ok(Entry {
            id: r.get(0)?,
            actor: r.get(1)?,
            action: r.get(2)?,
            entity: r.get(3)?,
            entity_id: r.get(4)?,
            summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
            created_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
