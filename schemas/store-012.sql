-- schakel store, migration 12: incremental matching and signals that end.
--
-- Every change to what the rules read marks what it touches, in the same
-- transaction (the store's writes and the triggers below): the
-- address of a registration (the old one too, when a correction or a purge
-- moves it away), of a dwelling and of a finding; the person of a
-- registration (ADRES_AFWIJKING, and the person's other addresses); a
-- gemeente whose coverage changes.  `schakel match --changed` (and the
-- daemon after new data) recomputes only the marked addresses and clears
-- the marks; a full match clears them too.  match_state holds what the
-- last run was as of, and a digest of the rules' parameters, so that a new
-- date or a changed configuration widens the next incremental run
-- (docs/architecture.md, *Incremental matching*).
--
-- The triggers ask before they insert: an INSERT OR IGNORE in a trigger
-- takes the conflict handling of the statement that fired it, and the
-- upserts of dwelling and finding would fail on a mark that exists.

-- A signal that no longer holds is kept, marked ended as of that match date.
ALTER TABLE signal ADD COLUMN ended_on TEXT;
-- The open signals by address: what a match may end.
CREATE INDEX signal_open ON signal(addr) WHERE ended_on IS NULL;

CREATE TABLE mark_addr (
	addr            TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE mark_person (
	pkey            INTEGER PRIMARY KEY    -- pseudonym_key() of the person
);
CREATE TABLE mark_gemeente (
	gemeentecode    TEXT PRIMARY KEY
) WITHOUT ROWID;

-- A row here: so much changed in one transaction (MARK_ALL_AFTER records,
-- store_sqlite.c) that the next run is a full one; the triggers then mark
-- nothing more, so a large ingest does not pay for marks a full run would
-- not read.
CREATE TABLE mark_all (
	id              INTEGER PRIMARY KEY CHECK (id = 1)
);

-- One row: the last match run (full or incremental).
CREATE TABLE match_state (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	as_of           TEXT NOT NULL,
	window_start    TEXT NOT NULL,
	params          TEXT NOT NULL,         -- the rules' parameters, as match.c writes them
	full_at         TEXT                   -- when the last full run committed (UTC)
);

-- A person is marked by pkey (pseudonym_key(), as person.pkey): an
-- integer key, cheap to insert at random places during a large ingest.
--
-- What a write adds or changes is marked by the store itself (mark_write()
-- in store_sqlite.c: the new address, the person), a repeat of the last
-- address skipped: a trigger's program for every row of a first load was
-- a tenth of the ingest.  The triggers mark what the store does not see:
-- the address a correction moves a registration or a finding away from,
-- and what a purge deletes.  The person statements are plain INSERT and
-- UPDATE, so OR IGNORE holds there.
CREATE TRIGGER person_mark_update AFTER UPDATE ON person
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT OR IGNORE INTO mark_addr(addr) VALUES (OLD.addr);
	INSERT OR IGNORE INTO mark_addr(addr) VALUES (NEW.addr);
	INSERT OR IGNORE INTO mark_person(pkey) VALUES (NEW.pkey);
END;
-- a purged registration: also where findings name the person, who may
-- have no registration left to find them by
CREATE TRIGGER person_mark_delete AFTER DELETE ON person
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT OR IGNORE INTO mark_addr(addr) VALUES (OLD.addr);
	INSERT OR IGNORE INTO mark_person(pkey) VALUES (OLD.pkey);
	INSERT OR IGNORE INTO mark_addr(addr) SELECT f.addr FROM finding_person fp
		JOIN finding f ON f.id = fp.finding_id WHERE fp.pseudonym = OLD.pseudonym;
END;
CREATE TRIGGER dwelling_mark_delete AFTER DELETE ON dwelling
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT INTO mark_addr(addr) SELECT OLD.addr WHERE NOT EXISTS
		(SELECT 1 FROM mark_addr WHERE addr = OLD.addr);
END;
CREATE TRIGGER finding_mark_update AFTER UPDATE ON finding
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT INTO mark_addr(addr) SELECT OLD.addr WHERE NOT EXISTS
		(SELECT 1 FROM mark_addr WHERE addr = OLD.addr);
	INSERT INTO mark_addr(addr) SELECT NEW.addr WHERE NOT EXISTS
		(SELECT 1 FROM mark_addr WHERE addr = NEW.addr);
END;
CREATE TRIGGER finding_mark_delete AFTER DELETE ON finding
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT INTO mark_addr(addr) SELECT OLD.addr WHERE NOT EXISTS
		(SELECT 1 FROM mark_addr WHERE addr = OLD.addr);
END;
-- retention deletes a signal: should its facts still hold, the next match
-- raises it anew, the incremental one too
CREATE TRIGGER signal_mark_delete AFTER DELETE ON signal
	WHEN NOT EXISTS (SELECT 1 FROM mark_all) BEGIN
	INSERT OR IGNORE INTO mark_addr(addr) VALUES (OLD.addr);
END;
CREATE TRIGGER coverage_mark_insert AFTER INSERT ON coverage BEGIN
	INSERT INTO mark_gemeente(gemeentecode) SELECT NEW.gemeentecode WHERE NOT EXISTS
		(SELECT 1 FROM mark_gemeente WHERE gemeentecode = NEW.gemeentecode);
END;
CREATE TRIGGER coverage_mark_delete AFTER DELETE ON coverage BEGIN
	INSERT INTO mark_gemeente(gemeentecode) SELECT OLD.gemeentecode WHERE NOT EXISTS
		(SELECT 1 FROM mark_gemeente WHERE gemeentecode = OLD.gemeentecode);
END;
