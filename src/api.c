/*
 * api.c - the HTTPS API (see api.h).
 *
 * An upload is spooled to a file under DIR/spool as it arrives (memory
 * stays flat whatever its size), then read by the adapter in one
 * transaction, exactly as `schakel ingest` reads a file; a successful
 * upload is followed by matching as of today, so its signals reach the
 * inboxes at once.  The event loop is single-threaded: an ingest runs to its
 * end before the next request is served.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "api.h"
#include "disclose.h"
#include "exlog.h"
#include "log.h"
#include "ingest.h"
#include "loader.h"
#include "match.h"
#include "metrics.h"
#include "noise.h"
#include "output.h"
#include "portal.h"
#include "trace.h"

#define MAX_LIMIT 1000
#define MAX_REJECTIONS_SHOWN 1000
#define MAX_FEEDBACK_BYTES 16384
#define MAX_NOTE_CHARS 2000

struct api {
	struct app *app;
	struct noise *noise;	/* refusals of unidentified clients, not yet logged */
	char spool[4200];
};

/* One upload under way. */
struct upload {
	struct api *api;
	struct loaded_adapter *la;	/* the app's, kept */
	char oin[OIN_LEN + 1];	/* looked up again at the end: SIGHUP may reload */
	char path[4300];
	int fd;
};

/* A feedback body being read. */
struct body {
	char buf[MAX_FEEDBACK_BYTES];
	size_t len;
	char id[64];
};

struct api *api_new(struct app *app, struct errbuf *e)
{
	struct api *api = calloc(1, sizeof(*api));

	if (api == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	api->app = app;
	api->noise = noise_new();
	snprintf(api->spool, sizeof(api->spool), "%s/spool", app->dir);
	if (api->noise == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		free(api);
		return NULL;
	}
	if (mkdir(api->spool, 0700) != 0 && errno != EEXIST) {
		errbuf_set(e, ST_FAIL, "cannot create %s: %s", api->spool, strerror(errno));
		noise_free(api->noise);
		free(api);
		return NULL;
	}
	return api;
}

void api_flush_noise(struct api *api)
{
	struct errbuf e;
	char n[24];

	snprintf(n, sizeof(n), "%ld", noise_pending(api->noise));
	if (noise_flush(api->noise, api->app->store, &e) != ST_OK)
		log_event(LV_ERROR, "http", "cannot log the refusals of unidentified clients; "
			  "kept for the next try", "count", n, "error", e.msg, NULL);
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	api_flush_noise(api);	/* the daemon stops: nothing counted is lost */
	noise_free(api->noise);
	free(api);
}

static struct api *the_api;	/* the handlers' argument (one API per process) */

/*
 * Reads a non-negative integer parameter name from a query string: digits
 * only (no sign, no space), at most max; *bad when it is not.
 */
static long query_long(const char *query, const char *name, long def, long max, bool *bad)
{
	size_t n = strlen(name);

	for (const char *p = query; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			char *end;
			long v;

			errno = 0;
			v = strtol(p + n + 1, &end, 10);
			if (p[n + 1] < '0' || p[n + 1] > '9' || errno != 0 ||
			    (*end != '\0' && *end != '&') || v < 0 || v > max) {
				*bad = true;
				return def;
			}
			return v;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return def;
}

/*
 * A value from the request (a path or a segment of it) as a reason may
 * quote it: BSN-like numbers masked (log_mask_bsn), in buf of n bytes.
 */
static const char *outside(const char *v, char *buf, size_t n)
{
	log_mask_bsn(v, buf, n);
	return buf;
}
/* The query parameters of the paged lists, /v1/signals and /v1/log. */
static const char *const paged_params[] = { "after", "limit", NULL };

/* The caller's party, or NULL after a 403. */
static const struct party *caller(struct http_req *r)
{
	const struct party *p = config_party(&the_api->app->cfg, http_req_oin(r));

	if (p == NULL)
		http_reply_error(r, 403, "OIN %s is not a party of this exchange",
				 http_req_oin(r));
	return p;
}

/* --- uploads ---------------------------------------------------------- */

static void upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->path[0] != '\0')
		unlink(u->path);
	free(u);
}

static void upload_begin(struct http_req *r, const char *adapter)
{
	const struct party *p = caller(r);
	struct upload *u;
	struct errbuf e;
	char shown[64];

	if (p == NULL)
		return;
	if (!strlist_has(&p->supplies, adapter)) {
		http_reply_error(r, 403, "%s may not supply %.40s data", p->name,
				 outside(adapter, shown, sizeof(shown)));
		return;
	}
	if (http_req_content_length(r) == 0) {
		http_reply_error(r, 400, "the upload is empty (send the file as the body, "
				 "with a Content-Length)");
		return;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	u->api = the_api;
	memcpy(u->oin, p->oin, sizeof(u->oin));
	u->fd = -1;
	if (loader_cache_get(the_api->app->adapters, adapter, &u->la, &e) != ST_OK) {
		/* e names the file it looked for: not for outside eyes. */
		http_reply_error(r, 404, "no adapter '%.40s' on this exchange",
				 outside(adapter, shown, sizeof(shown)));
		goto out_free;
	}
	snprintf(u->path, sizeof(u->path), "%s/upload-XXXXXX", the_api->spool);
	u->fd = mkstemp(u->path);
	if (u->fd < 0) {
		u->path[0] = '\0';
		http_reply_error(r, 500, "cannot spool the upload: %s", strerror(errno));
		goto out_free;
	}
	http_req_set_data(r, u);
	return;
out_free:
	upload_free(u);
}

static int upload_body(struct http_req *r, const void *buf, size_t len)
{
	struct upload *u = http_req_data(r);

	for (const char *p = buf; len > 0;) {
		ssize_t n = write(u->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			http_reply_error(r, 500, "cannot spool the upload: %s", strerror(errno));
			http_req_set_data(r, NULL);
			upload_free(u);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct rejections {
	json_t *list;
	long count;
};

static void collect_reject(void *arg, const char *place, const char *reason)
{
	struct rejections *rj = arg;

	if (rj->count++ < MAX_REJECTIONS_SHOWN)
		json_array_append_new(rj->list, json_pack("{s:s, s:s}", "place", place,
							  "reason", reason));
}

/* Matches as of today after data came in; failures are the operator's. */
static void match_after_upload(struct api *api)
{
	struct match_result res;
	struct errbuf e;
	char today[11];

	match_today(today);
	if (match_run_mode(api->app, today, MATCH_CHANGED, &res, NULL, NULL, &e) != ST_OK)
		log_event(LV_ERROR, "match", "match after upload failed", "error", e.msg, NULL);
	else
		log_match(today, &res);
}

static void upload_end(struct http_req *r)
{
	struct upload *u = http_req_data(r);
	const struct party *p = caller(r);
	struct rejections rj = { NULL, 0 };
	struct ingest_opts opts = { .log_kind = "upload", .on_reject = collect_reject,
				    .arg = &rj };
	struct ingest_result res;
	struct trace_ctx tc;
	char origin[64];
	struct errbuf e;
	enum status st;

	http_req_set_data(r, NULL);
	if (p == NULL || !strlist_has(&p->supplies, u->la->adapter->name)) {
		http_reply_error(r, 403, "the party's grant changed during the upload");
		upload_free(u);
		return;
	}
	rj.list = json_array();
	opts.party = p->oin;
	opts.gemeenten = &p->gemeenten;
	snprintf(origin, sizeof(origin), "upload by %s", p->oin);
	opts.origin = origin;
	if (trace_start(http_req_header(r, "traceparent"), &tc, &e) != ST_OK) {
		http_reply_error(r, 500, "the upload could not be stored: %s", e.msg);
		upload_free(u);
		return;
	}
	store_trace_set(u->api->app->store, tc.trace_id);	/* the upload's trace */
	st = ingest_file(u->api->app, u->la, u->path, &opts, &res, &e);
	if (st == ST_FAIL && res.refused) {
		json_decref(rj.list);
		http_reply_error(r, 400, "the %s file is refused, nothing stored: %s",
				 u->la->adapter->name, e.msg);
	} else if (st == ST_FAIL) {
		json_decref(rj.list);
		http_reply_error(r, 500, "the upload could not be stored: %s", e.msg);
	} else {
		http_reply_json(r, 200, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:o, s:b, s:s}",
			"upload", (json_int_t)res.ingest_id, "adapter", u->la->adapter->name,
			"digest", res.digest, "accepted", (json_int_t)res.accepted,
			"changed", (json_int_t)res.changed, "rejected", (json_int_t)res.rejected,
			"rejections", rj.list, "rejections_complete",
			rj.count <= MAX_REJECTIONS_SHOWN, "trace_id", tc.trace_id));
		if (res.changed > 0)
			match_after_upload(u->api);	/* in the upload's trace */
	}
	store_trace_set(u->api->app->store, NULL);
	upload_free(u);
}

/* --- the inbox --------------------------------------------------------- */

struct inbox {
	const struct party *party;
	json_t *list;
	xmlTextWriterPtr xml;
	int64_t last;
	bool failed;
	char trace[33];		/* the signals' one trace; "" for none or several */
	bool traces;		/* a signal with a trace was seen */
	struct disclosures shown;	/* logged before the page is served */
};

/* The BSN itself, where the grant allows it (bsn NUL-terminated). */
static bool granted_bsn(struct inbox *in, const struct signal *sig, char bsn[10])
{
	uint8_t sealed[SEALED_BSN_LEN];
	struct errbuf e;
	bool found;

	return in->party->receive_bsn && sig->has_person &&
	       store_person_bsn(the_api->app->store, sig->person, sealed, &found, &e) == ST_OK &&
	       found && crypto_open_bsn(&the_api->app->keys, sealed, sig->person, bsn, &e) == ST_OK;
}

/* Keeps the trace of the page's signals while they all share one. */
static void note_trace(struct inbox *in, const struct signal *sig)
{
	if (!in->traces)
		snprintf(in->trace, sizeof(in->trace), "%s", sig->trace_id);
	else if (strcmp(in->trace, sig->trace_id) != 0)
		in->trace[0] = '\0';
	in->traces = true;
}

/*
 * The inbox's extra header lines into out (n bytes): X-Next-Cursor for XML
 * when xml, and a traceparent when the page's signals share one trace.
 */
static const char *inbox_headers(const struct inbox *in, bool xml, char *out, size_t n)
{
	char tp[TRACEPARENT_LEN + 1];
	int len = 0;

	out[0] = '\0';
	if (xml)
		len = snprintf(out, n, "X-Next-Cursor: %lld\r\n", (long long)in->last);
	if (in->trace[0] != '\0' && trace_format(in->trace, NULL, tp) && len >= 0 &&
	    (size_t)len < n)
		snprintf(out + len, n - (size_t)len, "traceparent: %s\r\n", tp);
	return out[0] != '\0' ? out : NULL;
}

static int inbox_signal(void *arg, const struct signal *sig)
{
	struct inbox *in = arg;
	char bsn[10];
	bool with_bsn = granted_bsn(in, sig, bsn);
	json_t *o;
	int rc = 0;

	in->last = sig->seq;
	note_trace(in, sig);
	if (in->xml != NULL) {
		if (output_signal_xml(in->xml, sig, 0, with_bsn ? bsn : NULL) != 0)
			rc = -1;
	} else if ((o = output_signal_json(sig)) == NULL) {
		rc = -1;
	} else {
		json_object_set_new(o, "cursor", json_integer(sig->seq));
		if (sig->trace_id[0] != '\0')
			json_object_set_new(o, "trace_id", json_string(sig->trace_id));
		if (with_bsn)
			json_object_set_new(o, "bsn", json_string(bsn));
		json_array_append_new(in->list, o);
	}
	memset(bsn, 0, sizeof(bsn));
	if (rc == 0 && disclose_add(&in->shown, sig->id, with_bsn) != ST_OK)
		rc = -1;
	in->failed = rc != 0;
	return rc;
}

/* Logs the page's disclosures; false after a 500 (then nothing is served). */
static bool inbox_disclosed(struct http_req *r, struct inbox *in, const char *format)
{
	struct errbuf e;
	enum status st = disclose_inbox(the_api->app->store, &the_api->app->cfg, in->party->oin,
					format, &in->shown, &e);

	disclose_free(&in->shown);
	if (st != ST_OK)
		http_reply_error(r, 500, "the disclosure cannot be logged, so nothing is served: "
				 "%s", e.msg);
	return st == ST_OK;
}

static void inbox_xml(struct http_req *r, struct inbox *in, struct signal_filter *f)
{
	xmlBufferPtr buf = xmlBufferCreate();
	struct errbuf e;

	in->xml = buf != NULL ? xmlNewTextWriterMemory(buf, 0) : NULL;
	if (in->xml == NULL) {
		xmlBufferFree(buf);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	xmlTextWriterStartDocument(in->xml, NULL, "UTF-8", NULL);
	xmlTextWriterStartElementNS(in->xml, NULL, (const xmlChar *)"signalen",
				    (const xmlChar *)SIGNAL_NS);
	if (store_signals(the_api->app->store, f, inbox_signal, in, &e) != ST_OK) {
		xmlFreeTextWriter(in->xml);
		xmlBufferFree(buf);
		disclose_free(&in->shown);
		http_reply_error(r, 500, "%s", in->failed ? "out of memory" : e.msg);
		return;
	}
	xmlTextWriterEndDocument(in->xml);
	xmlFreeTextWriter(in->xml);
	if (!inbox_disclosed(r, in, "xml")) {
		xmlBufferFree(buf);
		return;
	}
	{
		char extra[160];	/* the XML has no place for the cursor: a header */

		http_reply_headers(r, 200, "application/xml",
				   inbox_headers(in, true, extra, sizeof(extra)),
				   xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
	}
	xmlBufferFree(buf);
}

/* Replies 200 with o (its reference taken) and the inbox's trace header. */
static void reply_json_headers(struct http_req *r, json_t *o, const struct inbox *in)
{
	char extra[160], *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (text == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	size_t len = strlen(text);

	text[len] = '\n';	/* as http_reply_json(): json_dumps leaves room, the NUL */
	http_reply_headers(r, 200, "application/json",
			   inbox_headers(in, false, extra, sizeof(extra)), text, len + 1);
	free(text);
}

static void inbox(struct http_req *r)
{
	const struct party *p = caller(r);
	const char *accept = http_req_header(r, "Accept");
	struct inbox in = { .party = p };
	struct signal_filter f;
	struct errbuf e;
	bool bad = false;

	if (p == NULL || http_query_check(r, paged_params, 20) != 0)
		return;
	f = (struct signal_filter){
		.recipient = p->oin,
		.after = query_long(http_req_query(r), "after", 0, LONG_MAX, &bad),
		.limit = query_long(http_req_query(r), "limit", 100, MAX_LIMIT, &bad),
	};
	in.last = f.after;
	if (bad || f.limit == 0) {
		http_reply_error(r, 400, "after must be a cursor (0 or more) and limit a number "
				 "from 1 to %d", MAX_LIMIT);
		return;
	}
	if (accept != NULL && strstr(accept, "application/xml") != NULL) {
		inbox_xml(r, &in, &f);
		return;
	}
	in.list = json_array();
	if (store_signals(the_api->app->store, &f, inbox_signal, &in, &e) != ST_OK) {
		json_decref(in.list);
		disclose_free(&in.shown);
		http_reply_error(r, 500, "%s", in.failed ? "out of memory" : e.msg);
		return;
	}
	if (!inbox_disclosed(r, &in, "json")) {
		json_decref(in.list);
		return;
	}
	reply_json_headers(r, json_pack("{s:o, s:I}", "signals", in.list,
					"next", (json_int_t)in.last), &in);
}

/* --- feedback ---------------------------------------------------------- */

/*
 * Whether the request says its body is JSON (Content-Type application/json,
 * parameters allowed).  A browser sends no such type with a cross-site form,
 * and only after a CORS preflight (which this API refuses) with fetch().
 */
static bool json_content_type(struct http_req *r)
{
	const char *t = http_req_header(r, "Content-Type");
	static const char want[] = "application/json";

	if (t == NULL || strncasecmp(t, want, sizeof(want) - 1) != 0)
		return false;
	t += sizeof(want) - 1;
	return *t == '\0' || *t == ';' || *t == ' ' || *t == '\t';
}

/* The number of characters in the UTF-8 text s (jansson checked it). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void feedback_begin(struct http_req *r, const char *id)
{
	struct body *b;

	if (caller(r) == NULL)
		return;
	if (!json_content_type(r)) {
		http_reply_error(r, 415, "send the feedback as JSON, with Content-Type: "
				 "application/json");
		return;
	}
	if (http_req_content_length(r) > MAX_FEEDBACK_BYTES) {
		http_reply_error(r, 413, "feedback is at most %d bytes", MAX_FEEDBACK_BYTES);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	snprintf(b->id, sizeof(b->id), "%.40s", id);
	http_req_set_data(r, b);
}

static int feedback_body(struct http_req *r, const void *buf, size_t len)
{
	struct body *b = http_req_data(r);

	memcpy(b->buf + b->len, buf, len);	/* Content-Length was checked */
	b->len += len;
	return 0;
}

/* Stores and logs feedback in one transaction. */
static enum status feedback_store(const char *id, const char *oin, const char *outcome,
				  const char *note, int64_t *fid, struct errbuf *e)
{
	struct store *s = the_api->app->store;

	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (store_put_feedback(s, id, oin, outcome, note, fid, e) != ST_OK ||
	    exlog_append(s, "feedback", oin, id, json_pack("{s:s, s:I}", "outcome", outcome,
							   "feedback", (json_int_t)*fid), e) != ST_OK ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}

static void feedback_end(struct http_req *r)
{
	struct body *b = http_req_data(r);
	const char *outcome = NULL, *note = "";
	json_error_t jerr;
	struct errbuf e;
	char shown[64];
	int64_t fid;
	bool routed;
	json_t *o;

	http_req_set_data(r, NULL);
	o = json_loadb(b->buf, b->len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || json_unpack(o, "{s:s, s?s}", "outcome", &outcome, "note", &note) != 0) {
		http_reply_error(r, 400, "send {\"outcome\": \"bevestigd\" | \"onterecht\" | "
				 "\"in_behandeling\", \"note\": \"...\"}");
		goto out_free;
	}
	if (strcmp(outcome, "bevestigd") != 0 && strcmp(outcome, "onterecht") != 0 &&
	    strcmp(outcome, "in_behandeling") != 0) {
		http_reply_error(r, 400, "outcome must be bevestigd, onterecht or in_behandeling");
		goto out_free;
	}
	if (utf8_chars(note) > MAX_NOTE_CHARS) {
		http_reply_error(r, 400, "note is longer than %d characters", MAX_NOTE_CHARS);
		goto out_free;
	}
	if (store_signal_routed(the_api->app->store, b->id, http_req_oin(r), &routed, &e) != ST_OK) {
		http_reply_error(r, 500, "%s", e.msg);
		goto out_free;
	}
	if (!routed) {
		http_reply_error(r, 404, "no signal %s in this party's inbox",
				 outside(b->id, shown, sizeof(shown)));
		goto out_free;
	}
	if (feedback_store(b->id, http_req_oin(r), outcome, note, &fid, &e) != ST_OK)
		http_reply_error(r, 500, "%s", e.msg);
	else
		http_reply_json(r, 201, json_pack("{s:I, s:s, s:s}", "feedback", (json_int_t)fid,
						  "signal", b->id, "outcome", outcome));
out_free:
	json_decref(o);
	free(b);
}

/* --- the log ------------------------------------------------------------ */

struct log_list {
	json_t *list;
	int64_t last;
};

static int log_entry(void *arg, const struct exlog_row *row)
{
	struct log_list *l = arg;
	json_t *detail = json_loads(row->detail, 0, NULL);

	l->last = row->seq;
	return json_array_append_new(l->list, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o*, s:s}",
		"seq", (json_int_t)row->seq, "at", row->at, "kind", row->kind,
		"party", row->party, "subject", row->subject, "detail", detail,
		"hash", row->hash));
}

static void log_list(struct http_req *r)
{
	const struct party *p = caller(r);
	struct log_list l;
	struct errbuf e;
	bool bad = false;
	long after, limit;

	if (p == NULL || http_query_check(r, paged_params, 20) != 0)
		return;
	after = query_long(http_req_query(r), "after", 0, LONG_MAX, &bad);
	limit = query_long(http_req_query(r), "limit", 100, MAX_LIMIT, &bad);
	if (bad || limit == 0) {
		http_reply_error(r, 400, "after must be a sequence number and limit a number "
				 "from 1 to %d", MAX_LIMIT);
		return;
	}
	l = (struct log_list){ json_array(), after };
	if (store_log_search(the_api->app->store, &(struct log_filter){ .after = after,
			     .party = p->oin, .limit = limit }, log_entry, &l, &e) != ST_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:I}", "entries", l.list,
					  "next", (json_int_t)l.last));
}

/* --- routing ----------------------------------------------------------- */

/* Whether path is prefix + one segment (copied to seg) + suffix. */
static bool route_match(const char *path, const char *prefix, const char *suffix, char *seg,
			size_t n)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), len = strlen(path), lseg;

	if (len <= lp + ls || strncmp(path, prefix, lp) != 0 ||
	    strcmp(path + len - ls, suffix) != 0)
		return false;
	lseg = len - lp - ls;
	if (lseg >= n || memchr(path + lp, '/', lseg) != NULL)
		return false;
	memcpy(seg, path + lp, lseg);
	seg[lseg] = '\0';
	return true;
}

static bool method_is(struct http_req *r, const char *m)
{
	if (strcmp(http_req_method(r), m) == 0)
		return true;
	char shown[64];

	http_reply_error(r, 405, "%s is not allowed here; use %s",
			 outside(http_req_method(r), shown, sizeof(shown)), m);
	return false;
}

static void on_begin(struct http_req *r)
{
	const char *path = http_req_path(r);
	char seg[64], shown[128];

	if (route_match(path, "/v1/uploads/", "", seg, sizeof(seg))) {
		if (method_is(r, "POST"))
			upload_begin(r, seg);
	} else if (route_match(path, "/v1/signals/", "/feedback", seg, sizeof(seg))) {
		if (method_is(r, "POST"))
			feedback_begin(r, seg);
	} else if (strcmp(path, "/v1/signals") == 0) {
		if (method_is(r, "GET"))
			inbox(r);
	} else if (strcmp(path, "/v1/log") == 0) {
		if (method_is(r, "GET"))
			log_list(r);
	} else if (portal_serves(path)) {	/* the analyst's page (portal.c) */
		const struct party *p;

		if (method_is(r, "GET") && (p = caller(r)) != NULL)
			portal_reply(r, &the_api->app->cfg, p);
	} else {
		http_reply_error(r, 404, "no such endpoint: %.100s",
				 outside(path, shown, sizeof(shown)));
	}
}

static int on_body(struct http_req *r, const void *buf, size_t len)
{
	if (http_req_data(r) == NULL) {	/* a body nobody asked for */
		http_reply_error(r, 400, "this request takes no body");
		return -1;
	}
	if (strncmp(http_req_path(r), "/v1/uploads/", 12) == 0)
		return upload_body(r, buf, len);
	return feedback_body(r, buf, len);
}

static void on_end(struct http_req *r)
{
	if (http_req_data(r) == NULL) {
		if (!http_req_replied(r))
			http_reply_error(r, 400, "the request has no body");
		return;
	}
	if (strncmp(http_req_path(r), "/v1/uploads/", 12) == 0)
		upload_end(r);
	else
		feedback_end(r);
}

static void on_abort(struct http_req *r)
{
	void *data = http_req_data(r);

	http_req_set_data(r, NULL);
	if (data == NULL)
		return;
	if (strncmp(http_req_path(r), "/v1/uploads/", 12) == 0)
		upload_free(data);
	else
		free(data);
}

/* Counts a refusal of an unidentified client (metrics, and the log later). */
static void count_noise(struct api *api, const char *addr, const char *cause, int status,
			const char *reason)
{
	metrics_unidentified(cause, addr);
	if (!noise_add(api->noise, addr, cause, status, reason)) {
		api_flush_noise(api);	/* the table is full: write what it holds */
		noise_add(api->noise, addr, cause, status, reason);
	}
}

/*
 * Why a client is not identified: no OIN (no verified certificate with
 * one) or an OIN that is no party.  NULL: an identified party.
 */
static const char *unidentified(struct api *api, const char *oin, int status,
				const char *reason)
{
	if (oin != NULL)
		return config_party(&api->app->cfg, oin) == NULL ? "unknown_oin" : NULL;
	if (status != 401)
		return "no_certificate";	/* a 400, 408, 431 before any certificate */
	if (strncmp(reason, "a client certificate is required", 32) == 0)
		return "no_certificate";
	if (strncmp(reason, "the client certificate is not accepted", 38) == 0)
		return "certificate_refused";
	return "no_oin";
}

static void on_handshake_failed(void *arg, const char *addr)
{
	count_noise(arg, addr, "handshake_failed", 0, "the TLS handshake failed or was not "
		    "finished");
}

/*
 * Logs a refusal of a party in a transaction of its own; counts one of a
 * client that is not identified (count_noise).
 */
static void on_refused(void *arg, const char *addr, const char *oin, const char *method,
		       const char *path, int status, const char *reason)
{
	struct api *api = arg;
	struct store *s = api->app->store;
	const char *cause;
	struct errbuf e;

	char code[8], clean[256], why[512];

	snprintf(code, sizeof(code), "%d", status);
	/* Outside text: the path has no controls and no BSN, in the exchange
	 * log too; a reason quotes outside values masked already (outside()),
	 * its own numbers (sizes, limits) stay as they are. */
	log_clean(path, clean, sizeof(clean));
	log_clean_controls(reason, why, sizeof(why));
	path = clean;
	reason = why;
	cause = unidentified(api, oin, status, reason);
	if (cause != NULL) {
		log_event(LV_DEBUG, "http", "refused an unidentified client", "source", addr,
			  "cause", cause, "method", method, "path", path, "status", code,
			  "reason", reason, NULL);
		count_noise(api, addr, cause, status, reason);
		return;
	}
	log_event(LV_WARN, "http", "refused", "party", oin != NULL ? oin : "-",
		  "method", method, "path", path, "status", code, "reason", reason, NULL);
	if (store_begin(s, &e) != ST_OK ||
	    exlog_append(s, "refusal", oin, path, json_pack("{s:s, s:i, s:s}", "method", method,
							    "status", status, "reason", reason),
			 &e) != ST_OK ||
	    store_commit(s, &e) != ST_OK) {
		store_rollback(s);
		log_event(LV_ERROR, "http", "cannot log a refusal", "error", e.msg, NULL);
		metrics_refusal_unlogged();
	}
}

void api_handler(struct api *api, struct http_handler *h)
{
	the_api = api;
	*h = (struct http_handler){
		.begin = on_begin, .body = on_body, .end = on_end, .abort = on_abort,
		.refused = on_refused, .handshake_failed = on_handshake_failed, .arg = api,
	};
}
