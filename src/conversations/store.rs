//! Conversations and their messages as the inbox shows them. Tenant-scoped.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::ids::{now_text, BotId, ConversationId, TenantId, UserId};
use crate::store::{CachedSql, DbError};

#[derive(Debug, Clone, Serialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub bot_id: BotId,
    pub contact_phone: String,
    pub contact_name: Option<String>,
    pub status: String,
    pub assigned_user: Option<String>,
    pub unread: i64,
    pub last_message_at: String,
    pub created_at: String,
    pub last_message_preview: Option<String>,
}

const COLS: &str = "c.id, c.bot_id, c.contact_phone, c.contact_name, c.status, c.assigned_user, c.unread, c.last_message_at, c.created_at,
    (SELECT m.content FROM messages m WHERE m.conversation_id = c.id AND m.kind IN ('customer','reply') ORDER BY m.id DESC LIMIT 1)";

fn row(r: &Row) -> rusqlite::Result<Conversation> {
    // Borrowed from SQLite's row: menus make the content large and only the preview stays.
    let last = r.get_ref(9)?.as_str_or_null()?;
    Ok(Conversation {
        id: r.get(0)?,
        bot_id: r.get(1)?,
        contact_phone: r.get(2)?,
        contact_name: r.get(3)?,
        status: r.get(4)?,
        assigned_user: r.get(5)?,
        unread: r.get(6)?,
        last_message_at: r.get(7)?,
        created_at: r.get(8)?,
        last_message_preview: last.and_then(preview),
    })
}

/// A short text for a message's content JSON. Reads only the four fields it shows,
/// borrowing them: the inbox lists 50 of these per page and menus are large.
pub fn preview(content_json: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow, default)]
        body: Text<'a>,
        #[serde(borrow, default)]
        title: Text<'a>,
        #[serde(borrow, default)]
        caption: Text<'a>,
        #[serde(borrow, default, rename = "type")]
        kind: Text<'a>,
    }
    let f: Fields = serde_json::from_str(content_json).ok()?;
    let text = match f.body.0.or(f.title.0).or(f.caption.0) {
        Some(t) => t,
        None => format!("[{}]", f.kind.0.as_deref().unwrap_or("?")).into(),
    };
    Some(text.chars().take(120).collect())
}

/// A JSON string, or nothing when the value is anything else.
#[derive(Default)]
struct Text<'a>(Option<std::borrow::Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(v.into())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(v.to_string().into())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Text<'de>, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Text<'de>, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod preview_tests {
    use super::preview;

    #[test]
    fn preview_picks_body_then_title_then_caption_then_the_type() {
        assert_eq!(
            preview(r#"{"type":"text","body":"hola"}"#).as_deref(),
            Some("hola")
        );
        assert_eq!(
            preview(
                r#"{"type":"list","body":{"x":[1,2]},"title":"Menú","sections":[{"rows":[]}]}"#
            )
            .as_deref(),
            Some("Menú")
        );
        assert_eq!(
            preview(r#"{"type":"image","caption":"foto \"1\""}"#).as_deref(),
            Some("foto \"1\"")
        );
        assert_eq!(
            preview(r#"{"type":"location","lat":1.5}"#).as_deref(),
            Some("[location]")
        );
        assert_eq!(preview(r#"{"body":null}"#).as_deref(), Some("[?]"));
        assert_eq!(preview("not json"), None);
        let long = format!(r#"{{"body":"{}"}}"#, "é".repeat(300));
        assert_eq!(preview(&long).unwrap().chars().count(), 120);
    }
}

pub struct Filter {
    pub bot: Option<BotId>,
    pub status: Option<String>,
    pub unread: Option<bool>,
    pub assigned: Option<String>,
    /// Cursor: (last_message_at, id) of the last row seen.
    pub before: Option<(String, String)>,
    pub limit: u32,
}

impl Filter {
    /// No predicate besides the tenant: the page is the first `limit` entries of the index.
    pub fn is_plain(&self) -> bool {
        self.bot.is_none()
            && self.status.is_none()
            && self.unread.is_none()
            && self.assigned.is_none()
    }
}

fn list_sql() -> String {
    format!(
        "SELECT {COLS} FROM conversations c
         WHERE c.tenant_id = ?1 AND (?2 IS NULL OR c.bot_id = ?2) AND (?3 IS NULL OR c.status = ?3)
           AND (?4 IS NULL OR (?4 = 1 AND c.unread > 0) OR (?4 = 0 AND c.unread = 0))
           AND (?5 IS NULL OR c.assigned_user = ?5)
           AND (?6 IS NULL OR c.last_message_at < ?6 OR (c.last_message_at = ?6 AND c.id < ?7))
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?8"
    )
}

pub fn list(c: &Connection, tenant: TenantId, f: &Filter) -> Result<Vec<Conversation>, DbError> {
    let (bts, bid) = f.before.clone().unzip();
    let mut st = c.prepare_cached(&list_sql())?;
    let rows = st.query_map(
        params![tenant, f.bot, f.status, f.unread, f.assigned, bts, bid, f.limit],
        row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod list_tests {
    #[test]
    fn the_inbox_page_walks_the_index_without_sorting() {
        let plan = crate::store::sqlite::query_plan(
            &super::list_sql(),
            rusqlite::params![
                "t",
                None::<String>,
                None::<String>,
                None::<bool>,
                None::<String>,
                None::<String>,
                None::<String>,
                50
            ],
        );
        assert!(plan.contains("conversations_recent"), "{plan}");
        // A sorter would run the last-message subquery for rows outside the page.
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

pub fn get(
    c: &Connection,
    tenant: TenantId,
    id: ConversationId,
) -> Result<Option<Conversation>, DbError> {
    Ok(c.query_row_cached(
        &format!("SELECT {COLS} FROM conversations c WHERE c.tenant_id = ?1 AND c.id = ?2"),
        params![tenant, id],
        row,
    )
    .optional()?)
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: i64,
    pub direction: String,
    pub kind: String,
    pub content: serde_json::Value,
    pub status: String,
    pub error: Option<String>,
    pub author: Option<String>,
    pub channel: Option<String>,
    pub created_at: String,
}

pub fn message_from_row(r: &Row) -> rusqlite::Result<Message> {
    let content: String = r.get(3)?;
    Ok(Message {
        id: r.get(0)?,
        direction: r.get(1)?,
        kind: r.get(2)?,
        content: serde_json::from_str(&content).unwrap_or(serde_json::Value::Null),
        status: r.get(4)?,
        error: r.get(5)?,
        author: r.get(6)?,
        channel: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub const MESSAGE_COLS: &str =
    "id, direction, kind, content, status, error, author, channel, created_at";

/// Customer messages and replies (system inputs stay internal), newest first.
pub fn messages(
    c: &Connection,
    tenant: TenantId,
    conversation: ConversationId,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLS} FROM messages
         WHERE tenant_id = ?1 AND conversation_id = ?2 AND kind IN ('customer','reply')
           AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = st.query_map(
        params![tenant, conversation, before, limit],
        message_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn message(c: &Connection, id: i64) -> Result<Option<Message>, DbError> {
    Ok(c.query_row_cached(
        &format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1"),
        [id],
        message_from_row,
    )
    .optional()?)
}

pub fn set_status(
    c: &Connection,
    tenant: TenantId,
    id: ConversationId,
    status: &str,
    assigned: Option<UserId>,
) -> Result<bool, DbError> {
    Ok(c.execute_cached(
        "UPDATE conversations SET status = ?3, assigned_user = ?4 WHERE tenant_id = ?1 AND id = ?2",
        params![tenant, id, status, assigned.map(|u| u.to_string())],
    )? > 0)
}

pub fn mark_read(c: &Connection, tenant: TenantId, id: ConversationId) -> Result<bool, DbError> {
    Ok(c.execute_cached(
        "UPDATE conversations SET unread = 0 WHERE tenant_id = ?1 AND id = ?2",
        params![tenant, id],
    )? > 0)
}

/// Queues a system input (release, reset, order result, ...) for the conversation's
/// processor, ordered with the customer's messages. `source_key` makes it idempotent.
pub fn push_system_input(
    c: &Connection,
    tenant: TenantId,
    bot: BotId,
    conversation: ConversationId,
    input: &serde_json::Value,
    source_key: Option<&str>,
) -> Result<Option<i64>, DbError> {
    // The unique `messages_source` index makes a repeated source key a no-op.
    let inserted = c.execute_cached(
        "INSERT INTO messages (tenant_id, bot_id, conversation_id, direction, kind, content, status, source_key, created_at)
         VALUES (?1, ?2, ?3, 'in', 'system', ?4, 'received', ?5, ?6)
         ON CONFLICT DO NOTHING",
        params![tenant, bot, conversation, input.to_string(), source_key, now_text()],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    Ok(Some(c.last_insert_rowid()))
}
