//! WhatsApp providers behind one `Channel` trait (DESIGN §4). Each provider file turns our
//! provider-neutral `Content` into its wire format, checks its webhook signatures and
//! normalises its webhooks into `ChannelEvent`s. Wire facts come from shared/PROTOCOLS.md.
//!
//! Public face:
//! - [`Channel`] (send / status / verify / parse / fetch_media / verify_handshake)
//! - [`ChannelConfig`] (serde, tagged by `kind`; secrets write-only via [`ChannelConfig::redacted`])
//! - [`build_channel`] / [`build_channel_in`]: config -> `Arc<dyn Channel>`
//! - [`WebhookRequest`] in, [`ChannelEvent`] out, [`SendError`] says retriable or not.

pub mod bridge;
pub mod cloud;
mod config;
pub mod evolution;
mod media;
pub mod sandbox;
pub mod signature;
pub mod twilio;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::messages::{Content, DeliveryStatus, Inbound};

pub use config::{
    BridgeConfig, ChannelConfig, CloudConfig, EvolutionConfig, SandboxConfig, TwilioConfig,
};
pub use media::store_media;

/// Which provider a channel talks to. Serialised lowercase; `official` and `meta` are
/// accepted for `cloud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    #[serde(alias = "official", alias = "meta")]
    Cloud,
    Twilio,
    Evolution,
    Wwebjs,
    Baileys,
    Venom,
    Sandbox,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 7] = [
        ChannelKind::Cloud,
        ChannelKind::Twilio,
        ChannelKind::Evolution,
        ChannelKind::Wwebjs,
        ChannelKind::Baileys,
        ChannelKind::Venom,
        ChannelKind::Sandbox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Cloud => "cloud",
            ChannelKind::Twilio => "twilio",
            ChannelKind::Evolution => "evolution",
            ChannelKind::Wwebjs => "wwebjs",
            ChannelKind::Baileys => "baileys",
            ChannelKind::Venom => "venom",
            ChannelKind::Sandbox => "sandbox",
        }
    }

    /// Parses a kind name, accepting the aliases (`official`, `meta` -> `cloud`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "cloud" | "official" | "meta" => ChannelKind::Cloud,
            "twilio" => ChannelKind::Twilio,
            "evolution" => ChannelKind::Evolution,
            "wwebjs" => ChannelKind::Wwebjs,
            "baileys" => ChannelKind::Baileys,
            "venom" => ChannelKind::Venom,
            "sandbox" => ChannelKind::Sandbox,
            _ => return None,
        })
    }

    /// The QR-paired kinds served by a Node bridge (one HTTP contract for all three).
    pub fn is_bridge(self) -> bool {
        matches!(
            self,
            ChannelKind::Wwebjs | ChannelKind::Baileys | ChannelKind::Venom
        )
    }

    /// The webhook route family: `/webhooks/{family}/{bot}`.
    pub fn webhook_family(self) -> &'static str {
        if self.is_bridge() {
            "bridge"
        } else {
            self.as_str()
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inbound webhook call as the HTTP layer received it, before any parsing.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub method: Method,
    /// Full public URL as the provider called it (scheme, host, path, query): Twilio signs it.
    /// Rebuild it from the configured public base URL, not from the `Host` header.
    pub url: String,
    pub headers: HeaderMap,
    /// Raw query string without the leading `?`.
    pub query: Option<String>,
    /// Raw body bytes: signatures are computed over these exact bytes.
    pub body: Bytes,
    /// Secret path segment (Evolution's per-bot webhook token).
    pub path_token: Option<String>,
}

impl WebhookRequest {
    /// A POST with the given body; handy in tests and for the sandbox.
    pub fn post(url: impl Into<String>, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        let url = url.into();
        let query = url.split_once('?').map(|(_, q)| q.to_string());
        WebhookRequest {
            method: Method::POST,
            url,
            headers,
            query,
            body: body.into(),
            path_token: None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What a provider accepted: its id for the message, used to match later status callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRef {
    pub provider_message_id: String,
}

/// An error the provider reported for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: String,
    pub message: String,
}

/// State of a QR-paired session (bridges, Evolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Starting,
    QrPending,
    Connected,
    LoggedOut,
    Failed,
}

impl SessionState {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "starting" | "connecting" => SessionState::Starting,
            "qr_pending" | "qr" => SessionState::QrPending,
            "connected" | "open" => SessionState::Connected,
            "logged_out" | "close" | "closed" => SessionState::LoggedOut,
            "failed" | "refused" => SessionState::Failed,
            _ => return None,
        })
    }
}

/// One normalised thing a webhook told us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChannelEvent {
    /// A customer wrote to us.
    Message {
        provider_message_id: String,
        /// E.164 with `+`.
        from: String,
        name: Option<String>,
        at: DateTime<Utc>,
        content: Inbound,
        /// The provider id of our message this one replies to (button taps carry it).
        reply_to: Option<String>,
    },
    /// A delivery receipt for a message we sent.
    Status {
        provider_message_id: String,
        status: DeliveryStatus,
        at: DateTime<Utc>,
        error: Option<ProviderError>,
        /// The provider's own event id when it has one (bridge acks).
        event_id: Option<String>,
    },
    /// A QR-paired session changed state.
    Session {
        state: SessionState,
        reason: Option<String>,
        qr: Option<String>,
        event_id: Option<String>,
    },
}

impl ChannelEvent {
    /// Key for de-duplicating redelivered webhooks within one bot: the message id for
    /// messages, the event id (or message id + status) for receipts and session changes.
    pub fn dedup_key(&self) -> Option<String> {
        match self {
            ChannelEvent::Message {
                provider_message_id,
                ..
            } => Some(provider_message_id.clone()),
            ChannelEvent::Status {
                provider_message_id,
                status,
                event_id,
                ..
            } => Some(
                event_id
                    .clone()
                    .unwrap_or_else(|| format!("{provider_message_id}:{}", status.as_str())),
            ),
            ChannelEvent::Session { event_id, .. } => event_id.clone(),
        }
    }
}

/// Whether a channel can send right now, as its provider says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChannelStatus {
    Connected,
    QrPending { qr_text: String, qr_svg: String },
    Down { reason: String },
}

/// Why a send did not go through. `retriable` decides between backoff and failing at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", code.as_deref().map(|c| format!("[{c}] ")).unwrap_or_default())]
pub struct SendError {
    pub retriable: bool,
    /// The provider's error code (Cloud `131047`, Twilio `63016`, HTTP status for bridges).
    pub code: Option<String>,
    pub message: String,
    /// The provider asked us to wait at least this long (Retry-After).
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn retriable(code: Option<String>, message: impl Into<String>) -> Self {
        SendError {
            retriable: true,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn permanent(code: Option<String>, message: impl Into<String>) -> Self {
        SendError {
            retriable: false,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Transport failures (connect refused, timeout, reset) are always worth a retry.
    pub fn from_transport(err: &reqwest::Error) -> Self {
        let code = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connect"
        } else {
            "transport"
        };
        SendError::retriable(Some(code.to_string()), err.to_string())
    }
}

/// A webhook failed authentication: answer 401/403 and store nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("signature header missing")]
    Missing,
    #[error("signature does not match")]
    BadSignature,
    #[error("token does not match")]
    BadToken,
    #[error("this channel has no such handshake")]
    Unsupported,
}

/// A webhook could not be understood: answer 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed webhook: {0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(msg: impl Into<String>) -> Self {
        ParseError(msg.into())
    }
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError(e.to_string())
    }
}

/// A WhatsApp provider. One instance per (bot, channel config).
#[async_trait]
pub trait Channel: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// Sends `content` to `to` (E.164 with `+`), optionally as a reply to a provider message id.
    async fn send(
        &self,
        to: &str,
        content: &Content,
        reply_to: Option<&str>,
    ) -> Result<SentRef, SendError>;

    /// Asks the provider whether we can send (bridges: session state and QR).
    async fn status(&self) -> ChannelStatus;

    /// Checks the webhook's signature or token. Call before `parse`.
    fn verify(&self, req: &WebhookRequest) -> Result<(), AuthError>;

    /// Normalises a verified webhook into events (a POST may carry several).
    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError>;

    /// Downloads inbound media into the content-addressed media dir and returns its file
    /// name relative to that dir (`<sha256>.<ext>`, for `Inbound::Media::local_path`);
    /// `Ok(None)` when there is nothing to fetch (not media, or not supported).
    async fn fetch_media(&self, _content: &Inbound) -> Result<Option<String>, SendError> {
        Ok(None)
    }

    /// Starts or resumes the provider-side session (QR-paired bridges), telling it where to
    /// send webhooks. A no-op for providers configured in their own console.
    async fn start(&self, _webhook_url: &str) -> Result<(), SendError> {
        Ok(())
    }

    /// The GET subscription handshake (Cloud API): returns the challenge to echo back.
    fn verify_handshake(&self, _query: &str) -> Result<String, AuthError> {
        Err(AuthError::Unsupported)
    }

    /// The sandbox channel, for the dashboard's test chat.
    fn as_sandbox(&self) -> Option<&sandbox::SandboxChannel> {
        None
    }
}

/// What every channel needs from the app: an HTTP client, the media dir, a send timeout.
#[derive(Debug, Clone)]
pub struct ChannelEnv {
    pub http: reqwest::Client,
    pub media_dir: PathBuf,
    /// Per-request timeout for provider calls; a timeout is a retriable failure.
    pub timeout: Duration,
}

impl ChannelEnv {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

    pub fn new(http: reqwest::Client, media_dir: impl Into<PathBuf>) -> Self {
        ChannelEnv {
            http,
            media_dir: media_dir.into(),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Builds the channel for a config with the default send timeout.
pub fn build_channel(
    config: &ChannelConfig,
    http: reqwest::Client,
    media_dir: impl Into<PathBuf>,
) -> Arc<dyn Channel> {
    build_channel_in(config, &ChannelEnv::new(http, media_dir))
}

/// Builds the channel for a config in a given environment.
pub fn build_channel_in(config: &ChannelConfig, env: &ChannelEnv) -> Arc<dyn Channel> {
    match config {
        ChannelConfig::Cloud(c) => Arc::new(cloud::CloudChannel::new(c.clone(), env.clone())),
        ChannelConfig::Twilio(c) => Arc::new(twilio::TwilioChannel::new(c.clone(), env.clone())),
        ChannelConfig::Evolution(c) => {
            Arc::new(evolution::EvolutionChannel::new(c.clone(), env.clone()))
        }
        ChannelConfig::Wwebjs(c) => Arc::new(bridge::BridgeChannel::new(
            ChannelKind::Wwebjs,
            c.clone(),
            env.clone(),
        )),
        ChannelConfig::Baileys(c) => Arc::new(bridge::BridgeChannel::new(
            ChannelKind::Baileys,
            c.clone(),
            env.clone(),
        )),
        ChannelConfig::Venom(c) => Arc::new(bridge::BridgeChannel::new(
            ChannelKind::Venom,
            c.clone(),
            env.clone(),
        )),
        ChannelConfig::Sandbox(_) => Arc::new(sandbox::SandboxChannel::new()),
    }
}

// ---- helpers shared by the providers ------------------------------------------------------

/// `+51987654321` / `51987654321` / `whatsapp:+51...` -> `51987654321`.
pub fn digits_only(phone: &str) -> String {
    phone.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Any provider spelling of a number -> E.164 with `+`.
pub fn to_e164(phone: &str) -> String {
    let bare = phone.strip_prefix("whatsapp:").unwrap_or(phone);
    let user = bare.split('@').next().unwrap_or(bare);
    format!("+{}", digits_only(user))
}

/// Plain-text rendering of content for providers that cannot show buttons or lists:
/// numbered options the customer can answer with a number or the title.
pub fn degrade_to_text(content: &Content) -> String {
    let mut out = String::new();
    let mut push = |s: &str| {
        if !s.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(s);
        }
    };
    match content {
        Content::Text { body } => push(body),
        Content::Media { url, caption, .. } => {
            push(caption.as_deref().unwrap_or_default());
            push(url);
        }
        Content::Buttons {
            body,
            header,
            footer,
            buttons,
        } => {
            push(header.as_deref().unwrap_or_default());
            push(body);
            let lines: Vec<String> = buttons
                .iter()
                .enumerate()
                .map(|(i, b)| format!("{}. {}", i + 1, b.title))
                .collect();
            push(&lines.join("\n"));
            push(footer.as_deref().unwrap_or_default());
        }
        Content::List {
            body,
            header,
            footer,
            sections,
            ..
        } => {
            push(header.as_deref().unwrap_or_default());
            push(body);
            let mut n = 0;
            let mut lines = Vec::new();
            for section in sections {
                if !section.title.is_empty() {
                    lines.push(format!("*{}*", section.title));
                }
                for row in &section.rows {
                    n += 1;
                    match &row.description {
                        Some(d) => lines.push(format!("{n}. {} — {d}", row.title)),
                        None => lines.push(format!("{n}. {}", row.title)),
                    }
                }
            }
            push(&lines.join("\n"));
            push(footer.as_deref().unwrap_or_default());
        }
        Content::Template { name, params, .. } => {
            push(name);
            push(&params.join(" "));
        }
    }
    out
}

/// Seconds from a `Retry-After` header (the HTTP-date form is rare at these providers).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Default classification by HTTP status when the provider's code says nothing more.
pub(crate) fn retriable_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
}

/// Unix seconds (number or string) -> time; now when absent or nonsense.
pub(crate) fn unix_time(value: Option<&serde_json::Value>) -> DateTime<Utc> {
    let secs = match value {
        Some(serde_json::Value::String(s)) => s.parse::<i64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::Object(o)) => o.get("low").and_then(|v| v.as_i64()),
        _ => None,
    };
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or_else(Utc::now)
}

/// Renders a QR payload as SVG for the dashboard.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Button, ListRow, ListSection};

    #[test]
    fn kind_accepts_official_and_meta_as_cloud() {
        for s in ["\"cloud\"", "\"official\"", "\"meta\""] {
            let k: ChannelKind = serde_json::from_str(s).expect("kind");
            assert_eq!(k, ChannelKind::Cloud);
        }
        assert_eq!(
            serde_json::to_string(&ChannelKind::Cloud).ok().as_deref(),
            Some("\"cloud\"")
        );
        assert_eq!(ChannelKind::parse("Meta"), Some(ChannelKind::Cloud));
        assert_eq!(ChannelKind::Baileys.webhook_family(), "bridge");
    }

    #[test]
    fn phone_spellings_normalise_to_e164() {
        assert_eq!(to_e164("whatsapp:+5511999999999"), "+5511999999999");
        assert_eq!(to_e164("5511999999999@s.whatsapp.net"), "+5511999999999");
        assert_eq!(to_e164("16505551234"), "+16505551234");
        assert_eq!(digits_only("+51 987 654 321"), "51987654321");
    }

    #[test]
    fn buttons_and_lists_degrade_to_numbered_text() {
        let b = Content::Buttons {
            body: "¿Qué deseas?".into(),
            header: None,
            footer: Some("Tienda".into()),
            buttons: vec![
                Button {
                    id: "a".into(),
                    title: "Catálogo".into(),
                },
                Button {
                    id: "b".into(),
                    title: "Agente".into(),
                },
            ],
        };
        assert_eq!(
            degrade_to_text(&b),
            "¿Qué deseas?\n\n1. Catálogo\n2. Agente\n\nTienda"
        );
        let l = Content::List {
            body: "Elige".into(),
            header: None,
            footer: None,
            button: "Ver".into(),
            sections: vec![ListSection {
                title: "Envío".into(),
                rows: vec![ListRow {
                    id: "x".into(),
                    title: "Express".into(),
                    description: Some("1 día".into()),
                }],
            }],
        };
        assert_eq!(degrade_to_text(&l), "Elige\n\n*Envío*\n1. Express — 1 día");
    }

    #[test]
    fn qr_text_renders_as_svg() {
        let svg = qr_svg("2@abc,def,ghi").expect("svg");
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn send_error_display_carries_the_code() {
        let e = SendError::permanent(Some("131047".into()), "Re-engagement message");
        assert_eq!(e.to_string(), "[131047] Re-engagement message");
    }
}
