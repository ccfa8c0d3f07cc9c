//! Background jobs of the app, started with the server and stopped with it.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::analytics::{self, errors::record_job_failure};
use crate::app::AppState;

/// Starts every named worker. Each watches `state.shutdown_signal()` and returns when told.
pub fn start(state: &AppState) -> Vec<(&'static str, JoinHandle<()>)> {
    vec![
        (
            "analytics-rollup",
            tokio::spawn(analytics_rollup(state.clone())),
        ),
        (
            "alerts-notifier",
            tokio::spawn(alerts_notifier(state.clone())),
        ),
    ]
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
