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
	long ended;		/* open signals that no longer hold, now ended */
	bool full;		/* every address was looked at */
	const char *why;	/* why a MATCH_CHANGED run was full, or NULL */
	long marked;		/* not full: the addresses marked for the run */
	long persons, gemeenten;	/* not full: the persons and gemeenten marked */
};

/*
 * MATCH_FULL looks at every address; MATCH_CHANGED only at the addresses
 * that changes since the last run marked (store.h, incremental matching),
 * widened by a new date, and is full when there was no run before or the
 * rules' parameters changed; MATCH_RECONCILE is a full run logged as the
 * check of the incremental ones (it should find nothing to change).  Every
 * mode ends the signals that no longer hold among those it looks at, and
 * clears the marks.
 */
enum match_mode { MATCH_FULL, MATCH_CHANGED, MATCH_RECONCILE };

/*
 * Runs the rules as of as_of (YYYY-MM-DD) over every address in one
 * transaction (MATCH_FULL).  on_new (may be NULL) is called for each new
 * signal.  The run, its log entries and its new signals belong to the
 * store's trace (store_trace()) when one is set, the input's that caused
 * it; otherwise to a new trace of its own.
 */
enum status match_run(struct app *app, const char *as_of, struct match_result *res,
		      void (*on_new)(void *arg, const struct signal *sig), void *arg,
		      struct errbuf *e);

/* match_run() in the given mode. */
enum status match_run_mode(struct app *app, const char *as_of, enum match_mode mode,
			   struct match_result *res,
			   void (*on_new)(void *arg, const struct signal *sig), void *arg,
			   struct errbuf *e);

/* Logs the outcome of a match run by the daemon (log.h). */
void log_match(const char *as_of, const struct match_result *res);

/* Today's date (local time) as YYYY-MM-DD. */
void match_today(char out[11]);

#endif
