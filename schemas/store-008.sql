-- schakel store, migration 8: signals in the order they are raised.
-- A signal is keyed by its id, a digest: random.  A match of a million
-- registrations raises some 125,000 signals with half a million evidence
-- rows and a quarter of a million recipient rows, and each of those rows
-- landed on a random page of its table (four fifths of the match's
-- writing time).  Now a signal row is appended (rowid = seq, never reused)
-- and carries its evidence; only the id, in its index, lands at random;
-- recipient rows are keyed by (oin, seq) and so are appended too.
-- The store runs migrations with foreign keys off and checks them before
-- it commits (store_sqlite.c, migrate()).

CREATE TABLE signal_new (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of creation, for cursors
	id              TEXT NOT NULL UNIQUE,  -- digest of the facts it rests on
	rule            TEXT NOT NULL,
	as_of           TEXT NOT NULL,         -- the match date that first raised it
	addr            TEXT NOT NULL REFERENCES address(addr),
	person          BLOB,                  -- ADRES_AFWIJKING: the pseudonym
	reg_addr        TEXT REFERENCES address(addr),
	registered      INTEGER NOT NULL,
	observed        INTEGER NOT NULL,
	oppervlakte     INTEGER,
	max_bewoners    INTEGER,
	created         TEXT NOT NULL,
	evidence        TEXT NOT NULL          -- JSON: [[source, record], ...] in order
);
INSERT INTO signal_new(seq, id, rule, as_of, addr, person, reg_addr, registered, observed,
		       oppervlakte, max_bewoners, created, evidence)
	SELECT s.seq, s.id, s.rule, s.as_of, s.addr, s.person, s.reg_addr, s.registered,
	       s.observed, s.oppervlakte, s.max_bewoners, s.created,
	       (SELECT json_group_array(json_array(source, record)) FROM
		(SELECT source, record FROM signal_evidence e WHERE e.signal_id = s.id
		 ORDER BY pos))
	FROM signal s ORDER BY s.seq;

CREATE TABLE signal_recipient_new (
	oin             TEXT NOT NULL,
	signal_seq      INTEGER NOT NULL REFERENCES signal(seq),
	PRIMARY KEY (oin, signal_seq)
) WITHOUT ROWID;
INSERT INTO signal_recipient_new(oin, signal_seq)
	SELECT r.oin, s.seq FROM signal_recipient r JOIN signal s ON s.id = r.signal_id;

DROP TABLE signal_evidence;
DROP TABLE signal_recipient;
DROP TABLE signal;
ALTER TABLE signal_new RENAME TO signal;
ALTER TABLE signal_recipient_new RENAME TO signal_recipient;
CREATE INDEX signal_rule ON signal(rule);
CREATE INDEX signal_recipient_seq ON signal_recipient(signal_seq);
