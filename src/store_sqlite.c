/*
 * store_sqlite.c - the store (store.h) on SQLite, in WAL mode: opening,
 * migrations, transactions, the table of prepared statements and the row
 * helpers the other store_sqlite_*.c files share (store_sqlite.h), and
 * this backend's table of operations (store_backend.h).
 *
 * Statements are prepared once, on first use, and kept for the life of the
 * connection.  sqlite3 result codes become messages here and nowhere else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

#define ADDRESS_COLS(t) t".gemeentecode, " t".nummeraanduiding, " t".postcode, " \
	t".huisnummer, " t".huisletter, " t".toevoeging"

/* The columns of a delivery_row (each_delivery()), of table alias t. */
#define DELIVERY_COLS(t) "SELECT " t"id, " t"signal_id, " t"oin, " t"message_id, " \
	t"state, " t"attempts, " t"created, " t"next_at, coalesce(" t"delivered_at, 0)," \
	" coalesce(" t"last_status, 0), coalesce(" t"last_error, '')," \
	" (SELECT g.trace_id FROM signal g WHERE g.id = " t"signal_id), coalesce(" t"locked_by, '')"

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
		" last_error = NULL, locked_by = NULL, lease_until = NULL WHERE signal_id = ?1 AND oin = ?2",
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
		" last_error = nullif(?7, ''), locked_by = NULL, lease_until = NULL"
		" WHERE id = ?1 AND message_id = ?8 AND (?9 IS NULL OR locked_by = ?9)",
	[Q_DELIVERY_RETRY] = "UPDATE delivery SET state = 'pending', next_at = ?2, created = ?2,"
		" attempts = 0 WHERE state = 'failed' AND (?1 < 0 OR id = ?1)",
	/* The outbox's claims (store-016.sql): what a node may claim, a claim,
	 * and the end of a node's claims when it starts. */
	[Q_DELIVERIES_CLAIMABLE] = DELIVERY_COLS("") " FROM delivery WHERE state = 'pending'"
		" AND oin = ?1 AND next_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)"
		" ORDER BY next_at, id LIMIT ?3",
	[Q_DELIVERY_CLAIM] = "UPDATE delivery SET locked_by = ?2, lease_until = ?3 WHERE id = ?1",
	[Q_DELIVERIES_RELEASE] = "UPDATE delivery SET locked_by = NULL, lease_until = NULL"
		" WHERE lease_until IS NOT NULL AND locked_by = ?1",
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

static void forget_writes(struct store_sqlite *s)
{
	s->changes = 0;
	s->last_mark[0] = '\0';
	s->last_addr[0] = '\0';
	s->last_coverage[0] = '\0';
	s->head_known = false;
}

/* Turns the connection's last error into a message. */
enum status db_error(struct store_sqlite *s, struct errbuf *e, const char *what)
{
	return errbuf_set(e, ST_FAIL, "database: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The statement id, prepared on first use and reset for the caller. */
sqlite3_stmt *stmt(struct store_sqlite *s, enum stmt_id id, struct errbuf *e)
{
	sqlite3_stmt *st = s->stmt[id];

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
enum status step_done(struct store_sqlite *s, sqlite3_stmt *st, struct errbuf *e,
		      const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, what);
	return ST_OK;
}

void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL || *v == '\0')
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);	/* no copy: bound just before the step */
}

void bind_long_or_null(sqlite3_stmt *st, int i, long v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

long column_long_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(st, i);
}

/* Column i as text into out (n bytes), cut to fit; "" for NULL. */
void column_copy(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t len = v != NULL ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (len >= n)
		len = n - 1;
	memcpy(out, v != NULL ? (const char *)v : "", len);
	out[len] = '\0';
}

/* Reads the six address columns from column i on. */
void column_address(sqlite3_stmt *st, int i, struct address *a)
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
sqlite3_int64 pseudonym_key(const uint8_t *p)
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
static enum status migrate(struct store_sqlite *s, const char *schema_dir, struct errbuf *e)
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
			if (migration_after(schema_dir, "store-", v))
				continue;	/* a number left free (branches) */
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

enum status store_sqlite_open(const char *path, const char *schema_dir, int busy_timeout_ms,
			      struct store_sqlite **out, struct errbuf *e)
{
	/* 8 MiB of page cache until store_cache() says otherwise. */
	static const char setup[] = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		" PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
		" PRAGMA cache_size = -8192;";
	struct store_sqlite *s;
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
	store_sqlite_close(s);
	return ST_FAIL;
}

enum status store_sqlite_key_check(struct store_sqlite *s, const char check[65],
				   struct errbuf *e)
{
	(void)s;
	(void)check;
	(void)e;
	return ST_OK;	/* the database lives in the data directory beside its keys */
}

void store_sqlite_close(struct store_sqlite *s)
{
	if (s == NULL)
		return;
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

enum status store_sqlite_begin(struct store_sqlite *s, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_BEGIN, e);

	forget_writes(s);
	if (st == NULL || step_done(s, st, e, "begin") != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

enum status store_sqlite_commit(struct store_sqlite *s, struct errbuf *e)
{
	sqlite3_stmt *st;

	if (ldv_flush(s, e) != ST_OK)	/* the processing records held back */
		return ST_FAIL;
	st = stmt(s, Q_COMMIT, e);
	forget_writes(s);
	if (st == NULL || step_done(s, st, e, "commit") != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

enum status store_sqlite_cache(struct store_sqlite *s, int mib, struct errbuf *e)
{
	char pragma[64];

	snprintf(pragma, sizeof(pragma), "PRAGMA cache_size = %lld", -1024LL * mib);
	if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "cache size");
	return ST_OK;
}

void store_sqlite_rollback(struct store_sqlite *s)
{
	if (s == NULL)
		return;
	forget_writes(s);
	ldv_forget(s);
	if (sqlite3_get_autocommit(s->db))
		return;	/* no transaction open */
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Steps st to the end, calling row(s, st, arg) on each row. */
enum status each_row(struct store_sqlite *s, sqlite3_stmt *st,
		     int (*row)(sqlite3_stmt *st, void *arg), void *arg, struct errbuf *e,
		     const char *what)
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

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.key_check = store_sqlite_key_check,
	.close = store_sqlite_close,
	.cache = store_sqlite_cache,
	.begin = store_sqlite_begin,
	.commit = store_sqlite_commit,
	.rollback = store_sqlite_rollback,
	.ingest_add = store_sqlite_ingest_add,
	.ingest_counts = store_sqlite_ingest_counts,
	.put_person = store_sqlite_put_person,
	.put_dwelling = store_sqlite_put_dwelling,
	.put_finding = store_sqlite_put_finding,
	.held_address = store_sqlite_held_address,
	.held_person = store_sqlite_held_person,
	.held_finding = store_sqlite_held_finding,
	.withdraw_person = store_sqlite_withdraw_person,
	.finding_repeat = store_sqlite_finding_repeat,
	.match_begin = store_sqlite_match_begin,
	.match_end = store_sqlite_match_end,
	.match_addresses = store_sqlite_match_addresses,
	.match_mismatches = store_sqlite_match_mismatches,
	.match_state = store_sqlite_match_state,
	.match_state_put = store_sqlite_match_state_put,
	.mark_dates = store_sqlite_mark_dates,
	.mark_widen = store_sqlite_mark_widen,
	.mark_clear = store_sqlite_mark_clear,
	.match_begin_scoped = store_sqlite_match_begin_scoped,
	.match_catch_up = store_sqlite_match_catch_up,
	.open_signals = store_sqlite_open_signals,
	.match_evidence = store_sqlite_match_evidence,
	.put_signal = store_sqlite_put_signal,
	.end_signal = store_sqlite_end_signal,
	.signals = store_sqlite_signals,
	.signal_routed = store_sqlite_signal_routed,
	.person_bsn = store_sqlite_person_bsn,
	.put_feedback = store_sqlite_put_feedback,
	.feedback_counts = store_sqlite_feedback_counts,
	.delivery_add = store_sqlite_delivery_add,
	.delivery_requeue = store_sqlite_delivery_requeue,
	.deliveries = store_sqlite_deliveries,
	.deliveries_next = store_sqlite_deliveries_next,
	.delivery_after = store_sqlite_delivery_after,
	.deliveries_of = store_sqlite_deliveries_of,
	.delivery_update = store_sqlite_delivery_update,
	.delivery_retry = store_sqlite_delivery_retry,
	.deliveries_claim = store_sqlite_deliveries_claim,
	.deliveries_release = store_sqlite_deliveries_release,
	.source_get = store_sqlite_source_get,
	.source_put = store_sqlite_source_put,
	.log_head = store_sqlite_log_head,
	.log_insert = store_sqlite_log_insert,
	.log_scan = store_sqlite_log_scan,
	.log_search = store_sqlite_log_search,
	.checkpoint_add = store_sqlite_checkpoint_add,
	.checkpoints = store_sqlite_checkpoints,
	.ldv_span_add = store_sqlite_ldv_span_add,
	.ldv_span_defer = store_sqlite_ldv_span_defer,
	.ldv_span_end = store_sqlite_ldv_span_end,
	.ldv_subjects_add = store_sqlite_ldv_subjects_add,
	.finding_persons = store_sqlite_finding_persons,
	.ldv_search = store_sqlite_ldv_search,
	.ldv_subjects = store_sqlite_ldv_subjects,
	.ldv_cursor = store_sqlite_ldv_cursor,
	.ldv_cursor_set = store_sqlite_ldv_cursor_set,
	.inzage = store_sqlite_inzage,
	.purge = store_sqlite_purge,
	.gauges = store_sqlite_gauges,
	.check_writable = store_sqlite_check_writable,
	.report = store_sqlite_report,
};
