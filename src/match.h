/*
 * match.h - the matching rules of matching.md, applied to what is stored.
 *
 * match_run() works out, as of a date, the quantities per address in the
 * store (registered, observed, the housing register's figures, coverage),
 * applies the enabled rules, and stores every signal with its evidence and
 * recipients.  A signal's id is a digest of the facts it rests on (rule,
 * address, person, the numbers and the evidence), so running again on the
 * same data creates nothing new, and a changed situation is a new signal.
 */
#ifndef SCHAKEL_MATCH_H
#define SCHAKEL_MATCH_H

#include "app.h"

struct match_result {
	long addresses;		/* addresses looked at */
	long raised;		/* signals that hold as of the date */
	long created;		/* of those, new ones */
};

/*
 * Runs the rules as of as_of (YYYY-MM-DD) in one transaction.  on_new (may
 * be NULL) is called for each new signal.  The run, its log entries and its new
 * signals belong to the store's trace (store_trace()) when one is set, the
 * input's that caused it; otherwise to a new trace of its own.
 */
enum status match_run(struct app *app, const char *as_of, struct match_result *res,
		      void (*on_new)(void *arg, const struct signal *sig), void *arg,
		      struct errbuf *e);

/* Logs the outcome of a match run by the daemon (log.h). */
void log_match(const char *as_of, const struct match_result *res);

/* Today's date (local time) as YYYY-MM-DD. */
void match_today(char out[11]);

#endif
