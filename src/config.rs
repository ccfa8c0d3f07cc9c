//! Configuration, layered: built-in defaults < `dashoffice.toml` < `DASHOFFICE_*` env < flags.
//! Every key remembers where its value came from, so a bad value is reported with its source.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where SQLite, redb, the key, logs and media live.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// URL customers' providers use to reach us (for Twilio signatures and bridge webhooks).
    pub public_url: Option<String>,
    /// `tracing` filter for the console and the log files.
    pub log_level: String,
    /// Whether `POST /api/auth/register` may create new tenants.
    pub registration_enabled: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// API requests per tenant per minute.
    pub api_rate_limit_per_min: u32,
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// SQLite `synchronous` mode for writes: FULL (crash- and power-safe) or NORMAL.
    pub sqlite_synchronous: String,
    pub read_pool_size: u32,
    pub outbox: OutboxConfig,
    pub analytics: AnalyticsConfig,
    pub backup: BackupConfig,
    pub alerts: AlertsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub max_attempts: u32,
    pub rate_per_min: u32,
    /// Sends a bot may make at once before the per-minute rate applies.
    pub rate_burst: u32,
    /// Provider calls in flight at once (each waits on the network, not on us).
    pub concurrency: usize,
    pub circuit_failures: u32,
    pub circuit_cooldown_ms: u64,
    pub circuit_successes: u32,
    pub send_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// How often the rollup folds new events into hourly/daily figures.
    pub rollup_interval_secs: u64,
    /// Raw events older than this are deleted; rollups are kept.
    pub retention_days: u32,
    /// How often retention runs.
    pub retention_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Directory for scheduled backups; none means no scheduled backups.
    pub dir: Option<PathBuf>,
    pub interval_hours: u64,
    pub keep: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Incident notices are POSTed here as JSON.
    pub webhook_url: Option<String>,
    /// When set, the webhook carries `X-DashOffice-Signature: sha256=<hex HMAC of the body>`.
    pub webhook_secret: Option<String>,
    /// Plain SMTP relay (no TLS, no auth) for e-mail to the tenant's owners.
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_from: Option<String>,
    /// How often the notifier looks for undelivered notices (it is also woken at once).
    pub check_interval_secs: u64,
    /// Delivery attempts per notice before giving up (and logging an error).
    pub max_attempts: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_url: None,
            webhook_secret: None,
            smtp_host: None,
            smtp_port: None,
            smtp_from: None,
            check_interval_secs: 30,
            max_attempts: 10,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 3009)),
            public_url: None,
            log_level: "info".into(),
            registration_enabled: false,
            body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            api_rate_limit_per_min: 600,
            login_max_failures: 5,
            login_window_secs: 300,
            sqlite_synchronous: "FULL".into(),
            read_pool_size: 8,
            outbox: OutboxConfig::default(),
            analytics: AnalyticsConfig::default(),
            backup: BackupConfig::default(),
            alerts: AlertsConfig::default(),
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            base_delay_ms: 1_000,
            max_delay_ms: 300_000,
            max_attempts: 8,
            rate_per_min: 60,
            rate_burst: 10,
            concurrency: 64,
            circuit_failures: 5,
            circuit_cooldown_ms: 30_000,
            circuit_successes: 2,
            send_timeout_ms: 10_000,
        }
    }
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            rollup_interval_secs: 300,
            retention_days: 30,
            retention_interval_secs: 3600,
        }
    }
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: None,
            interval_hours: 24,
            keep: 7,
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}` (from {source_name}): {message}")]
    Invalid {
        key: String,
        source_name: String,
        message: String,
    },
}

impl Config {
    /// Loads the layers. `file` is the explicit `--config` path; without it
    /// `./dashoffice.toml` is read when present.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut merged =
            toml::Table::try_from(Config::default()).map_err(|e| ConfigError::Invalid {
                key: "*".into(),
                source_name: "defaults".into(),
                message: e.to_string(),
            })?;
        let mut sources: BTreeMap<String, String> = BTreeMap::new();

        let path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from("dashoffice.toml")).filter(|p| p.exists()),
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Syntax {
                        path: path.clone(),
                        message: e.message().to_string(),
                    })?;
            let name = format!("file {}", path.display());
            overlay(&mut merged, table, "", &name, &mut sources);
        }

        for (k, v) in env {
            let Some(rest) = k.strip_prefix("DASHOFFICE_") else {
                continue;
            };
            if rest.is_empty() {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            set_path(&mut merged, &key, env_value(&v));
            sources.insert(key, format!("environment {k}"));
        }

        if let Some(d) = &flags.data_dir {
            set_path(
                &mut merged,
                "data_dir",
                toml::Value::String(d.display().to_string()),
            );
            sources.insert("data_dir".into(), "flag --data-dir".into());
        }
        if let Some(l) = &flags.listen {
            set_path(&mut merged, "listen", toml::Value::String(l.clone()));
            sources.insert("listen".into(), "flag --listen".into());
        }

        let source_of = |key: &str| -> String {
            sources
                .iter()
                .filter(|(k, _)| key == k.as_str() || key.starts_with(&format!("{k}.")))
                .map(|(_, v)| v.clone())
                .next_back()
                .or_else(|| {
                    // An unknown key is reported at its parent; find the layer that set it.
                    sources
                        .iter()
                        .find(|(k, _)| k.starts_with(key))
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_else(|| "defaults".into())
        };

        let text = toml::to_string(&merged).map_err(|e| ConfigError::Invalid {
            key: "*".into(),
            source_name: "merged".into(),
            message: e.to_string(),
        })?;
        let de = toml::Deserializer::new(&text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().to_string();
            // For unknown fields serde names the field in the message, not the path.
            let key = unknown_field(&message)
                .map(|f| {
                    if key == "." || key.is_empty() {
                        f.to_string()
                    } else {
                        format!("{key}.{f}")
                    }
                })
                .unwrap_or(key);
            ConfigError::Invalid {
                source_name: source_of(&key),
                key,
                message,
            }
        })?;
        config.validate(&source_of)?;
        Ok(config)
    }

    fn validate(&self, source_of: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            source_name: source_of(key),
            message: message.into(),
        };
        let sync = self.sqlite_synchronous.to_ascii_uppercase();
        if !["FULL", "NORMAL", "EXTRA"].contains(&sync.as_str()) {
            return Err(bad("sqlite_synchronous", "must be FULL, EXTRA or NORMAL"));
        }
        if self.body_limit_bytes < 1024 {
            return Err(bad("body_limit_bytes", "must be at least 1024"));
        }
        if self.api_rate_limit_per_min == 0 {
            return Err(bad("api_rate_limit_per_min", "must be at least 1"));
        }
        if self.outbox.max_attempts == 0 {
            return Err(bad("outbox.max_attempts", "must be at least 1"));
        }
        if self.outbox.rate_per_min == 0 {
            return Err(bad("outbox.rate_per_min", "must be at least 1"));
        }
        if self.access_token_ttl_secs == 0 {
            return Err(bad("access_token_ttl_secs", "must be at least 1"));
        }
        if self.analytics.rollup_interval_secs == 0 {
            return Err(bad("analytics.rollup_interval_secs", "must be at least 1"));
        }
        if self.analytics.retention_days == 0 {
            return Err(bad("analytics.retention_days", "must be at least 1"));
        }
        if self.alerts.check_interval_secs == 0 {
            return Err(bad("alerts.check_interval_secs", "must be at least 1"));
        }
        if let Some(url) = &self.alerts.webhook_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    "alerts.webhook_url",
                    "must start with http:// or https://",
                ));
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad("public_url", "must start with http:// or https://"));
            }
        }
        Ok(())
    }

    /// The base URL providers call us on.
    pub fn public_base(&self) -> String {
        self.public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Environment values are typed like TOML when they parse as a TOML scalar.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(v) = raw.parse::<i64>() {
        return toml::Value::Integer(v);
    }
    match raw {
        "true" => return toml::Value::Boolean(true),
        "false" => return toml::Value::Boolean(false),
        _ => {}
    }
    toml::Value::String(raw.to_string())
}

fn overlay(
    base: &mut toml::Table,
    top: toml::Table,
    prefix: &str,
    source: &str,
    sources: &mut BTreeMap<String, String>,
) {
    for (k, v) in top {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => {
                overlay(b, t, &key, source, sources)
            }
            (_, v) => {
                base.insert(k, v);
                sources.insert(key, source.to_string());
            }
        }
    }
}

fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return;
        }
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => cur = t,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(
        file: Option<&str>,
        env: &[(&str, &str)],
        flags: Overrides,
    ) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dashoffice.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load(file.map(|_| path.as_path()), env, &flags)
    }

    #[test]
    fn layers_apply_in_order_defaults_file_env_flags() {
        let c = load(None, &[], Overrides::default()).unwrap();
        assert_eq!(c.listen.port(), 3009);

        let c = load(
            Some("listen = \"127.0.0.1:4000\"\n[outbox]\nmax_attempts = 3\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.outbox.max_attempts, 3);

        let c = load(
            Some("listen = \"127.0.0.1:4000\"\n"),
            &[
                ("DASHOFFICE_LISTEN", "127.0.0.1:5000"),
                ("DASHOFFICE_OUTBOX__MAX_ATTEMPTS", "4"),
            ],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 5000);
        assert_eq!(c.outbox.max_attempts, 4);

        let c = load(
            Some("listen = \"127.0.0.1:4000\"\n"),
            &[("DASHOFFICE_LISTEN", "127.0.0.1:5000")],
            Overrides {
                listen: Some("127.0.0.1:6000".into()),
                data_dir: None,
            },
        )
        .unwrap();
        assert_eq!(c.listen.port(), 6000);
    }

    #[test]
    fn bad_values_name_the_key_and_its_source() {
        let err = load(
            None,
            &[("DASHOFFICE_LISTEN", "nonsense")],
            Overrides::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`listen`") && msg.contains("DASHOFFICE_LISTEN"),
            "{msg}"
        );

        let err = load(
            Some("[outbox]\nmax_attempts = \"many\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("outbox.max_attempts") && msg.contains("file"),
            "{msg}"
        );

        let err = load(Some("lisen = \"x\"\n"), &[], Overrides::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("lisen") && msg.contains("file"), "{msg}");

        let err = load(
            None,
            &[("DASHOFFICE_SQLITE_SYNCHRONOUS", "OFF")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("DASHOFFICE_SQLITE_SYNCHRONOUS"));
    }
}
