//! Background jobs of the app, started with the server and stopped with it.

use std::time::Duration;

use tokio::task::JoinHandle;

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
