/*
 * store_pg.c - the store (store_pg.h, store.h) on PostgreSQL through libpq.
 *
 * One connection per struct store_pg, in READ COMMITTED.  Parameters go
 * as text, bytea as binary; results come as text.  libpq's messages become
 * ours here and nowhere else, and none of them quotes the connection
 * string (which may name a passfile) or a password.
 *
 * The exchange log stays one chain with several writers: the first
 * store_pg_log_head() of a transaction takes an advisory lock held until
 * it ends (pg_advisory_xact_lock), then reads the head; so appends of
 * nodes sharing the database are serialised and never fork the chain.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

static void forget_tx(struct store_pg *s)
{
	s->log_locked = false;
	s->head_known = false;
	s->marked = false;
	pg_records_forget(s);
}

/* msg's first lines without the trailing newline, into out (n bytes). */
static void one_line(const char *msg, char *out, size_t n)
{
	size_t len = 0;

	for (const char *c = msg != NULL ? msg : ""; *c != '\0' && len + 3 < n; c++) {
		if (*c == '\n') {
			if (c[1] == '\0')
				break;
			out[len++] = ';';
			out[len++] = ' ';
		} else if (*c != '\t') {
			out[len++] = *c;
		}
	}
	out[len] = '\0';
}

/* Says in e what failed and why (libpq's message); returns ST_FAIL. */
enum status pg_fail(struct store_pg *s, const PGresult *res, const char *what,
			   struct errbuf *e)
{
	char why[512];

	one_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), why,
		 sizeof(why));
	if (PQstatus(s->conn) != CONNECTION_OK)
		return errbuf_set(e, ST_FAIL, "database: %s: lost the connection to %s: %s", what,
				  s->where, why);
	return errbuf_set(e, ST_FAIL, "database: %s: %s", what, why);
}

/*
 * The name of sql's prepared statement into name (16 bytes), preparing it
 * on first use (with p's number of parameters); "" when the cache is full
 * (the caller sends the text).  ST_FAIL if it does not prepare.
 */
static enum status prepared(struct store_pg *s, const char *sql, int nparams, char name[16],
			    const char *what, struct errbuf *e)
{
	PGresult *res;
	int i;

	for (i = 0; i < s->nprepared && s->prepared[i] != sql; i++)
		;
	name[0] = '\0';
	if (i == NPREPARED)
		return ST_OK;
	snprintf(name, 16, "s%d", i);
	if (i < s->nprepared)
		return ST_OK;
	res = PQprepare(s->conn, name, sql, nparams, NULL);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_fail(s, res, what, e);
		PQclear(res);
		return ST_FAIL;
	}
	PQclear(res);
	s->prepared[s->nprepared++] = sql;
	return ST_OK;
}

/*
 * Runs sql (a string literal: prepared once per connection, by its
 * address) with p (or none) and returns its result when its status is
 * want (the caller PQclear()s it); else NULL, and e says why.
 */
PGresult *pg_run(struct store_pg *s, const char *sql, const struct params *p,
		     ExecStatusType want, const char *what, struct errbuf *e)
{
	int n = p != NULL ? p->n : 0;
	PGresult *res;
	char name[16];

	if (pg_records_pending(s) && pg_records_flush(s, e) != ST_OK)	/* the puts before it */
		return NULL;
	if (prepared(s, sql, n, name, what, e) != ST_OK)
		return NULL;
	if (name[0] != '\0')
		res = PQexecPrepared(s->conn, name, n, p != NULL ? p->v : NULL,
				     p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
	else
		res = PQexecParams(s->conn, sql, n, NULL, p != NULL ? p->v : NULL,
				   p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
	if (res == NULL || PQresultStatus(res) != want) {
		pg_fail(s, res, what, e);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Runs a statement that returns no rows (or rows nobody reads). */
enum status pg_run_done(struct store_pg *s, const char *sql, const struct params *p,
			    const char *what, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, p, PGRES_COMMAND_OK, what, e);

	if (res == NULL)
		return ST_FAIL;
	PQclear(res);
	return ST_OK;
}

/* Runs a statement and sets *rows to the number of rows it returned. */
enum status pg_run_rows(struct store_pg *s, const char *sql, const struct params *p,
			    int *rows, const char *what, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, p, PGRES_TUPLES_OK, what, e);

	if (res == NULL)
		return ST_FAIL;
	*rows = PQntuples(res);
	PQclear(res);
	return ST_OK;
}

/* Copies column c of row r (text) into out (n bytes), cut to fit; "" for NULL. */
void pg_value_copy(const PGresult *res, int r, int c, char *out, size_t n)
{
	snprintf(out, n, "%s", PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
}

/* Column c of row r, or NULL for SQL NULL. */
const char *pg_value_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

/* The six address columns of row r from column c on into a. */
void pg_value_address(const PGresult *res, int r, int c, struct address *a)
{
	memset(a, 0, sizeof(*a));
	pg_value_copy(res, r, c, a->gemeentecode, sizeof(a->gemeentecode));
	pg_value_copy(res, r, c + 1, a->nummeraanduiding_id, sizeof(a->nummeraanduiding_id));
	pg_value_copy(res, r, c + 2, a->postcode, sizeof(a->postcode));
	a->huisnummer = (int)strtol(PQgetvalue(res, r, c + 3), NULL, 10);
	pg_value_copy(res, r, c + 4, a->huisletter, sizeof(a->huisletter));
	pg_value_copy(res, r, c + 5, a->toevoeging, sizeof(a->toevoeging));
}

/* --- connecting and migrating ----------------------------------------- */

/* Reads path into a malloc'd string (caller frees); NULL if it cannot. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long len;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = malloc((size_t)len + 1)) != NULL) {
		if (fread(text, 1, (size_t)len, f) == (size_t)len) {
			text[len] = '\0';
		} else {
			free(text);
			text = NULL;
		}
	}
	fclose(f);
	return text;
}

/* The version the database's schema is at (0: empty) into *v. */
static enum status schema_version(struct store_pg *s, int *v, struct errbuf *e)
{
	PGresult *res = pg_run(s, "SELECT to_regclass('schema_migration') IS NOT NULL", NULL,
			    PGRES_TUPLES_OK, "read the schema version", e);
	bool made;

	if (res == NULL)
		return ST_FAIL;
	made = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	*v = 0;
	if (!made)
		return ST_OK;
	res = pg_run(s, "SELECT coalesce(max(version), 0) FROM schema_migration", NULL,
		  PGRES_TUPLES_OK, "read the schema version", e);
	if (res == NULL)
		return ST_FAIL;
	*v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return ST_OK;
}

/* Applies migration v (its text sql) in a transaction of its own. */
static enum status migrate_one(struct store_pg *s, int v, const char *path, const char *sql,
			       struct errbuf *e)
{
	struct params p = { 0 };
	char what[4200];
	PGresult *res;

	snprintf(what, sizeof(what), "migration %s", path);
	p_int(&p, v);
	if (pg_run_done(s, "BEGIN", NULL, what, e) != ST_OK)
		return ST_FAIL;
	res = PQexec(s->conn, sql);	/* several statements: the simple protocol */
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(s, res, what, e);
		PQclear(res);
		goto out_rollback;
	}
	PQclear(res);
	if (pg_run_done(s, "INSERT INTO schema_migration(version) VALUES ($1)", &p, what, e) != ST_OK ||
	    pg_run_done(s, "COMMIT", NULL, what, e) != ST_OK)
		goto out_rollback;
	return ST_OK;
out_rollback:
	PQclear(PQexec(s->conn, "ROLLBACK"));
	return ST_FAIL;
}

/*
 * Applies schema_dir/pg/NNN.sql above the database's version, under a
 * session advisory lock so that nodes starting together take turns.
 */
static enum status migrate(struct store_pg *s, const char *schema_dir, struct errbuf *e)
{
	struct params p = { 0 };
	enum status rc = ST_OK;
	int version = 0, rows;

	p_int(&p, LOCK_MIGRATE);
	if (pg_run_rows(s, "SELECT pg_advisory_lock($1)", &p, &rows, "lock for migrations", e) != ST_OK)
		return ST_FAIL;
	if (schema_version(s, &version, e) != ST_OK)
		rc = ST_FAIL;
	for (int v = version + 1; rc == ST_OK; v++) {
		char path[4096], *sql;

		snprintf(path, sizeof(path), "%s/pg/%03d.sql", schema_dir, v);
		sql = read_text(path);
		if (sql == NULL) {
			if (v == 1)
				rc = errbuf_set(e, ST_FAIL, "cannot read %s (is the schema directory "
						"right? see $SCHAKEL_SCHEMA_DIR)", path);
			break;
		}
		rc = migrate_one(s, v, path, sql, e);
		free(sql);
	}
	PQclear(PQexecParams(s->conn, "SELECT pg_advisory_unlock($1)", p.n, NULL, p.v, p.len,
			     p.fmt, 0));
	return rc;
}

/* Fills s->where from the connection's settings: database, host, port. */
static void note_where(struct store_pg *s)
{
	const char *db = PQdb(s->conn), *host = PQhost(s->conn), *port = PQport(s->conn);

	snprintf(s->where, sizeof(s->where), "database \"%s\" on host %s port %s",
		 db != NULL && *db ? db : "(default)", host != NULL && *host ? host : "(default)",
		 port != NULL && *port ? port : "(default)");
}

enum status store_pg_open(const char *dsn, const char *passfile, const char *schema_dir,
			  struct store_pg **out, struct errbuf *e)
{
	const char *kw[] = { "connect_timeout", "fallback_application_name", "dbname",
			     "passfile", NULL };
	const char *val[] = { "10", "schakel", dsn, passfile, NULL };
	struct store_pg *s;
	char why[512];

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (passfile == NULL)
		kw[3] = NULL;	/* libpq's default: PGPASSFILE, else ~/.pgpass */
	s->conn = PQconnectdbParams(kw, val, 1);
	if (s->conn == NULL) {
		free(s);
		return errbuf_set(e, ST_FAIL, "out of memory");
	}
	note_where(s);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(s->conn), why, sizeof(why));
		errbuf_set(e, ST_FAIL, "cannot connect to PostgreSQL %s: %s", s->where, why);
		goto out_close;
	}
	if (pg_run_done(s, "SET client_min_messages = warning", NULL, "set up", e) != ST_OK ||
	    migrate(s, schema_dir, e) != ST_OK ||
	    pg_run_done(s, "CREATE TEMP TABLE inzage_signals(id TEXT COLLATE \"C\" PRIMARY KEY)",
		     NULL, "set up", e) != ST_OK)
		goto out_close;
	*out = s;
	return ST_OK;
out_close:
	store_pg_close(s);
	return ST_FAIL;
}

void store_pg_close(struct store_pg *s)
{
	if (s == NULL)
		return;
	PQfinish(s->conn);
	pg_records_free(s);
	free(s);
}

/* --- transactions ------------------------------------------------------ */

enum status store_pg_begin(struct store_pg *s, struct errbuf *e)
{
	forget_tx(s);
	return pg_run_done(s, "BEGIN", NULL, "begin", e);
}

enum status store_pg_commit(struct store_pg *s, struct errbuf *e)
{
	PGresult *res = pg_run(s, "COMMIT", NULL, PGRES_COMMAND_OK, "commit", e);
	bool ok = res != NULL && strcmp(PQcmdStatus(res), "COMMIT") == 0;

	forget_tx(s);
	PQclear(res);
	if (res != NULL && !ok)	/* a failed transaction "commits" as a rollback */
		return errbuf_set(e, ST_FAIL, "database: commit: the transaction had failed and "
				  "was rolled back");
	return ok ? ST_OK : ST_FAIL;
}

void store_pg_rollback(struct store_pg *s)
{
	if (s == NULL)
		return;
	forget_tx(s);
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
}

enum status store_pg_key_check(struct store_pg *s, const char check[65], struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;
	bool same;

	p_text(&p, check);
	if (pg_run_done(s, "INSERT INTO store_key(id, pseudonym_check) VALUES (1, $1)"
		     " ON CONFLICT (id) DO NOTHING", &p, "store the key check", e) != ST_OK)
		return ST_FAIL;
	res = pg_run(s, "SELECT pseudonym_check FROM store_key WHERE id = 1", NULL, PGRES_TUPLES_OK,
		  "read the key check", e);
	if (res == NULL)
		return ST_FAIL;
	same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), check) == 0;
	PQclear(res);
	if (!same)
		return errbuf_set(e, ST_FAIL, "the pseudonym key (keys/pseudonym.key) is not the one "
				  "PostgreSQL %s was made with: every node of one database needs "
				  "the same keys/ (docs/operations.md)", s->where);
	return ST_OK;
}

/* Marks a change for the next incremental match: a full run (mark_all). */
static enum status mark_change(struct store_pg *s, struct errbuf *e)
{
	if (s->marked)
		return ST_OK;
	if (pg_run_done(s, "INSERT INTO mark_all(id) VALUES (1) ON CONFLICT DO NOTHING", NULL,
		     "mark a change", e) != ST_OK)
		return ST_FAIL;
	s->marked = true;
	return ST_OK;
}

enum status pg_mark_change(struct store_pg *s, struct errbuf *e)
{
	return mark_change(s, e);
}

/* --- records ------------------------------------------------------------ */

enum status store_pg_ingest_add(struct store_pg *s, const struct ingest_row *r, int64_t *id,
				struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	p_text(&p, r->adapter);
	p_text(&p, r->origin);
	p_text_or_null(&p, r->party);
	p_text(&p, r->digest);
	res = pg_run(s, "INSERT INTO ingest(adapter, origin, party, digest, at, accepted, rejected)"
		  " VALUES ($1, $2, $3, $4, to_char(now() AT TIME ZONE 'UTC',"
		  " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 0, 0) RETURNING id", &p, PGRES_TUPLES_OK,
		  "add ingest", e);
	if (res == NULL)
		return ST_FAIL;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return ST_OK;
}

enum status store_pg_ingest_counts(struct store_pg *s, int64_t id, long accepted,
				   long rejected, const char *digest, struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, id);
	p_int(&p, accepted);
	p_int(&p, rejected);
	p_text(&p, digest);
	return pg_run_done(s, "UPDATE ingest SET accepted = $2, rejected = $3, digest = $4"
			" WHERE id = $1", &p, "update ingest", e);
}

/* The records themselves: store_pg_records.c. */

/* --- the exchange log ------------------------------------------------------ */

/*
 * Inside a transaction, the first call takes LOCK_LOG (held until the
 * transaction ends) before it reads: a writer on another node waits here,
 * then reads the head this one leaves.  Outside one, it only reads.
 */
enum status store_pg_log_head(struct store_pg *s, int64_t *seq, char hash[65],
			      struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;
	int rows;

	if (s->head_known) {	/* appended in this transaction, under the lock */
		*seq = s->head_seq;
		memcpy(hash, s->head_hash, 65);
		return ST_OK;
	}
	if (PQtransactionStatus(s->conn) == PQTRANS_INTRANS && !s->log_locked) {
		p_int(&p, LOCK_LOG);
		if (pg_run_rows(s, "SELECT pg_advisory_xact_lock($1)", &p, &rows,
			     "lock the exchange log", e) != ST_OK)
			return ST_FAIL;
		s->log_locked = true;
	}
	res = pg_run(s, "SELECT seq, hash FROM exlog ORDER BY seq DESC LIMIT 1", NULL,
		  PGRES_TUPLES_OK, "read log head", e);
	if (res == NULL)
		return ST_FAIL;
	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	if (PQntuples(res) > 0) {
		*seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		pg_value_copy(res, 0, 1, hash, 65);
	}
	PQclear(res);
	return ST_OK;
}

enum status store_pg_log_insert(struct store_pg *s, const struct exlog_row *r,
				struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, r->seq);
	p_text(&p, r->at);
	p_text(&p, r->kind);
	p_text_or_null(&p, r->party);
	p_text_or_null(&p, r->subject);
	p_text(&p, r->detail);
	p_text(&p, r->prev);
	p_text(&p, r->hash);
	p_text_or_null(&p, r->trace_id);
	if (pg_run_done(s, "INSERT INTO exlog(seq, at, kind, party, subject, detail, prev, hash,"
		     " trace_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", &p,
		     "write the exchange log", e) != ST_OK)
		return ST_FAIL;
	s->head_known = s->log_locked && PQtransactionStatus(s->conn) == PQTRANS_INTRANS;
	s->head_seq = r->seq;
	snprintf(s->head_hash, sizeof(s->head_hash), "%s", r->hash);
	return ST_OK;
}

/* One result row (seq, at, kind, party, subject, detail, prev, hash, trace_id) to cb. */
static int log_row(const PGresult *res, int i, int (*cb)(void *arg, const struct exlog_row *r),
		   void *arg)
{
	struct exlog_row r = { .seq = strtoll(PQgetvalue(res, i, 0), NULL, 10) };

	pg_value_copy(res, i, 1, r.at, sizeof(r.at));
	r.kind = PQgetvalue(res, i, 2);
	r.party = pg_value_or_null(res, i, 3);
	r.subject = pg_value_or_null(res, i, 4);
	r.detail = PQgetvalue(res, i, 5);
	pg_value_copy(res, i, 6, r.prev, sizeof(r.prev));
	pg_value_copy(res, i, 7, r.hash, sizeof(r.hash));
	r.trace_id = pg_value_or_null(res, i, 8);
	return cb(arg, &r);
}

/*
 * Streams the entries of a query (libpq's single-row mode: a log of
 * millions of entries is not held in memory) to cb; cb must not use the
 * store.  A cb that stops ends the scan with ST_FAIL and e untouched.
 */
static enum status log_rows(struct store_pg *s, const char *sql, const struct params *p,
			    int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			    struct errbuf *e)
{
	enum status rc = ST_OK;
	bool stopped = false;
	PGresult *res;

	if (pg_records_pending(s) && pg_records_flush(s, e) != ST_OK)	/* as pg_run() */
		return ST_FAIL;
	if (!PQsendQueryParams(s->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0) ||
	    !PQsetSingleRowMode(s->conn))
		return pg_fail(s, NULL, "read the exchange log", e);
	while ((res = PQgetResult(s->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && !stopped && rc == ST_OK) {
			if (log_row(res, 0, cb, arg) != 0) {
				stopped = true;	/* the rest is read and dropped */
				rc = ST_FAIL;
			}
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == ST_OK) {
			rc = pg_fail(s, res, "read the exchange log", e);
		}
		PQclear(res);
	}
	return rc;
}

enum status store_pg_log_scan(struct store_pg *s, int64_t from, const char *party, long limit,
			      int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			      struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, from);
	p_text(&p, party);
	if (limit > 0)
		p_int(&p, limit);
	else
		p_text(&p, NULL);	/* LIMIT NULL: all */
	return log_rows(s, "SELECT seq, at, kind, party, subject, detail, prev, hash, trace_id"
			" FROM exlog WHERE seq >= $1 AND ($2::text IS NULL OR party = $2 OR"
			" (kind IN ('signal', 'ended') AND detail::jsonb -> 'recipients' ? $2::text))"
			" ORDER BY seq LIMIT $3::bigint", &p, cb, arg, e);
}

/* The conditions of a log search, each on one parameter, written $P. */
static const struct {
	size_t off;		/* of the value in struct log_filter */
	const char *cond;
} log_conds[] = {
	{ offsetof(struct log_filter, party), "party = $P OR (kind IN ('signal', 'ended') AND"
	  " detail::jsonb -> 'recipients' ? $P)" },
	{ offsetof(struct log_filter, kind), "kind = $P" },
	{ offsetof(struct log_filter, source), "detail::jsonb ->> 'source' = $P"
	  " OR detail::jsonb ->> 'adapter' = $P" },
	{ offsetof(struct log_filter, recipient), "(kind IN ('delivery', 'disclosure') AND"
	  " party = $P) OR (kind IN ('signal', 'ended') AND detail::jsonb -> 'recipients' ? $P)" },
	{ offsetof(struct log_filter, status), "detail::jsonb ->> 'status' = $P"
	  " OR detail::jsonb ->> 'outcome' = $P" },
	{ offsetof(struct log_filter, since), "at >= $P" },
	{ offsetof(struct log_filter, until), "at <= $P || 'z'" },
	{ offsetof(struct log_filter, trace), "trace_id = $P" },
	{ offsetof(struct log_filter, id), "subject = $P OR detail::jsonb ->> 'signal' = $P"
	  " OR detail::jsonb ->> 'ingest' = $P" },
};

/* Appends " AND (cond)" to q (n bytes) with each $P written $<i>::text. */
static void append_cond(char *q, size_t n, const char *cond, int i)
{
	size_t len = strlen(q);

	len += (size_t)snprintf(q + len, n - len, " AND (");
	for (const char *c = cond; *c != '\0' && len + 16 < n; c++) {
		if (c[0] == '$' && c[1] == 'P') {
			len += (size_t)snprintf(q + len, n - len, "$%d::text", i);
			c++;
		} else {
			q[len++] = *c;
		}
	}
	snprintf(q + len, n - len, ")");
}

enum status store_pg_log_search(struct store_pg *s, const struct log_filter *f,
				int (*cb)(void *arg, const struct exlog_row *r), void *arg,
				struct errbuf *e)
{
	char q[4096] = "SELECT seq, at, kind, party, subject, detail, prev, hash, trace_id"
		       " FROM exlog WHERE seq > $1";
	struct params p = { 0 };
	size_t len;

	p_int(&p, f->after);
	for (size_t i = 0; i < sizeof(log_conds) / sizeof(log_conds[0]); i++) {
		const char *v = *(const char *const *)((const char *)f + log_conds[i].off);

		if (v == NULL)
			continue;
		p_text(&p, v);
		append_cond(q, sizeof(q), log_conds[i].cond, p.n);
	}
	if (f->limit > 0)
		p_int(&p, f->limit);
	else
		p_text(&p, NULL);
	len = strlen(q);
	snprintf(q + len, sizeof(q) - len, " ORDER BY seq%s LIMIT $%d::bigint",
		 f->newest_first ? " DESC" : "", p.n);
	return log_rows(s, q, &p, cb, arg, e);
}

enum status store_pg_checkpoint_add(struct store_pg *s, const struct checkpoint_row *c,
				    struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, c->seq);
	p_text(&p, c->hash);
	p_text(&p, c->at);
	p_bytes(&p, c->signature, c->signature_len);
	p_text(&p, c->certificate);
	return pg_run_done(s, "INSERT INTO checkpoint(seq, hash, at, signature, certificate)"
			" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING", &p,
			"store a checkpoint", e);
}

/* Read whole (there are few): cb may use the store, as exlog_prove()'s does. */
enum status store_pg_checkpoints(struct store_pg *s,
				 int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
				 struct errbuf *e)
{
	PGresult *res = pg_run(s, "SELECT seq, hash, at, signature, certificate FROM checkpoint"
			    " ORDER BY seq", NULL, PGRES_TUPLES_OK, "read checkpoints", e);
	enum status rc = ST_OK;

	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; i < PQntuples(res) && rc == ST_OK; i++) {
		struct checkpoint_row c = { .seq = strtoll(PQgetvalue(res, i, 0), NULL, 10) };
		unsigned char *sig;

		pg_value_copy(res, i, 1, c.hash, sizeof(c.hash));
		pg_value_copy(res, i, 2, c.at, sizeof(c.at));
		sig = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3),
				      &c.signature_len);
		if (sig == NULL) {
			rc = errbuf_set(e, ST_FAIL, "out of memory");
			break;
		}
		c.signature = sig;
		c.certificate = PQgetvalue(res, i, 4);
		if (cb(arg, &c) != 0)
			rc = ST_FAIL;
		PQfreemem(sig);
	}
	PQclear(res);
	return rc;
}

/* --- access requests ---------------------------------------------------- */

/* The queries of an access request, each giving the eight inzage_row fields. */
#define INZAGE_ADDRESS(a) a".postcode || ' ' || " a".huisnummer || " a".huisletter ||" \
	" CASE " a".toevoeging WHEN '' THEN '' ELSE '-' || " a".toevoeging END"
static const char *const inzage_sql[] = {
	/* registrations received */
	"SELECT 'registration', i.at, 'begindatumVerblijf ' || p.begindatum, " INZAGE_ADDRESS("a")
	", i.adapter, i.origin, i.party, NULL FROM person p JOIN address a ON a.addr = p.addr"
	" JOIN ingest i ON i.id = p.ingest_id WHERE p.pseudonym = $1 ORDER BY p.begindatum",
	/* findings that name the person */
	"SELECT 'finding', i.at, f.id || ' of ' || f.datum, " INZAGE_ADDRESS("a")
	", i.adapter, i.origin, i.party, NULL FROM finding_person fp"
	" JOIN finding f ON f.id = fp.finding_id JOIN address a ON a.addr = f.addr"
	" JOIN ingest i ON i.id = f.ingest_id WHERE fp.pseudonym = $1 ORDER BY f.id",
	/* signals about the person, or resting on the person's records */
	"SELECT 'signal', s.created, s.id, " INZAGE_ADDRESS("a") ", s.rule, 'as of ' || s.as_of,"
	" NULL, s.id FROM signal s JOIN address a ON a.addr = s.addr"
	" WHERE s.id IN (SELECT id FROM inzage_signals) ORDER BY s.seq",
	/* where those signals went */
	"SELECT 'delivery', to_char(to_timestamp(coalesce(d.delivered_at, d.created))"
	" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), d.message_id, NULL, d.oin,"
	" d.state, d.oin, d.signal_id FROM delivery d"
	" WHERE d.signal_id IN (SELECT id FROM inzage_signals) ORDER BY d.id",
	/* recipients that fetch from their inbox */
	"SELECT 'routed', s.created, s.id, NULL, r.oin, 'inbox', r.oin, s.id"
	" FROM signal_recipient r JOIN signal s ON s.seq = r.signal_seq"
	" WHERE s.id IN (SELECT id FROM inzage_signals) ORDER BY s.seq, r.oin",
	/* each time one of those signals was handed to a recipient (disclose.c) */
	"SELECT 'disclosure', x.at, x.subject, NULL, x.party, (x.detail::jsonb ->> 'via') ||"
	" CASE WHEN (x.detail::jsonb ->> 'bsn')::boolean THEN ', with the BSN'"
	" ELSE ', without the BSN' END, x.party, x.subject FROM exlog x"
	" WHERE x.kind = 'disclosure' AND x.subject IN (SELECT id FROM inzage_signals)"
	" ORDER BY x.seq",
};

/* Calls cb with each row of res (eight columns); ST_FAIL when it stops. */
static enum status inzage_rows(const PGresult *res,
			       int (*cb)(void *arg, const struct inzage_row *r), void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct inzage_row r = { 0 };
		const char **f[] = { &r.kind, &r.at, &r.what, &r.address, &r.source, &r.via,
				     &r.party, &r.signal };

		for (int c = 0; c < 8; c++)
			*f[c] = pg_value_or_null(res, i, c);
		if (cb(arg, &r) != 0)
			return ST_FAIL;
	}
	return ST_OK;
}

/*
 * The person's signals (about the person, or resting on a registration or
 * finding of theirs) go into the session's temporary inzage_signals first.
 */
enum status store_pg_inzage(struct store_pg *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			    int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			    struct errbuf *e)
{
	char hex[2 * PSEUDONYM_LEN + 2];
	struct params p = { 0 };
	enum status st = ST_OK;

	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	strcat(hex, "/");	/* NOLINT(clang-analyzer-security.insecureAPI.strcpy): 64 + 2 bytes fit */
	p_bytes(&p, pseudonym, PSEUDONYM_LEN);
	p_text(&p, hex);
	if (pg_run_done(s, "DELETE FROM inzage_signals", NULL, "access request", e) != ST_OK ||
	    pg_run_done(s, "INSERT INTO inzage_signals SELECT id FROM signal WHERE person = $1"
		     " UNION SELECT s.id FROM signal s, jsonb_array_elements(s.evidence::jsonb) ev"
		     " WHERE (ev ->> 0 = 'brp' AND substr(ev ->> 1, 1, 65) = $2::text)"
		     " OR (ev ->> 0 = 'inspectie' AND ev ->> 1 IN"
		     " (SELECT finding_id FROM finding_person WHERE pseudonym = $1))", &p,
		     "access request", e) != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; st == ST_OK && i < sizeof(inzage_sql) / sizeof(inzage_sql[0]); i++) {
		PGresult *res;

		p.n = strstr(inzage_sql[i], "$1") != NULL;	/* the others read inzage_signals */
		res = pg_run(s, inzage_sql[i], &p, PGRES_TUPLES_OK, "access request", e);
		if (res == NULL)
			return ST_FAIL;
		st = inzage_rows(res, cb, arg);
		PQclear(res);
	}
	return st;
}

/* --- retention ------------------------------------------------------------ */

/* Which cut-off of struct retention a purge step uses. */
enum cutoff { CUT_SIGNALS, CUT_DELIVERIES, CUT_RECORDS };

/*
 * The steps of a purge, in order: signals first with everything that
 * hangs on them, then delivered messages, then records by when they were
 * received (the log keeps its metadata).  count: the purge_counts field
 * the deleted rows add to, or -1.
 */
static const struct {
	enum cutoff cut;
	ptrdiff_t count;
	const char *sql;
} purge_steps[] = {
	{ CUT_SIGNALS, -1, "DELETE FROM feedback WHERE signal_id IN"
	  " (SELECT id FROM signal WHERE created < $1)" },
	{ CUT_SIGNALS, offsetof(struct purge_counts, deliveries), "DELETE FROM delivery WHERE"
	  " signal_id IN (SELECT id FROM signal WHERE created < $1)" },
	{ CUT_SIGNALS, -1, "DELETE FROM signal_recipient WHERE signal_seq IN"
	  " (SELECT seq FROM signal WHERE created < $1)" },
	{ CUT_SIGNALS, offsetof(struct purge_counts, signals),
	  "DELETE FROM signal WHERE created < $1" },
	{ CUT_DELIVERIES, offsetof(struct purge_counts, deliveries), "DELETE FROM delivery WHERE"
	  " state = 'delivered' AND delivered_at < extract(epoch FROM $1::timestamptz)" },
	{ CUT_RECORDS, offsetof(struct purge_counts, persons), "DELETE FROM person WHERE"
	  " ingest_id IN (SELECT id FROM ingest WHERE at < $1)" },
	{ CUT_RECORDS, offsetof(struct purge_counts, dwellings), "DELETE FROM dwelling WHERE"
	  " ingest_id IN (SELECT id FROM ingest WHERE at < $1)" },
	{ CUT_RECORDS, offsetof(struct purge_counts, findings), "DELETE FROM finding WHERE"
	  " ingest_id IN (SELECT id FROM ingest WHERE at < $1)" },
	{ CUT_RECORDS, -1, "DELETE FROM coverage WHERE $1::text IS NOT NULL AND gemeentecode"
	  " NOT IN (SELECT gemeentecode FROM person)" },
	{ CUT_RECORDS, offsetof(struct purge_counts, ingests), "DELETE FROM ingest WHERE at < $1"
	  " AND id NOT IN (SELECT ingest_id FROM person UNION SELECT ingest_id FROM dwelling"
	  " UNION SELECT ingest_id FROM finding)" },
};

/* A purge that deleted anything marks a change (the next match is a full one). */
enum status store_pg_purge(struct store_pg *s, const struct retention *r,
			   struct purge_counts *n, struct errbuf *e)
{
	const char *cut[] = { [CUT_SIGNALS] = r->signals, [CUT_DELIVERIES] = r->deliveries,
			      [CUT_RECORDS] = r->records };
	bool deleted = false;

	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < sizeof(purge_steps) / sizeof(purge_steps[0]); i++) {
		struct params p = { 0 };
		PGresult *res;
		long rows;

		if (cut[purge_steps[i].cut] == NULL)
			continue;
		p_text(&p, cut[purge_steps[i].cut]);
		res = pg_run(s, purge_steps[i].sql, &p, PGRES_COMMAND_OK, "purge", e);
		if (res == NULL)
			return ST_FAIL;
		rows = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		deleted |= rows > 0;
		if (purge_steps[i].count >= 0)
			*(long *)((char *)n + purge_steps[i].count) += rows;
	}
	return deleted ? mark_change(s, e) : ST_OK;
}

/* --- pulled sources ------------------------------------------------------- */

enum status store_pg_source_get(struct store_pg *s, const char *name, struct source_state *ss,
				struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	memset(ss, 0, sizeof(*ss));
	p_text(&p, name);
	res = pg_run(s, "SELECT coalesce(cursor, ''), coalesce(etag, ''), coalesce(last_modified, ''),"
		  " failures, next_at, coalesce(last_ok, 0) FROM source_state WHERE name = $1", &p,
		  PGRES_TUPLES_OK, "read source state", e);
	if (res == NULL)
		return ST_FAIL;
	if (PQntuples(res) > 0) {
		pg_value_copy(res, 0, 0, ss->cursor, sizeof(ss->cursor));
		pg_value_copy(res, 0, 1, ss->etag, sizeof(ss->etag));
		pg_value_copy(res, 0, 2, ss->last_modified, sizeof(ss->last_modified));
		ss->failures = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
		ss->next_at = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
		ss->last_ok = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	}
	PQclear(res);
	return ST_OK;
}

enum status store_pg_source_put(struct store_pg *s, const char *name,
				const struct source_state *ss, struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, name);
	p_text_or_null(&p, ss->cursor);
	p_text_or_null(&p, ss->etag);
	p_text_or_null(&p, ss->last_modified);
	p_int(&p, ss->failures);
	p_int(&p, ss->next_at);
	if (ss->last_ok != 0)
		p_int(&p, ss->last_ok);
	else
		p_text(&p, NULL);
	return pg_run_done(s, "INSERT INTO source_state(name, cursor, etag, last_modified, failures,"
			" next_at, last_ok) VALUES ($1, $2, $3, $4, $5, $6, $7)"
			" ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
			" etag = excluded.etag, last_modified = excluded.last_modified,"
			" failures = excluded.failures, next_at = excluded.next_at,"
			" last_ok = excluded.last_ok", &p, "store source state", e);
}

/* --- processing records (written; read back on SQLite only, so far) ------- */

/* Written at once: the multi-row deferral of store_sqlite.c is not needed for the contract. */
enum status store_pg_ldv_span_add(struct store_pg *s, struct ldv_span_row *r, struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	p_text(&p, r->trace_id);
	p_text(&p, r->span_id);
	p_text_or_null(&p, r->parent_span_id);
	p_text(&p, r->name);
	p_int(&p, r->status);
	p_int(&p, r->start_ns);
	p_int(&p, r->end_ns);
	p_text(&p, r->activity);
	if (r->exlog_seq > 0)
		p_int(&p, r->exlog_seq);
	else
		p_text(&p, NULL);
	p_text_or_null(&p, r->object);
	p_text_or_null(&p, r->party);
	p_int(&p, r->subjects);
	if (r->npseudonyms > 0)
		p_bytes(&p, r->pseudonyms, r->npseudonyms * PSEUDONYM_LEN);
	else
		p_text(&p, NULL);
	res = pg_run(s, "INSERT INTO ldv_span(trace_id, span_id, parent_span_id, name, status,"
		  " start_ns, end_ns, activity, exlog_seq, object, party, subjects, pseudonyms)"
		  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq",
		  &p, PGRES_TUPLES_OK, "processing record", e);
	if (res == NULL)
		return ST_FAIL;
	r->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return ST_OK;
}

enum status store_pg_ldv_span_end(struct store_pg *s, int64_t seq, int64_t end_ns, int status,
				  int64_t exlog_seq, long subjects, struct errbuf *e)
{
	struct params p = { 0 };

	p_int(&p, seq);
	p_int(&p, end_ns);
	p_int(&p, status);
	if (exlog_seq > 0)
		p_int(&p, exlog_seq);
	else
		p_text(&p, NULL);
	p_int(&p, subjects);
	return pg_run_done(s, "UPDATE ldv_span SET end_ns = $2, status = $3, exlog_seq = $4,"
			" subjects = $5 WHERE seq = $1", &p, "processing record", e);
}

enum status store_pg_ldv_subjects_add(struct store_pg *s, int64_t seq, long first,
				      const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				      struct errbuf *e)
{
	/* written with the next batch of records (store_pg_records.c) */
	return pg_records_subjects(s, seq, first, pseudonyms, n, e);
}

enum status store_pg_finding_persons(struct store_pg *s, const char *finding_id,
				     int (*cb)(void *arg, const uint8_t *pseudonym), void *arg,
				     struct errbuf *e)
{
	struct params p = { 0 };
	enum status rc = ST_OK;
	PGresult *res;

	p_text(&p, finding_id);
	res = pg_run(s, "SELECT pseudonym FROM finding_person WHERE finding_id = $1", &p,
		  PGRES_TUPLES_OK, "processing record", e);
	if (res == NULL)
		return ST_FAIL;
	for (int i = 0; i < PQntuples(res) && rc == ST_OK; i++) {
		size_t len;
		unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 0), &len);

		if (b == NULL)
			rc = errbuf_set(e, ST_FAIL, "out of memory");
		else if (len == PSEUDONYM_LEN && cb(arg, b) != 0)
			rc = ST_FAIL;
		PQfreemem(b);
	}
	PQclear(res);
	return rc;
}

/* A complete span: written at once (no multi-row deferral on PostgreSQL yet). */
enum status store_pg_ldv_span_defer(struct store_pg *s, const struct ldv_span_row *r,
				    struct errbuf *e)
{
	struct ldv_span_row copy = *r;

	return store_pg_ldv_span_add(s, &copy, e);
}

/* --- the table of this backend (store_backend.h) ------------------------ */

/* PostgreSQL keeps its own cache (shared_buffers): nothing to set. */
static enum status store_pg_cache(struct store_pg *s, int mib, struct errbuf *e)
{
	(void)s;
	(void)mib;
	(void)e;
	return ST_OK;
}

/* Entry x is store_pg_x(); NULL: not yet supported with this backend. */
const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.key_check = store_pg_key_check,
	.close = store_pg_close,
	.cache = store_pg_cache,
	.begin = store_pg_begin,
	.commit = store_pg_commit,
	.rollback = store_pg_rollback,
	.ingest_add = store_pg_ingest_add,
	.ingest_counts = store_pg_ingest_counts,
	.put_person = store_pg_put_person,
	.put_dwelling = store_pg_put_dwelling,
	.put_finding = store_pg_put_finding,
	.held_address = store_pg_held_address,
	.held_person = store_pg_held_person,
	.held_finding = store_pg_held_finding,
	.withdraw_person = store_pg_withdraw_person,
	.finding_repeat = store_pg_finding_repeat,
	.flush = store_pg_flush,
	.hint_addresses = store_pg_hint_addresses,
	.source_get = store_pg_source_get,
	.source_put = store_pg_source_put,
	.log_head = store_pg_log_head,
	.log_insert = store_pg_log_insert,
	.log_scan = store_pg_log_scan,
	.log_search = store_pg_log_search,
	.checkpoint_add = store_pg_checkpoint_add,
	.checkpoints = store_pg_checkpoints,
	.ldv_span_add = store_pg_ldv_span_add,
	.ldv_span_defer = store_pg_ldv_span_defer,
	.ldv_span_end = store_pg_ldv_span_end,
	.ldv_subjects_add = store_pg_ldv_subjects_add,
	.ldv_search = store_pg_ldv_search,
	.ldv_subjects = store_pg_ldv_subjects,
	.ldv_cursor = store_pg_ldv_cursor,
	.ldv_cursor_set = store_pg_ldv_cursor_set,
	.finding_persons = store_pg_finding_persons,
	.inzage = store_pg_inzage,
	.purge = store_pg_purge,
	.scan_begin = store_pg_scan_begin,
	.scan_end = store_pg_scan_end,
	.scan_registrations = store_pg_scan_registrations,
	.scan_addresses = store_pg_scan_addresses,
	.scan_named = store_pg_scan_named,
	.scan_findings = store_pg_scan_findings,
	.scan_person_findings = store_pg_scan_person_findings,
	.address_get = store_pg_address_get,
	.match_state = store_pg_match_state,
	.match_state_put = store_pg_match_state_put,
	.mark_dates = store_pg_mark_dates,
	.mark_widen = store_pg_mark_widen,
	.mark_clear = store_pg_mark_clear,
	.match_catch_up = store_pg_match_catch_up,
	.open_signals = store_pg_open_signals,
	/* store_pg_signals.c */
	.put_signal = store_pg_put_signal,
	.end_signal = store_pg_end_signal,
	.signals = store_pg_signals,
	.signal_routed = store_pg_signal_routed,
	.person_bsn = store_pg_person_bsn,
	.put_feedback = store_pg_put_feedback,
	.feedback_counts = store_pg_feedback_counts,
	.delivery_add = store_pg_delivery_add,
	.delivery_requeue = store_pg_delivery_requeue,
	.deliveries = store_pg_deliveries,
	.deliveries_next = store_pg_deliveries_next,
	.delivery_after = store_pg_delivery_after,
	.deliveries_of = store_pg_deliveries_of,
	.delivery_update = store_pg_delivery_update,
	.delivery_retry = store_pg_delivery_retry,
	.deliveries_claim = store_pg_deliveries_claim,
	.deliveries_release = store_pg_deliveries_release,
	/* store_pg_ops.c */
	.gauges = store_pg_gauges,
	.check_writable = store_pg_check_writable,
	.report = store_pg_report,
	.lease_take = store_pg_lease_take,
	.lease_drop = store_pg_lease_drop,
	.node_put = store_pg_node_put,
	.node_newest = store_pg_node_newest,
	.ping = store_pg_ping,
};
