//! Conversations: the durable intake of what providers tell us (messages, receipts,
//! session changes) and, on top of it, the per-conversation processing that runs the
//! flow engine exactly once per inbound message (DESIGN §5).

pub mod catalog;
pub mod intake;
pub mod processor;
pub mod store;
