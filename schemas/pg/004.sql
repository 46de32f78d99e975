-- schakel store on PostgreSQL, migration 4: leases on the delivery outbox,
-- as SQLite's store-016.sql.  A node claims due deliveries with
-- SELECT ... FOR UPDATE SKIP LOCKED and sets locked_by (its [server] node)
-- and lease_until (Unix seconds); a lapsed lease is claimable by any node
-- (store_pg_signals.c, store_pg_deliveries_claim()).  Recording an
-- attempt's outcome clears both.

ALTER TABLE delivery ADD COLUMN locked_by TEXT;
ALTER TABLE delivery ADD COLUMN lease_until BIGINT;
CREATE INDEX delivery_leased ON delivery(oin, lease_until) WHERE lease_until IS NOT NULL;
