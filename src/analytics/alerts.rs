//! Alerts: incidents (a channel down or logged out, messages dead-lettering, a critical
//! error) and telling the tenant's owners about them, once when opened and once when resolved.
//!
//! Other modules call, inside their write closure (same transaction as the state change):
//! ```ignore
//! alerts::raise(c, tenant, IncidentKind::ChannelDown, &bot_channel_id, "Twilio: 401")?;
//! alerts::resolve(c, tenant, IncidentKind::ChannelDown, &bot_channel_id)?;
//! ```
//! or from async code [`raise_now`] / [`resolve_now`], which also wake the notifier.
//! Raising an open incident again only bumps its counter: no new notice, no storm.
//!
//! Notices are rows (`incident_notices`) delivered by the `alerts-notifier` worker to the
//! configured webhook (POST JSON, optional HMAC-SHA256 signature) and by e-mail to the
//! tenant's active owners over plain SMTP (no TLS, no auth yet: point it at a local relay).
//! Each channel is marked done separately, so a notice is sent at least once per channel
//! and retried with backoff when a channel fails.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::app::AppState;
use crate::config::AlertsConfig;
use crate::ids::{now_text, TenantId};
use crate::store::{Db, DbError};

static KICK: Notify = Notify::const_new();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// A channel is down or logged out; key = the bot channel id.
    ChannelDown,
    /// Messages are dead-lettering; key = the bot id.
    DeadLetters,
    /// A critical error was logged; key = the module.
    CriticalError,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::ChannelDown => "channel_down",
            IncidentKind::DeadLetters => "dead_letters",
            IncidentKind::CriticalError => "critical_error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub incident_id: i64,
    /// False when the incident was already open (only its counter moved).
    pub opened: bool,
}

/// Opens the (tenant, kind, key) incident unless it is open already.
pub fn raise(
    c: &Connection,
    tenant: TenantId,
    kind: IncidentKind,
    key: &str,
    message: &str,
) -> Result<Raised, DbError> {
    let now = now_text();
    let open: Option<i64> = c
        .prepare_cached(
            "SELECT id FROM incidents
             WHERE tenant_id = ?1 AND kind = ?2 AND key = ?3 AND resolved_at IS NULL",
        )?
        .query_row(params![tenant, kind.as_str(), key], |r| r.get(0))
        .optional()?;
    if let Some(id) = open {
        c.execute(
            "UPDATE incidents SET occurrences = occurrences + 1, last_seen_at = ?2, message = ?3
             WHERE id = ?1",
            params![id, now, message],
        )?;
        return Ok(Raised {
            incident_id: id,
            opened: false,
        });
    }
    c.execute(
        "INSERT INTO incidents (tenant_id, kind, key, message, opened_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![tenant, kind.as_str(), key, message, now],
    )?;
    let id = c.last_insert_rowid();
    add_notice(c, tenant, id, "opened")?;
    metrics::counter!(super::metric_names::INCIDENTS_OPENED_TOTAL, "kind" => kind.as_str())
        .increment(1);
    Ok(Raised {
        incident_id: id,
        opened: true,
    })
}

/// Resolves the open (tenant, kind, key) incident, if any; returns its id.
pub fn resolve(
    c: &Connection,
    tenant: TenantId,
    kind: IncidentKind,
    key: &str,
) -> Result<Option<i64>, DbError> {
    let open: Option<i64> = c
        .prepare_cached(
            "SELECT id FROM incidents
             WHERE tenant_id = ?1 AND kind = ?2 AND key = ?3 AND resolved_at IS NULL",
        )?
        .query_row(params![tenant, kind.as_str(), key], |r| r.get(0))
        .optional()?;
    match open {
        Some(id) => resolve_by_id(c, tenant, id).map(|done| done.then_some(id)),
        None => Ok(None),
    }
}

/// Resolves one of the tenant's incidents by id (the dashboard's "resolve" button).
pub fn resolve_by_id(c: &Connection, tenant: TenantId, id: i64) -> Result<bool, DbError> {
    let n = c.execute(
        "UPDATE incidents SET resolved_at = ?3 WHERE id = ?1 AND tenant_id = ?2 AND resolved_at IS NULL",
        params![id, tenant, now_text()],
    )?;
    if n == 1 {
        add_notice(c, tenant, id, "resolved")?;
    }
    Ok(n == 1)
}

fn add_notice(c: &Connection, tenant: TenantId, incident: i64, event: &str) -> Result<(), DbError> {
    c.execute(
        "INSERT OR IGNORE INTO incident_notices (incident_id, tenant_id, event, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![incident, tenant, event, now_text()],
    )?;
    Ok(())
}

/// [`raise`] in its own transaction, then wakes the notifier.
pub async fn raise_now(
    db: &Db,
    tenant: TenantId,
    kind: IncidentKind,
    key: &str,
    message: &str,
) -> Result<Raised, DbError> {
    let (key, message) = (key.to_string(), message.to_string());
    let r = db
        .write(move |c| raise(c, tenant, kind, &key, &message))
        .await?;
    if r.opened {
        kick();
    }
    Ok(r)
}

/// [`resolve`] in its own transaction, then wakes the notifier.
pub async fn resolve_now(
    db: &Db,
    tenant: TenantId,
    kind: IncidentKind,
    key: &str,
) -> Result<Option<i64>, DbError> {
    let key = key.to_string();
    let r = db.write(move |c| resolve(c, tenant, kind, &key)).await?;
    if r.is_some() {
        kick();
    }
    Ok(r)
}

/// Wakes the notifier now instead of at its next tick.
pub fn kick() {
    KICK.notify_waiters();
    KICK.notify_one();
}

/// Resolves when [`kick`] is called.
pub async fn kicked() {
    KICK.notified().await
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub message: String,
    pub occurrences: i64,
    pub opened_at: String,
    pub last_seen_at: String,
    pub resolved_at: Option<String>,
}

const INCIDENT_COLS: &str =
    "id, kind, key, message, occurrences, opened_at, last_seen_at, resolved_at";

fn incident_row(r: &rusqlite::Row) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        kind: r.get(1)?,
        key: r.get(2)?,
        message: r.get(3)?,
        occurrences: r.get(4)?,
        opened_at: r.get(5)?,
        last_seen_at: r.get(6)?,
        resolved_at: r.get(7)?,
    })
}

/// The tenant's incidents, newest first: open ones, or all when `include_resolved`.
pub fn list(
    c: &Connection,
    tenant: TenantId,
    include_resolved: bool,
    limit: u32,
) -> Result<Vec<Incident>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLS} FROM incidents
         WHERE tenant_id = ?1 AND (?2 OR resolved_at IS NULL) ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = st.query_map(
        params![tenant, include_resolved, limit.clamp(1, 500)],
        incident_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

struct Pending {
    notice_id: i64,
    tenant: TenantId,
    tenant_name: String,
    event: String,
    incident: Incident,
    webhook_done: bool,
    email_done: bool,
    attempts: i64,
    owners: Vec<String>,
}

/// The JSON the webhook receives.
#[derive(Debug, Serialize)]
struct WebhookBody<'a> {
    event: String,
    tenant_id: TenantId,
    tenant_name: &'a str,
    incident: &'a Incident,
}

/// Delivers due notices once; returns how many were fully delivered. The worker calls it.
pub async fn deliver_pending(state: &AppState) -> Result<usize, DbError> {
    let cfg = state.config.alerts.clone();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let max = i64::from(cfg.max_attempts);
    let pending = state
        .db
        .read(move |c| pending_notices(c, now_ms, max))
        .await?;
    let mut delivered = 0;
    for p in pending {
        let body = WebhookBody {
            event: format!("incident.{}", p.event),
            tenant_id: p.tenant,
            tenant_name: &p.tenant_name,
            incident: &p.incident,
        };
        let mut errors = vec![];
        let webhook_ok = p.webhook_done
            || match send_webhook(&state.http, &cfg, &body).await {
                Ok(()) => true,
                Err(e) => {
                    errors.push(format!("webhook: {e}"));
                    false
                }
            };
        let email_ok = p.email_done
            || match send_email(&cfg, &p).await {
                Ok(()) => true,
                Err(e) => {
                    errors.push(format!("email: {e}"));
                    false
                }
            };
        for (channel, ok) in [("webhook", webhook_ok), ("email", email_ok)] {
            let outcome = if ok { "sent" } else { "failed" };
            metrics::counter!(super::metric_names::ALERT_NOTICES_TOTAL,
                "channel" => channel, "outcome" => outcome)
            .increment(1);
        }
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        if error.is_none() {
            delivered += 1;
        }
        let (id, attempts, tenant) = (p.notice_id, p.attempts + 1, p.tenant);
        // Backoff 2^attempts seconds, at most 15 minutes.
        let next = now_ms + 1000 * (1i64 << attempts.min(10)).min(900);
        state
            .db
            .write(move |c| {
                let now = now_text();
                c.execute(
                    "UPDATE incident_notices SET
                        webhook_at = CASE WHEN ?2 THEN COALESCE(webhook_at, ?4) ELSE webhook_at END,
                        email_at = CASE WHEN ?3 THEN COALESCE(email_at, ?4) ELSE email_at END,
                        attempts = ?5, next_at_ms = ?6, last_error = ?7
                     WHERE id = ?1",
                    params![id, webhook_ok, email_ok, now, attempts, next, error],
                )?;
                if let (Some(e), true) = (&error, attempts >= max) {
                    super::errors::record(
                        c,
                        Some(tenant),
                        "worker",
                        "alerts-notifier",
                        super::errors::Severity::Error,
                        &format!("gave up on incident notice {id}: {e}"),
                        None,
                    )?;
                }
                Ok(())
            })
            .await?;
    }
    Ok(delivered)
}

fn pending_notices(c: &Connection, now_ms: i64, max: i64) -> Result<Vec<Pending>, DbError> {
    let mut st = c.prepare_cached(&format!(
        "SELECT n.id, n.tenant_id, COALESCE(t.name, ''), n.event, n.webhook_at IS NOT NULL,
                n.email_at IS NOT NULL, n.attempts, {}
         FROM incident_notices n JOIN incidents i ON i.id = n.incident_id
         LEFT JOIN tenants t ON t.id = n.tenant_id
         WHERE (n.webhook_at IS NULL OR n.email_at IS NULL) AND n.attempts < ?2
           AND n.next_at_ms <= ?1
         ORDER BY n.id LIMIT 50",
        INCIDENT_COLS
            .split(", ")
            .map(|col| format!("i.{col}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = st.query_map(params![now_ms, max], |r| {
        let incident = Incident {
            id: r.get(7)?,
            kind: r.get(8)?,
            key: r.get(9)?,
            message: r.get(10)?,
            occurrences: r.get(11)?,
            opened_at: r.get(12)?,
            last_seen_at: r.get(13)?,
            resolved_at: r.get(14)?,
        };
        Ok(Pending {
            notice_id: r.get(0)?,
            tenant: r.get(1)?,
            tenant_name: r.get(2)?,
            event: r.get(3)?,
            webhook_done: r.get(4)?,
            email_done: r.get(5)?,
            attempts: r.get(6)?,
            incident,
            owners: vec![],
        })
    })?;
    let mut out: Vec<Pending> = rows.collect::<Result<_, _>>()?;
    let mut owners = c.prepare_cached(
        "SELECT email FROM users WHERE tenant_id = ?1 AND role = 'owner' AND active = 1 ORDER BY email",
    )?;
    for p in &mut out {
        p.owners = owners
            .query_map([p.tenant], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(out)
}

async fn send_webhook(
    http: &reqwest::Client,
    cfg: &AlertsConfig,
    body: &WebhookBody<'_>,
) -> Result<(), String> {
    let Some(url) = &cfg.webhook_url else {
        return Ok(());
    };
    let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(Duration::from_secs(10));
    if let Some(secret) = &cfg.webhook_secret {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
        mac.update(&bytes);
        let sig = hex::encode(mac.finalize().into_bytes());
        req = req.header("X-DashOffice-Signature", format!("sha256={sig}"));
    }
    let res = req.body(bytes).send().await.map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", res.status()))
    }
}

async fn send_email(cfg: &AlertsConfig, p: &Pending) -> Result<(), String> {
    let Some(host) = &cfg.smtp_host else {
        return Ok(());
    };
    if p.owners.is_empty() {
        return Ok(());
    }
    let from: Mailbox = cfg
        .smtp_from
        .as_deref()
        .unwrap_or("DashOffice <dashoffice@localhost>")
        .parse()
        .map_err(|e| format!("smtp_from: {e}"))?;
    let what = if p.event == "opened" {
        "Incidente abierto"
    } else {
        "Incidente resuelto"
    };
    let i = &p.incident;
    let mut builder = Message::builder()
        .from(from)
        .subject(format!("[DashOffice] {what}: {} {}", i.kind, i.key));
    for o in &p.owners {
        match o.parse::<Mailbox>() {
            Ok(m) => builder = builder.to(m),
            Err(e) => tracing::warn!(owner = %o, error = %e, "owner e-mail not usable"),
        }
    }
    let text = format!(
        "{what} en {}.\n\nTipo: {}\nClave: {}\nMensaje: {}\nAbierto: {}\nResuelto: {}\nOcurrencias: {}\n",
        p.tenant_name,
        i.kind,
        i.key,
        i.message,
        i.opened_at,
        i.resolved_at.as_deref().unwrap_or("-"),
        i.occurrences
    );
    let msg = builder.body(text).map_err(|e| e.to_string())?;
    // Plain SMTP, no TLS and no auth: meant for a relay on the host or the LAN.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(cfg.smtp_port.unwrap_or(25))
        .timeout(Some(Duration::from_secs(15)))
        .build();
    transport.send(msg).await.map_err(|e| e.to_string())?;
    Ok(())
}
