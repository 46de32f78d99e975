/*
 * store_sqlite_ldv.c - the processing records (Logboek Dataverwerkingen,
 * ldv.h) on SQLite: spans, held back and written many to a statement
 * (store_sqlite_ldv_span_defer()), their subjects, searches and the cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

/* --- processing records (Logboek Dataverwerkingen) ------------------------ */

#define LDV_SPAN_ROW "(?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define LDV_SPAN_COLS 13

/* The insert of LDV_DEFER spans in one statement, into q. */
static void ldv_spans_sql(char *q, size_t n)
{
	size_t len = (size_t)snprintf(q, n, "INSERT INTO ldv_span(trace_id, span_id, parent_span_id,"
				      " name, status, start_ns, end_ns, activity, exlog_seq, object,"
				      " party, subjects, pseudonyms) VALUES ");

	for (int i = 0; i < LDV_DEFER && len < n; i++)
		len += (size_t)snprintf(q + len, n - len, "%s" LDV_SPAN_ROW, i ? "," : "");
}

/* Statement id of the processing records, prepared once and kept. */
static sqlite3_stmt *ldv_stmt(struct store_sqlite *s, enum ldv_q id, struct errbuf *e)
{
	static const char *const fixed[LDV_Q_COUNT] = {
		[LDV_Q_SPAN] = "INSERT INTO ldv_span(trace_id, span_id, parent_span_id, name,"
			" status, start_ns, end_ns, activity, exlog_seq, object, party, subjects,"
			" pseudonyms) VALUES " LDV_SPAN_ROW,
		[LDV_Q_END] = "UPDATE ldv_span SET end_ns = ?2, status = ?3, exlog_seq = ?4,"
			" subjects = ?5 WHERE seq = ?1",
		[LDV_Q_FINDING] = "SELECT pseudonym FROM finding_person WHERE finding_id = ?1",
		[LDV_Q_SUBJECTS] = "INSERT INTO ldv_subject(span_seq, first, pseudonyms)"
			" VALUES (?1, ?2, ?3)",
	};

	char q[128 + LDV_DEFER * 48];

	if (s->ldv_stmt[id] == NULL) {
		if (id == LDV_Q_SPANS)
			ldv_spans_sql(q, sizeof(q));
		else
			snprintf(q, sizeof(q), "%s", fixed[id]);
		if (sqlite3_prepare_v3(s->db, q, -1, SQLITE_PREPARE_PERSISTENT, &s->ldv_stmt[id],
				       NULL) != SQLITE_OK) {
			db_error(s, e, "processing records");
			return NULL;
		}
		return s->ldv_stmt[id];
	}
	sqlite3_reset(s->ldv_stmt[id]);
	sqlite3_clear_bindings(s->ldv_stmt[id]);
	return s->ldv_stmt[id];
}

/* Binds span r as the row starting at parameter base + 1. */
static void ldv_bind_span(sqlite3_stmt *st, int base, const struct ldv_span_row *r)
{
	sqlite3_bind_text(st, base + 1, r->trace_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, base + 2, r->span_id, -1, SQLITE_STATIC);
	bind_text_or_null(st, base + 3, r->parent_span_id);
	sqlite3_bind_text(st, base + 4, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, base + 5, r->status);
	sqlite3_bind_int64(st, base + 6, r->start_ns);
	sqlite3_bind_int64(st, base + 7, r->end_ns);
	sqlite3_bind_text(st, base + 8, r->activity, -1, SQLITE_STATIC);
	if (r->exlog_seq > 0)
		sqlite3_bind_int64(st, base + 9, r->exlog_seq);
	bind_text_or_null(st, base + 10, r->object);
	bind_text_or_null(st, base + 11, r->party);
	sqlite3_bind_int64(st, base + 12, r->subjects);
	if (r->npseudonyms > 0)
		sqlite3_bind_blob(st, base + 13, r->pseudonyms, (int)(r->npseudonyms * PSEUDONYM_LEN),
				  SQLITE_STATIC);
}

enum status store_sqlite_ldv_span_add(struct store_sqlite *s, struct ldv_span_row *r,
				      struct errbuf *e)
{
	sqlite3_stmt *st = ldv_stmt(s, LDV_Q_SPAN, e);

	if (st == NULL)
		return ST_FAIL;
	ldv_bind_span(st, 0, r);
	if (step_done(s, st, e, "processing record") != ST_OK)
		return ST_FAIL;
	r->seq = sqlite3_last_insert_rowid(s->db);
	return ST_OK;
}

enum status store_sqlite_ldv_span_end(struct store_sqlite *s, int64_t seq, int64_t end_ns,
				      int status, int64_t exlog_seq, long subjects,
				      struct errbuf *e)
{
	sqlite3_stmt *st = ldv_stmt(s, LDV_Q_END, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, end_ns);
	sqlite3_bind_int(st, 3, status);
	if (exlog_seq > 0)
		sqlite3_bind_int64(st, 4, exlog_seq);
	sqlite3_bind_int64(st, 5, subjects);
	return step_done(s, st, e, "processing record");
}

enum status store_sqlite_ldv_subjects_add(struct store_sqlite *s, int64_t seq, long first,
					  const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
					  struct errbuf *e)
{
	sqlite3_stmt *st;

	if (n == 0)
		return ST_OK;
	if ((st = ldv_stmt(s, LDV_Q_SUBJECTS, e)) == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_blob(st, 3, pseudonyms, (int)(n * PSEUDONYM_LEN), SQLITE_STATIC);
	return step_done(s, st, e, "processing record subjects");
}

enum status store_sqlite_finding_persons(struct store_sqlite *s, const char *finding_id,
					 int (*cb)(void *arg, const uint8_t *pseudonym),
					 void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = ldv_stmt(s, LDV_Q_FINDING, e);
	int step;

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, finding_id, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_bytes(st, 0) == PSEUDONYM_LEN &&
		    cb(arg, sqlite3_column_blob(st, 0)) != 0) {
			sqlite3_reset(st);
			return ST_FAIL;
		}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? ST_OK : db_error(s, e, "a finding's persons");
}

/* Fills r from a row of LDV_COLUMNS (valid until the next step). */
#define LDV_COLUMNS "s.seq, s.trace_id, s.span_id, s.parent_span_id, s.name, s.status," \
	" s.start_ns, s.end_ns, s.activity, s.exlog_seq, s.object, s.party, s.subjects," \
	" s.pseudonyms"
static void ldv_row(sqlite3_stmt *st, struct ldv_span_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = sqlite3_column_int64(st, 0);
	column_copy(st, 1, r->trace_id, sizeof(r->trace_id));
	column_copy(st, 2, r->span_id, sizeof(r->span_id));
	column_copy(st, 3, r->parent_span_id, sizeof(r->parent_span_id));
	r->name = (const char *)sqlite3_column_text(st, 4);
	r->status = sqlite3_column_int(st, 5);
	r->start_ns = sqlite3_column_int64(st, 6);
	r->end_ns = sqlite3_column_int64(st, 7);
	r->activity = (const char *)sqlite3_column_text(st, 8);
	r->exlog_seq = sqlite3_column_int64(st, 9);
	r->object = (const char *)sqlite3_column_text(st, 10);
	r->party = (const char *)sqlite3_column_text(st, 11);
	r->subjects = (long)sqlite3_column_int64(st, 12);
	r->pseudonyms = sqlite3_column_blob(st, 13);
	r->npseudonyms = (size_t)sqlite3_column_bytes(st, 13) / PSEUDONYM_LEN;
}

/* temp.ldv_of: the spans with this data subject (one scan of ldv_subject). */
static enum status ldv_spans_of(struct store_sqlite *s, const uint8_t *subject, struct errbuf *e)
{
	sqlite3_stmt *st;
	enum status rc;

	if (sqlite3_exec(s->db, "CREATE TEMP TABLE IF NOT EXISTS ldv_of(span_seq INTEGER"
			 " PRIMARY KEY); DELETE FROM temp.ldv_of;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO temp.ldv_of SELECT span_seq"
			       " FROM ldv_subject WHERE instr(pseudonyms, ?1) % 32 = 1 UNION"
			       " SELECT seq FROM ldv_span WHERE instr(pseudonyms, ?1) % 32 = 1", -1,
			       &st, NULL) != SQLITE_OK)
		return db_error(s, e, "processing records");
	sqlite3_bind_blob(st, 1, subject, PSEUDONYM_LEN, SQLITE_STATIC);
	rc = step_done(s, st, e, "processing records");
	sqlite3_finalize(st);
	return rc;
}

enum status store_sqlite_ldv_search(struct store_sqlite *s, const struct ldv_filter *f,
				    int (*cb)(void *arg, const struct ldv_span_row *r),
				    void *arg, struct errbuf *e)
{
	char q[1024];
	sqlite3_stmt *st;
	enum status rc = ST_OK;
	int step;

	/* A data subject is found by a scan of ldv_subject: an index on the
	 * pseudonym would cost every ingest a random write per person, and an
	 * access request is rare. */
	snprintf(q, sizeof(q), "SELECT " LDV_COLUMNS " FROM ldv_span s WHERE s.seq > ?1"
		 "%s%s%s ORDER BY s.seq LIMIT ?5",
		 f->subject != NULL ? " AND (s.seq IN (SELECT span_seq FROM temp.ldv_of) OR"
				      " s.span_id IN (SELECT c.parent_span_id FROM ldv_span c"
				      " WHERE c.seq IN (SELECT span_seq FROM temp.ldv_of)))" : "",
		 f->activity != NULL ? " AND s.activity = ?3" : "",
		 f->trace != NULL ? " AND s.trace_id = ?4" : "");
	if (f->subject != NULL && ldv_spans_of(s, f->subject, e) != ST_OK)
		return ST_FAIL;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "processing records");
	sqlite3_bind_int64(st, 1, f->after);
	if (f->subject != NULL)
		sqlite3_bind_blob(st, 2, f->subject, PSEUDONYM_LEN, SQLITE_STATIC);
	if (f->activity != NULL)
		sqlite3_bind_text(st, 3, f->activity, -1, SQLITE_STATIC);
	if (f->trace != NULL)
		sqlite3_bind_text(st, 4, f->trace, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, f->limit > 0 ? f->limit : -1);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct ldv_span_row r;

		ldv_row(st, &r);
		if (cb(arg, &r) != 0) {
			rc = ST_FAIL;
			break;
		}
	}
	if (rc == ST_OK && step != SQLITE_DONE)
		rc = db_error(s, e, "processing records");
	sqlite3_finalize(st);
	return rc;
}

enum status store_sqlite_ldv_subjects(struct store_sqlite *s, int64_t seq, long from,
				      long limit,
				      int (*cb)(void *arg, long n, const uint8_t *pseudonym),
				      void *arg, struct errbuf *e)
{
	sqlite3_stmt *st;
	enum status rc = ST_OK;
	long done = 0;
	int step;

	if (sqlite3_prepare_v2(s->db, "SELECT 0, pseudonyms FROM ldv_span WHERE seq = ?1 AND"
			       " length(pseudonyms) / 32 > ?2 UNION ALL SELECT first, pseudonyms"
			       " FROM ldv_subject WHERE span_seq = ?1 AND first + length(pseudonyms)"
			       " / 32 > ?2 ORDER BY 1", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "processing record subjects");
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, from);
	while (rc == ST_OK && (limit <= 0 || done < limit) &&
	       (step = sqlite3_step(st)) == SQLITE_ROW) {
		long first = (long)sqlite3_column_int64(st, 0);
		const uint8_t *p = sqlite3_column_blob(st, 1);
		long count = sqlite3_column_bytes(st, 1) / PSEUDONYM_LEN;

		for (long i = from > first ? from - first : 0;
		     i < count && (limit <= 0 || done < limit); i++, done++)
			if (cb(arg, first + i, p + i * PSEUDONYM_LEN) != 0) {
				rc = ST_FAIL;
				break;
			}
	}
	if (rc == ST_OK && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = db_error(s, e, "processing record subjects");
	sqlite3_finalize(st);
	return rc;
}

enum status store_sqlite_ldv_cursor(struct store_sqlite *s, int64_t *seq, long *item,
				    struct errbuf *e)
{
	sqlite3_stmt *st;
	int step;

	*seq = 0;
	*item = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT span_seq, subject_n FROM ldv_export WHERE id = 1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "export cursor");
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		*item = (long)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_error(s, e, "export cursor");
	return ST_OK;
}

enum status store_sqlite_ldv_cursor_set(struct store_sqlite *s, int64_t seq, long item,
					struct errbuf *e)
{
	sqlite3_stmt *st;
	enum status rc;

	if (sqlite3_prepare_v2(s->db, "UPDATE ldv_export SET span_seq = ?1, subject_n = ?2"
			       " WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "export cursor");
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, item);
	rc = step_done(s, st, e, "export cursor");
	sqlite3_finalize(st);
	return rc;
}

/* A span held for a multi-row insert: a copy of the row and its strings. */
struct ldv_deferred {
	struct ldv_span_row r;
	char name[40], activity[512], object[96], party[24];
	uint8_t *pseudonyms;	/* malloc'd, or NULL */
};

/* Frees the spans held (at a rollback; after they are written). */
void ldv_forget(struct store_sqlite *s)
{
	for (int i = 0; i < s->ldv_ndeferred; i++)
		free(s->ldv_deferred[i].pseudonyms);
	s->ldv_ndeferred = 0;
}

/* Writes the spans held: one statement for a full set, else one each. */
enum status ldv_flush(struct store_sqlite *s, struct errbuf *e)
{
	enum status rc = ST_OK;

	if (s->ldv_ndeferred == LDV_DEFER) {
		sqlite3_stmt *st = ldv_stmt(s, LDV_Q_SPANS, e);

		if (st == NULL)
			rc = ST_FAIL;
		for (int i = 0; rc == ST_OK && i < LDV_DEFER; i++)
			ldv_bind_span(st, i * LDV_SPAN_COLS, &s->ldv_deferred[i].r);
		if (rc == ST_OK)
			rc = step_done(s, st, e, "processing records");
	} else {
		for (int i = 0; rc == ST_OK && i < s->ldv_ndeferred; i++)
			rc = store_sqlite_ldv_span_add(s, &s->ldv_deferred[i].r, e);
	}
	ldv_forget(s);
	return rc;
}

/* Copies s (NULL: "") into out of n bytes, cut to fit. */
static void ldv_copy(char *out, size_t n, const char *s)
{
	size_t len = s != NULL ? strnlen(s, n - 1) : 0;

	memcpy(out, s != NULL ? s : "", len);
	out[len] = '\0';
}

enum status store_sqlite_ldv_span_defer(struct store_sqlite *s, const struct ldv_span_row *r,
					struct errbuf *e)
{
	struct ldv_deferred *d;
	size_t bytes = r->npseudonyms * PSEUDONYM_LEN;

	if (s->ldv_deferred == NULL &&
	    (s->ldv_deferred = calloc(LDV_DEFER, sizeof(*s->ldv_deferred))) == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	d = &s->ldv_deferred[s->ldv_ndeferred];
	d->r = *r;
	d->pseudonyms = NULL;
	if (bytes > 0 && (d->pseudonyms = malloc(bytes)) == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (bytes > 0)
		memcpy(d->pseudonyms, r->pseudonyms, bytes);
	ldv_copy(d->name, sizeof(d->name), r->name);	/* no printf: one per signal */
	ldv_copy(d->activity, sizeof(d->activity), r->activity);
	ldv_copy(d->object, sizeof(d->object), r->object);
	ldv_copy(d->party, sizeof(d->party), r->party);
	d->r.name = d->name;
	d->r.activity = d->activity;
	d->r.object = d->object;
	d->r.party = d->party;
	d->r.pseudonyms = d->pseudonyms;
	s->ldv_ndeferred++;
	return s->ldv_ndeferred == LDV_DEFER ? ldv_flush(s, e) : ST_OK;
}

