/*
 * otlp.h - the export of the processing records (ldv.h) to an
 * OpenTelemetry collector: OTLP/HTTP with JSON bodies (POST [ldv] otlp_url,
 * an ExportTraceServiceRequest), over mutual TLS with the daemon's
 * fetcher (fetch.h), on its event loop.
 *
 * The exporter reads the records from a cursor kept in the store
 * (store_ldv_cursor()), sends at most [ldv] otlp_batch spans a request
 * (a record, and one child span per data subject) and moves the cursor
 * only when the collector has answered 2xx, in a transaction of its own.
 * A failure (no answer, any other status) is tried again from the same
 * cursor after 1, 2, 4 ... 60 seconds, so nothing is lost across a
 * collector outage or a restart; a batch is sent again only when the
 * daemon died between the collector's answer and that commit.
 */
#ifndef SCHAKEL_OTLP_H
#define SCHAKEL_OTLP_H

#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "app.h"
#include "fetch.h"
#include "status.h"

/* The draft of Logboek Dataverwerkingen this export follows (docs/formats.md). */
#define OTLP_LDV_DRAFT "Logboek Dataverwerkingen 0.8.0 (werkversie 2024-12-13)"

struct otlp;

/*
 * Builds the ExportTraceServiceRequest of at most max spans from cursor
 * (seq, item) on, into *req (NULL when there is nothing to send), with the
 * cursor after it in *next_seq, *next_item and the spans counted in *n.
 */
enum status otlp_batch(struct store *s, int64_t seq, long item, int max, json_t **req,
		       int64_t *next_seq, long *next_item, int *n, struct errbuf *e);

/* An exporter to app's [ldv] otlp_url (which must be set). */
struct otlp *otlp_new(struct app *app, struct event_base *base, struct fetcher *f,
		      struct errbuf *e);

/* Looks for new records now (after an ingest or a match). */
void otlp_kick(struct otlp *x);

/* Stops exporting; calls done once the request under way (if any) is
 * answered and recorded, or after seconds. */
void otlp_drain(struct otlp *x, int seconds, void (*done)(void *arg), void *arg);

/* Frees x; accepts NULL.  Call fetcher_free() first. */
void otlp_free(struct otlp *x);

#endif
