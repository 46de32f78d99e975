/*
 * pull.h - fetching from the configured sources ([source.<name>]).
 *
 * Each source is fetched on its own schedule over mutual TLS, on the
 * daemon's loop (fetch.h), and one failing or slow source holds up no
 * other.  A download streams to a spool file under DIR/spool as it arrives
 * and is then read by the source's adapter in one transaction, exactly as
 * an upload (see api.c for why the spool: the loop serves other work while
 * bytes arrive, and one transaction must hold one whole input); in the
 * daemon on a worker thread (puller_set_work), with the worker's own
 * installation.
 *
 * A paged feed (an adapter that reports a cursor, the inspectorate's) is
 * asked for ?na=<cursor> page after page until its cursor is null; each
 * page commits together with the cursor that follows it, so a pull killed
 * half-way resumes after a restart at the first page not stored.  The
 * cursor of the last page is kept, so the next round asks for that page
 * again and anything after it.  Sources that send ETag or Last-Modified
 * are asked If-None-Match / If-Modified-Since, and a 304 reads nothing.
 * Failures are retried with exponential backoff and jitter, never sooner
 * than the source's interval would.  Every pull is an exchange-log entry.
 */
#ifndef SCHAKEL_PULL_H
#define SCHAKEL_PULL_H

#include <event2/event.h>

#include "app.h"
#include "fetch.h"
#include "work.h"

struct puller;

/*
 * A puller for app's sources.  on_change (may be NULL) is called after a
 * round that stored new or changed records.
 */
struct puller *puller_new(struct app *app, struct event_base *base, struct fetcher *f,
			  void (*on_change)(void *arg), void *arg, struct errbuf *e);
void puller_free(struct puller *p);

/* Pages are read on work's threads from now on (NULL: on the loop, as by default). */
void puller_set_work(struct puller *p, struct work_pool *work);

/*
 * Scheduled rounds need node's lease of the source ("pull:<name>",
 * node.h), so that one node of several pulls it; NULL (the default): none.
 */
struct node;
void puller_set_node(struct puller *p, struct node *node);

/* Keeps pulling every source on its schedule (the daemon). */
void puller_schedule(struct puller *p);

/*
 * The URL of a source's next page: base, with ?na=<cursor> (or &na=) for a
 * paged one, the cursor percent-encoded; base itself for an empty cursor.
 * malloc'd; NULL when out of memory.
 */
char *puller_page_url(const char *base, const char *cursor);

/*
 * Runs one round of source name (NULL: every source) now; done(arg,
 * failures) is called once all are over.  Progress and outcomes are
 * reported through report (may be NULL), one line each.
 */
enum status puller_round(struct puller *p, const char *name,
			 void (*report)(void *arg, const char *line),
			 void (*done)(void *arg, int failures), void *arg, struct errbuf *e);

#endif
