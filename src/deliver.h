/*
 * deliver.h - pushing signals to their recipients, reliably.
 *
 * Each signal for a party with a push_url is a row in the delivery outbox
 * (queued by the matcher in the transaction that creates the signal).  The
 * deliverer, on the daemon's loop, sends due rows as XML valid against the
 * signal schema, signed (sign.h), over mutual TLS (fetch.h), with the
 * delivery's message id in X-Message-Id so the recipient can drop a
 * duplicate.  Only the fields the recipient's grant allows are sent.
 *
 * 2xx: delivered.  Network error, 5xx, 408, 429: retried with exponential
 * backoff and jitter (Retry-After respected) until the horizon, then
 * failed.  Any other status: failed at once.  Failed rows are dead
 * letters, re-sent by hand with `schakel deliveries retry`.  Each outcome
 * is committed, with its exchange-log entry, when the answer is in: a
 * crash before that re-sends under the same message id (at least once on
 * the wire, exactly once at a recipient that drops duplicates).  An
 * outcome that cannot be committed (a full disk, a database locked too
 * long) is held in memory and tried again with backoff; until it is
 * recorded no delivery starts, so nothing is sent again for want of a
 * write.  Up to the party's max_in_flight deliveries per recipient (and
 * [delivery] max_in_flight in all) are under way at once, to all
 * recipients together, so a slow or dead recipient holds up only its own
 * queue; the order of one recipient's deliveries is not promised (1 keeps
 * it).  Each row is claimed for this node ([server] node) with a lease of
 * [delivery] timeout + 10 s before it is sent (store_deliveries_claim()),
 * so nodes sharing one database never send it at once; a node that dies
 * loses its claims when they lapse, and another sends them again under
 * the same message id.  After [delivery] breaker_failures failed attempts in a row a
 * recipient is held down and only probed, one delivery at a time
 * (breaker.h).
 */
#ifndef SCHAKEL_DELIVER_H
#define SCHAKEL_DELIVER_H

#include <event2/event.h>
#include <libxml/tree.h>

#include "app.h"
#include "fetch.h"
#include "sign.h"

struct deliverer;

struct deliverer *deliverer_new(struct app *app, struct event_base *base, struct fetcher *f,
				struct signer *sg, struct errbuf *e);
/* Frees; deliveries under way are simply sent again later.  Accepts NULL. */
void deliverer_free(struct deliverer *d);

/* Looks for due deliveries now (after a match, say). */
void deliverer_kick(struct deliverer *d);

/* Outcomes held in memory because they could not be recorded yet. */
int deliverer_unrecorded(const struct deliverer *d);

/* Failed attempts to recipients held down, counted instead of logged. */
long deliverer_quiet_attempts(const struct deliverer *d);

/* The recipients' circuit breakers (breaker_each(), breaker_down_count()). */
const struct breakers *deliverer_breakers(const struct deliverer *d);

/*
 * Stopping: starts no new delivery and calls done(arg) once the deliveries
 * under way have their answers recorded, or after seconds at most (those
 * still under way are sent again after a restart).  done may be called
 * before this returns.
 */
void deliverer_drain(struct deliverer *d, int seconds, void (*done)(void *arg), void *arg);

/*
 * The signed XML document of signal sig for party p (BSN included only when
 * p's grant allows it); NULL with e set.  xmlFreeDoc() it.
 */
xmlDocPtr deliver_document(struct app *app, const struct signal *sig, const struct party *p,
			   struct signer *sg, struct errbuf *e);

/*
 * Puts failed delivery id (or, with id < 0, every failed one) back in the
 * queue of store s, due now, and logs a `retry` entry naming what (the id
 * as given, or "all failed") in the same transaction; *n counts them (0:
 * there was none, nothing logged).
 */
enum status deliver_retry(struct store *s, int64_t id, const char *what, long *n,
			  struct errbuf *e);

#endif
