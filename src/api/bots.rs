//! `/api/bots`: bots with a primary channel and ordered fallbacks; live status; sending.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::audit;
use crate::auth::{Admin, Agent, Require, Viewer};
use crate::bots::{self, Bot, NewBot};
use crate::channels::{ChannelConfig, ChannelStatus};
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::BotId;
use crate::messages::Content;
use crate::outbox::queue::{self, Enqueue};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bots", get(list).post(create))
        .route("/bots/{id}", get(show).put(update).delete(remove))
        .route("/bots/{id}/status", get(status))
        .route("/bots/{id}/messages", post(send))
}

pub fn parse_bot_id(id: &str) -> AppResult<BotId> {
    BotId::parse(id).ok_or(AppError::NotFound("bot"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BotBody {
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    settings: Option<Value>,
    primary: ChannelConfig,
    #[serde(default)]
    fallbacks: Vec<ChannelConfig>,
}

fn yes() -> bool {
    true
}

fn validate(body: &BotBody) -> Result<(), AppError> {
    let mut check = Check::new();
    check.ensure(
        !body.name.trim().is_empty() && body.name.len() <= 100,
        "name",
        "must be 1 to 100 characters",
    );
    check.ensure(
        body.phone.is_empty() || crate::channels::to_e164(&body.phone).len() >= 8,
        "phone",
        "must be a phone number in international format, e.g. +51987654321",
    );
    if let Some(s) = &body.settings {
        check.ensure(s.is_object(), "settings", "must be an object");
    }
    check.ensure(
        body.fallbacks.len() <= 5,
        "fallbacks",
        "at most 5 fallback channels",
    );
    let mut errors = vec![];
    for (i, cfg) in std::iter::once(&body.primary)
        .chain(&body.fallbacks)
        .enumerate()
    {
        let at = if i == 0 {
            "primary".to_string()
        } else {
            format!("fallbacks[{}]", i - 1)
        };
        for f in cfg.missing_fields() {
            errors.push(FieldError::new(format!("{at}.{f}"), "is required"));
        }
    }
    for e in errors {
        check.push(&e.field, e.message);
    }
    check.finish()
}

fn into_new(body: BotBody) -> NewBot {
    let phone = if body.phone.is_empty() {
        String::new()
    } else {
        crate::channels::to_e164(&body.phone)
    };
    NewBot {
        name: body.name.trim().to_string(),
        phone,
        active: body.active,
        settings: body.settings.unwrap_or_else(|| json!({})),
        channels: std::iter::once(body.primary)
            .chain(body.fallbacks)
            .collect(),
    }
}

/// Asks QR-paired bridges to start (or resume) the bot's sessions, in the background:
/// a bridge that is down must not fail the save.
async fn start_sessions(state: &AppState, bot: &Bot) {
    let Ok(Some(live)) = state.live_bot(bot.id).await else {
        return;
    };
    let base = public_base(state);
    for (cfg, ch) in bot.channels.iter().zip(live.channels.iter()) {
        if !cfg.config.kind().is_bridge() {
            continue;
        }
        let (ch, url) = (
            ch.clone(),
            bot.webhook_url(&base, &cfg.config).unwrap_or_default(),
        );
        tokio::spawn(async move {
            if let Err(e) = ch.start(&url).await {
                tracing::warn!(error = %e, "bridge session did not start");
            }
        });
    }
}

fn public_base(state: &AppState) -> String {
    state.config.public_base()
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
) -> AppResult<Json<Vec<Value>>> {
    let (tenant, key) = (auth.tenant, state.seal_key);
    let bots = state.db.read(move |c| bots::list(c, &key, tenant)).await?;
    let base = public_base(&state);
    Ok(Json(bots.iter().map(|b| b.to_api(&base)).collect()))
}

/// The caller's tenant's bot, or 404.
pub(super) async fn load(
    state: &AppState,
    tenant: crate::ids::TenantId,
    id: BotId,
) -> AppResult<Bot> {
    let key = state.seal_key;
    state
        .db
        .read(move |c| bots::get(c, &key, tenant, id))
        .await?
        .ok_or(AppError::NotFound("bot"))
}

async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let bot = load(&state, auth.tenant, parse_bot_id(&id)?).await?;
    Ok(Json(bot.to_api(&public_base(&state))))
}

async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(body): ApiJson<BotBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    validate(&body)?;
    let new = into_new(body);
    let (tenant, actor, key) = (auth.tenant, auth.actor(), state.seal_key);
    let bot = state
        .db
        .write(move |c| {
            let b = bots::create(c, &key, tenant, &new)?;
            audit::record(c, tenant, &actor, "create", "bot", Some(&b.id.to_string()),
                json!({"after": {"name": b.name, "channels": b.channels.iter().map(|c| c.config.kind().as_str()).collect::<Vec<_>>()}}))?;
            Ok(b)
        })
        .await?;
    start_sessions(&state, &bot).await;
    Ok((StatusCode::CREATED, Json(bot.to_api(&public_base(&state)))))
}

async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<BotBody>,
) -> AppResult<Json<Value>> {
    let id = parse_bot_id(&id)?;
    let before = load(&state, auth.tenant, id).await?;
    // Secrets left empty keep what is stored for the same kind at the same position.
    let stored: Vec<&ChannelConfig> = before.channels.iter().map(|c| &c.config).collect();
    if let Some(s) = stored.first() {
        body.primary.keep_secrets_from(s);
    }
    for (i, f) in body.fallbacks.iter_mut().enumerate() {
        if let Some(s) = stored.get(i + 1) {
            f.keep_secrets_from(s);
        }
    }
    validate(&body)?;
    let new = into_new(body);
    let (tenant, actor, key) = (auth.tenant, auth.actor(), state.seal_key);
    let bot = state
        .db
        .write(move |c| {
            let b = bots::update(c, &key, tenant, id, &new)?;
            if let Some(b) = &b {
                audit::record(c, tenant, &actor, "update", "bot", Some(&id.to_string()),
                    json!({"before": {"name": before.name}, "after": {"name": b.name, "channels": b.channels.iter().map(|c| c.config.kind().as_str()).collect::<Vec<_>>()}}))?;
            }
            Ok(b)
        })
        .await?
        .ok_or(AppError::NotFound("bot"))?;
    state.registry.forget(id);
    state.forget_program(id);
    if let Ok(mut c) = state.outbox.circuits.lock() {
        c.forget(|k| k.0 == id);
    }
    start_sessions(&state, &bot).await;
    Ok(Json(bot.to_api(&public_base(&state))))
}

async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_bot_id(&id)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let done = state
        .db
        .write(move |c| {
            let done = bots::delete(c, tenant, id)?;
            if done {
                audit::record(
                    c,
                    tenant,
                    &actor,
                    "delete",
                    "bot",
                    Some(&id.to_string()),
                    json!({}),
                )?;
            }
            Ok(done)
        })
        .await?;
    state.registry.forget(id);
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("bot"))
    }
}

async fn status(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_bot_id(&id)?;
    load(&state, auth.tenant, id).await?;
    let live = state.live_bot(id).await?.ok_or(AppError::NotFound("bot"))?;
    let checks = live.channels.iter().map(|ch| {
        let ch = ch.clone();
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(5), ch.status())
                .await
                .unwrap_or(ChannelStatus::Down {
                    reason: "status check timed out".into(),
                })
        }
    });
    let statuses = futures::future::join_all(checks).await;
    let channels: Vec<Value> = live
        .channels
        .iter()
        .zip(statuses)
        .enumerate()
        .map(|(i, (ch, st))| {
            let mut v = serde_json::to_value(&st).unwrap_or_default();
            if let Value::Object(m) = &mut v {
                m.insert("position".into(), i.into());
                m.insert(
                    "role".into(),
                    if i == 0 { "primary" } else { "fallback" }.into(),
                );
                m.insert("kind".into(), ch.kind().as_str().into());
                m.insert(
                    "circuit".into(),
                    state.outbox.circuit_state((id, i)).as_str().into(),
                );
            }
            v
        })
        .collect();
    Ok(Json(json!({"bot_id": id, "channels": channels})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    to: String,
    content: Content,
}

async fn send(
    State(state): State<AppState>,
    Require(auth, ..): Require<Agent>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let id = parse_bot_id(&id)?;
    let bot = load(&state, auth.tenant, id).await?;
    let to = crate::channels::to_e164(&body.to);
    let mut check = Check::new();
    check.ensure(
        (9..=16).contains(&to.len()),
        "to",
        "must be a phone number in international format, e.g. +51987654321",
    );
    check_content(&mut check, "content", &body.content);
    check.finish()?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let content = body.content;
    let outbox_id = state
        .db
        .write(move |c| {
            let conv = crate::conversations::intake::conversation_for(c, &bot, &to, None, 0)?;
            queue::enqueue(
                c,
                &Enqueue {
                    tenant,
                    bot: bot.id,
                    conversation: conv,
                    to: &to,
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
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"outbox_id": outbox_id, "status": "queued"})),
    ))
}

/// WhatsApp's limits on what we send (PROTOCOLS A4).
pub fn check_content(check: &mut Check, at: &str, content: &Content) {
    match content {
        Content::Text { body } => {
            check.ensure(
                !body.trim().is_empty() && body.chars().count() <= 4096,
                &format!("{at}.body"),
                "must be 1 to 4096 characters",
            );
        }
        Content::Media { url, .. } => {
            check.ensure(
                url.starts_with("https://") || url.starts_with("http://"),
                &format!("{at}.url"),
                "must be an http(s) URL",
            );
        }
        Content::Buttons { body, buttons, .. } => {
            check.ensure(
                !body.trim().is_empty() && body.chars().count() <= 1024,
                &format!("{at}.body"),
                "must be 1 to 1024 characters",
            );
            check.ensure(
                (1..=3).contains(&buttons.len()),
                &format!("{at}.buttons"),
                "must have 1 to 3 buttons",
            );
            for (i, b) in buttons.iter().enumerate() {
                check.ensure(
                    !b.title.is_empty() && b.title.chars().count() <= 20,
                    &format!("{at}.buttons[{i}].title"),
                    "must be 1 to 20 characters",
                );
            }
        }
        Content::List {
            body,
            button,
            sections,
            ..
        } => {
            check.ensure(
                !body.trim().is_empty(),
                &format!("{at}.body"),
                "must not be empty",
            );
            check.ensure(
                !button.is_empty() && button.chars().count() <= 20,
                &format!("{at}.button"),
                "must be 1 to 20 characters",
            );
            let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
            check.ensure(
                (1..=10).contains(&rows),
                &format!("{at}.sections"),
                "must have 1 to 10 rows in total",
            );
            for (si, s) in sections.iter().enumerate() {
                for (ri, r) in s.rows.iter().enumerate() {
                    check.ensure(
                        !r.title.is_empty() && r.title.chars().count() <= 24,
                        &format!("{at}.sections[{si}].rows[{ri}].title"),
                        "must be 1 to 24 characters",
                    );
                }
            }
        }
        Content::Template { name, .. } => {
            check.ensure(!name.is_empty(), &format!("{at}.name"), "must not be empty");
        }
    }
}
