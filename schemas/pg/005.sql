-- schakel store on PostgreSQL, migration 5: ldv_subject_each, as SQLite's
-- view of store-013.sql: the data subjects of every processing record
-- (pg/002.sql), one a row, numbered n from 0 within their span.  The
-- store reads the batches themselves (store_pg_ldv.c); the view is for
-- an operator's and the tests' queries, the same on both stores.

CREATE VIEW ldv_subject_each(span_seq, n, pseudonym) AS
	SELECT b.span_seq, b.first + i, substring(b.pseudonyms FROM i * 32 + 1 FOR 32)
	FROM (SELECT span_seq, first, pseudonyms FROM ldv_subject
	      UNION ALL
	      SELECT seq, 0, pseudonyms FROM ldv_span WHERE length(pseudonyms) >= 32) b,
	     LATERAL generate_series(0, length(b.pseudonyms) / 32 - 1) AS i;
