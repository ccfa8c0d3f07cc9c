//! `/api/bots/{bot}/sandbox`: the dashboard's simulator. A message from the test contact
//! goes through the real pipeline (intake, engine, outbox); its replies come back here.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::auth::{Agent, Require};
use crate::channels::{ChannelEvent, ChannelKind};
use crate::conversations::intake;
use crate::error::{AppError, AppResult};
use crate::ids::ConversationId;
use crate::messages::Inbound;

/// The simulator's customer (a valid-looking number reserved for tests in the UI).
pub const SANDBOX_PHONE: &str = "+51900000001";

pub fn routes() -> Router<AppState> {
    Router::new().route("/bots/{bot}/sandbox", post(say).delete(reset))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SayBody {
    text: Option<String>,
    button_id: Option<String>,
    title: Option<String>,
    name: Option<String>,
}

async fn say(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(bot): Path<String>,
    ApiJson(body): ApiJson<SayBody>,
) -> AppResult<Json<Value>> {
    let id = super::bots::parse_bot_id(&bot)?;
    let (tenant, key) = (auth.tenant, state.seal_key);
    let bot = state
        .db
        .read(move |c| crate::bots::get(c, &key, tenant, id))
        .await?
        .ok_or(AppError::NotFound("bot"))?;
    let content = match (&body.text, &body.button_id) {
        (_, Some(bid)) => Inbound::ButtonReply {
            id: bid.clone(),
            title: body.title.clone().unwrap_or_else(|| bid.clone()),
        },
        (Some(t), None) => Inbound::Text { body: t.clone() },
        (None, None) => return Err(AppError::field("text", "send text or button_id")),
    };
    let mut check = Check::new();
    if let Some(t) = &body.text {
        check.ensure(!t.trim().is_empty() && t.chars().count() <= 4096, "text", "must be 1 to 4096 characters");
    }
    check.finish()?;
    let event = ChannelEvent::Message {
        provider_message_id: format!("sandbox-{}", uuid::Uuid::now_v7()),
        from: SANDBOX_PHONE.into(),
        name: body.name.clone().or(Some("Cliente de prueba".into())),
        at: chrono::Utc::now(),
        content,
        reply_to: None,
    };
    let b = bot.clone();
    let (conv, last_out) = state
        .db
        .write(move |c| {
            let conv = intake::conversation_for(c, &b, SANDBOX_PHONE, None, 0)?;
            c.execute("UPDATE conversations SET sandbox = 1 WHERE id = ?1", [conv])?;
            let last: i64 = c.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?1 AND direction = 'out'",
                [conv],
                |r| r.get(0),
            )?;
            intake::store_events(c, &b, ChannelKind::Sandbox, &[event])?;
            Ok((conv, last))
        })
        .await?;
    state.on_inbound(&[]);
    let replies = wait_for_replies(&state, conv, last_out).await?;
    Ok(Json(json!({"conversation_id": conv, "replies": replies})))
}

/// Waits until the conversation has no unprocessed input (follow-up results included),
/// then returns what the bot queued since `after`.
async fn wait_for_replies(state: &AppState, conv: ConversationId, after: i64) -> AppResult<Vec<Value>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pending: i64 = state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1 AND direction = 'in' AND processed_at IS NULL",
                    [conv],
                    |r| r.get(0),
                )?)
            })
            .await?;
        if pending == 0 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(AppError::Unavailable("the bot did not answer within 10 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rows: Vec<String> = state
        .db
        .read(move |c| {
            let mut st = c.prepare(
                "SELECT content FROM messages WHERE conversation_id = ?1 AND direction = 'out' AND id > ?2 ORDER BY id",
            )?;
            let rows = st.query_map(rusqlite::params![conv, after], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await?;
    Ok(rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect())
}

async fn reset(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(bot): Path<String>,
) -> AppResult<Json<Value>> {
    let id = super::bots::parse_bot_id(&bot)?;
    let (tenant, key) = (auth.tenant, state.seal_key);
    let bot = state
        .db
        .read(move |c| crate::bots::get(c, &key, tenant, id))
        .await?
        .ok_or(AppError::NotFound("bot"))?;
    let conv = state
        .db
        .write(move |c| {
            let conv = intake::conversation_for(c, &bot, SANDBOX_PHONE, None, 0)?;
            c.execute("UPDATE conversations SET sandbox = 1, status = 'bot', assigned_user = NULL WHERE id = ?1", [conv])?;
            crate::conversations::store::push_system_input(c, tenant, bot.id, conv, &json!({"type": "reset"}), None)?;
            Ok(conv)
        })
        .await?;
    state.on_inbound(&[]);
    wait_for_replies(&state, conv, i64::MAX).await?;
    Ok(Json(json!({"conversation_id": conv, "reset": true})))
}
