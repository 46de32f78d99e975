/*
 * store.c - the store's front (store.h): one implementation of each store
 * function, calling through the table of the store's backend
 * (store_backend.h): store_sqlite*.c or store_pg*.c.  What no backend
 * needs to know stays here: the trace id, signal_clear() and the JSON of
 * the evidence column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store.h"
#include "store_backend.h"

struct store {
	const struct store_ops *ops;	/* the backend's */
	struct store_conn *conn;	/* its connection */
	char trace_id[33];	/* store_trace_set() */
};

/* Fails what (the function's concern) as not done by this backend yet. */
static enum status unsupported(const struct store *s, const char *what, struct errbuf *e)
{
	return errbuf_set(e, ST_FAIL, "%s: not yet supported with backend = %s", what,
			  s->ops->name);
}

/* The store around connection c of ops's backend, in *out; closes c when
 * out of memory. */
static enum status store_around(const struct store_ops *ops, struct store_conn *c,
				struct store **out, struct errbuf *e)
{
	struct store *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		ops->close(c);
		return errbuf_set(e, ST_FAIL, "out of memory");
	}
	s->ops = ops;
	s->conn = c;
	*out = s;
	return ST_OK;
}

/* The backend is chosen here, by which of the two is called: store_open()
 * is backend = sqlite, store_open_dsn() backend = postgresql. */
enum status store_open(const char *path, const char *schema_dir, int busy_timeout_ms,
		       struct store **out, struct errbuf *e)
{
	struct store_conn *c;

	*out = NULL;
	if (store_sqlite_open(path, schema_dir, busy_timeout_ms, &c, e) != ST_OK)
		return ST_FAIL;
	return store_around(&store_sqlite_ops, c, out, e);
}

enum status store_open_dsn(const char *dsn, const char *passfile, const char *schema_dir,
			   struct store **out, struct errbuf *e)
{
	struct store_conn *c;

	*out = NULL;
	if (store_pg_open(dsn, passfile, schema_dir, &c, e) != ST_OK)
		return ST_FAIL;
	return store_around(&store_pg_ops, c, out, e);
}

void store_trace_set(struct store *s, const char *trace_id)
{
	snprintf(s->trace_id, sizeof(s->trace_id), "%s", trace_id != NULL ? trace_id : "");
}

const char *store_trace(const struct store *s)
{
	return s->trace_id[0] ? s->trace_id : NULL;
}

enum status store_key_check(struct store *s, const char check[65], struct errbuf *e)
{
	if (s->ops->key_check == NULL)
		return unsupported(s, "key check", e);
	return s->ops->key_check(s->conn, check, e);
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->conn);
	free(s);
}

enum status store_cache(struct store *s, int mib, struct errbuf *e)
{
	if (s->ops->cache == NULL)
		return unsupported(s, "cache", e);
	return s->ops->cache(s->conn, mib, e);
}

enum status store_begin(struct store *s, struct errbuf *e)
{
	if (s->ops->begin == NULL)
		return unsupported(s, "begin", e);
	return s->ops->begin(s->conn, e);
}

enum status store_commit(struct store *s, struct errbuf *e)
{
	if (s->ops->commit == NULL)
		return unsupported(s, "commit", e);
	return s->ops->commit(s->conn, e);
}

void store_rollback(struct store *s)
{
	if (s != NULL && s->ops->rollback != NULL)
		s->ops->rollback(s->conn);
}

enum status store_ingest_add(struct store *s, const struct ingest_row *r, int64_t *id,
			     struct errbuf *e)
{
	if (s->ops->ingest_add == NULL)
		return unsupported(s, "ingest add", e);
	return s->ops->ingest_add(s->conn, r, id, e);
}

enum status store_ingest_counts(struct store *s, int64_t id, long accepted, long rejected,
				const char *digest, struct errbuf *e)
{
	if (s->ops->ingest_counts == NULL)
		return unsupported(s, "ingest counts", e);
	return s->ops->ingest_counts(s->conn, id, accepted, rejected, digest, e);
}

enum status store_put_person(struct store *s, int64_t ingest_id, const struct person_row *r,
			     bool *changed, struct errbuf *e)
{
	if (s->ops->put_person == NULL)
		return unsupported(s, "put person", e);
	return s->ops->put_person(s->conn, ingest_id, r, changed, e);
}

enum status store_put_dwelling(struct store *s, int64_t ingest_id,
			       const struct dwelling_row *r, bool *changed, struct errbuf *e)
{
	if (s->ops->put_dwelling == NULL)
		return unsupported(s, "put dwelling", e);
	return s->ops->put_dwelling(s->conn, ingest_id, r, changed, e);
}

enum status store_put_finding(struct store *s, int64_t ingest_id, const struct finding_row *r,
			      bool *changed, struct errbuf *e)
{
	if (s->ops->put_finding == NULL)
		return unsupported(s, "put finding", e);
	return s->ops->put_finding(s->conn, ingest_id, r, changed, e);
}

enum status store_held_address(struct store *s, const char *key, char out[5], bool *found,
			       struct errbuf *e)
{
	if (s->ops->held_address == NULL)
		return unsupported(s, "held address", e);
	return s->ops->held_address(s->conn, key, out, found, e);
}

enum status store_held_person(struct store *s, const uint8_t *pseudonym,
			      const char *begindatum, char out[5], bool *found,
			      struct errbuf *e)
{
	if (s->ops->held_person == NULL)
		return unsupported(s, "held person", e);
	return s->ops->held_person(s->conn, pseudonym, begindatum, out, found, e);
}

enum status store_held_finding(struct store *s, const char *id, char out[5], bool *found,
			       struct errbuf *e)
{
	if (s->ops->held_finding == NULL)
		return unsupported(s, "held finding", e);
	return s->ops->held_finding(s->conn, id, out, found, e);
}

enum status store_withdraw_person(struct store *s, const uint8_t *pseudonym,
				  const char *begindatum, bool *changed, struct errbuf *e)
{
	if (s->ops->withdraw_person == NULL)
		return unsupported(s, "withdraw person", e);
	return s->ops->withdraw_person(s->conn, pseudonym, begindatum, changed, e);
}

enum status store_finding_repeat(struct store *s, int64_t ingest_id,
				 const struct finding_row *r, const char *place, char *first,
				 size_t n, bool *differs, struct errbuf *e)
{
	if (s->ops->finding_repeat == NULL)
		return unsupported(s, "finding repeat", e);
	return s->ops->finding_repeat(s->conn, ingest_id, r, place, first, n, differs, e);
}

/* A backend without flush writes each put at once: nothing is left to count. */
enum status store_flush(struct store *s, long *changed, struct errbuf *e)
{
	*changed = 0;
	if (s->ops->flush == NULL)
		return ST_OK;
	return s->ops->flush(s->conn, changed, e);
}

/* A hint only: a backend without hint_addresses ignores it. */
enum status store_hint_addresses(struct store *s, const char (*keys)[ADDRESS_KEY_MAX], size_t n,
				 struct errbuf *e)
{
	if (s->ops->hint_addresses == NULL)
		return ST_OK;
	return s->ops->hint_addresses(s->conn, keys, n, e);
}

enum status store_scan_begin(struct store *s, const char *as_of, const char *window_start,
			     bool scoped, struct errbuf *e)
{
	if (s->ops->scan_begin == NULL)
		return unsupported(s, "match scan", e);
	return s->ops->scan_begin(s->conn, as_of, window_start, scoped, e);
}

void store_scan_end(struct store *s)
{
	if (s != NULL && s->ops->scan_end != NULL)
		s->ops->scan_end(s->conn);
}

enum status store_scan_registrations(struct store *s,
				     int (*cb)(void *arg, const struct registration_row *r),
				     void *arg, struct errbuf *e)
{
	if (s->ops->scan_registrations == NULL)
		return unsupported(s, "scan registrations", e);
	return s->ops->scan_registrations(s->conn, cb, arg, e);
}

enum status store_scan_addresses(struct store *s,
				 int (*cb)(void *arg, const struct address_row *r), void *arg,
				 struct errbuf *e)
{
	if (s->ops->scan_addresses == NULL)
		return unsupported(s, "scan addresses", e);
	return s->ops->scan_addresses(s->conn, cb, arg, e);
}

enum status store_scan_named(struct store *s, int (*cb)(void *arg, const struct named_row *r),
			     void *arg, struct errbuf *e)
{
	if (s->ops->scan_named == NULL)
		return unsupported(s, "scan named persons", e);
	return s->ops->scan_named(s->conn, cb, arg, e);
}

enum status store_scan_findings(struct store *s,
				int (*cb)(void *arg, const char *key, const char *id), void *arg,
				struct errbuf *e)
{
	if (s->ops->scan_findings == NULL)
		return unsupported(s, "scan findings", e);
	return s->ops->scan_findings(s->conn, cb, arg, e);
}

enum status store_scan_person_findings(struct store *s, const char *key,
				       const uint8_t person[PSEUDONYM_LEN],
				       int (*cb)(void *arg, const char *id), void *arg,
				       struct errbuf *e)
{
	if (s->ops->scan_person_findings == NULL)
		return unsupported(s, "scan a person's findings", e);
	return s->ops->scan_person_findings(s->conn, key, person, cb, arg, e);
}

enum status store_address_get(struct store *s, const char *key, struct address *a,
			      bool *found, struct errbuf *e)
{
	*found = false;
	if (s->ops->address_get == NULL)
		return unsupported(s, "read an address", e);
	return s->ops->address_get(s->conn, key, a, found, e);
}

enum status store_match_state(struct store *s, struct match_state *st, struct errbuf *e)
{
	if (s->ops->match_state == NULL)
		return unsupported(s, "match state", e);
	return s->ops->match_state(s->conn, st, e);
}

enum status store_match_state_put(struct store *s, const struct match_state *st, bool full,
				  struct errbuf *e)
{
	if (s->ops->match_state_put == NULL)
		return unsupported(s, "match state put", e);
	return s->ops->match_state_put(s->conn, st, full, e);
}

enum status store_mark_dates(struct store *s, const struct match_state *old, const char *as_of,
			     const char *window_start, struct errbuf *e)
{
	if (s->ops->mark_dates == NULL)
		return unsupported(s, "mark dates", e);
	return s->ops->mark_dates(s->conn, old, as_of, window_start, e);
}

enum status store_mark_widen(struct store *s, struct mark_counts *n, struct errbuf *e)
{
	if (s->ops->mark_widen == NULL)
		return unsupported(s, "mark widen", e);
	return s->ops->mark_widen(s->conn, n, e);
}

enum status store_mark_clear(struct store *s, struct errbuf *e)
{
	if (s->ops->mark_clear == NULL)
		return unsupported(s, "mark clear", e);
	return s->ops->mark_clear(s->conn, e);
}

enum status store_match_catch_up(struct store *s, struct errbuf *e)
{
	if (s->ops->match_catch_up == NULL)
		return unsupported(s, "match catch up", e);
	return s->ops->match_catch_up(s->conn, e);
}

enum status store_open_signals(struct store *s, bool scoped,
			       int (*cb)(void *arg, int64_t seq, const char *id), void *arg,
			       struct errbuf *e)
{
	if (s->ops->open_signals == NULL)
		return unsupported(s, "open signals", e);
	return s->ops->open_signals(s->conn, scoped, cb, arg, e);
}

/* The backend writes the connection's trace id with the signal: it is
 * handed over in a copy of sig. */
enum status store_put_signal(struct store *s, const struct signal *sig, bool *created,
			     struct errbuf *e)
{
	struct signal traced = *sig;

	if (s->ops->put_signal == NULL)
		return unsupported(s, "put signal", e);
	memcpy(traced.trace_id, s->trace_id, sizeof(traced.trace_id));
	return s->ops->put_signal(s->conn, &traced, created, e);
}

enum status store_end_signal(struct store *s, int64_t seq, const char *date, struct errbuf *e)
{
	if (s->ops->end_signal == NULL)
		return unsupported(s, "end signal", e);
	return s->ops->end_signal(s->conn, seq, date, e);
}

enum status store_signals(struct store *s, const struct signal_filter *f,
			  int (*cb)(void *arg, const struct signal *sig), void *arg,
			  struct errbuf *e)
{
	if (s->ops->signals == NULL)
		return unsupported(s, "signals", e);
	return s->ops->signals(s->conn, f, cb, arg, e);
}

enum status store_signal_routed(struct store *s, const char *id, const char *oin, bool *routed,
				struct errbuf *e)
{
	if (s->ops->signal_routed == NULL)
		return unsupported(s, "signal routed", e);
	return s->ops->signal_routed(s->conn, id, oin, routed, e);
}

enum status store_person_bsn(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			     uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e)
{
	if (s->ops->person_bsn == NULL)
		return unsupported(s, "person bsn", e);
	return s->ops->person_bsn(s->conn, pseudonym, sealed, found, e);
}

enum status store_put_feedback(struct store *s, const char *signal_id, const char *oin,
			       const char *outcome, const char *note, int64_t *id,
			       struct errbuf *e)
{
	if (s->ops->put_feedback == NULL)
		return unsupported(s, "put feedback", e);
	return s->ops->put_feedback(s->conn, signal_id, oin, outcome, note, id, e);
}

enum status store_feedback_counts(struct store *s,
				  int (*cb)(void *arg, const char *rule, const char *outcome, long n),
				  void *arg, struct errbuf *e)
{
	if (s->ops->feedback_counts == NULL)
		return unsupported(s, "feedback counts", e);
	return s->ops->feedback_counts(s->conn, cb, arg, e);
}

enum status store_delivery_add(struct store *s, const char *signal_id, const char *oin,
			       const char *message_id, int64_t now, struct errbuf *e)
{
	if (s->ops->delivery_add == NULL)
		return unsupported(s, "delivery add", e);
	return s->ops->delivery_add(s->conn, signal_id, oin, message_id, now, e);
}

enum status store_delivery_requeue(struct store *s, const char *signal_id, const char *oin,
				   const char *message_id, int64_t now, struct errbuf *e)
{
	if (s->ops->delivery_requeue == NULL)
		return unsupported(s, "delivery requeue", e);
	return s->ops->delivery_requeue(s->conn, signal_id, oin, message_id, now, e);
}

enum status store_deliveries(struct store *s, int64_t due, bool failed_only, long limit,
			     int (*cb)(void *arg, const struct delivery_row *d), void *arg,
			     struct errbuf *e)
{
	if (s->ops->deliveries == NULL)
		return unsupported(s, "deliveries", e);
	return s->ops->deliveries(s->conn, due, failed_only, limit, cb, arg, e);
}

enum status store_deliveries_next(struct store *s, int64_t due, long limit,
				  int (*cb)(void *arg, const struct delivery_row *d),
				  void *arg, struct errbuf *e)
{
	if (s->ops->deliveries_next == NULL)
		return unsupported(s, "deliveries next", e);
	return s->ops->deliveries_next(s->conn, due, limit, cb, arg, e);
}

enum status store_delivery_after(struct store *s, const struct delivery_row *d, int64_t due,
				 int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				 struct errbuf *e)
{
	if (s->ops->delivery_after == NULL)
		return unsupported(s, "delivery after", e);
	return s->ops->delivery_after(s->conn, d, due, cb, arg, e);
}

enum status store_deliveries_of(struct store *s, const char *oin, int64_t due, long limit,
				int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				struct errbuf *e)
{
	if (s->ops->deliveries_of == NULL)
		return unsupported(s, "deliveries of", e);
	return s->ops->deliveries_of(s->conn, oin, due, limit, cb, arg, e);
}

enum status store_delivery_update(struct store *s, const struct delivery_row *d,
				  struct errbuf *e)
{
	if (s->ops->delivery_update == NULL)
		return unsupported(s, "delivery update", e);
	return s->ops->delivery_update(s->conn, d, e);
}

enum status store_delivery_retry(struct store *s, int64_t id, int64_t now, long *n,
				 struct errbuf *e)
{
	if (s->ops->delivery_retry == NULL)
		return unsupported(s, "delivery retry", e);
	return s->ops->delivery_retry(s->conn, id, now, n, e);
}

enum status store_deliveries_claim(struct store *s, const char *node, const char *oin,
				   int64_t now, int lease_seconds, long limit,
				   int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				   struct errbuf *e)
{
	if (s->ops->deliveries_claim == NULL)
		return unsupported(s, "claim deliveries", e);
	return s->ops->deliveries_claim(s->conn, node, oin, now, lease_seconds, limit, cb, arg,
					e);
}

enum status store_deliveries_release(struct store *s, const char *node, long *n,
				     struct errbuf *e)
{
	if (s->ops->deliveries_release == NULL)
		return unsupported(s, "release deliveries", e);
	return s->ops->deliveries_release(s->conn, node, n, e);
}

enum status store_source_get(struct store *s, const char *name, struct source_state *st,
			     struct errbuf *e)
{
	if (s->ops->source_get == NULL)
		return unsupported(s, "source get", e);
	return s->ops->source_get(s->conn, name, st, e);
}

enum status store_source_put(struct store *s, const char *name, const struct source_state *st,
			     struct errbuf *e)
{
	if (s->ops->source_put == NULL)
		return unsupported(s, "source put", e);
	return s->ops->source_put(s->conn, name, st, e);
}

enum status store_log_head(struct store *s, int64_t *seq, char hash[65], struct errbuf *e)
{
	if (s->ops->log_head == NULL)
		return unsupported(s, "log head", e);
	return s->ops->log_head(s->conn, seq, hash, e);
}

enum status store_log_insert(struct store *s, const struct exlog_row *r, struct errbuf *e)
{
	if (s->ops->log_insert == NULL)
		return unsupported(s, "log insert", e);
	return s->ops->log_insert(s->conn, r, e);
}

enum status store_log_scan(struct store *s, int64_t from, const char *party, long limit,
			   int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			   struct errbuf *e)
{
	if (s->ops->log_scan == NULL)
		return unsupported(s, "log scan", e);
	return s->ops->log_scan(s->conn, from, party, limit, cb, arg, e);
}

enum status store_log_search(struct store *s, const struct log_filter *f,
			     int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			     struct errbuf *e)
{
	if (s->ops->log_search == NULL)
		return unsupported(s, "log search", e);
	return s->ops->log_search(s->conn, f, cb, arg, e);
}

enum status store_checkpoint_add(struct store *s, const struct checkpoint_row *c,
				 struct errbuf *e)
{
	if (s->ops->checkpoint_add == NULL)
		return unsupported(s, "checkpoint add", e);
	return s->ops->checkpoint_add(s->conn, c, e);
}

enum status store_checkpoints(struct store *s,
			      int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
			      struct errbuf *e)
{
	if (s->ops->checkpoints == NULL)
		return unsupported(s, "checkpoints", e);
	return s->ops->checkpoints(s->conn, cb, arg, e);
}

enum status store_ldv_span_add(struct store *s, struct ldv_span_row *r, struct errbuf *e)
{
	if (s->ops->ldv_span_add == NULL)
		return unsupported(s, "ldv span add", e);
	return s->ops->ldv_span_add(s->conn, r, e);
}

enum status store_ldv_span_defer(struct store *s, const struct ldv_span_row *r,
				 struct errbuf *e)
{
	if (s->ops->ldv_span_defer == NULL)
		return unsupported(s, "ldv span defer", e);
	return s->ops->ldv_span_defer(s->conn, r, e);
}

enum status store_ldv_span_end(struct store *s, int64_t seq, int64_t end_ns, int status,
			       int64_t exlog_seq, long subjects, struct errbuf *e)
{
	if (s->ops->ldv_span_end == NULL)
		return unsupported(s, "ldv span end", e);
	return s->ops->ldv_span_end(s->conn, seq, end_ns, status, exlog_seq, subjects, e);
}

enum status store_ldv_subjects_add(struct store *s, int64_t seq, long first,
				   const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				   struct errbuf *e)
{
	if (s->ops->ldv_subjects_add == NULL)
		return unsupported(s, "ldv subjects add", e);
	return s->ops->ldv_subjects_add(s->conn, seq, first, pseudonyms, n, e);
}

enum status store_finding_persons(struct store *s, const char *finding_id,
				  int (*cb)(void *arg, const uint8_t *pseudonym), void *arg,
				  struct errbuf *e)
{
	if (s->ops->finding_persons == NULL)
		return unsupported(s, "finding persons", e);
	return s->ops->finding_persons(s->conn, finding_id, cb, arg, e);
}

enum status store_ldv_search(struct store *s, const struct ldv_filter *f,
			     int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
			     struct errbuf *e)
{
	if (s->ops->ldv_search == NULL)
		return unsupported(s, "ldv search", e);
	return s->ops->ldv_search(s->conn, f, cb, arg, e);
}

enum status store_ldv_subjects(struct store *s, int64_t seq, long from, long limit,
			       int (*cb)(void *arg, long n, const uint8_t *pseudonym),
			       void *arg, struct errbuf *e)
{
	if (s->ops->ldv_subjects == NULL)
		return unsupported(s, "ldv subjects", e);
	return s->ops->ldv_subjects(s->conn, seq, from, limit, cb, arg, e);
}

enum status store_ldv_cursor(struct store *s, int64_t *seq, long *item, struct errbuf *e)
{
	if (s->ops->ldv_cursor == NULL)
		return unsupported(s, "ldv cursor", e);
	return s->ops->ldv_cursor(s->conn, seq, item, e);
}

enum status store_ldv_cursor_set(struct store *s, int64_t seq, long item, struct errbuf *e)
{
	if (s->ops->ldv_cursor_set == NULL)
		return unsupported(s, "ldv cursor set", e);
	return s->ops->ldv_cursor_set(s->conn, seq, item, e);
}

enum status store_inzage(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			 int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			 struct errbuf *e)
{
	if (s->ops->inzage == NULL)
		return unsupported(s, "inzage", e);
	return s->ops->inzage(s->conn, pseudonym, cb, arg, e);
}

enum status store_purge(struct store *s, const struct retention *r, struct purge_counts *n,
			struct errbuf *e)
{
	if (s->ops->purge == NULL)
		return unsupported(s, "purge", e);
	return s->ops->purge(s->conn, r, n, e);
}

enum status store_gauges(struct store *s, int (*cb)(void *arg, const struct gauge *g),
			 void *arg, struct errbuf *e)
{
	if (s->ops->gauges == NULL)
		return unsupported(s, "gauges", e);
	return s->ops->gauges(s->conn, cb, arg, e);
}

enum status store_check_writable(struct store *s, int timeout_ms, struct errbuf *e)
{
	if (s->ops->check_writable == NULL)
		return unsupported(s, "check writable", e);
	return s->ops->check_writable(s->conn, timeout_ms, e);
}

enum status store_report(struct store *s, enum report r,
			 int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
			 struct errbuf *e)
{
	if (s->ops->report == NULL)
		return unsupported(s, "report", e);
	return s->ops->report(s->conn, r, cb, arg, e);
}

/* --- plain C that every backend needs --------------------------------- */

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
char *store_evidence_json(const struct signal *sig)
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

/* Reads the evidence column of a signal into sig (false: out of memory or
 * not the JSON that store_put_signal() writes). */
bool store_evidence_parse(const char *text, struct signal *sig)
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

/* --- several nodes on one database --------------------------------------- */

enum status store_lease_take(struct store *s, const char *job, const char *node, int seconds,
			     bool *held, struct errbuf *e)
{
	*held = false;
	if (s->ops->lease_take == NULL)
		return unsupported(s, "job leases", e);
	return s->ops->lease_take(s->conn, job, node, seconds, held, e);
}

enum status store_lease_drop(struct store *s, const char *job, const char *node,
			     struct errbuf *e)
{
	if (s->ops->lease_drop == NULL)
		return unsupported(s, "job leases", e);
	return s->ops->lease_drop(s->conn, job, node, e);
}

enum status store_node_put(struct store *s, const char *node, const char digest[65],
			   struct errbuf *e)
{
	if (s->ops->node_put == NULL)
		return unsupported(s, "the nodes' digests", e);
	return s->ops->node_put(s->conn, node, digest, e);
}

enum status store_node_newest(struct store *s, int live_seconds, struct node_newest *out,
			      struct errbuf *e)
{
	memset(out, 0, sizeof(*out));
	if (s->ops->node_newest == NULL)
		return unsupported(s, "the nodes' digests", e);
	return s->ops->node_newest(s->conn, live_seconds, out, e);
}

enum status store_ping(struct store *s, struct errbuf *e)
{
	if (s->ops->ping == NULL)
		return unsupported(s, "database ping", e);
	return s->ops->ping(s->conn, e);
}
