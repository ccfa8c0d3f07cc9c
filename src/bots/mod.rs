//! Bots: a name, a number, a primary channel with ordered fallbacks, and settings the
//! conversation engine reads (business hours, away message, commands, idle timeout).
//! Channel configs are sealed at rest; the API only ever sees them redacted.

pub mod registry;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::channels::{ChannelConfig, ChannelKind, SessionState};
use crate::ids::{now_text, BotId, TenantId};
use crate::store::DbError;

#[derive(Debug, Clone)]
pub struct Bot {
    pub id: BotId,
    pub tenant_id: TenantId,
    pub name: String,
    pub phone: String,
    pub active: bool,
    pub settings: serde_json::Value,
    /// Position 0 is the primary; the rest are fallbacks in order.
    pub channels: Vec<BotChannel>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct BotChannel {
    pub position: i64,
    pub config: ChannelConfig,
    pub session: Option<SessionInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    pub state: Option<String>,
    pub reason: Option<String>,
    pub qr: Option<String>,
    pub since: Option<String>,
}

pub struct NewBot {
    pub name: String,
    pub phone: String,
    pub active: bool,
    pub settings: serde_json::Value,
    pub channels: Vec<ChannelConfig>,
}

impl Bot {
    /// The channel that serves webhooks of `kind` (bridge kinds share one route).
    pub fn channel_for_webhook(&self, family: &str) -> Option<&BotChannel> {
        self.channels
            .iter()
            .find(|c| c.config.kind().webhook_family() == family)
    }

    /// The redacted JSON the API shows.
    pub fn to_api(&self, public_base: &str) -> serde_json::Value {
        let channel = |c: &BotChannel| {
            let kind = c.config.kind();
            let mut v = c.config.redacted();
            if let serde_json::Value::Object(m) = &mut v {
                m.insert(
                    "webhook_url".into(),
                    self.webhook_url(public_base, &c.config).into(),
                );
                if let Some(s) = &c.session {
                    m.insert(
                        "session".into(),
                        serde_json::to_value(s).unwrap_or_default(),
                    );
                }
                m.insert("kind".into(), kind.as_str().into());
            }
            v
        };
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "phone": self.phone,
            "active": self.active,
            "settings": self.settings,
            "primary": self.channels.first().map(channel),
            "fallbacks": self.channels.iter().skip(1).map(channel).collect::<Vec<_>>(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// Where the provider must send this channel's webhooks.
    pub fn webhook_url(&self, public_base: &str, config: &ChannelConfig) -> Option<String> {
        let id = self.id;
        match config {
            ChannelConfig::Sandbox(_) => None,
            ChannelConfig::Evolution(e) => Some(format!(
                "{public_base}/webhooks/evolution/{id}/{}",
                e.webhook_token
            )),
            other => Some(format!(
                "{public_base}/webhooks/{}/{id}",
                other.kind().webhook_family()
            )),
        }
    }
}

fn bot_row(r: &Row) -> rusqlite::Result<Bot> {
    let settings: String = r.get(5)?;
    Ok(Bot {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        name: r.get(2)?,
        phone: r.get(3)?,
        active: r.get(4)?,
        settings: serde_json::from_str(&settings).unwrap_or_else(|_| serde_json::json!({})),
        channels: vec![],
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const BOT_COLS: &str = "id, tenant_id, name, phone, active, settings, created_at, updated_at";

fn load_channels(c: &Connection, key: &[u8; 32], bot: &mut Bot) -> Result<(), DbError> {
    let mut st = c.prepare_cached(
        "SELECT position, config, session_state, session_reason, session_qr, session_since
         FROM bot_channels WHERE bot_id = ?1 ORDER BY position",
    )?;
    let rows = st.query_map([bot.id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            SessionInfo {
                state: r.get(2)?,
                reason: r.get(3)?,
                qr: r.get(4)?,
                since: r.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (position, sealed, session) = row?;
        let plain = crate::seal::open(key, &sealed).map_err(DbError::Other)?;
        let config: ChannelConfig =
            serde_json::from_slice(&plain).map_err(|e| DbError::Other(e.to_string()))?;
        bot.channels.push(BotChannel {
            position,
            config,
            session: session.state.is_some().then_some(session),
        });
    }
    Ok(())
}

fn save_channels(
    c: &Connection,
    key: &[u8; 32],
    bot: BotId,
    channels: &[ChannelConfig],
) -> Result<(), DbError> {
    c.execute("DELETE FROM bot_channels WHERE bot_id = ?1", [bot])?;
    for (i, cfg) in channels.iter().enumerate() {
        let json = serde_json::to_vec(cfg).map_err(|e| DbError::Other(e.to_string()))?;
        c.execute(
            "INSERT INTO bot_channels (bot_id, position, kind, config) VALUES (?1, ?2, ?3, ?4)",
            params![
                bot,
                i as i64,
                cfg.kind().as_str(),
                crate::seal::seal(key, &json)
            ],
        )?;
    }
    Ok(())
}

pub fn create(
    c: &Connection,
    key: &[u8; 32],
    tenant: TenantId,
    new: &NewBot,
) -> Result<Bot, DbError> {
    let id = BotId::new();
    let now = now_text();
    c.execute(
        "INSERT INTO bots (id, tenant_id, name, phone, active, settings, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            id,
            tenant,
            new.name,
            new.phone,
            new.active,
            new.settings.to_string(),
            now
        ],
    )?;
    save_channels(c, key, id, &new.channels)?;
    get(c, key, tenant, id)?.ok_or_else(|| DbError::Other("bot vanished".into()))
}

pub fn get(
    c: &Connection,
    key: &[u8; 32],
    tenant: TenantId,
    id: BotId,
) -> Result<Option<Bot>, DbError> {
    let bot = c
        .query_row(
            &format!("SELECT {BOT_COLS} FROM bots WHERE tenant_id = ?1 AND id = ?2"),
            params![tenant, id],
            bot_row,
        )
        .optional()?;
    match bot {
        Some(mut b) => {
            load_channels(c, key, &mut b)?;
            Ok(Some(b))
        }
        None => Ok(None),
    }
}

/// Webhooks and workers address a bot by id alone: the id is the routing key and the
/// bot row says which tenant it belongs to.
pub fn get_for_routing(c: &Connection, key: &[u8; 32], id: BotId) -> Result<Option<Bot>, DbError> {
    let bot = c
        .query_row(
            &format!("SELECT {BOT_COLS} FROM bots WHERE id = ?1"),
            [id],
            bot_row,
        )
        .optional()?;
    match bot {
        Some(mut b) => {
            load_channels(c, key, &mut b)?;
            Ok(Some(b))
        }
        None => Ok(None),
    }
}

pub fn list(c: &Connection, key: &[u8; 32], tenant: TenantId) -> Result<Vec<Bot>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {BOT_COLS} FROM bots WHERE tenant_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = st.query_map([tenant], bot_row)?;
    let mut bots: Vec<Bot> = rows.collect::<Result<_, _>>()?;
    for b in &mut bots {
        load_channels(c, key, b)?;
    }
    Ok(bots)
}

pub fn update(
    c: &Connection,
    key: &[u8; 32],
    tenant: TenantId,
    id: BotId,
    new: &NewBot,
) -> Result<Option<Bot>, DbError> {
    let n = c.execute(
        "UPDATE bots SET name = ?3, phone = ?4, active = ?5, settings = ?6, updated_at = ?7
         WHERE tenant_id = ?1 AND id = ?2",
        params![
            tenant,
            id,
            new.name,
            new.phone,
            new.active,
            new.settings.to_string(),
            now_text()
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    save_channels(c, key, id, &new.channels)?;
    get(c, key, tenant, id)
}

pub fn delete(c: &Connection, tenant: TenantId, id: BotId) -> Result<bool, DbError> {
    Ok(c.execute(
        "DELETE FROM bots WHERE tenant_id = ?1 AND id = ?2",
        params![tenant, id],
    )? > 0)
}

/// Records a QR-paired session's state as its bridge reported it.
pub fn set_session(
    c: &Connection,
    bot: BotId,
    kind: ChannelKind,
    state: SessionState,
    reason: Option<&str>,
    qr: Option<&str>,
) -> Result<(), DbError> {
    let state = serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    c.execute(
        "UPDATE bot_channels SET session_state = ?3, session_reason = ?4, session_qr = ?5, session_since = ?6
         WHERE bot_id = ?1 AND kind = ?2",
        params![bot, kind.as_str(), state, reason, qr, now_text()],
    )?;
    Ok(())
}
