/*
 * store_backend.h - the seam between the store (store.h, store.c) and its
 * backends: the table of operations one backend implements.  Included by
 * store.c and the backends' files (store_sqlite*.c, store_pg*.c) only,
 * never by the pipeline.
 *
 * store.c implements every store.h function once by calling through the
 * table of the store's backend (struct store_ops): each entry has the
 * contract of the store.h function of the same name without "store_", with
 * the backend's connection in place of the store.  A NULL entry is a
 * function the backend does not implement yet: store.c fails it with
 * "<what>: not yet supported with backend = <name>" (void ones do
 * nothing).  What is no backend's business stays in store.c: the trace id
 * (store_trace_set(), put_signal gets it in sig->trace_id), signal_clear()
 * and the evidence column's JSON (store_evidence_json/parse below).
 *
 * Each backend defines its connection as struct store_conn in its own
 * files, under its own name (store_sqlite.h: "#define store_sqlite
 * store_conn", store_pg.h: "#define store_pg store_conn"), so that its
 * functions fit the table as they are: the table of the PostgreSQL
 * backend (store_pg_ops, at the end of store_pg.c) takes store_pg_x()
 * for entry x with one line ".x = store_pg_x,".  store.c knows the
 * connection only by its address.
 */
#ifndef SCHAKEL_STORE_BACKEND_H
#define SCHAKEL_STORE_BACKEND_H

#include "store.h"

struct store_conn;

struct store_ops {
	const char *name;	/* the [store] backend: "sqlite", "postgresql" */
	/* the connection and its transactions */
	enum status (*key_check)(struct store_conn *conn, const char check[65], struct errbuf *e);
	void (*close)(struct store_conn *conn);
	enum status (*cache)(struct store_conn *conn, int mib, struct errbuf *e);
	enum status (*begin)(struct store_conn *conn, struct errbuf *e);
	enum status (*commit)(struct store_conn *conn, struct errbuf *e);
	void (*rollback)(struct store_conn *conn);
	/* records */
	enum status (*ingest_add)(struct store_conn *conn, const struct ingest_row *r,
		int64_t *id, struct errbuf *e);
	enum status (*ingest_counts)(struct store_conn *conn, int64_t id, long accepted,
		long rejected, const char *digest, struct errbuf *e);
	enum status (*put_person)(struct store_conn *conn, int64_t ingest_id,
		const struct person_row *r, bool *changed, struct errbuf *e);
	enum status (*put_dwelling)(struct store_conn *conn, int64_t ingest_id,
		const struct dwelling_row *r, bool *changed, struct errbuf *e);
	enum status (*put_finding)(struct store_conn *conn, int64_t ingest_id,
		const struct finding_row *r, bool *changed, struct errbuf *e);
	enum status (*held_address)(struct store_conn *conn, const char *key, char out[5],
		bool *found, struct errbuf *e);
	enum status (*held_person)(struct store_conn *conn, const uint8_t *pseudonym,
		const char *begindatum, char out[5], bool *found, struct errbuf *e);
	enum status (*held_finding)(struct store_conn *conn, const char *id, char out[5],
		bool *found, struct errbuf *e);
	enum status (*withdraw_person)(struct store_conn *conn, const uint8_t *pseudonym,
		const char *begindatum, bool *changed, struct errbuf *e);
	enum status (*finding_repeat)(struct store_conn *conn, int64_t ingest_id,
		const struct finding_row *r, const char *place, char *first, size_t n,
		bool *differs, struct errbuf *e);
	/* NULL for these two: nothing to do (a backend that writes each put at
	 * once and needs no hint, as SQLite) */
	enum status (*flush)(struct store_conn *conn, long *changed, struct errbuf *e);
	enum status (*hint_addresses)(struct store_conn *conn, const char (*keys)[ADDRESS_KEY_MAX],
		size_t n, struct errbuf *e);
	/* matching */
	enum status (*scan_begin)(struct store_conn *conn, const char *as_of,
		const char *window_start, bool scoped, struct errbuf *e);
	void (*scan_end)(struct store_conn *conn);
	enum status (*scan_registrations)(struct store_conn *conn,
		int (*cb)(void *arg, const struct registration_row *r), void *arg,
		struct errbuf *e);
	enum status (*scan_addresses)(struct store_conn *conn,
		int (*cb)(void *arg, const struct address_row *r), void *arg, struct errbuf *e);
	enum status (*scan_named)(struct store_conn *conn,
		int (*cb)(void *arg, const struct named_row *r), void *arg, struct errbuf *e);
	enum status (*scan_findings)(struct store_conn *conn,
		int (*cb)(void *arg, const char *key, const char *id), void *arg,
		struct errbuf *e);
	enum status (*scan_person_findings)(struct store_conn *conn, const char *key,
		const uint8_t person[PSEUDONYM_LEN], int (*cb)(void *arg, const char *id),
		void *arg, struct errbuf *e);
	enum status (*address_get)(struct store_conn *conn, const char *key, struct address *a,
		bool *found, struct errbuf *e);
	enum status (*match_state)(struct store_conn *conn, struct match_state *st,
		struct errbuf *e);
	enum status (*match_state_put)(struct store_conn *conn, const struct match_state *st,
		bool full, struct errbuf *e);
	enum status (*mark_dates)(struct store_conn *conn, const struct match_state *old,
		const char *as_of, const char *window_start, struct errbuf *e);
	enum status (*mark_widen)(struct store_conn *conn, struct mark_counts *n,
		struct errbuf *e);
	enum status (*mark_clear)(struct store_conn *conn, struct errbuf *e);
	enum status (*match_catch_up)(struct store_conn *conn, struct errbuf *e);
	enum status (*open_signals)(struct store_conn *conn, bool scoped,
		int (*cb)(void *arg, int64_t seq, const char *id), void *arg, struct errbuf *e);
	/* signals */
	enum status (*put_signal)(struct store_conn *conn, const struct signal *sig,
		bool *created, struct errbuf *e);
	enum status (*end_signal)(struct store_conn *conn, int64_t seq, const char *date,
		struct errbuf *e);
	enum status (*signals)(struct store_conn *conn, const struct signal_filter *f,
		int (*cb)(void *arg, const struct signal *sig), void *arg, struct errbuf *e);
	enum status (*signal_routed)(struct store_conn *conn, const char *id, const char *oin,
		bool *routed, struct errbuf *e);
	enum status (*person_bsn)(struct store_conn *conn, const uint8_t pseudonym[PSEUDONYM_LEN],
		uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e);
	enum status (*put_feedback)(struct store_conn *conn, const char *signal_id,
		const char *oin, const char *outcome, const char *note, int64_t *id,
		struct errbuf *e);
	enum status (*feedback_counts)(struct store_conn *conn,
		int (*cb)(void *arg, const char *rule, const char *outcome, long n), void *arg,
		struct errbuf *e);
	/* deliveries */
	enum status (*delivery_add)(struct store_conn *conn, const char *signal_id,
		const char *oin, const char *message_id, int64_t now, struct errbuf *e);
	enum status (*delivery_requeue)(struct store_conn *conn, const char *signal_id,
		const char *oin, const char *message_id, int64_t now, struct errbuf *e);
	enum status (*deliveries)(struct store_conn *conn, int64_t due, bool failed_only,
		long limit, int (*cb)(void *arg, const struct delivery_row *d), void *arg,
		struct errbuf *e);
	enum status (*deliveries_next)(struct store_conn *conn, int64_t due, long limit,
		int (*cb)(void *arg, const struct delivery_row *d), void *arg,
		struct errbuf *e);
	enum status (*delivery_after)(struct store_conn *conn, const struct delivery_row *d,
		int64_t due, int (*cb)(void *arg, const struct delivery_row *d), void *arg,
		struct errbuf *e);
	enum status (*deliveries_of)(struct store_conn *conn, const char *oin, int64_t due,
		long limit, int (*cb)(void *arg, const struct delivery_row *d), void *arg,
		struct errbuf *e);
	enum status (*delivery_update)(struct store_conn *conn, const struct delivery_row *d,
		struct errbuf *e);
	enum status (*delivery_retry)(struct store_conn *conn, int64_t id, int64_t now, long *n,
		struct errbuf *e);
	enum status (*deliveries_claim)(struct store_conn *conn, const char *node,
		const char *oin, int64_t now, int lease_seconds, long limit,
		int (*cb)(void *arg, const struct delivery_row *d), void *arg,
		struct errbuf *e);
	enum status (*deliveries_release)(struct store_conn *conn, const char *node, long *n,
		struct errbuf *e);
	/* pulled sources */
	enum status (*source_get)(struct store_conn *conn, const char *name,
		struct source_state *st, struct errbuf *e);
	enum status (*source_put)(struct store_conn *conn, const char *name,
		const struct source_state *st, struct errbuf *e);
	/* the exchange log */
	enum status (*log_head)(struct store_conn *conn, int64_t *seq, char hash[65],
		struct errbuf *e);
	enum status (*log_insert)(struct store_conn *conn, const struct exlog_row *r,
		struct errbuf *e);
	enum status (*log_scan)(struct store_conn *conn, int64_t from, const char *party,
		long limit, int (*cb)(void *arg, const struct exlog_row *r), void *arg,
		struct errbuf *e);
	enum status (*log_search)(struct store_conn *conn, const struct log_filter *f,
		int (*cb)(void *arg, const struct exlog_row *r), void *arg, struct errbuf *e);
	enum status (*checkpoint_add)(struct store_conn *conn, const struct checkpoint_row *c,
		struct errbuf *e);
	enum status (*checkpoints)(struct store_conn *conn,
		int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
		struct errbuf *e);
	/* processing records (Logboek Dataverwerkingen, ldv.h) */
	enum status (*ldv_span_add)(struct store_conn *conn, struct ldv_span_row *r,
		struct errbuf *e);
	enum status (*ldv_span_defer)(struct store_conn *conn, const struct ldv_span_row *r,
		struct errbuf *e);
	enum status (*ldv_span_end)(struct store_conn *conn, int64_t seq, int64_t end_ns,
		int status, int64_t exlog_seq, long subjects, struct errbuf *e);
	enum status (*ldv_subjects_add)(struct store_conn *conn, int64_t seq, long first,
		const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n, struct errbuf *e);
	enum status (*finding_persons)(struct store_conn *conn, const char *finding_id,
		int (*cb)(void *arg, const uint8_t *pseudonym), void *arg, struct errbuf *e);
	enum status (*ldv_search)(struct store_conn *conn, const struct ldv_filter *f,
		int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
		struct errbuf *e);
	enum status (*ldv_subjects)(struct store_conn *conn, int64_t seq, long from, long limit,
		int (*cb)(void *arg, long n, const uint8_t *pseudonym), void *arg,
		struct errbuf *e);
	enum status (*ldv_cursor)(struct store_conn *conn, int64_t *seq, long *item,
		struct errbuf *e);
	enum status (*ldv_cursor_set)(struct store_conn *conn, int64_t seq, long item,
		struct errbuf *e);
	/* access requests and retention */
	enum status (*inzage)(struct store_conn *conn, const uint8_t pseudonym[PSEUDONYM_LEN],
		int (*cb)(void *arg, const struct inzage_row *r), void *arg, struct errbuf *e);
	enum status (*purge)(struct store_conn *conn, const struct retention *r,
		struct purge_counts *n, struct errbuf *e);
	/* figures for operators */
	enum status (*gauges)(struct store_conn *conn,
		int (*cb)(void *arg, const struct gauge *g), void *arg, struct errbuf *e);
	enum status (*check_writable)(struct store_conn *conn, int timeout_ms, struct errbuf *e);
	enum status (*report)(struct store_conn *conn, enum report r,
		int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
		struct errbuf *e);
	/* several nodes on one database */
	enum status (*lease_take)(struct store_conn *conn, const char *job, const char *node,
		int seconds, bool *held, struct errbuf *e);
	enum status (*lease_drop)(struct store_conn *conn, const char *job, const char *node,
		struct errbuf *e);
	enum status (*node_put)(struct store_conn *conn, const char *node, const char digest[65],
		struct errbuf *e);
	enum status (*node_newest)(struct store_conn *conn, int live_seconds,
		struct node_newest *out, struct errbuf *e);
	enum status (*ping)(struct store_conn *conn, struct errbuf *e);
};

/* backend = sqlite (store_sqlite.c): opens, creates or migrates the
 * database at path (migrations schema_dir/store-NNN.sql). */
extern const struct store_ops store_sqlite_ops;
enum status store_sqlite_open(const char *path, const char *schema_dir, int busy_timeout_ms,
			      struct store_conn **out, struct errbuf *e);
/* backend = postgresql (store_pg.c): see store_open_dsn(). */
extern const struct store_ops store_pg_ops;
enum status store_pg_open(const char *dsn, const char *passfile, const char *schema_dir,
			  struct store_conn **out, struct errbuf *e);

/*
 * The evidence of sig as the signal's evidence column holds it, JSON
 * [[source, record], ...]; a malloc()ed string the caller frees, or NULL
 * when out of memory.
 */
char *store_evidence_json(const struct signal *sig);
/*
 * Reads such an evidence column (text, or NULL) into sig->evidence
 * (calloc()ed, signal_clear() frees it); false when out of memory or not
 * that JSON.
 */
bool store_evidence_parse(const char *text, struct signal *sig);

#endif
