-- schakel store, migration 5: fewer indexes on person, so an ingest does
-- one random B-tree insert per registration instead of three.
-- person_addr was used by no query; coverage (which gemeenten deliver BRP
-- data, matching.md) is kept in a small table of its own instead of being
-- looked up through person_gemeente.

DROP INDEX person_addr;
DROP INDEX person_gemeente;
CREATE TABLE coverage (
	gemeentecode    TEXT PRIMARY KEY
) WITHOUT ROWID;
INSERT INTO coverage SELECT DISTINCT gemeentecode FROM person;
