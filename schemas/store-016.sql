-- schakel store, migration 16: leases on the delivery outbox (issue 15).
-- A node claims the due deliveries it is about to send
-- (store_deliveries_claim()): locked_by is the node's name ([server] node),
-- lease_until the Unix second at which the claim lapses.  A row whose
-- lease has lapsed is claimable by any node, so a node that dies
-- mid-delivery loses its rows to another, which sends them again under
-- the same message id (the receiver drops the duplicate).  Recording an
-- attempt's outcome (store_delivery_update()) clears both.  On SQLite
-- claims are taken inside the writer's transaction; the columns are the
-- same as PostgreSQL's (schemas/pg/004.sql).

ALTER TABLE delivery ADD COLUMN locked_by TEXT;
ALTER TABLE delivery ADD COLUMN lease_until INTEGER;
-- the rows under a lease (an attempt under way, or a lapsed claim): few
CREATE INDEX delivery_leased ON delivery(oin, lease_until) WHERE lease_until IS NOT NULL;
