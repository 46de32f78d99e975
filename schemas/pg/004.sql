-- schakel store on PostgreSQL, migration 4: the job leases and the nodes'
-- digests of their parties, as SQLite's store-016.sql (which says what
-- they are for).  Times are the database's (now()), so that the nodes'
-- own clocks do not matter.

CREATE TABLE job_lease (
	job             TEXT COLLATE "C" PRIMARY KEY,
	holder          TEXT NOT NULL,
	until           TIMESTAMPTZ NOT NULL
);

CREATE TABLE node_config (
	node            TEXT COLLATE "C" PRIMARY KEY,
	digest          TEXT NOT NULL,
	changed_at      TIMESTAMPTZ NOT NULL,
	seen            TIMESTAMPTZ NOT NULL
);
