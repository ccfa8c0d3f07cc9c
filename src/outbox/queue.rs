//! The outbox table: enqueue (idempotent by source key), claim due rows in per-contact
//! order, record outcomes, and the dead-letter actions.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::analytics::alerts::{self, IncidentKind};
use crate::analytics::{self, Event, EventKind};
use crate::ids::{now_text, BotId, ConversationId, TenantId};
use crate::messages::Content;
use crate::store::{CachedSql, DbError};

pub struct Enqueue<'a> {
    pub tenant: TenantId,
    pub bot: BotId,
    pub conversation: ConversationId,
    pub to: &'a str,
    pub content: &'a Content,
    pub reply_to: Option<&'a str>,
    /// Makes the enqueue idempotent: the same key never queues twice (e.g. "<inbound id>:<effect index>").
    pub source_key: Option<String>,
    /// `bot`, `user:<id>`, `api_key:<id>`.
    pub author: &'a str,
    /// The conversation is the simulator's, when the caller already knows (else read).
    pub sandbox: Option<bool>,
}

/// Queues a message; returns its outbox id, or None when `source_key` was already queued.
pub fn enqueue(c: &Connection, e: &Enqueue) -> Result<Option<i64>, DbError> {
    Ok(insert(c, e, "queued")?.map(|d| d.id))
}

/// Like [`enqueue`], but the row starts `sending`: the caller sends it itself once the
/// transaction has committed (after a crash, [`recover_inflight`] queues it again).
/// Only for a contact with nothing else waiting ([`contact_waiting`]), or order breaks.
pub fn enqueue_sending(c: &Connection, e: &Enqueue) -> Result<Option<Due>, DbError> {
    insert(c, e, "sending")
}

/// Whether the contact has a message queued or being sent: a new one must queue behind it.
pub fn contact_waiting(c: &Connection, bot: BotId, to: &str) -> Result<bool, DbError> {
    Ok(c.query_row_cached(
        "SELECT 1 FROM outbox WHERE bot_id = ?1 AND to_phone = ?2 AND status IN ('queued','sending') LIMIT 1",
        params![bot, to],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn insert(c: &Connection, e: &Enqueue, status: &str) -> Result<Option<Due>, DbError> {
    let now = now_text();
    let content =
        serde_json::to_string(e.content).map_err(|err| DbError::Other(err.to_string()))?;
    // The unique `messages_source` index makes a repeated source key a no-op.
    let inserted = c.execute_cached(
        "INSERT INTO messages (tenant_id, bot_id, conversation_id, direction, kind, content, status, author, source_key, created_at)
         VALUES (?1, ?2, ?3, 'out', 'reply', ?4, 'queued', ?5, ?6, ?7)
         ON CONFLICT DO NOTHING",
        params![e.tenant, e.bot, e.conversation, content, e.author, e.source_key, now],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let message_id = c.last_insert_rowid();
    // Replies in the simulator's conversation go to its transcript, never to a provider.
    let sandbox: bool = match e.sandbox {
        Some(known) => known,
        None => c
            .query_row_cached(
                "SELECT sandbox FROM conversations WHERE id = ?1",
                [e.conversation],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false),
    };
    c.execute_cached(
        "INSERT INTO outbox (tenant_id, bot_id, message_id, to_phone, content, reply_to, next_attempt_at, created_at, updated_at, sandbox, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, ?8, ?9)",
        params![e.tenant, e.bot, message_id, e.to, content, e.reply_to, now, sandbox, status],
    )?;
    Ok(Some(Due {
        id: c.last_insert_rowid(),
        tenant: e.tenant,
        bot: e.bot,
        message_id,
        to: e.to.to_string(),
        content: e.content.clone(),
        reply_to: e.reply_to.map(str::to_string),
        attempts: 0,
        sandbox,
    }))
}

/// Rows a direct sender will not send after all (an earlier reply went back to the
/// queue): they queue behind it, attempts untouched.
pub fn requeue_sending(c: &Connection, ids: &[i64]) -> Result<(), DbError> {
    let now = now_text();
    for id in ids {
        c.execute_cached(
            "UPDATE outbox SET status = 'queued', updated_at = ?2 WHERE id = ?1 AND status = 'sending'",
            params![id, now],
        )?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub tenant: TenantId,
    pub bot: BotId,
    pub message_id: i64,
    pub to: String,
    pub content: Content,
    pub reply_to: Option<String>,
    pub attempts: u32,
    /// A simulator conversation: delivered to the transcript, not to a provider.
    pub sandbox: bool,
}

/// Claims up to `limit` due rows, oldest first, never a row whose contact still has an
/// earlier message waiting (replies arrive in order). Claimed rows become `sending`.
pub fn claim_due(c: &Connection, now: &str, limit: usize) -> Result<Vec<Due>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT o.id, o.tenant_id, o.bot_id, o.message_id, o.to_phone, o.content, o.reply_to, o.attempts, o.sandbox
         FROM outbox o
         WHERE o.status = 'queued' AND o.next_attempt_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM outbox p
                           WHERE p.bot_id = o.bot_id AND p.to_phone = o.to_phone
                             AND p.status IN ('queued','sending') AND p.id < o.id)
         ORDER BY o.id LIMIT ?2",
    )?;
    let rows = st.query_map(params![now, limit as i64], |r| {
        let content: String = r.get(5)?;
        Ok((
            Due {
                id: r.get(0)?,
                tenant: r.get(1)?,
                bot: r.get(2)?,
                message_id: r.get(3)?,
                to: r.get(4)?,
                content: Content::Text {
                    body: String::new(),
                },
                reply_to: r.get(6)?,
                attempts: r.get(7)?,
                sandbox: r.get(8)?,
            },
            content,
        ))
    })?;
    let mut out = vec![];
    for row in rows {
        let (mut due, content) = row?;
        match serde_json::from_str(&content) {
            Ok(c) => due.content = c,
            Err(e) => {
                mark_failed_inner(
                    c,
                    due.id,
                    due.message_id,
                    "failed",
                    Some("bad_content"),
                    &e.to_string(),
                )?;
                continue;
            }
        }
        out.push(due);
    }
    for d in &out {
        c.execute_cached(
            "UPDATE outbox SET status = 'sending', updated_at = ?2 WHERE id = ?1",
            params![d.id, now],
        )?;
    }
    Ok(out)
}

/// The earliest time a queued row becomes due (for the worker's sleep).
pub fn next_due(c: &Connection) -> Result<Option<String>, DbError> {
    Ok(c.query_row_cached(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'",
        [],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

pub fn mark_sent(
    c: &Connection,
    due: &Due,
    channel: &str,
    provider_id: &str,
    attempts: u32,
) -> Result<(), DbError> {
    let now = now_text();
    c.execute_cached(
        "UPDATE outbox SET status = 'sent', attempts = ?2, channel = ?3, provider_message_id = ?4, updated_at = ?5, last_error = NULL WHERE id = ?1",
        params![due.id, attempts, channel, provider_id, now],
    )?;
    // A receipt may have raced ahead of us; never move the message backwards.
    let conv: Option<String> = c
        .query_row_cached(
            "UPDATE messages SET provider_message_id = ?2, channel = ?3,
                status = CASE WHEN status IN ('queued','sending') THEN 'sent' ELSE status END
             WHERE id = ?1 RETURNING conversation_id",
            params![due.message_id, provider_id, channel],
            |r| r.get(0),
        )
        .optional()?;
    let mut ev = Event::new(due.tenant, EventKind::MessageOut).bot(due.bot);
    if let Some(conv) = conv {
        ev = ev.conversation(conv);
    }
    analytics::record(c, &ev)?;
    Ok(())
}

/// Back to the queue until `next_at`; `attempts` counts provider calls made so far.
pub fn requeue(
    c: &Connection,
    id: i64,
    next_at: &str,
    attempts: u32,
    error: Option<(&str, Option<&str>)>,
    channel: Option<&str>,
) -> Result<(), DbError> {
    c.execute_cached(
        "UPDATE outbox SET status = 'queued', next_attempt_at = ?2, attempts = ?3,
            last_error = COALESCE(?4, last_error), last_error_code = COALESCE(?5, last_error_code),
            channel = COALESCE(?6, channel), updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            next_at,
            attempts,
            error.map(|e| e.0),
            error.and_then(|e| e.1),
            channel,
            now_text()
        ],
    )?;
    Ok(())
}

/// `failed` (the provider refused it) or `dead` (retries exhausted).
pub fn mark_failed(
    c: &Connection,
    due: &Due,
    status: &str,
    attempts: u32,
    code: Option<&str>,
    message: &str,
) -> Result<(), DbError> {
    c.execute_cached(
        "UPDATE outbox SET attempts = ?2 WHERE id = ?1",
        params![due.id, attempts],
    )?;
    mark_failed_inner(c, due.id, due.message_id, status, code, message)?;
    let reason = match code {
        Some(code) => format!("{status}: [{code}] {message}"),
        None => format!("{status}: {message}"),
    };
    analytics::record(
        c,
        &Event::new(due.tenant, EventKind::SendFailed { reason }).bot(due.bot),
    )?;
    if status == "dead" {
        let msg = format!("messages to customers are dead-lettering (last error: {message})");
        alerts::raise(
            c,
            due.tenant,
            IncidentKind::DeadLetters,
            &due.bot.to_string(),
            &msg,
        )?;
    }
    Ok(())
}

fn mark_failed_inner(
    c: &Connection,
    id: i64,
    message_id: i64,
    status: &str,
    code: Option<&str>,
    message: &str,
) -> Result<(), DbError> {
    let now = now_text();
    c.execute_cached(
        "UPDATE outbox SET status = ?2, last_error = ?3, last_error_code = ?4, updated_at = ?5 WHERE id = ?1",
        params![id, status, message, code, now],
    )?;
    let text = match code {
        Some(code) => format!("[{code}] {message}"),
        None => message.to_string(),
    };
    c.execute_cached(
        "UPDATE messages SET status = 'failed', error = ?2 WHERE id = ?1",
        params![message_id, text],
    )?;
    Ok(())
}

/// Rows left `sending` by a crash go back to the queue (they may be sent twice: the
/// at-least-once window). Returns how many.
pub fn recover_inflight(c: &Connection) -> Result<usize, DbError> {
    Ok(c.execute_cached(
        // The IN term lets the planner use the partial index `outbox_order`.
        "UPDATE outbox SET status = 'queued', updated_at = ?1
         WHERE status = 'sending' AND status IN ('queued','sending')",
        [now_text()],
    )?)
}

#[derive(Debug, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub bot_id: BotId,
    pub message_id: i64,
    pub to: String,
    pub content: serde_json::Value,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub last_error_code: Option<String>,
    pub channel: Option<String>,
    pub provider_message_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const ITEM_COLS: &str = "id, bot_id, message_id, to_phone, content, status, attempts, next_attempt_at, last_error, last_error_code, channel, provider_message_id, created_at, updated_at";

fn item_row(r: &Row) -> rusqlite::Result<OutboxItem> {
    let content: String = r.get(4)?;
    Ok(OutboxItem {
        id: r.get(0)?,
        bot_id: r.get(1)?,
        message_id: r.get(2)?,
        to: r.get(3)?,
        content: serde_json::from_str(&content).unwrap_or(serde_json::Value::Null),
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
        last_error_code: r.get(9)?,
        channel: r.get(10)?,
        provider_message_id: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

fn list_sql() -> String {
    // `id < COALESCE(..)` rather than `?4 IS NULL OR id < ?4`: a range the index can seek.
    format!(
        "SELECT {ITEM_COLS} FROM outbox WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2)
           AND (?3 IS NULL OR bot_id = ?3) AND id < COALESCE(?4, 9223372036854775807)
         ORDER BY id DESC LIMIT ?5"
    )
}

/// Newest first; `before` is the last id of the previous page.
pub fn list(
    c: &Connection,
    tenant: TenantId,
    status: Option<&str>,
    bot: Option<BotId>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<OutboxItem>, DbError> {
    let mut st = c.prepare_cached(&list_sql())?;
    let rows = st.query_map(params![tenant, status, bot, before, limit], item_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(c: &Connection, tenant: TenantId, id: i64) -> Result<Option<OutboxItem>, DbError> {
    Ok(c.query_row_cached(
        &format!("SELECT {ITEM_COLS} FROM outbox WHERE tenant_id = ?1 AND id = ?2"),
        params![tenant, id],
        item_row,
    )
    .optional()?)
}

/// A dead or failed message goes back to the queue with a fresh attempt budget.
pub fn retry(c: &Connection, tenant: TenantId, id: i64) -> Result<Option<bool>, DbError> {
    let Some(item) = get(c, tenant, id)? else {
        return Ok(None);
    };
    if !matches!(item.status.as_str(), "dead" | "failed") {
        return Ok(Some(false));
    }
    let now = now_text();
    c.execute_cached(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?2, updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    c.execute_cached(
        "UPDATE messages SET status = 'queued', error = NULL WHERE id = ?1",
        [item.message_id],
    )?;
    Ok(Some(true))
}

pub fn discard(c: &Connection, tenant: TenantId, id: i64) -> Result<Option<bool>, DbError> {
    let Some(item) = get(c, tenant, id)? else {
        return Ok(None);
    };
    if !matches!(item.status.as_str(), "dead" | "failed" | "queued") {
        return Ok(Some(false));
    }
    c.execute_cached(
        "UPDATE outbox SET status = 'discarded', updated_at = ?2 WHERE id = ?1",
        params![id, now_text()],
    )?;
    c.execute_cached(
        "UPDATE messages SET status = 'failed', error = COALESCE(error, 'discarded') WHERE id = ?1",
        [item.message_id],
    )?;
    Ok(Some(true))
}

/// Queue depth and the creation time of the oldest waiting row (for metrics).
pub fn depth(c: &Connection) -> Result<(i64, Option<String>), DbError> {
    Ok(c.query_row_cached(
        "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status IN ('queued','sending')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

#[cfg(test)]
mod list_tests {
    #[test]
    fn an_outbox_page_seeks_the_tenant_index_without_sorting() {
        for (status, before) in [(None, None), (Some("dead"), Some(500i64))] {
            let plan = crate::store::sqlite::query_plan(
                &super::list_sql(),
                rusqlite::params!["t", status, None::<String>, before, 50],
            );
            assert!(
                plan.contains("outbox_tenant (tenant_id=? AND id<?)"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
