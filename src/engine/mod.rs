//! The conversation engine (DESIGN §6): flows as JSON, validated on save, run by a pure
//! step function — no I/O and no clock, so every path is tested without a server.
//!
//! ```text
//! step(bot, session, input, ctx) -> Outcome { session', effects }
//! ```
//! The glue's side of the contract:
//! - store `Outcome::session` as returned (None = delete it); a session with status
//!   `Ended` runs no flow and only remembers when the away message went out;
//! - apply `Outcome::effects` in order; `CreateOrder`, `LookupOrder` and `Http` come back
//!   later as `Input::OrderResult` / `OrderStatus` / `HttpResult` (never blocking a step);
//! - an agent's release is `Input::Released`; `Effect::Error` is for the error log only.
//!
//! The flow JSON format is `model::Node`; `demo::DEMO_FLOW_JSON` is a complete example.

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
pub use http::{http_target_allowed, ip_is_public};
pub use input::Input;
pub use model::{
    BotProgram, CartLine, Flow, GlobalCommands, Node, Session, SessionStatus, Waiting,
};
pub use validate::{validate, validate_program, FlowError};
