//! DashOffice: a self-hosted WhatsApp commerce appliance in one binary.
//!
//! [`app::build`] is the one builder of the whole appliance; `main` and the integration
//! tests both use it.

pub mod analytics;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod bench;
pub mod bots;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod demo;
pub mod engine;
pub mod error;
pub mod flows;
pub mod ids;
pub mod live;
pub mod messages;
pub mod money;
pub mod outbox;
pub mod seal;
pub mod shop;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod workers;

pub use app::{build, App, AppState};
pub use config::Config;
