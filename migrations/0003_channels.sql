-- Bots, their channels (primary + ordered fallbacks), conversations, every message in
-- and out, and the durable outbox.

CREATE TABLE bots (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX bots_tenant ON bots(tenant_id);

-- position 0 is the primary channel; 1.. are fallbacks in order.
-- config is the provider config JSON sealed with the data-dir key (secrets at rest).
CREATE TABLE bot_channels (
    bot_id        TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    config        TEXT NOT NULL,
    session_state TEXT,
    session_reason TEXT,
    session_qr    TEXT,
    session_since TEXT,
    PRIMARY KEY (bot_id, position)
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    bot_id          TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    contact_phone   TEXT NOT NULL,
    contact_name    TEXT,
    status          TEXT NOT NULL DEFAULT 'bot' CHECK (status IN ('bot','human','closed')),
    assigned_user   TEXT,
    unread          INTEGER NOT NULL DEFAULT 0,
    last_message_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (bot_id, contact_phone)
);
CREATE INDEX conversations_tenant ON conversations(tenant_id, last_message_at);

-- Inbound rows are the durable intake: their rowid orders a conversation's inputs.
-- kind 'customer' is a customer's message; 'system' rows are results fed back to the
-- flow (order_result, http_result, ...). processed_at marks the step as applied.
CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    bot_id              TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    direction           TEXT NOT NULL CHECK (direction IN ('in','out')),
    kind                TEXT NOT NULL DEFAULT 'customer',
    provider_message_id TEXT,
    channel             TEXT,
    content             TEXT NOT NULL,
    status              TEXT NOT NULL,
    error               TEXT,
    author              TEXT,
    source_key          TEXT,
    created_at          TEXT NOT NULL,
    processed_at        TEXT
);
CREATE UNIQUE INDEX messages_in_dedup ON messages(bot_id, provider_message_id) WHERE direction = 'in' AND provider_message_id IS NOT NULL;
CREATE INDEX messages_provider ON messages(provider_message_id) WHERE direction = 'out';
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_unprocessed ON messages(id) WHERE direction = 'in' AND processed_at IS NULL;
CREATE UNIQUE INDEX messages_source ON messages(source_key) WHERE source_key IS NOT NULL;

-- status: queued -> sending -> sent | failed (non-retriable) | dead (retries exhausted) | discarded
CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    bot_id              TEXT NOT NULL,
    message_id          INTEGER NOT NULL REFERENCES messages(id),
    to_phone            TEXT NOT NULL,
    content             TEXT NOT NULL,
    reply_to            TEXT,
    status              TEXT NOT NULL DEFAULT 'queued',
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TEXT NOT NULL,
    last_error          TEXT,
    last_error_code     TEXT,
    channel             TEXT,
    provider_message_id TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);
CREATE INDEX outbox_order ON outbox(bot_id, to_phone, status, id);
CREATE INDEX outbox_tenant ON outbox(tenant_id, status, id);
