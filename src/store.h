/*
 * store.h - where schakel keeps records, signals and the exchange log.
 *
 * This header is the store interface; store.c implements each function
 * once, through the table of operations of the store's backend
 * (store_backend.h): SQLite (WAL) in the data directory, store_sqlite*.c
 * (store_open()), or PostgreSQL, for several broker nodes on one database,
 * store_pg*.c (store_open_dsn()), which implements part of the functions
 * so far.  The store knows no HTTP and no XML, and nothing of the rules: it keeps rows and
 * answers the questions the pipeline asks (for a match, plain scans that
 * match_scan.c orders and walks).
 *
 * Every write happens inside store_begin() ... store_commit(); a failure
 * anywhere is undone with store_rollback().  Callbacks return 0 to go on or
 * non-zero to stop (the function then returns ST_FAIL with e untouched
 * unless the callback filled it).
 */
#ifndef SCHAKEL_STORE_H
#define SCHAKEL_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "norm.h"
#include "status.h"

#define OIN_STR_LEN 21

struct store;

/*
 * Opens (and creates, or migrates) the embedded store: the database file
 * at path (backend = sqlite, the default).  schema_dir holds the
 * migrations store-NNN.sql; a write waits at most busy_timeout_ms for
 * another writer.  Returns ST_OK and *out, or ST_FAIL.
 */
enum status store_open(const char *path, const char *schema_dir, int busy_timeout_ms,
		       struct store **out, struct errbuf *e);
/*
 * Opens the store on a PostgreSQL server (backend = postgresql): dsn is a
 * libpq connection string, passfile (or NULL) the password file; creates
 * or migrates the schema from schema_dir/pg/NNN.sql.  A failure names the
 * host and database, never a password.  So far the PostgreSQL store does
 * transactions, the records of an ingest (and its processing records),
 * the exchange log, purges, the state of pulled sources, signals,
 * feedback, the outbox and the operators' figures; every other
 * function fails with "not yet supported with backend = postgresql".
 */
enum status store_open_dsn(const char *dsn, const char *passfile, const char *schema_dir,
			   struct store **out, struct errbuf *e);
/*
 * Checks that the database was made with the pseudonym key whose keyed
 * check value is check (64 hex digits, crypto_key_check()): the first
 * node stores it, and a node with another key is refused (ST_FAIL).  On
 * SQLite ST_OK: the database lives in the data directory beside its keys.
 */
enum status store_key_check(struct store *s, const char check[65], struct errbuf *e);
/* Closes the store; accepts NULL. */
void store_close(struct store *s);
/*
 * Lets the store keep up to mib MiB of the database in this process's
 * memory (8 after store_open(); a server backend keeps its own cache and
 * ignores it).
 */
enum status store_cache(struct store *s, int mib, struct errbuf *e);

enum status store_begin(struct store *s, struct errbuf *e);
enum status store_commit(struct store *s, struct errbuf *e);

/*
 * The W3C trace id (32 hex digits, trace.h) that the log entries and
 * signals this connection writes from now on carry; NULL or "" for none.
 * Kept until it is set again (not ended by a commit).  store_trace()
 * returns it, or NULL.
 */
void store_trace_set(struct store *s, const char *trace_id);
const char *store_trace(const struct store *s);
/* Undoes the open transaction, if any. */
void store_rollback(struct store *s);

/* --- records ---------------------------------------------------------- */

struct ingest_row {
	const char *adapter;
	const char *origin;
	const char *party;	/* or NULL */
	const char *digest;	/* hex SHA-256 of the input */
	long accepted, rejected;
};

/* Adds an ingest row (counts filled in later); returns its id in *id. */
enum status store_ingest_add(struct store *s, const struct ingest_row *r, int64_t *id,
			     struct errbuf *e);
/* Records an ingest's outcome: its counts and the digest of its bytes. */
enum status store_ingest_counts(struct store *s, int64_t id, long accepted, long rejected,
				const char *digest, struct errbuf *e);

struct person_row {
	uint8_t pseudonym[PSEUDONYM_LEN];
	uint8_t bsn_sealed[SEALED_BSN_LEN];
	char begindatum[11];
	struct address address;
};

struct dwelling_row {
	struct address address;
	long oppervlakte;	/* -1: unknown */
	const char *gebruiksdoel;	/* or NULL */
	long max_bewoners;	/* -1: none set */
	const char *vergunning;	/* or NULL */
	const char *vergunning_tot;	/* or NULL */
};

struct finding_person {
	uint8_t pseudonym[PSEUDONYM_LEN];
	uint8_t bsn_sealed[SEALED_BSN_LEN];
};

struct finding_row {
	const char *id;
	const char *datum;
	const char *soort;
	const char *kvk;	/* or NULL */
	struct address address;
	long aangetroffen;
	const struct finding_person *persons;
	size_t npersons;
};

/*
 * Each put stores a record under its natural identity, replacing an earlier
 * version; *changed says whether anything changed (re-ingesting the same
 * data changes nothing).  A backend may defer puts and write them in
 * batches (PostgreSQL does, within the transaction): then *changed is
 * false and store_flush() counts the change.  Either way the puts are
 * part of the open transaction, seen by every later call, and undone by
 * store_rollback().
 */
enum status store_put_person(struct store *s, int64_t ingest_id, const struct person_row *r,
			     bool *changed, struct errbuf *e);
enum status store_put_dwelling(struct store *s, int64_t ingest_id,
			       const struct dwelling_row *r, bool *changed, struct errbuf *e);
enum status store_put_finding(struct store *s, int64_t ingest_id, const struct finding_row *r,
			      bool *changed, struct errbuf *e);
/*
 * Writes the puts the backend deferred; *changed gets how many of the
 * puts since the last call (or the transaction's start) changed anything
 * without saying so in their own *changed.  Call it before the commit to
 * count them; a commit writes what is left uncounted.
 */
enum status store_flush(struct store *s, long *changed, struct errbuf *e);

/*
 * What a stored record is held under, for the territory check of ingest.c:
 * the gemeentecode (5 bytes with its NUL) of the stored address key (the
 * housing register's, else the address's own: what matching uses), of the
 * stored registration (pseudonym, begindatum), of the stored finding id.
 * *found is false (out "") when there is none.
 */
enum status store_held_address(struct store *s, const char *key, char out[5], bool *found,
			       struct errbuf *e);
/*
 * A hint: store_held_address() is about to be asked about these n keys
 * (ingest.c gives those of each batch), so a backend whose every query is
 * a round trip may read them at once.  Changes no answer.
 */
enum status store_hint_addresses(struct store *s, const char (*keys)[ADDRESS_KEY_MAX], size_t n,
				 struct errbuf *e);
enum status store_held_person(struct store *s, const uint8_t *pseudonym,
			      const char *begindatum, char out[5], bool *found, struct errbuf *e);
enum status store_held_finding(struct store *s, const char *id, char out[5], bool *found,
			       struct errbuf *e);

/*
 * Removes the registration (pseudonym, begindatum), as a StUF-BG
 * verwijdering asks; *changed says whether there was one.
 */
enum status store_withdraw_person(struct store *s, const uint8_t *pseudonym,
				  const char *begindatum, bool *changed, struct errbuf *e);

/*
 * Whether the input ingest_id stored a finding with r's id before: if so,
 * *differs says whether r's content differs from it and first (n bytes)
 * gets that one's place; if not, r's id and place are noted as this
 * input's.  Call it before store_put_finding().
 */
enum status store_finding_repeat(struct store *s, int64_t ingest_id,
				 const struct finding_row *r, const char *place,
				 char *first, size_t n, bool *differs, struct errbuf *e);

/* --- the rows a match reads (match_scan.c orders and walks them) ------ */

/*
 * Starts the scans below for a match as of as_of (YYYY-MM-DD) with the
 * findings dated after window_start and not after as_of (the window);
 * with scoped, they visit only what the marks concern (store_mark_widen():
 * the marked addresses, and the persons registered at one or named by a
 * finding at one).  A store may work out per-address figures once here.
 * Call store_scan_end() afterwards, also after a failure.
 */
enum status store_scan_begin(struct store *s, const char *as_of, const char *window_start,
			     bool scoped, struct errbuf *e);
void store_scan_end(struct store *s);

/* One registration; valid during the callback. */
struct registration_row {
	const uint8_t *pseudonym;	/* PSEUDONYM_LEN bytes */
	const char *begindatum;
	const char *addr;		/* its address key */
};

/*
 * Calls cb for every registration that begins on or before the match
 * date (scoped: of every person the marks concern), in no order.
 */
enum status store_scan_registrations(struct store *s,
				     int (*cb)(void *arg, const struct registration_row *r),
				     void *arg, struct errbuf *e);

/* What the store holds of one address as of the match date; valid during
 * the callback. */
struct address_row {
	const char *key;	/* the address key */
	struct address address;	/* gemeentecode: the housing register's, else its own */
	bool has_findings;	/* a finding in the window is there */
	long observed;		/* the most persons one of them found; 0: none */
	long oppervlakte;	/* -1: unknown */
	long max_bewoners;	/* -1: none set */
	bool has_dwelling;	/* the housing register has it */
	bool permit_valid;	/* with a permit valid on the match date */
	bool covered;		/* its gemeentecode delivers BRP data */
};

/*
 * Calls cb for every address (scoped: every marked one) in the byte
 * order of its key (strcmp()).
 */
enum status store_scan_addresses(struct store *s,
				 int (*cb)(void *arg, const struct address_row *r), void *arg,
				 struct errbuf *e);

/* A person named by a finding in the window, at the finding's address. */
struct named_row {
	const char *key;	/* the finding's address key */
	struct address address;	/* with its own gemeentecode */
	const uint8_t *pseudonym;	/* PSEUDONYM_LEN bytes */
	long observed, oppervlakte, max_bewoners;	/* of the address, as there */
};

/*
 * Calls cb once for every (address, person) that the findings in the
 * window (scoped: at marked addresses) name, by address key, then
 * pseudonym.
 */
enum status store_scan_named(struct store *s, int (*cb)(void *arg, const struct named_row *r),
			     void *arg, struct errbuf *e);

/*
 * Calls cb with the address key and the id of every finding in the window
 * (scoped: at marked addresses), by address key, then date, then id.
 */
enum status store_scan_findings(struct store *s,
				int (*cb)(void *arg, const char *key, const char *id), void *arg,
				struct errbuf *e);

/*
 * Calls cb with the id of every finding in the window at address key that
 * names person, by date, then id.
 */
enum status store_scan_person_findings(struct store *s, const char *key,
				       const uint8_t person[PSEUDONYM_LEN],
				       int (*cb)(void *arg, const char *id), void *arg,
				       struct errbuf *e);

/* The address of key into *a (its own gemeentecode); *found is false when
 * the store has none. */
enum status store_address_get(struct store *s, const char *key, struct address *a,
			      bool *found, struct errbuf *e);

/*
 * Incremental matching (store-012.sql).  Every write marks what it touches
 * (addresses, persons, gemeenten whose coverage changed); a scoped match
 * recomputes only the marked addresses.
 */

/* What the last match run was as of (store_match_state()). */
struct match_state {
	char as_of[11];		/* "" when no match ever ran */
	char window_start[11];
	char params[256];	/* the rules' parameters, as the matcher wrote them */
};

enum status store_match_state(struct store *s, struct match_state *st, struct errbuf *e);
/* Records the run now committing; full: it was a full run. */
enum status store_match_state_put(struct store *s, const struct match_state *st, bool full,
				  struct errbuf *e);

/*
 * Marks what a change of the match date from (old_as_of, old_window_start)
 * to (as_of, window_start) changes: findings that enter or leave the
 * window, permits that expire or become valid, registrations that become
 * current or stop being so.
 */
enum status store_mark_dates(struct store *s, const struct match_state *old,
			     const char *as_of, const char *window_start, struct errbuf *e);

/* The size of a scoped run (store_mark_widen()). */
struct mark_counts {
	long addresses, persons, gemeenten;
	long all;	/* > 0: a transaction changed so much that it stopped
			 * marking; the run must be full (nothing else is set) */
};

/*
 * Widens the marks to the addresses a scoped run recomputes: every address
 * of a marked gemeente, and every address where a marked person has a
 * registration or is named in a finding.  *n counts the marks.
 */
enum status store_mark_widen(struct store *s, struct mark_counts *n, struct errbuf *e);
/* Forgets every mark (after a run, in its transaction). */
enum status store_mark_clear(struct store *s, struct errbuf *e);

/*
 * Brings the registrations by address that a scoped match reads up to
 * date (store-014.sql), in the caller's transaction: work in proportion
 * to what was written since.  store_scan_begin() scoped does it itself;
 * an incremental run that turns full calls it so that the next one does
 * not pay for the large change.
 */
enum status store_match_catch_up(struct store *s, struct errbuf *e);

/*
 * Calls cb with the seq and id of every open (not ended) signal, or with
 * scoped only those at a marked address.
 */
enum status store_open_signals(struct store *s, bool scoped,
			       int (*cb)(void *arg, int64_t seq, const char *id), void *arg,
			       struct errbuf *e);

/* A stored record a signal rests on (match_scan.c names its sources). */
struct evidence {
	char source[16];	/* "brp", "huisvesting", "inspectie" */
	char record[96];
};

/* --- signals ---------------------------------------------------------- */

struct signal {
	int64_t seq;		/* order of creation: the inbox cursor */
	char id[33];
	char rule[24];
	char as_of[11];
	char created[21];
	struct address address;
	bool has_person;
	uint8_t person[PSEUDONYM_LEN];
	struct address registered_address;
	long registered, observed;
	long oppervlakte, max_bewoners;		/* -1: null */
	struct evidence *evidence;
	size_t nevidence;
	char (*recipients)[21];
	size_t nrecipients;
	char trace_id[33];	/* of the match that raised it, or "" */
	char ended_on[11];	/* the match date it ended; "" while it holds */
};

/* Frees what a signal holds (not the struct); accepts NULL. */
void signal_clear(struct signal *sig);

/* Stores sig unless a signal with its id exists; *created says which. */
enum status store_put_signal(struct store *s, const struct signal *sig, bool *created,
			     struct errbuf *e);

/* Marks signal seq ended as of date (YYYY-MM-DD). */
enum status store_end_signal(struct store *s, int64_t seq, const char *date, struct errbuf *e);

/* Which signals store_signals() lists. */
struct signal_filter {
	const char *id;		/* only this signal, or NULL */
	const char *rule;	/* only this rule, or NULL */
	const char *recipient;	/* only those routed to this OIN, or NULL */
	int64_t after;		/* only those with seq > after */
	long limit;		/* at most this many; 0: all */
};

/*
 * Calls cb for every signal that passes f, in order of creation.  The
 * signal is valid during the call.
 */
enum status store_signals(struct store *s, const struct signal_filter *f,
			  int (*cb)(void *arg, const struct signal *sig), void *arg,
			  struct errbuf *e);

/* Whether signal id exists and is routed to oin. */
enum status store_signal_routed(struct store *s, const char *id, const char *oin,
				bool *routed, struct errbuf *e);

/* The sealed BSN of a person's latest registration (*found false if none). */
enum status store_person_bsn(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			     uint8_t sealed[SEALED_BSN_LEN], bool *found, struct errbuf *e);

/* Stores a recipient's feedback on a signal; *id is its number. */
enum status store_put_feedback(struct store *s, const char *signal_id, const char *oin,
			       const char *outcome, const char *note, int64_t *id,
			       struct errbuf *e);

/* Calls cb with the count of each (rule, outcome) of the feedback given. */
enum status store_feedback_counts(struct store *s,
				  int (*cb)(void *arg, const char *rule, const char *outcome,
					    long n),
				  void *arg, struct errbuf *e);

/* --- deliveries ---------------------------------------------------------- */

struct delivery_row {
	int64_t id;
	char signal_id[33];
	char oin[OIN_STR_LEN];
	char message_id[48];
	char state[12];		/* pending, delivered, failed */
	int attempts;
	int64_t created, next_at, delivered_at;		/* Unix seconds; 0: none */
	long last_status;	/* 0: none */
	char last_error[256];
	char trace_id[33];	/* the signal's trace, or "" */
	char locked_by[64];	/* the node whose claim it is under, or "" */
};

/* Queues signal_id for oin unless queued already. */
enum status store_delivery_add(struct store *s, const char *signal_id, const char *oin,
			       const char *message_id, int64_t now, struct errbuf *e);

/*
 * Queues signal_id for oin again, due at now, under the new message id
 * (the signal changed: it ended): the existing row, whatever its state,
 * becomes pending with a fresh horizon, or a row is added.
 */
enum status store_delivery_requeue(struct store *s, const char *signal_id, const char *oin,
				   const char *message_id, int64_t now, struct errbuf *e);

/*
 * Calls cb for deliveries: with due >= 0, the pending ones whose next_at is
 * not after due (at most limit, oldest first); with due < 0, all of them
 * (only the failed ones with failed_only).
 */
enum status store_deliveries(struct store *s, int64_t due, bool failed_only, long limit,
			     int (*cb)(void *arg, const struct delivery_row *d), void *arg,
			     struct errbuf *e);

/*
 * Calls cb for the oldest pending delivery of each recipient whose next_at
 * is not after due (at most limit recipients): what a sender that has one
 * message in flight per recipient can start next.
 */
enum status store_deliveries_next(struct store *s, int64_t due, long limit,
				  int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				  struct errbuf *e);

/*
 * Calls cb for the pending delivery of d's recipient that comes after d
 * (by next_at, then id) and is due, if there is one: what a sender can
 * build while d is under way.
 */
enum status store_delivery_after(struct store *s, const struct delivery_row *d, int64_t due,
				 int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				 struct errbuf *e);

/*
 * Calls cb for the pending deliveries of oin whose next_at is not after due,
 * oldest first (by next_at, then id), at most limit (0: all): what a sender
 * with several messages in flight per recipient can start next.
 */
enum status store_deliveries_of(struct store *s, const char *oin, int64_t due, long limit,
				int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				struct errbuf *e);

/*
 * Claims for node (its [server] node) up to limit of oin's pending
 * deliveries whose next_at is not after now and that no node holds a
 * live lease on, oldest first (by next_at, then id): each gets
 * locked_by = node and lease_until = now + lease_seconds, so that no
 * other node (sharing the database) takes it until the lease lapses.  In
 * a transaction of its own (call it outside one): the claim is committed
 * before cb is called with each claimed row (locked_by set).  Times are
 * the caller's clock, in Unix seconds.  The lease ends with the attempt
 * (store_delivery_update()); a lease that lapses makes the row
 * claimable by any node again, under the same message id.
 */
enum status store_deliveries_claim(struct store *s, const char *node, const char *oin,
				   int64_t now, int lease_seconds, long limit,
				   int (*cb)(void *arg, const struct delivery_row *d), void *arg,
				   struct errbuf *e);

/*
 * Ends every lease node holds (a node that starts has nothing under way:
 * what its earlier run claimed is claimable again at once); *n counts them.
 */
enum status store_deliveries_release(struct store *s, const char *node, long *n,
				     struct errbuf *e);

/*
 * Records the outcome of an attempt (state, attempts, next_at, status,
 * error) and ends its lease.  A row claimed by d->locked_by that another
 * node has claimed since (the lease lapsed) or finished is left alone:
 * that node's outcome counts.
 */
enum status store_delivery_update(struct store *s, const struct delivery_row *d,
				  struct errbuf *e);

/*
 * Puts failed delivery id (or, with id < 0, every failed one) back in the
 * queue, due now, with a fresh retry horizon; *n counts them.
 */
enum status store_delivery_retry(struct store *s, int64_t id, int64_t now, long *n,
				 struct errbuf *e);

/* --- pulled sources -------------------------------------------------------- */

struct source_state {
	char cursor[512];	/* "" when none */
	char etag[256];
	char last_modified[64];
	int failures;
	int64_t next_at, last_ok;
};

/* Reads a source's state (zeroed when there is none yet). */
enum status store_source_get(struct store *s, const char *name, struct source_state *st,
			     struct errbuf *e);
enum status store_source_put(struct store *s, const char *name,
			     const struct source_state *st, struct errbuf *e);

/* --- the exchange log -------------------------------------------------- */

/* What store_log_search() looks for; NULL or 0 fields match everything. */
struct log_filter {
	int64_t after;		/* entries with seq > after */
	const char *party;	/* the actor, or named among a signal's recipients */
	const char *kind;	/* ingest, reject, pull, signal, delivery, ... */
	const char *source;	/* a pulled source's name, or an adapter */
	const char *recipient;	/* a delivery's or a signal's recipient */
	const char *status;	/* an HTTP status or an outcome (delivered, failed...) */
	const char *since, *until;	/* ISO 8601 times, inclusive */
	const char *id;		/* a message id, signal id, upload/ingest number */
	const char *trace;	/* a W3C trace id */
	long limit;
	bool newest_first;	/* the last entries, newest first (default: oldest first) */
};

struct exlog_row {
	int64_t seq;
	char at[32];
	const char *kind;
	const char *party;	/* or NULL */
	const char *subject;	/* or NULL */
	const char *detail;	/* JSON object */
	const char *trace_id;	/* or NULL (entries before migration 10) */
	char prev[65];
	char hash[65];
};

/* The last entry's seq and hash (0 and 64 zeros on an empty log). */
enum status store_log_head(struct store *s, int64_t *seq, char hash[65], struct errbuf *e);
enum status store_log_insert(struct store *s, const struct exlog_row *r, struct errbuf *e);
/*
 * Calls cb for every entry from seq `from` on, in order; with party
 * non-NULL only the entries in which that OIN is a party (as the actor, or
 * named in the detail, such as a signal's recipients), at most limit of
 * them (0: all).
 */
enum status store_log_scan(struct store *s, int64_t from, const char *party, long limit,
			   int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			   struct errbuf *e);

/* Calls cb for every entry that passes f, in order. */
enum status store_log_search(struct store *s, const struct log_filter *f,
			     int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			     struct errbuf *e);

struct checkpoint_row {
	int64_t seq;
	char hash[65];
	char at[32];
	const unsigned char *signature;
	size_t signature_len;
	const char *certificate;
};

/* Adds a checkpoint (nothing when one exists for that entry). */
enum status store_checkpoint_add(struct store *s, const struct checkpoint_row *c,
				 struct errbuf *e);
/* Calls cb for every checkpoint, oldest first. */
enum status store_checkpoints(struct store *s,
			      int (*cb)(void *arg, const struct checkpoint_row *c), void *arg,
			      struct errbuf *e);

/* --- processing records (Logboek Dataverwerkingen, ldv.h) --------------- */

/* One processing: a span of the LDV draft (docs/formats.md). */
struct ldv_span_row {
	int64_t seq;		/* order of writing (set by store_ldv_span_add) */
	char trace_id[33];
	char span_id[17];
	char parent_span_id[17];	/* "" for none */
	const char *name;	/* schakel.receive, schakel.match, ... */
	int status;		/* 0 unset, 1 ok, 2 error (OTLP's codes) */
	int64_t start_ns, end_ns;	/* Unix nanoseconds */
	const char *activity;	/* dpl.core.processing_activity_id, a URI */
	int64_t exlog_seq;	/* the exchange log entry written with it; 0: none */
	const char *object;	/* the signal, message or input it concerns, or NULL */
	const char *party;	/* an input's supplier, a disclosure's recipient (OIN), or NULL */
	long subjects;		/* its data subjects */
	const uint8_t *pseudonyms;	/* its first npseudonyms subjects, inline (or NULL) */
	size_t npseudonyms;
};

/* Adds a span in the open transaction; sets r->seq. */
enum status store_ldv_span_add(struct store *s, struct ldv_span_row *r, struct errbuf *e);

/*
 * The same for a span that is complete (with all its subjects inline):
 * copied and written with the next ones, in multi-row inserts, at the
 * latest by store_commit() (a failure there fails the commit);
 * store_rollback() forgets it.
 */
enum status store_ldv_span_defer(struct store *s, const struct ldv_span_row *r,
				 struct errbuf *e);

/* Ends span seq: its end time, status, log entry and subject count. */
enum status store_ldv_span_end(struct store *s, int64_t seq, int64_t end_ns, int status,
			       int64_t exlog_seq, long subjects, struct errbuf *e);

/*
 * Appends n data subjects (pseudonyms) to span seq, numbered from first:
 * one row holding the batch, by a statement kept prepared.
 */
enum status store_ldv_subjects_add(struct store *s, int64_t seq, long first,
				   const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				   struct errbuf *e);

/* Calls cb with the pseudonym of every person finding_id names. */
enum status store_finding_persons(struct store *s, const char *finding_id,
				  int (*cb)(void *arg, const uint8_t *pseudonym), void *arg,
				  struct errbuf *e);


/* What store_ldv_search() looks for; NULL fields match everything. */
struct ldv_filter {
	const uint8_t *subject;	/* a pseudonym (PSEUDONYM_LEN bytes) */
	const char *activity;	/* a processing activity URI */
	const char *trace;	/* a trace id */
	int64_t after;		/* spans with seq > after */
	long limit;		/* 0: all */
};

/* Calls cb for every span that passes f, in order of writing. */
enum status store_ldv_search(struct store *s, const struct ldv_filter *f,
			     int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
			     struct errbuf *e);

/*
 * Calls cb for the data subjects of span seq numbered from `from` on, at
 * most limit of them, in order.
 */
enum status store_ldv_subjects(struct store *s, int64_t seq, long from, long limit,
			       int (*cb)(void *arg, long n, const uint8_t *pseudonym),
			       void *arg, struct errbuf *e);

/* The export cursor: items before (span seq, item) are sent (item 0 is the
 * span, item i its subject i - 1). */
enum status store_ldv_cursor(struct store *s, int64_t *seq, long *item, struct errbuf *e);
enum status store_ldv_cursor_set(struct store *s, int64_t seq, long item, struct errbuf *e);

/* --- access requests and retention ------------------------------------------ */

/* One thing a person's data took part in, for an access request (inzage). */
struct inzage_row {
	const char *kind;	/* "registration", "finding", "signal", "delivery",
				   "routed", "disclosure" */
	const char *at;		/* when it was received, raised or delivered */
	const char *what;	/* the record, signal or message */
	const char *address;	/* "2671AB 10" */
	const char *source;	/* adapter, rule, or recipient OIN */
	const char *via;	/* origin (file, upload, pull), state, or how it was
				   disclosed ("inbox, with the BSN") */
	const char *party;	/* supplier or recipient OIN, or NULL */
	const char *signal;	/* for deliveries: the signal id */
};

/* Calls cb for everything that concerned the person with this pseudonym. */
enum status store_inzage(struct store *s, const uint8_t pseudonym[PSEUDONYM_LEN],
			 int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			 struct errbuf *e);

/* Cut-off times (ISO 8601, UTC) per kind of data; NULL: keep. */
struct retention {
	const char *records;	/* registrations, dwellings, findings received before */
	const char *signals;	/* signals raised before (with evidence and feedback) */
	const char *deliveries;	/* messages delivered before */
};

struct purge_counts {
	long persons, dwellings, findings, signals, deliveries, ingests;
};

/* Deletes what is past its period (in the caller's transaction). */
enum status store_purge(struct store *s, const struct retention *r, struct purge_counts *n,
			struct errbuf *e);

/* --- figures for operators ------------------------------------------------- */

/* One sample of a metric (Prometheus text format), with up to two labels. */
struct gauge {
	const char *metric, *help, *type;	/* type: "counter" or "gauge" */
	const char *label1, *value1, *label2, *value2;
	double value;
};

/* Calls cb for every figure the store knows, grouped by metric. */
enum status store_gauges(struct store *s, int (*cb)(void *arg, const struct gauge *g),
			 void *arg, struct errbuf *e);

/*
 * Checks that the database can be written now: commits a small write that
 * changes nothing (so a full disk or a read-only database fails it, not
 * only another writer), waiting at most timeout_ms for other writers.
 */
enum status store_check_writable(struct store *s, int timeout_ms, struct errbuf *e);

/* The tables of the operator's page. */
enum report {
	REPORT_EXCHANGES,	/* who, kind, day, count: the last 14 days */
	REPORT_SIGNALS,		/* rule, signals, bevestigd, onterecht, in_behandeling */
	REPORT_BACKLOG,		/* recipient, pending, oldest pending (s), failed, delivered */
	REPORT_FAILURES,	/* seq, at, kind, party, subject, detail: the last 20 */
	REPORT_QUEUE,		/* one row: pending, failed, oldest due (UTC), its seconds from now */
};

/* Calls cb with each row of a report, its columns as text (NULL: none). */
enum status store_report(struct store *s, enum report r,
			 int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
			 struct errbuf *e);

/* --- several nodes on one database (issue 15) --------------------------
 *
 * Each function here runs outside any transaction (a statement of its
 * own, committed at once) and reads the time from the database's clock,
 * so that the nodes' clocks do not matter.  On SQLite the one node of the
 * database always gets its leases.
 */

#define NODE_NAME_MAX 64	/* [server] node, with its NUL */

/*
 * Takes or renews the lease of job (a name such as "purge" or
 * "pull:brp") for node, for seconds from now: *held is true when node
 * held it, or nobody did, or its holder let it run out (then node holds
 * it until now + seconds); false when another node holds it.
 */
enum status store_lease_take(struct store *s, const char *job, const char *node, int seconds,
			     bool *held, struct errbuf *e);
/* Gives up node's lease of job (job NULL: all of node's), if it holds it. */
enum status store_lease_drop(struct store *s, const char *job, const char *node,
			     struct errbuf *e);

/*
 * Records that node runs with digest (hex SHA-256 of its parties) now:
 * its heartbeat, also at its start and after a reload.  When the digest
 * differs from the one the database had for node, its changed_at becomes
 * now; a node new to the database takes the changed_at of a node with the
 * same digest (so a node started with an old file does not make its
 * digest the newest).  Rows stay when a node stops: they age out of
 * store_node_newest().
 */
enum status store_node_put(struct store *s, const char *node, const char digest[65],
			   struct errbuf *e);

/* The newest digest among the nodes seen in the last live_seconds. */
struct node_newest {
	bool found;		/* false: no live node at all */
	char node[NODE_NAME_MAX];	/* the node whose change it was */
	char digest[65];
	long age;		/* seconds since it changed, by the database's clock */
};
enum status store_node_newest(struct store *s, int live_seconds, struct node_newest *out,
			      struct errbuf *e);

/*
 * Checks the database connection with a round trip (/healthz): ST_OK, or
 * e says what is wrong (libpq's or SQLite's message, never a password).
 */
enum status store_ping(struct store *s, struct errbuf *e);

#endif
