-- The inbox lists a tenant's conversations by (last_message_at DESC, id DESC). With only
-- (tenant_id, last_message_at) the planner sorted every run of equal timestamps in a temp
-- b-tree, running the last-message subquery for each row of the run, not just the page.
DROP INDEX conversations_tenant;
CREATE INDEX conversations_recent ON conversations(tenant_id, last_message_at, id);
