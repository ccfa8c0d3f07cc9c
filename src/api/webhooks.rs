//! Provider webhooks: verify, parse, store durably (de-duplicated), then answer 2xx.
//! Nothing is stored for a request that fails its signature.

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use crate::channels::{AuthError, WebhookRequest};
use crate::error::{AppError, AppResult};
use crate::ids::BotId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/cloud/{bot}", get(cloud_handshake).post(cloud))
        .route("/webhooks/twilio/{bot}", post(twilio))
        .route("/webhooks/evolution/{bot}/{token}", post(evolution))
        .route("/webhooks/bridge/{bot}", post(bridge))
}

fn reject(reason: &'static str) {
    metrics::counter!("webhook_rejects_total", "reason" => reason).increment(1);
}

/// The URL the provider called, as it signed it.
fn full_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match &state.config.public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}{path}")
        }
    }
}

async fn body_of(req: Request, state: &AppState) -> AppResult<(Method, Uri, HeaderMap, Bytes)> {
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts.clone(), body);
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(crate::api::json::body_rejection)?;
    Ok((parts.method, parts.uri, parts.headers, bytes))
}

async fn handle(
    state: AppState,
    family: &'static str,
    bot: String,
    token: Option<String>,
    req: Request,
) -> AppResult<Response> {
    let Some(bot_id) = BotId::parse(&bot) else {
        reject("unknown_bot");
        return Err(AppError::NotFound("bot"));
    };
    let Some(live) = state.live_bot(bot_id).await? else {
        reject("unknown_bot");
        return Err(AppError::NotFound("bot"));
    };
    let Some(pos) = live
        .bot
        .channels
        .iter()
        .position(|c| c.config.kind().webhook_family() == family)
    else {
        reject("no_channel");
        return Err(AppError::NotFound("channel for this webhook"));
    };
    let channel = live.channels[pos].clone();
    let kind = channel.kind();
    let (method, uri, headers, body) = body_of(req, &state).await?;
    let wreq = WebhookRequest {
        method,
        url: full_url(&state, &headers, &uri),
        query: uri.query().map(str::to_string),
        headers,
        body,
        path_token: token,
    };
    if let Err(e) = channel.verify(&wreq) {
        reject("signature");
        tracing::warn!(bot = %bot_id, channel = kind.as_str(), error = %e, "webhook refused");
        return Err(AppError::unauthorized(
            match e {
                AuthError::Missing => "signature_missing",
                AuthError::BadToken => "bad_token",
                _ => "bad_signature",
            },
            e.to_string(),
        ));
    }
    let events = channel.parse(&wreq).map_err(|e| {
        reject("malformed");
        AppError::bad_request("malformed_webhook", e.to_string())
    })?;
    let received = events.len();
    let media: Vec<(String, crate::messages::Inbound)> = events
        .iter()
        .filter_map(|e| match e {
            crate::channels::ChannelEvent::Message {
                provider_message_id,
                content:
                    c @ crate::messages::Inbound::Media {
                        local_path: None, ..
                    },
                ..
            } => Some((provider_message_id.clone(), c.clone())),
            _ => None,
        })
        .collect();
    let bot = live.bot.clone();
    let intake = state
        .db
        .write(move |c| crate::conversations::intake::store_events(c, &bot, kind, &events))
        .await?;
    metrics::counter!("messages_received_total", "channel" => kind.as_str())
        .increment(intake.new_messages.len() as u64);
    if !intake.new_messages.is_empty() {
        state.on_inbound(&intake.new_messages);
    }
    if intake.alert {
        crate::analytics::alerts::kick();
    }
    if !media.is_empty() {
        // Media goes into media/ after we answered: the provider must not wait for it.
        let (state, channel, bot_id) = (state.clone(), channel.clone(), live.bot.id);
        tokio::spawn(async move {
            for (pid, content) in media {
                download_media(&state, &*channel, bot_id, &pid, content).await;
            }
        });
    }
    if kind == crate::channels::ChannelKind::Twilio {
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml")],
            "<Response></Response>",
        )
            .into_response());
    }
    Ok(axum::Json(serde_json::json!({
        "received": received,
        "stored": intake.new_messages.len(),
        "duplicates": intake.duplicates,
    }))
    .into_response())
}

async fn cloud(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    req: Request,
) -> AppResult<Response> {
    handle(s, "cloud", bot, None, req).await
}

async fn twilio(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    req: Request,
) -> AppResult<Response> {
    handle(s, "twilio", bot, None, req).await
}

async fn evolution(
    State(s): State<AppState>,
    Path((bot, token)): Path<(String, String)>,
    req: Request,
) -> AppResult<Response> {
    handle(s, "evolution", bot, Some(token), req).await
}

async fn bridge(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    req: Request,
) -> AppResult<Response> {
    handle(s, "bridge", bot, None, req).await
}

/// Meta's subscription handshake: echo `hub.challenge` when the verify token matches.
async fn cloud_handshake(
    State(state): State<AppState>,
    Path(bot): Path<String>,
    uri: Uri,
) -> AppResult<Response> {
    let id = BotId::parse(&bot).ok_or(AppError::NotFound("bot"))?;
    let live = state.live_bot(id).await?.ok_or(AppError::NotFound("bot"))?;
    let pos = live
        .bot
        .channels
        .iter()
        .position(|c| c.config.kind().webhook_family() == "cloud")
        .ok_or(AppError::NotFound("channel for this webhook"))?;
    match live.channels[pos].verify_handshake(uri.query().unwrap_or("")) {
        Ok(challenge) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            challenge,
        )
            .into_response()),
        Err(_) => {
            reject("handshake");
            Err(AppError::Forbidden {
                code: "bad_verify_token",
                detail: "the verify token does not match".into(),
            })
        }
    }
}

/// Fetches an inbound media file into the content-addressed `media/` directory and
/// records its local name on the stored message.
async fn download_media(
    state: &AppState,
    channel: &dyn crate::channels::Channel,
    bot: BotId,
    provider_id: &str,
    content: crate::messages::Inbound,
) {
    let path = match channel.fetch_media(&content).await {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, message = provider_id, "media download failed");
            return;
        }
    };
    let mut content = content;
    if let crate::messages::Inbound::Media { local_path, .. } = &mut content {
        *local_path = Some(path);
    }
    let Ok(json) = serde_json::to_string(&content) else {
        return;
    };
    let pid = provider_id.to_string();
    let res = state
        .db
        .write(move |c| {
            c.execute(
                "UPDATE messages SET content = ?3 WHERE bot_id = ?1 AND provider_message_id = ?2 AND direction = 'in'",
                rusqlite::params![bot, pid, json],
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not record a downloaded media file");
    }
}
