//! The built-in channel: the dashboard's test chat and the demo. Sending appends to an
//! in-memory transcript (always succeeds); inbound messages are requests the app builds
//! itself with [`SandboxChannel::inbound_request`], stamped with a per-channel random token.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::signature::constant_time_eq;
use super::{
    to_e164, AuthError, Channel, ChannelEvent, ChannelKind, ChannelStatus, ParseError, SendError,
    SentRef, WebhookRequest,
};
use crate::messages::{Content, Inbound};

const TOKEN_HEADER: &str = "x-sandbox-token";
/// Oldest messages drop off past this many (it is a test chat, not an archive).
const TRANSCRIPT_LIMIT: usize = 500;

/// One message the bot sent through the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SandboxMessage {
    pub id: String,
    pub to: String,
    pub at: DateTime<Utc>,
    pub content: Content,
    pub reply_to: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SandboxInbound {
    id: String,
    from: String,
    #[serde(default)]
    name: Option<String>,
    content: Inbound,
}

pub struct SandboxChannel {
    token: String,
    transcript: Mutex<VecDeque<SandboxMessage>>,
    live: broadcast::Sender<SandboxMessage>,
}

impl Default for SandboxChannel {
    fn default() -> Self {
        Self::new()
    }
}

impl SandboxChannel {
    pub fn new() -> Self {
        let token: [u8; 16] = rand::thread_rng().gen();
        SandboxChannel {
            token: hex::encode(token),
            transcript: Mutex::new(VecDeque::new()),
            live: broadcast::channel(64).0,
        }
    }

    /// What the bot has sent, oldest first.
    pub fn transcript(&self) -> Vec<SandboxMessage> {
        self.transcript
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Follow the bot's replies as they are sent (the dashboard's live chat).
    pub fn subscribe(&self) -> broadcast::Receiver<SandboxMessage> {
        self.live.subscribe()
    }

    pub fn clear(&self) {
        if let Ok(mut t) = self.transcript.lock() {
            t.clear();
        }
    }

    /// Builds the webhook request for a customer message typed in the test chat; it passes
    /// `verify` on this channel only.
    pub fn inbound_request(
        &self,
        from: &str,
        name: Option<&str>,
        content: Inbound,
    ) -> WebhookRequest {
        let body = SandboxInbound {
            id: format!("sbx.{}", uuid::Uuid::now_v7()),
            from: to_e164(from),
            name: name.map(str::to_string),
            content,
        };
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.token) {
            headers.insert(TOKEN_HEADER, v);
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        WebhookRequest::post("sandbox:", headers, bytes)
    }
}

#[async_trait]
impl Channel for SandboxChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Sandbox
    }

    async fn send(
        &self,
        to: &str,
        content: &Content,
        reply_to: Option<&str>,
    ) -> Result<SentRef, SendError> {
        let msg = SandboxMessage {
            id: format!("sbx.{}", uuid::Uuid::now_v7()),
            to: to_e164(to),
            at: Utc::now(),
            content: content.clone(),
            reply_to: reply_to.map(str::to_string),
        };
        if let Ok(mut t) = self.transcript.lock() {
            if t.len() >= TRANSCRIPT_LIMIT {
                t.pop_front();
            }
            t.push_back(msg.clone());
        }
        // Nobody listening is fine.
        let _ = self.live.send(msg.clone());
        Ok(SentRef {
            provider_message_id: msg.id,
        })
    }

    async fn status(&self) -> ChannelStatus {
        ChannelStatus::Connected
    }

    fn verify(&self, req: &WebhookRequest) -> Result<(), AuthError> {
        let given = req.header(TOKEN_HEADER).ok_or(AuthError::Missing)?;
        if constant_time_eq(given, &self.token) {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }

    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError> {
        let m: SandboxInbound = serde_json::from_slice(&req.body)?;
        Ok(vec![ChannelEvent::Message {
            provider_message_id: m.id,
            from: m.from,
            name: m.name,
            at: Utc::now(),
            content: m.content,
            reply_to: None,
        }])
    }

    fn as_sandbox(&self) -> Option<&SandboxChannel> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_land_in_the_transcript() {
        let s = SandboxChannel::new();
        let mut live = s.subscribe();
        let r = s
            .send(
                "51987654321",
                &Content::Text {
                    body: "hola".into(),
                },
                None,
            )
            .await
            .expect("send");
        let t = s.transcript();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].id, r.provider_message_id);
        assert_eq!(t[0].to, "+51987654321");
        assert_eq!(live.recv().await.expect("live").id, r.provider_message_id);
    }

    #[test]
    fn only_requests_built_by_this_channel_verify() {
        let s = SandboxChannel::new();
        let other = SandboxChannel::new();
        let req = s.inbound_request(
            "+51987654321",
            Some("Ana"),
            Inbound::Text { body: "hi".into() },
        );
        assert_eq!(s.verify(&req), Ok(()));
        assert_eq!(other.verify(&req), Err(AuthError::BadToken));
        let events = s.parse(&req).expect("parse");
        assert!(matches!(&events[0], ChannelEvent::Message { from, .. } if from == "+51987654321"));
        let bare = WebhookRequest::post("sandbox:", HeaderMap::new(), req.body.clone());
        assert_eq!(s.verify(&bare), Err(AuthError::Missing));
    }
}
