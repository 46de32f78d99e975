/*
 * deliver.c - the delivery outbox (see deliver.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/xmlwriter.h>

#include "breaker.h"
#include "deliver.h"
#include "disclose.h"
#include "exlog.h"
#include "log.h"
#include "output.h"
#include "trace.h"

#define SCAN_SECONDS 1
#define HELD_WAIT_MAX 10	/* seconds between two tries at recording an outcome, at most */
/*
 * A claim's lease outlasts the attempt it is for ([delivery] timeout) by
 * this much, for building and signing the message and for the nodes'
 * clocks differing: a node's own attempt always ends inside its lease.
 */
#define LEASE_MARGIN 10

/* One delivery under way. */
struct flight {
	struct deliverer *d;
	struct delivery_row row;
	bool fresh;		/* started by this scan: build its next ahead */
	bool bsn;		/* the message holds the BSN itself */
	struct flight *next;
};

/*
 * A message built ahead: while a recipient's deliveries are on the wire,
 * the one after its newest is read and signed, so that it can go as soon
 * as an answer comes (with max_in_flight 1 the line would otherwise be
 * idle while it signs).
 */
struct ready {
	int64_t id;		/* the delivery row */
	char oin[OIN_STR_LEN];
	bool bsn;		/* built for a grant with receive_bsn */
	xmlChar *body;
	int len;
	struct ready *next;
};

/*
 * An attempt's outcome, as record_outcome() stores it.  One that cannot be
 * recorded (a full disk, a database locked too long) is held in memory and
 * tried again with backoff; meanwhile no delivery starts, so nothing is
 * sent again because its answer could not be written down.
 */
struct attempt {
	struct delivery_row row;
	long status;
	double seconds, bytes;
	const char *outcome;	/* "delivered", "retry", "exhausted", "failed" */
	bool quiet;		/* a failed attempt in an outage: counted, not logged */
	bool bsn;		/* the message held the BSN itself (its disclosure says so) */
	const char *outage;	/* "recipient_down" or "recipient_up": logged with it */
	json_t *outage_detail;	/* owned */
	int64_t next_try;	/* held: the next try at recording it */
	int wait;
	struct attempt *next;
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
	struct breakers *breakers;
	struct attempt *held;	/* outcomes not recorded yet, oldest first */
	int nheld;
	long quiet_attempts;	/* failed attempts counted in outages, not logged */
	bool draining;		/* stopping: no new delivery starts */
	struct event *drain_timer;
	void (*drained)(void *arg);
	void *drained_arg;
};

static void schedule(struct deliverer *d, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(d->timer, &tv);
}

/* This node's name for its claims on the outbox ([server] node). */
static const char *node_name(const struct deliverer *d)
{
	return d->app->cfg.node != NULL ? d->app->cfg.node : "localhost";
}

/*
 * Ends the lease of a claimed row that is not sent after all (it stays as
 * it was, due again at once, for any node); a failure only delays it
 * until the lease lapses.
 */
static void release(struct deliverer *d, const struct delivery_row *row)
{
	struct store *s = d->app->store;
	struct errbuf e;

	if (store_begin(s, &e) != ST_OK || store_delivery_update(s, row, &e) != ST_OK ||
	    store_commit(s, &e) != ST_OK) {
		store_rollback(s);
		log_event(LV_WARN, "deliver", "cannot release a claim; it lapses by itself",
			  "message", row->message_id, "error", e.msg, NULL);
	}
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

/*
 * Stores an attempt's outcome and its log entries in one transaction: the
 * delivery entry (none for a quiet attempt), the outage entry, if any, and
 * for a delivered message its disclosure (with the BSN or not).
 * ST_FAIL, rolled back, with e set.
 */
static enum status record_outcome(struct deliverer *d, const struct attempt *a,
				  struct errbuf *e)
{
	struct store *s = d->app->store;
	const struct delivery_row *row = &a->row;
	enum status st = ST_OK;

	store_trace_set(s, row->trace_id);	/* the signal's trace */
	if (store_begin(s, e) != ST_OK ||
	    store_delivery_update(s, row, e) != ST_OK ||
	    (!a->quiet &&
	     exlog_append(s, "delivery", row->oin, row->message_id,
			  json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:s?, s:s}",
				    "signal", row->signal_id, "recipient", row->oin,
				    "attempt", row->attempts, "status", (int)a->status,
				    "ms", (json_int_t)(a->seconds * 1000),
				    "bytes", (json_int_t)a->bytes,
				    "error", row->last_error[0] ? row->last_error : NULL,
				    "outcome", a->outcome), e) != ST_OK) ||
	    (strcmp(a->outcome, "delivered") == 0 &&
	     disclose_push(s, &d->app->cfg, row->oin, row->signal_id, row->message_id, a->bsn,
			   e) != ST_OK) ||
	    (a->outage != NULL &&
	     exlog_append(s, a->outage, row->oin, row->oin, json_deep_copy(a->outage_detail),
			  e) != ST_OK) ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		st = ST_FAIL;
	}
	store_trace_set(s, NULL);
	return st;
}

/* Records a (and frees its outage detail), or holds a copy to record later. */
static void settle(struct deliverer *d, struct attempt *a)
{
	struct attempt *h, **pp;
	struct errbuf e;

	if (record_outcome(d, a, &e) == ST_OK) {
		json_decref(a->outage_detail);
		return;
	}
	h = malloc(sizeof(*h));
	if (h == NULL) {
		json_decref(a->outage_detail);
		log_event(LV_ERROR, "deliver", "cannot record the outcome; it will be sent again",
			  "message", a->row.message_id, "error", e.msg, NULL);
		return;
	}
	*h = *a;
	h->wait = 1;
	h->next_try = time(NULL) + h->wait;
	h->next = NULL;
	for (pp = &d->held; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = h;
	d->nheld++;
	log_event(LV_ERROR, "deliver", "cannot record the outcome yet; kept, and tried again "
		  "before anything more is sent", "message", a->row.message_id, "error", e.msg, NULL);
}

/*
 * Tries again to record the held outcomes, oldest first, when the first is
 * due (all of them at once when force); stops at the first that fails, which
 * then waits twice as long (at most HELD_WAIT_MAX seconds).
 */
static void record_held(struct deliverer *d, bool force)
{
	int64_t now = time(NULL);
	struct errbuf e;

	while (d->held != NULL && (force || d->held->next_try <= now)) {
		struct attempt *h = d->held;

		if (record_outcome(d, h, &e) != ST_OK) {
			h->wait = h->wait * 2 > HELD_WAIT_MAX ? HELD_WAIT_MAX : h->wait * 2;
			h->next_try = now + h->wait;
			log_event(LV_WARN, "deliver", "still cannot record the outcome", "message",
				  h->row.message_id, "error", e.msg, NULL);
			return;
		}
		log_event(LV_INFO, "deliver", "outcome recorded", "message", h->row.message_id,
			  "outcome", h->outcome, NULL);
		d->held = h->next;
		d->nheld--;
		json_decref(h->outage_detail);
		free(h);
	}
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

/*
 * The circuit breaker (breaker.h) after attempt a: a recipient held down
 * gets one "recipient_down" entry, logged with the attempt that holds it
 * down, and one "recipient_up" entry with its first answer; its failed
 * attempts in between are quiet (counted, not logged), and its next probe
 * waits with backoff.
 */
static void watch_recipient(struct deliverer *d, struct attempt *a, bool failed,
			    long retry_after)
{
	const struct config *cfg = &d->app->cfg;
	struct breaker_state st;
	int64_t now = time(NULL);
	enum breaker_event ev = breaker_count(d->breakers, a->row.oin, !failed,
					      cfg->delivery_breaker_failures, now, &st);

	if (ev == BREAKER_UP) {
		a->outage = "recipient_up";
		a->outage_detail = json_pack("{s:s, s:I, s:I, s:i}", "recipient", st.oin,
					     "seconds", (json_int_t)(now - st.since),
					     "attempts", (json_int_t)st.attempts,
					     "failed", st.failures);
		log_event(LV_INFO, "deliver", "recipient answers again", "recipient", st.oin, NULL);
		return;
	}
	if (!st.down)
		return;
	if (ev == BREAKER_DOWN) {
		a->outage = "recipient_down";
		a->outage_detail = json_pack("{s:s, s:i, s:s}", "recipient", st.oin,
					     "failed", st.failures, "error", a->row.last_error);
		log_event(LV_WARN, "deliver", "recipient down: probed with one delivery at a time "
			  "until it answers", "recipient", st.oin, "error", a->row.last_error, NULL);
	} else if (strcmp(a->outcome, "retry") == 0) {
		a->quiet = true;
		d->quiet_attempts++;
	}
	breaker_set_probe(d->breakers, st.oin,
			  now + backoff(cfg, (int)st.attempts + 1, retry_after));
}

/*
 * The drain is over: every answer is in, or the drain time has passed.
 * Tries the held outcomes once more, says what is left, and calls back.
 */
static void drain_done(struct deliverer *d)
{
	void (*done)(void *arg) = d->drained;
	char n[16];

	if (done == NULL)
		return;
	d->drained = NULL;
	evtimer_del(d->drain_timer);
	record_held(d, true);
	if (d->in_flight > 0) {
		snprintf(n, sizeof(n), "%d", d->in_flight);
		log_event(LV_WARN, "deliver", "stopping with deliveries under way; they are sent "
			  "again after the restart", "deliveries", n, NULL);
	}
	if (d->nheld > 0) {
		snprintf(n, sizeof(n), "%d", d->nheld);
		log_event(LV_ERROR, "deliver", "stopping with outcomes not recorded; they are sent "
			  "again after the restart", "deliveries", n, NULL);
	}
	done(d->drained_arg);
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_done(arg);
}

static void on_done(void *arg, const struct fetch_result *r)
{
	struct flight *fl = arg, **pp;
	struct deliverer *d = fl->d;
	struct attempt a = { .row = fl->row, .status = r->status, .seconds = r->seconds,
			     .bytes = r->bytes };
	struct delivery_row *row = &a.row;
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
	a.outcome = outcome;
	a.bsn = fl->bsn;
	watch_recipient(d, &a, retryable(r), r->retry_after);
	{
		char status[8];

		snprintf(status, sizeof(status), "%ld", r->status);
		log_event(strcmp(outcome, "delivered") == 0 ? LV_INFO : a.quiet ? LV_DEBUG : LV_WARN,
			  "deliver", outcome, "recipient", row->oin, "message", row->message_id,
			  "status", status, "error", row->last_error, NULL);
	}
	settle(d, &a);
	for (pp = &d->flights; *pp != NULL; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	d->in_flight--;
	free(fl);
	if (d->draining && d->in_flight == 0)
		drain_done(d);
	else
		deliverer_kick(d);
}

/* The deliveries under way to oin; *newest (unless NULL) the latest by (next_at, id). */
static int flights_of(const struct deliverer *d, const char *oin, struct delivery_row *newest)
{
	int n = 0;

	for (const struct flight *f = d->flights; f != NULL; f = f->next) {
		if (strcmp(f->row.oin, oin) != 0)
			continue;
		if (newest != NULL && (n == 0 || f->row.next_at > newest->next_at ||
				       (f->row.next_at == newest->next_at && f->row.id > newest->id)))
			*newest = f->row;
		n++;
	}
	return n;
}

static bool row_in_flight(const struct deliverer *d, int64_t id)
{
	for (const struct flight *f = d->flights; f != NULL; f = f->next)
		if (f->row.id == id)
			return true;
	return false;
}

/*
 * How many more deliveries to oin (party p, or NULL) may start now: up to
 * its max_in_flight; while it is held down, one probe when it is due and
 * none is under way (breaker.h).
 */
static int recipient_slots(const struct deliverer *d, const struct party *p, const char *oin,
			   int under_way)
{
	int limit = p != NULL ? p->max_in_flight : 1;

	if (breaker_is_down(d->breakers, oin))
		limit = breaker_may_send(d->breakers, oin, time(NULL)) ? 1 : 0;
	return under_way < limit ? limit - under_way : 0;
}

/* Marks a delivery that cannot even be attempted as failed. */
static void fail_now(struct deliverer *d, struct delivery_row *row, const char *why)
{
	struct attempt a = { .row = *row, .outcome = "failed" };

	snprintf(a.row.state, sizeof(a.row.state), "failed");
	snprintf(a.row.last_error, sizeof(a.row.last_error), "%s", why);
	settle(d, &a);
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

/*
 * Builds, signs and starts one delivery to p (row's recipient, or NULL);
 * true when it is under way (a row that cannot be sent is failed, and one
 * that cannot be built now is left for the next scan).
 */
static bool start(struct deliverer *d, const struct party *p, const struct delivery_row *row)
{
	struct delivery_row copy = *row;
	struct flight *fl;
	char hdr_id[96], hdr_sig[64], hdr_trace[TRACEPARENT_LEN + 16];
	const char *headers[] = { "Content-Type: application/xml", hdr_id, hdr_sig, "Expect:",
				  NULL, NULL };
	xmlChar *body = NULL;
	int len = 0;
	struct errbuf e;
	bool gone;

	if (d->held != NULL || d->in_flight >= d->app->cfg.delivery_max_in_flight) {
		release(d, row);
		return false;
	}
	if (p == NULL || p->push_url == NULL) {
		fail_now(d, &copy, "the recipient has no push_url (any more)");
		return false;
	}
	body = take_ready(d, row, p->receive_bsn, &len);
	if (body == NULL && build_message(d, row, p, &body, &len, &gone, &e) != ST_OK) {
		if (gone) {
			fail_now(d, &copy, "the signal cannot be read");
			return false;
		}
		log_event(LV_ERROR, "deliver", "cannot build the message", "message",
			  row->message_id, "error", e.msg, NULL);
		release(d, row);
		return false;	/* tried again on the next scan */
	}
	fl = calloc(1, sizeof(*fl));
	if (fl == NULL) {
		xmlFree(body);
		log_event(LV_ERROR, "deliver", "cannot build the message", "message",
			  row->message_id, "error", "out of memory", NULL);
		release(d, row);
		return false;	/* tried again on the next scan */
	}
	fl->d = d;
	fl->row = copy;
	/* what the recipient gets: only a granted BSN is written as <bsn> */
	fl->bsn = body != NULL && strstr((const char *)body, "<bsn>") != NULL;
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
		release(d, row);
		return false;
	}
	xmlFree(body);
	fl->fresh = true;
	fl->next = d->flights;
	d->flights = fl;
	d->in_flight++;
	return true;
}

/* What start_recipient() hands to start_more(). */
struct pick {
	struct deliverer *d;
	const struct party *p;
	int slots;		/* deliveries that may still start */
};

/*
 * store_deliveries_claim()'s callback: starts a row this node has claimed
 * (one under way here already, whose lease lapsed, is left to run).
 */
static int start_claimed(void *arg, const struct delivery_row *row)
{
	struct pick *k = arg;

	if (!row_in_flight(k->d, row->id))
		start(k->d, k->p, row);
	return 0;
}

/*
 * store_deliveries_next()'s callback, with the oldest due delivery of a
 * recipient: claims as many of its due deliveries, oldest first, as it may
 * take now (recipient_slots(), and what [delivery] max_in_flight leaves)
 * and no other node holds, and starts them.
 */
static int start_recipient(void *arg, const struct delivery_row *row)
{
	struct deliverer *d = arg;
	const struct config *cfg = &d->app->cfg;
	const struct party *p = config_party(cfg, row->oin);
	int under_way = flights_of(d, row->oin, NULL);
	struct pick k = { d, p, recipient_slots(d, p, row->oin, under_way) };
	struct errbuf e;

	if (k.slots > cfg->delivery_max_in_flight - d->in_flight)
		k.slots = cfg->delivery_max_in_flight - d->in_flight;
	if (k.slots <= 0 || d->held != NULL)
		return 0;
	if (store_deliveries_claim(d->app->store, node_name(d), row->oin, time(NULL),
				   cfg->delivery_timeout + LEASE_MARGIN, k.slots, start_claimed, &k,
				   &e) != ST_OK)
		log_event(LV_ERROR, "deliver", "cannot claim from the outbox", "error", e.msg, NULL);
	return 0;
}

/*
 * Puts the deliveries just started on the wire, then, for each recipient
 * they go to, builds the message that comes after its newest delivery under
 * way while the answers are awaited.  After the scan, not inside it: the
 * kick may finish a delivery (on_done), and the scan's rows would then be
 * out of date.
 */
static void build_next_ahead(struct deliverer *d)
{
	char (*oins)[OIN_STR_LEN] = calloc((size_t)d->in_flight + 1, sizeof(*oins));
	int64_t now = time(NULL);
	struct delivery_row newest;
	struct errbuf e;
	int n = 0;

	if (oins == NULL)
		return;	/* only an optimisation */
	for (struct flight *fl = d->flights; fl != NULL && n < d->in_flight; fl = fl->next) {
		int i = 0;

		if (!fl->fresh)
			continue;
		fl->fresh = false;
		while (i < n && strcmp(oins[i], fl->row.oin) != 0)
			i++;
		if (i == n)
			snprintf(oins[n++], sizeof(*oins), "%s", fl->row.oin);
	}
	if (n > 0)
		fetcher_kick(d->fetcher);
	for (int i = 0; i < n; i++)
		if (flights_of(d, oins[i], &newest) > 0 &&
		    store_delivery_after(d->app->store, &newest, now, build_ahead, d, &e) != ST_OK)
			log_event(LV_WARN, "deliver", "cannot read the outbox", "error", e.msg,
				  NULL);
	free(oins);
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
	record_held(d, false);
	if (d->held != NULL || d->draining)
		return;	/* nothing new while an outcome waits to be recorded */
	if (d->in_flight < d->app->cfg.delivery_max_in_flight &&
	    store_deliveries_next(d->app->store, time(NULL), 0, start_recipient, d, &e) != ST_OK)
		log_event(LV_ERROR, "deliver", "cannot read the outbox", "error", e.msg, NULL);
	build_next_ahead(d);
}

/* What this node claimed before it (re)started is not under way: claimable at once. */
static void release_own(struct deliverer *d)
{
	struct errbuf e;
	char n[24];
	long released = 0;

	if (store_deliveries_release(d->app->store, node_name(d), &released, &e) != ST_OK) {
		log_event(LV_WARN, "deliver", "cannot release this node's earlier claims; they "
			  "lapse by themselves", "node", node_name(d), "error", e.msg, NULL);
		return;
	}
	snprintf(n, sizeof(n), "%ld", released);
	if (released > 0)
		log_event(LV_INFO, "deliver", "released this node's earlier claims", "node",
			  node_name(d), "deliveries", n, NULL);
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
	d->drain_timer = evtimer_new(base, on_drain_timeout, d);
	d->breakers = breaker_new();
	if (d->timer == NULL || d->drain_timer == NULL || d->breakers == NULL) {
		deliverer_free(d);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	release_own(d);
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
	while (d->held != NULL) {
		struct attempt *next = d->held->next;

		json_decref(d->held->outage_detail);
		free(d->held);
		d->held = next;
	}
	breaker_free(d->breakers);
	if (d->drain_timer != NULL)
		event_free(d->drain_timer);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d);
}

void deliverer_kick(struct deliverer *d)
{
	if (d != NULL)
		schedule(d, 0);
}

int deliverer_unrecorded(const struct deliverer *d)
{
	return d->nheld;
}

long deliverer_quiet_attempts(const struct deliverer *d)
{
	return d->quiet_attempts;
}

const struct breakers *deliverer_breakers(const struct deliverer *d)
{
	return d->breakers;
}

void deliverer_drain(struct deliverer *d, int seconds, void (*done)(void *arg), void *arg)
{
	struct timeval tv = { seconds, 0 };
	char n[16];

	d->draining = true;
	d->drained = done;
	d->drained_arg = arg;
	if (d->in_flight == 0) {
		drain_done(d);
		return;
	}
	snprintf(n, sizeof(n), "%d", d->in_flight);
	log_event(LV_INFO, "deliver", "stopping: waiting for the answers of the deliveries under "
		  "way", "deliveries", n, NULL);
	evtimer_add(d->drain_timer, &tv);
}

enum status deliver_retry(struct store *s, int64_t id, const char *what, long *n,
			  struct errbuf *e)
{
	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (store_delivery_retry(s, id, time(NULL), n, e) != ST_OK ||
	    (*n > 0 && exlog_append(s, "retry", NULL, what,
				    json_pack("{s:I}", "deliveries", (json_int_t)*n), e) != ST_OK) ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}
