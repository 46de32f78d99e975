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

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store_backend.h"

/* The statements of sql[] (store_sqlite.c), prepared by stmt(). */
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
	Q_DELIVERIES_CLAIMABLE, Q_DELIVERY_CLAIM, Q_DELIVERIES_RELEASE,
	Q_SOURCE_GET, Q_SOURCE_PUT,
	Q_LOG_HEAD, Q_LOG_INSERT, Q_LOG_SCAN,
	Q_HELD_ADDRESS, Q_HELD_PERSON, Q_HELD_FINDING, Q_PERSON_WITHDRAW,
	Q_FINDING_SEEN_GET, Q_FINDING_SEEN_PUT, Q_FINDING_SEEN_FORGET,
	Q_COUNT
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

/* The statements of the processing records (store_sqlite_ldv.c). */
enum ldv_q { LDV_Q_SPAN, LDV_Q_END, LDV_Q_FINDING, LDV_Q_SUBJECTS, LDV_Q_SPANS, LDV_Q_COUNT };
#define LDV_DEFER 32		/* spans written by one multi-row insert */
struct ldv_deferred;		/* a span held for it (store_sqlite_ldv.c) */

struct store_sqlite {
	sqlite3 *db;
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
	sqlite3_stmt *ldv_stmt[LDV_Q_COUNT];	/* processing records, kept prepared */
	struct ldv_deferred *ldv_deferred;	/* LDV_DEFER of them, or NULL */
	int ldv_ndeferred;
};



/* --- the helpers of store_sqlite.c -------------------------------------- */

/* Turns the connection's last error into a message. */
enum status db_error(struct store_sqlite *s, struct errbuf *e, const char *what);
/* The statement id, prepared on first use and reset for the caller. */
sqlite3_stmt *stmt(struct store_sqlite *s, enum stmt_id id, struct errbuf *e);
/* Runs a statement that returns no rows. */
enum status step_done(struct store_sqlite *s, sqlite3_stmt *st, struct errbuf *e,
		      const char *what);
void bind_text_or_null(sqlite3_stmt *st, int i, const char *v);
void bind_long_or_null(sqlite3_stmt *st, int i, long v);
long column_long_or_null(sqlite3_stmt *st, int i);
/* Column i as text into out (n bytes), cut to fit; "" for NULL. */
void column_copy(sqlite3_stmt *st, int i, char *out, size_t n);
/* Reads the six address columns from column i on. */
void column_address(sqlite3_stmt *st, int i, struct address *a);
/*
 * The key a registration is found by: the first 8 bytes of its pseudonym
 * (an HMAC, so evenly spread) as a big-endian signed integer.  Two persons
 * may share a key; every query that uses it compares the pseudonym too.
 */
sqlite3_int64 pseudonym_key(const uint8_t *p);
/* Steps st to the end, calling row(s, st, arg) on each row. */
enum status each_row(struct store_sqlite *s, sqlite3_stmt *st,
		     int (*row)(sqlite3_stmt *st, void *arg), void *arg, struct errbuf *e,
		     const char *what);

/* --- from store_sqlite_match.c ---------------------------------------- */

/* Frees what c holds and empties it; accepts NULL. */
void current_free(struct current *c);

/* --- from store_sqlite_ldv.c ------------------------------------------ */

/* Frees the spans held (at a rollback; after they are written). */
void ldv_forget(struct store_sqlite *s);
/* Writes the spans held: one statement for a full set, else one each. */
enum status ldv_flush(struct store_sqlite *s, struct errbuf *e);

/* --- the operations (store_sqlite_ops) ------------------------------------- */


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
enum status store_sqlite_deliveries_claim(struct store_sqlite *s, const char *node,
					  const char *oin, int64_t now, int lease_seconds,
					  long limit,
					  int (*cb)(void *arg, const struct delivery_row *d),
					  void *arg, struct errbuf *e);
enum status store_sqlite_deliveries_release(struct store_sqlite *s, const char *node, long *n,
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
