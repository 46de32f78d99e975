-- schakel store, migration 10: the W3C trace (docs/formats.md, "Traces")
-- each exchange belongs to.  An exchange log entry's trace id is covered
-- by its hash when present; entries written before this migration have
-- none and verify as before.  A signal keeps the trace of the match that
-- raised it, so that its deliveries and inbox reads carry it on.
ALTER TABLE exlog ADD COLUMN trace_id TEXT;
CREATE INDEX exlog_trace ON exlog(trace_id) WHERE trace_id IS NOT NULL;
ALTER TABLE signal ADD COLUMN trace_id TEXT;
