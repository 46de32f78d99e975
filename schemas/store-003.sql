-- schakel store, migration 3: the delivery outbox and the state of pulled
-- sources.

-- One row per (signal, recipient with a push endpoint).  state: pending
-- (to be sent at next_at), delivered, or failed (the dead letters: a
-- permanent refusal, or retries exhausted at the horizon).  Times are Unix
-- seconds.
CREATE TABLE delivery (
	id              INTEGER PRIMARY KEY,
	signal_id       TEXT NOT NULL REFERENCES signal(id),
	oin             TEXT NOT NULL,
	message_id      TEXT NOT NULL UNIQUE,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	created         INTEGER NOT NULL,
	next_at         INTEGER NOT NULL,
	delivered_at    INTEGER,
	last_status     INTEGER,
	last_error      TEXT,
	UNIQUE (signal_id, oin)
);
CREATE INDEX delivery_due ON delivery(state, next_at);

-- Where each pulled source stands: the inspectorate's cursor, the
-- register's ETag and Last-Modified, the schedule after failures.
CREATE TABLE source_state (
	name            TEXT PRIMARY KEY,
	cursor          TEXT,
	etag            TEXT,
	last_modified   TEXT,
	failures        INTEGER NOT NULL DEFAULT 0,
	next_at         INTEGER NOT NULL DEFAULT 0,
	last_ok         INTEGER
) WITHOUT ROWID;
