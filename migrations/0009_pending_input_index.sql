-- A conversation's next unprocessed input. Through messages_conversation the lookup
-- walked every message the conversation ever had, in and out, to reach the first one
-- unprocessed: a long conversation paid for its whole history on every step. This
-- partial index holds only unprocessed input, keyed by conversation; it also serves the
-- scan for conversations with work, which messages_unprocessed (id) did.
DROP INDEX messages_unprocessed;
CREATE INDEX messages_pending ON messages(conversation_id, id)
    WHERE direction = 'in' AND processed_at IS NULL;
