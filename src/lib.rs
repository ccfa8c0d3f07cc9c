//! DashOffice: a self-hosted WhatsApp commerce appliance.
pub mod channels;
pub mod messages;
pub mod outbox;
