//! The append-only `events` table: recording (inside the producer's transaction) and listing.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::store::DbError;

/// What happened. Serialized with a `kind` tag: `{"kind":"order_created","total_minor":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    MessageIn,
    MessageOut,
    DeliveryStatus { status: String },
    SendFailed { reason: String },
    FlowStarted { flow: String },
    FlowCompleted { flow: String },
    OrderCreated { total_minor: i64, currency: String },
    OrderCancelled,
    Handoff,
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::MessageIn => "message_in",
            EventKind::MessageOut => "message_out",
            EventKind::DeliveryStatus { .. } => "delivery_status",
            EventKind::SendFailed { .. } => "send_failed",
            EventKind::FlowStarted { .. } => "flow_started",
            EventKind::FlowCompleted { .. } => "flow_completed",
            EventKind::OrderCreated { .. } => "order_created",
            EventKind::OrderCancelled => "order_cancelled",
            EventKind::Handoff => "handoff",
        }
    }

    /// Every kind name, for validating filters.
    pub const NAMES: [&'static str; 9] = [
        "message_in",
        "message_out",
        "delivery_status",
        "send_failed",
        "flow_started",
        "flow_completed",
        "order_created",
        "order_cancelled",
        "handoff",
    ];

    /// The column-level facts the rollup reads without parsing JSON.
    fn label_and_amount(&self) -> (Option<String>, Option<i64>) {
        match self {
            EventKind::DeliveryStatus { status } => (Some(status.to_ascii_lowercase()), None),
            EventKind::OrderCreated {
                total_minor,
                currency,
            } => (Some(currency.to_ascii_uppercase()), Some(*total_minor)),
            _ => (None, None),
        }
    }
}

/// One thing that happened in a tenant, optionally for a bot and a conversation.
#[derive(Debug, Clone)]
pub struct Event {
    pub tenant: TenantId,
    pub bot_id: Option<String>,
    pub conversation_id: Option<String>,
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// Free-form extra facts (provider message id, channel kind, ...); shown in the event list.
    pub data: serde_json::Value,
}

impl Event {
    /// An event happening now, with no bot, conversation or extra data.
    pub fn new(tenant: TenantId, kind: EventKind) -> Event {
        Event {
            tenant,
            bot_id: None,
            conversation_id: None,
            kind,
            at: Utc::now(),
            data: serde_json::Value::Null,
        }
    }
    pub fn bot(mut self, bot: impl ToString) -> Self {
        self.bot_id = Some(bot.to_string());
        self
    }
    pub fn conversation(mut self, conversation: impl ToString) -> Self {
        self.conversation_id = Some(conversation.to_string());
        self
    }
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }
}

/// Appends `ev`. Call it inside your write closure so it shares your transaction.
/// Returns the event id (ids only grow; the rollup watermark relies on it).
pub fn record(c: &Connection, ev: &Event) -> Result<i64, DbError> {
    let kind = ev.kind.as_str();
    let (label, amount) = ev.kind.label_and_amount();
    let at_ms = ev.at.timestamp_millis();
    if at_ms < 0 {
        return Err(DbError::Other(format!("event time before 1970: {}", ev.at)));
    }
    let response_ms = match (&ev.kind, &ev.conversation_id) {
        (EventKind::MessageOut, Some(conv)) => response_ms(c, ev.tenant, conv, at_ms)?,
        _ => None,
    };
    // The typed fields go into `data` too, so the event list shows them.
    let mut data = match &ev.data {
        serde_json::Value::Object(m) => m.clone(),
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other.clone());
            m
        }
    };
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&ev.kind) {
        for (k, v) in fields {
            if k != "kind" {
                data.insert(k, v);
            }
        }
    }
    c.prepare_cached(
        "INSERT INTO events (tenant_id, bot_id, conversation_id, kind, label, amount_minor, response_ms, at_ms, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        ev.tenant,
        ev.bot_id,
        ev.conversation_id,
        kind,
        label,
        amount,
        response_ms,
        at_ms,
        serde_json::Value::Object(data).to_string()
    ])?;
    // Counted when written; a rolled-back producer transaction makes this a slight overcount.
    metrics::counter!(super::metric_names::EVENTS_RECORDED_TOTAL, "kind" => kind).increment(1);
    Ok(c.last_insert_rowid())
}

/// Response time of a reply at `at_ms`: if the conversation's last message before it was
/// inbound, the time since the first inbound of that unanswered run; otherwise none.
fn response_ms(
    c: &Connection,
    tenant: TenantId,
    conv: &str,
    at_ms: i64,
) -> Result<Option<i64>, DbError> {
    let last: Option<String> = c
        .prepare_cached(
            "SELECT kind FROM events
             WHERE tenant_id = ?1 AND conversation_id = ?2 AND at_ms <= ?3
               AND kind IN ('message_in', 'message_out')
             ORDER BY at_ms DESC, id DESC LIMIT 1",
        )?
        .query_row(params![tenant, conv, at_ms], |r| r.get(0))
        .optional()?;
    if last.as_deref() != Some("message_in") {
        return Ok(None);
    }
    let first_unanswered: Option<i64> = c
        .prepare_cached(
            "SELECT MIN(at_ms) FROM events
             WHERE tenant_id = ?1 AND conversation_id = ?2 AND kind = 'message_in' AND at_ms <= ?3
               AND at_ms > COALESCE((SELECT MAX(at_ms) FROM events
                    WHERE tenant_id = ?1 AND conversation_id = ?2 AND kind = 'message_out'
                      AND at_ms <= ?3), -1)",
        )?
        .query_row(params![tenant, conv, at_ms], |r| r.get(0))?;
    Ok(first_unanswered.map(|t| (at_ms - t).max(0)))
}

/// One event as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub bot_id: Option<String>,
    pub conversation_id: Option<String>,
    pub at: String,
    pub response_ms: Option<i64>,
    pub data: serde_json::Value,
}

/// Filters for [`list`]; times are Unix ms, `before` is the cursor (an event id).
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub bot: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// Newest first. Returns the page and the cursor of the next page, if any.
pub fn list(
    c: &Connection,
    tenant: TenantId,
    f: &EventFilter,
) -> Result<(Vec<EventRow>, Option<i64>), DbError> {
    let limit = f.limit.clamp(1, 500);
    let mut st = c.prepare_cached(
        "SELECT id, kind, bot_id, conversation_id, at_ms, response_ms, data FROM events
         WHERE tenant_id = ?1
           AND (?2 IS NULL OR kind = ?2)
           AND (?3 IS NULL OR bot_id = ?3)
           AND (?4 IS NULL OR at_ms >= ?4)
           AND (?5 IS NULL OR at_ms < ?5)
           AND (?6 IS NULL OR id < ?6)
         ORDER BY id DESC LIMIT ?7",
    )?;
    let rows = st.query_map(
        params![
            tenant,
            f.kind,
            f.bot,
            f.from_ms,
            f.to_ms,
            f.before,
            limit + 1
        ],
        |r| {
            let data: String = r.get(6)?;
            Ok(EventRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                bot_id: r.get(2)?,
                conversation_id: r.get(3)?,
                at: super::ms_text(r.get(4)?),
                response_ms: r.get(5)?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            })
        },
    )?;
    let mut items: Vec<EventRow> = rows.collect::<Result<_, _>>()?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok((items, next))
}
