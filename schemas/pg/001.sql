-- schakel store on PostgreSQL, migration 1: the schema of SQLite's
-- store-001.sql to store-012.sql, as it stands after them (a new
-- PostgreSQL database has no history to replay; docs/architecture.md,
-- "The store").  Applied by store_pg.c inside one transaction, under an
-- advisory lock, and recorded in schema_migration.  No column holds a BSN
-- in clear: persons are keyed by an HMAC pseudonym and the BSN is kept only
-- as an AES-256-GCM ciphertext (bsn_sealed).
--
-- Text that is compared or ordered (address keys, dates, times, ids) is
-- COLLATE "C": byte order, as in SQLite, whatever the database's locale.

CREATE TABLE schema_migration (
	version         INTEGER PRIMARY KEY,
	applied_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The keyed check value of the pseudonym key the database was made with
-- (HMAC-SHA256 of a fixed label, crypto_key_check()): a node whose key
-- differs refuses to start.  Never the key itself.
CREATE TABLE store_key (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	pseudonym_check TEXT NOT NULL,
	made_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE address (
	addr            TEXT COLLATE "C" PRIMARY KEY,  -- "POSTCODE|NR|LETTER|TOEV"
	gemeentecode    TEXT COLLATE "C" NOT NULL,
	nummeraanduiding TEXT,                 -- NULL when no source gave it
	postcode        TEXT NOT NULL,
	huisnummer      INTEGER NOT NULL,
	huisletter      TEXT NOT NULL,
	toevoeging      TEXT NOT NULL
);

-- One row per file or upload read by an adapter.
CREATE TABLE ingest (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	adapter         TEXT NOT NULL,
	origin          TEXT NOT NULL,         -- file name, upload or source
	party           TEXT,                  -- OIN of the supplier, if known
	digest          TEXT NOT NULL,         -- SHA-256 of the bytes read
	at              TEXT COLLATE "C" NOT NULL,
	accepted        BIGINT NOT NULL,
	rejected        BIGINT NOT NULL
);

-- brp: identity (pseudonym, begindatum).  digest: of the content
-- (address key, gemeente, nummeraanduiding), to skip re-ingests.
CREATE TABLE person (
	pseudonym       BYTEA NOT NULL,
	begindatum      TEXT COLLATE "C" NOT NULL,
	addr            TEXT COLLATE "C" NOT NULL REFERENCES address(addr),
	gemeentecode    TEXT COLLATE "C" NOT NULL,
	bsn_sealed      BYTEA NOT NULL,
	digest          BYTEA NOT NULL,
	ingest_id       BIGINT NOT NULL,
	PRIMARY KEY (pseudonym, begindatum)
);

-- Which gemeenten deliver BRP data (matching.md).
CREATE TABLE coverage (
	gemeentecode    TEXT COLLATE "C" PRIMARY KEY
);

-- huisvesting: identity the address.
CREATE TABLE dwelling (
	addr            TEXT COLLATE "C" PRIMARY KEY REFERENCES address(addr),
	gemeentecode    TEXT COLLATE "C" NOT NULL,
	oppervlakte     BIGINT,
	gebruiksdoel    TEXT,
	max_bewoners    BIGINT,
	vergunning      TEXT,
	vergunning_tot  TEXT COLLATE "C",
	ingest_id       BIGINT NOT NULL
);

-- inspectie: identity the finding id.
CREATE TABLE finding (
	id              TEXT COLLATE "C" PRIMARY KEY,
	datum           TEXT COLLATE "C" NOT NULL,
	soort           TEXT NOT NULL,
	kvk             TEXT,
	addr            TEXT COLLATE "C" NOT NULL REFERENCES address(addr),
	gemeentecode    TEXT COLLATE "C" NOT NULL,
	aangetroffen    BIGINT NOT NULL,
	ingest_id       BIGINT NOT NULL
);
CREATE INDEX finding_addr ON finding(addr, soort, datum);

CREATE TABLE finding_person (
	finding_id      TEXT COLLATE "C" NOT NULL REFERENCES finding(id) ON DELETE CASCADE,
	pseudonym       BYTEA NOT NULL,
	bsn_sealed      BYTEA NOT NULL,
	PRIMARY KEY (finding_id, pseudonym)
);
CREATE INDEX finding_person_pseudonym ON finding_person(pseudonym);

CREATE TABLE signal (
	seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- order of creation
	id              TEXT COLLATE "C" NOT NULL UNIQUE,  -- digest of the facts it rests on
	rule            TEXT NOT NULL,
	as_of           TEXT COLLATE "C" NOT NULL,
	addr            TEXT COLLATE "C" NOT NULL REFERENCES address(addr),
	person          BYTEA,                 -- ADRES_AFWIJKING: the pseudonym
	reg_addr        TEXT COLLATE "C" REFERENCES address(addr),
	registered      BIGINT NOT NULL,
	observed        BIGINT NOT NULL,
	oppervlakte     BIGINT,
	max_bewoners    BIGINT,
	created         TEXT COLLATE "C" NOT NULL,
	evidence        TEXT NOT NULL,         -- JSON: [[source, record], ...] in order
	trace_id        TEXT,
	ended_on        TEXT COLLATE "C"
);
CREATE INDEX signal_rule ON signal(rule);
CREATE INDEX signal_open ON signal(addr) WHERE ended_on IS NULL;

CREATE TABLE signal_recipient (
	oin             TEXT COLLATE "C" NOT NULL,
	signal_seq      BIGINT NOT NULL REFERENCES signal(seq),
	PRIMARY KEY (oin, signal_seq)
);
CREATE INDEX signal_recipient_seq ON signal_recipient(signal_seq);

CREATE TABLE feedback (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	signal_id       TEXT COLLATE "C" NOT NULL REFERENCES signal(id),
	oin             TEXT NOT NULL,
	outcome         TEXT NOT NULL CHECK (outcome IN ('bevestigd', 'onterecht', 'in_behandeling')),
	note            TEXT NOT NULL,
	at              TEXT COLLATE "C" NOT NULL
);
CREATE INDEX feedback_signal ON feedback(signal_id);

-- The delivery outbox (times are Unix seconds).
CREATE TABLE delivery (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	signal_id       TEXT COLLATE "C" NOT NULL REFERENCES signal(id),
	oin             TEXT COLLATE "C" NOT NULL,
	message_id      TEXT NOT NULL UNIQUE,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	created         BIGINT NOT NULL,
	next_at         BIGINT NOT NULL,
	delivered_at    BIGINT,
	last_status     BIGINT,
	last_error      TEXT,
	UNIQUE (signal_id, oin)
);
CREATE INDEX delivery_due ON delivery(state, next_at);
CREATE INDEX delivery_next ON delivery(state, oin, next_at);

CREATE TABLE source_state (
	name            TEXT PRIMARY KEY,
	cursor          TEXT,
	etag            TEXT,
	last_modified   TEXT,
	failures        INTEGER NOT NULL DEFAULT 0,
	next_at         BIGINT NOT NULL DEFAULT 0,
	last_ok         BIGINT
);

-- The exchange log: append-only, hash-chained (exlog.c).  detail is the
-- JSON text exactly as hashed (TEXT, not jsonb, which would rewrite it).
-- Appends are serialised by an advisory lock taken inside the writing
-- transaction (store_pg.c, store_pg_log_head()).
CREATE TABLE exlog (
	seq             BIGINT PRIMARY KEY,
	at              TEXT COLLATE "C" NOT NULL,
	kind            TEXT NOT NULL,
	party           TEXT,
	subject         TEXT,
	detail          TEXT NOT NULL,
	prev            TEXT NOT NULL,
	hash            TEXT NOT NULL,
	trace_id        TEXT
);
CREATE INDEX exlog_trace ON exlog(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX exlog_disclosure ON exlog(subject) WHERE kind = 'disclosure';
CREATE FUNCTION exlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the exchange log is append-only';
END $$;
CREATE TRIGGER exlog_no_change BEFORE UPDATE OR DELETE ON exlog
	FOR EACH ROW EXECUTE FUNCTION exlog_append_only();
CREATE TRIGGER exlog_no_truncate BEFORE TRUNCATE ON exlog
	FOR EACH STATEMENT EXECUTE FUNCTION exlog_append_only();

CREATE TABLE checkpoint (
	seq             BIGINT PRIMARY KEY,
	hash            TEXT NOT NULL,
	at              TEXT NOT NULL,
	signature       BYTEA NOT NULL,
	certificate     TEXT NOT NULL
);

-- Incremental matching (SQLite's store-012.sql).  The PostgreSQL store
-- does not mark single addresses yet: a transaction that changes records
-- sets mark_all, so the next `match --changed` is a full run.
CREATE TABLE mark_addr (addr TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE mark_person (pseudonym BYTEA PRIMARY KEY);
CREATE TABLE mark_gemeente (gemeentecode TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE mark_all (id INTEGER PRIMARY KEY CHECK (id = 1));
CREATE TABLE match_state (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	as_of           TEXT NOT NULL,
	window_start    TEXT NOT NULL,
	params          TEXT NOT NULL,
	full_at         TEXT
);
