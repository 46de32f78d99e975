/*
 * store_pg_match.c - matching on PostgreSQL: the plain scans a match
 * reads (match_scan.c orders and walks them, as on SQLite), the match's
 * state, the marks of incremental matching and the open signals.
 *
 * $1 is the match date and $2 the window's start.  observed(A) is a
 * grouped subquery of each scan that needs it (SQLite keeps it in a
 * temporary table).  Keys and dates are COLLATE "C" (schemas/pg/001.sql),
 * so ORDER BY gives the byte order match_scan.c walks in.  Pseudonyms
 * come as hex (results are text) and are decoded here.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

/* observed(A): the findings in the window, grouped by address. */
#define OBS_CTE "WITH o AS (SELECT addr, max(aangetroffen) AS n FROM finding" \
	" WHERE soort = 'huisvesting' AND datum > $2 AND datum <= $1 GROUP BY addr) "
#define MARKED(col) " " col " IN (SELECT addr FROM mark_addr)"
#define ADDR_FACTS OBS_CTE "SELECT coalesce(d.gemeentecode, a.gemeentecode), a.nummeraanduiding," \
	" a.postcode, a.huisnummer, a.huisletter, a.toevoeging, coalesce(o.n, 0), d.oppervlakte," \
	" d.max_bewoners, d.addr IS NOT NULL," \
	" coalesce(d.vergunning <> '' AND d.vergunning_tot >= $1, false)," \
	" EXISTS (SELECT 1 FROM coverage c WHERE c.gemeentecode =" \
	"  coalesce(d.gemeentecode, a.gemeentecode)), a.addr, o.addr IS NOT NULL" \
	" FROM address a LEFT JOIN o ON o.addr = a.addr LEFT JOIN dwelling d ON d.addr = a.addr"
#define NAMED(where) OBS_CTE "SELECT a.gemeentecode, a.nummeraanduiding, a.postcode," \
	" a.huisnummer, a.huisletter, a.toevoeging, encode(x.pseudonym, 'hex'), x.addr," \
	" coalesce(o.n, 0), d.oppervlakte, d.max_bewoners FROM (SELECT DISTINCT f.addr," \
	" fp.pseudonym FROM finding f JOIN finding_person fp ON fp.finding_id = f.id" \
	" WHERE f.soort = 'huisvesting' AND f.datum > $2 AND f.datum <= $1" where ") x" \
	" JOIN address a ON a.addr = x.addr LEFT JOIN o ON o.addr = x.addr" \
	" LEFT JOIN dwelling d ON d.addr = x.addr ORDER BY x.addr, x.pseudonym"
#define WINDOW_FINDINGS "SELECT addr, id FROM finding WHERE soort = 'huisvesting'" \
	" AND datum > $2 AND datum <= $1"
#define REGISTRATIONS "SELECT encode(pseudonym, 'hex'), begindatum, addr FROM person" \
	" WHERE begindatum <= $1"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A pseudonym from its hex text into out; false when it is not one. */
static bool pseudonym_from_hex(const char *hex, uint8_t out[PSEUDONYM_LEN])
{
	if (strlen(hex) != 2 * (size_t)PSEUDONYM_LEN)
		return false;
	for (size_t i = 0; i < PSEUDONYM_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Column c of row r as a number; -1 for SQL NULL. */
static long value_long_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? -1 : strtol(PQgetvalue(res, r, c), NULL, 10);
}

static bool value_bool(const PGresult *res, int r, int c)
{
	return !PQgetisnull(res, r, c) && PQgetvalue(res, r, c)[0] == 't';
}

/* Runs a scan with the window's parameters ($1 the date; with both, $2
 * the window's start too). */
static PGresult *scan(struct store_pg *s, const char *sql, bool both, const char *what,
		      struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, s->scan_as_of);
	if (both)
		p_text(&p, s->scan_window_start);
	return pg_run(s, sql, &p, PGRES_TUPLES_OK, what, e);
}

enum status store_pg_scan_begin(struct store_pg *s, const char *as_of, const char *window_start,
				bool scoped, struct errbuf *e)
{
	(void)e;
	snprintf(s->scan_as_of, sizeof(s->scan_as_of), "%s", as_of);
	snprintf(s->scan_window_start, sizeof(s->scan_window_start), "%s", window_start);
	s->scan_scoped = scoped;
	return ST_OK;
}

void store_pg_scan_end(struct store_pg *s)
{
	s->scan_scoped = false;
}

enum status store_pg_scan_registrations(struct store_pg *s,
					int (*cb)(void *arg, const struct registration_row *r),
					void *arg, struct errbuf *e)
{
	PGresult *res = s->scan_scoped
		? scan(s, REGISTRATIONS " AND pseudonym IN (SELECT pseudonym FROM person WHERE"
		       MARKED("addr") " UNION SELECT fp.pseudonym FROM finding f JOIN"
		       " finding_person fp ON fp.finding_id = f.id WHERE" MARKED("f.addr") ")",
		       false, "current registrations", e)
		: scan(s, REGISTRATIONS, false, "current registrations", e);
	enum status st = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++) {
		uint8_t pseudonym[PSEUDONYM_LEN];
		struct registration_row r = { pseudonym, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2) };

		if (!pseudonym_from_hex(PQgetvalue(res, i, 0), pseudonym))
			continue;	/* cannot be: the ingest writes them */
		if (cb(arg, &r) != 0)
			st = ST_FAIL;
	}
	PQclear(res);
	return st;
}

enum status store_pg_scan_addresses(struct store_pg *s,
				    int (*cb)(void *arg, const struct address_row *r), void *arg,
				    struct errbuf *e)
{
	PGresult *res = s->scan_scoped
		? scan(s, ADDR_FACTS " WHERE" MARKED("a.addr") " ORDER BY a.addr", true,
		       "match addresses", e)
		: scan(s, ADDR_FACTS " ORDER BY a.addr", true, "match addresses", e);
	enum status st = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++) {
		struct address_row r;

		r.key = PQgetvalue(res, i, 12);
		pg_value_address(res, i, 0, &r.address);
		r.observed = value_long_or_null(res, i, 6);
		r.oppervlakte = value_long_or_null(res, i, 7);
		r.max_bewoners = value_long_or_null(res, i, 8);
		r.has_dwelling = value_bool(res, i, 9);
		r.permit_valid = value_bool(res, i, 10);
		r.covered = value_bool(res, i, 11);
		r.has_findings = value_bool(res, i, 13);
		if (cb(arg, &r) != 0)
			st = ST_FAIL;
	}
	PQclear(res);
	return st;
}

enum status store_pg_scan_named(struct store_pg *s,
				int (*cb)(void *arg, const struct named_row *r), void *arg,
				struct errbuf *e)
{
	PGresult *res = s->scan_scoped
		? scan(s, NAMED(" AND" MARKED("f.addr")), true, "match address mismatches", e)
		: scan(s, NAMED(""), true, "match address mismatches", e);
	enum status st = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++) {
		uint8_t pseudonym[PSEUDONYM_LEN];
		struct named_row r;

		if (!pseudonym_from_hex(PQgetvalue(res, i, 6), pseudonym))
			continue;
		r.pseudonym = pseudonym;
		r.key = PQgetvalue(res, i, 7);
		pg_value_address(res, i, 0, &r.address);
		r.observed = value_long_or_null(res, i, 8);
		r.oppervlakte = value_long_or_null(res, i, 9);
		r.max_bewoners = value_long_or_null(res, i, 10);
		if (cb(arg, &r) != 0)
			st = ST_FAIL;
	}
	PQclear(res);
	return st;
}

enum status store_pg_scan_findings(struct store_pg *s,
				   int (*cb)(void *arg, const char *key, const char *id),
				   void *arg, struct errbuf *e)
{
	PGresult *res = s->scan_scoped
		? scan(s, WINDOW_FINDINGS " AND" MARKED("addr") " ORDER BY addr, datum, id", true,
		       "findings in the window", e)
		: scan(s, WINDOW_FINDINGS " ORDER BY addr, datum, id", true,
		       "findings in the window", e);
	enum status st = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++)
		if (cb(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) != 0)
			st = ST_FAIL;
	PQclear(res);
	return st;
}

enum status store_pg_scan_person_findings(struct store_pg *s, const char *key,
					  const uint8_t person[PSEUDONYM_LEN],
					  int (*cb)(void *arg, const char *id), void *arg,
					  struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;
	enum status st = ST_OK;

	p_text(&p, key);
	p_text(&p, s->scan_window_start);
	p_text(&p, s->scan_as_of);
	p_bytes(&p, person, PSEUDONYM_LEN);
	res = pg_run(s, "SELECT f.id FROM finding f JOIN finding_person fp ON fp.finding_id = f.id"
		     " WHERE f.addr = $1 AND fp.pseudonym = $4 AND f.soort = 'huisvesting'"
		     " AND f.datum > $2 AND f.datum <= $3 ORDER BY f.datum, f.id", &p,
		     PGRES_TUPLES_OK, "gather evidence", e);
	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++)
		if (cb(arg, PQgetvalue(res, i, 0)) != 0)
			st = ST_FAIL;
	PQclear(res);
	return st;
}

enum status store_pg_address_get(struct store_pg *s, const char *key, struct address *a,
				 bool *found, struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	p_text(&p, key);
	res = pg_run(s, "SELECT gemeentecode, nummeraanduiding, postcode, huisnummer, huisletter,"
		     " toevoeging FROM address WHERE addr = $1", &p, PGRES_TUPLES_OK,
		     "read an address", e);
	if (res == NULL)
		return ST_FAIL;
	*found = PQntuples(res) == 1;
	if (*found)
		pg_value_address(res, 0, 0, a);
	PQclear(res);
	return ST_OK;
}

/* --- incremental matching --------------------------------------------- */

enum status store_pg_match_state(struct store_pg *s, struct match_state *ms, struct errbuf *e)
{
	PGresult *res = pg_run(s, "SELECT as_of, window_start, params FROM match_state WHERE id = 1",
			       NULL, PGRES_TUPLES_OK, "read the match state", e);

	memset(ms, 0, sizeof(*ms));
	if (res == NULL)
		return ST_FAIL;
	if (PQntuples(res) == 1) {
		pg_value_copy(res, 0, 0, ms->as_of, sizeof(ms->as_of));
		pg_value_copy(res, 0, 1, ms->window_start, sizeof(ms->window_start));
		pg_value_copy(res, 0, 2, ms->params, sizeof(ms->params));
	}
	PQclear(res);
	return ST_OK;
}

enum status store_pg_match_state_put(struct store_pg *s, const struct match_state *ms,
				     bool full, struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, ms->as_of);
	p_text(&p, ms->window_start);
	p_text(&p, ms->params);
	p_text(&p, full ? "t" : "f");
	return pg_run_done(s, "INSERT INTO match_state(id, as_of, window_start, params, full_at)"
			   " VALUES (1, $1, $2, $3, CASE WHEN $4::boolean THEN to_char(now() AT TIME"
			   " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END) ON CONFLICT (id) DO"
			   " UPDATE SET as_of = excluded.as_of, window_start = excluded.window_start,"
			   " params = excluded.params,"
			   " full_at = coalesce(excluded.full_at, match_state.full_at)", &p,
			   "store the match state", e);
}

enum status store_pg_mark_dates(struct store_pg *s, const struct match_state *old,
				const char *as_of, const char *window_start, struct errbuf *e)
{
	/* as store_sqlite_mark_dates(): a finding dated in (lo, hi] or in
	 * (lo_ws, hi_ws], a permit valid up to a day in [lo, hi), a
	 * registration beginning in (lo, hi] */
	bool up = strcmp(old->as_of, as_of) < 0;
	bool ws_up = strcmp(old->window_start, window_start) < 0;
	struct params p = { 0 };

	p_text(&p, up ? old->as_of : as_of);
	p_text(&p, up ? as_of : old->as_of);
	p_text(&p, ws_up ? old->window_start : window_start);
	p_text(&p, ws_up ? window_start : old->window_start);
	if (pg_run_done(s, "INSERT INTO mark_addr(addr) SELECT DISTINCT addr FROM finding"
			" WHERE soort = 'huisvesting' AND ((datum > $1 AND datum <= $2) OR"
			" (datum > $3 AND datum <= $4)) ON CONFLICT DO NOTHING", &p,
			"mark changes", e) != ST_OK)
		return ST_FAIL;
	p.n = 2;
	if (pg_run_done(s, "INSERT INTO mark_addr(addr) SELECT addr FROM dwelling"
			" WHERE vergunning_tot >= $1 AND vergunning_tot < $2 ON CONFLICT DO NOTHING",
			&p, "mark changes", e) != ST_OK)
		return ST_FAIL;
	return pg_run_done(s, "INSERT INTO mark_person(pseudonym) SELECT DISTINCT pseudonym"
			   " FROM person WHERE begindatum > $1 AND begindatum <= $2"
			   " ON CONFLICT DO NOTHING", &p, "mark changes", e);
}

/* The one number sql returns into *n. */
static enum status count(struct store_pg *s, const char *sql, long *n, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, NULL, PGRES_TUPLES_OK, "count marks", e);

	*n = 0;
	if (res == NULL)
		return ST_FAIL;
	*n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return ST_OK;
}

enum status store_pg_mark_widen(struct store_pg *s, struct mark_counts *n, struct errbuf *e)
{
	memset(n, 0, sizeof(*n));
	if (count(s, "SELECT count(*) FROM mark_all", &n->all, e) != ST_OK)
		return ST_FAIL;
	if (n->all > 0)
		return ST_OK;	/* a full run; the marks are not complete */
	if (count(s, "SELECT count(*) FROM mark_gemeente", &n->gemeenten, e) != ST_OK ||
	    count(s, "SELECT count(*) FROM mark_person", &n->persons, e) != ST_OK)
		return ST_FAIL;
	if (n->gemeenten > 0 &&
	    pg_run_done(s, "INSERT INTO mark_addr(addr) SELECT a.addr FROM address a"
			" LEFT JOIN dwelling d ON d.addr = a.addr WHERE coalesce(d.gemeentecode,"
			" a.gemeentecode) IN (SELECT gemeentecode FROM mark_gemeente)"
			" ON CONFLICT DO NOTHING", NULL, "widen the marks", e) != ST_OK)
		return ST_FAIL;
	if (n->persons > 0 &&
	    (pg_run_done(s, "INSERT INTO mark_addr(addr) SELECT DISTINCT p.addr FROM mark_person m"
			 " JOIN person p ON p.pseudonym = m.pseudonym ON CONFLICT DO NOTHING", NULL,
			 "widen the marks", e) != ST_OK ||
	     pg_run_done(s, "INSERT INTO mark_addr(addr) SELECT DISTINCT f.addr FROM mark_person m"
			 " JOIN finding_person fp ON fp.pseudonym = m.pseudonym JOIN finding f"
			 " ON f.id = fp.finding_id ON CONFLICT DO NOTHING", NULL,
			 "widen the marks", e) != ST_OK))
		return ST_FAIL;
	return count(s, "SELECT count(*) FROM mark_addr", &n->addresses, e);
}

enum status store_pg_mark_clear(struct store_pg *s, struct errbuf *e)
{
	if (pg_run_done(s, "DELETE FROM mark_addr", NULL, "clear the marks", e) != ST_OK ||
	    pg_run_done(s, "DELETE FROM mark_person", NULL, "clear the marks", e) != ST_OK ||
	    pg_run_done(s, "DELETE FROM mark_gemeente", NULL, "clear the marks", e) != ST_OK ||
	    pg_run_done(s, "DELETE FROM mark_all", NULL, "clear the marks", e) != ST_OK)
		return ST_FAIL;
	s->marked = false;
	return ST_OK;
}

/* Nothing to bring up to date: PostgreSQL finds the registrations at the
 * marked addresses by a search (SQLite keeps person_at, store-014.sql). */
enum status store_pg_match_catch_up(struct store_pg *s, struct errbuf *e)
{
	(void)s;
	(void)e;
	return ST_OK;
}

enum status store_pg_open_signals(struct store_pg *s, bool scoped,
				  int (*cb)(void *arg, int64_t seq, const char *id), void *arg,
				  struct errbuf *e)
{
	PGresult *res = scoped
		? pg_run(s, "SELECT seq, id FROM signal WHERE ended_on IS NULL AND" MARKED("addr"),
			 NULL, PGRES_TUPLES_OK, "read the open signals", e)
		: pg_run(s, "SELECT seq, id FROM signal WHERE ended_on IS NULL", NULL,
			 PGRES_TUPLES_OK, "read the open signals", e);
	enum status st = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; st == ST_OK && i < PQntuples(res); i++)
		if (cb(arg, strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1)) != 0)
			st = ST_FAIL;
	PQclear(res);
	return st;
}
