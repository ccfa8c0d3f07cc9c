//! Error tracking: `error_logs` rows for every HTTP 5xx (written by the `observe` layer)
//! and every failed background job, listed for owners and admins with an unseen counter.
//!
//! Other modules call [`record`] inside a write closure, or [`record_job_failure`] from a
//! worker loop. A `critical` error of a tenant also opens a `critical_error` incident.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use super::alerts::{self, IncidentKind};
use crate::ids::{now_text, TenantId};
use crate::store::{Db, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }
}

/// Appends an error. `service` is the area (`http`, `worker`, `outbox`, ...), `module` the
/// route or job name. Returns the row id.
pub fn record(
    c: &Connection,
    tenant: Option<TenantId>,
    service: &str,
    module: &str,
    severity: Severity,
    message: &str,
    request_id: Option<&str>,
) -> Result<i64, DbError> {
    c.prepare_cached(
        "INSERT INTO error_logs (tenant_id, service, module, severity, message, request_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        tenant,
        service,
        module,
        severity.as_str(),
        message,
        request_id,
        now_text()
    ])?;
    let id = c.last_insert_rowid();
    metrics::counter!(super::metric_names::ERRORS_LOGGED_TOTAL,
        "service" => service.to_string(), "severity" => severity.as_str())
    .increment(1);
    if let (Severity::Critical, Some(t)) = (severity, tenant) {
        alerts::raise(c, t, IncidentKind::CriticalError, module, message)?;
    }
    Ok(id)
}

/// For worker loops: logs a failed run of `job` (best effort, never fails the caller).
pub async fn record_job_failure(db: &Db, tenant: Option<TenantId>, job: &'static str, error: &str) {
    tracing::error!(job, error, "background job failed");
    let message = error.to_string();
    let res = db
        .write(move |c| {
            record(c, tenant, "worker", job, Severity::Error, &message, None)?;
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::error!(job, error = %e, "could not log the job failure");
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorEntry {
    pub id: i64,
    pub service: String,
    pub module: String,
    pub severity: String,
    pub message: String,
    pub request_id: Option<String>,
    pub created_at: String,
    pub seen_at: Option<String>,
}

/// Newest first, paged by id (`before` = the last id seen). Only the tenant's own errors.
pub fn list(
    c: &Connection,
    tenant: TenantId,
    unseen_only: bool,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<ErrorEntry>, Option<i64>), DbError> {
    let limit = limit.clamp(1, 500);
    let mut st = c.prepare_cached(
        "SELECT id, service, module, severity, message, request_id, created_at, seen_at
         FROM error_logs
         WHERE tenant_id = ?1 AND (?2 = 0 OR seen_at IS NULL) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4",
    )?;
    let rows = st.query_map(params![tenant, unseen_only, before, limit + 1], |r| {
        Ok(ErrorEntry {
            id: r.get(0)?,
            service: r.get(1)?,
            module: r.get(2)?,
            severity: r.get(3)?,
            message: r.get(4)?,
            request_id: r.get(5)?,
            created_at: r.get(6)?,
            seen_at: r.get(7)?,
        })
    })?;
    let mut items: Vec<ErrorEntry> = rows.collect::<Result<_, _>>()?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok((items, next))
}

/// How many of the tenant's errors nobody has marked seen yet.
pub fn unseen_count(c: &Connection, tenant: TenantId) -> Result<i64, DbError> {
    Ok(c.query_row(
        "SELECT COUNT(*) FROM error_logs WHERE tenant_id = ?1 AND seen_at IS NULL",
        [tenant],
        |r| r.get(0),
    )?)
}

/// Marks the tenant's errors seen: the given ids, or every one up to `up_to` (inclusive),
/// or all when both are absent. Returns how many changed.
pub fn mark_seen(
    c: &Connection,
    tenant: TenantId,
    ids: &[i64],
    up_to: Option<i64>,
) -> Result<usize, DbError> {
    let now = now_text();
    if !ids.is_empty() {
        let mut st = c.prepare_cached(
            "UPDATE error_logs SET seen_at = ?3 WHERE tenant_id = ?1 AND id = ?2 AND seen_at IS NULL",
        )?;
        let mut n = 0;
        for id in ids {
            n += st.execute(params![tenant, id, now])?;
        }
        return Ok(n);
    }
    Ok(c.execute(
        "UPDATE error_logs SET seen_at = ?3
         WHERE tenant_id = ?1 AND seen_at IS NULL AND (?2 IS NULL OR id <= ?2)",
        params![tenant, up_to, now],
    )?)
}
