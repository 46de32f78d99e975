-- schakel store, migration 13: processing records (Logboek Dataverwerkingen,
-- docs/formats.md, "Processing records").  One row of ldv_span per
-- processing (an input received, pseudonymised and stored, a match run, a
-- signal raised, a disclosure, an access request), written in the
-- transaction of its exchange log entry; its data subjects (their keyed
-- pseudonyms, never the BSN) in ldv_subject, a batch a row, appended in
-- order.  ldv_export holds the cursor of the OTLP export.
CREATE TABLE ldv_span (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	trace_id TEXT NOT NULL,
	span_id TEXT NOT NULL,
	parent_span_id TEXT,
	name TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,	-- 0 unset, 1 ok, 2 error (OTLP)
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	activity TEXT NOT NULL,			-- dpl.core.processing_activity_id
	exlog_seq INTEGER,			-- the exchange log entry written with it
	object TEXT,				-- the signal id, message id or origin
	party TEXT,				-- the supplier of an input, the recipient of a disclosure
	subjects INTEGER NOT NULL DEFAULT 0,
	pseudonyms BLOB				-- its first batch of subjects, inline
);
-- No index but the order of writing: an index on the random span id or on
-- the trace cost a match with records a fifth more; the read side (an
-- access request) and the export read the table in order.
-- A span's first batch of subjects (up to 256 pseudonyms of 32 bytes) is
-- inline in its row (ldv_span.pseudonyms); each further batch is a row here,
-- subject `first` the first of it.  ldv_subject_each lists them one a row.
CREATE TABLE ldv_subject (
	span_seq INTEGER NOT NULL REFERENCES ldv_span(seq),
	first INTEGER NOT NULL,
	pseudonyms BLOB NOT NULL CHECK (length(pseudonyms) % 32 = 0 AND length(pseudonyms) > 0),
	PRIMARY KEY (span_seq, first)
) WITHOUT ROWID;
CREATE VIEW ldv_subject_each(span_seq, n, pseudonym) AS
	WITH RECURSIVE each(span_seq, n, pseudonym, rest) AS (
		SELECT span_seq, first, substr(pseudonyms, 1, 32), substr(pseudonyms, 33)
		FROM ldv_subject
		UNION ALL
		SELECT seq, 0, substr(pseudonyms, 1, 32), substr(pseudonyms, 33)
		FROM ldv_span WHERE length(pseudonyms) >= 32
		UNION ALL
		SELECT span_seq, n + 1, substr(rest, 1, 32), substr(rest, 33)
		FROM each WHERE length(rest) > 0)
	SELECT span_seq, n, pseudonym FROM each;
CREATE TABLE ldv_export (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	span_seq INTEGER NOT NULL,		-- every span up to this one is sent
	subject_n INTEGER NOT NULL		-- and of the next, its subjects below n
);
INSERT INTO ldv_export VALUES (1, 0, 0);
