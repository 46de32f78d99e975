/*
 * store_pg_int.h - what the files of the PostgreSQL store (store_pg*.c)
 * share: the connection's state, statement parameters and the helpers
 * that run a statement.  Never included outside store_pg*.c.
 */
#ifndef SCHAKEL_STORE_PG_INT_H
#define SCHAKEL_STORE_PG_INT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "crypto.h"
#include "status.h"
#include "store_pg.h"

/* Advisory lock keys (pg_advisory_*): the migrations, the log's head. */
#define LOCK_MIGRATE 0x7363686b01LL
#define LOCK_LOG 0x7363686b02LL

#define NPARAMS 16
/* Statements prepared once per connection (pg_run()): more than there are. */
#define NPREPARED 192

struct pg_records;

struct store_pg {
	PGconn *conn;
	char where[256];	/* database "x" on host h port p: for messages */
	/* What this transaction did; forgotten at begin, commit and rollback. */
	bool log_locked;	/* holds LOCK_LOG */
	bool head_known;	/* the log's head, as this transaction left it */
	int64_t head_seq;
	char head_hash[65];
	bool marked;		/* mark_all set */
	/* The window of a match's scans (store_pg_match.c). */
	char scan_as_of[11], scan_window_start[11];
	bool scan_scoped;
	struct pg_records *rec;	/* the puts not yet written, caches (store_pg_records.c) */
	/* The statements prepared on this connection, by their text's address
	 * (pg_run() is given string literals only), named s<index>. */
	const char *prepared[NPREPARED];
	int nprepared;
};

/* The parameters of one statement, $1 on. */
struct params {
	int n;
	const char *v[NPARAMS];
	int len[NPARAMS], fmt[NPARAMS];
	char num[NPARAMS][24];
};

/* Text, or NULL (SQL NULL). */
static inline void p_text(struct params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

/* Text; NULL or "" is SQL NULL. */
static inline void p_text_or_null(struct params *p, const char *v)
{
	p_text(p, v != NULL && *v != '\0' ? v : NULL);
}

static inline void p_int(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p_text(p, p->num[p->n]);
}

/* A number; negative is SQL NULL (unknown). */
static inline void p_long_or_null(struct params *p, long v)
{
	if (v < 0)
		p_text(p, NULL);
	else
		p_int(p, v);
}

/* n bytes, as bytea. */
static inline void p_bytes(struct params *p, const void *v, size_t n)
{
	p->v[p->n] = v;
	p->len[p->n] = (int)n;
	p->fmt[p->n++] = 1;
}

/* Says in e what failed and why (libpq's message); returns ST_FAIL. */
enum status pg_fail(struct store_pg *s, const PGresult *res, const char *what,
		    struct errbuf *e);
/*
 * Runs sql (a string literal: prepared once per connection, by its
 * address) with p (or none) and returns its result when its status is
 * want (the caller PQclear()s it); else NULL, and e says why.
 */
PGresult *pg_run(struct store_pg *s, const char *sql, const struct params *p,
		 ExecStatusType want, const char *what, struct errbuf *e);
/* Runs a statement that returns no rows (or rows nobody reads). */
enum status pg_run_done(struct store_pg *s, const char *sql, const struct params *p,
			const char *what, struct errbuf *e);
/* Runs a statement and sets *rows to the number of rows it returned. */
enum status pg_run_rows(struct store_pg *s, const char *sql, const struct params *p,
			int *rows, const char *what, struct errbuf *e);
/* Copies column c of row r (text) into out (n bytes), cut to fit; "" for NULL. */
void pg_value_copy(const PGresult *res, int r, int c, char *out, size_t n);
/* Column c of row r, or NULL for SQL NULL. */
const char *pg_value_or_null(const PGresult *res, int r, int c);
/* The six address columns of row r from column c on into a (struct address). */
void pg_value_address(const PGresult *res, int r, int c, struct address *a);

/* Marks a change for the next incremental match (mark_all), once a transaction. */
enum status pg_mark_change(struct store_pg *s, struct errbuf *e);

/*
 * The batch of puts (store_pg_records.c): whether one is waiting to be
 * written; writes it (pg_run() does, before any other statement);
 * forgets it and the transaction's caches (at begin, commit, rollback);
 * frees it all (at close).
 */
bool pg_records_pending(const struct store_pg *s);
enum status pg_records_flush(struct store_pg *s, struct errbuf *e);
void pg_records_forget(struct store_pg *s);
void pg_records_free(struct store_pg *s);
/* The subjects of processing record seq (store_pg_ldv_subjects_add()), sent with the next batch. */
enum status pg_records_subjects(struct store_pg *s, int64_t seq, long first,
				const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				struct errbuf *e);

#endif
