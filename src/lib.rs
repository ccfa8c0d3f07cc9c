//! DashOffice: a self-hosted WhatsApp commerce appliance.
pub mod messages;
