//! What a step asks the world to do; the glue applies effects exactly once (DESIGN §5).

use serde::{Deserialize, Serialize};

use super::model::{CartLine, Session};
use crate::messages::Content;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Tagged by `effect` (not `type`: `Send` carries a `Content` that uses `type`).
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// A reply to the customer, in order.
    Send(Content),
    /// Create an order; the result comes back as `Input::OrderResult`.
    CreateOrder {
        lines: Vec<CartLine>,
        customer_name: Option<String>,
        address: Option<String>,
        notes: Option<String>,
    },
    /// Find an order of this contact by number; comes back as `Input::OrderStatus`.
    LookupOrder {
        number: i64,
    },
    /// Call an API; comes back as `Input::HttpResult`. The glue re-checks the resolved
    /// address with `http_target_allowed` rules.
    Http {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Option<String>,
        timeout_ms: u64,
    },
    /// A person should take the conversation.
    Handoff {
        reason: Option<String>,
    },
    FlowStarted {
        flow_id: String,
    },
    FlowCompleted {
        flow_id: String,
    },
    /// The message arrived outside business hours (the away text follows as a `Send`).
    Away,
    /// The previous session was idle too long and was dropped.
    SessionExpired,
    /// A flow misbehaved at run time (template error, missing node...): for the error log.
    Error {
        flow_id: String,
        node: String,
        message: String,
    },
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// None = no session any more (ended or dropped).
    pub session: Option<Session>,
    pub effects: Vec<Effect>,
}

impl Outcome {
    /// The messages sent to the customer, in order.
    pub fn sent(&self) -> Vec<&Content> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(c) => Some(c),
                _ => None,
            })
            .collect()
    }
}
