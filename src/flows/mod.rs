//! Flow storage: drafts validated on save, immutable numbered versions on publish, and
//! the bot program (published flows + bot settings) the engine runs.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::engine::model::{BotProgram, Flow, GlobalCommands};
use crate::engine::BusinessHours;
use crate::ids::{now_text, BotId, TenantId};
use crate::store::DbError;

#[derive(Debug, Clone, Serialize)]
pub struct StoredFlow {
    pub id: String,
    pub bot_id: BotId,
    pub name: String,
    /// The editable definition (a `Flow` without version).
    pub draft: serde_json::Value,
    pub is_default: bool,
    pub latest_version: Option<u32>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: u32,
    pub published_at: String,
    pub published_by: String,
    pub note: Option<String>,
}

const COLS: &str = "id, bot_id, name, draft, is_default, latest_version, created_at, updated_at";

fn row(r: &Row) -> rusqlite::Result<StoredFlow> {
    let draft: String = r.get(3)?;
    Ok(StoredFlow {
        id: r.get(0)?,
        bot_id: r.get(1)?,
        name: r.get(2)?,
        draft: serde_json::from_str(&draft).unwrap_or(serde_json::Value::Null),
        is_default: r.get(4)?,
        latest_version: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

/// The definition as the engine sees it: the stored draft with id, name and version set.
pub fn to_flow(id: &str, name: &str, version: u32, definition: &serde_json::Value) -> Result<Flow, serde_json::Error> {
    let mut v = definition.clone();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("id".into(), id.into());
        m.insert("name".into(), name.into());
        m.insert("version".into(), version.into());
    }
    serde_json::from_value(v)
}

pub fn list(c: &Connection, tenant: TenantId, bot: BotId) -> Result<Vec<StoredFlow>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM flows WHERE tenant_id = ?1 AND bot_id = ?2 ORDER BY created_at, id"
    ))?;
    let rows = st.query_map(params![tenant, bot], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(c: &Connection, tenant: TenantId, bot: BotId, id: &str) -> Result<Option<StoredFlow>, DbError> {
    Ok(c
        .query_row(
            &format!("SELECT {COLS} FROM flows WHERE tenant_id = ?1 AND bot_id = ?2 AND id = ?3"),
            params![tenant, bot, id],
            row,
        )
        .optional()?)
}

pub fn create(
    c: &Connection,
    tenant: TenantId,
    bot: BotId,
    name: &str,
    draft: &serde_json::Value,
    is_default: bool,
) -> Result<StoredFlow, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_text();
    let first: bool = c
        .query_row("SELECT COUNT(*) = 0 FROM flows WHERE bot_id = ?1", [bot], |r| r.get(0))?;
    if is_default {
        c.execute("UPDATE flows SET is_default = 0 WHERE bot_id = ?1", [bot])?;
    }
    c.execute(
        "INSERT INTO flows (id, tenant_id, bot_id, name, draft, is_default, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![id, tenant, bot, name, draft.to_string(), is_default || first, now],
    )?;
    get(c, tenant, bot, &id)?.ok_or_else(|| DbError::Other("flow vanished".into()))
}

pub fn update(
    c: &Connection,
    tenant: TenantId,
    bot: BotId,
    id: &str,
    name: &str,
    draft: &serde_json::Value,
    is_default: Option<bool>,
) -> Result<Option<StoredFlow>, DbError> {
    if is_default == Some(true) {
        c.execute("UPDATE flows SET is_default = 0 WHERE bot_id = ?1", [bot])?;
    }
    let n = c.execute(
        "UPDATE flows SET name = ?4, draft = ?5, is_default = COALESCE(?6, is_default), updated_at = ?7
         WHERE tenant_id = ?1 AND bot_id = ?2 AND id = ?3",
        params![tenant, bot, id, name, draft.to_string(), is_default, now_text()],
    )?;
    if n == 0 {
        return Ok(None);
    }
    get(c, tenant, bot, id)
}

pub fn delete(c: &Connection, tenant: TenantId, bot: BotId, id: &str) -> Result<bool, DbError> {
    Ok(c.execute(
        "DELETE FROM flows WHERE tenant_id = ?1 AND bot_id = ?2 AND id = ?3",
        params![tenant, bot, id],
    )? > 0)
}

/// Publishes `definition` as the next version; returns its number.
pub fn publish(
    c: &Connection,
    flow: &StoredFlow,
    definition: &serde_json::Value,
    actor: &str,
    note: Option<&str>,
) -> Result<u32, DbError> {
    let next: u32 = c.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions WHERE flow_id = ?1",
        [&flow.id],
        |r| r.get(0),
    )?;
    let now = now_text();
    c.execute(
        "INSERT INTO flow_versions (flow_id, version, definition, published_at, published_by, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![flow.id, next, definition.to_string(), now, actor, note],
    )?;
    c.execute(
        "UPDATE flows SET latest_version = ?2, updated_at = ?3 WHERE id = ?1",
        params![flow.id, next, now],
    )?;
    Ok(next)
}

pub fn versions(c: &Connection, flow_id: &str) -> Result<Vec<VersionInfo>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT version, published_at, published_by, note FROM flow_versions WHERE flow_id = ?1 ORDER BY version DESC",
    )?;
    let rows = st.query_map([flow_id], |r| {
        Ok(VersionInfo {
            version: r.get(0)?,
            published_at: r.get(1)?,
            published_by: r.get(2)?,
            note: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn version_definition(c: &Connection, flow_id: &str, version: u32) -> Result<Option<serde_json::Value>, DbError> {
    let text: Option<String> = c
        .query_row(
            "SELECT definition FROM flow_versions WHERE flow_id = ?1 AND version = ?2",
            params![flow_id, version],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Bot settings the engine reads (from the bot's `settings` JSON).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EngineSettings {
    #[serde(default)]
    pub commands: Option<GlobalCommands>,
    #[serde(default)]
    pub hours: Option<BusinessHours>,
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
}

/// Everything the bot runs: every published version of its flows (running sessions may be
/// on older ones) and its settings. None when nothing is published yet.
pub fn program(c: &Connection, bot: BotId, settings: &serde_json::Value) -> Result<Option<BotProgram>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT f.id, f.name, f.is_default, v.version, v.definition
         FROM flows f JOIN flow_versions v ON v.flow_id = f.id
         WHERE f.bot_id = ?1 ORDER BY f.created_at, f.id, v.version",
    )?;
    let rows = st.query_map([bot], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, u32>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut flows = vec![];
    let mut default_flow: Option<String> = None;
    let mut first: Option<String> = None;
    for r in rows {
        let (id, name, is_default, version, def) = r?;
        let Ok(def) = serde_json::from_str::<serde_json::Value>(&def) else {
            continue;
        };
        let Ok(flow) = to_flow(&id, &name, version, &def) else {
            continue;
        };
        if is_default {
            default_flow = Some(id.clone());
        }
        first.get_or_insert(id.clone());
        flows.push(flow);
    }
    let Some(default_flow) = default_flow.or(first) else {
        return Ok(None);
    };
    let s: EngineSettings = serde_json::from_value(settings.clone()).unwrap_or_default();
    Ok(Some(BotProgram {
        flows,
        default_flow,
        commands: s.commands.unwrap_or_default(),
        hours: s.hours,
        idle_timeout_secs: s.idle_timeout_secs.unwrap_or(24 * 3600),
    }))
}
