/*
 * store_sqlite.h - what the files of the SQLite store (store_sqlite*.c)
 * share.  Never included outside store_sqlite*.c.  Each store_sqlite_x()
 * is entry x of store_sqlite_ops (store_backend.h), with the contract of
 * store.h's store_x().
 */
#ifndef SCHAKEL_STORE_SQLITE_H
#define SCHAKEL_STORE_SQLITE_H

/* The connection of this backend is store_backend.h's struct store_conn. */
#define store_sqlite store_conn

#include "store_backend.h"

struct store_sqlite;

enum status store_sqlite_key_check(struct store_sqlite *s, const char check[65],
				   struct errbuf *e);
void store_sqlite_close(struct store_sqlite *s);
enum status store_sqlite_cache(struct store_sqlite *s, int mib, struct errbuf *e);
enum status store_sqlite_begin(struct store_sqlite *s, struct errbuf *e);
enum status store_sqlite_commit(struct store_sqlite *s, struct errbuf *e);
void store_sqlite_rollback(struct store_sqlite *s);
enum status store_sqlite_ingest_add(struct store_sqlite *s, const struct ingest_row *r,
				    int64_t *id, struct errbuf *e);
enum status store_sqlite_ingest_counts(struct store_sqlite *s, int64_t id, long accepted,
				       long rejected, const char *digest, struct errbuf *e);
enum status store_sqlite_put_person(struct store_sqlite *s, int64_t ingest_id,
				    const struct person_row *r, bool *changed,
				    struct errbuf *e);
enum status store_sqlite_put_dwelling(struct store_sqlite *s, int64_t ingest_id,
				      const struct dwelling_row *r, bool *changed,
				      struct errbuf *e);
enum status store_sqlite_put_finding(struct store_sqlite *s, int64_t ingest_id,
				     const struct finding_row *r, bool *changed,
				     struct errbuf *e);
enum status store_sqlite_held_address(struct store_sqlite *s, const char *key, char out[5],
				      bool *found, struct errbuf *e);
enum status store_sqlite_held_person(struct store_sqlite *s, const uint8_t *pseudonym,
				     const char *begindatum, char out[5], bool *found,
				     struct errbuf *e);
enum status store_sqlite_held_finding(struct store_sqlite *s, const char *id, char out[5],
				      bool *found, struct errbuf *e);
enum status store_sqlite_withdraw_person(struct store_sqlite *s, const uint8_t *pseudonym,
					 const char *begindatum, bool *changed,
					 struct errbuf *e);
enum status store_sqlite_finding_repeat(struct store_sqlite *s, int64_t ingest_id,
					const struct finding_row *r, const char *place,
					char *first, size_t n, bool *differs, struct errbuf *e);
enum status store_sqlite_match_begin(struct store_sqlite *s, const char *as_of,
				     const char *window_start, struct errbuf *e);
void store_sqlite_match_end(struct store_sqlite *s);
enum status store_sqlite_match_addresses(struct store_sqlite *s,
					 int (*cb)(void *arg, const struct address_facts *f),
					 void *arg, struct errbuf *e);
enum status store_sqlite_match_mismatches(struct store_sqlite *s,
					  int (*cb)(void *arg, const struct mismatch *m),
					  void *arg, struct errbuf *e);
enum status store_sqlite_match_state(struct store_sqlite *s, struct match_state *st,
				     struct errbuf *e);
enum status store_sqlite_match_state_put(struct store_sqlite *s, const struct match_state *st,
					 bool full, struct errbuf *e);
enum status store_sqlite_mark_dates(struct store_sqlite *s, const struct match_state *old,
				    const char *as_of, const char *window_start,
				    struct errbuf *e);
enum status store_sqlite_mark_widen(struct store_sqlite *s, struct mark_counts *n,
				    struct errbuf *e);
enum status store_sqlite_mark_clear(struct store_sqlite *s, struct errbuf *e);
enum status store_sqlite_match_begin_scoped(struct store_sqlite *s, const char *as_of,
					    const char *window_start, struct errbuf *e);
enum status store_sqlite_match_catch_up(struct store_sqlite *s, struct errbuf *e);
enum status store_sqlite_open_signals(struct store_sqlite *s, bool scoped,
				      int (*cb)(void *arg, int64_t seq, const char *id),
				      void *arg, struct errbuf *e);
enum status store_sqlite_match_evidence(struct store_sqlite *s, const struct address *addr,
					const uint8_t *person, unsigned what,
					struct evidence **ev, size_t *n, struct errbuf *e);
enum status store_sqlite_put_signal(struct store_sqlite *s, const struct signal *sig,
				    bool *created, struct errbuf *e);
enum status store_sqlite_end_signal(struct store_sqlite *s, int64_t seq, const char *date,
				    struct errbuf *e);
enum status store_sqlite_signals(struct store_sqlite *s, const struct signal_filter *f,
				 int (*cb)(void *arg, const struct signal *sig), void *arg,
				 struct errbuf *e);
enum status store_sqlite_signal_routed(struct store_sqlite *s, const char *id, const char *oin,
				       bool *routed, struct errbuf *e);
enum status store_sqlite_person_bsn(struct store_sqlite *s,
				    const uint8_t pseudonym[PSEUDONYM_LEN],
				    uint8_t sealed[SEALED_BSN_LEN], bool *found,
				    struct errbuf *e);
enum status store_sqlite_put_feedback(struct store_sqlite *s, const char *signal_id,
				      const char *oin, const char *outcome, const char *note,
				      int64_t *id, struct errbuf *e);
enum status store_sqlite_feedback_counts(struct store_sqlite *s,
					 int (*cb)(void *arg, const char *rule, const char *outcome, long n),
					 void *arg, struct errbuf *e);
enum status store_sqlite_delivery_add(struct store_sqlite *s, const char *signal_id,
				      const char *oin, const char *message_id, int64_t now,
				      struct errbuf *e);
enum status store_sqlite_delivery_requeue(struct store_sqlite *s, const char *signal_id,
					  const char *oin, const char *message_id, int64_t now,
					  struct errbuf *e);
enum status store_sqlite_deliveries(struct store_sqlite *s, int64_t due, bool failed_only,
				    long limit,
				    int (*cb)(void *arg, const struct delivery_row *d),
				    void *arg, struct errbuf *e);
enum status store_sqlite_deliveries_next(struct store_sqlite *s, int64_t due, long limit,
					 int (*cb)(void *arg, const struct delivery_row *d),
					 void *arg, struct errbuf *e);
enum status store_sqlite_delivery_after(struct store_sqlite *s, const struct delivery_row *d,
					int64_t due,
					int (*cb)(void *arg, const struct delivery_row *d),
					void *arg, struct errbuf *e);
enum status store_sqlite_deliveries_of(struct store_sqlite *s, const char *oin, int64_t due,
				       long limit,
				       int (*cb)(void *arg, const struct delivery_row *d),
				       void *arg, struct errbuf *e);
enum status store_sqlite_delivery_update(struct store_sqlite *s, const struct delivery_row *d,
					 struct errbuf *e);
enum status store_sqlite_delivery_retry(struct store_sqlite *s, int64_t id, int64_t now,
					long *n, struct errbuf *e);
enum status store_sqlite_source_get(struct store_sqlite *s, const char *name,
				    struct source_state *st, struct errbuf *e);
enum status store_sqlite_source_put(struct store_sqlite *s, const char *name,
				    const struct source_state *st, struct errbuf *e);
enum status store_sqlite_log_head(struct store_sqlite *s, int64_t *seq, char hash[65],
				  struct errbuf *e);
enum status store_sqlite_log_insert(struct store_sqlite *s, const struct exlog_row *r,
				    struct errbuf *e);
enum status store_sqlite_log_scan(struct store_sqlite *s, int64_t from, const char *party,
				  long limit, int (*cb)(void *arg, const struct exlog_row *r),
				  void *arg, struct errbuf *e);
enum status store_sqlite_log_search(struct store_sqlite *s, const struct log_filter *f,
				    int (*cb)(void *arg, const struct exlog_row *r), void *arg,
				    struct errbuf *e);
enum status store_sqlite_checkpoint_add(struct store_sqlite *s, const struct checkpoint_row *c,
					struct errbuf *e);
enum status store_sqlite_checkpoints(struct store_sqlite *s,
				     int (*cb)(void *arg, const struct checkpoint_row *c),
				     void *arg, struct errbuf *e);
enum status store_sqlite_ldv_span_add(struct store_sqlite *s, struct ldv_span_row *r,
				      struct errbuf *e);
enum status store_sqlite_ldv_span_defer(struct store_sqlite *s, const struct ldv_span_row *r,
					struct errbuf *e);
enum status store_sqlite_ldv_span_end(struct store_sqlite *s, int64_t seq, int64_t end_ns,
				      int status, int64_t exlog_seq, long subjects,
				      struct errbuf *e);
enum status store_sqlite_ldv_subjects_add(struct store_sqlite *s, int64_t seq, long first,
					  const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
					  struct errbuf *e);
enum status store_sqlite_finding_persons(struct store_sqlite *s, const char *finding_id,
					 int (*cb)(void *arg, const uint8_t *pseudonym),
					 void *arg, struct errbuf *e);
enum status store_sqlite_ldv_search(struct store_sqlite *s, const struct ldv_filter *f,
				    int (*cb)(void *arg, const struct ldv_span_row *r),
				    void *arg, struct errbuf *e);
enum status store_sqlite_ldv_subjects(struct store_sqlite *s, int64_t seq, long from,
				      long limit,
				      int (*cb)(void *arg, long n, const uint8_t *pseudonym),
				      void *arg, struct errbuf *e);
enum status store_sqlite_ldv_cursor(struct store_sqlite *s, int64_t *seq, long *item,
				    struct errbuf *e);
enum status store_sqlite_ldv_cursor_set(struct store_sqlite *s, int64_t seq, long item,
					struct errbuf *e);
enum status store_sqlite_inzage(struct store_sqlite *s, const uint8_t pseudonym[PSEUDONYM_LEN],
				int (*cb)(void *arg, const struct inzage_row *r), void *arg,
				struct errbuf *e);
enum status store_sqlite_purge(struct store_sqlite *s, const struct retention *r,
			       struct purge_counts *n, struct errbuf *e);
enum status store_sqlite_gauges(struct store_sqlite *s,
				int (*cb)(void *arg, const struct gauge *g), void *arg,
				struct errbuf *e);
enum status store_sqlite_check_writable(struct store_sqlite *s, int timeout_ms,
					struct errbuf *e);
enum status store_sqlite_report(struct store_sqlite *s, enum report r,
				int (*cb)(void *arg, int ncols, const char *const *cols),
				void *arg, struct errbuf *e);

#endif
