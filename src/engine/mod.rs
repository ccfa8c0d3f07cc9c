//! The conversation engine (DESIGN §6): flows as JSON, validated on save, run by a pure
//! step function — no I/O and no clock, so every path is tested without a server.
//!
//! ```text
//! step(bot, session, input, ctx) -> Outcome { session', effects }
//! ```
//! The glue stores the session, applies the effects (send, create order, call HTTP...)
//! and feeds results back as `Input`s.

pub mod context;
pub mod demo;
pub mod effect;
pub mod exec;
pub mod hours;
pub mod http;
pub mod input;
pub mod model;
pub mod template;
pub mod validate;
pub mod validators;

pub use context::{Catalog, ContactView, Ctx, MemoryCatalog, ProductView, TenantSettings};
pub use effect::{Effect, Outcome};
pub use exec::step;
pub use hours::BusinessHours;
pub use http::http_target_allowed;
pub use input::Input;
pub use model::{
    BotProgram, CartLine, Flow, GlobalCommands, Node, Session, SessionStatus, Waiting,
};
pub use validate::{validate, validate_program, FlowError};
