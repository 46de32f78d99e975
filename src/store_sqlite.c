/*
 * store_sqlite.c - the store (store.h) on SQLite, in WAL mode.
 *
 * Statements are prepared once, on first use, and kept for the life of the
 * connection.  sqlite3 result codes become messages here and nowhere else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_pg.h"

enum stmt_id {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_INGEST_ADD, Q_INGEST_COUNTS,
	Q_ADDRESS_PUT,
	Q_PERSON_FIND, Q_PERSON_ADD, Q_PERSON_UPDATE, Q_COVERAGE_PUT,
	Q_DWELLING_PUT,
	Q_FINDING_PUT, Q_FINDING_PERSONS_DEL, Q_FINDING_PERSON_ADD,
	Q_PERSON_SCAN, Q_OBS_FILL, Q_MATCH_ADDRESSES, Q_MATCH_MISMATCHES, Q_ADDRESS_GET,
	Q_EV_WALK_FINDINGS, Q_EV_PERSON_FINDINGS,
	Q_MATCH_ADDRESSES_SCOPED, Q_MATCH_MISMATCHES_SCOPED, Q_OBS_FILL_SCOPED, Q_EV_WALK_SCOPED,
	Q_PERSON_AT_ADD, Q_PERSON_AT_UPTO, Q_PERSON_SCAN_SCOPED,
	Q_OPEN_SIGNALS, Q_OPEN_SIGNALS_SCOPED, Q_SIGNAL_END, Q_MATCH_STATE_GET, Q_MATCH_STATE_PUT,
	Q_DELIVERY_REQUEUE, Q_MARK_ADDR, Q_MARK_PERSON,
	Q_SIGNAL_KNOWN, Q_SIGNAL_PUT, Q_SIGNAL_RECIPIENT_ADD,
	Q_SIGNALS, Q_SIGNAL_ONE, Q_SIGNAL_RECIPIENTS, Q_SIGNAL_ROUTED, Q_PERSON_BSN,
	Q_FEEDBACK_PUT, Q_FEEDBACK_COUNTS,
	Q_DELIVERY_ADD, Q_DELIVERIES_DUE, Q_DELIVERIES_NEXT, Q_DELIVERY_AFTER, Q_DELIVERIES_ALL, Q_DELIVERY_UPDATE,
	Q_DELIVERY_RETRY,
	Q_DELIVERIES_OF,
	Q_SOURCE_GET, Q_SOURCE_PUT,
	Q_LOG_HEAD, Q_LOG_INSERT, Q_LOG_SCAN,
	Q_HELD_ADDRESS, Q_HELD_PERSON, Q_HELD_FINDING, Q_PERSON_WITHDRAW,
	Q_FINDING_SEEN_GET, Q_FINDING_SEEN_PUT, Q_FINDING_SEEN_FORGET,
	Q_COUNT
};

#define ADDRESS_COLS(t) t".gemeentecode, " t".nummeraanduiding, " t".postcode, " \
	t".huisnummer, " t".huisletter, " t".toevoeging"

/* The columns of a delivery_row (each_delivery()), of table alias t. */
#define DELIVERY_COLS(t) "SELECT " t"id, " t"signal_id, " t"oin, " t"message_id, " \
	t"state, " t"attempts, " t"created, " t"next_at, coalesce(" t"delivered_at, 0)," \
	" coalesce(" t"last_status, 0), coalesce(" t"last_error, '')," \
	" (SELECT g.trace_id FROM signal g WHERE g.id = " t"signal_id)"

/* The columns and filters of a signal listing (Q_SIGNALS, Q_SIGNAL_ONE). */
#define SIGNALS_SELECT "SELECT s.id, s.rule, s.as_of, s.created, " ADDRESS_COLS("a") \
	", s.person, " ADDRESS_COLS("b") ", s.registered, s.observed, s.oppervlakte," \
	" s.max_bewoners, s.seq, s.evidence, s.trace_id, s.ended_on FROM signal s JOIN address a ON" \
	" a.addr = s.addr" \
	" LEFT JOIN address b ON b.addr = s.reg_addr"
/* The facts of the addresses of a match (Q_MATCH_ADDRESSES*), but
 * registered(A), which store_match_addresses() counts alongside. */
#define MATCH_FACTS_COLS "SELECT coalesce(d.gemeentecode, a.gemeentecode), a.nummeraanduiding," \
	"  a.postcode, a.huisnummer, a.huisletter, a.toevoeging," \
	"  coalesce(o.n, 0), d.oppervlakte, d.max_bewoners, d.addr IS NOT NULL," \
	"  coalesce(d.vergunning <> '' AND d.vergunning_tot >= ?1, 0)," \
	"  EXISTS (SELECT 1 FROM coverage c" \
	"   WHERE c.gemeentecode = coalesce(d.gemeentecode, a.gemeentecode))," \
	"  a.addr, o.addr IS NOT NULL"
#define MATCH_FACTS_JOINS " LEFT JOIN temp.obs o ON o.addr = a.addr" \
	" LEFT JOIN dwelling d ON d.addr = a.addr ORDER BY a.addr"
/* Each (address, person) of the findings in the window (Q_MATCH_MISMATCHES*). */
#define MISMATCHES_SELECT "SELECT DISTINCT " ADDRESS_COLS("a") ", fp.pseudonym, f.addr," \
	" coalesce(o.n, 0), d.oppervlakte, d.max_bewoners FROM finding f" \
	" JOIN finding_person fp ON fp.finding_id = f.id" \
	" JOIN address a ON a.addr = f.addr LEFT JOIN temp.obs o ON o.addr = f.addr" \
	" LEFT JOIN dwelling d ON d.addr = f.addr" \
	" WHERE f.soort = 'huisvesting' AND f.datum > ?2 AND f.datum <= ?1"
/* The findings in the window (observed(A), evidence). */
#define WINDOW_FINDINGS " soort = 'huisvesting' AND datum > ?2 AND datum <= ?1"
#define SIGNALS_FILTER " (?1 IS NULL OR s.rule = ?1) AND (?2 IS NULL OR EXISTS" \
	" (SELECT 1 FROM signal_recipient r WHERE r.oin = ?2 AND r.signal_seq = s.seq))"

static const char *const sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_INGEST_ADD] = "INSERT INTO ingest(adapter, origin, party, digest, at, accepted, rejected)"
		" VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 0, 0)",
	[Q_INGEST_COUNTS] = "UPDATE ingest SET accepted = ?2, rejected = ?3, digest = ?4"
		" WHERE id = ?1",
	[Q_ADDRESS_PUT] = "INSERT INTO address(addr, gemeentecode, nummeraanduiding, postcode,"
		" huisnummer, huisletter, toevoeging) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT(addr) DO UPDATE SET nummeraanduiding = excluded.nummeraanduiding"
		" WHERE nummeraanduiding IS NULL AND excluded.nummeraanduiding IS NOT NULL",
	/* A registration by its identity (pseudonym, begindatum), through the
	 * pseudonym's key (store_put_person()). */
	[Q_PERSON_FIND] = "SELECT rowid, digest FROM person WHERE pkey = ?1"
		" AND pseudonym = ?2 AND begindatum = ?3",
	[Q_PERSON_ADD] = "INSERT INTO person(pkey, pseudonym, begindatum, addr, gemeentecode,"
		" bsn_sealed, digest, ingest_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_PERSON_UPDATE] = "UPDATE person SET addr = ?4, gemeentecode = ?5, bsn_sealed = ?6,"
		" digest = ?7, ingest_id = ?8 WHERE rowid = ?1 AND pseudonym = ?2"
		" AND begindatum = ?3",
	[Q_COVERAGE_PUT] = "INSERT OR IGNORE INTO coverage(gemeentecode) VALUES (?1)",
	[Q_DWELLING_PUT] = "INSERT INTO dwelling(addr, gemeentecode, oppervlakte, gebruiksdoel,"
		" max_bewoners, vergunning, vergunning_tot, digest, ingest_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		" ON CONFLICT(addr) DO UPDATE SET gemeentecode = excluded.gemeentecode,"
		" oppervlakte = excluded.oppervlakte, gebruiksdoel = excluded.gebruiksdoel,"
		" max_bewoners = excluded.max_bewoners, vergunning = excluded.vergunning,"
		" vergunning_tot = excluded.vergunning_tot, digest = excluded.digest,"
		" ingest_id = excluded.ingest_id WHERE digest <> excluded.digest",
	[Q_FINDING_PUT] = "INSERT INTO finding(id, datum, soort, kvk, addr, gemeentecode,"
		" aangetroffen, digest, ingest_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		" ON CONFLICT(id) DO UPDATE SET datum = excluded.datum, soort = excluded.soort,"
		" kvk = excluded.kvk, addr = excluded.addr, gemeentecode = excluded.gemeentecode,"
		" aangetroffen = excluded.aangetroffen, digest = excluded.digest,"
		" ingest_id = excluded.ingest_id WHERE digest <> excluded.digest",
	[Q_FINDING_PERSONS_DEL] = "DELETE FROM finding_person WHERE finding_id = ?1",
	[Q_FINDING_PERSON_ADD] = "INSERT OR REPLACE INTO finding_person(finding_id, pseudonym,"
		" bsn_sealed) VALUES (?1, ?2, ?3)",
	/* The registrations as of a date, in table order (fill_current()). */
	[Q_PERSON_SCAN] = "SELECT pseudonym, begindatum, addr FROM person NOT INDEXED"
		" WHERE begindatum <= ?1",
	/* observed(A) of every address with findings in the window */
	[Q_OBS_FILL] = "INSERT INTO temp.obs(addr, n) SELECT addr, max(aangetroffen) FROM finding"
		" WHERE soort = 'huisvesting' AND datum > ?2 AND datum <= ?1 GROUP BY addr",
	/* Every address in key order, with its facts but registered(A), which
	 * store_match_addresses() counts alongside (struct current). */
	[Q_MATCH_ADDRESSES] = MATCH_FACTS_COLS " FROM address a" MATCH_FACTS_JOINS,
	/* Each (address, person) of the findings in the window, with the
	 * address's facts; store_match_mismatches() keeps the persons
	 * registered elsewhere. */
	[Q_MATCH_MISMATCHES] = MISMATCHES_SELECT " ORDER BY f.addr, fp.pseudonym",
	[Q_ADDRESS_GET] = "SELECT " ADDRESS_COLS("b") " FROM address b WHERE b.addr = ?1",
	/* The findings of every address, in the address cursor's order: walked
	 * alongside it (struct ev_walk).  Column 0 is the address. */
	[Q_EV_WALK_FINDINGS] = "SELECT addr, id FROM finding WHERE soort = 'huisvesting'"
		" AND datum > ?2 AND datum <= ?1 ORDER BY addr, datum, id",
	[Q_EV_PERSON_FINDINGS] = "SELECT f.id FROM finding f JOIN finding_person fp"
		" ON fp.finding_id = f.id WHERE f.addr = ?1 AND fp.pseudonym = ?4"
		" AND f.soort = 'huisvesting' AND f.datum > ?2 AND f.datum <= ?3 ORDER BY f.datum, f.id",
	/* The same for only the marked addresses (store_match_begin_scoped()). */
	/* CROSS JOIN: the marks first (SQLite, without statistics, walked
	 * every address and looked each up in the marks) */
	[Q_MATCH_ADDRESSES_SCOPED] = MATCH_FACTS_COLS " FROM mark_addr m"
		" CROSS JOIN address a ON a.addr = m.addr" MATCH_FACTS_JOINS,
	[Q_MATCH_MISMATCHES_SCOPED] = MISMATCHES_SELECT
		" AND f.addr IN (SELECT addr FROM mark_addr) ORDER BY f.addr, fp.pseudonym",
	[Q_OBS_FILL_SCOPED] = "INSERT INTO temp.obs(addr, n) SELECT addr, max(aangetroffen)"
		" FROM finding WHERE addr IN (SELECT addr FROM mark_addr) AND" WINDOW_FINDINGS
		" GROUP BY addr",
	[Q_EV_WALK_SCOPED] = "SELECT addr, id FROM finding WHERE addr IN"
		" (SELECT addr FROM mark_addr) AND" WINDOW_FINDINGS " ORDER BY addr, datum, id",
	/* person_at brought up to date (store-014.sql): the registrations
	 * written since it last was, a range of person's rowids, in key order
	 * (after a large load, an append rather than inserts at random) */
	[Q_PERSON_AT_ADD] = "INSERT OR IGNORE INTO person_at(addr, pkey) SELECT addr, pkey"
		" FROM person WHERE rowid > (SELECT upto FROM person_at_state WHERE id = 1)"
		" ORDER BY addr, pkey",
	[Q_PERSON_AT_UPTO] = "UPDATE person_at_state SET upto ="
		" coalesce((SELECT max(rowid) FROM person), 0) WHERE id = 1",
	/* The registrations of every person registered at a marked address or
	 * named by a finding there, through person_pkey (fill_current()) */
	[Q_PERSON_SCAN_SCOPED] = "SELECT pseudonym, begindatum, addr FROM person"
		" WHERE pkey IN (SELECT a.pkey FROM mark_addr m CROSS JOIN person_at a"
		" ON a.addr = m.addr UNION SELECT pseudonym_key(fp.pseudonym) FROM finding f"
		" CROSS JOIN finding_person fp ON fp.finding_id = f.id"
		" WHERE f.addr IN (SELECT addr FROM mark_addr)) AND begindatum <= ?1",
	[Q_OPEN_SIGNALS] = "SELECT seq, id FROM signal NOT INDEXED WHERE ended_on IS NULL",
	[Q_OPEN_SIGNALS_SCOPED] = "SELECT seq, id FROM signal WHERE ended_on IS NULL"
		" AND addr IN (SELECT addr FROM mark_addr)",
	[Q_MARK_ADDR] = "INSERT OR IGNORE INTO mark_addr(addr) VALUES (?1)",
	[Q_MARK_PERSON] = "INSERT OR IGNORE INTO mark_person(pkey) VALUES (?1)",
	[Q_SIGNAL_END] = "UPDATE signal SET ended_on = ?2 WHERE seq = ?1 AND ended_on IS NULL",
	[Q_MATCH_STATE_GET] = "SELECT as_of, window_start, params FROM match_state WHERE id = 1",
	[Q_MATCH_STATE_PUT] = "INSERT INTO match_state(id, as_of, window_start, params, full_at)"
		" VALUES (1, ?1, ?2, ?3, CASE WHEN ?4 THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END)"
		" ON CONFLICT(id) DO UPDATE SET as_of = excluded.as_of,"
		" window_start = excluded.window_start, params = excluded.params,"
		" full_at = coalesce(excluded.full_at, full_at)",
	/* A delivery sent again because its signal changed (it ended). */
	[Q_DELIVERY_REQUEUE] = "UPDATE delivery SET state = 'pending', message_id = ?3,"
		" attempts = 0, created = ?4, next_at = ?4, delivered_at = NULL, last_status = NULL,"
		" last_error = NULL WHERE signal_id = ?1 AND oin = ?2",
	/* Asked first rather than "ON CONFLICT DO NOTHING", which would take
	 * a number of the AUTOINCREMENT sequence for every signal that holds. */
	[Q_SIGNAL_KNOWN] = "SELECT 1 FROM signal WHERE id = ?1",
	[Q_SIGNAL_PUT] = "INSERT INTO signal(id, rule, as_of, addr, person, reg_addr, registered,"
		" observed, oppervlakte, max_bewoners, created, evidence, trace_id) VALUES (?1, ?2,"
		" ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[Q_SIGNAL_RECIPIENT_ADD] = "INSERT OR IGNORE INTO signal_recipient(oin, signal_seq)"
		" VALUES (?1, ?2)",
	[Q_SIGNALS] = SIGNALS_SELECT " WHERE s.seq > ?3 AND ?5 IS NULL AND" SIGNALS_FILTER
		" ORDER BY s.seq LIMIT ?4",
	/* One signal by id: its own statement, because SQLite will not use the
	 * primary key for "?5 IS NULL OR s.id = ?5" and walked every signal. */
	[Q_SIGNAL_ONE] = SIGNALS_SELECT " WHERE s.id = ?5 AND s.seq > ?3 AND" SIGNALS_FILTER
		" LIMIT ?4",
	[Q_SIGNAL_ROUTED] = "SELECT 1 FROM signal s JOIN signal_recipient r ON r.oin = ?2"
		" AND r.signal_seq = s.seq WHERE s.id = ?1",
	[Q_PERSON_BSN] = "SELECT bsn_sealed FROM person WHERE pkey = pseudonym_key(?1)"
		" AND pseudonym = ?1"
		" ORDER BY begindatum DESC LIMIT 1",
	[Q_FEEDBACK_PUT] = "INSERT INTO feedback(signal_id, oin, outcome, note, at) VALUES"
		" (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
	[Q_FEEDBACK_COUNTS] = "SELECT s.rule, f.outcome, count(*) FROM feedback f"
		" JOIN signal s ON s.id = f.signal_id GROUP BY 1, 2 ORDER BY 1, 2",
	[Q_SIGNAL_RECIPIENTS] = "SELECT oin FROM signal_recipient WHERE signal_seq = ?1"
		" ORDER BY oin",
	[Q_DELIVERY_ADD] = "INSERT INTO delivery(signal_id, oin, message_id, state, created, next_at)"
		" VALUES (?1, ?2, ?3, 'pending', ?4, ?4) ON CONFLICT DO NOTHING",
	[Q_DELIVERIES_DUE] = DELIVERY_COLS("") " FROM delivery WHERE state = 'pending'"
		" AND next_at <= ?1"
		" ORDER BY next_at, id LIMIT ?2",
	/* The oldest due delivery of each recipient: the recipients found by
	 * skipping through the (state, oin, next_at) index, then one seek each. */
	[Q_DELIVERIES_NEXT] = "WITH RECURSIVE r(oin) AS ("
		" SELECT min(oin) FROM delivery WHERE state = 'pending'"
		" UNION ALL SELECT (SELECT min(oin) FROM delivery WHERE state = 'pending'"
		"  AND oin > r.oin) FROM r WHERE r.oin IS NOT NULL)"
		" " DELIVERY_COLS("d.") " FROM r JOIN delivery d ON d.id ="
		" (SELECT id FROM delivery x WHERE x.state = 'pending' AND x.oin = r.oin"
		"  AND x.next_at <= ?1 ORDER BY x.next_at, x.id LIMIT 1) LIMIT ?2",
	[Q_DELIVERY_AFTER] = DELIVERY_COLS("") " FROM delivery WHERE state = 'pending' AND oin = ?1"
		" AND next_at <= ?2 AND (next_at, id) > (?3, ?4) ORDER BY next_at, id LIMIT 1",
	[Q_DELIVERIES_OF] = DELIVERY_COLS("") " FROM delivery WHERE state = 'pending' AND oin = ?1"
		" AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3",
	[Q_DELIVERIES_ALL] = DELIVERY_COLS("") " FROM delivery WHERE (?1 = 0 OR state = 'failed')"
		" ORDER BY id LIMIT ?2",
	[Q_DELIVERY_UPDATE] = "UPDATE delivery SET state = ?2, attempts = ?3, next_at = ?4,"
		" delivered_at = nullif(?5, 0), last_status = nullif(?6, 0),"
		" last_error = nullif(?7, '') WHERE id = ?1 AND message_id = ?8",
	[Q_DELIVERY_RETRY] = "UPDATE delivery SET state = 'pending', next_at = ?2, created = ?2,"
		" attempts = 0 WHERE state = 'failed' AND (?1 < 0 OR id = ?1)",
	[Q_SOURCE_GET] = "SELECT coalesce(cursor, ''), coalesce(etag, ''),"
		" coalesce(last_modified, ''), failures, next_at, coalesce(last_ok, 0)"
		" FROM source_state WHERE name = ?1",
	[Q_SOURCE_PUT] = "INSERT INTO source_state(name, cursor, etag, last_modified, failures,"
		" next_at, last_ok) VALUES (?1, nullif(?2, ''), nullif(?3, ''), nullif(?4, ''),"
		" ?5, ?6, nullif(?7, 0)) ON CONFLICT(name) DO UPDATE SET cursor = excluded.cursor,"
		" etag = excluded.etag, last_modified = excluded.last_modified,"
		" failures = excluded.failures, next_at = excluded.next_at,"
		" last_ok = excluded.last_ok",
	[Q_LOG_HEAD] = "SELECT seq, hash FROM exlog ORDER BY seq DESC LIMIT 1",
	[Q_LOG_INSERT] = "INSERT INTO exlog(seq, at, kind, party, subject, detail, prev, hash,"
		" trace_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_LOG_SCAN] = "SELECT seq, at, kind, party, subject, detail, prev, hash, trace_id"
		" FROM exlog"
		" WHERE seq >= ?1 AND (?2 IS NULL OR party = ?2 OR (kind IN ('signal', 'ended') AND EXISTS"
		"  (SELECT 1 FROM json_each(detail, '$.recipients') WHERE value = ?2)))"
		" ORDER BY seq LIMIT ?3",
	/* What a stored record is held under (store_held_*(), territory). */
	[Q_HELD_ADDRESS] = "SELECT coalesce(d.gemeentecode, a.gemeentecode) FROM address a"
		" LEFT JOIN dwelling d ON d.addr = a.addr WHERE a.addr = ?1",
	[Q_HELD_PERSON] = "SELECT gemeentecode FROM person WHERE pkey = ?1 AND pseudonym = ?2"
		" AND begindatum = ?3",
	[Q_HELD_FINDING] = "SELECT gemeentecode FROM finding WHERE id = ?1",
	[Q_PERSON_WITHDRAW] = "DELETE FROM person WHERE pkey = ?1 AND pseudonym = ?2"
		" AND begindatum = ?3",
	/* The findings of the input being read (store_finding_repeat()). */
	[Q_FINDING_SEEN_GET] = "SELECT s.place, f.digest FROM temp.finding_seen s"
		" JOIN finding f ON f.id = s.id WHERE s.id = ?1 AND s.ingest_id = ?2",
	[Q_FINDING_SEEN_PUT] = "INSERT OR REPLACE INTO temp.finding_seen(id, ingest_id, place)"
		" VALUES (?1, ?2, ?3)",
	[Q_FINDING_SEEN_FORGET] = "DELETE FROM temp.finding_seen WHERE ingest_id < ?1"
};

/*
 * One evidence query walked in address order (Q_EV_WALK_*) during a match.
 * The rules visit addresses in that order too, so the evidence of address
 * A is the next run of rows with key A: one step a row instead of a
 * search of the index per signal (300,000 of them at 10^6 registrations).
 * The run of the last address asked is kept for the next rule there.
 */
struct ev_walk {
	enum stmt_id id;
	int rc;			/* of the last step: SQLITE_ROW while rows remain */
	char key[ADDRESS_KEY_MAX];	/* the address of the run; "" before any */
	struct evidence *run;
	size_t n, cap;
};

/* One registration as the match holds it. */
struct registration {
	uint8_t pseudonym[PSEUDONYM_LEN];
	char begindatum[11];
	char addr[ADDRESS_KEY_MAX];
};

/*
 * The current registrations of a match run, in memory (fill_current()):
 * rows holds every registration not after the match date; by_person the
 * current one of each person, in pseudonym order, and by_addr the same in
 * (address, pseudonym) order, both as indexes into rows.
 */
struct current {
	struct registration *rows;
	uint32_t *by_person, *by_addr;
	size_t n;		/* of by_person and by_addr */
};

/* The statements of the processing records (at the end of this file). */
enum ldv_q { LDV_Q_SPAN, LDV_Q_END, LDV_Q_FINDING, LDV_Q_SUBJECTS, LDV_Q_SPANS, LDV_Q_COUNT };
#define LDV_DEFER 32		/* spans written by one multi-row insert */
struct ldv_deferred;		/* a span held for it (at the end of this file) */

struct store {
	sqlite3 *db;		/* NULL with backend = postgresql: */
	struct store_pg *pg;	/* the calls store_pg.h implements go there */
	sqlite3_stmt *stmt[Q_COUNT];
	char as_of[11];
	char window_start[11];
	int busy_timeout_ms;
	/* What this transaction already wrote, so that the next record at the
	 * same address or in the same municipality (extracts come sorted by
	 * address) skips a statement that would change nothing.  Forgotten at
	 * every begin, commit and rollback. */
	char last_addr[ADDRESS_KEY_MAX];
	bool last_addr_nad;	/* with its nummeraanduiding */
	char last_coverage[5];
	bool head_known;	/* the log's head, as this transaction left it */
	int64_t head_seq;
	char head_hash[65];
	struct current cur;	/* during a match */
	bool scoped;		/* the match visits only the marked addresses */
	long changes;		/* records this transaction changed (mark_write()) */
	char last_mark[ADDRESS_KEY_MAX];	/* the address it marked last */
	struct ev_walk walk_findings;
	char trace_id[33];	/* store_trace_set() */
	sqlite3_stmt *ldv_stmt[LDV_Q_COUNT];	/* processing records, kept prepared */
	struct ldv_deferred *ldv_deferred;	/* LDV_DEFER of them, or NULL */
	int ldv_ndeferred;
};

static enum status ldv_flush(struct store *s, struct errbuf *e);
static void ldv_forget(struct store *s);

static void forget_writes(struct store *s)
{
	s->changes = 0;
	s->last_mark[0] = '\0';
	s->last_addr[0] = '\0';
	s->last_coverage[0] = '\0';
	s->head_known = false;
}

static void current_free(struct current *c)
{
	if (c == NULL)
		return;
	free(c->rows);
	free(c->by_person);
	free(c->by_addr);
	memset(c, 0, sizeof(*c));
}

/* Turns the connection's last error into a message. */
static enum status db_error(struct store *s, struct errbuf *e, const char *what)
{
	return errbuf_set(e, ST_FAIL, "database: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The statement id, prepared on first use and reset for the caller. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id, struct errbuf *e)
{
	sqlite3_stmt *st = s->stmt[id];

	if (s->db == NULL) {	/* a store_pg one: what store_pg.h does not do */
		errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
		return NULL;
	}
	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[id], NULL) != SQLITE_OK) {
			db_error(s, e, "prepare");
			return NULL;
		}
		return s->stmt[id];
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Runs a statement that returns no rows. */
static enum status step_done(struct store *s, sqlite3_stmt *st, struct errbuf *e,
			     const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, what);
	return ST_OK;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL || *v == '\0')
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);	/* no copy: bound just before the step */
}

static void bind_long_or_null(sqlite3_stmt *st, int i, long v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static long column_long_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(st, i);
}

/* Column i as text into out (n bytes), cut to fit; "" for NULL. */
static void column_copy(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t len = v != NULL ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (len >= n)
		len = n - 1;
	memcpy(out, v != NULL ? (const char *)v : "", len);
	out[len] = '\0';
}

/* Reads the six address columns from column i on. */
static void column_address(sqlite3_stmt *st, int i, struct address *a)
{
	memset(a, 0, sizeof(*a));
	column_copy(st, i, a->gemeentecode, sizeof(a->gemeentecode));
	column_copy(st, i + 1, a->nummeraanduiding_id, sizeof(a->nummeraanduiding_id));
	column_copy(st, i + 2, a->postcode, sizeof(a->postcode));
	a->huisnummer = sqlite3_column_int(st, i + 3);
	column_copy(st, i + 4, a->huisletter, sizeof(a->huisletter));
	column_copy(st, i + 5, a->toevoeging, sizeof(a->toevoeging));
}

/*
 * The key a registration is found by: the first 8 bytes of its pseudonym
 * (an HMAC, so evenly spread) as a big-endian signed integer.  Two persons
 * may share a key; every query that uses it compares the pseudonym too.
 */
static sqlite3_int64 pseudonym_key(const uint8_t *p)
{
	uint64_t k = 0;

	for (int i = 0; i < 8; i++)
		k = k << 8 | p[i];
	return (sqlite3_int64)k;	/* two's complement: the same bits */
}

/* pseudonym_key(blob) in SQL, for the migration that adds the column and
 * the queries that look a person up; NULL for anything but a pseudonym. */
static void sql_pseudonym_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB ||
	    sqlite3_value_bytes(argv[0]) != PSEUDONYM_LEN) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, pseudonym_key(sqlite3_value_blob(argv[0])));
}

#define DANGLING_MAX 160

/* sqlite3_exec() callback of PRAGMA foreign_key_check: says the first
 * dangling reference (in arg, DANGLING_MAX bytes) and stops. */
static int fk_violation(void *arg, int n, char **value, char **column)
{
	(void)column;
	if (n >= 3)
		snprintf(arg, DANGLING_MAX, "a row of %.40s (rowid %.20s) refers to a missing row of %.40s",
			 value[0] ? value[0] : "?", value[1] ? value[1] : "-",
			 value[2] ? value[2] : "?");
	return 1;
}

/*
 * Applies the migrations schema_dir/store-NNN.sql above user_version.  As
 * SQLite advises for rebuilding a table that others refer to, foreign keys
 * are off while a migration runs and checked before it commits.
 */
static enum status migrate(struct store *s, const char *schema_dir, struct errbuf *e)
{
	sqlite3_stmt *st;
	int version = 0;
	enum status rc = ST_OK;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "read schema version");
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);

	for (int v = version + 1; rc == ST_OK; v++) {
		char path[4096], pragma[64], dangling[DANGLING_MAX], *text, *err = NULL;
		FILE *f;
		long len;

		snprintf(path, sizeof(path), "%s/store-%03d.sql", schema_dir, v);
		f = fopen(path, "rb");
		if (f == NULL) {
			if (v == 1)
				return errbuf_set(e, ST_FAIL, "cannot read %s (is the schema "
						  "directory right? see $SCHAKEL_SCHEMA_DIR)", path);
			break;
		}
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		text = malloc((size_t)len + 1);
		if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
			free(text);
			fclose(f);
			return errbuf_set(e, ST_FAIL, "cannot read %s", path);
		}
		text[len] = '\0';
		fclose(f);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
		dangling[0] = '\0';
		if (sqlite3_exec(s->db, "PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE", NULL, NULL,
				 &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, text, NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, "PRAGMA foreign_key_check", fk_violation, dangling,
				 &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
			rc = errbuf_set(e, ST_FAIL, "database: migration %s: %s", path,
					dangling[0] ? dangling : err != NULL ? err : "failed");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		}
		sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
		sqlite3_free(err);
		free(text);
	}
	return rc;
}

enum status store_open(const char *path, const char *schema_dir, int busy_timeout_ms,
		       struct store **out, struct errbuf *e)
{
	/* 8 MiB of page cache until store_cache() says otherwise. */
	static const char setup[] = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		" PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
		" PRAGMA cache_size = -8192;";
	struct store *s;
	char *err = NULL;

	*out = NULL;
	/* SQLite counts its memory under a global mutex on every allocation
	 * unless told not to; we never read the counts.  Only possible before
	 * SQLite initialises, so the first open does it (later ones are
	 * refused, harmlessly). */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		errbuf_set(e, ST_FAIL, "cannot open database %s: %s", path,
			   s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out_close;
	}
	sqlite3_busy_timeout(s->db, busy_timeout_ms);
	s->busy_timeout_ms = busy_timeout_ms;
	if (sqlite3_exec(s->db, setup, NULL, NULL, &err) != SQLITE_OK) {
		errbuf_set(e, ST_FAIL, "cannot open database %s: %s", path, err);
		sqlite3_free(err);
		goto out_close;
	}
	if (sqlite3_create_function(s->db, "pseudonym_key", 1,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
				    sql_pseudonym_key, NULL, NULL) != SQLITE_OK) {
		db_error(s, e, "cannot open database");
		goto out_close;
	}
	if (migrate(s, schema_dir, e) != ST_OK)
		goto out_close;
	if (sqlite3_exec(s->db, "CREATE TEMP TABLE obs(addr TEXT PRIMARY KEY,"
			 " n INTEGER NOT NULL) WITHOUT ROWID;", NULL, NULL, &err) != SQLITE_OK) {
		errbuf_set(e, ST_FAIL, "database: %s", err);
		sqlite3_free(err);
		goto out_close;
	}
	*out = s;
	return ST_OK;
out_close:
	store_close(s);
	return ST_FAIL;
}

enum status store_open_dsn(const char *dsn, const char *passfile, const char *schema_dir,
			   struct store **out, struct errbuf *e)
{
	struct store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (store_pg_open(dsn, passfile, schema_dir, &s->pg, e) != ST_OK) {
		free(s);
		return ST_FAIL;
	}
	*out = s;
	return ST_OK;
}

enum status store_key_check(struct store *s, const char check[65], struct errbuf *e)
{
	return s->pg != NULL ? store_pg_key_check(s->pg, check, e) : ST_OK;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_pg_close(s->pg);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	for (int i = 0; i < LDV_Q_COUNT; i++)
		sqlite3_finalize(s->ldv_stmt[i]);
	ldv_forget(s);
	free(s->ldv_deferred);
	sqlite3_close(s->db);
	current_free(&s->cur);
	free(s->walk_findings.run);
	free(s);
}

enum status store_begin(struct store *s, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_begin(s->pg, e);
	sqlite3_stmt *st = stmt(s, Q_BEGIN, e);

	forget_writes(s);
	if (st == NULL || step_done(s, st, e, "begin") != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

enum status store_commit(struct store *s, struct errbuf *e)
{
	sqlite3_stmt *st;

	if (s->pg != NULL)
		return store_pg_commit(s->pg, e);

	if (ldv_flush(s, e) != ST_OK)	/* the processing records held back */
		return ST_FAIL;
	st = stmt(s, Q_COMMIT, e);
	forget_writes(s);
	if (st == NULL || step_done(s, st, e, "commit") != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

void store_trace_set(struct store *s, const char *trace_id)
{
	snprintf(s->trace_id, sizeof(s->trace_id), "%s", trace_id != NULL ? trace_id : "");
}

const char *store_trace(const struct store *s)
{
	return s->trace_id[0] ? s->trace_id : NULL;
}

enum status store_cache(struct store *s, int mib, struct errbuf *e)
{
	if (s->pg != NULL)
		return ST_OK;
	char pragma[64];

	snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = %lld", -1024LL * mib);
	if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "cache size");
	return ST_OK;
}

void store_rollback(struct store *s)
{
	if (s == NULL)
		return;
	if (s->pg != NULL) {
		store_pg_rollback(s->pg);
		return;
	}
	forget_writes(s);
	ldv_forget(s);
	if (sqlite3_get_autocommit(s->db))
		return;	/* no transaction open */
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

enum status store_ingest_add(struct store *s, const struct ingest_row *r, int64_t *id,
			     struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ingest_add(s->pg, r, id, e);
	sqlite3_stmt *st = stmt(s, Q_INGEST_ADD, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->adapter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->origin, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, r->party);
	sqlite3_bind_text(st, 4, r->digest, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "add ingest") != ST_OK)
		return ST_FAIL;
	*id = sqlite3_last_insert_rowid(s->db);
	return ST_OK;
}

enum status store_ingest_counts(struct store *s, int64_t id, long accepted, long rejected,
				const char *digest, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ingest_counts(s->pg, id, accepted, rejected, digest, e);
	sqlite3_stmt *st = stmt(s, Q_INGEST_COUNTS, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, accepted);
	sqlite3_bind_int64(st, 3, rejected);
	sqlite3_bind_text(st, 4, digest, -1, SQLITE_STATIC);
	return step_done(s, st, e, "update ingest");
}

static enum status put_address(struct store *s, const struct address *a, const char *key,
			       struct errbuf *e)
{
	bool nad = a->nummeraanduiding_id[0] != '\0';
	sqlite3_stmt *st;

	if (strcmp(s->last_addr, key) == 0 && (s->last_addr_nad || !nad))
		return ST_OK;	/* the row is there, and this would not fill it in */
	st = stmt(s, Q_ADDRESS_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->gemeentecode, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, a->nummeraanduiding_id);
	sqlite3_bind_text(st, 4, a->postcode, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, a->huisnummer);
	sqlite3_bind_text(st, 6, a->huisletter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->toevoeging, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store address") != ST_OK)
		return ST_FAIL;
	snprintf(s->last_addr, sizeof(s->last_addr), "%s", key);
	s->last_addr_nad = nad;
	return ST_OK;
}

/* A digest of a record's content, to tell a re-ingest from a change. */
static void content_digest(uint8_t out[32], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void content_digest(uint8_t out[32], const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	crypto_sha256(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1, out);
}

/* The content digest of a registration: content_digest() of
 * "KEY|GEMEENTE|NAD", put together without printf (a tenth of the time,
 * once per person). */
static void person_digest(uint8_t out[32], const char *key, const struct address *a)
{
	const char *parts[] = { key, a->gemeentecode, a->nummeraanduiding_id };
	char buf[ADDRESS_KEY_MAX + sizeof(a->gemeentecode) + sizeof(a->nummeraanduiding_id)];
	size_t len = 0;

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);

		if (i > 0)
			buf[len++] = '|';
		memcpy(buf + len, parts[i], n);
		len += n;
	}
	crypto_sha256(buf, len, out);
}

/* The address and coverage rows of a registration: consecutive persons
 * mostly share both, and a repeat is skipped. */
static enum status put_person_address(struct store *s, const struct person_row *r,
				      const char *key, struct errbuf *e)
{
	sqlite3_stmt *st;

	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	if (strcmp(s->last_coverage, r->address.gemeentecode) == 0)
		return ST_OK;
	st = stmt(s, Q_COVERAGE_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->address.gemeentecode, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store coverage") != ST_OK)
		return ST_FAIL;
	snprintf(s->last_coverage, sizeof(s->last_coverage), "%s", r->address.gemeentecode);
	return ST_OK;
}

/*
 * After this many changed records in one transaction the next match is a
 * full run (mark_all, store-012.sql) and the triggers stop marking: a
 * full run costs less than marks for a large part of the store would save.
 */
#define MARK_ALL_AFTER 20000

/*
 * Marks what a changed record touches for the next incremental match
 * (store-012.sql): its address (key) and, for a registration, its person
 * (person non-NULL: the pseudonym's key).  Counts the change; at
 * MARK_ALL_AFTER sets mark_all and marks nothing more in this transaction.
 */
static enum status mark_write(struct store *s, const char *key, const sqlite3_int64 *person,
			      struct errbuf *e)
{
	sqlite3_stmt *st;

	if (++s->changes > MARK_ALL_AFTER)
		return ST_OK;
	if (s->changes == MARK_ALL_AFTER) {
		if (sqlite3_exec(s->db, "INSERT OR IGNORE INTO mark_all(id) VALUES (1)", NULL,
				 NULL, NULL) != SQLITE_OK)
			return db_error(s, e, "mark a large change");
		return ST_OK;
	}
	if (strcmp(s->last_mark, key) != 0) {
		if ((st = stmt(s, Q_MARK_ADDR, e)) == NULL)
			return ST_FAIL;
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (step_done(s, st, e, "mark a change") != ST_OK)
			return ST_FAIL;
		snprintf(s->last_mark, sizeof(s->last_mark), "%s", key);
	}
	if (person == NULL)
		return ST_OK;
	if ((st = stmt(s, Q_MARK_PERSON, e)) == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, *person);
	return step_done(s, st, e, "mark a change");
}

/*
 * A registration is found by its pseudonym's key (pseudonym_key(), an
 * integer index) and then compared whole: the index of (pseudonym,
 * begindatum) that an ON CONFLICT needs was 56 bytes an entry, at random
 * places, and at 10^6 registrations outgrew the page cache (docs/
 * performance.md); the key's index is a third of that.
 */
enum status store_put_person(struct store *s, int64_t ingest_id, const struct person_row *r,
			     bool *changed, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_put_person(s->pg, ingest_id, r, changed, e);
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_int64 pkey = pseudonym_key(r->pseudonym), rowid = 0;
	sqlite3_stmt *st;
	int rc;

	*changed = false;
	address_key(&r->address, key);
	if (put_person_address(s, r, key, e) != ST_OK)
		return ST_FAIL;
	person_digest(digest, key, &r->address);
	st = stmt(s, Q_PERSON_FIND, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, pkey);
	sqlite3_bind_blob(st, 2, r->pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->begindatum, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) == sizeof(digest) &&
		    memcmp(sqlite3_column_blob(st, 1), digest, sizeof(digest)) == 0) {
			sqlite3_reset(st);
			return ST_OK;	/* stored before, unchanged */
		}
		rowid = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read person");
	st = stmt(s, rowid != 0 ? Q_PERSON_UPDATE : Q_PERSON_ADD, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, rowid != 0 ? rowid : pkey);
	sqlite3_bind_blob(st, 2, r->pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->begindatum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->address.gemeentecode, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, r->bsn_sealed, SEALED_BSN_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, ingest_id);
	if (step_done(s, st, e, "store person") != ST_OK)
		return ST_FAIL;
	*changed = true;
	return mark_write(s, key, &pkey, e);
}

enum status store_put_dwelling(struct store *s, int64_t ingest_id,
			       const struct dwelling_row *r, bool *changed, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_put_dwelling(s->pg, ingest_id, r, changed, e);
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;

	address_key(&r->address, key);
	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	content_digest(digest, "%s|%s|%ld|%s|%ld|%s|%s", r->address.gemeentecode,
		       r->address.nummeraanduiding_id, r->oppervlakte,
		       r->gebruiksdoel ? r->gebruiksdoel : "\x01", r->max_bewoners,
		       r->vergunning ? r->vergunning : "\x01",
		       r->vergunning_tot ? r->vergunning_tot : "\x01");
	st = stmt(s, Q_DWELLING_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->address.gemeentecode, -1, SQLITE_STATIC);
	bind_long_or_null(st, 3, r->oppervlakte);
	bind_text_or_null(st, 4, r->gebruiksdoel);
	bind_long_or_null(st, 5, r->max_bewoners);
	bind_text_or_null(st, 6, r->vergunning);
	bind_text_or_null(st, 7, r->vergunning_tot);
	sqlite3_bind_blob(st, 8, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, ingest_id);
	if (step_done(s, st, e, "store dwelling") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	return *changed ? mark_write(s, key, NULL, e) : ST_OK;
}

static void finding_digest(const struct finding_row *r, const char *key, uint8_t out[32])
{
	char buf[128];
	struct sha256 *h = crypto_sha256_new();
	char hex[65];
	int n;

	n = snprintf(buf, sizeof(buf), "%s|%s|%s|%s|%s|%ld|", r->datum, r->soort,
		     r->kvk ? r->kvk : "\x01", key, r->address.gemeentecode, r->aangetroffen);
	if (h == NULL) {	/* out of memory: a digest that always differs */
		crypto_random(out, 32, NULL);
		return;
	}
	crypto_sha256_update(h, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	crypto_sha256_update(h, r->address.nummeraanduiding_id,
			     strlen(r->address.nummeraanduiding_id));
	for (size_t i = 0; i < r->npersons; i++)
		crypto_sha256_update(h, r->persons[i].pseudonym, PSEUDONYM_LEN);
	crypto_sha256_final(h, hex);
	memcpy(out, hex, 32);	/* half the hex digits are as good as a digest here */
}

enum status store_put_finding(struct store *s, int64_t ingest_id, const struct finding_row *r,
			      bool *changed, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_put_finding(s->pg, ingest_id, r, changed, e);
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;

	address_key(&r->address, key);
	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	finding_digest(r, key, digest);
	st = stmt(s, Q_FINDING_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->datum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->soort, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, r->kvk);
	sqlite3_bind_text(st, 5, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->address.gemeentecode, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->aangetroffen);
	sqlite3_bind_blob(st, 8, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, ingest_id);
	if (step_done(s, st, e, "store finding") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	if (!*changed)
		return ST_OK;
	if (mark_write(s, key, NULL, e) != ST_OK)
		return ST_FAIL;

	st = stmt(s, Q_FINDING_PERSONS_DEL, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store finding") != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < r->npersons; i++) {
		st = stmt(s, Q_FINDING_PERSON_ADD, e);
		if (st == NULL)
			return ST_FAIL;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, r->persons[i].pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, r->persons[i].bsn_sealed, SEALED_BSN_LEN, SQLITE_STATIC);
		if (step_done(s, st, e, "store finding person") != ST_OK)
			return ST_FAIL;
	}
	return ST_OK;
}

/* --- what a stored record is held under (territory, ingest.c) --------- */

/* Steps a held query: its first column into out (5 bytes), *found. */
static enum status held_step(struct store *s, sqlite3_stmt *st, char out[5], bool *found,
			     struct errbuf *e)
{
	int rc = sqlite3_step(st);

	*found = rc == SQLITE_ROW;
	out[0] = '\0';
	if (*found)
		column_copy(st, 0, out, 5);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read territory");
	return ST_OK;
}

/* A held query id of one text parameter, key. */
static enum status held_by_text(struct store *s, enum stmt_id id, const char *key, char out[5],
				bool *found, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, id, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return held_step(s, st, out, found, e);
}

enum status store_held_address(struct store *s, const char *key, char out[5], bool *found,
			       struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_held_address(s->pg, key, out, found, e);
	return held_by_text(s, Q_HELD_ADDRESS, key, out, found, e);
}

/* SQLite answers store_held_address() from its page cache: no hint needed. */
enum status store_hint_addresses(struct store *s, const char (*keys)[ADDRESS_KEY_MAX], size_t n,
				 struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_hint_addresses(s->pg, keys, n, e);
	return ST_OK;
}

/* SQLite writes each put at once and says in its *changed what it did. */
enum status store_flush(struct store *s, long *changed, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_flush(s->pg, changed, e);
	*changed = 0;
	return ST_OK;
}

/* Binds a registration's identity as ?1 (its key), ?2, ?3. */
static void bind_person_identity(sqlite3_stmt *st, const uint8_t *pseudonym,
				 const char *begindatum)
{
	sqlite3_bind_int64(st, 1, pseudonym_key(pseudonym));
	sqlite3_bind_blob(st, 2, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, begindatum, -1, SQLITE_STATIC);
}

enum status store_held_person(struct store *s, const uint8_t *pseudonym,
			      const char *begindatum, char out[5], bool *found, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_held_person(s->pg, pseudonym, begindatum, out, found, e);
	sqlite3_stmt *st = stmt(s, Q_HELD_PERSON, e);

	if (st == NULL)
		return ST_FAIL;
	bind_person_identity(st, pseudonym, begindatum);
	return held_step(s, st, out, found, e);
}

enum status store_held_finding(struct store *s, const char *id, char out[5], bool *found,
			       struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_held_finding(s->pg, id, out, found, e);
	return held_by_text(s, Q_HELD_FINDING, id, out, found, e);
}

enum status store_withdraw_person(struct store *s, const uint8_t *pseudonym,
				  const char *begindatum, bool *changed, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_withdraw_person(s->pg, pseudonym, begindatum, changed, e);
	sqlite3_stmt *st = stmt(s, Q_PERSON_WITHDRAW, e);

	*changed = false;
	if (st == NULL)
		return ST_FAIL;
	bind_person_identity(st, pseudonym, begindatum);
	if (step_done(s, st, e, "withdraw person") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	return ST_OK;
}

/*
 * The findings stored by the input being read are listed, with their
 * places, in temp.finding_seen (made here on first use; the rows of
 * earlier inputs are dropped as the next one starts, so it holds one
 * input's findings at most).
 */
enum status store_finding_repeat(struct store *s, int64_t ingest_id,
				 const struct finding_row *r, const char *place,
				 char *first, size_t n, bool *differs, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_finding_repeat(s->pg, ingest_id, r, place, first, n, differs, e);
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;
	int rc;

	*differs = false;
	if (s->stmt[Q_FINDING_SEEN_GET] == NULL &&
	    sqlite3_exec(s->db, "CREATE TEMP TABLE IF NOT EXISTS finding_seen(id TEXT PRIMARY KEY,"
			 " ingest_id INTEGER NOT NULL, place TEXT NOT NULL);"
			 " CREATE INDEX IF NOT EXISTS temp.finding_seen_ingest"
			 " ON finding_seen(ingest_id)", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "finding_seen");
	st = stmt(s, Q_FINDING_SEEN_GET, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ingest_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		address_key(&r->address, key);
		finding_digest(r, key, digest);
		*differs = sqlite3_column_bytes(st, 1) != (int)sizeof(digest) ||
			   memcmp(sqlite3_column_blob(st, 1), digest, sizeof(digest)) != 0;
		column_copy(st, 0, first, n);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read finding_seen");
	if (rc == SQLITE_ROW)
		return ST_OK;
	st = stmt(s, Q_FINDING_SEEN_FORGET, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, ingest_id);
	if (step_done(s, st, e, "forget finding_seen") != ST_OK)
		return ST_FAIL;
	st = stmt(s, Q_FINDING_SEEN_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ingest_id);
	sqlite3_bind_text(st, 3, place, -1, SQLITE_STATIC);
	return step_done(s, st, e, "note finding_seen");
}

/* Binds the match date (?1) and the window start (?2). */
static void bind_window(struct store *s, sqlite3_stmt *st)
{
	sqlite3_bind_text(st, 1, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
}

/*
 * One piece of evidence from row st at column i: a registration (pseudonym
 * blob, begindatum) as "HEX/begindatum", or a finding by its id.
 */
static void evidence_fill(struct evidence *ev, const char *source, sqlite3_stmt *st, int i)
{
	snprintf(ev->source, sizeof(ev->source), "%s", source);
	if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
		char hex[2 * PSEUDONYM_LEN + 1];

		crypto_hex(sqlite3_column_blob(st, i), PSEUDONYM_LEN, hex);
		snprintf(ev->record, sizeof(ev->record), "%s/%s", hex,
			 (const char *)sqlite3_column_text(st, i + 1));
	} else {
		column_copy(st, i, ev->record, sizeof(ev->record));
	}
}

/* Starts walking query id: on its first row. */
static enum status walk_start(struct store *s, struct ev_walk *w, enum stmt_id id,
			      struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, id, e);

	if (st == NULL)
		return ST_FAIL;
	w->id = id;
	w->key[0] = '\0';
	w->n = 0;
	if (id == Q_EV_WALK_FINDINGS || id == Q_EV_WALK_SCOPED)
		bind_window(s, st);
	w->rc = sqlite3_step(st);
	if (w->rc != SQLITE_ROW && w->rc != SQLITE_DONE)
		return db_error(s, e, "gather evidence");
	return ST_OK;
}

static void walk_end(struct store *s, struct ev_walk *w)
{
	if (s->stmt[w->id] != NULL)
		sqlite3_reset(s->stmt[w->id]);
	w->rc = SQLITE_DONE;
	w->key[0] = '\0';
}

/* Adds the walk's current row to its run. */
static bool walk_keep(struct ev_walk *w, sqlite3_stmt *st)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct evidence *grown = realloc(w->run, cap * sizeof(*grown));

		if (grown == NULL)
			return false;
		w->run = grown;
		w->cap = cap;
	}
	evidence_fill(&w->run[w->n++], "inspectie", st, 1);
	return true;
}

/*
 * Appends the walk's rows for address key to *ev.  Keys must come in the
 * walk's order (SQLite's BINARY collation: strcmp); the rows of a key
 * already passed are gone, which would be a bug of the caller.
 */
static enum status walk_take(struct store *s, struct ev_walk *w, const char *key,
			     struct evidence **ev, size_t *n, struct errbuf *e)
{
	sqlite3_stmt *st = s->stmt[w->id];
	struct evidence *grown;

	if (strcmp(key, w->key) != 0) {
		if (w->key[0] != '\0' && strcmp(key, w->key) < 0)
			return errbuf_set(e, ST_FAIL, "gather evidence: address %s asked after %s",
					  key, w->key);
		snprintf(w->key, sizeof(w->key), "%s", key);
		w->n = 0;
		for (; w->rc == SQLITE_ROW; w->rc = sqlite3_step(st)) {
			int cmp = strcmp((const char *)sqlite3_column_text(st, 0), key);

			if (cmp > 0)
				break;
			if (cmp == 0 && !walk_keep(w, st))
				return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		}
		if (w->rc != SQLITE_ROW && w->rc != SQLITE_DONE)
			return db_error(s, e, "gather evidence");
	}
	if (w->n == 0)
		return ST_OK;
	grown = realloc(*ev, (*n + w->n) * sizeof(**ev));
	if (grown == NULL)
		return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
	memcpy(grown + *n, w->run, w->n * sizeof(*grown));
	*ev = grown;
	*n += w->n;
	return ST_OK;
}

/* qsort_r() comparison of two indexes into rows. */
static int by_person(const void *a, const void *b, void *rows)
{
	const struct registration *x = (const struct registration *)rows + *(const uint32_t *)a;
	const struct registration *y = (const struct registration *)rows + *(const uint32_t *)b;
	int c = memcmp(x->pseudonym, y->pseudonym, PSEUDONYM_LEN);

	return c != 0 ? c : strcmp(x->begindatum, y->begindatum);
}

/* qsort_r() comparison in SQLite's order of the address key (BINARY:
 * strcmp), then by pseudonym: the order of the evidence. */
static int by_address(const void *a, const void *b, void *rows)
{
	const struct registration *x = (const struct registration *)rows + *(const uint32_t *)a;
	const struct registration *y = (const struct registration *)rows + *(const uint32_t *)b;
	int c = strcmp(x->addr, y->addr);

	return c != 0 ? c : memcmp(x->pseudonym, y->pseudonym, PSEUDONYM_LEN);
}

/* Sorts idx[0..n) by cmp: a few (the usual case here) by insertion, with
 * no call into qsort_r() for each of 10^5 small groups. */
static void sort_indexes(uint32_t *idx, size_t n,
			 int (*cmp)(const void *, const void *, void *), const void *rows)
{
	if (n > 32) {
		qsort_r(idx, n, sizeof(*idx), cmp, (void *)rows);
		return;
	}
	for (size_t k = 1; k < n; k++) {
		uint32_t v = idx[k];
		size_t m = k;

		for (; m > 0 && cmp(&idx[m - 1], &v, (void *)rows) > 0; m--)
			idx[m] = idx[m - 1];
		idx[m] = v;
	}
}

/*
 * The order of rows[0..n) by (pseudonym, begindatum), as indexes.  A
 * pseudonym is an HMAC, evenly spread: counted into 65,536 buckets by its
 * first two bytes, then each bucket (some fifteen rows at 10^6) sorted;
 * a third of the time of one qsort() of the rows.
 */
static uint32_t *order_by_person(const struct registration *rows, size_t n)
{
	size_t *start = calloc(65537, sizeof(*start));
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order));

	if (start == NULL || order == NULL) {
		free(start);
		free(order);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		start[(rows[i].pseudonym[0] << 8 | rows[i].pseudonym[1]) + 1]++;
	for (size_t b = 1; b <= 65536; b++)
		start[b] += start[b - 1];
	for (size_t i = 0; i < n; i++)
		order[start[rows[i].pseudonym[0] << 8 | rows[i].pseudonym[1]]++] = (uint32_t)i;
	/* start[b] is now the end of bucket b, the start of bucket b + 1 */
	for (size_t b = 0, from = 0; b < 65536; from = start[b++])
		sort_indexes(order + from, start[b] - from, by_person, rows);
	free(start);
	return order;
}

/* The first eight bytes of an address key as a number that orders as the
 * keys do (strcmp): big-endian, a shorter key padded with NULs. */
static uint64_t key_prefix(const char *k)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < 8 && k[i] != '\0'; i++)
		v = v << 8 | (unsigned char)k[i];
	return i == 0 ? 0 : v << (8 * (8 - i));
}

struct keyed {
	uint64_t key;
	uint32_t row;
};

/*
 * Puts idx[0..n) (indexes into rows) in by_address() order.  A qsort() of
 * the 10^6 current registrations by strcmp() took a second: the rows are
 * radix-sorted by the first eight bytes of their address key instead
 * (four passes of 16 bits), and only rows that share those bytes (an
 * address's persons, numbers 1 and 10-19 of a postcode) are compared
 * whole.  false when out of memory.
 */
static bool order_by_address(const struct registration *rows, uint32_t *idx, size_t n)
{
	struct keyed *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	size_t *count = malloc(65536 * sizeof(*count));
	bool ok = a != NULL && b != NULL && count != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		a[i].key = key_prefix(rows[idx[i]].addr);
		a[i].row = idx[i];
	}
	for (int shift = 0; ok && shift < 64; shift += 16) {	/* stable: LSD first */
		struct keyed *t;
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].key >> shift) & 0xffff]++;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			b[count[(a[i].key >> shift) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0, j; ok && i < n; i = j) {
		for (j = i; j < n && a[j].key == a[i].key; j++)
			idx[j] = a[j].row;
		sort_indexes(idx + i, j - i, by_address, rows);
	}
	free(count);
	free(b);
	free(a);
	return ok;
}

/* Reads the registrations not after the match date of query id
 * (Q_PERSON_SCAN: every one) into c->rows. */
static enum status read_registrations(struct store *s, enum stmt_id id, struct current *c,
				      size_t *n, struct errbuf *e)
{
	sqlite3_stmt *q = stmt(s, id, e);
	size_t cap = 0;
	int rc;

	*n = 0;
	if (q == NULL)
		return ST_FAIL;
	sqlite3_bind_text(q, 1, s->as_of, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct registration *r;

		if (*n == cap) {
			struct registration *grown;

			cap = cap ? 2 * cap : 4096;
			grown = realloc(c->rows, cap * sizeof(*grown));
			if (grown == NULL) {
				sqlite3_reset(q);
				return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
			}
			c->rows = grown;
		}
		if (sqlite3_column_bytes(q, 0) != PSEUDONYM_LEN)
			continue;	/* cannot be: the ingest writes them */
		r = &c->rows[(*n)++];
		memcpy(r->pseudonym, sqlite3_column_blob(q, 0), PSEUDONYM_LEN);
		column_copy(q, 1, r->begindatum, sizeof(r->begindatum));
		column_copy(q, 2, r->addr, sizeof(r->addr));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "current registrations");
	return ST_OK;
}

/* Adds to person_at the registrations written since it last was brought
 * up to date (store-014.sql), in this transaction. */
enum status store_match_catch_up(struct store *s, struct errbuf *e)
{
	sqlite3_stmt *add = stmt(s, Q_PERSON_AT_ADD, e), *upto = stmt(s, Q_PERSON_AT_UPTO, e);

	if (add == NULL || upto == NULL || step_done(s, add, e, "registrations by address") != ST_OK)
		return ST_FAIL;
	return step_done(s, upto, e, "registrations by address");
}

/*
 * Works out each person's latest registration not after the match date,
 * in memory (s->cur).  In SQL that is a GROUP BY pseudonym with
 * max(begindatum) into a temporary table and an index on it by address,
 * which took 3.1 s for the 10^6 registrations of the benchmark; read in
 * table order and ordered here twice (by person, by address) it takes a
 * fraction of that.  Some 90 bytes a registration.  With scoped, only
 * the persons registered at a marked address (found through person_at) or
 * named by a finding at one: enough for every count and lookup the scoped
 * match makes, and as much work as the change, not the table.
 */
static enum status fill_current(struct store *s, bool scoped, struct errbuf *e)
{
	struct current *c = &s->cur;
	size_t n;

	current_free(c);
	if (scoped && store_match_catch_up(s, e) != ST_OK)
		return ST_FAIL;
	if (read_registrations(s, scoped ? Q_PERSON_SCAN_SCOPED : Q_PERSON_SCAN, c, &n, e) != ST_OK)
		return ST_FAIL;
	if (n > UINT32_MAX || (c->by_person = order_by_person(c->rows, n)) == NULL)
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct registration *r = &c->rows[c->by_person[i]];

		if (i + 1 < n && memcmp(r->pseudonym, c->rows[c->by_person[i + 1]].pseudonym,
					PSEUDONYM_LEN) == 0)
			continue;	/* a later registration of the same person follows */
		c->by_person[c->n++] = c->by_person[i];
	}
	c->by_addr = malloc((c->n ? c->n : 1) * sizeof(*c->by_addr));
	if (c->by_addr == NULL)
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	memcpy(c->by_addr, c->by_person, c->n * sizeof(*c->by_addr));
	if (!order_by_address(c->rows, c->by_addr, c->n))
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	return ST_OK;
}

/* The current registration of person, or NULL. */
static const struct registration *current_of(const struct current *c, const uint8_t *person)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct registration *r = &c->rows[c->by_person[mid]];
		int cmp = memcmp(r->pseudonym, person, PSEUDONYM_LEN);

		if (cmp == 0)
			return r;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The current registrations at address key: by_addr[*first ..] and how
 * many. */
static size_t current_at(const struct current *c, const char *key, size_t *first)
{
	size_t lo = 0, hi = c->n, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->rows[c->by_addr[mid]].addr, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < c->n && strcmp(c->rows[c->by_addr[lo + n]].addr, key) == 0)
		n++;
	return n;
}

/* A registration as evidence: "HEX/begindatum" (as evidence_fill()). */
static void registration_evidence(struct evidence *ev, const struct registration *r)
{
	const size_t hex = 2 * (size_t)PSEUDONYM_LEN;

	_Static_assert(sizeof(ev->record) >= 2 * PSEUDONYM_LEN + 1 + sizeof(r->begindatum),
		       "a registration fits the evidence record");
	memcpy(ev->source, "brp", 4);
	crypto_hex(r->pseudonym, PSEUDONYM_LEN, ev->record);
	ev->record[hex] = '/';
	memcpy(ev->record + hex + 1, r->begindatum, sizeof(r->begindatum));
}

/* store_match_begin() and store_match_begin_scoped(). */
static enum status match_begin(struct store *s, const char *as_of, const char *window_start,
			       bool scoped, struct errbuf *e)
{
	sqlite3_stmt *st;

	s->scoped = scoped;
	snprintf(s->as_of, sizeof(s->as_of), "%s", as_of);
	snprintf(s->window_start, sizeof(s->window_start), "%s", window_start);
	if (sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "match");
	if (fill_current(s, scoped, e) != ST_OK)
		return ST_FAIL;
	st = stmt(s, scoped ? Q_OBS_FILL_SCOPED : Q_OBS_FILL, e);
	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	if (step_done(s, st, e, "observed persons") != ST_OK)
		return ST_FAIL;
	return walk_start(s, &s->walk_findings, scoped ? Q_EV_WALK_SCOPED : Q_EV_WALK_FINDINGS, e);
}

enum status store_match_begin(struct store *s, const char *as_of, const char *window_start,
			      struct errbuf *e)
{
	return match_begin(s, as_of, window_start, false, e);
}

enum status store_match_begin_scoped(struct store *s, const char *as_of,
				     const char *window_start, struct errbuf *e)
{
	return match_begin(s, as_of, window_start, true, e);
}

void store_match_end(struct store *s)
{
	walk_end(s, &s->walk_findings);
	current_free(&s->cur);
	sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL);
}

/* Steps st to the end, calling row(s, st, arg) on each row. */
static enum status each_row(struct store *s, sqlite3_stmt *st,
			    int (*row)(sqlite3_stmt *st, void *arg), void *arg,
			    struct errbuf *e, const char *what)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row(st, arg) != 0) {
			sqlite3_reset(st);
			return ST_FAIL;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, what);
	return ST_OK;
}

struct facts_cb {
	int (*cb)(void *arg, const struct address_facts *f);
	void *arg;
	const struct current *cur;
	size_t next;		/* into cur->by_addr: the first not yet counted */
	bool lost;		/* a registration at an address not in the table */
	bool scoped;		/* only some addresses: counted by a search */
};

/*
 * One address of Q_MATCH_ADDRESSES, with registered(A) counted off
 * cur->by_addr, which is in the same order; an address with neither a
 * registration nor a finding in the window is no candidate.
 */
static int facts_row(sqlite3_stmt *st, void *arg)
{
	struct facts_cb *c = arg;
	const char *key = (const char *)sqlite3_column_text(st, 12);
	struct address_facts f;
	long n = 0;
	int cmp = 1;

	if (key == NULL)
		return -1;
	if (c->scoped) {
		size_t first;

		n = (long)current_at(c->cur, key, &first);
	}
	for (; !c->scoped && c->next < c->cur->n; c->next++) {
		cmp = strcmp(c->cur->rows[c->cur->by_addr[c->next]].addr, key);
		if (cmp > 0)
			break;
		if (cmp < 0) {	/* cannot be: person.addr refers to address */
			c->lost = true;
			return -1;
		}
		n++;
	}
	if (n == 0 && sqlite3_column_int(st, 13) == 0)
		return 0;
	column_address(st, 0, &f.address);
	f.registered = n;
	f.observed = (long)sqlite3_column_int64(st, 6);
	f.oppervlakte = column_long_or_null(st, 7);
	f.max_bewoners = column_long_or_null(st, 8);
	f.has_dwelling = sqlite3_column_int(st, 9) != 0;
	f.permit_valid = sqlite3_column_int(st, 10) != 0;
	f.covered = sqlite3_column_int(st, 11) != 0;
	return c->cb(c->arg, &f);
}

enum status store_match_addresses(struct store *s,
				  int (*cb)(void *arg, const struct address_facts *f),
				  void *arg, struct errbuf *e)
{
	struct facts_cb c = { cb, arg, &s->cur, 0, false, s->scoped };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_ADDRESSES_SCOPED : Q_MATCH_ADDRESSES, e);
	enum status rc;

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	rc = each_row(s, st, facts_row, &c, e, "match addresses");
	/* every registration's address is in the table (a foreign key): one
	 * left over, or passed, is a store that lost its integrity */
	if (c.lost || (rc == ST_OK && !c.scoped && c.next < s->cur.n))
		return errbuf_set(e, ST_FAIL, "match addresses: a registration at %s, an address"
				  " the store does not have", s->cur.rows[s->cur.by_addr[c.next]].addr);
	return rc;
}

struct mismatch_cb {
	int (*cb)(void *arg, const struct mismatch *m);
	void *arg;
	struct store *s;
	struct errbuf *e;
};

/* The address of key into a; false when the store has none. */
static bool address_get(struct store *s, const char *key, struct address *a, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_ADDRESS_GET, e);
	int rc;

	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		column_address(st, 0, a);
	else if (rc == SQLITE_DONE)
		errbuf_set(e, ST_FAIL, "match address mismatches: no address %s", key);
	else
		db_error(s, e, "match address mismatches");
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/* A person a finding names at A: a mismatch when the person's current
 * registration is at another address. */
static int mismatch_row(sqlite3_stmt *st, void *arg)
{
	struct mismatch_cb *c = arg;
	const struct registration *r;
	const char *at = (const char *)sqlite3_column_text(st, 7);
	struct mismatch m;
	size_t first;

	if (sqlite3_column_bytes(st, 6) != PSEUDONYM_LEN || at == NULL)
		return 0;	/* cannot be: the ingest writes them */
	r = current_of(&c->s->cur, sqlite3_column_blob(st, 6));
	if (r == NULL || strcmp(r->addr, at) == 0)
		return 0;	/* not registered, or registered here */
	column_address(st, 0, &m.address);
	if (!address_get(c->s, r->addr, &m.registered_at, c->e))
		return -1;
	memcpy(m.pseudonym, r->pseudonym, PSEUDONYM_LEN);
	m.registered = (long)current_at(&c->s->cur, at, &first);
	m.observed = (long)sqlite3_column_int64(st, 8);
	m.oppervlakte = column_long_or_null(st, 9);
	m.max_bewoners = column_long_or_null(st, 10);
	return c->cb(c->arg, &m);
}

enum status store_match_mismatches(struct store *s,
				   int (*cb)(void *arg, const struct mismatch *m),
				   void *arg, struct errbuf *e)
{
	struct mismatch_cb c = { cb, arg, s, e };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_MISMATCHES_SCOPED : Q_MATCH_MISMATCHES, e);

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return each_row(s, st, mismatch_row, &c, e, "match address mismatches");
}

struct evidence_list {
	struct evidence **ev;
	size_t *n;
	const char *source;
};

static int evidence_row(sqlite3_stmt *st, void *arg)
{
	struct evidence_list *l = arg;
	struct evidence *grown;

	grown = realloc(*l->ev, (*l->n + 1) * sizeof(**l->ev));
	if (grown == NULL)
		return -1;
	*l->ev = grown;
	evidence_fill(&grown[(*l->n)++], l->source, st, 0);
	return 0;
}

/* Makes room for k more pieces of evidence in *ev. */
static bool evidence_grow(struct evidence **ev, size_t n, size_t k)
{
	struct evidence *grown = realloc(*ev, (n + k) * sizeof(**ev));

	if (grown == NULL)
		return false;
	*ev = grown;
	return true;
}

/* The findings at address key that name person, in the window. */
static enum status person_findings(struct store *s, const char *key, const uint8_t *person,
				   struct evidence **ev, size_t *n, struct errbuf *e)
{
	struct evidence_list l = { ev, n, "inspectie" };
	sqlite3_stmt *st = stmt(s, Q_EV_PERSON_FINDINGS, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, person, PSEUDONYM_LEN, SQLITE_STATIC);
	if (each_row(s, st, evidence_row, &l, e, "gather evidence") != ST_OK)
		return errbuf_set(e, ST_FAIL, "gathering evidence failed (out of memory?)");
	return ST_OK;
}

enum status store_match_evidence(struct store *s, const struct address *addr,
				 const uint8_t *person, unsigned what,
				 struct evidence **ev, size_t *n, struct errbuf *e)
{
	const struct current *c = &s->cur;
	char key[ADDRESS_KEY_MAX];
	size_t first, k;

	address_key(addr, key);
	if (person != NULL) {
		const struct registration *r = current_of(c, person);

		if (person_findings(s, key, person, ev, n, e) != ST_OK)
			return ST_FAIL;
		if (r == NULL)
			return ST_OK;
		if (!evidence_grow(ev, *n, 1))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		registration_evidence(&(*ev)[(*n)++], r);
		return ST_OK;
	}
	if ((what & EVIDENCE_FINDINGS) &&
	    walk_take(s, &s->walk_findings, key, ev, n, e) != ST_OK)
		return ST_FAIL;
	if (what & EVIDENCE_BRP) {
		k = current_at(c, key, &first);
		if (k > 0 && !evidence_grow(ev, *n, k))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		for (size_t i = 0; i < k; i++)
			registration_evidence(&(*ev)[(*n)++], &c->rows[c->by_addr[first + i]]);
	}
	if (what & EVIDENCE_DWELLING) {
		if (!evidence_grow(ev, *n, 1))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		snprintf((*ev)[*n].source, sizeof((*ev)[*n].source), "huisvesting");
		address_display(addr, (*ev)[*n].record);
		(*n)++;
	}
	return ST_OK;
}

/* --- incremental matching (store-012.sql) ------------------------------- */

enum status store_match_state(struct store *s, struct match_state *ms, struct errbuf *e)
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

enum status store_match_state_put(struct store *s, const struct match_state *ms, bool full,
				  struct errbuf *e)
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
static enum status mark_step(struct store *s, const char *q, const char *const *p, int n,
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

enum status store_mark_dates(struct store *s, const struct match_state *old,
			     const char *as_of, const char *window_start, struct errbuf *e)
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
static enum status mark_count(struct store *s, const char *q, long *n, struct errbuf *e)
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

enum status store_mark_widen(struct store *s, struct mark_counts *n, struct errbuf *e)
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

enum status store_mark_clear(struct store *s, struct errbuf *e)
{
	if (sqlite3_exec(s->db, "DELETE FROM mark_addr; DELETE FROM mark_person;"
			 " DELETE FROM mark_gemeente; DELETE FROM mark_all;", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_error(s, e, "clear the marks");
	return ST_OK;
}

enum status store_open_signals(struct store *s, bool scoped,
			       int (*cb)(void *arg, int64_t seq, const char *id), void *arg,
			       struct errbuf *e)
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

enum status store_end_signal(struct store *s, int64_t seq, const char *date, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_SIGNAL_END, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, date, -1, SQLITE_STATIC);
	return step_done(s, st, e, "end a signal");
}

/* Runs Q_DELIVERY_ADD or Q_DELIVERY_REQUEUE. */
static enum status delivery_step(struct store *s, enum stmt_id id, const char *signal_id,
				 const char *oin, const char *message_id, int64_t now,
				 struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, id, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, signal_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, oin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return step_done(s, st, e, id == Q_DELIVERY_ADD ? "queue a delivery"
			 : "queue a delivery again");
}

enum status store_delivery_requeue(struct store *s, const char *signal_id, const char *oin,
				   const char *message_id, int64_t now, struct errbuf *e)
{
	if (delivery_step(s, Q_DELIVERY_REQUEUE, signal_id, oin, message_id, now, e) != ST_OK)
		return ST_FAIL;
	if (sqlite3_changes(s->db) > 0)
		return ST_OK;
	return store_delivery_add(s, signal_id, oin, message_id, now, e);
}

void signal_clear(struct signal *sig)
{
	if (sig == NULL)
		return;
	free(sig->evidence);
	free(sig->recipients);
	sig->evidence = NULL;
	sig->recipients = NULL;
	sig->nevidence = sig->nrecipients = 0;
}

/* Appends s to out as a JSON string (RFC 8259: quote, backslash and
 * control characters escaped; the rest is UTF-8 checked at ingest). */
static char *json_string_put(char *out, const char *s)
{
	*out++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c < 0x20) {
			out += sprintf(out, "\\u%04x", c);
		} else {
			*out++ = (char)c;
		}
	}
	*out++ = '"';
	return out;
}

/*
 * The evidence of sig as its column holds it: [[source, record], ...].
 * Written here rather than by jansson, whose json_dumps() of these few
 * strings was 7 % of a first match (building a tree, then a callback per
 * fragment); store_signals() reads it back with jansson.
 */
static char *evidence_json(const struct signal *sig)
{
	/* each character at most 6 ("\u001f"), plus ["",""], per piece */
	size_t max = 3 + sig->nevidence * (6 * (sizeof(sig->evidence[0].source) +
						sizeof(sig->evidence[0].record)) + 8);
	char *text = malloc(max), *out = text;

	if (text == NULL)
		return NULL;
	*out++ = '[';
	for (size_t i = 0; i < sig->nevidence; i++) {
		if (i > 0)
			*out++ = ',';
		*out++ = '[';
		out = json_string_put(out, sig->evidence[i].source);
		*out++ = ',';
		out = json_string_put(out, sig->evidence[i].record);
		*out++ = ']';
	}
	*out++ = ']';
	*out = '\0';
	return text;
}

enum status store_put_signal(struct store *s, const struct signal *sig, bool *created,
			     struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX], reg[ADDRESS_KEY_MAX], *evidence;
	sqlite3_stmt *st = stmt(s, Q_SIGNAL_KNOWN, e);
	enum status rc;
	int64_t seq;
	int known;

	*created = false;
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, sig->id, -1, SQLITE_STATIC);
	known = sqlite3_step(st);
	sqlite3_reset(st);
	if (known == SQLITE_ROW)
		return ST_OK;
	if (known != SQLITE_DONE)
		return db_error(s, e, "read signal");
	st = stmt(s, Q_SIGNAL_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	evidence = evidence_json(sig);
	if (evidence == NULL)
		return errbuf_set(e, ST_FAIL, "store signal: out of memory");
	address_key(&sig->address, key);
	sqlite3_bind_text(st, 1, sig->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sig->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sig->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	if (sig->has_person) {
		address_key(&sig->registered_address, reg);
		sqlite3_bind_blob(st, 5, sig->person, PSEUDONYM_LEN, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, reg, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 7, sig->registered);
	sqlite3_bind_int64(st, 8, sig->observed);
	bind_long_or_null(st, 9, sig->oppervlakte);
	bind_long_or_null(st, 10, sig->max_bewoners);
	sqlite3_bind_text(st, 11, sig->created, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, evidence, -1, SQLITE_STATIC);
	bind_text_or_null(st, 13, s->trace_id[0] ? s->trace_id : NULL);
	rc = step_done(s, st, e, "store signal");
	free(evidence);
	if (rc != ST_OK)
		return ST_FAIL;
	seq = sqlite3_last_insert_rowid(s->db);
	for (size_t i = 0; i < sig->nrecipients; i++) {
		st = stmt(s, Q_SIGNAL_RECIPIENT_ADD, e);
		if (st == NULL)
			return ST_FAIL;
		sqlite3_bind_text(st, 1, sig->recipients[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, seq);
		if (step_done(s, st, e, "store recipient") != ST_OK)
			return ST_FAIL;
	}
	*created = true;
	return ST_OK;
}

/* Reads the evidence column of a signal into sig (false: out of memory or
 * not the JSON that store_put_signal() writes). */
static bool parse_evidence(const char *text, struct signal *sig)
{
	json_t *a = text != NULL ? json_loads(text, 0, NULL) : NULL;
	size_t n = json_array_size(a);
	bool ok = a != NULL && json_is_array(a);

	if (ok && n > 0) {
		sig->evidence = calloc(n, sizeof(*sig->evidence));
		ok = sig->evidence != NULL;
	}
	for (size_t i = 0; ok && i < n; i++) {
		const char *source, *record;

		if (json_unpack(json_array_get(a, i), "[ss]", &source, &record) != 0) {
			ok = false;
			break;
		}
		snprintf(sig->evidence[i].source, sizeof(sig->evidence[i].source), "%s", source);
		snprintf(sig->evidence[i].record, sizeof(sig->evidence[i].record), "%s", record);
		sig->nevidence = i + 1;
	}
	json_decref(a);
	return ok;
}

/* Loads the evidence (column 22 of st) and recipients of the signal in sig. */
static enum status load_signal_lists(struct store *s, sqlite3_stmt *row, struct signal *sig,
				     struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (!parse_evidence((const char *)sqlite3_column_text(row, 22), sig))
		return errbuf_set(e, ST_FAIL, "read signal %s: its evidence is unreadable"
				  " (out of memory?)", sig->id);
	st = stmt(s, Q_SIGNAL_RECIPIENTS, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, sig->seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char (*grown)[21] = realloc(sig->recipients,
					    (sig->nrecipients + 1) * sizeof(*grown));

		if (grown == NULL) {
			sqlite3_reset(st);
			return errbuf_set(e, ST_FAIL, "out of memory");
		}
		sig->recipients = grown;
		column_copy(st, 0, grown[sig->nrecipients++], sizeof(*grown));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read signal");
	return ST_OK;
}

enum status store_signals(struct store *s, const struct signal_filter *f,
			  int (*cb)(void *arg, const struct signal *sig), void *arg,
			  struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, f->id != NULL ? Q_SIGNAL_ONE : Q_SIGNALS, e);
	enum status rc = ST_OK;
	int step;

	if (st == NULL)
		return ST_FAIL;
	bind_text_or_null(st, 1, f->rule);
	bind_text_or_null(st, 2, f->recipient);
	sqlite3_bind_int64(st, 3, f->after);
	sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : -1);
	bind_text_or_null(st, 5, f->id);
	while (rc == ST_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct signal sig = { 0 };

		column_copy(st, 0, sig.id, sizeof(sig.id));
		column_copy(st, 1, sig.rule, sizeof(sig.rule));
		column_copy(st, 2, sig.as_of, sizeof(sig.as_of));
		column_copy(st, 3, sig.created, sizeof(sig.created));
		column_address(st, 4, &sig.address);
		sig.has_person = sqlite3_column_type(st, 10) == SQLITE_BLOB;
		if (sig.has_person) {
			memcpy(sig.person, sqlite3_column_blob(st, 10), PSEUDONYM_LEN);
			column_address(st, 11, &sig.registered_address);
		}
		sig.registered = (long)sqlite3_column_int64(st, 17);
		sig.observed = (long)sqlite3_column_int64(st, 18);
		sig.oppervlakte = column_long_or_null(st, 19);
		sig.max_bewoners = column_long_or_null(st, 20);
		sig.seq = sqlite3_column_int64(st, 21);
		column_copy(st, 23, sig.trace_id, sizeof(sig.trace_id));
		column_copy(st, 24, sig.ended_on, sizeof(sig.ended_on));
		rc = load_signal_lists(s, st, &sig, e);
		if (rc == ST_OK && cb(arg, &sig) != 0)
			rc = ST_FAIL;
		signal_clear(&sig);
	}
	if (rc == ST_OK && step != SQLITE_DONE)
		rc = db_error(s, e, "read signals");
	sqlite3_reset(st);
	return rc;
}

enum status store_log_head(struct store *s, int64_t *seq, char hash[65], struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_log_head(s->pg, seq, hash, e);
	sqlite3_stmt *st;
	int rc;

	if (s->head_known) {	/* appended in this transaction: nobody else can */
		*seq = s->head_seq;
		memcpy(hash, s->head_hash, 65);
		return ST_OK;
	}
	st = stmt(s, Q_LOG_HEAD, e);
	if (st == NULL)
		return ST_FAIL;
	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		column_copy(st, 1, hash, 65);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read log head");
	return ST_OK;
}

enum status store_log_insert(struct store *s, const struct exlog_row *r, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_log_insert(s->pg, r, e);
	sqlite3_stmt *st = stmt(s, Q_LOG_INSERT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_text(st, 2, r->at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->kind, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, r->party);
	bind_text_or_null(st, 5, r->subject);
	sqlite3_bind_text(st, 6, r->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->hash, -1, SQLITE_STATIC);
	bind_text_or_null(st, 9, r->trace_id != NULL && r->trace_id[0] ? r->trace_id : NULL);
	if (step_done(s, st, e, "write the exchange log") != ST_OK)
		return ST_FAIL;
	/* Inside a transaction (BEGIN IMMEDIATE: no other writer) the next
	 * store_log_head() needs no query; forget_writes() ends it. */
	s->head_known = !sqlite3_get_autocommit(s->db);
	s->head_seq = r->seq;
	snprintf(s->head_hash, sizeof(s->head_hash), "%s", r->hash);
	return ST_OK;
}

/*
 * Steps st (columns seq, at, kind, party, subject, detail, prev, hash, trace_id),
 * calling cb with each entry.  The caller resets or finalizes st.
 */
static enum status log_rows(struct store *s, sqlite3_stmt *st,
			    int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			    struct errbuf *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct exlog_row r = { 0 };

		r.seq = sqlite3_column_int64(st, 0);
		column_copy(st, 1, r.at, sizeof(r.at));
		r.kind = (const char *)sqlite3_column_text(st, 2);
		r.party = (const char *)sqlite3_column_text(st, 3);
		r.subject = (const char *)sqlite3_column_text(st, 4);
		r.detail = (const char *)sqlite3_column_text(st, 5);
		column_copy(st, 6, r.prev, sizeof(r.prev));
		column_copy(st, 7, r.hash, sizeof(r.hash));
		r.trace_id = (const char *)sqlite3_column_text(st, 8);
		if (cb(arg, &r) != 0)
			return ST_FAIL;
	}
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read the exchange log");
	return ST_OK;
}

enum status store_log_scan(struct store *s, int64_t from, const char *party, long limit,
			   int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			   struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_log_scan(s->pg, from, party, limit, cb, arg, e);
	sqlite3_stmt *st = stmt(s, Q_LOG_SCAN, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, from);
	bind_text_or_null(st, 2, party);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	rc = log_rows(s, st, cb, arg, e);
	sqlite3_reset(st);
	return rc;
}

enum status store_signal_routed(struct store *s, const char *id, const char *oin,
				bool *routed, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_SIGNAL_ROUTED, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, oin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read signal recipients");
	*routed = rc == SQLITE_ROW;
	return ST_OK;
}

enum status store_person_bsn(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			     uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_PERSON_BSN, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_blob(st, 1, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == SEALED_BSN_LEN;
	if (*found)
		memcpy(sealed, sqlite3_column_blob(st, 0), SEALED_BSN_LEN);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read person");
	return ST_OK;
}

enum status store_put_feedback(struct store *s, const char *signal_id, const char *oin,
			       const char *outcome, const char *note, int64_t *id,
			       struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_FEEDBACK_PUT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, signal_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, oin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store feedback") != ST_OK)
		return ST_FAIL;
	*id = sqlite3_last_insert_rowid(s->db);
	return ST_OK;
}

enum status store_feedback_counts(struct store *s,
				  int (*cb)(void *arg, const char *rule, const char *outcome,
					    long n),
				  void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_FEEDBACK_COUNTS, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cb(arg, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1),
		       (long)sqlite3_column_int64(st, 2)) != 0) {
			sqlite3_reset(st);
			return ST_FAIL;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read feedback");
	return ST_OK;
}

enum status store_delivery_add(struct store *s, const char *signal_id, const char *oin,
			       const char *message_id, int64_t now, struct errbuf *e)
{
	return delivery_step(s, Q_DELIVERY_ADD, signal_id, oin, message_id, now, e);
}

static void delivery_from_row(sqlite3_stmt *st, struct delivery_row *d)
{
	d->id = sqlite3_column_int64(st, 0);
	column_copy(st, 1, d->signal_id, sizeof(d->signal_id));
	column_copy(st, 2, d->oin, sizeof(d->oin));
	column_copy(st, 3, d->message_id, sizeof(d->message_id));
	column_copy(st, 4, d->state, sizeof(d->state));
	d->attempts = sqlite3_column_int(st, 5);
	d->created = sqlite3_column_int64(st, 6);
	d->next_at = sqlite3_column_int64(st, 7);
	d->delivered_at = sqlite3_column_int64(st, 8);
	d->last_status = (long)sqlite3_column_int64(st, 9);
	column_copy(st, 10, d->last_error, sizeof(d->last_error));
	column_copy(st, 11, d->trace_id, sizeof(d->trace_id));
}

/* Runs a delivery query and calls cb for each row it gave. */
static enum status each_delivery(struct store *s, sqlite3_stmt *st,
				 int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				 struct errbuf *e)
{
	struct delivery_row *rows = NULL, *grown;
	size_t n = 0, cap = 0;
	enum status rc = ST_OK;
	int step;

	/* Rows are read first, so that cb may write to the delivery table. */
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap > 0 ? 2 * cap : 16;
			grown = realloc(rows, cap * sizeof(*rows));
			if (grown == NULL) {
				rc = errbuf_set(e, ST_FAIL, "out of memory");
				break;
			}
			rows = grown;
		}
		delivery_from_row(st, &rows[n++]);
	}
	sqlite3_reset(st);
	if (rc == ST_OK && step != SQLITE_DONE)
		rc = db_error(s, e, "read deliveries");
	for (size_t i = 0; rc == ST_OK && i < n; i++)
		if (cb(arg, &rows[i]) != 0)
			rc = ST_FAIL;
	free(rows);
	return rc;
}

enum status store_deliveries(struct store *s, int64_t due, bool failed_only, long limit,
			     int (*cb)(void *arg, const struct delivery_row *d), void *arg,
			     struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, due >= 0 ? Q_DELIVERIES_DUE : Q_DELIVERIES_ALL, e);

	if (st == NULL)
		return ST_FAIL;
	if (due >= 0)
		sqlite3_bind_int64(st, 1, due);
	else
		sqlite3_bind_int(st, 1, failed_only);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_delivery_after(struct store *s, const struct delivery_row *d, int64_t due,
				 int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				 struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERY_AFTER, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, d->oin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_int64(st, 3, d->next_at);
	sqlite3_bind_int64(st, 4, d->id);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_deliveries_next(struct store *s, int64_t due, long limit,
				  int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				  struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_NEXT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, due);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_deliveries_of(struct store *s, const char *oin, int64_t due, long limit,
				int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_OF, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, oin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_delivery_update(struct store *s, const struct delivery_row *d,
				  struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERY_UPDATE, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, d->id);
	sqlite3_bind_text(st, 2, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, d->attempts);
	sqlite3_bind_int64(st, 4, d->next_at);
	sqlite3_bind_int64(st, 5, d->delivered_at);
	sqlite3_bind_int64(st, 6, d->last_status);
	sqlite3_bind_text(st, 7, d->last_error, -1, SQLITE_STATIC);
	/* a row queued again meanwhile (store_delivery_requeue()) keeps its new message */
	sqlite3_bind_text(st, 8, d->message_id, -1, SQLITE_STATIC);
	return step_done(s, st, e, "update a delivery");
}

enum status store_delivery_retry(struct store *s, int64_t id, int64_t now, long *n,
				 struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERY_RETRY, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	if (step_done(s, st, e, "retry deliveries") != ST_OK)
		return ST_FAIL;
	*n = sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_source_get(struct store *s, const char *name, struct source_state *ss,
			     struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_source_get(s->pg, name, ss, e);
	sqlite3_stmt *st = stmt(s, Q_SOURCE_GET, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	memset(ss, 0, sizeof(*ss));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_copy(st, 0, ss->cursor, sizeof(ss->cursor));
		column_copy(st, 1, ss->etag, sizeof(ss->etag));
		column_copy(st, 2, ss->last_modified, sizeof(ss->last_modified));
		ss->failures = sqlite3_column_int(st, 3);
		ss->next_at = sqlite3_column_int64(st, 4);
		ss->last_ok = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read source state");
	return ST_OK;
}

enum status store_source_put(struct store *s, const char *name,
			     const struct source_state *ss, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_source_put(s->pg, name, ss, e);
	sqlite3_stmt *st = stmt(s, Q_SOURCE_PUT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ss->cursor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ss->etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ss->last_modified, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, ss->failures);
	sqlite3_bind_int64(st, 6, ss->next_at);
	sqlite3_bind_int64(st, 7, ss->last_ok);
	return step_done(s, st, e, "store source state");
}

/* The conditions of a log search, each on one named parameter. */
static const struct {
	size_t off;		/* of the value in struct log_filter */
	const char *name;
	const char *cond;
} log_conds[] = {
	{ offsetof(struct log_filter, party), ":party", "party = :party OR (kind IN ('signal', 'ended') AND"
	  " EXISTS (SELECT 1 FROM json_each(detail, '$.recipients') WHERE value = :party))" },
	{ offsetof(struct log_filter, kind), ":kind", "kind = :kind" },
	{ offsetof(struct log_filter, source), ":source", "json_extract(detail, '$.source') ="
	  " :source OR json_extract(detail, '$.adapter') = :source" },
	{ offsetof(struct log_filter, recipient), ":recipient", "(kind IN ('delivery',"
	  " 'disclosure') AND party = :recipient) OR (kind IN ('signal', 'ended') AND EXISTS"
	  " (SELECT 1 FROM json_each(detail, '$.recipients') WHERE value = :recipient))" },
	{ offsetof(struct log_filter, status), ":status", "CAST(json_extract(detail, '$.status')"
	  " AS TEXT) = :status OR json_extract(detail, '$.outcome') = :status" },
	{ offsetof(struct log_filter, since), ":since", "at >= :since" },
	{ offsetof(struct log_filter, until), ":until", "at <= :until || 'z'" },
	{ offsetof(struct log_filter, trace), ":trace", "trace_id = :trace" },
	{ offsetof(struct log_filter, id), ":id", "subject = :id OR json_extract(detail,"
	  " '$.signal') = :id OR CAST(json_extract(detail, '$.ingest') AS TEXT) = :id" },
};

static const char *log_value(const struct log_filter *f, size_t i)
{
	return *(const char *const *)((const char *)f + log_conds[i].off);
}

enum status store_log_search(struct store *s, const struct log_filter *f,
			     int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			     struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_log_search(s->pg, f, cb, arg, e);
	char q[4096] = "SELECT seq, at, kind, party, subject, detail, prev, hash, trace_id"
		       " FROM exlog"
		       " WHERE seq > :after";
	size_t nconds = sizeof(log_conds) / sizeof(log_conds[0]), len;
	sqlite3_stmt *st;
	int rc;

	for (size_t i = 0; i < nconds; i++) {
		len = strlen(q);
		if (log_value(f, i) != NULL)
			snprintf(q + len, sizeof(q) - len, " AND (%s)", log_conds[i].cond);
	}
	len = strlen(q);
	snprintf(q + len, sizeof(q) - len, " ORDER BY seq%s LIMIT :limit",
		 f->newest_first ? " DESC" : "");
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "search the exchange log");
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":after"), f->after);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
			   f->limit > 0 ? f->limit : -1);
	for (size_t i = 0; i < nconds; i++)
		if (log_value(f, i) != NULL)
			sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, log_conds[i].name),
					  log_value(f, i), -1, SQLITE_STATIC);
	rc = log_rows(s, st, cb, arg, e);
	sqlite3_finalize(st);
	return rc;
}

enum status store_checkpoint_add(struct store *s, const struct checkpoint_row *c,
				 struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_checkpoint_add(s->pg, c, e);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO checkpoint(seq, hash, at, signature,"
			       " certificate) VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "store a checkpoint");
	sqlite3_bind_int64(st, 1, c->seq);
	sqlite3_bind_text(st, 2, c->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->at, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, c->signature, (int)c->signature_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->certificate, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "store a checkpoint");
	return ST_OK;
}

enum status store_checkpoints(struct store *s,
			      int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
			      struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_checkpoints(s->pg, cb, arg, e);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, hash, at, signature, certificate FROM"
			       " checkpoint ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "read checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct checkpoint_row c = { .seq = sqlite3_column_int64(st, 0) };

		column_copy(st, 1, c.hash, sizeof(c.hash));
		column_copy(st, 2, c.at, sizeof(c.at));
		c.signature = sqlite3_column_blob(st, 3);
		c.signature_len = (size_t)sqlite3_column_bytes(st, 3);
		c.certificate = (const char *)sqlite3_column_text(st, 4);
		if (cb(arg, &c) != 0) {
			sqlite3_finalize(st);
			return ST_FAIL;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read checkpoints");
	return ST_OK;
}

/* The queries of an access request, each giving the eight inzage_row fields. */
static const char *const inzage_sql[] = {
	/* registrations received */
	"SELECT 'registration', i.at, 'begindatumVerblijf ' || p.begindatum,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" i.adapter, i.origin, i.party, NULL FROM person p JOIN address a ON a.addr = p.addr"
	" JOIN ingest i ON i.id = p.ingest_id WHERE p.pkey = pseudonym_key(?1)"
	" AND p.pseudonym = ?1 ORDER BY p.begindatum",
	/* findings that name the person */
	"SELECT 'finding', i.at, f.id || ' of ' || f.datum,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" i.adapter, i.origin, i.party, NULL FROM finding_person fp"
	" JOIN finding f ON f.id = fp.finding_id JOIN address a ON a.addr = f.addr"
	" JOIN ingest i ON i.id = f.ingest_id WHERE fp.pseudonym = ?1",
	/* signals about the person, or resting on the person's records */
	"SELECT 'signal', s.created, s.id,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" s.rule, 'as of ' || s.as_of, NULL, s.id FROM signal s JOIN address a ON a.addr = s.addr"
	" WHERE s.id IN (SELECT id FROM temp.inzage_signals)",
	/* where those signals went */
	"SELECT 'delivery', coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', d.delivered_at, 'unixepoch'),"
	" strftime('%Y-%m-%dT%H:%M:%SZ', d.created, 'unixepoch')), d.message_id, NULL, d.oin,"
	" d.state, d.oin, d.signal_id FROM delivery d"
	" WHERE d.signal_id IN (SELECT id FROM temp.inzage_signals)",
	/* recipients that fetch from their inbox */
	"SELECT 'routed', s.created, s.id, NULL, r.oin, 'inbox', r.oin, s.id"
	" FROM signal_recipient r JOIN signal s ON s.seq = r.signal_seq"
	" WHERE s.id IN (SELECT id FROM temp.inzage_signals)",
	/* each time one of those signals was handed to a recipient (disclose.c) */
	"SELECT 'disclosure', x.at, x.subject, NULL, x.party,"
	" (x.detail ->> '$.via') || CASE WHEN x.detail ->> '$.bsn' THEN ', with the BSN'"
	" ELSE ', without the BSN' END, x.party, x.subject FROM exlog x"
	" WHERE x.kind = 'disclosure' AND x.subject IN (SELECT id FROM temp.inzage_signals)"
	" ORDER BY x.seq",
};

enum status store_inzage(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			 int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			 struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_inzage(s->pg, pseudonym, cb, arg, e);
	char hex[2 * PSEUDONYM_LEN + 2];
	enum status st = ST_OK;
	sqlite3_stmt *q;

	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	strcat(hex, "/");
	if (sqlite3_exec(s->db, "CREATE TEMP TABLE IF NOT EXISTS inzage_signals(id TEXT PRIMARY KEY);"
			 " DELETE FROM temp.inzage_signals;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO temp.inzage_signals SELECT id FROM signal"
			       " WHERE person = ?1 UNION SELECT s.id FROM signal s, json_each(s.evidence) ev"
			       " WHERE (ev.value ->> 0 = 'brp' AND substr(ev.value ->> 1, 1, 65) = ?2)"
			       " OR (ev.value ->> 0 = 'inspectie' AND ev.value ->> 1 IN"
			       " (SELECT finding_id FROM finding_person WHERE pseudonym = ?1))",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(s, e, "access request");
	sqlite3_bind_blob(q, 1, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		st = db_error(s, e, "access request");
	sqlite3_finalize(q);
	for (size_t i = 0; st == ST_OK && i < sizeof(inzage_sql) / sizeof(inzage_sql[0]); i++) {
		int rc;

		if (sqlite3_prepare_v2(s->db, inzage_sql[i], -1, &q, NULL) != SQLITE_OK)
			return db_error(s, e, "access request");
		sqlite3_bind_blob(q, 1, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct inzage_row r;
			const char **f[] = { &r.kind, &r.at, &r.what, &r.address, &r.source, &r.via,
					     &r.party, &r.signal };

			for (int c = 0; c < 8; c++)
				*f[c] = (const char *)sqlite3_column_text(q, c);
			if (cb(arg, &r) != 0) {
				st = ST_FAIL;
				break;
			}
		}
		if (st == ST_OK && rc != SQLITE_DONE)
			st = db_error(s, e, "access request");
		sqlite3_finalize(q);
	}
	return st;
}

/* Runs one purge statement with the cut-off bound as ?1; adds its count. */
static enum status purge_step(struct store *s, const char *q, const char *cutoff, long *n,
			      struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (cutoff == NULL)
		return ST_OK;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "purge");
	sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "purge");
	if (n != NULL)
		*n += sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_purge(struct store *s, const struct retention *r, struct purge_counts *n,
			struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_purge(s->pg, r, n, e);
	/* Signals first, with everything that hangs on them. */
	static const char old_signals[] = "(SELECT id FROM signal WHERE created < ?1)";
	char q[512];

	memset(n, 0, sizeof(*n));
	snprintf(q, sizeof(q), "DELETE FROM feedback WHERE signal_id IN %s", old_signals);
	if (purge_step(s, q, r->signals, NULL, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM delivery WHERE signal_id IN %s", old_signals);
	if (purge_step(s, q, r->signals, &n->deliveries, e) != ST_OK)
		return ST_FAIL;
	if (purge_step(s, "DELETE FROM signal_recipient WHERE signal_seq IN"
		       " (SELECT seq FROM signal WHERE created < ?1)", r->signals, NULL, e) != ST_OK ||
	    purge_step(s, "DELETE FROM signal WHERE created < ?1", r->signals, &n->signals, e) != ST_OK)
		return ST_FAIL;
	/* Delivered messages (the outbox rows; the log keeps their metadata). */
	if (purge_step(s, "DELETE FROM delivery WHERE state = 'delivered' AND delivered_at <"
		       " CAST(strftime('%s', ?1) AS INTEGER)", r->deliveries, &n->deliveries, e)
	    != ST_OK)
		return ST_FAIL;
	/* Records, by when they were received. */
	static const char old_ingests[] = "(SELECT id FROM ingest WHERE at < ?1)";
	snprintf(q, sizeof(q), "DELETE FROM person WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->persons, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM dwelling WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->dwellings, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM finding WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->findings, e) != ST_OK)
		return ST_FAIL;
	if (purge_step(s, "DELETE FROM coverage WHERE ?1 IS NOT NULL AND gemeentecode NOT IN"
		       " (SELECT gemeentecode FROM person)", r->records, NULL, e) != ST_OK)
		return ST_FAIL;
	return purge_step(s, "DELETE FROM ingest WHERE at < ?1 AND id NOT IN (SELECT ingest_id"
			  " FROM person UNION SELECT ingest_id FROM dwelling UNION SELECT ingest_id"
			  " FROM finding)", r->records, &n->ingests, e);
}

/* The store's metrics: name, help, type, labels, and the query that gives
 * (label value 1, label value 2, value) rows. */
static const struct {
	const char *metric, *help, *type, *label1, *label2, *sql;
} gauges[] = {
	/* Counters come from the exchange log, which retention never purges. */
	{ "schakel_records_total", "Records read per adapter, accepted or rejected.", "counter",
	  "adapter", "outcome", "SELECT json_extract(detail, '$.adapter'), 'accepted',"
	  " sum(json_extract(detail, '$.accepted')) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1"
	  " UNION ALL SELECT json_extract(detail, '$.adapter'), 'rejected',"
	  " sum(json_extract(detail, '$.rejected')) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1"
	  " ORDER BY 1, 2" },
	{ "schakel_inputs_refused_total", "Inputs refused whole, per adapter.", "counter",
	  "adapter", NULL, "SELECT json_extract(detail, '$.adapter'), NULL, count(*) FROM exlog"
	  " WHERE kind = 'reject' AND json_extract(detail, '$.place') = 'file' GROUP BY 1" },
	{ "schakel_pulls_total", "Pull attempts per source and outcome.", "counter",
	  "source", "outcome", "SELECT subject, json_extract(detail, '$.outcome'), count(*) FROM"
	  " exlog WHERE kind = 'pull' GROUP BY 1, 2" },
	{ "schakel_signals_total", "Signals raised per rule.", "counter", "rule", NULL,
	  "SELECT json_extract(detail, '$.rule'), NULL, count(*) FROM exlog WHERE kind = 'signal'"
	  " GROUP BY 1" },
	{ "schakel_feedback_total", "Recipients' feedback per rule and outcome.", "counter",
	  "rule", "outcome", "SELECT s.rule, f.outcome, count(*) FROM feedback f JOIN signal s"
	  " ON s.id = f.signal_id GROUP BY 1, 2" },
	{ "schakel_delivery_attempts_total", "Delivery attempts per recipient and outcome"
	  " (delivered, retry, failed, exhausted).", "counter", "recipient", "outcome",
	  "SELECT party, json_extract(detail, '$.outcome'), count(*) FROM exlog"
	  " WHERE kind = 'delivery' GROUP BY 1, 2" },
	{ "schakel_deliveries", "Deliveries in the outbox per recipient and state.", "gauge",
	  "recipient", "state", "SELECT oin, state, count(*) FROM delivery GROUP BY 1, 2" },
	{ "schakel_delivery_queue_depth", "Deliveries waiting, per recipient.", "gauge",
	  "recipient", NULL, "SELECT oin, NULL, count(*) FROM delivery WHERE state = 'pending'"
	  " GROUP BY 1" },
	{ "schakel_delivery_oldest_pending_seconds", "Age of the oldest waiting delivery.",
	  "gauge", "recipient", NULL, "SELECT oin, NULL, CAST(strftime('%s', 'now') AS INTEGER) -"
	  " min(created) FROM delivery WHERE state = 'pending' GROUP BY 1" },
	{ "schakel_refusals_total", "Requests refused, per status.", "counter", "status", NULL,
	  "SELECT json_extract(detail, '$.status'), NULL, sum(coalesce(json_extract(detail,"
	  " '$.count'), 1)) FROM exlog WHERE kind = 'refusal' GROUP BY 1" },
	{ "schakel_log_entries", "Entries in the exchange log.", "gauge", NULL, NULL,
	  "SELECT NULL, NULL, count(*) FROM exlog" },
};

enum status store_gauges(struct store *s, int (*cb)(void *arg, const struct gauge *g),
			 void *arg, struct errbuf *e)
{
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		sqlite3_stmt *st;
		int rc;

		if (sqlite3_prepare_v2(s->db, gauges[i].sql, -1, &st, NULL) != SQLITE_OK)
			return db_error(s, e, "read figures");
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct gauge g = {
				gauges[i].metric, gauges[i].help, gauges[i].type,
				gauges[i].label1, (const char *)sqlite3_column_text(st, 0),
				gauges[i].label2, (const char *)sqlite3_column_text(st, 1),
				sqlite3_column_double(st, 2),
			};

			if (cb(arg, &g) != 0) {
				sqlite3_finalize(st);
				return ST_FAIL;
			}
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_error(s, e, "read figures");
	}
	return ST_OK;
}

enum status store_check_writable(struct store *s, int timeout_ms, struct errbuf *e)
{
	char *err = NULL;
	enum status st = ST_OK;

	/* A real write that must reach the WAL to commit (a full disk fails it;
	 * taking the lock alone needs no space): a row no source can have
	 * (source names are never empty) put in and taken out again. */
	sqlite3_busy_timeout(s->db, timeout_ms);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE; "
			 "INSERT OR REPLACE INTO source_state (name) VALUES (''); "
			 "DELETE FROM source_state WHERE name = ''; COMMIT", NULL, NULL,
			 &err) != SQLITE_OK) {
		st = errbuf_set(e, ST_FAIL, "database not writable: %s", err ? err : "?");
		sqlite3_free(err);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
	return st;
}

static const char *const reports[] = {
	/* a refusal without a party is of unidentified clients, aggregated
	 * (noise.c): its count says how many */
	[REPORT_EXCHANGES] = "SELECT coalesce(party, iif(kind = 'refusal', 'unidentified', NULL),"
		" json_extract(detail, '$.source'), json_extract(detail, '$.adapter'), 'local'),"
		" kind, date(at), sum(iif(kind = 'refusal' AND party IS NULL,"
		" coalesce(json_extract(detail, '$.count'), 1), 1)) FROM exlog"
		" WHERE kind IN ('ingest', 'upload', 'pull', 'delivery', 'reject', 'refusal', 'feedback')"
		" AND at >= date('now', '-13 days') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	[REPORT_SIGNALS] = "SELECT s.rule, count(DISTINCT s.id),"
		" sum(f.outcome = 'bevestigd'), sum(f.outcome = 'onterecht'),"
		" sum(f.outcome = 'in_behandeling') FROM signal s LEFT JOIN feedback f"
		" ON f.signal_id = s.id GROUP BY 1 ORDER BY 1",
	[REPORT_BACKLOG] = "SELECT oin, sum(state = 'pending'),"
		" CAST(strftime('%s', 'now') AS INTEGER)"
		" - min(CASE WHEN state = 'pending' THEN created END),"
		" sum(state = 'failed'), sum(state = 'delivered') FROM delivery GROUP BY 1 ORDER BY 1",
	[REPORT_FAILURES] = "SELECT seq, at, kind, coalesce(party, '-'), coalesce(subject, '-'),"
		" detail FROM exlog WHERE kind IN ('refusal', 'reject')"
		" OR json_extract(detail, '$.outcome') IN ('failed', 'exhausted', 'retry')"
		" ORDER BY seq DESC LIMIT 20",
	[REPORT_QUEUE] = "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0),"
		" strftime('%Y-%m-%dT%H:%M:%SZ', min(iif(state = 'pending', next_at, NULL)), 'unixepoch'),"
		" min(iif(state = 'pending', next_at, NULL)) - CAST(strftime('%s', 'now') AS INTEGER)"
		" FROM delivery",
};

enum status store_report(struct store *s, enum report r,
			 int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
			 struct errbuf *e)
{
	const char *cols[16];
	sqlite3_stmt *st;
	int rc, n;

	if (sqlite3_prepare_v2(s->db, reports[r], -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "read a report");
	n = sqlite3_column_count(st);
	if (n > 16)
		n = 16;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		if (cb(arg, n, cols) != 0) {
			sqlite3_finalize(st);
			return ST_FAIL;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read");
	return ST_OK;
}

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
static sqlite3_stmt *ldv_stmt(struct store *s, enum ldv_q id, struct errbuf *e)
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

	if (s->db == NULL) {	/* a store_pg one: what store_pg.h does not do */
		errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
		return NULL;
	}
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

enum status store_ldv_span_add(struct store *s, struct ldv_span_row *r, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ldv_span_add(s->pg, r, e);
	sqlite3_stmt *st = ldv_stmt(s, LDV_Q_SPAN, e);

	if (st == NULL)
		return ST_FAIL;
	ldv_bind_span(st, 0, r);
	if (step_done(s, st, e, "processing record") != ST_OK)
		return ST_FAIL;
	r->seq = sqlite3_last_insert_rowid(s->db);
	return ST_OK;
}

enum status store_ldv_span_end(struct store *s, int64_t seq, int64_t end_ns, int status,
			       int64_t exlog_seq, long subjects, struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ldv_span_end(s->pg, seq, end_ns, status, exlog_seq, subjects, e);
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

enum status store_ldv_subjects_add(struct store *s, int64_t seq, long first,
				   const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				   struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ldv_subjects_add(s->pg, seq, first, pseudonyms, n, e);
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

enum status store_finding_persons(struct store *s, const char *finding_id,
				  int (*cb)(void *arg, const uint8_t *pseudonym), void *arg,
				  struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_finding_persons(s->pg, finding_id, cb, arg, e);
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
static enum status ldv_spans_of(struct store *s, const uint8_t *subject, struct errbuf *e)
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

enum status store_ldv_search(struct store *s, const struct ldv_filter *f,
			     int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
			     struct errbuf *e)
{
	if (s->pg != NULL)
		return errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
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

enum status store_ldv_subjects(struct store *s, int64_t seq, long from, long limit,
			       int (*cb)(void *arg, long n, const uint8_t *pseudonym),
			       void *arg, struct errbuf *e)
{
	if (s->pg != NULL)
		return errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
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

enum status store_ldv_cursor(struct store *s, int64_t *seq, long *item, struct errbuf *e)
{
	if (s->pg != NULL)
		return errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
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

enum status store_ldv_cursor_set(struct store *s, int64_t seq, long item, struct errbuf *e)
{
	if (s->pg != NULL)
		return errbuf_set(e, ST_FAIL, "not yet supported with backend = postgresql");
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
static void ldv_forget(struct store *s)
{
	for (int i = 0; i < s->ldv_ndeferred; i++)
		free(s->ldv_deferred[i].pseudonyms);
	s->ldv_ndeferred = 0;
}

/* Writes the spans held: one statement for a full set, else one each. */
static enum status ldv_flush(struct store *s, struct errbuf *e)
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
			rc = store_ldv_span_add(s, &s->ldv_deferred[i].r, e);
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

enum status store_ldv_span_defer(struct store *s, const struct ldv_span_row *r,
				 struct errbuf *e)
{
	if (s->pg != NULL)
		return store_pg_ldv_span_defer(s->pg, r, e);
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
