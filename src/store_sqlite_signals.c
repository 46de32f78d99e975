/*
 * store_sqlite_signals.c - signals on SQLite: storing and listing them,
 * ending one, their routing, the sealed BSN of a person, feedback and the
 * deliveries of the outbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

enum status store_sqlite_end_signal(struct store_sqlite *s, int64_t seq, const char *date,
				    struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_SIGNAL_END, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, date, -1, SQLITE_STATIC);
	return step_done(s, st, e, "end a signal");
}

/* Runs Q_DELIVERY_ADD or Q_DELIVERY_REQUEUE. */
static enum status delivery_step(struct store_sqlite *s, enum stmt_id id, const char *signal_id,
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

enum status store_sqlite_delivery_requeue(struct store_sqlite *s, const char *signal_id,
					  const char *oin, const char *message_id, int64_t now,
					  struct errbuf *e)
{
	if (delivery_step(s, Q_DELIVERY_REQUEUE, signal_id, oin, message_id, now, e) != ST_OK)
		return ST_FAIL;
	if (sqlite3_changes(s->db) > 0)
		return ST_OK;
	return store_sqlite_delivery_add(s, signal_id, oin, message_id, now, e);
}

enum status store_sqlite_put_signal(struct store_sqlite *s, const struct signal *sig,
				    bool *created, struct errbuf *e)
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
	evidence = store_evidence_json(sig);
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
	bind_text_or_null(st, 13, sig->trace_id[0] ? sig->trace_id : NULL);
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

/* Loads the evidence (column 22 of st) and recipients of the signal in sig. */
static enum status load_signal_lists(struct store_sqlite *s, sqlite3_stmt *row, struct signal *sig,
				     struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (!store_evidence_parse((const char *)sqlite3_column_text(row, 22), sig))
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

enum status store_sqlite_signals(struct store_sqlite *s, const struct signal_filter *f,
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

enum status store_sqlite_signal_routed(struct store_sqlite *s, const char *id, const char *oin,
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

enum status store_sqlite_person_bsn(struct store_sqlite *s,
				    const uint8_t pseudonym[PSEUDONYM_LEN],
				    uint8_t sealed[SEALED_BSN_LEN], bool *found,
				    struct errbuf *e)
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

enum status store_sqlite_put_feedback(struct store_sqlite *s, const char *signal_id,
				      const char *oin, const char *outcome, const char *note,
				      int64_t *id, struct errbuf *e)
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

enum status store_sqlite_feedback_counts(struct store_sqlite *s,
					 int (*cb)(void *arg, const char *rule, const char *outcome, long n),
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

enum status store_sqlite_delivery_add(struct store_sqlite *s, const char *signal_id,
				      const char *oin, const char *message_id, int64_t now,
				      struct errbuf *e)
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
	column_copy(st, 12, d->locked_by, sizeof(d->locked_by));
}

/* Runs a delivery query and calls cb for each row it gave. */
static enum status each_delivery(struct store_sqlite *s, sqlite3_stmt *st,
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

enum status store_sqlite_deliveries(struct store_sqlite *s, int64_t due, bool failed_only,
				    long limit,
				    int (*cb)(void *arg, const struct delivery_row *d),
				    void *arg, struct errbuf *e)
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

enum status store_sqlite_delivery_after(struct store_sqlite *s, const struct delivery_row *d,
					int64_t due,
					int (*cb)(void *arg, const struct delivery_row *d),
					void *arg, struct errbuf *e)
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

enum status store_sqlite_deliveries_next(struct store_sqlite *s, int64_t due, long limit,
					 int (*cb)(void *arg, const struct delivery_row *d),
					 void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_NEXT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, due);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_sqlite_deliveries_of(struct store_sqlite *s, const char *oin, int64_t due,
				       long limit,
				       int (*cb)(void *arg, const struct delivery_row *d),
				       void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_OF, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, oin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	return each_delivery(s, st, cb, arg, e);
}

enum status store_sqlite_delivery_update(struct store_sqlite *s, const struct delivery_row *d,
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
	/* a row another node claimed since, or finished, keeps that node's outcome */
	bind_text_or_null(st, 9, d->locked_by[0] != '\0' ? d->locked_by : NULL);
	return step_done(s, st, e, "update a delivery");
}

/* How long a claim waits for another writer, at most (milliseconds). */
#define CLAIM_WAIT_MS 100

/*
 * The claim of store_sqlite_deliveries_claim(), in its transaction: the
 * claimable rows read first (into *rows, malloc'd; *n of them), then
 * leased one by one.
 */
static enum status claim_rows(struct store_sqlite *s, const char *node, const char *oin,
			      int64_t now, int lease_seconds, long limit,
			      struct delivery_row **rows, size_t *n, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_CLAIMABLE, e);
	int step = SQLITE_DONE;

	*n = 0;
	*rows = st != NULL ? calloc((size_t)limit, sizeof(**rows)) : NULL;
	if (st == NULL)
		return ST_FAIL;
	if (*rows == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	sqlite3_bind_text(st, 1, oin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, limit);
	while (*n < (size_t)limit && (step = sqlite3_step(st)) == SQLITE_ROW)
		delivery_from_row(st, &(*rows)[(*n)++]);
	sqlite3_reset(st);
	if (*n < (size_t)limit && step != SQLITE_DONE)
		return db_error(s, e, "claim deliveries");
	for (size_t i = 0; i < *n; i++) {
		snprintf((*rows)[i].locked_by, sizeof((*rows)[i].locked_by), "%s", node);
		st = stmt(s, Q_DELIVERY_CLAIM, e);
		if (st == NULL)
			return ST_FAIL;
		sqlite3_bind_int64(st, 1, (*rows)[i].id);
		sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now + lease_seconds);
		if (step_done(s, st, e, "claim deliveries") != ST_OK)
			return ST_FAIL;
	}
	return ST_OK;
}

/* Inside the writer's transaction (BEGIN IMMEDIATE): one claimer at a time. */
enum status store_sqlite_deliveries_claim(struct store_sqlite *s, const char *node,
					  const char *oin, int64_t now, int lease_seconds,
					  long limit,
					  int (*cb)(void *arg, const struct delivery_row *d),
					  void *arg, struct errbuf *e)
{
	struct delivery_row *rows = NULL;
	enum status rc = ST_OK;
	size_t n = 0;

	if (limit <= 0)
		return ST_OK;
	/* A writer that holds the lock long (an ingest on a worker) is not
	 * waited for on the daemon's loop: nothing is claimed now, the next
	 * scan tries again. */
	sqlite3_busy_timeout(s->db, CLAIM_WAIT_MS);
	rc = store_sqlite_begin(s, e);
	sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
	if (rc != ST_OK)
		return sqlite3_errcode(s->db) == SQLITE_BUSY ? ST_OK : ST_FAIL;
	if (claim_rows(s, node, oin, now, lease_seconds, limit, &rows, &n, e) != ST_OK ||
	    store_sqlite_commit(s, e) != ST_OK) {
		store_sqlite_rollback(s);
		free(rows);
		return ST_FAIL;
	}
	for (size_t i = 0; rc == ST_OK && i < n; i++)
		if (cb(arg, &rows[i]) != 0)
			rc = ST_FAIL;
	free(rows);
	return rc;
}

enum status store_sqlite_deliveries_release(struct store_sqlite *s, const char *node, long *n,
					    struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_DELIVERIES_RELEASE, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "release deliveries") != ST_OK)
		return ST_FAIL;
	*n = sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_sqlite_delivery_retry(struct store_sqlite *s, int64_t id, int64_t now,
					long *n, struct errbuf *e)
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

