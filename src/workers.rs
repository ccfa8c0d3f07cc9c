//! Background jobs of the app, started with the server and stopped with it.

use tokio::task::JoinHandle;

use crate::app::AppState;

/// Starts every named worker. Each watches `state.shutdown_signal()` and returns when told.
pub fn start(state: &AppState) -> Vec<(&'static str, JoinHandle<()>)> {
    vec![
        (
            "outbox",
            tokio::spawn(crate::outbox::worker::run(state.clone())),
        ),
        (
            "conversations",
            tokio::spawn(crate::conversations::processor::run(state.clone())),
        ),
    ]
}
