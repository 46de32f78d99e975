/*
 * store_pg_ldv.c - the read side of the processing records (Logboek
 * Dataverwerkingen, ldv.h) on PostgreSQL: searches of the spans (by data
 * subject, activity, trace), a span's subjects and the OTLP export's
 * cursor.  As store_sqlite_ldv.c, against pg/002.sql's tables; the
 * writes are in store_pg.c and store_pg_records.c.
 *
 * Results come as text: a bytea column is decoded with PQunescapeBytea().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

/* The columns ldv_row() reads, and the filters but the data subject's. */
#define LDV_COLUMNS "s.seq, s.trace_id, s.span_id, s.parent_span_id, s.name, s.status," \
	" s.start_ns, s.end_ns, s.activity, s.exlog_seq, s.object, s.party, s.subjects," \
	" s.pseudonyms"
#define LDV_FILTERS " AND ($2::text IS NULL OR s.activity = $2)" \
	" AND ($3::text IS NULL OR s.trace_id = $3) ORDER BY s.seq LIMIT $4"

/*
 * The spans with seq > $1 and the filters; with $5, a data subject's:
 * those that hold it (inline or in ldv_subject, at a pseudonym's place:
 * one scan, as on SQLite, no index) and their parents.
 */
static const char ldv_all_sql[] = "SELECT " LDV_COLUMNS " FROM ldv_span s WHERE s.seq > $1"
	LDV_FILTERS;
static const char ldv_of_sql[] = "WITH of AS (SELECT span_seq FROM ldv_subject"
	" WHERE position($5::bytea IN pseudonyms) % 32 = 1 UNION SELECT seq FROM ldv_span"
	" WHERE position($5::bytea IN pseudonyms) % 32 = 1)"
	" SELECT " LDV_COLUMNS " FROM ldv_span s WHERE s.seq > $1 AND (s.seq IN"
	" (SELECT span_seq FROM of) OR s.span_id IN (SELECT c.parent_span_id FROM ldv_span c"
	" WHERE c.seq IN (SELECT span_seq FROM of)))" LDV_FILTERS;

static int64_t ldv_int(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

/*
 * Fills *out from row i of res (LDV_COLUMNS); its strings are res's.
 * Returns the decoded pseudonyms (the caller PQfreemem()s them; NULL for
 * none) or sets *oom.
 */
static unsigned char *ldv_row(const PGresult *res, int i, struct ldv_span_row *out, bool *oom)
{
	unsigned char *b = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	out->seq = ldv_int(res, i, 0);
	pg_value_copy(res, i, 1, out->trace_id, sizeof(out->trace_id));
	pg_value_copy(res, i, 2, out->span_id, sizeof(out->span_id));
	pg_value_copy(res, i, 3, out->parent_span_id, sizeof(out->parent_span_id));
	out->name = PQgetvalue(res, i, 4);
	out->status = (int)ldv_int(res, i, 5);
	out->start_ns = ldv_int(res, i, 6);
	out->end_ns = ldv_int(res, i, 7);
	out->activity = PQgetvalue(res, i, 8);
	out->exlog_seq = ldv_int(res, i, 9);
	out->object = pg_value_or_null(res, i, 10);
	out->party = pg_value_or_null(res, i, 11);
	out->subjects = (long)ldv_int(res, i, 12);
	*oom = false;
	if (!PQgetisnull(res, i, 13) &&
	    (b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 13), &len)) == NULL)
		*oom = true;
	out->pseudonyms = b;
	out->npseudonyms = b != NULL ? len / PSEUDONYM_LEN : 0;
	return b;
}

enum status store_pg_ldv_search(struct store_pg *s, const struct ldv_filter *f,
				int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
				struct errbuf *e)
{
	struct params p = { 0 };
	enum status rc = ST_OK;
	PGresult *res;

	p_int(&p, f->after);
	p_text(&p, f->activity);
	p_text(&p, f->trace);
	p_long_or_null(&p, f->limit > 0 ? f->limit : -1);	/* LIMIT NULL: all */
	if (f->subject != NULL)
		p_bytes(&p, f->subject, PSEUDONYM_LEN);
	res = pg_run(s, f->subject != NULL ? ldv_of_sql : ldv_all_sql, &p, PGRES_TUPLES_OK,
		     "processing records", e);
	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; rc == ST_OK && i < PQntuples(res); i++) {
		struct ldv_span_row r;
		bool oom;
		unsigned char *b = ldv_row(res, i, &r, &oom);

		if (oom)
			rc = errbuf_set(e, ST_FAIL, "out of memory");
		else if (cb(arg, &r) != 0)
			rc = ST_FAIL;
		PQfreemem(b);
	}
	PQclear(res);
	return rc;
}

/* Calls cb for the subjects numbered from `from` of the batch in row i
 * of res (first, pseudonyms), while *done < limit (limit <= 0: all). */
static enum status ldv_batch(const PGresult *res, int i, long from, long limit, long *done,
			     int (*cb)(void *arg, long n, const uint8_t *pseudonym), void *arg,
			     struct errbuf *e)
{
	long first = (long)ldv_int(res, i, 0);
	size_t len = 0;
	unsigned char *p = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 1), &len);
	long count = (long)(len / PSEUDONYM_LEN);
	enum status rc = ST_OK;

	if (p == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	for (long k = from > first ? from - first : 0;
	     k < count && (limit <= 0 || *done < limit); k++, (*done)++)
		if (cb(arg, first + k, p + k * PSEUDONYM_LEN) != 0) {
			rc = ST_FAIL;
			break;
		}
	PQfreemem(p);
	return rc;
}

enum status store_pg_ldv_subjects(struct store_pg *s, int64_t seq, long from, long limit,
				  int (*cb)(void *arg, long n, const uint8_t *pseudonym),
				  void *arg, struct errbuf *e)
{
	struct params p = { 0 };
	enum status rc = ST_OK;
	long done = 0;
	PGresult *res;

	p_int(&p, seq);
	p_int(&p, from);
	res = pg_run(s, "SELECT 0, pseudonyms FROM ldv_span WHERE seq = $1 AND"
		     " length(pseudonyms) / 32 > $2 UNION ALL SELECT first, pseudonyms"
		     " FROM ldv_subject WHERE span_seq = $1 AND first + length(pseudonyms)"
		     " / 32 > $2 ORDER BY 1", &p, PGRES_TUPLES_OK, "processing record subjects", e);
	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; rc == ST_OK && (limit <= 0 || done < limit) && i < PQntuples(res); i++)
		rc = ldv_batch(res, i, from, limit, &done, cb, arg, e);
	PQclear(res);
	return rc;
}

enum status store_pg_ldv_cursor(struct store_pg *s, int64_t *seq, long *item, struct errbuf *e)
{
	PGresult *res;

	*seq = 0;
	*item = 0;
	res = pg_run(s, "SELECT span_seq, subject_n FROM ldv_export WHERE id = 1", NULL,
		     PGRES_TUPLES_OK, "export cursor", e);
	if (res == NULL)
		return ST_FAIL;
	if (PQntuples(res) == 1) {
		*seq = ldv_int(res, 0, 0);
		*item = (long)ldv_int(res, 0, 1);
	}
	PQclear(res);
	return ST_OK;
}

enum status store_pg_ldv_cursor_set(struct store_pg *s, int64_t seq, long item,
				    struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, seq);
	p_int(&p, item);
	return pg_run_done(s, "UPDATE ldv_export SET span_seq = $1, subject_n = $2 WHERE id = 1",
			   &p, "export cursor", e);
}
