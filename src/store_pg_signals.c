/*
 * store_pg_signals.c - signals, feedback and the delivery outbox of the
 * PostgreSQL store (store_pg.h; the contracts are store.h's).
 *
 * The outbox is shared by every node on the database: a node claims the
 * deliveries it is about to send (store_pg_deliveries_claim()) with
 * SELECT ... FOR UPDATE SKIP LOCKED and a lease (locked_by, lease_until,
 * schemas/pg/003.sql), so two nodes never send one row at once, and a
 * row whose lease lapsed (its node died) is taken by another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

/* Signals read per round trip by store_pg_signals(). */
#define SIGNALS_PAGE 512

/* --- signals ------------------------------------------------------------- */

/* The recipients of sig as a text array literal: {oin,oin}; malloc'd. */
static char *recipients_array(const struct signal *sig)
{
	char *a = malloc(sig->nrecipients * sizeof(sig->recipients[0]) + 3), *p = a;

	if (a == NULL)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < sig->nrecipients; i++)
		p += sprintf(p, "%s%s", i > 0 ? "," : "", sig->recipients[i]);
	*p++ = '}';
	*p = '\0';
	return a;
}

/*
 * One round trip: the signal and its recipients, unless one with its id
 * exists (asked first, so that a signal that holds takes no number of the
 * sequence; ON CONFLICT for two nodes storing it at once).
 */
enum status store_pg_put_signal(struct store_pg *s, const struct signal *sig, bool *created,
				struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX], reg[ADDRESS_KEY_MAX];
	char *evidence = store_evidence_json(sig), *recipients = recipients_array(sig);
	struct params p = { 0 };
	PGresult *res = NULL;

	*created = false;
	if (evidence == NULL || recipients == NULL) {
		free(evidence);
		free(recipients);
		return errbuf_set(e, ST_FAIL, "store signal: out of memory");
	}
	address_key(&sig->address, key);
	p_text(&p, sig->id);
	p_text(&p, sig->rule);
	p_text(&p, sig->as_of);
	p_text(&p, key);
	if (sig->has_person) {
		address_key(&sig->registered_address, reg);
		p_bytes(&p, sig->person, PSEUDONYM_LEN);
		p_text(&p, reg);
	} else {
		p_text(&p, NULL);
		p_text(&p, NULL);
	}
	p_int(&p, sig->registered);
	p_int(&p, sig->observed);
	p_long_or_null(&p, sig->oppervlakte);
	p_long_or_null(&p, sig->max_bewoners);
	p_text(&p, sig->created);
	p_text(&p, evidence);
	p_text_or_null(&p, sig->trace_id);	/* store.c's copy carries the store's */
	p_text(&p, recipients);
	res = pg_run(s, "WITH ins AS (INSERT INTO signal(id, rule, as_of, addr, person, reg_addr,"
		     " registered, observed, oppervlakte, max_bewoners, created, evidence, trace_id)"
		     " SELECT $1::text, $2::text, $3::text, $4::text, $5::bytea, $6::text,"
		     " $7::bigint, $8::bigint, $9::bigint, $10::bigint, $11::text, $12::text,"
		     " $13::text WHERE NOT EXISTS (SELECT 1 FROM signal WHERE id = $1::text)"
		     " ON CONFLICT (id) DO NOTHING RETURNING seq),"
		     " r AS (INSERT INTO signal_recipient(oin, signal_seq) SELECT u, ins.seq"
		     "  FROM ins, unnest($14::text[]) AS u ON CONFLICT DO NOTHING)"
		     " SELECT seq FROM ins", &p, PGRES_TUPLES_OK, "store signal", e);
	free(evidence);
	free(recipients);
	if (res == NULL)
		return ST_FAIL;
	*created = PQntuples(res) > 0;
	PQclear(res);
	return ST_OK;
}

enum status store_pg_end_signal(struct store_pg *s, int64_t seq, const char *date,
				struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, seq);
	p_text(&p, date);
	return pg_run_done(s, "UPDATE signal SET ended_on = $2 WHERE seq = $1 AND ended_on IS NULL",
			   &p, "end a signal", e);
}

/* The columns of a signal listing: as store_sqlite.c's, and the recipients. */
#define PG_ADDRESS_COLS(t) t".gemeentecode, " t".nummeraanduiding, " t".postcode, " \
	t".huisnummer, " t".huisletter, " t".toevoeging"
#define PG_SIGNALS_SELECT "SELECT s.id, s.rule, s.as_of, s.created, " PG_ADDRESS_COLS("a") \
	", s.person, " PG_ADDRESS_COLS("b") ", s.registered, s.observed, s.oppervlakte," \
	" s.max_bewoners, s.seq, s.evidence, s.trace_id, s.ended_on," \
	" (SELECT string_agg(r.oin, ',' ORDER BY r.oin) FROM signal_recipient r" \
	"  WHERE r.signal_seq = s.seq) FROM signal s JOIN address a ON a.addr = s.addr" \
	" LEFT JOIN address b ON b.addr = s.reg_addr WHERE s.seq > $3::bigint" \
	" AND ($1::text IS NULL OR s.rule = $1) AND ($2::text IS NULL OR EXISTS" \
	" (SELECT 1 FROM signal_recipient r WHERE r.oin = $2 AND r.signal_seq = s.seq))"

static long long_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? -1 : strtol(PQgetvalue(res, r, c), NULL, 10);
}

/* The recipients column ("oin,oin" or NULL) into sig; false when out of memory. */
static bool recipients_read(const char *text, struct signal *sig)
{
	size_t n = 0;

	if (text == NULL)
		return true;
	for (const char *c = text; *c != '\0'; c++)
		n += *c == ',';
	sig->recipients = calloc(n + 1, sizeof(*sig->recipients));
	if (sig->recipients == NULL)
		return false;
	for (const char *c = text; *c != '\0' && sig->nrecipients <= n; ) {
		size_t len = strcspn(c, ",");

		snprintf(sig->recipients[sig->nrecipients++], sizeof(sig->recipients[0]), "%.*s",
			 (int)len, c);
		c += len + (c[len] == ',');
	}
	return true;
}

/* Row r of a signal listing into sig (caller clears it). */
static enum status signal_from_row(const PGresult *res, int r, struct signal *sig,
				   struct errbuf *e)
{
	pg_value_copy(res, r, 0, sig->id, sizeof(sig->id));
	pg_value_copy(res, r, 1, sig->rule, sizeof(sig->rule));
	pg_value_copy(res, r, 2, sig->as_of, sizeof(sig->as_of));
	pg_value_copy(res, r, 3, sig->created, sizeof(sig->created));
	pg_value_address(res, r, 4, &sig->address);
	sig->has_person = !PQgetisnull(res, r, 10);
	if (sig->has_person) {
		size_t len = 0;
		unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, 10),
						   &len);

		if (b == NULL || len != PSEUDONYM_LEN) {
			PQfreemem(b);
			return errbuf_set(e, ST_FAIL, "read signal %s: its person is unreadable",
					  sig->id);
		}
		memcpy(sig->person, b, PSEUDONYM_LEN);
		PQfreemem(b);
		pg_value_address(res, r, 11, &sig->registered_address);
	}
	sig->registered = strtol(PQgetvalue(res, r, 17), NULL, 10);
	sig->observed = strtol(PQgetvalue(res, r, 18), NULL, 10);
	sig->oppervlakte = long_or_null(res, r, 19);
	sig->max_bewoners = long_or_null(res, r, 20);
	sig->seq = strtoll(PQgetvalue(res, r, 21), NULL, 10);
	pg_value_copy(res, r, 23, sig->trace_id, sizeof(sig->trace_id));
	pg_value_copy(res, r, 24, sig->ended_on, sizeof(sig->ended_on));
	if (!store_evidence_parse(PQgetvalue(res, r, 22), sig) ||
	    !recipients_read(pg_value_or_null(res, r, 25), sig))
		return errbuf_set(e, ST_FAIL, "read signal %s: its evidence is unreadable"
				  " (out of memory?)", sig->id);
	return ST_OK;
}

/*
 * Read in pages of SIGNALS_PAGE (the cursor is seq), so a long listing
 * does not sit in memory whole; cb may use the store between rows.  One
 * signal by id has a statement of its own (the primary key's).
 */
enum status store_pg_signals(struct store_pg *s, const struct signal_filter *f,
			     int (*cb)(void *arg, const struct signal *sig), void *arg,
			     struct errbuf *e)
{
	int64_t after = f->after;
	long left = f->limit > 0 ? f->limit : -1;
	enum status rc = ST_OK;
	int got;

	do {
		struct params p = { 0 };
		long page = left > 0 && left < SIGNALS_PAGE ? left : SIGNALS_PAGE;
		PGresult *res;

		p_text(&p, f->rule);
		p_text(&p, f->recipient);
		p_int(&p, after);
		p_int(&p, page);
		if (f->id != NULL) {
			p_text(&p, f->id);
			res = pg_run(s, PG_SIGNALS_SELECT " AND s.id = $5::text LIMIT $4::bigint", &p,
				     PGRES_TUPLES_OK, "read signals", e);
		} else {
			res = pg_run(s, PG_SIGNALS_SELECT " ORDER BY s.seq LIMIT $4::bigint", &p,
				     PGRES_TUPLES_OK, "read signals", e);
		}
		if (res == NULL)
			return ST_FAIL;
		got = PQntuples(res);
		for (int i = 0; rc == ST_OK && i < got; i++) {
			struct signal sig = { 0 };

			rc = signal_from_row(res, i, &sig, e);
			if (rc == ST_OK && cb(arg, &sig) != 0)
				rc = ST_FAIL;
			after = sig.seq;
			signal_clear(&sig);
		}
		PQclear(res);
		if (left > 0)
			left -= got;
	} while (rc == ST_OK && f->id == NULL && got == SIGNALS_PAGE && left != 0);
	return rc;
}

enum status store_pg_signal_routed(struct store_pg *s, const char *id, const char *oin,
				   bool *routed, struct errbuf *e)
{
	struct params p = { 0 };
	int rows = 0;

	p_text(&p, id);
	p_text(&p, oin);
	if (pg_run_rows(s, "SELECT 1 FROM signal s JOIN signal_recipient r ON r.oin = $2"
			" AND r.signal_seq = s.seq WHERE s.id = $1", &p, &rows,
			"read signal recipients", e) != ST_OK)
		return ST_FAIL;
	*routed = rows > 0;
	return ST_OK;
}

enum status store_pg_person_bsn(struct store_pg *s, const uint8_t pseudonym[PSEUDONYM_LEN],
				uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e)
{
	struct params p = { 0 };
	unsigned char *b = NULL;
	size_t len = 0;
	PGresult *res;

	*found = false;
	p_bytes(&p, pseudonym, PSEUDONYM_LEN);
	res = pg_run(s, "SELECT bsn_sealed FROM person WHERE pseudonym = $1"
		     " ORDER BY begindatum DESC LIMIT 1", &p, PGRES_TUPLES_OK, "read person", e);
	if (res == NULL)
		return ST_FAIL;
	if (PQntuples(res) > 0)
		b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &len);
	*found = b != NULL && len == SEALED_BSN_LEN;
	if (*found)
		memcpy(sealed, b, SEALED_BSN_LEN);
	PQfreemem(b);
	PQclear(res);
	return ST_OK;
}

/* --- feedback ------------------------------------------------------------ */

enum status store_pg_put_feedback(struct store_pg *s, const char *signal_id, const char *oin,
				  const char *outcome, const char *note, int64_t *id,
				  struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	p_text(&p, signal_id);
	p_text(&p, oin);
	p_text(&p, outcome);
	p_text(&p, note);
	res = pg_run(s, "INSERT INTO feedback(signal_id, oin, outcome, note, at) VALUES"
		     " ($1, $2, $3, $4, to_char(now() AT TIME ZONE 'UTC',"
		     " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) RETURNING id", &p, PGRES_TUPLES_OK,
		     "store feedback", e);
	if (res == NULL)
		return ST_FAIL;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return ST_OK;
}

enum status store_pg_feedback_counts(struct store_pg *s,
				     int (*cb)(void *arg, const char *rule, const char *outcome,
					       long n),
				     void *arg, struct errbuf *e)
{
	PGresult *res = pg_run(s, "SELECT s.rule, f.outcome, count(*) FROM feedback f"
			       " JOIN signal s ON s.id = f.signal_id GROUP BY 1, 2"
			       " ORDER BY s.rule COLLATE \"C\", f.outcome COLLATE \"C\"", NULL,
			       PGRES_TUPLES_OK, "read feedback", e);
	enum status rc = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; rc == ST_OK && i < PQntuples(res); i++)
		if (cb(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       strtol(PQgetvalue(res, i, 2), NULL, 10)) != 0)
			rc = ST_FAIL;
	PQclear(res);
	return rc;
}

/* --- the outbox ------------------------------------------------------------ */

/* The columns of a delivery_row (each_delivery()), of table alias d. */
#define PG_DELIVERY_COLS "d.id, d.signal_id, d.oin, d.message_id, d.state, d.attempts," \
	" d.created, d.next_at, coalesce(d.delivered_at, 0), coalesce(d.last_status, 0)," \
	" coalesce(d.last_error, ''), (SELECT g.trace_id FROM signal g WHERE g.id = d.signal_id)," \
	" coalesce(d.locked_by, '')"

static void delivery_from_row(const PGresult *res, int r, struct delivery_row *d)
{
	memset(d, 0, sizeof(*d));
	d->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
	pg_value_copy(res, r, 1, d->signal_id, sizeof(d->signal_id));
	pg_value_copy(res, r, 2, d->oin, sizeof(d->oin));
	pg_value_copy(res, r, 3, d->message_id, sizeof(d->message_id));
	pg_value_copy(res, r, 4, d->state, sizeof(d->state));
	d->attempts = (int)strtol(PQgetvalue(res, r, 5), NULL, 10);
	d->created = strtoll(PQgetvalue(res, r, 6), NULL, 10);
	d->next_at = strtoll(PQgetvalue(res, r, 7), NULL, 10);
	d->delivered_at = strtoll(PQgetvalue(res, r, 8), NULL, 10);
	d->last_status = strtol(PQgetvalue(res, r, 9), NULL, 10);
	pg_value_copy(res, r, 10, d->last_error, sizeof(d->last_error));
	pg_value_copy(res, r, 11, d->trace_id, sizeof(d->trace_id));
	pg_value_copy(res, r, 12, d->locked_by, sizeof(d->locked_by));
}

/* Oldest first, as a claim's rows are handed on (RETURNING has no order). */
static int by_due(const void *a, const void *b)
{
	const struct delivery_row *x = a, *y = b;

	if (x->next_at != y->next_at)
		return x->next_at < y->next_at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Runs a delivery query and calls cb for each row it gave (read whole
 * first, so cb may write to the delivery table); sorted with sort.
 */
static enum status each_delivery(struct store_pg *s, const char *sql, const struct params *p,
				 bool sort, int (*cb)(void *arg, const struct delivery_row *d),
				 void *arg, const char *what, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, p, PGRES_TUPLES_OK, what, e);
	struct delivery_row *rows;
	enum status rc = ST_OK;
	int n;

	if (res == NULL)
		return ST_FAIL;
	n = PQntuples(res);
	rows = calloc((size_t)n + 1, sizeof(*rows));
	if (rows == NULL) {
		PQclear(res);
		return errbuf_set(e, ST_FAIL, "out of memory");
	}
	for (int i = 0; i < n; i++)
		delivery_from_row(res, i, &rows[i]);
	PQclear(res);
	if (sort)
		qsort(rows, (size_t)n, sizeof(*rows), by_due);
	for (int i = 0; rc == ST_OK && i < n; i++)
		if (cb(arg, &rows[i]) != 0)
			rc = ST_FAIL;
	free(rows);
	return rc;
}

/* Runs a statement that changes rows; *n: how many it changed. */
static enum status run_changes(struct store_pg *s, const char *sql, const struct params *p,
			       long *n, const char *what, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, p, PGRES_COMMAND_OK, what, e);

	if (res == NULL)
		return ST_FAIL;
	*n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return ST_OK;
}

/* A limit as a parameter: NULL (none) when not positive. */
static void p_limit(struct params *p, long limit)
{
	if (limit > 0)
		p_int(p, limit);
	else
		p_text(p, NULL);
}

enum status store_pg_delivery_add(struct store_pg *s, const char *signal_id, const char *oin,
				  const char *message_id, int64_t now, struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, signal_id);
	p_text(&p, oin);
	p_text(&p, message_id);
	p_int(&p, now);
	return pg_run_done(s, "INSERT INTO delivery(signal_id, oin, message_id, state, created,"
			   " next_at) VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT DO NOTHING",
			   &p, "queue a delivery", e);
}

enum status store_pg_delivery_requeue(struct store_pg *s, const char *signal_id,
				      const char *oin, const char *message_id, int64_t now,
				      struct errbuf *e)
{
	struct params p = { 0 };
	long updated = 0;

	p_text(&p, signal_id);
	p_text(&p, oin);
	p_text(&p, message_id);
	p_int(&p, now);
	if (run_changes(s, "UPDATE delivery SET state = 'pending', message_id = $3, attempts = 0,"
			" created = $4, next_at = $4, delivered_at = NULL, last_status = NULL,"
			" last_error = NULL, locked_by = NULL, lease_until = NULL"
			" WHERE signal_id = $1 AND oin = $2", &p, &updated,
			"queue a delivery again", e) != ST_OK)
		return ST_FAIL;
	return updated > 0 ? ST_OK : store_pg_delivery_add(s, signal_id, oin, message_id, now, e);
}

enum status store_pg_deliveries(struct store_pg *s, int64_t due, bool failed_only, long limit,
				int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				struct errbuf *e)
{
	struct params p = { 0 };

	if (due >= 0) {
		p_int(&p, due);
		p_limit(&p, limit);
		return each_delivery(s, "SELECT " PG_DELIVERY_COLS " FROM delivery d"
				     " WHERE d.state = 'pending' AND d.next_at <= $1"
				     " ORDER BY d.next_at, d.id LIMIT $2", &p, false, cb, arg,
				     "read deliveries", e);
	}
	p_text(&p, failed_only ? "t" : "f");
	p_limit(&p, limit);
	return each_delivery(s, "SELECT " PG_DELIVERY_COLS " FROM delivery d"
			     " WHERE (NOT $1::boolean OR d.state = 'failed') ORDER BY d.id LIMIT $2",
			     &p, false, cb, arg, "read deliveries", e);
}

/* The recipients found by skipping through the (state, oin, next_at) index. */
enum status store_pg_deliveries_next(struct store_pg *s, int64_t due, long limit,
				     int (*cb)(void *arg, const struct delivery_row *d),
				     void *arg, struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, due);
	p_limit(&p, limit);
	return each_delivery(s, "WITH RECURSIVE r(oin) AS ("
			     " SELECT min(oin) FROM delivery WHERE state = 'pending'"
			     " UNION ALL SELECT (SELECT min(oin) FROM delivery WHERE state = 'pending'"
			     "  AND oin > r.oin) FROM r WHERE r.oin IS NOT NULL)"
			     " SELECT " PG_DELIVERY_COLS " FROM r CROSS JOIN LATERAL"
			     " (SELECT * FROM delivery x WHERE x.state = 'pending' AND x.oin = r.oin"
			     "  AND x.next_at <= $1 ORDER BY x.next_at, x.id LIMIT 1) d"
			     " ORDER BY d.oin LIMIT $2", &p, false, cb, arg, "read deliveries", e);
}

enum status store_pg_delivery_after(struct store_pg *s, const struct delivery_row *d,
				    int64_t due,
				    int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				    struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, d->oin);
	p_int(&p, due);
	p_int(&p, d->next_at);
	p_int(&p, d->id);
	return each_delivery(s, "SELECT " PG_DELIVERY_COLS " FROM delivery d"
			     " WHERE d.state = 'pending' AND d.oin = $1 AND d.next_at <= $2"
			     " AND (d.next_at, d.id) > ($3, $4) ORDER BY d.next_at, d.id LIMIT 1",
			     &p, false, cb, arg, "read deliveries", e);
}

enum status store_pg_deliveries_of(struct store_pg *s, const char *oin, int64_t due,
				   long limit, int (*cb)(void *arg, const struct delivery_row *d),
				   void *arg, struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, oin);
	p_int(&p, due);
	p_limit(&p, limit);
	return each_delivery(s, "SELECT " PG_DELIVERY_COLS " FROM delivery d"
			     " WHERE d.state = 'pending' AND d.oin = $1 AND d.next_at <= $2"
			     " ORDER BY d.next_at, d.id LIMIT $3", &p, false, cb, arg,
			     "read deliveries", e);
}

/*
 * One statement, so its own transaction outside one: the due rows of oin
 * that no live lease holds are locked, rows another claimer has locked
 * are skipped rather than waited for (SKIP LOCKED), and the locked ones
 * get this node's lease.  A row another claimer committed a lease on
 * after this statement's snapshot is re-checked when it is locked (READ
 * COMMITTED) and left out, so no row is claimed twice.
 */
enum status store_pg_deliveries_claim(struct store_pg *s, const char *node, const char *oin,
				      int64_t now, int lease_seconds, long limit,
				      int (*cb)(void *arg, const struct delivery_row *d),
				      void *arg, struct errbuf *e)
{
	struct params p = { 0 };

	if (limit <= 0)
		return ST_OK;
	p_text(&p, oin);
	p_int(&p, now);
	p_text(&p, node);
	p_int(&p, now + lease_seconds);
	p_int(&p, limit);
	return each_delivery(s, "UPDATE delivery d SET locked_by = $3, lease_until = $4"
			     " FROM (SELECT id FROM delivery WHERE state = 'pending' AND oin = $1"
			     "  AND next_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)"
			     "  ORDER BY next_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) c"
			     " WHERE d.id = c.id RETURNING " PG_DELIVERY_COLS, &p, true, cb, arg,
			     "claim deliveries", e);
}

enum status store_pg_deliveries_release(struct store_pg *s, const char *node, long *n,
					struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, node);
	return run_changes(s, "UPDATE delivery SET locked_by = NULL, lease_until = NULL"
			   " WHERE lease_until IS NOT NULL AND locked_by = $1", &p, n,
			   "release deliveries", e);
}

enum status store_pg_delivery_update(struct store_pg *s, const struct delivery_row *d,
				     struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, d->id);
	p_text(&p, d->state);
	p_int(&p, d->attempts);
	p_int(&p, d->next_at);
	p_int(&p, d->delivered_at);
	p_int(&p, d->last_status);
	p_text(&p, d->last_error);
	p_text(&p, d->message_id);
	p_text_or_null(&p, d->locked_by);
	/* a row queued again meanwhile keeps its new message; one another node
	 * claimed since, or finished, keeps that node's outcome */
	return pg_run_done(s, "UPDATE delivery SET state = $2, attempts = $3, next_at = $4,"
			   " delivered_at = nullif($5::bigint, 0), last_status = nullif($6::bigint, 0),"
			   " last_error = nullif($7::text, ''), locked_by = NULL, lease_until = NULL"
			   " WHERE id = $1 AND message_id = $8 AND ($9::text IS NULL OR locked_by = $9)",
			   &p, "update a delivery", e);
}

enum status store_pg_delivery_retry(struct store_pg *s, int64_t id, int64_t now, long *n,
				    struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, id);
	p_int(&p, now);
	return run_changes(s, "UPDATE delivery SET state = 'pending', next_at = $2, created = $2,"
			   " attempts = 0 WHERE state = 'failed' AND ($1 < 0 OR id = $1)", &p, n,
			   "retry deliveries", e);
}
