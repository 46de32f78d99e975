/*
 * otlp.c - the OTLP/HTTP JSON export of the processing records (see otlp.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ldv.h"
#include "log.h"
#include "otlp.h"

#define IDLE_SECONDS 1		/* between looks when everything is sent */
#define BACKOFF_MAX 60		/* the longest wait after failures */
#define MAX_ANSWER (64 << 10)	/* of the collector's answer, what is read */

struct otlp {
	struct app *app;
	struct fetcher *fetcher;
	struct event *timer, *drain_timer;
	bool in_flight, draining;
	int failures;
	int64_t next_seq;	/* the cursor after the batch under way */
	long next_item;
	int spans;		/* in the batch under way */
	char *answer;
	size_t answer_len;
	void (*drained)(void *arg);
	void *drained_arg;
};

/* {"key": key, "value": {"stringValue": value}} appended to attrs. */
static void kv(json_t *attrs, const char *key, const char *value)
{
	if (value != NULL && value[0] != '\0')
		json_array_append_new(attrs, json_pack("{s:s, s:{s:s}}", "key", key, "value",
						       "stringValue", value));
}

/* The same with an intValue (a decimal string, as OTLP/JSON writes int64). */
static void kv_int(json_t *attrs, const char *key, int64_t value)
{
	char v[24];

	snprintf(v, sizeof(v), "%" PRId64, value);
	json_array_append_new(attrs, json_pack("{s:s, s:{s:s}}", "key", key, "value",
					       "intValue", v));
}

/* An OTLP Span with the fields every record has. */
static json_t *span_json(const struct ldv_span_row *r, const char *span_id, const char *parent,
			 const char *name, json_t *attrs)
{
	char start[24], end[24];
	json_t *o;

	snprintf(start, sizeof(start), "%" PRId64, r->start_ns);
	snprintf(end, sizeof(end), "%" PRId64, r->end_ns);
	o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:o, s:{s:i}}", "traceId", r->trace_id,
		      "spanId", span_id, "name", name, "kind", 1 /* SPAN_KIND_INTERNAL */,
		      "startTimeUnixNano", start, "endTimeUnixNano", end, "attributes", attrs,
		      "status", "code", r->status);
	if (o != NULL && parent != NULL && parent[0] != '\0')
		json_object_set_new(o, "parentSpanId", json_string(parent));
	return o;
}

/*
 * The span id of a record's child for subject n: the first 16 hex digits
 * of SHA-256(span_id "/" n), the same at every export.
 */
static void child_span_id(const char *span_id, long n, char out[17])
{
	struct sha256 *h = crypto_sha256_new();
	char num[24], hex[65];

	snprintf(num, sizeof(num), "/%ld", n);
	if (h == NULL) {
		memset(out, 0, 17);
		return;
	}
	crypto_sha256_update(h, span_id, strlen(span_id));
	crypto_sha256_update(h, num, strlen(num));
	crypto_sha256_final(h, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

struct walk {
	struct store *s;
	json_t *spans;
	int n, max;
	int64_t seq;
	long item;
	const struct ldv_span_row *span;	/* whose subjects are being read */
	bool nomem;
	struct errbuf *e;
};

static int add_subject(void *arg, long n, const uint8_t *pseudonym)
{
	struct walk *w = arg;
	const struct ldv_span_row *r = w->span;
	char id[17], hex[2 * PSEUDONYM_LEN + 1], name[64];
	json_t *attrs = json_array(), *o;

	child_span_id(r->span_id, n, id);
	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	snprintf(name, sizeof(name), "%s.subject", r->name);
	kv(attrs, "dpl.core.processing_activity_id", r->activity);
	kv(attrs, "dpl.core.data_subject_id", hex);
	kv(attrs, "dpl.core.data_subject_id_type", LDV_SUBJECT_ID_TYPE);
	o = span_json(r, id, r->span_id, name, attrs);
	if (id[0] == '\0' || o == NULL || json_array_append_new(w->spans, o) != 0) {
		w->nomem = true;
		return 1;
	}
	w->n++;
	w->item = n + 2;
	return 0;
}

/* One record of the search: the span, then as many subjects as fit. */
static int add_span(void *arg, const struct ldv_span_row *r)
{
	struct walk *w = arg;
	long from = r->seq == w->seq ? w->item : 0, total = 1 + r->subjects;
	json_t *attrs, *o;

	if (w->n >= w->max || from >= total) {
		if (w->n < w->max) {	/* a record sent whole: the cursor passes it */
			w->seq = r->seq;
			w->item = total;
		}
		return 0;
	}
	w->seq = r->seq;
	w->item = from;
	if (from == 0) {
		attrs = json_array();
		kv(attrs, "dpl.core.processing_activity_id", r->activity);
		kv(attrs, "schakel.object", r->object);
		kv(attrs, "schakel.party", r->party);
		kv_int(attrs, "schakel.subjects", r->subjects);
		kv_int(attrs, "schakel.exchange_log_entry", r->exlog_seq);
		o = span_json(r, r->span_id, r->parent_span_id, r->name, attrs);
		if (o == NULL || json_array_append_new(w->spans, o) != 0) {
			w->nomem = true;
			return 1;
		}
		w->n++;
		w->item = 1;
	}
	if (w->n < w->max && w->item < total) {
		w->span = r;
		if (store_ldv_subjects(w->s, r->seq, w->item - 1, w->max - w->n, add_subject, w,
				       w->e) != ST_OK)
			return 1;
	}
	return 0;
}

enum status otlp_batch(struct store *s, int64_t seq, long item, int max, json_t **req,
		       int64_t *next_seq, long *next_item, int *n, struct errbuf *e)
{
	struct walk w = { .s = s, .spans = json_array(), .max = max, .seq = seq, .item = item,
			  .e = e };
	struct ldv_filter f = { .after = seq > 0 ? seq - 1 : 0, .limit = max + 1 };

	*req = NULL;
	*n = 0;
	if (w.spans == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (store_ldv_search(s, &f, add_span, &w, e) != ST_OK || w.nomem) {
		json_decref(w.spans);
		return w.nomem ? errbuf_set(e, ST_FAIL, "out of memory") : ST_FAIL;
	}
	*next_seq = w.seq;
	*next_item = w.item;
	*n = w.n;
	if (w.n == 0) {
		json_decref(w.spans);
		return ST_OK;
	}
	*req = json_pack("{s:[{s:{s:[{s:s, s:{s:s}}]}, s:[{s:{s:s, s:s}, s:o}]}]}",
			 "resourceSpans", "resource", "attributes", "key", "service.name", "value",
			 "stringValue", "schakel", "scopeSpans", "scope", "name", "schakel.ldv",
			 "version", OTLP_LDV_DRAFT, "spans", w.spans);
	return *req != NULL ? ST_OK : errbuf_set(e, ST_FAIL, "out of memory");
}

static void schedule(struct otlp *x, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (!x->draining)
		evtimer_add(x->timer, &tv);
}

static void drain_done(struct otlp *x)
{
	void (*done)(void *arg) = x->drained;

	x->drained = NULL;
	evtimer_del(x->drain_timer);
	if (done != NULL)
		done(x->drained_arg);
}

static int on_data(void *arg, const void *buf, size_t len)
{
	struct otlp *x = arg;
	char *more;

	if (x->answer_len + len > MAX_ANSWER)
		return 0;	/* the rest is not read */
	more = realloc(x->answer, x->answer_len + len + 1);
	if (more == NULL)
		return 0;
	x->answer = more;
	memcpy(x->answer + x->answer_len, buf, len);
	x->answer_len += len;
	x->answer[x->answer_len] = '\0';
	return 0;
}

/* A 2xx answer: the cursor moves past the batch (one transaction). */
static enum status accepted(struct otlp *x, struct errbuf *e)
{
	struct store *s = x->app->store;
	json_t *a = x->answer != NULL ? json_loads(x->answer, 0, NULL) : NULL;
	json_int_t rejected = json_integer_value(json_object_get(json_object_get(
		a, "partialSuccess"), "rejectedSpans"));
	char n[24];

	json_decref(a);
	if (rejected > 0) {	/* OTLP: not to be sent again */
		snprintf(n, sizeof(n), "%" JSON_INTEGER_FORMAT, rejected);
		log_event(LV_WARN, "ldv", "the collector rejected spans", "spans", n, NULL);
	}
	if (store_begin(s, e) != ST_OK ||
	    store_ldv_cursor_set(s, x->next_seq, x->next_item, e) != ST_OK ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}

static void on_done(void *arg, const struct fetch_result *r)
{
	struct otlp *x = arg;
	struct errbuf e = { 0 };
	char status[16], spans[16], wait[16];
	int seconds;

	x->in_flight = false;
	snprintf(status, sizeof(status), "%ld", r->status);
	snprintf(spans, sizeof(spans), "%d", x->spans);
	if (r->status >= 200 && r->status < 300 && accepted(x, &e) == ST_OK) {
		x->failures = 0;
		log_event(LV_DEBUG, "ldv", "exported", "spans", spans, NULL);
		schedule(x, 0);
	} else {
		seconds = x->failures < 6 ? 1 << x->failures : BACKOFF_MAX;
		x->failures++;
		snprintf(wait, sizeof(wait), "%d", seconds);
		log_event(LV_WARN, "ldv", "export failed, will retry", "status", status, "spans",
			  spans, "retry_in", wait, "error",
			  r->error != NULL ? r->error : r->status >= 200 && r->status < 300 ?
			  e.msg : "refused by the collector", NULL);
		schedule(x, seconds);
	}
	free(x->answer);
	x->answer = NULL;
	x->answer_len = 0;
	if (x->draining)
		drain_done(x);
}

/* Sends the next batch, if there is one. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	struct otlp *x = arg;
	const struct config *cfg = &x->app->cfg;
	int64_t seq;
	long item;
	json_t *req = NULL;
	char *body = NULL;
	struct errbuf e;

	(void)fd;
	(void)what;
	if (x->in_flight || x->draining)
		return;
	if (store_ldv_cursor(x->app->store, &seq, &item, &e) != ST_OK ||
	    otlp_batch(x->app->store, seq, item, cfg->ldv_otlp_batch, &req, &x->next_seq,
		       &x->next_item, &x->spans, &e) != ST_OK) {
		log_event(LV_WARN, "ldv", "cannot read the processing records", "error", e.msg, NULL);
		schedule(x, IDLE_SECONDS);
		return;
	}
	if (req == NULL) {
		schedule(x, IDLE_SECONDS);
		return;
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL ||
	    fetcher_start(x->fetcher, &(struct fetch_req){
		    .url = cfg->ldv_otlp_url, .method = "POST", .body = body,
		    .body_len = strlen(body), .headers = headers,
		    .timeout_ms = cfg->ldv_otlp_timeout * 1000L, .connect_timeout_ms = 10000,
		    .on_data = on_data, .on_done = on_done, .arg = x }, &e) != ST_OK) {
		log_event(LV_WARN, "ldv", "cannot start the export", "error",
			  body == NULL ? "out of memory" : e.msg, NULL);
		schedule(x, IDLE_SECONDS);
	} else {
		x->in_flight = true;
	}
	free(body);	/* fetcher_start() copied it */
}

static void on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_done(arg);
}

struct otlp *otlp_new(struct app *app, struct event_base *base, struct fetcher *f,
		      struct errbuf *e)
{
	struct otlp *x = calloc(1, sizeof(*x));

	if (x == NULL)
		goto out_nomem;
	x->app = app;
	x->fetcher = f;
	x->timer = evtimer_new(base, on_timer, x);
	x->drain_timer = evtimer_new(base, on_drain_timeout, x);
	if (x->timer == NULL || x->drain_timer == NULL)
		goto out_nomem;
	schedule(x, 0);
	return x;
out_nomem:
	otlp_free(x);
	errbuf_set(e, ST_FAIL, "out of memory");
	return NULL;
}

void otlp_kick(struct otlp *x)
{
	if (x != NULL && !x->in_flight)
		schedule(x, 0);
}

void otlp_drain(struct otlp *x, int seconds, void (*done)(void *arg), void *arg)
{
	struct timeval tv = { seconds, 0 };

	x->draining = true;
	x->drained = done;
	x->drained_arg = arg;
	evtimer_del(x->timer);
	if (!x->in_flight) {
		drain_done(x);
		return;
	}
	evtimer_add(x->drain_timer, &tv);
}

void otlp_free(struct otlp *x)
{
	if (x == NULL)
		return;
	if (x->timer != NULL)
		event_free(x->timer);
	if (x->drain_timer != NULL)
		event_free(x->drain_timer);
	free(x->answer);
	free(x);
}
