//! Per-provider settings, stored per bot channel. Secret fields are write-only in the API:
//! [`ChannelConfig::redacted`] hides them and [`ChannelConfig::keep_secrets_from`] keeps the
//! stored value when an update leaves a secret empty.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ChannelKind;

/// A channel's settings, tagged by `kind` (`official` and `meta` are accepted for `cloud`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelConfig {
    #[serde(alias = "official", alias = "meta")]
    Cloud(CloudConfig),
    Twilio(TwilioConfig),
    Evolution(EvolutionConfig),
    Wwebjs(BridgeConfig),
    Baileys(BridgeConfig),
    Venom(BridgeConfig),
    Sandbox(SandboxConfig),
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudConfig {
    pub phone_number_id: String,
    /// Secret. System-user or business token for the Graph API.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub access_token: String,
    /// Secret. Key of `X-Hub-Signature-256`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub app_secret: String,
    /// Secret. Echoed by Meta in the GET subscription handshake.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub verify_token: String,
    #[serde(default = "default_graph_base")]
    pub api_base: String,
    #[serde(default = "default_graph_version")]
    pub api_version: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Secret. Basic-auth password and `X-Twilio-Signature` key.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub auth_token: String,
    /// Sender, `whatsapp:+14155238886` (a bare `+1415...` gets the prefix).
    pub from: String,
    #[serde(default = "default_twilio_base")]
    pub api_base: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_callback_url: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvolutionConfig {
    pub api_base: String,
    pub instance: String,
    /// Secret. Sent as the `apikey` header; also compared with the webhook's `apikey` field.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub api_key: String,
    /// Secret. The unguessable path segment of `/webhooks/evolution/{bot}/{token}`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub webhook_token: String,
}

/// Settings of the three QR-paired kinds (wwebjs, baileys, venom): one bridge contract.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeConfig {
    pub bridge_url: String,
    /// Secret. Bearer token for appliance -> bridge calls.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub bridge_token: String,
    pub session: String,
    /// Secret. Key of `X-Bridge-Signature` on bridge -> appliance webhooks.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub webhook_secret: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConfig {}

// Debug never prints secrets (configs end up in logs and panic messages).
impl std::fmt::Debug for CloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudConfig")
            .field("phone_number_id", &self.phone_number_id)
            .field("api_base", &self.api_base)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("api_base", &self.api_base)
            .field("status_callback_url", &self.status_callback_url)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EvolutionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvolutionConfig")
            .field("api_base", &self.api_base)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("bridge_url", &self.bridge_url)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Secrets come back from the dashboard as `null` (redacted): read that as "not given".
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn default_graph_base() -> String {
    "https://graph.facebook.com".into()
}
fn default_graph_version() -> String {
    "v23.0".into()
}
fn default_twilio_base() -> String {
    "https://api.twilio.com".into()
}

impl ChannelConfig {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelConfig::Cloud(_) => ChannelKind::Cloud,
            ChannelConfig::Twilio(_) => ChannelKind::Twilio,
            ChannelConfig::Evolution(_) => ChannelKind::Evolution,
            ChannelConfig::Wwebjs(_) => ChannelKind::Wwebjs,
            ChannelConfig::Baileys(_) => ChannelKind::Baileys,
            ChannelConfig::Venom(_) => ChannelKind::Venom,
            ChannelConfig::Sandbox(_) => ChannelKind::Sandbox,
        }
    }

    /// Names of the fields that must never be shown back (write-only in the API,
    /// encrypted at rest).
    pub fn secret_fields(&self) -> &'static [&'static str] {
        match self {
            ChannelConfig::Cloud(_) => &["access_token", "app_secret", "verify_token"],
            ChannelConfig::Twilio(_) => &["auth_token"],
            ChannelConfig::Evolution(_) => &["api_key", "webhook_token"],
            ChannelConfig::Wwebjs(_) | ChannelConfig::Baileys(_) | ChannelConfig::Venom(_) => {
                &["bridge_token", "webhook_secret"]
            }
            ChannelConfig::Sandbox(_) => &[],
        }
    }

    /// The config as JSON for the API: every secret replaced by `null`, plus
    /// `has_<field>: true|false` saying whether one is set.
    pub fn redacted(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            for field in self.secret_fields() {
                let set = map
                    .get(*field)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                map.insert((*field).to_string(), Value::Null);
                map.insert(format!("has_{field}"), Value::Bool(set));
            }
        }
        value
    }

    /// For updates through the API: a secret left empty (or null) keeps the stored one,
    /// when both configs are of the same kind.
    pub fn keep_secrets_from(&mut self, stored: &ChannelConfig) {
        if self.kind() != stored.kind() {
            return;
        }
        let (Ok(Value::Object(mut new)), Ok(Value::Object(old))) =
            (serde_json::to_value(&*self), serde_json::to_value(stored))
        else {
            return;
        };
        for field in self.secret_fields() {
            let empty = new
                .get(*field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if empty {
                if let Some(v) = old.get(*field) {
                    new.insert((*field).to_string(), v.clone());
                }
            }
        }
        if let Ok(merged) = serde_json::from_value(Value::Object(new)) {
            *self = merged;
        }
    }

    /// Required fields that are empty, by name (the API answers 422 with them).
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let checks: Vec<(&'static str, &str)> = match self {
            ChannelConfig::Cloud(c) => vec![
                ("phone_number_id", &c.phone_number_id),
                ("access_token", &c.access_token),
                ("app_secret", &c.app_secret),
                ("verify_token", &c.verify_token),
            ],
            ChannelConfig::Twilio(c) => vec![
                ("account_sid", &c.account_sid),
                ("auth_token", &c.auth_token),
                ("from", &c.from),
            ],
            ChannelConfig::Evolution(c) => vec![
                ("api_base", &c.api_base),
                ("instance", &c.instance),
                ("api_key", &c.api_key),
                ("webhook_token", &c.webhook_token),
            ],
            ChannelConfig::Wwebjs(c) | ChannelConfig::Baileys(c) | ChannelConfig::Venom(c) => {
                vec![
                    ("bridge_url", &c.bridge_url),
                    ("bridge_token", &c.bridge_token),
                    ("session", &c.session),
                    ("webhook_secret", &c.webhook_secret),
                ]
            }
            ChannelConfig::Sandbox(_) => vec![],
        };
        checks
            .into_iter()
            .filter(|(_, v)| v.trim().is_empty())
            .map(|(k, _)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cloud() -> ChannelConfig {
        serde_json::from_value(json!({
            "kind": "meta", "phone_number_id": "106540352242922",
            "access_token": "EAAG", "app_secret": "s3cret", "verify_token": "vt"
        }))
        .expect("cloud config")
    }

    #[test]
    fn cloud_config_accepts_alias_and_fills_defaults() {
        let ChannelConfig::Cloud(c) = cloud() else {
            panic!("not cloud")
        };
        assert_eq!(c.api_base, "https://graph.facebook.com");
        assert_eq!(c.api_version, "v23.0");
        let official: ChannelConfig =
            serde_json::from_value(json!({"kind": "official", "phone_number_id": "1"}))
                .expect("official");
        assert_eq!(official.kind(), ChannelKind::Cloud);
        assert_eq!(
            serde_json::to_value(&official).expect("ser")["kind"],
            "cloud"
        );
    }

    #[test]
    fn redacted_hides_secrets_and_says_which_are_set() {
        let v = cloud().redacted();
        assert_eq!(v["access_token"], Value::Null);
        assert_eq!(v["has_access_token"], true);
        assert_eq!(v["phone_number_id"], "106540352242922");
        let empty: ChannelConfig = serde_json::from_value(json!({
            "kind": "baileys", "bridge_url": "http://127.0.0.1:3001", "session": "s1"
        }))
        .expect("bridge");
        assert_eq!(empty.redacted()["has_webhook_secret"], false);
        assert_eq!(
            empty.missing_fields(),
            vec!["bridge_token", "webhook_secret"]
        );
    }

    #[test]
    fn update_without_secrets_keeps_the_stored_ones() {
        let mut update: ChannelConfig = serde_json::from_value(json!({
            "kind": "cloud", "phone_number_id": "2", "access_token": "new", "app_secret": null
        }))
        .expect("update");
        update.keep_secrets_from(&cloud());
        let ChannelConfig::Cloud(c) = update else {
            panic!("not cloud")
        };
        assert_eq!(c.phone_number_id, "2");
        assert_eq!(c.access_token, "new");
        assert_eq!(c.app_secret, "s3cret");
        assert_eq!(c.verify_token, "vt");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let shown = format!("{:?}", cloud());
        assert!(shown.contains("106540352242922"));
        assert!(!shown.contains("EAAG") && !shown.contains("s3cret"));
    }

    #[test]
    fn sandbox_needs_nothing() {
        let s: ChannelConfig = serde_json::from_value(json!({"kind": "sandbox"})).expect("sandbox");
        assert_eq!(s.kind(), ChannelKind::Sandbox);
        assert!(s.missing_fields().is_empty());
    }
}
