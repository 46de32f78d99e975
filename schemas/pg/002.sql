-- schakel store on PostgreSQL, migration 2: the processing records
-- (Logboek Dataverwerkingen), as SQLite's store-013.sql.  Written by the
-- PostgreSQL store so far; read back (search, export) only on SQLite yet.

CREATE TABLE ldv_span (
	seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	trace_id        TEXT NOT NULL,
	span_id         TEXT NOT NULL,
	parent_span_id  TEXT,
	name            TEXT NOT NULL,
	status          INTEGER NOT NULL DEFAULT 0,   -- 0 unset, 1 ok, 2 error (OTLP)
	start_ns        BIGINT NOT NULL,
	end_ns          BIGINT NOT NULL,
	activity        TEXT NOT NULL,
	exlog_seq       BIGINT,
	object          TEXT,
	party           TEXT,
	subjects        BIGINT NOT NULL DEFAULT 0,
	pseudonyms      BYTEA                        -- its first batch of subjects, inline
);
CREATE TABLE ldv_subject (
	span_seq        BIGINT NOT NULL REFERENCES ldv_span(seq),
	first           BIGINT NOT NULL,
	pseudonyms      BYTEA NOT NULL CHECK (length(pseudonyms) % 32 = 0 AND length(pseudonyms) > 0),
	PRIMARY KEY (span_seq, first)
);
CREATE TABLE ldv_export (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	span_seq        BIGINT NOT NULL,
	subject_n       BIGINT NOT NULL
);
INSERT INTO ldv_export VALUES (1, 0, 0);
