//! WhatsApp Cloud API (Meta Graph). PROTOCOLS.md §A.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::media::download;
use super::signature::{constant_time_eq, verify_sha256_header};
use super::{
    retriable_status, retry_after, to_e164, unix_time, AuthError, Channel, ChannelEnv,
    ChannelEvent, ChannelKind, ChannelStatus, CloudConfig, ParseError, ProviderError, SendError,
    SentRef, WebhookRequest,
};
use crate::messages::{Content, DeliveryStatus, Inbound, MediaKind};

/// Graph error codes worth retrying (PROTOCOLS §A6); everything else 4xx is final.
const RETRIABLE_CODES: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057];

pub struct CloudChannel {
    config: CloudConfig,
    env: ChannelEnv,
}

impl CloudChannel {
    pub fn new(config: CloudConfig, env: ChannelEnv) -> Self {
        CloudChannel { config, env }
    }

    fn graph_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.config.api_base.trim_end_matches('/'),
            self.config.api_version,
            path
        )
    }
}

/// The documented request body for one message (PROTOCOLS §A4).
pub fn message_body(to: &str, content: &Content, reply_to: Option<&str>) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    let (kind, payload) = match content {
        Content::Text { body } => ("text", json!({ "preview_url": false, "body": body })),
        Content::Media {
            kind,
            url,
            caption,
            filename,
        } => {
            let mut media = json!({ "link": url });
            let takes_caption = matches!(
                kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            );
            if let (true, Some(c)) = (takes_caption, caption) {
                media["caption"] = json!(c);
            }
            if let (MediaKind::Document, Some(f)) = (kind, filename) {
                media["filename"] = json!(f);
            }
            (media_kind_name(*kind), media)
        }
        Content::Buttons {
            body,
            header,
            footer,
            buttons,
        } => {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                .collect();
            let mut i = json!({
                "type": "button",
                "body": { "text": body },
                "action": { "buttons": buttons },
            });
            decorate(&mut i, header, footer);
            ("interactive", i)
        }
        Content::List {
            body,
            header,
            footer,
            button,
            sections,
        } => {
            let sections: Vec<Value> = sections
                .iter()
                .map(|s| {
                    let rows: Vec<Value> = s
                        .rows
                        .iter()
                        .map(|r| {
                            let mut row = json!({ "id": r.id, "title": r.title });
                            if let Some(d) = &r.description {
                                row["description"] = json!(d);
                            }
                            row
                        })
                        .collect();
                    let mut section = json!({ "rows": rows });
                    if !s.title.is_empty() {
                        section["title"] = json!(s.title);
                    }
                    section
                })
                .collect();
            let mut i = json!({
                "type": "list",
                "body": { "text": body },
                "action": { "button": button, "sections": sections },
            });
            decorate(&mut i, header, footer);
            ("interactive", i)
        }
        Content::Template {
            name,
            language,
            params,
        } => {
            let mut t = json!({
                "name": name,
                "language": { "code": language, "policy": "deterministic" },
            });
            if !params.is_empty() {
                let parameters: Vec<Value> = params
                    .iter()
                    .map(|p| json!({ "type": "text", "text": p }))
                    .collect();
                t["components"] = json!([{ "type": "body", "parameters": parameters }]);
            }
            ("template", t)
        }
    };
    body["type"] = json!(kind);
    body[kind] = payload;
    if let Some(id) = reply_to {
        body["context"] = json!({ "message_id": id });
    }
    body
}

fn decorate(interactive: &mut Value, header: &Option<String>, footer: &Option<String>) {
    if let Some(h) = header {
        interactive["header"] = json!({ "type": "text", "text": h });
    }
    if let Some(f) = footer {
        interactive["footer"] = json!({ "text": f });
    }
}

fn media_kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

/// Turns a Graph error answer into a `SendError` (PROTOCOLS §A6).
pub fn classify_error(
    status: reqwest::StatusCode,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> SendError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &parsed["error"];
    let code = err["code"].as_i64();
    let mut message = err["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("Graph API answered {status}"));
    if let Some(details) = err["error_data"]["details"].as_str() {
        message = format!("{message}: {details}");
    }
    let retriable = match code {
        Some(c) if RETRIABLE_CODES.contains(&c) => true,
        Some(_) if status.is_client_error() && status.as_u16() != 429 => false,
        _ => retriable_status(status),
    };
    let code = code
        .map(|c| c.to_string())
        .or_else(|| Some(status.as_u16().to_string()));
    // The pair limit is about one message per 6 s to the same user.
    let retry_after = retry_after.or_else(|| {
        (code.as_deref() == Some("131056")).then_some(std::time::Duration::from_secs(6))
    });
    SendError {
        retriable,
        code,
        message,
        retry_after,
    }
}

#[async_trait]
impl Channel for CloudChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Cloud
    }

    async fn send(
        &self,
        to: &str,
        content: &Content,
        reply_to: Option<&str>,
    ) -> Result<SentRef, SendError> {
        let url = self.graph_url(&format!("{}/messages", self.config.phone_number_id));
        let resp = self
            .env
            .http
            .post(url)
            .bearer_auth(&self.config.access_token)
            .timeout(self.env.timeout)
            .json(&message_body(&to_e164(to), content, reply_to))
            .send()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let body = resp
            .bytes()
            .await
            .map_err(|e| SendError::from_transport(&e))?;
        if !status.is_success() {
            return Err(classify_error(status, &body, wait));
        }
        let parsed: Value = serde_json::from_slice(&body).map_err(|e| {
            SendError::permanent(Some("bad_response".into()), format!("Graph answer: {e}"))
        })?;
        parsed["messages"][0]["id"]
            .as_str()
            .map(|id| SentRef {
                provider_message_id: id.to_string(),
            })
            .ok_or_else(|| {
                SendError::permanent(
                    Some("bad_response".into()),
                    "Graph answer has no message id",
                )
            })
    }

    async fn status(&self) -> ChannelStatus {
        let url = self.graph_url(&self.config.phone_number_id);
        let resp = self
            .env
            .http
            .get(url)
            .bearer_auth(&self.config.access_token)
            .timeout(self.env.timeout)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => ChannelStatus::Connected,
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await.unwrap_or_default();
                ChannelStatus::Down {
                    reason: classify_error(status, &body, None).to_string(),
                }
            }
            Err(e) => ChannelStatus::Down {
                reason: SendError::from_transport(&e).to_string(),
            },
        }
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), AuthError> {
        // An empty secret would let anyone sign with the empty key.
        if self.config.app_secret.is_empty() {
            return Err(AuthError::BadSignature);
        }
        verify_sha256_header(
            req.header("x-hub-signature-256"),
            self.config.app_secret.as_bytes(),
            &req.body,
        )
    }

    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError> {
        parse_notification(&req.body)
    }

    async fn fetch_media(&self, content: &Inbound) -> Result<Option<String>, SendError> {
        let Inbound::Media {
            media_id: Some(id),
            mime_type,
            ..
        } = content
        else {
            return Ok(None);
        };
        // Graph flow: the id gives a short-lived URL, fetched with the same bearer token.
        let resp = self
            .env
            .http
            .get(self.graph_url(id))
            .bearer_auth(&self.config.access_token)
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
        let meta: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(url) = meta["url"].as_str() else {
            return Err(SendError::permanent(
                Some("bad_response".into()),
                "media answer has no url",
            ));
        };
        let req = self
            .env
            .http
            .get(url)
            .bearer_auth(&self.config.access_token)
            .timeout(self.env.timeout * 4);
        let mime = mime_type.as_deref().or(meta["mime_type"].as_str());
        download(req, &self.env.media_dir, mime).await.map(Some)
    }

    fn verify_handshake(&self, query: &str) -> Result<String, AuthError> {
        verify_handshake(&self.config.verify_token, query)
    }
}

/// The GET subscription handshake (PROTOCOLS §A1): returns `hub.challenge` to echo back.
pub fn verify_handshake(verify_token: &str, query: &str) -> Result<String, AuthError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| AuthError::Missing)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let (Some(mode), Some(token), Some(challenge)) = (
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
    ) else {
        return Err(AuthError::Missing);
    };
    if mode == "subscribe" && !verify_token.is_empty() && constant_time_eq(token, verify_token) {
        Ok(challenge.to_string())
    } else {
        Err(AuthError::BadToken)
    }
}

/// Parses a Cloud API notification: every entry, every change (PROTOCOLS §A3).
pub fn parse_notification(body: &[u8]) -> Result<Vec<ChannelEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body)?;
    let entries = root["entry"]
        .as_array()
        .ok_or_else(|| ParseError::new("no entry[]"))?;
    let mut events = Vec::new();
    for entry in entries {
        let Some(changes) = entry["changes"].as_array() else {
            return Err(ParseError::new("entry without changes[]"));
        };
        for change in changes {
            let value = &change["value"];
            if !value.is_object() {
                return Err(ParseError::new("change without value"));
            }
            let names = contact_names(value);
            for m in value["messages"].as_array().into_iter().flatten() {
                events.push(parse_message(m, &names)?);
            }
            for s in value["statuses"].as_array().into_iter().flatten() {
                if let Some(e) = parse_status(s)? {
                    events.push(e);
                }
            }
            for e in value["errors"].as_array().into_iter().flatten() {
                tracing::warn!(error = %e, "cloud api reported a webhook-level error");
            }
        }
    }
    Ok(events)
}

fn contact_names(value: &Value) -> Map<String, Value> {
    let mut names = Map::new();
    for c in value["contacts"].as_array().into_iter().flatten() {
        if let (Some(id), Some(name)) = (c["wa_id"].as_str(), c["profile"]["name"].as_str()) {
            names.insert(id.to_string(), json!(name));
        }
    }
    names
}

fn str_of(v: &Value, what: &str) -> Result<String, ParseError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ParseError::new(format!("missing {what}")))
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn parse_message(m: &Value, names: &Map<String, Value>) -> Result<ChannelEvent, ParseError> {
    let id = str_of(&m["id"], "messages[].id")?;
    let from = str_of(&m["from"], "messages[].from")?;
    let kind = m["type"].as_str().unwrap_or("unknown");
    let content = match kind {
        "text" => Inbound::Text {
            body: str_of(&m["text"]["body"], "text.body")?,
        },
        "interactive" => {
            let i = &m["interactive"];
            match i["type"].as_str() {
                Some("button_reply") => Inbound::ButtonReply {
                    id: str_of(&i["button_reply"]["id"], "button_reply.id")?,
                    title: str_of(&i["button_reply"]["title"], "button_reply.title")?,
                },
                Some("list_reply") => Inbound::ListReply {
                    id: str_of(&i["list_reply"]["id"], "list_reply.id")?,
                    title: str_of(&i["list_reply"]["title"], "list_reply.title")?,
                    description: opt(&i["list_reply"]["description"]),
                },
                other => Inbound::Unsupported {
                    kind: format!("interactive:{}", other.unwrap_or("unknown")),
                },
            }
        }
        // Template quick-reply taps: the payload plays the button id.
        "button" => {
            let text = str_of(&m["button"]["text"], "button.text")?;
            Inbound::ButtonReply {
                id: opt(&m["button"]["payload"]).unwrap_or_else(|| text.clone()),
                title: text,
            }
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let media_kind = match kind {
                "image" => MediaKind::Image,
                "video" => MediaKind::Video,
                "audio" => MediaKind::Audio,
                "document" => MediaKind::Document,
                _ => MediaKind::Sticker,
            };
            let obj = &m[kind];
            Inbound::Media {
                kind: media_kind,
                media_id: opt(&obj["id"]),
                url: opt(&obj["url"]),
                mime_type: opt(&obj["mime_type"]),
                caption: opt(&obj["caption"]),
                filename: opt(&obj["filename"]),
                local_path: None,
            }
        }
        "location" => {
            let l = &m["location"];
            let (Some(latitude), Some(longitude)) =
                (l["latitude"].as_f64(), l["longitude"].as_f64())
            else {
                return Err(ParseError::new("location without coordinates"));
            };
            Inbound::Location {
                latitude,
                longitude,
                name: opt(&l["name"]),
                address: opt(&l["address"]),
            }
        }
        other => Inbound::Unsupported {
            kind: other.to_string(),
        },
    };
    Ok(ChannelEvent::Message {
        provider_message_id: id,
        name: names
            .get(&from)
            .and_then(|v| v.as_str())
            .map(str::to_string),
        from: to_e164(&from),
        at: unix_time(m.get("timestamp")),
        content,
        reply_to: opt(&m["context"]["id"]),
    })
}

fn parse_status(s: &Value) -> Result<Option<ChannelEvent>, ParseError> {
    let id = str_of(&s["id"], "statuses[].id")?;
    let raw = str_of(&s["status"], "statuses[].status")?;
    // `deleted` and future values are not delivery progress: skip them.
    let Some(status) = DeliveryStatus::parse(&raw) else {
        return Ok(None);
    };
    let error = s["errors"].as_array().and_then(|a| a.first()).map(|e| {
        let mut message = opt(&e["message"])
            .or_else(|| opt(&e["title"]))
            .unwrap_or_default();
        if let Some(d) = e["error_data"]["details"].as_str() {
            if !message.contains(d) {
                message = format!("{message}: {d}");
            }
        }
        ProviderError {
            code: match &e["code"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => "unknown".into(),
            },
            message,
        }
    });
    Ok(Some(ChannelEvent::Status {
        provider_message_id: id,
        status,
        at: unix_time(s.get("timestamp")),
        error,
        event_id: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn error_131047_is_final_and_130429_is_retried() {
        let e = classify_error(
            StatusCode::BAD_REQUEST,
            br#"{"error":{"message":"Re-engagement message","code":131047}}"#,
            None,
        );
        assert!(!e.retriable);
        assert_eq!(e.code.as_deref(), Some("131047"));
        let e = classify_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":{"message":"rate","code":130429}}"#,
            None,
        );
        assert!(e.retriable);
        let e = classify_error(
            StatusCode::BAD_REQUEST,
            br#"{"error":{"message":"(#131056) pair rate limit hit","code":131056}}"#,
            None,
        );
        assert!(e.retriable);
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(6)));
        assert!(classify_error(StatusCode::BAD_GATEWAY, b"<html>", None).retriable);
        assert!(
            !classify_error(StatusCode::UNAUTHORIZED, br#"{"error":{"code":190}}"#, None).retriable
        );
    }

    #[test]
    fn handshake_echoes_the_challenge_only_for_the_right_token() {
        let q = "hub.mode=subscribe&hub.verify_token=vt&hub.challenge=1158201444";
        assert_eq!(verify_handshake("vt", q), Ok("1158201444".into()));
        assert_eq!(verify_handshake("other", q), Err(AuthError::BadToken));
        assert_eq!(
            verify_handshake("vt", "hub.mode=subscribe"),
            Err(AuthError::Missing)
        );
        let q = "hub.mode=unsubscribe&hub.verify_token=vt&hub.challenge=1";
        assert_eq!(verify_handshake("vt", q), Err(AuthError::BadToken));
    }

    #[test]
    fn reply_context_and_template_params_are_in_the_body() {
        let b = message_body(
            "+16505551234",
            &Content::Template {
                name: "order_update".into(),
                language: "en_US".into(),
                params: vec!["12345".into()],
            },
            Some("wamid.X"),
        );
        assert_eq!(
            b["template"]["components"][0]["parameters"][0]["text"],
            "12345"
        );
        assert_eq!(b["context"]["message_id"], "wamid.X");
        assert_eq!(b["template"]["language"]["code"], "en_US");
    }

    #[test]
    fn random_json_is_a_parse_error() {
        assert!(parse_notification(b"{}").is_err());
        assert!(parse_notification(b"not json").is_err());
        assert!(parse_notification(
            br#"{"entry":[{"changes":[{"value":{"messages":[{"type":"text"}]}}]}]}"#
        )
        .is_err());
        assert_eq!(parse_notification(br#"{"entry":[]}"#), Ok(vec![]));
    }
}
