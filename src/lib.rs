//! DashOffice: a self-hosted WhatsApp commerce appliance in one binary.
//!
//! [`app::build`] is the one builder of the whole appliance; `main` and the integration
//! tests both use it.

pub mod analytics;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod ids;
pub mod messages;
pub mod money;
pub mod store;
pub mod telemetry;
pub mod workers;

pub use app::{build, App, AppState};
pub use config::Config;
