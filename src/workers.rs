//! Background jobs of the app, started with the server and stopped with it.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::analytics::{self, errors::record_job_failure};
use crate::app::AppState;

/// Starts every named worker. Each watches `state.shutdown_signal()` and returns when told.
pub fn start(state: &AppState) -> Vec<(&'static str, JoinHandle<()>)> {
    let mut workers = vec![
        (
            "admin-socket",
            tokio::spawn(crate::backup::serve_socket(state.clone())),
        ),
        (
            "outbox",
            tokio::spawn(crate::outbox::worker::run(state.clone())),
        ),
        (
            "conversations",
            tokio::spawn(crate::conversations::processor::run(state.clone())),
        ),
        (
            "analytics-rollup",
            tokio::spawn(analytics_rollup(state.clone())),
        ),
        (
            "alerts-notifier",
            tokio::spawn(alerts_notifier(state.clone())),
        ),
    ];
    let b = &state.config.backup;
    if let (Some(_), true) = (&b.dir, b.interval_hours > 0) {
        workers.push(("backup", tokio::spawn(scheduled_backups(state.clone()))));
    }
    workers
}

/// `backup`: every `backup.interval_hours`, a backup into `backup.dir`, keeping `backup.keep`.
async fn scheduled_backups(state: AppState) {
    let Some(dir) = state.config.backup.dir.clone() else {
        return;
    };
    let every = Duration::from_secs(state.config.backup.interval_hours * 3600);
    let keep = state.config.backup.keep;
    tracing::info!(dir = %dir.display(), every_hours = state.config.backup.interval_hours, keep, "scheduled backups on");
    let mut shutdown = state.shutdown_signal();
    loop {
        // Due `every` after the newest backup on disk, so restarts never postpone it;
        // the first one waits a minute so start-up stays quick. A failure retries in an hour.
        let wait = crate::backup::due_in(&dir, every).max(Duration::from_secs(60));
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {
                match crate::backup::scheduled(&state, &dir, keep).await {
                    Ok(path) => tracing::info!(path = %path.display(), "scheduled backup done"),
                    Err(e) => {
                        tracing::error!(error = %e, "scheduled backup failed; retrying in an hour");
                        tokio::select! {
                            _ = shutdown.changed() => return,
                            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                        }
                    }
                }
            }
        }
    }
}

/// Rolls events up every `analytics.rollup_interval_secs`; applies retention every
/// `analytics.retention_interval_secs` (right after a rollup, so it only deletes what
/// the rollup has seen).
async fn analytics_rollup(state: AppState) {
    let cfg = state.config.analytics.clone();
    let every = Duration::from_secs(cfg.rollup_interval_secs.max(1));
    let retention_every = Duration::from_secs(cfg.retention_interval_secs.max(1));
    let mut shutdown = state.shutdown_signal();
    let mut last_retention: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if state.is_shutting_down() {
            return;
        }
        let now = chrono::Utc::now();
        match analytics::rollup::run(&state.db, now, cfg.retention_days).await {
            Ok(r) if r.new_events > 0 => tracing::debug!(
                events = r.new_events,
                hours = r.hourly_buckets,
                days = r.daily_buckets,
                "rollup"
            ),
            Ok(_) => {}
            Err(e) => {
                record_job_failure(&state.db, None, "analytics-rollup", &e.to_string()).await;
                continue;
            }
        }
        if last_retention.is_none_or(|t| t.elapsed() >= retention_every) {
            last_retention = Some(Instant::now());
            if let Err(e) = analytics::retention::run(&state.db, now, cfg.retention_days).await {
                record_job_failure(&state.db, None, "analytics-retention", &e.to_string()).await;
            }
        }
    }
}

/// Delivers incident notices (webhook + e-mail); woken at once by `alerts::kick`.
async fn alerts_notifier(state: AppState) {
    let every = Duration::from_secs(state.config.alerts.check_interval_secs.max(1));
    let mut shutdown = state.shutdown_signal();
    loop {
        if let Err(e) = analytics::alerts::deliver_pending(&state).await {
            record_job_failure(&state.db, None, "alerts-notifier", &e.to_string()).await;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = analytics::alerts::kicked() => {}
            _ = tokio::time::sleep(every) => {}
        }
        if state.is_shutting_down() {
            return;
        }
    }
}
