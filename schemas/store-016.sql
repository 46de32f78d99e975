-- schakel store, migration 16: what nodes on one database share (issue
-- 15, "Several nodes" in docs/operations.md): the leases of the jobs that
-- must run on one node at a time, and each node's digest of its parties.
-- On SQLite there is one node (the database is in its data directory), so
-- it always holds its leases; the tables are kept alike on both backends.
-- Times are seconds since 1970 by the database's clock (unixepoch()).

-- A job (purge, checkpoint, reconcile, pull:<source>) is run by the node
-- that holds its lease: holder took it, or renewed it last, until `until`;
-- another node may take it only once `until` has passed.
CREATE TABLE job_lease (
	job             TEXT PRIMARY KEY,
	holder          TEXT NOT NULL,         -- [server] node of the holder
	until           INTEGER NOT NULL       -- unixepoch() the lease ends
) WITHOUT ROWID;

-- Each running node's digest of its [party.*] sections (the grants it
-- serves), written at start, at every reload and at every heartbeat.
-- changed_at: when this node's digest last changed (kept at a heartbeat,
-- set at a reload that changed it); the digest of the live node that
-- changed last is the newest, and a node serving another for longer than
-- [server] reload_check seconds reloads or refuses parties (serve.c).
CREATE TABLE node_config (
	node            TEXT PRIMARY KEY,
	digest          TEXT NOT NULL,         -- hex SHA-256 (node_parties_digest())
	changed_at      INTEGER NOT NULL,
	seen            INTEGER NOT NULL       -- its last heartbeat
) WITHOUT ROWID;
