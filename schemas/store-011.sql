-- schakel store, migration 11: disclosures found by signal.
-- Every signal handed to a recipient (an inbox page read, a push it
-- accepted) is a `disclosure` entry in the exchange log with the signal id
-- as subject (disclose.c).  An access request lists those of a person's
-- signals; this index finds them without reading the whole log, and only
-- disclosure entries pay for it.

CREATE INDEX exlog_disclosure ON exlog(subject) WHERE kind = 'disclosure';
