-- PLACEHOLDER of branch ldv2: migration 11 belongs to another branch.  It
-- only lets migration 13 (processing records) apply in this tree, since
-- migrate() applies migrations in sequence.  The lead drops this file when
-- merging (and renumbers 013).
SELECT 1;
