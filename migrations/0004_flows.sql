-- Flows per bot: an editable draft, and immutable numbered published versions.
-- A running session stays on the version it started on; new sessions take the newest.

CREATE TABLE flows (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id         TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    draft          TEXT NOT NULL,
    is_default     INTEGER NOT NULL DEFAULT 0,
    latest_version INTEGER,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX flows_bot ON flows(bot_id);

CREATE TABLE flow_versions (
    flow_id      TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    note         TEXT,
    PRIMARY KEY (flow_id, version)
);

-- The dashboard's simulator talks to a bot as a test contact: its replies are delivered
-- to the sandbox transcript, never to a provider.
ALTER TABLE conversations ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0;
