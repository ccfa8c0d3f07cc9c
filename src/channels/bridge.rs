//! QR-paired WhatsApp through a Node bridge on localhost (wwebjs, baileys, venom all speak
//! the same contract):
//!
//! - send: `POST {bridge_url}/sessions/{session}/messages`, `Authorization: Bearer {token}`,
//!   body `{"to":"51987654321","content":<Content JSON>}` -> `200 {"id":"<wa id>"}`;
//!   409 = not connected (retriable), 5xx/timeout retriable, other 4xx final.
//! - status: `GET .../sessions/{session}` -> `{"name","state","reason","since","me"}`,
//!   `GET .../sessions/{session}/qr` -> `{"qr":"raw","png":"data:..."}`.
//! - inbound: `POST /webhooks/bridge/{bot}` signed `X-Bridge-Signature: sha256=<hex>` with
//!   `{"id","session","type":"message|ack|state","timestamp", "message"|"ack"|"state": {...}}`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::media::download;
use super::signature::verify_sha256_header;
use super::{
    digits_only, qr_svg, retriable_status, retry_after, to_e164, AuthError, BridgeConfig, Channel,
    ChannelEnv, ChannelEvent, ChannelKind, ChannelStatus, ParseError, ProviderError, SendError,
    SentRef, SessionState, WebhookRequest,
};
use crate::messages::{Content, DeliveryStatus, Inbound};

pub const SIGNATURE_HEADER: &str = "x-bridge-signature";

pub struct BridgeChannel {
    kind: ChannelKind,
    config: BridgeConfig,
    env: ChannelEnv,
}

impl BridgeChannel {
    pub fn new(kind: ChannelKind, config: BridgeConfig, env: ChannelEnv) -> Self {
        BridgeChannel { kind, config, env }
    }

    fn session_url(&self, tail: &str) -> String {
        format!(
            "{}/sessions/{}{}",
            self.config.bridge_url.trim_end_matches('/'),
            self.config.session,
            tail
        )
    }

    async fn get_json(&self, tail: &str) -> Result<Value, SendError> {
        let resp = self
            .env
            .http
            .get(self.session_url(tail))
            .bearer_auth(&self.config.bridge_token)
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
        serde_json::from_slice(&body).map_err(|e| {
            SendError::retriable(Some("bad_response".into()), format!("bridge answer: {e}"))
        })
    }
}

/// 409 (session not connected), 429 and 5xx are worth a retry; other 4xx are final.
pub fn classify_error(
    status: reqwest::StatusCode,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> SendError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = parsed["error"]
        .as_str()
        .or(parsed["message"].as_str())
        .or(parsed["reason"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("bridge answered {status}"));
    SendError {
        retriable: status == reqwest::StatusCode::CONFLICT || retriable_status(status),
        code: Some(status.as_u16().to_string()),
        message,
        retry_after,
    }
}

/// The send body of the bridge contract.
pub fn message_body(to: &str, content: &Content, reply_to: Option<&str>) -> Value {
    let mut body = json!({ "to": digits_only(to), "content": content });
    if let Some(id) = reply_to {
        body["reply_to"] = json!(id);
    }
    body
}

/// Parses one bridge webhook event.
pub fn parse_event(body: &[u8]) -> Result<Vec<ChannelEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body)?;
    let event_id = root["id"]
        .as_str()
        .ok_or_else(|| ParseError::new("no id"))?
        .to_string();
    let at = root["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let str_of = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| ParseError::new(format!("missing {what}")))
    };
    let event = match root["type"].as_str() {
        Some("message") => {
            let m = &root["message"];
            let raw = m
                .get("content")
                .ok_or_else(|| ParseError::new("message without content"))?;
            // A content type this build does not know is kept as unsupported, not rejected.
            let content = serde_json::from_value::<Inbound>(raw.clone()).unwrap_or_else(|_| {
                Inbound::Unsupported {
                    kind: raw["type"].as_str().unwrap_or("unknown").to_string(),
                }
            });
            let from = str_of(&m["from"], "message.from")?;
            if digits_only(&from).is_empty() {
                return Err(ParseError::new("message.from is not a phone number"));
            }
            ChannelEvent::Message {
                provider_message_id: str_of(&m["id"], "message.id")?,
                from: to_e164(&from),
                name: m["name"].as_str().map(str::to_string),
                at,
                content,
                reply_to: m["reply_to"].as_str().map(str::to_string),
            }
        }
        Some("ack") => {
            let a = &root["ack"];
            let raw = str_of(&a["status"], "ack.status")?;
            let status = DeliveryStatus::parse(&raw)
                .ok_or_else(|| ParseError::new(format!("unknown ack status {raw}")))?;
            ChannelEvent::Status {
                provider_message_id: str_of(&a["message_id"], "ack.message_id")?,
                status,
                at,
                error: a["error"].as_str().map(|e| ProviderError {
                    code: "bridge".into(),
                    message: e.to_string(),
                }),
                event_id: Some(event_id),
            }
        }
        Some("state") => {
            let s = &root["state"];
            let raw = str_of(&s["state"], "state.state")?;
            ChannelEvent::Session {
                state: SessionState::parse(&raw)
                    .ok_or_else(|| ParseError::new(format!("unknown state {raw}")))?,
                reason: s["reason"].as_str().map(str::to_string),
                qr: s["qr"].as_str().map(str::to_string),
                event_id: Some(event_id),
            }
        }
        other => {
            return Err(ParseError::new(format!(
                "unknown event type {}",
                other.unwrap_or("(none)")
            )))
        }
    };
    Ok(vec![event])
}

#[async_trait]
impl Channel for BridgeChannel {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    async fn send(
        &self,
        to: &str,
        content: &Content,
        reply_to: Option<&str>,
    ) -> Result<SentRef, SendError> {
        let resp = self
            .env
            .http
            .post(self.session_url("/messages"))
            .bearer_auth(&self.config.bridge_token)
            .timeout(self.env.timeout)
            .json(&message_body(to, content, reply_to))
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
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        parsed["id"]
            .as_str()
            .map(|id| SentRef {
                provider_message_id: id.to_string(),
            })
            .ok_or_else(|| {
                SendError::permanent(Some("bad_response".into()), "bridge answer has no id")
            })
    }

    async fn start(&self, webhook_url: &str) -> Result<(), SendError> {
        let resp = self
            .env
            .http
            .post(self.session_url(""))
            .bearer_auth(&self.config.bridge_token)
            .timeout(self.env.timeout)
            .json(&serde_json::json!({
                "webhook_url": webhook_url,
                "webhook_secret": self.config.webhook_secret,
            }))
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
        Ok(())
    }

    async fn status(&self) -> ChannelStatus {
        let session = match self.get_json("").await {
            Ok(v) => v,
            Err(e) => {
                return ChannelStatus::Down {
                    reason: e.to_string(),
                }
            }
        };
        let state = session["state"].as_str().unwrap_or("unknown");
        match state {
            "connected" => ChannelStatus::Connected,
            "qr_pending" => match self.get_json("/qr").await {
                Ok(v) => match v["qr"].as_str() {
                    Some(qr) => ChannelStatus::QrPending {
                        qr_text: qr.to_string(),
                        qr_svg: qr_svg(qr).unwrap_or_default(),
                    },
                    None => ChannelStatus::Down {
                        reason: "waiting for a QR code".into(),
                    },
                },
                Err(e) => ChannelStatus::Down {
                    reason: e.to_string(),
                },
            },
            other => ChannelStatus::Down {
                reason: match session["reason"].as_str() {
                    Some(r) => format!("{other}: {r}"),
                    None => other.to_string(),
                },
            },
        }
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), AuthError> {
        if self.config.webhook_secret.is_empty() {
            return Err(AuthError::BadSignature);
        }
        verify_sha256_header(
            req.header(SIGNATURE_HEADER),
            self.config.webhook_secret.as_bytes(),
            &req.body,
        )
    }

    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError> {
        parse_event(&req.body)
    }

    async fn fetch_media(&self, content: &Inbound) -> Result<Option<String>, SendError> {
        let Inbound::Media {
            url: Some(url),
            mime_type,
            ..
        } = content
        else {
            return Ok(None);
        };
        // Only hand our bearer token to the bridge itself.
        let base = self.config.bridge_url.trim_end_matches('/');
        if !url.starts_with(&format!("{base}/")) {
            return Ok(None);
        }
        let req = self
            .env
            .http
            .get(url)
            .bearer_auth(&self.config.bridge_token)
            .timeout(self.env.timeout * 4);
        download(req, &self.env.media_dir, mime_type.as_deref())
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_event_carries_inbound_content_as_serialised() {
        let body = json!({"id":"evt-9","session":"s1","type":"message","timestamp":"2026-01-02T03:04:05Z",
            "message":{"id":"3EB0AA","from":"51987654321","name":"Ana",
                       "content":{"type":"list_reply","id":"r1","title":"Express"}}});
        let events = parse_event(body.to_string().as_bytes()).expect("parse");
        let ChannelEvent::Message {
            from,
            content,
            provider_message_id,
            ..
        } = &events[0]
        else {
            panic!("not a message")
        };
        assert_eq!(from, "+51987654321");
        assert_eq!(provider_message_id, "3EB0AA");
        assert_eq!(
            content,
            &Inbound::ListReply {
                id: "r1".into(),
                title: "Express".into(),
                description: None
            }
        );
        assert_eq!(events[0].dedup_key().as_deref(), Some("3EB0AA"));
    }

    #[test]
    fn ack_and_state_dedup_on_the_event_id() {
        let ack = json!({"id":"evt-2","type":"ack","timestamp":"2026-01-02T03:04:05Z",
            "ack":{"message_id":"3EB0AA","status":"failed","error":"not on whatsapp"}});
        let events = parse_event(ack.to_string().as_bytes()).expect("ack");
        assert_eq!(events[0].dedup_key().as_deref(), Some("evt-2"));
        assert!(matches!(
            &events[0],
            ChannelEvent::Status {
                status: DeliveryStatus::Failed,
                error: Some(_),
                ..
            }
        ));
        let state = json!({"id":"evt-3","type":"state","state":{"state":"qr_pending","reason":null,"qr":"2@x"}});
        let events = parse_event(state.to_string().as_bytes()).expect("state");
        assert!(matches!(
            &events[0],
            ChannelEvent::Session {
                state: SessionState::QrPending,
                ..
            }
        ));
    }

    #[test]
    fn conflict_means_not_connected_and_is_retried() {
        use reqwest::StatusCode;
        assert!(
            classify_error(StatusCode::CONFLICT, br#"{"error":"not connected"}"#, None).retriable
        );
        assert!(classify_error(StatusCode::BAD_GATEWAY, b"", None).retriable);
        assert!(!classify_error(StatusCode::BAD_REQUEST, b"", None).retriable);
    }

    #[test]
    fn send_body_uses_bare_digits_and_tagged_content() {
        let b = message_body(
            "+51987654321",
            &Content::Text {
                body: "hola".into(),
            },
            None,
        );
        assert_eq!(
            b,
            json!({"to":"51987654321","content":{"type":"text","body":"hola"}})
        );
    }
}
