-- schakel store, migration 1: records, ingests, signals, the exchange log.
-- Applied by store_open() when PRAGMA user_version < 1.  No column holds a
-- BSN in clear: persons are keyed by an HMAC pseudonym and the BSN is kept
-- only as an AES-256-GCM ciphertext (bsn_sealed).

CREATE TABLE address (
	addr            TEXT PRIMARY KEY,      -- "POSTCODE|NR|LETTER|TOEV"
	gemeentecode    TEXT NOT NULL,
	nummeraanduiding TEXT,                 -- NULL when no source gave it
	postcode        TEXT NOT NULL,
	huisnummer      INTEGER NOT NULL,
	huisletter      TEXT NOT NULL,
	toevoeging      TEXT NOT NULL
) WITHOUT ROWID;

-- One row per file or upload read by an adapter.
CREATE TABLE ingest (
	id              INTEGER PRIMARY KEY,
	adapter         TEXT NOT NULL,
	origin          TEXT NOT NULL,         -- file name, upload or source
	party           TEXT,                  -- OIN of the supplier, if known
	digest          TEXT NOT NULL,         -- SHA-256 of the bytes read
	at              TEXT NOT NULL,
	accepted        INTEGER NOT NULL,
	rejected        INTEGER NOT NULL
);

-- brp: identity (pseudonym, begindatum).
CREATE TABLE person (
	pseudonym       BLOB NOT NULL,
	begindatum      TEXT NOT NULL,
	addr            TEXT NOT NULL REFERENCES address(addr),
	gemeentecode    TEXT NOT NULL,
	bsn_sealed      BLOB NOT NULL,
	digest          BLOB NOT NULL,         -- of the content, to skip re-ingests
	ingest_id       INTEGER NOT NULL,
	PRIMARY KEY (pseudonym, begindatum)
) WITHOUT ROWID;
CREATE INDEX person_addr ON person(addr);
CREATE INDEX person_gemeente ON person(gemeentecode);

-- huisvesting: identity the address.
CREATE TABLE dwelling (
	addr            TEXT PRIMARY KEY REFERENCES address(addr),
	gemeentecode    TEXT NOT NULL,
	oppervlakte     INTEGER,
	gebruiksdoel    TEXT,
	max_bewoners    INTEGER,
	vergunning      TEXT,
	vergunning_tot  TEXT,
	digest          BLOB NOT NULL,
	ingest_id       INTEGER NOT NULL
) WITHOUT ROWID;

-- inspectie: identity the finding id.
CREATE TABLE finding (
	id              TEXT PRIMARY KEY,
	datum           TEXT NOT NULL,
	soort           TEXT NOT NULL,
	kvk             TEXT,
	addr            TEXT NOT NULL REFERENCES address(addr),
	gemeentecode    TEXT NOT NULL,
	aangetroffen    INTEGER NOT NULL,
	digest          BLOB NOT NULL,
	ingest_id       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX finding_addr ON finding(addr, soort, datum);

CREATE TABLE finding_person (
	finding_id      TEXT NOT NULL REFERENCES finding(id) ON DELETE CASCADE,
	pseudonym       BLOB NOT NULL,
	bsn_sealed      BLOB NOT NULL,
	PRIMARY KEY (finding_id, pseudonym)
) WITHOUT ROWID;
CREATE INDEX finding_person_pseudonym ON finding_person(pseudonym);

CREATE TABLE signal (
	id              TEXT PRIMARY KEY,      -- digest of the facts it rests on
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
	seq             INTEGER NOT NULL UNIQUE  -- order of creation, for cursors
) WITHOUT ROWID;
CREATE INDEX signal_rule ON signal(rule);

CREATE TABLE signal_evidence (
	signal_id       TEXT NOT NULL REFERENCES signal(id),
	pos             INTEGER NOT NULL,
	source          TEXT NOT NULL,
	record          TEXT NOT NULL,
	PRIMARY KEY (signal_id, pos)
) WITHOUT ROWID;

CREATE TABLE signal_recipient (
	signal_id       TEXT NOT NULL REFERENCES signal(id),
	oin             TEXT NOT NULL,
	PRIMARY KEY (signal_id, oin)
) WITHOUT ROWID;
CREATE INDEX signal_recipient_oin ON signal_recipient(oin);

-- The exchange log: append-only, hash-chained (see exlog.c).
CREATE TABLE exlog (
	seq             INTEGER PRIMARY KEY,
	at              TEXT NOT NULL,
	kind            TEXT NOT NULL,
	party           TEXT,
	subject         TEXT,
	detail          TEXT NOT NULL,         -- JSON object
	prev            TEXT NOT NULL,         -- hash of the previous entry (hex)
	hash            TEXT NOT NULL
);
CREATE TRIGGER exlog_no_update BEFORE UPDATE ON exlog
	BEGIN SELECT RAISE(ABORT, 'the exchange log is append-only'); END;
CREATE TRIGGER exlog_no_delete BEFORE DELETE ON exlog
	BEGIN SELECT RAISE(ABORT, 'the exchange log is append-only'); END;
