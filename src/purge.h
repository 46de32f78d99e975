/*
 * purge.h - retention: deleting what is past its period ([retention]).
 *
 * Records are counted from when they were received, signals from when they
 * were raised, delivered messages from their delivery.  The exchange log
 * is never purged (it keeps metadata and hashes), so its chain still
 * verifies; the purge itself is a log entry with its counts.
 */
#ifndef SCHAKEL_PURGE_H
#define SCHAKEL_PURGE_H

#include "app.h"

/* Purges as of the date as_of (YYYY-MM-DD, UTC midnight) in one transaction. */
enum status purge_run(struct app *app, const char *as_of, struct purge_counts *n,
		      struct errbuf *e);

#endif
