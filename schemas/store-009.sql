-- schakel store, migration 9: registrations found by an integer key.
-- The identity of a registration, (pseudonym, begindatum), had a unique
-- index: some 56 bytes an entry at a random place (the pseudonym is an
-- HMAC), 56 MB at 10^6 registrations, which outgrew the page cache so that
-- each insert read and wrote a page of it.  Now a registration is found
-- through pkey, the pseudonym's first 8 bytes as an integer
-- (pseudonym_key(), a function the store registers), and compared whole;
-- that index is a third of the size.  Identity is kept by the store, which
-- looks before it writes (store_put_person()).

CREATE TABLE person_new (
	pkey            INTEGER NOT NULL,      -- pseudonym_key(pseudonym)
	pseudonym       BLOB NOT NULL,
	begindatum      TEXT NOT NULL,
	addr            TEXT NOT NULL REFERENCES address(addr),
	gemeentecode    TEXT NOT NULL,
	bsn_sealed      BLOB NOT NULL,
	digest          BLOB NOT NULL,         -- of the content, to skip re-ingests
	ingest_id       INTEGER NOT NULL
);
INSERT INTO person_new(rowid, pkey, pseudonym, begindatum, addr, gemeentecode, bsn_sealed,
		       digest, ingest_id)
	SELECT rowid, pseudonym_key(pseudonym), pseudonym, begindatum, addr, gemeentecode,
	       bsn_sealed, digest, ingest_id FROM person ORDER BY rowid;
DROP TABLE person;
ALTER TABLE person_new RENAME TO person;
CREATE INDEX person_pkey ON person(pkey);
