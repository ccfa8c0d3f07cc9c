//! DashOffice: a self-hosted WhatsApp commerce appliance.
pub mod engine;
pub mod messages;
