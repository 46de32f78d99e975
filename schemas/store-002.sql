-- schakel store, migration 2: recipients' feedback on signals.

CREATE TABLE feedback (
	id              INTEGER PRIMARY KEY,
	signal_id       TEXT NOT NULL REFERENCES signal(id),
	oin             TEXT NOT NULL,         -- the recipient that gave it
	outcome         TEXT NOT NULL CHECK (outcome IN ('bevestigd', 'onterecht', 'in_behandeling')),
	note            TEXT NOT NULL,
	at              TEXT NOT NULL
);
CREATE INDEX feedback_signal ON feedback(signal_id);
