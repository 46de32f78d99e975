-- schakel store, migration 13: processing records (Logboek Dataverwerkingen,
-- docs/formats.md, "Processing records").  One row of ldv_span per
-- processing (an input received, pseudonymised and stored, a match run, a
-- signal raised, a disclosure, an access request), written in the
-- transaction of its exchange log entry; one row of ldv_subject per data
-- subject of a span (its keyed pseudonym, never the BSN), appended in
-- order.  ldv_export holds the cursor of the OTLP export.
CREATE TABLE ldv_span (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	trace_id TEXT NOT NULL,
	span_id TEXT NOT NULL UNIQUE,
	parent_span_id TEXT,
	name TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,	-- 0 unset, 1 ok, 2 error (OTLP)
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	activity TEXT NOT NULL,			-- dpl.core.processing_activity_id
	exlog_seq INTEGER,			-- the exchange log entry written with it
	object TEXT,				-- the signal id, message id or origin
	party TEXT,				-- the supplier of an input, the recipient of a disclosure
	subjects INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ldv_span_trace ON ldv_span(trace_id);
CREATE TABLE ldv_subject (
	span_seq INTEGER NOT NULL REFERENCES ldv_span(seq),
	n INTEGER NOT NULL,
	pseudonym BLOB NOT NULL,
	PRIMARY KEY (span_seq, n)
) WITHOUT ROWID;
CREATE TABLE ldv_export (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	span_seq INTEGER NOT NULL,		-- every span up to this one is sent
	subject_n INTEGER NOT NULL		-- and of the next, its subjects below n
);
INSERT INTO ldv_export VALUES (1, 0, 0);
