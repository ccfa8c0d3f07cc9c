//! Live updates for the dashboard inbox: a process-wide broadcast of tenant-tagged events
//! (new messages, delivery statuses, conversation changes), streamed as SSE per tenant.

use serde::Serialize;
use tokio::sync::broadcast;

use crate::ids::TenantId;

#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub tenant: TenantId,
    /// SSE event name: `message`, `status`, `conversation`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

pub struct Hub {
    tx: broadcast::Sender<LiveEvent>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    /// Best effort: nobody listening is fine, and a slow listener skips ahead.
    pub fn publish(&self, tenant: TenantId, kind: &'static str, data: serde_json::Value) {
        let _ = self.tx.send(LiveEvent { tenant, kind, data });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}
