//! `/api/conversations`: the inbox. Agents take over, reply, release, close and reset;
//! `/api/events` streams changes live (SSE).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiJson, ApiQuery, Check, ItemsPage};
use crate::app::AppState;
use crate::audit;
use crate::auth::{Agent, Auth, Require, Viewer};
use crate::conversations::store::{self, Filter};
use crate::error::{AppError, AppResult};
use crate::ids::{BotId, ConversationId, UserId};
use crate::messages::Content;
use crate::outbox::queue::{self, Enqueue};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(show))
        .route("/conversations/{id}/messages", get(messages).post(reply))
        .route("/conversations/{id}/assign", post(assign))
        .route("/conversations/{id}/release", post(release))
        .route("/conversations/{id}/close", post(close))
        .route("/conversations/{id}/reset", post(reset))
        .route("/conversations/{id}/read", post(read))
        .route("/events", get(events))
}

fn parse_id(id: &str) -> AppResult<ConversationId> {
    ConversationId::parse(id).ok_or(AppError::NotFound("conversation"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    bot: Option<String>,
    status: Option<String>,
    unread: Option<bool>,
    assigned: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<ItemsPage<store::Conversation, String>>> {
    let mut check = Check::new();
    let bot = q.bot.as_deref().map(BotId::parse);
    check.ensure(!matches!(bot, Some(None)), "bot", "must be a bot id");
    if let Some(s) = &q.status {
        check.ensure(
            ["bot", "human", "closed"].contains(&s.as_str()),
            "status",
            "must be bot, human or closed",
        );
    }
    let before = q.before.as_deref().map(|b| {
        b.split_once('|')
            .map(|(a, b)| (a.to_string(), b.to_string()))
    });
    check.ensure(
        !matches!(before, Some(None)),
        "before",
        "must be the next_before value of a previous page",
    );
    check.finish()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let filter = Filter {
        bot: bot.flatten(),
        status: q.status,
        unread: q.unread,
        assigned: q.assigned,
        before: before.flatten(),
        limit,
    };
    let tenant = auth.tenant;
    let plain = filter.is_plain();
    let read = move |c: &rusqlite::Connection| store::list(c, tenant, &filter);
    let items = if plain {
        state.db.read_now(read).await?
    } else {
        state.db.read(read).await?
    };
    let next = (items.len() as u32 == limit)
        .then(|| {
            items
                .last()
                .map(|c| format!("{}|{}", c.last_message_at, c.id))
        })
        .flatten();
    Ok(Json(ItemsPage {
        items,
        next_before: next,
    }))
}

async fn load(state: &AppState, auth: &Auth, id: ConversationId) -> AppResult<store::Conversation> {
    let tenant = auth.tenant;
    state
        .db
        .read_now(move |c| store::get(c, tenant, id))
        .await?
        .ok_or(AppError::NotFound("conversation"))
}

async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<store::Conversation>> {
    Ok(Json(load(&state, &auth, parse_id(&id)?).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

async fn messages(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> AppResult<Json<ItemsPage<store::Message, i64>>> {
    let id = parse_id(&id)?;
    load(&state, &auth, id).await?;
    let (tenant, limit) = (auth.tenant, q.limit.unwrap_or(50).clamp(1, 200));
    let mut items = state
        .db
        .read_now(move |c| store::messages(c, tenant, id, q.before, limit))
        .await?;
    // Downloaded media gets a short-lived signed URL the dashboard can show.
    for m in &mut items {
        let local = m.content["local_path"].as_str().map(str::to_string);
        if let Some(url) = local.and_then(|l| super::media::signed_url(&state, &l)) {
            m.content["url"] = url.into();
        }
    }
    let next = (items.len() as u32 == limit)
        .then(|| items.last().map(|m| m.id))
        .flatten();
    Ok(Json(ItemsPage {
        items,
        next_before: next,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    content: Option<Content>,
    text: Option<String>,
}

async fn reply(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let id = parse_id(&id)?;
    let conv = load(&state, &auth, id).await?;
    let content = match (body.content, body.text) {
        (Some(c), _) => c,
        (None, Some(t)) => Content::Text { body: t },
        (None, None) => return Err(AppError::field("content", "send content or text")),
    };
    let mut check = Check::new();
    super::bots::check_content(&mut check, "content", &content);
    check.finish()?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let outbox_id = state
        .db
        .write(move |c| {
            queue::enqueue(
                c,
                &Enqueue {
                    tenant,
                    bot: conv.bot_id,
                    conversation: conv.id,
                    to: &conv.contact_phone,
                    content: &content,
                    reply_to: None,
                    source_key: None,
                    author: &actor,
                    sandbox: None,
                },
            )
        })
        .await?;
    state.outbox.wake.notify_one();
    state.live.publish(
        auth.tenant,
        "conversation",
        json!({"id": id, "event": "agent_reply"}),
    );
    Ok((StatusCode::ACCEPTED, Json(json!({"outbox_id": outbox_id}))))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    user_id: Option<String>,
}

async fn assign(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    load(&state, &auth, id).await?;
    // The body is optional: no body means "assign to me".
    let body: AssignBody = if body.iter().all(u8::is_ascii_whitespace) {
        AssignBody::default()
    } else {
        super::json::parse(&body)?
    };
    let user = match body.user_id {
        Some(u) => {
            let uid = UserId::parse(&u).ok_or(AppError::field("user_id", "must be a user id"))?;
            let tenant = auth.tenant;
            state
                .db
                .read(move |c| crate::auth::store::user(c, tenant, uid))
                .await?
                .ok_or(AppError::field("user_id", "no such user in this tenant"))?;
            Some(uid)
        }
        None => auth.user,
    };
    change(&state, &auth, id, "human", user, "assign", None).await
}

async fn release(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    load(&state, &auth, id).await?;
    change(
        &state,
        &auth,
        id,
        "bot",
        None,
        "release",
        Some(json!({"type": "released"})),
    )
    .await
}

async fn close(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    load(&state, &auth, id).await?;
    change(
        &state,
        &auth,
        id,
        "closed",
        None,
        "close",
        Some(json!({"type": "reset"})),
    )
    .await
}

async fn reset(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    load(&state, &auth, id).await?;
    change(
        &state,
        &auth,
        id,
        "bot",
        None,
        "reset",
        Some(json!({"type": "reset"})),
    )
    .await
}

/// Sets the conversation's status and, when the flow must hear of it, queues a system
/// input in order with the customer's messages (the processor applies it exactly once).
async fn change(
    state: &AppState,
    auth: &Auth,
    id: ConversationId,
    status: &'static str,
    user: Option<UserId>,
    action: &'static str,
    input: Option<Value>,
) -> AppResult<Json<Value>> {
    let (tenant, actor) = (auth.tenant, auth.actor());
    let conv = state
        .db
        .write(move |c| {
            let Some(conv) = store::get(c, tenant, id)? else {
                return Ok(None);
            };
            store::set_status(c, tenant, id, status, user)?;
            if let Some(input) = &input {
                store::push_system_input(c, tenant, conv.bot_id, id, input, None)?;
            }
            audit::record(c, tenant, &actor, action, "conversation", Some(&id.to_string()),
                json!({"before": {"status": conv.status}, "after": {"status": status, "assigned_user": user}}))?;
            store::get(c, tenant, id)
        })
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    state.on_inbound(&[]);
    let data = serde_json::to_value(&conv).unwrap_or_default();
    state.live.publish(tenant, "conversation", data.clone());
    Ok(Json(data))
}

async fn read(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id)?;
    let tenant = auth.tenant;
    if state
        .db
        .write(move |c| store::mark_read(c, tenant, id))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("conversation"))
    }
}

/// Server-Sent Events of this tenant's inbox. Browsers' EventSource cannot set headers,
/// so this route also accepts `?access_token=`.
async fn events(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let tenant = auth.tenant;
    let rx = state.live.subscribe();
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.tenant == tenant => {
                    let event = Event::default()
                        .event(ev.kind)
                        .json_data(&ev.data)
                        .unwrap_or_default();
                    return Some((Ok(event), rx));
                }
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("resync").data("{}")), rx));
                }
                Err(_) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
