/*
 * deliver.c - the delivery outbox (see deliver.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlwriter.h>

#include "deliver.h"
#include "exlog.h"
#include "log.h"
#include "output.h"
#include "trace.h"

#define SCAN_SECONDS 1

/* One delivery under way. */
struct flight {
	struct deliverer *d;
	struct delivery_row row;
	bool fresh;		/* started by this scan: build its next ahead */
	struct flight *next;
};

/*
 * A message built ahead: while a recipient's delivery is on the wire, its
 * next one is read and signed, so that it can go as soon as the answer
 * comes (the deliverer sends one at a time per recipient, and would
 * otherwise leave the line idle while it signs).
 */
struct ready {
	int64_t id;		/* the delivery row */
	char oin[OIN_STR_LEN];
	bool bsn;		/* built for a grant with receive_bsn */
	xmlChar *body;
	int len;
	struct ready *next;
};

struct deliverer {
	struct app *app;
	struct event_base *base;
	struct fetcher *fetcher;
	struct signer *signer;
	struct event *timer;
	struct flight *flights;
	struct ready *ready;
	int in_flight;
};

static void schedule(struct deliverer *d, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(d->timer, &tv);
}

/* Loads signal id into *sig (caller clears it). */
static int copy_signal(void *arg, const struct signal *sig)
{
	struct signal *out = arg;

	*out = *sig;
	out->evidence = malloc((sig->nevidence ? sig->nevidence : 1) * sizeof(*sig->evidence));
	out->recipients = malloc((sig->nrecipients ? sig->nrecipients : 1) *
				 sizeof(*sig->recipients));
	if (out->evidence == NULL || out->recipients == NULL) {
		signal_clear(out);
		return -1;
	}
	memcpy(out->evidence, sig->evidence, sig->nevidence * sizeof(*sig->evidence));
	memcpy(out->recipients, sig->recipients, sig->nrecipients * sizeof(*sig->recipients));
	return 0;
}

/* The BSN of the signal's person, where p's grant allows it. */
static bool grant_bsn(struct app *app, const struct signal *sig, const struct party *p,
		      char bsn[10])
{
	uint8_t sealed[SEALED_BSN_LEN];
	struct errbuf e;
	bool found;

	return p->receive_bsn && sig->has_person &&
	       store_person_bsn(app->store, sig->person, sealed, &found, &e) == ST_OK && found &&
	       crypto_open_bsn(&app->keys, sealed, sig->person, bsn, &e) == ST_OK;
}

xmlDocPtr deliver_document(struct app *app, const struct signal *sig, const struct party *p,
			   struct signer *sg, struct errbuf *e)
{
	xmlDocPtr doc = NULL;
	xmlTextWriterPtr w = xmlNewTextWriterDoc(&doc, 0);
	char bsn[10];
	bool with_bsn = grant_bsn(app, sig, p, bsn);
	int rc;

	if (w == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	rc = xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ||
	     output_signal_xml(w, sig, 1, with_bsn ? bsn : NULL) != 0 ||
	     xmlTextWriterEndDocument(w) < 0;
	xmlFreeTextWriter(w);
	memset(bsn, 0, sizeof(bsn));
	if (rc != 0 || doc == NULL) {
		xmlFreeDoc(doc);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	if (sign_doc(sg, doc, e) != ST_OK) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

/* Stores an attempt's outcome and its log entry in one transaction. */
static void record_outcome(struct deliverer *d, const struct delivery_row *row,
			   const struct fetch_result *r, const char *outcome)
{
	struct store *s = d->app->store;
	struct errbuf e;

	store_trace_set(s, row->trace_id);	/* the signal's trace */
	if (store_begin(s, &e) != ST_OK ||
	    store_delivery_update(s, row, &e) != ST_OK ||
	    exlog_append(s, "delivery", row->oin, row->message_id,
			 json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:s?, s:s}",
				   "signal", row->signal_id, "recipient", row->oin,
				   "attempt", row->attempts, "status", (int)(r ? r->status : 0),
				   "ms", (json_int_t)(r ? r->seconds * 1000 : 0),
				   "bytes", (json_int_t)(r ? r->bytes : 0),
				   "error", row->last_error[0] ? row->last_error : NULL,
				   "outcome", outcome), &e) != ST_OK ||
	    store_commit(s, &e) != ST_OK) {
		store_rollback(s);
		log_event(LV_ERROR, "deliver", "cannot record the outcome; it will be sent again",
			  "message", row->message_id, "error", e.msg, NULL);
	}
	store_trace_set(s, NULL);
}

/* The wait before the next attempt: exponential, with jitter. */
static long backoff(const struct config *cfg, int attempts, long retry_after)
{
	long wait = cfg->delivery_backoff_initial;

	for (int i = 1; i < attempts && wait < cfg->delivery_backoff_max; i++)
		wait *= 2;
	if (wait > cfg->delivery_backoff_max)
		wait = cfg->delivery_backoff_max;
	wait = wait / 2 + random() % (wait / 2 + 1);	/* between half and all of it */
	if (retry_after >= 0)
		wait = retry_after + 1;	/* whole seconds: never a moment early */
	return wait < 1 ? 1 : wait;
}

static bool retryable(const struct fetch_result *r)
{
	return r->error != NULL || r->status == 0 || r->status >= 500 || r->status == 408 ||
	       r->status == 429;
}

static void on_done(void *arg, const struct fetch_result *r)
{
	struct flight *fl = arg, **pp;
	struct deliverer *d = fl->d;
	struct delivery_row *row = &fl->row;
	int64_t now = time(NULL);
	const char *outcome;

	row->attempts++;
	row->last_status = r->status;
	snprintf(row->last_error, sizeof(row->last_error), "%s",
		 r->error != NULL ? r->error : "");
	if (r->error == NULL && r->status >= 200 && r->status < 300) {
		snprintf(row->state, sizeof(row->state), "delivered");
		row->delivered_at = now;
		outcome = "delivered";
	} else if (retryable(r)) {
		row->next_at = now + backoff(&d->app->cfg, row->attempts, r->retry_after);
		if (row->last_error[0] == '\0')
			snprintf(row->last_error, sizeof(row->last_error), "HTTP %ld", r->status);
		if (row->next_at > row->created + (int64_t)d->app->cfg.delivery_horizon_hours * 3600) {
			snprintf(row->state, sizeof(row->state), "failed");
			outcome = "exhausted";
		} else {
			outcome = "retry";
		}
	} else {
		snprintf(row->state, sizeof(row->state), "failed");
		snprintf(row->last_error, sizeof(row->last_error), "HTTP %ld: refused by the "
			 "recipient", r->status);
		outcome = "failed";
	}
	record_outcome(d, row, r, outcome);
	{
		char status[8];

		snprintf(status, sizeof(status), "%ld", r->status);
		log_event(strcmp(outcome, "delivered") == 0 ? LV_INFO : LV_WARN, "deliver", outcome,
			  "recipient", row->oin, "message", row->message_id, "status", status,
			  "error", row->last_error, NULL);
	}
	for (pp = &d->flights; *pp != NULL; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	d->in_flight--;
	free(fl);
	deliverer_kick(d);
}

static bool recipient_busy(struct deliverer *d, const char *oin)
{
	for (struct flight *f = d->flights; f != NULL; f = f->next)
		if (strcmp(f->row.oin, oin) == 0)
			return true;
	return false;
}

/* Marks a delivery that cannot even be attempted as failed. */
static void fail_now(struct deliverer *d, struct delivery_row *row, const char *why)
{
	snprintf(row->state, sizeof(row->state), "failed");
	snprintf(row->last_error, sizeof(row->last_error), "%s", why);
	record_outcome(d, row, NULL, "failed");
}

/*
 * Reads the signal of row and builds its signed message for p into *body.
 * ST_FAIL with e set; *unreadable when the signal itself is gone.
 */
static enum status build_message(struct deliverer *d, const struct delivery_row *row,
				 const struct party *p, xmlChar **body, int *len,
				 bool *unreadable, struct errbuf *e)
{
	struct signal_filter f = { .id = row->signal_id };
	struct signal sig = { 0 };
	xmlDocPtr doc;

	*body = NULL;
	*unreadable = false;
	if (store_signals(d->app->store, &f, copy_signal, &sig, e) != ST_OK ||
	    sig.id[0] == '\0') {
		*unreadable = true;
		return errbuf_set(e, ST_FAIL, "the signal cannot be read");
	}
	doc = deliver_document(d->app, &sig, p, d->signer, e);
	signal_clear(&sig);
	if (doc == NULL)
		return ST_FAIL;
	xmlDocDumpMemoryEnc(doc, body, len, "UTF-8");
	xmlFreeDoc(doc);
	if (*body == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	return ST_OK;
}

/* Takes the message built ahead for row's recipient: row's, or none. */
static xmlChar *take_ready(struct deliverer *d, const struct delivery_row *row, bool bsn,
			   int *len)
{
	xmlChar *body = NULL;

	for (struct ready **pp = &d->ready; *pp != NULL; pp = &(*pp)->next) {
		struct ready *r = *pp;

		if (strcmp(r->oin, row->oin) != 0)
			continue;
		*pp = r->next;
		if (r->id == row->id && r->bsn == bsn) {
			body = r->body;
			*len = r->len;
		} else {
			xmlFree(r->body);	/* another row came first after all */
		}
		free(r);
		break;
	}
	return body;
}

/* store_delivery_after()'s callback: builds the row's message ahead. */
static int build_ahead(void *arg, const struct delivery_row *row)
{
	struct deliverer *d = arg;
	const struct party *p = config_party(&d->app->cfg, row->oin);
	struct ready *r;
	struct errbuf e;
	bool gone;
	int unused;

	/* at most one per recipient: an older one is out of date */
	xmlFree(take_ready(d, row, p != NULL && p->receive_bsn, &unused));
	if (p == NULL || p->push_url == NULL || (r = calloc(1, sizeof(*r))) == NULL)
		return 0;
	if (build_message(d, row, p, &r->body, &r->len, &gone, &e) != ST_OK) {
		free(r);	/* start() will meet the problem and say so */
		return 0;
	}
	r->id = row->id;
	snprintf(r->oin, sizeof(r->oin), "%s", row->oin);
	r->bsn = p->receive_bsn;
	r->next = d->ready;
	d->ready = r;
	return 0;
}

/*
 * The "traceparent: ..." header line of a push into out, in the trace of
 * its signal with a span of its own; NULL for a signal without a trace.
 */
static const char *traceparent_header(const struct delivery_row *row,
				      char out[TRACEPARENT_LEN + 16])
{
	char tp[TRACEPARENT_LEN + 1];

	if (!trace_id_valid(row->trace_id) || !trace_format(row->trace_id, NULL, tp))
		return NULL;
	snprintf(out, TRACEPARENT_LEN + 16, "traceparent: %s", tp);
	return out;
}

/* Builds, signs and starts one delivery. */
static int start(void *arg, const struct delivery_row *row)
{
	struct deliverer *d = arg;
	const struct party *p = config_party(&d->app->cfg, row->oin);
	struct delivery_row copy = *row;
	struct flight *fl;
	char hdr_id[96], hdr_sig[64], hdr_trace[TRACEPARENT_LEN + 16];
	const char *headers[] = { "Content-Type: application/xml", hdr_id, hdr_sig, "Expect:",
				  NULL, NULL };
	xmlChar *body = NULL;
	int len = 0;
	struct errbuf e;
	bool gone;

	if (d->in_flight >= d->app->cfg.delivery_max_in_flight || recipient_busy(d, row->oin))
		return 0;
	if (p == NULL || p->push_url == NULL) {
		fail_now(d, &copy, "the recipient has no push_url (any more)");
		return 0;
	}
	body = take_ready(d, row, p->receive_bsn, &len);
	if (body == NULL && build_message(d, row, p, &body, &len, &gone, &e) != ST_OK) {
		if (gone) {
			fail_now(d, &copy, "the signal cannot be read");
			return 0;
		}
		log_event(LV_ERROR, "deliver", "cannot build the message", "message",
			  row->message_id, "error", e.msg, NULL);
		return 0;	/* tried again on the next scan */
	}
	fl = calloc(1, sizeof(*fl));
	if (fl == NULL) {
		xmlFree(body);
		log_event(LV_ERROR, "deliver", "cannot build the message", "message",
			  row->message_id, "error", "out of memory", NULL);
		return 0;	/* tried again on the next scan */
	}
	fl->d = d;
	fl->row = copy;
	snprintf(hdr_id, sizeof(hdr_id), "X-Message-Id: %s", row->message_id);
	snprintf(hdr_sig, sizeof(hdr_sig), "X-Signal-Id: %s", row->signal_id);
	headers[4] = traceparent_header(row, hdr_trace);
	struct fetch_req req = {
		.url = p->push_url, .method = "POST", .body = body, .body_len = (size_t)len,
		.headers = headers, .timeout_ms = d->app->cfg.delivery_timeout * 1000L,
		.connect_timeout_ms = 10000, .on_done = on_done, .arg = fl,
	};
	if (fetcher_start(d->fetcher, &req, &e) != ST_OK) {
		free(fl);
		xmlFree(body);
		return 0;
	}
	xmlFree(body);
	fl->fresh = true;
	fl->next = d->flights;
	d->flights = fl;
	d->in_flight++;
	return 0;
}

/*
 * Puts the deliveries just started on the wire, then builds the next
 * message of each of their recipients while the answers are awaited.
 * After the scan, not inside it: the kick may finish a delivery (on_done),
 * and the scan's rows would then be out of date.
 */
static void build_next_ahead(struct deliverer *d)
{
	struct delivery_row *rows = calloc((size_t)d->in_flight + 1, sizeof(*rows));
	int64_t now = time(NULL);
	struct errbuf e;
	int n = 0;

	if (rows == NULL)
		return;	/* only an optimisation */
	for (struct flight *fl = d->flights; fl != NULL && n < d->in_flight; fl = fl->next)
		if (fl->fresh) {
			fl->fresh = false;
			rows[n++] = fl->row;
		}
	if (n > 0)
		fetcher_kick(d->fetcher);
	for (int i = 0; i < n; i++)
		if (store_delivery_after(d->app->store, &rows[i], now, build_ahead, d,
					 &e) != ST_OK)
			log_event(LV_WARN, "deliver", "cannot read the outbox", "error", e.msg,
				  NULL);
	free(rows);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct deliverer *d = arg;
	struct errbuf e;

	(void)fd;
	(void)what;
	/* The next scan first: an answer that comes in while this one runs
	 * (curl reads the sockets in fetcher_kick()) kicks the deliverer, and
	 * the kick must not be overwritten by this scan's own SCAN_SECONDS. */
	schedule(d, SCAN_SECONDS);
	if (d->in_flight < d->app->cfg.delivery_max_in_flight &&
	    store_deliveries_next(d->app->store, time(NULL), 0, start, d, &e) != ST_OK)
		log_event(LV_ERROR, "deliver", "cannot read the outbox", "error", e.msg, NULL);
	build_next_ahead(d);
}

struct deliverer *deliverer_new(struct app *app, struct event_base *base, struct fetcher *f,
				struct signer *sg, struct errbuf *e)
{
	struct deliverer *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	d->app = app;
	d->base = base;
	d->fetcher = f;
	d->signer = sg;
	d->timer = evtimer_new(base, on_timer, d);
	if (d->timer == NULL) {
		free(d);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	schedule(d, 0);
	return d;
}

void deliverer_free(struct deliverer *d)
{
	if (d == NULL)
		return;
	while (d->flights != NULL) {
		struct flight *next = d->flights->next;

		free(d->flights);
		d->flights = next;
	}
	while (d->ready != NULL) {
		struct ready *next = d->ready->next;

		xmlFree(d->ready->body);
		free(d->ready);
		d->ready = next;
	}
	event_free(d->timer);
	free(d);
}

void deliverer_kick(struct deliverer *d)
{
	if (d != NULL)
		schedule(d, 0);
}

int deliverer_in_flight(const struct deliverer *d)
{
	return d->in_flight;
}
