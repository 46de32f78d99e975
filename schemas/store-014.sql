-- schakel store, migration 14: the registrations by address, for the
-- incremental match (issue 14).
--
-- An incremental run recomputes the marked addresses, and needs the
-- current registration of every person registered at one of them; without
-- a way to find registrations by address it read the whole person table
-- (fill_current() in store_sqlite.c).  An index on person(addr) costs
-- every ingest a B-tree insert per registration (store-005.sql dropped
-- it); person_at is kept instead by the incremental run itself: before it
-- reads, it adds the (address, person key) of every registration written
-- since the last one (person rowids above person_at_state.upto, a range of
-- the table's own B-tree), so an ingest writes nothing more and a run
-- reads what changed since the run before.  A full run leaves it alone.
--
-- person_at may hold more than person does (a person key no longer
-- registered there, until the triggers below remove it): the run reads
-- each person's registrations through person_pkey and keeps the current
-- one, so a spare entry costs a lookup, never a wrong count.  Whatever
-- renumbers person rowids (a VACUUM, a table rebuild) must set upto to 0:
-- the next incremental run then reads the table once, as before.

CREATE TABLE person_at (
	addr            TEXT NOT NULL,
	pkey            INTEGER NOT NULL,      -- person.pkey of a registration at addr
	PRIMARY KEY (addr, pkey)
) WITHOUT ROWID;
CREATE TABLE person_at_state (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	upto            INTEGER NOT NULL       -- person rowids up to this are in person_at
);
INSERT INTO person_at_state(id, upto) VALUES (1, 0);

-- A correction that moves a registration: its new address now (a row
-- above upto would be added anyway), and the old one forgotten when no
-- other registration of that key is left there.  The person statements are
-- plain UPDATE and DELETE, so OR IGNORE holds here.
CREATE TRIGGER person_at_update AFTER UPDATE OF addr ON person
	WHEN OLD.addr <> NEW.addr BEGIN
	INSERT OR IGNORE INTO person_at(addr, pkey) VALUES (NEW.addr, NEW.pkey);
	DELETE FROM person_at WHERE addr = OLD.addr AND pkey = OLD.pkey AND NOT EXISTS
		(SELECT 1 FROM person WHERE pkey = OLD.pkey AND addr = OLD.addr);
END;
-- A purged or withdrawn registration: forgotten as above; and as SQLite
-- gives a new row the largest rowid plus one, a deleted last row lowers
-- upto, or the rows written next would reuse rowids at or below it.
CREATE TRIGGER person_at_delete AFTER DELETE ON person BEGIN
	DELETE FROM person_at WHERE addr = OLD.addr AND pkey = OLD.pkey AND NOT EXISTS
		(SELECT 1 FROM person WHERE pkey = OLD.pkey AND addr = OLD.addr);
	UPDATE person_at_state SET upto = coalesce((SELECT max(rowid) FROM person), 0)
		WHERE id = 1 AND upto > coalesce((SELECT max(rowid) FROM person), 0);
END;
