/*
 * store_sqlite_match.c - matching on SQLite: the plain scans a match
 * reads (match_scan.c orders and walks them), the match's state, the
 * marks of incremental matching, catch-up and the open signals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

/* Binds the match date (?1) and the window start (?2). */
static void bind_window(struct store_sqlite *s, sqlite3_stmt *st)
{
	sqlite3_bind_text(st, 1, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
}

/* Adds to person_at the registrations written since it last was brought
 * up to date (store-014.sql), in this transaction. */
enum status store_sqlite_match_catch_up(struct store_sqlite *s, struct errbuf *e)
{
	sqlite3_stmt *add = stmt(s, Q_PERSON_AT_ADD, e), *upto = stmt(s, Q_PERSON_AT_UPTO, e);

	if (add == NULL || upto == NULL || step_done(s, add, e, "registrations by address") != ST_OK)
		return ST_FAIL;
	return step_done(s, upto, e, "registrations by address");
}

/* The window of the scans; observed(A) of the addresses with findings in
 * it into temp.obs, for the address and the mismatch scans to join. */
enum status store_sqlite_scan_begin(struct store_sqlite *s, const char *as_of,
				    const char *window_start, bool scoped, struct errbuf *e)
{
	sqlite3_stmt *st;

	s->scoped = scoped;
	snprintf(s->as_of, sizeof(s->as_of), "%s", as_of);
	snprintf(s->window_start, sizeof(s->window_start), "%s", window_start);
	if (sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "match");
	if (scoped && store_sqlite_match_catch_up(s, e) != ST_OK)
		return ST_FAIL;
	st = stmt(s, scoped ? Q_OBS_FILL_SCOPED : Q_OBS_FILL, e);
	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return step_done(s, st, e, "observed persons");
}

void store_sqlite_scan_end(struct store_sqlite *s)
{
	sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL);
}

struct registrations_cb {
	int (*cb)(void *arg, const struct registration_row *r);
	void *arg;
};

static int registration_row(sqlite3_stmt *st, void *arg)
{
	struct registrations_cb *c = arg;
	struct registration_row r;

	r.pseudonym = sqlite3_column_blob(st, 0);
	r.begindatum = (const char *)sqlite3_column_text(st, 1);
	r.addr = (const char *)sqlite3_column_text(st, 2);
	if (sqlite3_column_bytes(st, 0) != PSEUDONYM_LEN || r.begindatum == NULL || r.addr == NULL)
		return 0;	/* cannot be: the ingest writes them */
	return c->cb(c->arg, &r);
}

enum status store_sqlite_scan_registrations(struct store_sqlite *s,
					    int (*cb)(void *arg, const struct registration_row *r),
					    void *arg, struct errbuf *e)
{
	struct registrations_cb c = { cb, arg };
	sqlite3_stmt *q = stmt(s, s->scoped ? Q_PERSON_SCAN_SCOPED : Q_PERSON_SCAN, e);

	if (q == NULL)
		return ST_FAIL;
	sqlite3_bind_text(q, 1, s->as_of, -1, SQLITE_STATIC);
	return each_row(s, q, registration_row, &c, e, "current registrations");
}

struct addresses_cb {
	int (*cb)(void *arg, const struct address_row *r);
	void *arg;
};

/* One address of Q_MATCH_ADDRESSES*. */
static int address_row(sqlite3_stmt *st, void *arg)
{
	struct addresses_cb *c = arg;
	struct address_row r;

	r.key = (const char *)sqlite3_column_text(st, 12);
	if (r.key == NULL)
		return -1;
	column_address(st, 0, &r.address);
	r.has_findings = sqlite3_column_int(st, 13) != 0;
	r.observed = (long)sqlite3_column_int64(st, 6);
	r.oppervlakte = column_long_or_null(st, 7);
	r.max_bewoners = column_long_or_null(st, 8);
	r.has_dwelling = sqlite3_column_int(st, 9) != 0;
	r.permit_valid = sqlite3_column_int(st, 10) != 0;
	r.covered = sqlite3_column_int(st, 11) != 0;
	return c->cb(c->arg, &r);
}

enum status store_sqlite_scan_addresses(struct store_sqlite *s,
					int (*cb)(void *arg, const struct address_row *r),
					void *arg, struct errbuf *e)
{
	struct addresses_cb c = { cb, arg };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_ADDRESSES_SCOPED : Q_MATCH_ADDRESSES, e);

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return each_row(s, st, address_row, &c, e, "match addresses");
}

struct named_cb {
	int (*cb)(void *arg, const struct named_row *r);
	void *arg;
};

/* One (address, person) of Q_MATCH_MISMATCHES*. */
static int named_row(sqlite3_stmt *st, void *arg)
{
	struct named_cb *c = arg;
	struct named_row r;

	r.key = (const char *)sqlite3_column_text(st, 7);
	r.pseudonym = sqlite3_column_blob(st, 6);
	if (sqlite3_column_bytes(st, 6) != PSEUDONYM_LEN || r.key == NULL)
		return 0;	/* cannot be: the ingest writes them */
	column_address(st, 0, &r.address);
	r.observed = (long)sqlite3_column_int64(st, 8);
	r.oppervlakte = column_long_or_null(st, 9);
	r.max_bewoners = column_long_or_null(st, 10);
	return c->cb(c->arg, &r);
}

enum status store_sqlite_scan_named(struct store_sqlite *s,
				    int (*cb)(void *arg, const struct named_row *r), void *arg,
				    struct errbuf *e)
{
	struct named_cb c = { cb, arg };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_MISMATCHES_SCOPED : Q_MATCH_MISMATCHES, e);

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return each_row(s, st, named_row, &c, e, "match address mismatches");
}

struct findings_cb {
	int (*cb)(void *arg, const char *key, const char *id);
	void *arg;
};

/* A finding of Q_EV_WALK_*: column 0 the address key, 1 the id. */
static int finding_row(sqlite3_stmt *st, void *arg)
{
	struct findings_cb *c = arg;
	const char *key = (const char *)sqlite3_column_text(st, 0);
	const char *id = (const char *)sqlite3_column_text(st, 1);

	if (key == NULL || id == NULL)
		return 0;	/* cannot be: both are NOT NULL */
	return c->cb(c->arg, key, id);
}

enum status store_sqlite_scan_findings(struct store_sqlite *s,
				       int (*cb)(void *arg, const char *key, const char *id),
				       void *arg, struct errbuf *e)
{
	struct findings_cb c = { cb, arg };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_EV_WALK_SCOPED : Q_EV_WALK_FINDINGS, e);

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return each_row(s, st, finding_row, &c, e, "findings in the window");
}

struct person_findings_cb {
	int (*cb)(void *arg, const char *id);
	void *arg;
};

static int person_finding_row(sqlite3_stmt *st, void *arg)
{
	struct person_findings_cb *c = arg;
	const char *id = (const char *)sqlite3_column_text(st, 0);

	return id == NULL ? 0 : c->cb(c->arg, id);
}

enum status store_sqlite_scan_person_findings(struct store_sqlite *s, const char *key,
					      const uint8_t person[PSEUDONYM_LEN],
					      int (*cb)(void *arg, const char *id), void *arg,
					      struct errbuf *e)
{
	struct person_findings_cb c = { cb, arg };
	sqlite3_stmt *st = stmt(s, Q_EV_PERSON_FINDINGS, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, person, PSEUDONYM_LEN, SQLITE_STATIC);
	return each_row(s, st, person_finding_row, &c, e, "gather evidence");
}

enum status store_sqlite_address_get(struct store_sqlite *s, const char *key,
				     struct address *a, bool *found, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_ADDRESS_GET, e);
	int rc;

	*found = false;
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_address(st, 0, a);
		*found = true;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read an address");
	return ST_OK;
}

/* --- incremental matching (store-012.sql) ------------------------------- */

enum status store_sqlite_match_state(struct store_sqlite *s, struct match_state *ms,
				     struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_MATCH_STATE_GET, e);
	int rc;

	memset(ms, 0, sizeof(*ms));
	if (st == NULL)
		return ST_FAIL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_copy(st, 0, ms->as_of, sizeof(ms->as_of));
		column_copy(st, 1, ms->window_start, sizeof(ms->window_start));
		column_copy(st, 2, ms->params, sizeof(ms->params));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read the match state");
	return ST_OK;
}

enum status store_sqlite_match_state_put(struct store_sqlite *s, const struct match_state *ms,
					 bool full, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_MATCH_STATE_PUT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, ms->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ms->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ms->params, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, full);
	return step_done(s, st, e, "store the match state");
}

/* Runs q once with text parameters ?1..?n (n <= 4); *changes (may be NULL)
 * gets the rows it wrote.  For the statements of one run, prepared here. */
static enum status mark_step(struct store_sqlite *s, const char *q, const char *const *p, int n,
			     long *changes, struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "mark changes");
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_error(s, e, "mark changes");
	if (changes != NULL)
		*changes = sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_sqlite_mark_dates(struct store_sqlite *s, const struct match_state *old,
				    const char *as_of, const char *window_start,
				    struct errbuf *e)
{
	/* what holds as of a date D changes between D0 and D1 (lo < hi) for a
	 * finding dated in (lo, hi] or in (lo_ws, hi_ws], a permit valid up to
	 * a day in [lo, hi), a registration beginning in (lo, hi] */
	bool up = strcmp(old->as_of, as_of) < 0;
	bool ws_up = strcmp(old->window_start, window_start) < 0;
	const char *p[4] = {
		up ? old->as_of : as_of, up ? as_of : old->as_of,
		ws_up ? old->window_start : window_start, ws_up ? window_start : old->window_start,
	};

	if (mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT addr FROM finding"
		      " WHERE soort = 'huisvesting' AND ((datum > ?1 AND datum <= ?2) OR"
		      " (datum > ?3 AND datum <= ?4))", p, 4, NULL, e) != ST_OK ||
	    mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT addr FROM dwelling"
		      " WHERE vergunning_tot >= ?1 AND vergunning_tot < ?2", p, 2, NULL, e) != ST_OK)
		return ST_FAIL;
	return mark_step(s, "INSERT OR IGNORE INTO mark_person(pkey) SELECT pkey"
			 " FROM person NOT INDEXED WHERE begindatum > ?1 AND begindatum <= ?2",
			 p, 2, NULL, e);
}

/* count(*) of q into *n. */
static enum status mark_count(struct store_sqlite *s, const char *q, long *n, struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "count marks");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? ST_OK : db_error(s, e, "count marks");
}

enum status store_sqlite_mark_widen(struct store_sqlite *s, struct mark_counts *n,
				    struct errbuf *e)
{
	memset(n, 0, sizeof(*n));
	if (mark_count(s, "SELECT count(*) FROM mark_all", &n->all, e) != ST_OK)
		return ST_FAIL;
	if (n->all > 0)
		return ST_OK;	/* a full run; the marks are not complete */
	if (mark_count(s, "SELECT count(*) FROM mark_gemeente", &n->gemeenten, e) != ST_OK ||
	    mark_count(s, "SELECT count(*) FROM mark_person", &n->persons, e) != ST_OK)
		return ST_FAIL;
	/* coverage is asked of the dwelling's gemeente, else the address's */
	if (n->gemeenten > 0 &&
	    mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT a.addr FROM address a"
		      " LEFT JOIN dwelling d ON d.addr = a.addr WHERE coalesce(d.gemeentecode,"
		      " a.gemeentecode) IN (SELECT gemeentecode FROM mark_gemeente)",
		      NULL, 0, NULL, e) != ST_OK)
		return ST_FAIL;
	/* a person's registrations (the one that was current and the one that
	 * is), and the findings that name the person */
	if (n->persons > 0 &&
	    (mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT p.addr FROM mark_person m"
		       " CROSS JOIN person p ON p.pkey = m.pkey", NULL, 0, NULL, e) != ST_OK ||
	     mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT f.addr FROM mark_person m"
		       " CROSS JOIN person p ON p.pkey = m.pkey CROSS JOIN finding_person fp"
		       " ON fp.pseudonym = p.pseudonym JOIN finding f ON f.id = fp.finding_id",
		       NULL, 0, NULL, e) != ST_OK))
		return ST_FAIL;
	return mark_count(s, "SELECT count(*) FROM mark_addr", &n->addresses, e);
}

enum status store_sqlite_mark_clear(struct store_sqlite *s, struct errbuf *e)
{
	if (sqlite3_exec(s->db, "DELETE FROM mark_addr; DELETE FROM mark_person;"
			 " DELETE FROM mark_gemeente; DELETE FROM mark_all;", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_error(s, e, "clear the marks");
	return ST_OK;
}

enum status store_sqlite_open_signals(struct store_sqlite *s, bool scoped,
				      int (*cb)(void *arg, int64_t seq, const char *id),
				      void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, scoped ? Q_OPEN_SIGNALS_SCOPED : Q_OPEN_SIGNALS, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 1);

		if (id != NULL && cb(arg, sqlite3_column_int64(st, 0), id) != 0) {
			sqlite3_reset(st);
			return ST_FAIL;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read the open signals");
	return ST_OK;
}

