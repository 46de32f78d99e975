/*
 * noise.h - refusals of clients that are not identified (no client
 * certificate, one that is not accepted or has no OIN, an OIN that is no
 * party, a TLS handshake that failed), counted instead of logged one by
 * one.  A port scan or a client without its certificate would otherwise
 * fill the exchange log and push real failures off the operator's page.
 *
 * Refusals are counted per source address, cause and status; noise_flush()
 * writes one `refusal` entry per such key with the count (the daemon calls
 * it every minute and when it stops), so there is at most one entry per
 * source address and cause a minute.  Refusals of identified parties are
 * not noise: they stay one entry each (api.c).
 */
#ifndef SCHAKEL_NOISE_H
#define SCHAKEL_NOISE_H

#include <stdbool.h>

#include "status.h"
#include "store.h"

struct noise;

/* NULL when out of memory. */
struct noise *noise_new(void);
/* Frees n (accepts NULL); flush first, or what is pending is lost. */
void noise_free(struct noise *n);

/*
 * Counts one refusal from addr: cause is a short label ("no_certificate",
 * "handshake_failed", ...), status the HTTP status (0: none), reason the
 * first refusal's message (kept for the entry).  Returns false when the
 * table of pending keys is full: flush, then count again.
 */
bool noise_add(struct noise *n, const char *addr, const char *cause, int status,
	       const char *reason);

/* How many refusals are counted and not yet written. */
long noise_pending(const struct noise *n);

/*
 * Writes one `refusal` entry per pending key (party none, subject the
 * source address; detail cause, count, first, last, reason, source,
 * status) in one transaction, logs a line per key, and forgets them.  On
 * ST_FAIL the counts are kept for the next flush.
 */
enum status noise_flush(struct noise *n, struct store *s, struct errbuf *e);

#endif
