//! Stores a verified webhook's events in one transaction, before we answer the provider.
//! A redelivered message is a no-op; receipts never move a message backwards.

use rusqlite::{params, Connection, OptionalExtension};

use crate::analytics::alerts::{self, IncidentKind};
use crate::analytics::{self, Event, EventKind};
use crate::bots::Bot;
use crate::channels::{ChannelEvent, ChannelKind, SessionState};
use crate::ids::{now_text, time_text, ConversationId};
use crate::messages::DeliveryStatus;
use crate::store::{CachedSql, DbError};

#[derive(Debug, Default, Clone)]
pub struct Intake {
    /// (conversation, message rowid) of inbound messages stored for the first time.
    pub new_messages: Vec<(ConversationId, i64)>,
    pub duplicates: usize,
    pub statuses_applied: usize,
    pub sessions: usize,
    /// An incident opened or resolved: wake the notifier after commit.
    pub alert: bool,
}

/// Finds or creates the conversation of `phone` with `bot`, touching its activity time.
pub fn conversation_for(
    c: &Connection,
    bot: &Bot,
    phone: &str,
    name: Option<&str>,
    unread_inc: i64,
) -> Result<ConversationId, DbError> {
    let now = now_text();
    let id: ConversationId = c.query_row_cached(
        "INSERT INTO conversations (id, tenant_id, bot_id, contact_phone, contact_name, last_message_at, created_at, unread)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
         ON CONFLICT (bot_id, contact_phone) DO UPDATE SET
            last_message_at = excluded.last_message_at,
            contact_name = COALESCE(excluded.contact_name, conversations.contact_name),
            unread = conversations.unread + ?7,
            status = CASE WHEN conversations.status = 'closed' THEN 'bot' ELSE conversations.status END
         RETURNING id",
        params![ConversationId::new(), bot.tenant_id, bot.id, phone, name, now, unread_inc],
        |r| r.get(0),
    )?;
    Ok(id)
}

pub fn store_events(
    c: &Connection,
    bot: &Bot,
    kind: ChannelKind,
    events: &[ChannelEvent],
) -> Result<Intake, DbError> {
    let mut out = Intake::default();
    for ev in events {
        match ev {
            ChannelEvent::Message {
                provider_message_id,
                from,
                name,
                at,
                content,
                reply_to: _,
            } => {
                let exists: bool = c
                    .query_row_cached(
                        "SELECT 1 FROM messages WHERE bot_id = ?1 AND provider_message_id = ?2 AND direction = 'in'",
                        params![bot.id, provider_message_id],
                        |_| Ok(true),
                    )
                    .optional()?
                    .unwrap_or(false);
                if exists {
                    out.duplicates += 1;
                    continue;
                }
                let conv = conversation_for(c, bot, from, name.as_deref(), 1)?;
                let content_json =
                    serde_json::to_string(content).map_err(|e| DbError::Other(e.to_string()))?;
                c.execute_cached(
                    "INSERT INTO messages (tenant_id, bot_id, conversation_id, direction, kind, provider_message_id, channel, content, status, created_at)
                     VALUES (?1, ?2, ?3, 'in', 'customer', ?4, ?5, ?6, 'received', ?7)",
                    params![bot.tenant_id, bot.id, conv, provider_message_id, kind.as_str(), content_json, time_text(*at)],
                )?;
                out.new_messages.push((conv, c.last_insert_rowid()));
                analytics::record(
                    c,
                    &Event::new(bot.tenant_id, EventKind::MessageIn)
                        .bot(bot.id)
                        .conversation(conv)
                        .at(*at),
                )?;
            }
            ChannelEvent::Status {
                provider_message_id,
                status,
                error,
                ..
            } => {
                let current: Option<(i64, String, String)> = c
                    .query_row_cached(
                        "SELECT id, status, conversation_id FROM messages WHERE provider_message_id = ?1 AND bot_id = ?2 AND direction = 'out'",
                        params![provider_message_id, bot.id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((id, cur, conv)) = current else {
                    continue;
                };
                let cur = DeliveryStatus::parse(&cur).unwrap_or(DeliveryStatus::Queued);
                if cur.advances_to(*status) {
                    let err = error
                        .as_ref()
                        .map(|e| format!("[{}] {}", e.code, e.message));
                    c.execute_cached(
                        "UPDATE messages SET status = ?2, error = COALESCE(?3, error) WHERE id = ?1",
                        params![id, status.as_str(), err],
                    )?;
                    out.statuses_applied += 1;
                    analytics::record(
                        c,
                        &Event::new(
                            bot.tenant_id,
                            EventKind::DeliveryStatus {
                                status: status.as_str().into(),
                            },
                        )
                        .bot(bot.id)
                        .conversation(conv),
                    )?;
                }
            }
            ChannelEvent::Session {
                state, reason, qr, ..
            } => {
                crate::bots::set_session(
                    c,
                    bot.id,
                    kind,
                    *state,
                    reason.as_deref(),
                    qr.as_deref(),
                )?;
                out.sessions += 1;
                let key = format!("{}:{}", bot.id, kind.as_str());
                out.alert |= match state {
                    SessionState::LoggedOut | SessionState::Failed => {
                        let why = reason.clone().unwrap_or_else(|| format!("{state:?}"));
                        let msg = format!("{} ({}) is {:?}: {why}", bot.name, kind.as_str(), state);
                        alerts::raise(c, bot.tenant_id, IncidentKind::ChannelDown, &key, &msg)?
                            .opened
                    }
                    SessionState::Connected => {
                        alerts::resolve(c, bot.tenant_id, IncidentKind::ChannelDown, &key)?
                            .is_some()
                    }
                    _ => false,
                };
            }
        }
    }
    Ok(out)
}
