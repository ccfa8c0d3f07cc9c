-- Analytics: raw events, hourly/daily rollups, incidents and their notices.
-- Event times are integer Unix milliseconds (UTC): the table is large and hot, and
-- bucketing by integer division is much cheaper than parsing text. The API renders RFC 3339.

-- Append-only. AUTOINCREMENT keeps ids growing even after retention empties the table,
-- because the rollup watermark is an event id.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL,
    bot_id          TEXT,
    conversation_id TEXT,
    kind            TEXT NOT NULL,
    -- delivery status (sent/delivered/read/failed) or order currency
    label           TEXT,
    -- order total in minor units
    amount_minor    INTEGER,
    -- on a message_out that is the first reply to a customer: ms since the unanswered inbound
    response_ms     INTEGER,
    at_ms           INTEGER NOT NULL,
    data            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_tenant_at ON events(tenant_id, at_ms);
CREATE INDEX events_conversation ON events(tenant_id, conversation_id, at_ms)
    WHERE conversation_id IS NOT NULL;

-- bot_id '' = events without a bot; '*' = all bots of the tenant together.
-- Hourly buckets are UTC hour starts ('2026-11-24T20:00:00Z'); daily buckets are dates
-- in the tenant's time zone ('2026-11-24').
CREATE TABLE analytics_hourly (
    tenant_id TEXT NOT NULL,
    bot_id    TEXT NOT NULL,
    bucket    TEXT NOT NULL,
    metric    TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, bot_id, bucket)
) WITHOUT ROWID;
CREATE INDEX analytics_hourly_bucket ON analytics_hourly(tenant_id, bucket);

CREATE TABLE analytics_daily (
    tenant_id TEXT NOT NULL,
    bot_id    TEXT NOT NULL,
    bucket    TEXT NOT NULL,
    metric    TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, bot_id, bucket)
) WITHOUT ROWID;
CREATE INDEX analytics_daily_bucket ON analytics_daily(tenant_id, bucket);

-- Small key/value state of the analytics jobs (the rollup watermark).
CREATE TABLE analytics_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO analytics_state (key, value) VALUES ('rollup_watermark', 0);

CREATE INDEX error_logs_tenant ON error_logs(tenant_id, id);

CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    key          TEXT NOT NULL,
    message      TEXT NOT NULL,
    occurrences  INTEGER NOT NULL DEFAULT 1,
    opened_at    TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    resolved_at  TEXT
);
-- At most one open incident per (tenant, kind, key): raising again is not a new incident.
CREATE UNIQUE INDEX incidents_open ON incidents(tenant_id, kind, key) WHERE resolved_at IS NULL;
CREATE INDEX incidents_tenant ON incidents(tenant_id, id);

-- One notice per incident opening and one per resolution, delivered by the alerts worker
-- to each configured channel (webhook, e-mail) at least once.
CREATE TABLE incident_notices (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    event        TEXT NOT NULL CHECK (event IN ('opened', 'resolved')),
    created_at   TEXT NOT NULL,
    webhook_at   TEXT,
    email_at     TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at_ms   INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    UNIQUE (incident_id, event)
);
CREATE INDEX incident_notices_pending ON incident_notices(next_at_ms)
    WHERE webhook_at IS NULL OR email_at IS NULL;
