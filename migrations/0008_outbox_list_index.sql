-- The outbox list is a tenant's rows by id, newest first, optionally of one status.
-- (tenant_id, status, id) sorted every page of all the tenant's rows in a temp b-tree,
-- and moved each reply's entry when it turned 'sent'. (tenant_id, id) gives the order
-- and never changes after insert.
DROP INDEX outbox_tenant;
CREATE INDEX outbox_tenant ON outbox(tenant_id, id);
