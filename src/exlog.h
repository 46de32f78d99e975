/*
 * exlog.h - the exchange log: every ingest, upload, rejection, match, new
 * signal, pull, delivery, disclosure, feedback, refusal, access request
 * and purge as one append-only, hash-chained entry.
 *
 * Entry n carries prev = hash(n-1) and
 *   hash = SHA-256(prev "\n" seq "\n" at "\n" kind "\n" party "\n" subject "\n" detail)
 * in lower-case hex; the first entry's prev is 64 zeros.  An entry with a
 * trace id (store_trace() when it was written) has "\n" trace_id appended
 * to what is hashed; entries without one hash as before migration 10.  An entry is
 * written in the same store transaction as the change it records, so an
 * exchange whose entry cannot be written does not happen.
 */
#ifndef SCHAKEL_EXLOG_H
#define SCHAKEL_EXLOG_H

#include <jansson.h>

#include "status.h"
#include "store.h"

/*
 * Appends an entry.  detail is a JSON object whose reference this function
 * takes (NULL counts as out of memory); party and subject may be NULL.
 * Never put a BSN or a key in any of them.
 */
enum status exlog_append(struct store *s, const char *kind, const char *party,
			 const char *subject, json_t *detail, struct errbuf *e);

/*
 * The same with the detail as text: a JSON object, compact and with its
 * keys sorted, as exlog_append() writes one.  For an entry made many
 * times a run (a match's signals), where building and dumping a jansson
 * tree is a cost of its own.
 */
enum status exlog_append_text(struct store *s, const char *kind, const char *party,
			      const char *subject, const char *detail, struct errbuf *e);

/* The hash an entry should carry (64 hex digits and a NUL into out). */
void exlog_hash(const struct exlog_row *r, char out[65]);

/*
 * Recomputes the chain.  Returns ST_OK with *entries counted, or ST_FAIL
 * with e naming the first entry that does not fit and why.
 */
enum status exlog_verify(struct store *s, long *entries, struct errbuf *e);

/* Checks the last entry only: its hash and its link (cheap, for /healthz). */
enum status exlog_check_head(struct store *s, struct errbuf *e);

/*
 * Signs the chain head with the broker's key (PEM files) as a checkpoint,
 * unless the head is signed already; *made says whether one was added.
 */
enum status exlog_checkpoint(struct store *s, const char *key_pem, const char *cert_pem,
			     bool *made, struct errbuf *e);

/* What exlog_prove() found. */
struct exlog_proof {
	long entries;		/* entries whose chain is intact */
	long checkpoints;	/* signed checkpoints that hold */
	int64_t proven_seq;	/* the entry the last of them signs; 0: none */
	char proven_at[32];
};

/*
 * Verifies the chain (as exlog_verify) and every signed checkpoint against
 * the CA in ca_pem: its signature, and that it signs the entry the chain
 * holds at its place (an entry cut off the end shows here).  ST_FAIL names
 * the first thing that does not fit.
 */
enum status exlog_prove(struct store *s, const char *ca_pem, struct exlog_proof *p,
			struct errbuf *e);

/*
 * Checks a search of the exchange log before it runs, so that a filter
 * that cannot match (a bad time, a kind that does not exist, an OIN that
 * is no OIN) is an error instead of an empty or a whole answer: kind one
 * of the kinds of entry, party and recipient 20-digit OINs, status an
 * HTTP status or an outcome word, since and until times (norm_time()) in
 * that order, source a name, id without control characters.  opt is put
 * before the filter's name in the message ("--" on the command line).
 * Returns ST_OK or ST_USAGE with the message in e.
 */
enum status exlog_filter_check(const struct log_filter *f, const char *opt,
			       struct errbuf *e);

#endif
