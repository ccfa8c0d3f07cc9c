-- Partial indexes for the reply path. A reply is inserted before it has a provider id,
-- and nearly every outbox row ends 'sent': keeping those rows out of these indexes saves
-- four index writes per reply. The key columns stay as they were so the planner keeps
-- the same plans (it cannot cost a partial index's selectivity without statistics).
DROP INDEX messages_provider;
CREATE INDEX messages_provider ON messages(provider_message_id)
    WHERE direction = 'out' AND provider_message_id IS NOT NULL;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id) WHERE status = 'queued';
DROP INDEX outbox_order;
CREATE INDEX outbox_order ON outbox(bot_id, to_phone, status, id)
    WHERE status IN ('queued','sending');
