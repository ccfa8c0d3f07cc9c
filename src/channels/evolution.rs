//! Evolution API v2 (a Baileys wrapper). PROTOCOLS.md §C. Evolution signs nothing: the
//! webhook URL carries an unguessable per-bot token, and the body's `apikey` must match.

use async_trait::async_trait;
use base64::Engine;
use serde_json::{json, Value};

use super::signature::constant_time_eq;
use super::{
    degrade_to_text, digits_only, qr_svg, retriable_status, retry_after, store_media, to_e164,
    unix_time, AuthError, Channel, ChannelEnv, ChannelEvent, ChannelKind, ChannelStatus,
    EvolutionConfig, ParseError, ProviderError, SendError, SentRef, SessionState, WebhookRequest,
};
use crate::messages::{Content, DeliveryStatus, Inbound, MediaKind};

pub struct EvolutionChannel {
    config: EvolutionConfig,
    env: ChannelEnv,
}

impl EvolutionChannel {
    pub fn new(config: EvolutionConfig, env: ChannelEnv) -> Self {
        EvolutionChannel { config, env }
    }

    fn url(&self, group_action: &str) -> String {
        format!(
            "{}/{}/{}",
            self.config.api_base.trim_end_matches('/'),
            group_action,
            self.config.instance
        )
    }

    async fn get_json(&self, group_action: &str) -> Result<Value, SendError> {
        let resp = self
            .env
            .http
            .get(self.url(group_action))
            .header("apikey", &self.config.api_key)
            .timeout(self.env.timeout)
            .send()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        if !status.is_success() {
            return Err(classify_error(status, &body, None));
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// Route (`message/<action>`) and v2 body of one send (PROTOCOLS §C2). Buttons and lists go
/// as numbered text: they are unreliable on unofficial WhatsApp sessions.
pub fn message_request(
    to: &str,
    content: &Content,
    reply_to: Option<&str>,
) -> Result<(&'static str, Value), SendError> {
    let number = digits_only(to);
    let (route, mut body) = match content {
        Content::Text { body } => (
            "message/sendText",
            json!({ "number": number, "text": body }),
        ),
        Content::Media {
            kind: MediaKind::Sticker,
            url,
            ..
        } => (
            "message/sendSticker",
            json!({ "number": number, "sticker": url }),
        ),
        Content::Media {
            kind: MediaKind::Audio,
            url,
            ..
        } => (
            "message/sendWhatsAppAudio",
            json!({ "number": number, "audio": url }),
        ),
        Content::Media {
            kind,
            url,
            caption,
            filename,
        } => {
            let mediatype = match kind {
                MediaKind::Image => "image",
                MediaKind::Video => "video",
                _ => "document",
            };
            let mut b = json!({ "number": number, "mediatype": mediatype, "media": url });
            if let Some(c) = caption {
                b["caption"] = json!(c);
            }
            if let Some(f) = filename {
                b["fileName"] = json!(f);
            }
            ("message/sendMedia", b)
        }
        Content::Buttons { .. } | Content::List { .. } => (
            "message/sendText",
            json!({ "number": number, "text": degrade_to_text(content) }),
        ),
        Content::Template { name, .. } => {
            return Err(SendError::permanent(
                Some("unsupported_content".into()),
                format!("evolution cannot send approved templates ({name})"),
            ))
        }
    };
    if let Some(id) = reply_to {
        body["quoted"] = json!({ "key": { "id": id } });
    }
    Ok((route, body))
}

/// Evolution answers 4xx for bad numbers and input (final), 5xx/429 when it struggles.
pub fn classify_error(
    status: reqwest::StatusCode,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> SendError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = match &parsed["response"]["message"] {
        Value::Array(a) => a
            .iter()
            .map(|m| match m {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::String(s) => s.clone(),
        _ => parsed["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("Evolution answered {status}")),
    };
    SendError {
        retriable: retriable_status(status),
        code: Some(status.as_u16().to_string()),
        message,
        retry_after,
    }
}

/// Checks the path token and, when present, the body's `apikey` (both constant-time).
pub fn verify_request(config: &EvolutionConfig, req: &WebhookRequest) -> Result<(), AuthError> {
    let token = req.path_token.as_deref().ok_or(AuthError::Missing)?;
    if config.webhook_token.is_empty() || !constant_time_eq(token, &config.webhook_token) {
        return Err(AuthError::BadToken);
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    if let Some(key) = body.get("apikey").and_then(Value::as_str) {
        if !constant_time_eq(key, &config.api_key) {
            return Err(AuthError::BadToken);
        }
    }
    Ok(())
}

/// Parses an Evolution webhook envelope (PROTOCOLS §C4): `messages.upsert`, `messages.update`,
/// `connection.update`, `qrcode.updated`; other events are ignored.
pub fn parse_webhook(body: &[u8]) -> Result<Vec<ChannelEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body)?;
    let event = root["event"]
        .as_str()
        .ok_or_else(|| ParseError::new("no event"))?
        .to_ascii_lowercase()
        .replace('_', ".");
    let data = &root["data"];
    let items: Vec<&Value> = match data {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![data],
        _ => return Err(ParseError::new("no data")),
    };
    let mut events = Vec::new();
    match event.as_str() {
        "messages.upsert" => {
            for m in items {
                if let Some(e) = parse_message(m)? {
                    events.push(e);
                }
            }
        }
        "messages.update" => {
            for u in items {
                if let Some(e) = parse_update(u) {
                    events.push(e);
                }
            }
        }
        "connection.update" => {
            for c in items {
                let raw = c["state"].as_str().unwrap_or("unknown");
                let Some(state) = SessionState::parse(raw) else {
                    continue;
                };
                events.push(ChannelEvent::Session {
                    state,
                    reason: c["statusReason"].as_i64().map(|r| r.to_string()),
                    qr: None,
                    event_id: None,
                });
            }
        }
        "qrcode.updated" => {
            for q in items {
                events.push(ChannelEvent::Session {
                    state: SessionState::QrPending,
                    reason: None,
                    qr: q["qrcode"]["code"].as_str().map(str::to_string),
                    event_id: None,
                });
            }
        }
        _ => {}
    }
    Ok(events)
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The customer's phone number behind a JID, if we can tell it (LID JIDs may hide it).
fn sender_number(key: &Value) -> Option<String> {
    let jid = key["remoteJid"].as_str()?;
    let phone_jid = if jid.ends_with("@lid") {
        key["senderPn"].as_str().or(key["remoteJidAlt"].as_str())?
    } else {
        jid
    };
    let user = phone_jid.split('@').next()?;
    let user = user.split(':').next()?;
    (!user.is_empty() && user.chars().all(|c| c.is_ascii_digit())).then(|| format!("+{user}"))
}

fn parse_message(m: &Value) -> Result<Option<ChannelEvent>, ParseError> {
    let key = &m["key"];
    let id = key["id"]
        .as_str()
        .ok_or_else(|| ParseError::new("message without key.id"))?;
    let jid = key["remoteJid"].as_str().unwrap_or_default();
    // Our own echoes, status broadcasts and groups are not customer conversations.
    if key["fromMe"].as_bool() == Some(true)
        || jid == "status@broadcast"
        || jid.ends_with("@g.us")
        || jid.ends_with("@broadcast")
    {
        return Ok(None);
    }
    let Some(from) = sender_number(key) else {
        tracing::warn!(
            jid,
            "evolution message from a JID without a phone number, skipped"
        );
        return Ok(None);
    };
    let msg = &m["message"];
    let mut reply_to = None;
    let content = if let Some(text) = msg["conversation"].as_str() {
        Inbound::Text { body: text.into() }
    } else if let Some(text) = msg["extendedTextMessage"]["text"].as_str() {
        reply_to = opt(&msg["extendedTextMessage"]["contextInfo"]["stanzaId"]);
        Inbound::Text { body: text.into() }
    } else if let Some(b) = msg.get("buttonsResponseMessage") {
        reply_to = opt(&b["contextInfo"]["stanzaId"]);
        let title = opt(&b["selectedDisplayText"]).unwrap_or_default();
        Inbound::ButtonReply {
            id: opt(&b["selectedButtonId"]).unwrap_or_else(|| title.clone()),
            title,
        }
    } else if let Some(b) = msg.get("templateButtonReplyMessage") {
        reply_to = opt(&b["contextInfo"]["stanzaId"]);
        let title = opt(&b["selectedDisplayText"]).unwrap_or_default();
        Inbound::ButtonReply {
            id: opt(&b["selectedId"]).unwrap_or_else(|| title.clone()),
            title,
        }
    } else if let Some(l) = msg.get("listResponseMessage") {
        reply_to = opt(&l["contextInfo"]["stanzaId"]);
        let title = opt(&l["title"]).unwrap_or_default();
        Inbound::ListReply {
            id: opt(&l["singleSelectReply"]["selectedRowId"]).unwrap_or_else(|| title.clone()),
            title,
            description: opt(&l["description"]),
        }
    } else if let Some(l) = msg.get("locationMessage") {
        match (
            l["degreesLatitude"].as_f64(),
            l["degreesLongitude"].as_f64(),
        ) {
            (Some(latitude), Some(longitude)) => Inbound::Location {
                latitude,
                longitude,
                name: opt(&l["name"]),
                address: opt(&l["address"]),
            },
            _ => return Err(ParseError::new("location without coordinates")),
        }
    } else if let Some((field, kind)) = [
        ("imageMessage", MediaKind::Image),
        ("videoMessage", MediaKind::Video),
        ("audioMessage", MediaKind::Audio),
        ("documentMessage", MediaKind::Document),
        ("stickerMessage", MediaKind::Sticker),
    ]
    .into_iter()
    .find(|(field, _)| msg.get(*field).is_some())
    {
        let obj = &msg[field];
        reply_to = opt(&obj["contextInfo"]["stanzaId"]);
        Inbound::Media {
            kind,
            // Baileys URLs point at encrypted blobs: Evolution decrypts by message id.
            media_id: Some(id.to_string()),
            url: None,
            mime_type: opt(&obj["mimetype"]),
            caption: opt(&obj["caption"]),
            filename: opt(&obj["fileName"]),
            local_path: None,
        }
    } else {
        let kind = m["messageType"]
            .as_str()
            .map(str::to_string)
            .or_else(|| msg.as_object().and_then(|o| o.keys().next().cloned()))
            .unwrap_or_else(|| "unknown".into());
        let kind = if kind == "reactionMessage" {
            "reaction".to_string()
        } else {
            kind
        };
        Inbound::Unsupported { kind }
    };
    if reply_to.is_none() {
        reply_to = opt(&m["contextInfo"]["stanzaId"]);
    }
    Ok(Some(ChannelEvent::Message {
        provider_message_id: id.to_string(),
        from,
        name: opt(&m["pushName"]).filter(|n| !n.is_empty()),
        at: unix_time(m.get("messageTimestamp")),
        content,
        reply_to,
    }))
}

fn parse_update(u: &Value) -> Option<ChannelEvent> {
    if u["fromMe"].as_bool() == Some(false) {
        return None;
    }
    let id = u["keyId"]
        .as_str()
        .or(u["key"]["id"].as_str())
        .or(u["messageId"].as_str())?;
    let raw = u["status"]
        .as_str()
        .or(u["update"]["status"].as_str())?
        .to_ascii_lowercase();
    let status = DeliveryStatus::parse(&raw)?;
    let error = (status == DeliveryStatus::Failed).then(|| ProviderError {
        code: raw.clone(),
        message: "evolution reported an error ack".into(),
    });
    Some(ChannelEvent::Status {
        provider_message_id: id.to_string(),
        status,
        at: chrono::Utc::now(),
        error,
        event_id: None,
    })
}

#[async_trait]
impl Channel for EvolutionChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Evolution
    }

    async fn send(
        &self,
        to: &str,
        content: &Content,
        reply_to: Option<&str>,
    ) -> Result<SentRef, SendError> {
        let (route, body) = message_request(&to_e164(to), content, reply_to)?;
        let resp = self
            .env
            .http
            .post(self.url(route))
            .header("apikey", &self.config.api_key)
            .timeout(self.env.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        if !status.is_success() {
            return Err(classify_error(status, &bytes, wait));
        }
        let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        parsed["key"]["id"]
            .as_str()
            .map(|id| SentRef {
                provider_message_id: id.to_string(),
            })
            .ok_or_else(|| {
                SendError::permanent(
                    Some("bad_response".into()),
                    "Evolution answer has no key.id",
                )
            })
    }

    async fn status(&self) -> ChannelStatus {
        let state = match self.get_json("instance/connectionState").await {
            Ok(v) => v["instance"]["state"].as_str().map(str::to_string),
            Err(e) => {
                return ChannelStatus::Down {
                    reason: e.to_string(),
                }
            }
        };
        match state.as_deref() {
            Some("open") => ChannelStatus::Connected,
            Some("connecting") | Some("close") => {
                // `connect` starts the session when closed and returns the current QR.
                match self.get_json("instance/connect").await {
                    Ok(v) => match v["code"].as_str() {
                        Some(code) => ChannelStatus::QrPending {
                            qr_text: code.to_string(),
                            qr_svg: qr_svg(code).unwrap_or_default(),
                        },
                        None if v["instance"]["state"].as_str() == Some("open") => {
                            ChannelStatus::Connected
                        }
                        None => ChannelStatus::Down {
                            reason: format!("instance is {}", state.unwrap_or_default()),
                        },
                    },
                    Err(e) => ChannelStatus::Down {
                        reason: e.to_string(),
                    },
                }
            }
            Some(other) => ChannelStatus::Down {
                reason: format!("instance is {other}"),
            },
            None => ChannelStatus::Down {
                reason: "instance state unknown (not loaded?)".into(),
            },
        }
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), AuthError> {
        verify_request(&self.config, req)
    }

    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError> {
        parse_webhook(&req.body)
    }

    /// `POST /chat/getBase64FromMediaMessage/{instance}` with the message key; Evolution
    /// answers `{base64, mimetype, fileName}` [C: route from public Evolution clients, not
    /// from its router source].
    async fn fetch_media(&self, content: &Inbound) -> Result<Option<String>, SendError> {
        let Inbound::Media {
            media_id: Some(id),
            mime_type,
            ..
        } = content
        else {
            return Ok(None);
        };
        let resp = self
            .env
            .http
            .post(self.url("chat/getBase64FromMediaMessage"))
            .header("apikey", &self.config.api_key)
            .timeout(self.env.timeout * 4)
            .json(&json!({ "message": { "key": { "id": id } }, "convertToMp4": false }))
            .send()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        if !status.is_success() {
            return Err(classify_error(status, &body, None));
        }
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(b64) = parsed["base64"].as_str() else {
            return Err(SendError::permanent(
                Some("bad_response".into()),
                "Evolution media answer has no base64",
            ));
        };
        // Some versions answer a data URL.
        let b64 = b64.rsplit_once("base64,").map_or(b64, |(_, data)| data);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| SendError::permanent(Some("bad_response".into()), e.to_string()))?;
        if bytes.len() > super::media::MAX_MEDIA_BYTES {
            return Err(SendError::permanent(
                Some("media_too_large".into()),
                "media is over the limit",
            ));
        }
        let mime = mime_type.as_deref().or(parsed["mimetype"].as_str());
        store_media(&self.env.media_dir, &bytes, mime)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_echoes_groups_and_status_broadcasts_are_skipped() {
        for jid in ["status@broadcast", "1203630@g.us"] {
            let body = json!({"event":"messages.upsert","instance":"i","data":{
                "key":{"remoteJid":jid,"fromMe":false,"id":"A"},"message":{"conversation":"hi"}}});
            assert_eq!(parse_webhook(body.to_string().as_bytes()), Ok(vec![]));
        }
        let body = json!({"event":"messages.upsert","instance":"i","data":{
            "key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":true,"id":"A"},"message":{"conversation":"hi"}}});
        assert_eq!(parse_webhook(body.to_string().as_bytes()), Ok(vec![]));
    }

    #[test]
    fn lid_sender_uses_the_phone_number_when_given() {
        let key = json!({"remoteJid":"123456789@lid","senderPn":"5511999999999@s.whatsapp.net"});
        assert_eq!(sender_number(&key).as_deref(), Some("+5511999999999"));
        assert_eq!(sender_number(&json!({"remoteJid":"123@lid"})), None);
    }

    #[test]
    fn templates_are_refused_for_good() {
        let e = message_request(
            "+1",
            &Content::Template {
                name: "t".into(),
                language: "es".into(),
                params: vec![],
            },
            None,
        )
        .expect_err("refused");
        assert!(!e.retriable);
    }

    #[test]
    fn acks_map_to_delivery_statuses() {
        let body = json!({"event":"messages.update","instance":"i","data":{
            "keyId":"3EB0","remoteJid":"5511@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK"}});
        let events = parse_webhook(body.to_string().as_bytes()).expect("parse");
        assert!(matches!(
            &events[..],
            [ChannelEvent::Status {
                status: DeliveryStatus::Delivered,
                ..
            }]
        ));
    }
}
