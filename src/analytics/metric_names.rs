//! Prometheus metric names, in one place so dashboards and alert rules have one list.
//! Emit them with the `metrics` macros (the recorder is installed; `/metrics` renders):
//! `metrics::counter!(MESSAGES_SENT_TOTAL, "channel_kind" => kind.as_str()).increment(1);`
//!
//! Label values must come from small fixed sets (a channel kind, a reason code), never ids.

// --- emitted by this module ---
/// Histogram, seconds: one rollup pass.
pub const ROLLUP_DURATION_SECONDS: &str = "analytics_rollup_duration_seconds";
/// Counter: new events a rollup pass folded in.
pub const ROLLUP_EVENTS_TOTAL: &str = "analytics_rollup_events_total";
/// Counter `{kind}`: events recorded.
pub const EVENTS_RECORDED_TOTAL: &str = "analytics_events_recorded_total";
/// Counter: raw events deleted by retention.
pub const RETENTION_DELETED_TOTAL: &str = "analytics_retention_deleted_total";
/// Counter `{service, severity}`: rows written to `error_logs`.
pub const ERRORS_LOGGED_TOTAL: &str = "error_logs_written_total";
/// Counter `{kind}`: incidents opened.
pub const INCIDENTS_OPENED_TOTAL: &str = "incidents_opened_total";
/// Counter `{channel=webhook|email, outcome=sent|failed}`: incident notice deliveries.
pub const ALERT_NOTICES_TOTAL: &str = "alert_notices_total";

// --- for the channels / outbox / conversations modules to emit ---
/// Counter `{channel_kind}`: messages the provider accepted.
pub const MESSAGES_SENT_TOTAL: &str = "messages_sent_total";
/// Counter `{channel_kind}`: inbound messages accepted (after de-duplication).
pub const MESSAGES_RECEIVED_TOTAL: &str = "messages_received_total";
/// Counter `{channel_kind, retriable=true|false}`: failed send attempts.
pub const MESSAGES_FAILED_TOTAL: &str = "messages_failed_total";
/// Gauge: outbox rows waiting to be sent (all tenants).
pub const OUTBOX_DEPTH: &str = "outbox_depth";
/// Gauge, seconds: age of the oldest waiting outbox row.
pub const OUTBOX_OLDEST_AGE_SECONDS: &str = "outbox_oldest_age_seconds";
/// Counter: outbox rows that reached the dead-letter state.
pub const OUTBOX_DEAD_LETTERS_TOTAL: &str = "outbox_dead_letters_total";
/// Gauge `{channel_kind, state=closed|open|half_open}`: circuits in each state (1/0 per
/// state is fine too: set the current state to 1 and the others to 0).
pub const CHANNEL_CIRCUIT_STATE: &str = "channel_circuits";
/// Counter `{channel_kind, reason=bad_signature|bad_token|parse|unknown_bot|...}`.
pub const WEBHOOK_REJECTS_TOTAL: &str = "webhook_rejects_total";
/// Histogram, seconds: one SQLite group commit (emitted by `store::sqlite`).
pub const SQLITE_WRITE_BATCH_SECONDS: &str = "sqlite_write_batch_seconds";
/// Histogram, seconds: one redb write transaction (`store::state` should emit it; not yet).
pub const REDB_WRITE_SECONDS: &str = "redb_write_seconds";
