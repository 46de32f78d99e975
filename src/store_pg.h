/*
 * store_pg.h - the store (store.h) on PostgreSQL through libpq: the part
 * built so far, shared by the files store_pg*.c.  Each store_pg_x() has
 * the contract of store.h's store_x() and is entry x of store_pg_ops (at
 * the end of store_pg.c; store_backend.h): a new one is hooked there with
 * one line ".x = store_pg_x,".  What has no entry is not yet supported
 * with backend = postgresql.
 */
#ifndef SCHAKEL_STORE_PG_H
#define SCHAKEL_STORE_PG_H

/* The connection of this backend is store_backend.h's struct store_conn. */
#define store_pg store_conn

#include "store_backend.h"

struct store_pg;

/*
 * Connects with dsn (a libpq connection string; passfile, if not NULL,
 * names the password file) and applies the migrations schema_dir/pg/NNN.sql
 * the database lacks.  A failure names the host and the database, never
 * the password.
 */
enum status store_pg_open(const char *dsn, const char *passfile, const char *schema_dir,
			  struct store_pg **out, struct errbuf *e);
void store_pg_close(struct store_pg *s);

enum status store_pg_begin(struct store_pg *s, struct errbuf *e);
enum status store_pg_commit(struct store_pg *s, struct errbuf *e);
void store_pg_rollback(struct store_pg *s);
enum status store_pg_key_check(struct store_pg *s, const char check[65], struct errbuf *e);

enum status store_pg_ingest_add(struct store_pg *s, const struct ingest_row *r, int64_t *id,
				struct errbuf *e);
enum status store_pg_ingest_counts(struct store_pg *s, int64_t id, long accepted,
				   long rejected, const char *digest, struct errbuf *e);
enum status store_pg_put_person(struct store_pg *s, int64_t ingest_id,
				const struct person_row *r, bool *changed, struct errbuf *e);
enum status store_pg_put_dwelling(struct store_pg *s, int64_t ingest_id,
				  const struct dwelling_row *r, bool *changed, struct errbuf *e);
enum status store_pg_put_finding(struct store_pg *s, int64_t ingest_id,
				 const struct finding_row *r, bool *changed, struct errbuf *e);
/* Writes the puts deferred (store_pg_records.c); *changed: how many changed anything. */
enum status store_pg_flush(struct store_pg *s, long *changed, struct errbuf *e);
enum status store_pg_hint_addresses(struct store_pg *s, const char (*keys)[ADDRESS_KEY_MAX],
				    size_t n, struct errbuf *e);
enum status store_pg_held_address(struct store_pg *s, const char *key, char out[5],
				  bool *found, struct errbuf *e);
enum status store_pg_held_person(struct store_pg *s, const uint8_t *pseudonym,
				 const char *begindatum, char out[5], bool *found,
				 struct errbuf *e);
enum status store_pg_held_finding(struct store_pg *s, const char *id, char out[5],
				  bool *found, struct errbuf *e);
enum status store_pg_withdraw_person(struct store_pg *s, const uint8_t *pseudonym,
				     const char *begindatum, bool *changed, struct errbuf *e);
enum status store_pg_finding_repeat(struct store_pg *s, int64_t ingest_id,
				    const struct finding_row *r, const char *place, char *first,
				    size_t n, bool *differs, struct errbuf *e);

enum status store_pg_log_head(struct store_pg *s, int64_t *seq, char hash[65],
			      struct errbuf *e);
enum status store_pg_log_insert(struct store_pg *s, const struct exlog_row *r,
				struct errbuf *e);
enum status store_pg_log_scan(struct store_pg *s, int64_t from, const char *party, long limit,
			      int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			      struct errbuf *e);
enum status store_pg_log_search(struct store_pg *s, const struct log_filter *f,
				int (*cb)(void *arg, const struct exlog_row *r), void *arg,
				struct errbuf *e);
enum status store_pg_checkpoint_add(struct store_pg *s, const struct checkpoint_row *c,
				    struct errbuf *e);
enum status store_pg_checkpoints(struct store_pg *s,
				 int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
				 struct errbuf *e);

enum status store_pg_inzage(struct store_pg *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			    int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			    struct errbuf *e);
enum status store_pg_purge(struct store_pg *s, const struct retention *r,
			   struct purge_counts *n, struct errbuf *e);
enum status store_pg_source_get(struct store_pg *s, const char *name, struct source_state *ss,
				struct errbuf *e);
enum status store_pg_source_put(struct store_pg *s, const char *name,
				const struct source_state *ss, struct errbuf *e);
enum status store_pg_ldv_span_add(struct store_pg *s, struct ldv_span_row *r, struct errbuf *e);
enum status store_pg_ldv_span_defer(struct store_pg *s, const struct ldv_span_row *r,
				    struct errbuf *e);
enum status store_pg_ldv_span_end(struct store_pg *s, int64_t seq, int64_t end_ns, int status,
				  int64_t exlog_seq, long subjects, struct errbuf *e);
enum status store_pg_ldv_subjects_add(struct store_pg *s, int64_t seq, long first,
				      const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				      struct errbuf *e);
enum status store_pg_finding_persons(struct store_pg *s, const char *finding_id,
				     int (*cb)(void *arg, const uint8_t *pseudonym), void *arg,
				     struct errbuf *e);

/* The processing records read back: searches, subjects, the export cursor (store_pg_ldv.c). */
enum status store_pg_ldv_search(struct store_pg *s, const struct ldv_filter *f,
				int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
				struct errbuf *e);
enum status store_pg_ldv_subjects(struct store_pg *s, int64_t seq, long from, long limit,
				  int (*cb)(void *arg, long n, const uint8_t *pseudonym),
				  void *arg, struct errbuf *e);
enum status store_pg_ldv_cursor(struct store_pg *s, int64_t *seq, long *item, struct errbuf *e);
enum status store_pg_ldv_cursor_set(struct store_pg *s, int64_t seq, long item,
				    struct errbuf *e);


/* The rows a match reads, match state and marks (store_pg_match.c). */
enum status store_pg_scan_begin(struct store_pg *s, const char *as_of, const char *window_start,
				bool scoped, struct errbuf *e);
void store_pg_scan_end(struct store_pg *s);
enum status store_pg_scan_registrations(struct store_pg *s,
					int (*cb)(void *arg, const struct registration_row *r),
					void *arg, struct errbuf *e);
enum status store_pg_scan_addresses(struct store_pg *s,
				    int (*cb)(void *arg, const struct address_row *r), void *arg,
				    struct errbuf *e);
enum status store_pg_scan_named(struct store_pg *s,
				int (*cb)(void *arg, const struct named_row *r), void *arg,
				struct errbuf *e);
enum status store_pg_scan_findings(struct store_pg *s,
				   int (*cb)(void *arg, const char *key, const char *id),
				   void *arg, struct errbuf *e);
enum status store_pg_scan_person_findings(struct store_pg *s, const char *key,
					  const uint8_t person[PSEUDONYM_LEN],
					  int (*cb)(void *arg, const char *id), void *arg,
					  struct errbuf *e);
enum status store_pg_address_get(struct store_pg *s, const char *key, struct address *a,
				 bool *found, struct errbuf *e);
enum status store_pg_match_state(struct store_pg *s, struct match_state *ms, struct errbuf *e);
enum status store_pg_match_state_put(struct store_pg *s, const struct match_state *ms,
				     bool full, struct errbuf *e);
enum status store_pg_mark_dates(struct store_pg *s, const struct match_state *old,
				const char *as_of, const char *window_start, struct errbuf *e);
enum status store_pg_mark_widen(struct store_pg *s, struct mark_counts *n, struct errbuf *e);
enum status store_pg_mark_clear(struct store_pg *s, struct errbuf *e);
enum status store_pg_match_catch_up(struct store_pg *s, struct errbuf *e);
enum status store_pg_open_signals(struct store_pg *s, bool scoped,
				  int (*cb)(void *arg, int64_t seq, const char *id), void *arg,
				  struct errbuf *e);

/* --- signals, feedback and the outbox (store_pg_signals.c) --------------- */

enum status store_pg_put_signal(struct store_pg *s, const struct signal *sig, bool *created,
				struct errbuf *e);
enum status store_pg_end_signal(struct store_pg *s, int64_t seq, const char *date,
				struct errbuf *e);
enum status store_pg_signals(struct store_pg *s, const struct signal_filter *f,
			     int (*cb)(void *arg, const struct signal *sig), void *arg,
			     struct errbuf *e);
enum status store_pg_signal_routed(struct store_pg *s, const char *id, const char *oin,
				   bool *routed, struct errbuf *e);
enum status store_pg_person_bsn(struct store_pg *s, const uint8_t pseudonym[PSEUDONYM_LEN],
				uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e);
enum status store_pg_put_feedback(struct store_pg *s, const char *signal_id, const char *oin,
				  const char *outcome, const char *note, int64_t *id,
				  struct errbuf *e);
enum status store_pg_feedback_counts(struct store_pg *s,
				     int (*cb)(void *arg, const char *rule, const char *outcome,
					       long n),
				     void *arg, struct errbuf *e);
enum status store_pg_delivery_add(struct store_pg *s, const char *signal_id, const char *oin,
				  const char *message_id, int64_t now, struct errbuf *e);
enum status store_pg_delivery_requeue(struct store_pg *s, const char *signal_id,
				      const char *oin, const char *message_id, int64_t now,
				      struct errbuf *e);
enum status store_pg_deliveries(struct store_pg *s, int64_t due, bool failed_only, long limit,
				int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				struct errbuf *e);
enum status store_pg_deliveries_next(struct store_pg *s, int64_t due, long limit,
				     int (*cb)(void *arg, const struct delivery_row *d),
				     void *arg, struct errbuf *e);
enum status store_pg_delivery_after(struct store_pg *s, const struct delivery_row *d,
				    int64_t due,
				    int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				    struct errbuf *e);
enum status store_pg_deliveries_of(struct store_pg *s, const char *oin, int64_t due,
				   long limit, int (*cb)(void *arg, const struct delivery_row *d),
				   void *arg, struct errbuf *e);
enum status store_pg_deliveries_claim(struct store_pg *s, const char *node, const char *oin,
				      int64_t now, int lease_seconds, long limit,
				      int (*cb)(void *arg, const struct delivery_row *d),
				      void *arg, struct errbuf *e);
enum status store_pg_deliveries_release(struct store_pg *s, const char *node, long *n,
					struct errbuf *e);
enum status store_pg_delivery_update(struct store_pg *s, const struct delivery_row *d,
				     struct errbuf *e);
enum status store_pg_delivery_retry(struct store_pg *s, int64_t id, int64_t now, long *n,
				    struct errbuf *e);

/* --- figures for operators (store_pg_ops.c) ------------------------------ */

enum status store_pg_gauges(struct store_pg *s, int (*cb)(void *arg, const struct gauge *g),
			    void *arg, struct errbuf *e);
enum status store_pg_check_writable(struct store_pg *s, int timeout_ms, struct errbuf *e);
enum status store_pg_report(struct store_pg *s, enum report r,
			    int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
			    struct errbuf *e);
/* Several nodes (store_pg_lease.c): job leases, the nodes' digests, a ping. */
enum status store_pg_lease_take(struct store_pg *s, const char *job, const char *node,
				int seconds, bool *held, struct errbuf *e);
enum status store_pg_lease_drop(struct store_pg *s, const char *job, const char *node,
				struct errbuf *e);
enum status store_pg_node_put(struct store_pg *s, const char *node, const char digest[65],
			      struct errbuf *e);
enum status store_pg_node_newest(struct store_pg *s, int live_seconds,
				 struct node_newest *out, struct errbuf *e);
enum status store_pg_ping(struct store_pg *s, struct errbuf *e);

#endif
