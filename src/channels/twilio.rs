//! Twilio WhatsApp (Programmable Messaging). PROTOCOLS.md §B.

use async_trait::async_trait;
use serde_json::Value;

use super::media::download;
use super::signature::{constant_time_eq, sha256_hex, twilio_signature};
use super::{
    degrade_to_text, retriable_status, retry_after, to_e164, AuthError, Channel, ChannelEnv,
    ChannelEvent, ChannelKind, ChannelStatus, ParseError, ProviderError, SendError, SentRef,
    TwilioConfig, WebhookRequest,
};
use crate::messages::{Content, DeliveryStatus, Inbound, MediaKind};

/// Twilio error codes worth retrying: 20429 "Too many requests" (safe to retry, says Twilio).
const RETRIABLE_CODES: &[i64] = &[20429, 20500, 20503];

pub struct TwilioChannel {
    config: TwilioConfig,
    env: ChannelEnv,
}

impl TwilioChannel {
    pub fn new(config: TwilioConfig, env: ChannelEnv) -> Self {
        TwilioChannel { config, env }
    }

    fn api_url(&self, path: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{}",
            self.config.api_base.trim_end_matches('/'),
            self.config.account_sid,
            path
        )
    }
}

fn whatsapp_address(number: &str) -> String {
    if number.starts_with("whatsapp:") {
        number.to_string()
    } else {
        format!("whatsapp:{}", to_e164(number))
    }
}

/// The form fields of one send (PROTOCOLS §B4). Buttons and lists become numbered text;
/// a template is sent as `ContentSid` (its name must be the approved Content SID, `HX…`).
pub fn message_form(
    from: &str,
    to: &str,
    content: &Content,
    status_callback: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("To", whatsapp_address(to)),
        ("From", whatsapp_address(from)),
    ];
    match content {
        Content::Text { body } => form.push(("Body", body.clone())),
        Content::Media { url, caption, .. } => {
            if let Some(c) = caption {
                form.push(("Body", c.clone()));
            }
            form.push(("MediaUrl", url.clone()));
        }
        Content::Buttons { .. } | Content::List { .. } => {
            form.push(("Body", degrade_to_text(content)))
        }
        Content::Template { name, params, .. } => {
            form.push(("ContentSid", name.clone()));
            if !params.is_empty() {
                let vars: serde_json::Map<String, Value> = params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ((i + 1).to_string(), Value::String(p.clone())))
                    .collect();
                form.push(("ContentVariables", Value::Object(vars).to_string()));
            }
        }
    }
    if let Some(cb) = status_callback {
        form.push(("StatusCallback", cb.to_string()));
    }
    form
}

/// Turns a Twilio error answer into a `SendError` (PROTOCOLS §B5).
pub fn classify_error(
    status: reqwest::StatusCode,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> SendError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = parsed["code"].as_i64();
    let message = parsed["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("Twilio answered {status}"));
    let retriable = code.is_some_and(|c| RETRIABLE_CODES.contains(&c)) || retriable_status(status);
    SendError {
        retriable,
        code: Some(
            code.map(|c| c.to_string())
                .unwrap_or_else(|| status.as_u16().to_string()),
        ),
        message,
        retry_after,
    }
}

/// Decoded form parameters (what Twilio signs), in arrival order.
fn form_params(body: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    serde_urlencoded::from_bytes(body).map_err(|e| ParseError::new(format!("form body: {e}")))
}

/// The URL as Twilio may have signed it: as given, and with the default port toggled
/// (twilio-node accepts both, PROTOCOLS §B3 step 5).
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    match authority.rsplit_once(':') {
        Some((host, port)) if port == default_port => out.push(format!("{scheme}://{host}{tail}")),
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => {}
        _ => out.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    out
}

/// Checks `X-Twilio-Signature` for a request (form POST, or JSON with `bodySHA256`).
pub fn verify_request(auth_token: &str, req: &WebhookRequest) -> Result<(), AuthError> {
    let given = req.header("x-twilio-signature").ok_or(AuthError::Missing)?;
    if auth_token.is_empty() {
        return Err(AuthError::BadSignature);
    }
    let query: Vec<(String, String)> = req
        .query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let params = if let Some((_, hash)) = query.iter().find(|(k, _)| k == "bodySHA256") {
        // JSON-body webhooks: sign only the URL and pin the body by its hash.
        if !constant_time_eq(&sha256_hex(&req.body), hash) {
            return Err(AuthError::BadSignature);
        }
        Vec::new()
    } else if req.method == axum::http::Method::POST {
        form_params(&req.body).map_err(|_| AuthError::BadSignature)?
    } else {
        Vec::new()
    };
    let ok = url_variants(&req.url)
        .iter()
        .any(|url| constant_time_eq(&twilio_signature(auth_token, url, &params), given));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// Parses an inbound-message or status-callback webhook (PROTOCOLS §B1, §B2).
pub fn parse_webhook(body: &[u8]) -> Result<Vec<ChannelEvent>, ParseError> {
    let params = form_params(body)?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let sid = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .or_else(|| get("SmsMessageSid"))
        .ok_or_else(|| ParseError::new("no MessageSid"))?
        .to_string();
    let now = chrono::Utc::now();

    if let Some(raw) = get("MessageStatus").filter(|s| !matches!(*s, "received" | "receiving")) {
        let status = match raw {
            "canceled" => Some(DeliveryStatus::Failed),
            other => DeliveryStatus::parse(other),
        };
        let Some(status) = status else {
            return Ok(vec![]);
        };
        let error = get("ErrorCode").map(|code| ProviderError {
            code: code.to_string(),
            message: get("ErrorMessage").unwrap_or_default().to_string(),
        });
        return Ok(vec![ChannelEvent::Status {
            provider_message_id: sid,
            status,
            at: now,
            error,
            event_id: None,
        }]);
    }

    let from = get("From").ok_or_else(|| ParseError::new("no From"))?;
    let name = get("ProfileName").map(str::to_string);
    let reply_to = get("OriginalRepliedMessageSid").map(str::to_string);
    let body_text = get("Body").map(str::to_string);
    let num_media: usize = get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);

    let message = |id: String, content: Inbound| ChannelEvent::Message {
        provider_message_id: id,
        from: to_e164(from),
        name: name.clone(),
        at: now,
        content,
        reply_to: reply_to.clone(),
    };

    if num_media > 0 {
        // One event per attachment; the first keeps the MessageSid so de-dup still works.
        let mut events = Vec::new();
        for i in 0..num_media.min(10) {
            let Some(url) = get(&format!("MediaUrl{i}")) else {
                continue;
            };
            let mime = get(&format!("MediaContentType{i}")).map(str::to_string);
            let id = if i == 0 {
                sid.clone()
            } else {
                format!("{sid}/{i}")
            };
            events.push(message(
                id,
                Inbound::Media {
                    kind: media_kind(mime.as_deref()),
                    media_id: None,
                    url: Some(url.to_string()),
                    mime_type: mime,
                    caption: if i == 0 { body_text.clone() } else { None },
                    filename: None,
                    local_path: None,
                },
            ));
        }
        if !events.is_empty() {
            return Ok(events);
        }
    }

    let content = if let Some(title) = get("ButtonText") {
        Inbound::ButtonReply {
            id: get("ButtonPayload").unwrap_or(title).to_string(),
            title: title.to_string(),
        }
    } else if let (Some(lat), Some(lon)) = (
        get("Latitude").and_then(|v| v.parse::<f64>().ok()),
        get("Longitude").and_then(|v| v.parse::<f64>().ok()),
    ) {
        Inbound::Location {
            latitude: lat,
            longitude: lon,
            name: get("Label").map(str::to_string),
            address: get("Address").map(str::to_string),
        }
    } else if let Some(body) = body_text {
        Inbound::Text { body }
    } else {
        Inbound::Unsupported {
            kind: get("MessageType").unwrap_or("unknown").to_string(),
        }
    };
    Ok(vec![message(sid, content)])
}

fn media_kind(mime: Option<&str>) -> MediaKind {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") if mime == Some("image/webp") => MediaKind::Sticker,
        Some("image") => MediaKind::Image,
        Some("video") => MediaKind::Video,
        Some("audio") => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

#[async_trait]
impl Channel for TwilioChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Twilio
    }

    async fn send(
        &self,
        to: &str,
        content: &Content,
        _reply_to: Option<&str>,
    ) -> Result<SentRef, SendError> {
        let form = message_form(
            &self.config.from,
            to,
            content,
            self.config.status_callback_url.as_deref(),
        );
        let resp = self
            .env
            .http
            .post(self.api_url("/Messages.json"))
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .timeout(self.env.timeout)
            .form(&form)
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
        parsed["sid"]
            .as_str()
            .map(|sid| SentRef {
                provider_message_id: sid.to_string(),
            })
            .ok_or_else(|| {
                SendError::permanent(Some("bad_response".into()), "Twilio answer has no sid")
            })
    }

    async fn status(&self) -> ChannelStatus {
        let resp = self
            .env
            .http
            .get(self.api_url(".json"))
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
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
        verify_request(&self.config.auth_token, req)
    }

    fn parse(&self, req: &WebhookRequest) -> Result<Vec<ChannelEvent>, ParseError> {
        parse_webhook(&req.body)
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
        // Media URLs need basic auth when the account turned media auth on.
        let req = self
            .env
            .http
            .get(url)
            .basic_auth(&self.config.account_sid, Some(&self.config.auth_token))
            .timeout(self.env.timeout * 4);
        download(req, &self.env.media_dir, mime_type.as_deref())
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn url_port_is_tried_with_and_without() {
        assert_eq!(
            url_variants("https://a.example/x?y=1"),
            vec!["https://a.example/x?y=1", "https://a.example:443/x?y=1"]
        );
        assert_eq!(
            url_variants("https://a.example:443/x"),
            vec!["https://a.example:443/x", "https://a.example/x"]
        );
        assert_eq!(url_variants("http://a:8080/x"), vec!["http://a:8080/x"]);
    }

    #[test]
    fn signature_with_explicit_port_still_verifies() {
        let body = "Body=hi&From=whatsapp%3A%2B5511999999999&MessageSid=SM1";
        let params: Vec<(String, String)> = serde_urlencoded::from_str(body).expect("form");
        let sig = twilio_signature("tok", "https://h.example:443/webhooks/twilio/b", &params);
        let mut headers = HeaderMap::new();
        headers.insert("x-twilio-signature", sig.parse().expect("header"));
        let req = WebhookRequest::post("https://h.example/webhooks/twilio/b", headers, body);
        assert_eq!(verify_request("tok", &req), Ok(()));
        assert_eq!(verify_request("other", &req), Err(AuthError::BadSignature));
    }

    #[test]
    fn codes_20429_and_5xx_retry_63016_does_not() {
        use reqwest::StatusCode;
        assert!(
            classify_error(StatusCode::TOO_MANY_REQUESTS, br#"{"code":20429}"#, None).retriable
        );
        assert!(classify_error(StatusCode::SERVICE_UNAVAILABLE, b"", None).retriable);
        let e = classify_error(
            StatusCode::BAD_REQUEST,
            br#"{"code":63016,"message":"outside window"}"#,
            None,
        );
        assert!(!e.retriable);
        assert_eq!(e.code.as_deref(), Some("63016"));
    }

    #[test]
    fn template_is_sent_as_content_sid_with_variables() {
        let form = message_form(
            "+14155238886",
            "+15552229999",
            &Content::Template {
                name: "HXabc".into(),
                language: "es".into(),
                params: vec!["12345".into()],
            },
            None,
        );
        assert!(form.contains(&("From", "whatsapp:+14155238886".into())));
        assert!(form.contains(&("ContentSid", "HXabc".into())));
        assert!(form.contains(&("ContentVariables", r#"{"1":"12345"}"#.into())));
    }
}
