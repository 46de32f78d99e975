/*
 * api.c - the HTTPS API (see api.h).
 *
 * An upload is spooled to a file under DIR/spool as it arrives (memory
 * stays flat whatever its size; one of at most SMALL_UPLOAD_BYTES to an
 * anonymous file in memory, memfd_create(), which spares the file system
 * an inode made and freed per upload), then handed to a worker thread (work.h),
 * which reads it with the adapter in one transaction, exactly as `schakel
 * ingest` reads a file, on an installation of its own; the reply is sent
 * when the worker is done.  An upload that changed data asks the daemon to
 * match (api_set_work's on_change) and is answered once that match is done,
 * so its signals are in the inboxes when the party has its answer.  Meanwhile the loop serves other requests: inbox and log reads
 * read the loop's own database connection (WAL: they do not wait for the
 * writer).  With the work queue full an upload is answered 503 with
 * Retry-After.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "api.h"
#include "disclose.h"
#include "exlog.h"
#include "feedback.h"
#include "log.h"
#include "ingest.h"
#include "loader.h"
#include "metrics.h"
#include "noise.h"
#include "output.h"
#include "portal.h"
#include "trace.h"
#include "work.h"

#define MAX_LIMIT 1000
#define MAX_REJECTIONS_SHOWN 1000
#define MAX_FEEDBACK_BYTES 16384
#define MAX_NOTE_CHARS 2000
#define MAX_REFUSALS_WAITING 10000
#define SMALL_UPLOAD_BYTES 65536

/* One refusal to be logged. */
struct refusal {
	struct refusal *next;
	char oin[OIN_LEN + 1];	/* "" when none */
	char method[16], path[256], reason[512];
	char trace[33];		/* the trace it happened in, or "" */
	int status;
};

struct api {
	struct app *app;
	struct noise *noise;	/* refusals of unidentified clients, not yet logged */
	char spool[4200];
	struct work_pool *work;	/* NULL: uploads are read on the caller's thread */
	api_change_fn *on_change;
	void *change_arg;
	struct refusal *refusals;	/* to be logged once the worker's write is done */
	int nrefusals;
	bool refusals_queued;	/* a batch is with the workers */
	char *refusing;		/* api_set_refusing(): why every request gets 503 */
};

struct rejections {
	json_t *list;
	long count;
};

/* One upload under way. */
struct upload {
	struct api *api;
	struct loaded_adapter *la;	/* the app's, kept */
	char oin[OIN_LEN + 1];	/* looked up again at the end: SIGHUP may reload */
	char path[4300];
	int fd;
	/* handed to a worker (queued): the worker's outcome, then the reply */
	struct http_req *r;	/* NULL once the client has gone */
	bool queued;		/* upload_done() frees it, not on_abort() */
	bool forbidden;		/* the worker found the grant gone */
	char adapter[64];
	char trace[33];		/* its W3C trace id (its traceparent's, or a new one) */
	uint64_t bytes;		/* its Content-Length */
	enum status st;
	struct ingest_result res;
	struct rejections rj;
	struct errbuf e;
};

/* A feedback body being read. */
struct body {
	char buf[MAX_FEEDBACK_BYTES];
	size_t len;
	char id[64];
	/* checked, and handed to a worker to store (queued) */
	struct http_req *r;	/* NULL once the client has gone */
	bool queued;		/* feedback_done() frees it, not on_abort() */
	char oin[OIN_LEN + 1], outcome[16];
	char *note;		/* malloc'd */
	int64_t fid;
	enum status st;
	struct errbuf e;
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

void api_set_work(struct api *api, struct work_pool *work, api_change_fn *on_change,
		  void *arg)
{
	api->work = work;
	api->on_change = on_change;
	api->change_arg = arg;
}

void api_set_refusing(struct api *api, const char *why)
{
	free(api->refusing);
	api->refusing = why != NULL ? strdup(why) : NULL;
}

void api_flush_noise(struct api *api)
{
	struct errbuf e;
	char n[24];

	if (api->work != NULL && !work_try_write(api->work))
		return;	/* a worker writes: kept for the next minute */
	snprintf(n, sizeof(n), "%ld", noise_pending(api->noise));
	if (noise_flush(api->noise, api->app->store, &e) != ST_OK)
		log_event(LV_ERROR, "http", "cannot log the refusals of unidentified clients; "
			  "kept for the next try", "count", n, "error", e.msg, NULL);
	if (api->work != NULL)
		work_end_write(api->work);
}

void api_free(struct api *api)
{
	if (api == NULL)
		return;
	while (api->refusals != NULL) {
		struct refusal *next = api->refusals->next;

		free(api->refusals);
		api->refusals = next;
	}
	api->work = NULL;	/* stopped by now */
	free(api->refusing);
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
	json_decref(u->rj.list);
	if (u->fd >= 0)
		close(u->fd);
	if (u->path[0] != '\0')
		unlink(u->path);
	free(u);
}

/* 503 for a full work queue: back-pressure, not a refusal of the party
 * (counted in /metrics and logged by the daemon, not in the exchange log,
 * which a flood would only add to). */
static void reply_busy(struct http_req *r)
{
	char extra[64], body[160];
	int n;

	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", the_api->app->cfg.retry_after);
	n = snprintf(body, sizeof(body), "{\"status\": 503, \"error\": \"the exchange is busy "
		     "(work queue full): nothing was stored, try again after %d s\"}",
		     the_api->app->cfg.retry_after);
	log_event(LV_WARN, "http", "refused: work queue full", "party", http_req_oin(r),
		  "path", http_req_path(r), NULL);
	http_reply_headers(r, 503, "application/json", extra, body, (size_t)n);
}

/* 503 while the node's grants are stale (api_set_refusing()). */
static void reply_refusing(struct http_req *r)
{
	json_t *o = json_pack("{s:i, s:s}", "status", 503, "error", the_api->refusing);
	char extra[64], *body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);

	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", the_api->app->cfg.retry_after);
	if (body == NULL) {
		http_reply_error(r, 503, "this node cannot serve parties now");
		return;
	}
	http_reply_headers(r, 503, "application/json", extra, body, strlen(body));
	free(body);
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
	if (the_api->work != NULL && work_full(the_api->work)) {
		work_note_refused(the_api->work);
		reply_busy(r);	/* before the body: the client need not send it */
		return;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	u->api = the_api;
	memcpy(u->oin, p->oin, sizeof(u->oin));
	snprintf(u->adapter, sizeof(u->adapter), "%s", adapter);
	u->bytes = http_req_content_length(r);
	u->fd = -1;
	if (loader_cache_get(the_api->app->adapters, adapter, &u->la, &e) != ST_OK) {
		/* e names the file it looked for: not for outside eyes. */
		http_reply_error(r, 404, "no adapter '%.40s' on this exchange",
				 outside(adapter, shown, sizeof(shown)));
		goto out_free;
	}
	if (u->bytes > 0 && u->bytes <= SMALL_UPLOAD_BYTES) {
		u->fd = memfd_create("upload", MFD_CLOEXEC);
	} else {
		snprintf(u->path, sizeof(u->path), "%s/upload-XXXXXX", the_api->spool);
		u->fd = mkstemp(u->path);
	}
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

static void collect_reject(void *arg, const char *place, const char *reason)
{
	struct rejections *rj = arg;

	if (rj->count++ < MAX_REJECTIONS_SHOWN)
		json_array_append_new(rj->list, json_pack("{s:s, s:s}", "place", place,
							  "reason", reason));
}

/*
 * On a worker (or the loop when there are none), with its installation
 * app: reads the spooled upload in one transaction.  The party and its
 * grant are looked up in app's configuration (a worker reloads its own
 * after a SIGHUP).
 */
static void upload_run(void *ctx, void *arg)
{
	struct app *app = ctx;
	struct upload *u = arg;
	const struct party *p = config_party(&app->cfg, u->oin);
	struct ingest_opts opts = { .log_kind = "upload", .on_reject = collect_reject,
				    .arg = &u->rj };
	struct loaded_adapter *la;
	char origin[64];

	if (p == NULL || !strlist_has(&p->supplies, u->adapter)) {
		u->forbidden = true;
		return;
	}
	if (loader_cache_get(app->adapters, u->adapter, &la, &u->e) != ST_OK) {
		u->st = ST_FAIL;
		return;
	}
	u->rj.list = json_array();
	opts.party = p->oin;
	opts.gemeenten = &p->gemeenten;
	snprintf(origin, sizeof(origin), "upload by %s", p->oin);
	opts.origin = origin;
	/* A small file is read on this thread alone: starting the parse and
	 * check threads would cost more than they save. */
	opts.one_thread = u->bytes <= SMALL_UPLOAD_BYTES;
	store_trace_set(app->store, u->trace);	/* the upload's trace */
	if (u->path[0] != '\0')
		u->st = ingest_file(app, la, u->path, &opts, &u->res, &u->e);
	else if (lseek(u->fd, 0, SEEK_SET) != 0)
		u->st = errbuf_set(&u->e, ST_FAIL, "cannot read the upload back: %s",
				   strerror(errno));
	else
		u->st = ingest_fd(app, la, u->fd, "the upload", &opts, &u->res, &u->e);
	store_trace_set(app->store, NULL);
}

/* The reply to an upload the worker has read. */
static void upload_reply(struct http_req *r, struct upload *u)
{
	if (u->forbidden) {
		http_reply_error(r, 403, "the party's grant changed during the upload");
	} else if (u->st == ST_FAIL && u->res.refused) {
		http_reply_error(r, 400, "the %s file is refused, nothing stored: %s",
				 u->adapter, u->e.msg);
	} else if (u->st == ST_FAIL) {
		http_reply_error(r, 500, "the upload could not be stored: %s", u->e.msg);
	} else {
		http_reply_json(r, 200, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:O, s:b, s:s}",
			"upload", (json_int_t)u->res.ingest_id, "adapter", u->adapter,
			"digest", u->res.digest, "accepted", (json_int_t)u->res.accepted,
			"changed", (json_int_t)u->res.changed, "rejected", (json_int_t)u->res.rejected,
			"rejections", u->rj.list, "rejections_complete",
			u->rj.count <= MAX_REJECTIONS_SHOWN, "trace_id", u->trace));
	}
}

/* The reply to u, in its trace, unless the client has gone; frees u. */
static void upload_answer(struct upload *u)
{
	struct store *s = u->api->app->store;

	store_trace_set(s, u->trace);	/* a refusal's entry */
	if (u->r != NULL) {
		http_req_set_data(u->r, NULL);
		upload_reply(u->r, u);
	}
	store_trace_set(s, NULL);
	upload_free(u);
}

/* The match that covers the upload is done: its signals are in. */
static void upload_matched(void *arg)
{
	upload_answer(arg);
}

/*
 * On the loop: the worker is done.  An upload that changed data asks for
 * a match (in its trace: the loop's store carries it meanwhile) and is
 * answered when that match is done; any other at once.
 */
static void upload_done(void *arg)
{
	struct upload *u = arg;
	struct api *api = u->api;
	bool asked = false;

	if (!u->forbidden && u->st != ST_FAIL && u->res.changed > 0 && api->on_change != NULL) {
		store_trace_set(api->app->store, u->trace);
		asked = api->on_change(api->change_arg, upload_matched, u);
		store_trace_set(api->app->store, NULL);
	}
	if (!asked)
		upload_answer(u);
}

static void upload_end(struct http_req *r)
{
	struct upload *u = http_req_data(r);
	const struct party *p = caller(r);
	struct trace_ctx tc;
	struct errbuf e;

	if (p == NULL || !strlist_has(&p->supplies, u->adapter)) {
		http_req_set_data(r, NULL);
		if (p != NULL)
			http_reply_error(r, 403, "the party's grant changed during the upload");
		upload_free(u);
		return;
	}
	if (trace_start(http_req_header(r, "traceparent"), &tc, &e) != ST_OK) {
		http_req_set_data(r, NULL);
		http_reply_error(r, 500, "the upload could not be stored: %s", e.msg);
		upload_free(u);
		return;
	}
	memcpy(u->trace, tc.trace_id, sizeof(u->trace));
	if (u->path[0] != '\0') {
		close(u->fd);	/* the worker opens the file itself */
		u->fd = -1;
	}			/* one in memory it reads from u->fd */
	u->r = r;
	u->queued = true;	/* the request keeps u as its data, for on_abort */
	if (u->api->work == NULL) {
		upload_run(u->api->app, u);
		upload_done(u);
		return;
	}
	if (!work_submit(u->api->work, WORK_WRITES | WORK_REFUSABLE, upload_run, upload_done,
			 u)) {
		u->queued = false;
		http_req_set_data(r, NULL);
		reply_busy(r);
		upload_free(u);
	}
}

/* The client has gone: a queued upload is still read and matched (its
 * answer frees it). */
static void upload_abort(struct upload *u)
{
	if (u->queued)
		u->r = NULL;
	else
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

/* An inbox page whose disclosures wait for a worker's write to end. */
struct inbox_page {
	struct http_req *r;	/* NULL once the client has gone */
	char oin[OIN_LEN + 1], format[8], type[32], extra[160];
	struct disclosures shown;
	char *body;
	size_t len;
	enum status st;
	struct errbuf e;
};

static void inbox_page_free(struct inbox_page *pg)
{
	disclose_free(&pg->shown);
	free(pg->body);
	free(pg);
}

static void inbox_page_run(void *ctx, void *arg)
{
	struct inbox_page *pg = arg;
	struct app *app = ctx;

	pg->st = disclose_inbox(app->store, &app->cfg, pg->oin, pg->format, &pg->shown, &pg->e);
}

static void inbox_page_done(void *arg)
{
	struct inbox_page *pg = arg;

	if (pg->r != NULL) {
		http_req_set_data(pg->r, NULL);
		if (pg->st != ST_OK)
			http_reply_error(pg->r, 500, "the disclosure cannot be logged, so nothing "
					 "is served: %s", pg->e.msg);
		else
			http_reply_headers(pg->r, 200, pg->type, pg->extra[0] ? pg->extra : NULL,
					   pg->body, pg->len);
	}
	inbox_page_free(pg);
}

/*
 * Serves an inbox page once its disclosures are logged (fail closed): at
 * once when no worker writes (or nothing is disclosed); else the page
 * waits, and the loop goes on, while a worker logs them after the write
 * under way.
 */
static void inbox_serve(struct http_req *r, struct inbox *in, const char *format,
			const char *type, const char *extra, const void *body, size_t len)
{
	bool now = in->shown.n == 0 || the_api->work == NULL, turn = false;
	struct inbox_page *pg;

	if (!now)
		now = turn = work_try_write(the_api->work);
	if (now) {
		bool ok = inbox_disclosed(r, in, format);

		if (turn)
			work_end_write(the_api->work);
		if (ok)
			http_reply_headers(r, 200, type, extra, body, len);
		return;
	}
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL || (pg->body = malloc(len > 0 ? len : 1)) == NULL) {
		free(pg);
		disclose_free(&in->shown);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	pg->r = r;
	snprintf(pg->oin, sizeof(pg->oin), "%s", in->party->oin);
	snprintf(pg->format, sizeof(pg->format), "%s", format);
	snprintf(pg->type, sizeof(pg->type), "%s", type);
	snprintf(pg->extra, sizeof(pg->extra), "%s", extra != NULL ? extra : "");
	memcpy(pg->body, body, len);
	pg->len = len;
	pg->shown = in->shown;	/* the page's now */
	in->shown = (struct disclosures){ 0 };
	if (!work_submit(the_api->work, WORK_WRITES | WORK_REFUSABLE, inbox_page_run,
			 inbox_page_done, pg)) {
		inbox_page_free(pg);
		reply_busy(r);
		return;
	}
	http_req_set_data(r, pg);	/* for on_abort */
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
	{
		char extra[160];	/* the XML has no place for the cursor: a header */

		inbox_serve(r, in, "xml", "application/xml",
			    inbox_headers(in, true, extra, sizeof(extra)),
			    xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
	}
	xmlBufferFree(buf);
}

/* Replies 200 with o (its reference taken) and the inbox's trace header. */
static void reply_json_headers(struct http_req *r, json_t *o, struct inbox *in)
{
	char extra[160], *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (text == NULL) {
		disclose_free(&in->shown);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	size_t len = strlen(text);

	text[len] = '\n';	/* as http_reply_json(): json_dumps leaves room, the NUL */
	inbox_serve(r, in, "json", "application/json",
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

static void body_free(struct body *b)
{
	if (b == NULL)
		return;
	free(b->note);
	free(b);
}

/* On a worker (or the loop when there are none), with its installation. */
static void feedback_run(void *ctx, void *arg)
{
	struct body *b = arg;

	b->st = feedback_record(((struct app *)ctx)->store, b->id, b->oin, b->outcome, b->note,
				&b->fid, &b->e);
}

/* On the loop: the reply, unless the client has gone. */
static void feedback_done(void *arg)
{
	struct body *b = arg;

	if (b->r != NULL) {
		http_req_set_data(b->r, NULL);
		if (b->st != ST_OK)
			http_reply_error(b->r, 500, "%s", b->e.msg);
		else
			http_reply_json(b->r, 201, json_pack("{s:I, s:s, s:s}", "feedback",
				(json_int_t)b->fid, "signal", b->id, "outcome", b->outcome));
	}
	body_free(b);
}

/* Checks the feedback in b (its outcome, note, signal) on the loop; a
 * reply and false when it is refused. */
static bool feedback_check(struct http_req *r, struct body *b)
{
	const char *outcome = NULL, *note = "";
	json_error_t jerr;
	struct errbuf e;
	char shown[64];
	bool routed, ok = false;
	json_t *o = json_loadb(b->buf, b->len, JSON_REJECT_DUPLICATES, &jerr);

	if (o == NULL || json_unpack(o, "{s:s, s?s}", "outcome", &outcome, "note", &note) != 0)
		http_reply_error(r, 400, "send {\"outcome\": \"bevestigd\" | \"onterecht\" | "
				 "\"in_behandeling\", \"note\": \"...\"}");
	else if (strcmp(outcome, "bevestigd") != 0 && strcmp(outcome, "onterecht") != 0 &&
		 strcmp(outcome, "in_behandeling") != 0)
		http_reply_error(r, 400, "outcome must be bevestigd, onterecht or in_behandeling");
	else if (utf8_chars(note) > MAX_NOTE_CHARS)
		http_reply_error(r, 400, "note is longer than %d characters", MAX_NOTE_CHARS);
	else if (store_signal_routed(the_api->app->store, b->id, http_req_oin(r), &routed,
				     &e) != ST_OK)
		http_reply_error(r, 500, "%s", e.msg);
	else if (!routed)
		http_reply_error(r, 404, "no signal %s in this party's inbox",
				 outside(b->id, shown, sizeof(shown)));
	else if ((b->note = strdup(note)) == NULL)
		http_reply_error(r, 500, "out of memory");
	else
		ok = true;
	if (ok) {
		snprintf(b->outcome, sizeof(b->outcome), "%s", outcome);
		snprintf(b->oin, sizeof(b->oin), "%s", http_req_oin(r));
	}
	json_decref(o);
	return ok;
}

/* Checked on the loop, stored on a worker (a write must not hold the loop
 * up behind an upload's), answered on the loop. */
static void feedback_end(struct http_req *r)
{
	struct body *b = http_req_data(r);

	if (!feedback_check(r, b)) {
		http_req_set_data(r, NULL);
		body_free(b);
		return;
	}
	b->r = r;
	if (the_api->work == NULL) {
		feedback_run(the_api->app, b);
		feedback_done(b);
		return;
	}
	b->queued = true;	/* the request keeps b as its data, for on_abort */
	if (!work_submit(the_api->work, WORK_WRITES | WORK_REFUSABLE, feedback_run,
			 feedback_done, b)) {
		http_req_set_data(r, NULL);
		reply_busy(r);
		body_free(b);
	}
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

	if (the_api->refusing != NULL) {
		reply_refusing(r);
		return;
	}
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
	if (http_req_data(r) == NULL || strcmp(http_req_path(r), "/v1/signals") == 0) {
		/* a body nobody asked for (an inbox page may wait for its
		 * disclosures: its done finds the request replied) */
		http_reply_error(r, 400, "this request takes no body");
		return -1;
	}
	if (strncmp(http_req_path(r), "/v1/uploads/", 12) == 0)
		return upload_body(r, buf, len);
	return feedback_body(r, buf, len);
}

static void on_end(struct http_req *r)
{
	if (strcmp(http_req_path(r), "/v1/signals") == 0)
		return;	/* an inbox page waiting for its disclosures */
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
		upload_abort(data);
	else if (strcmp(http_req_path(r), "/v1/signals") == 0)
		((struct inbox_page *)data)->r = NULL;	/* inbox_page_done() frees it */
	else if (((struct body *)data)->queued)
		((struct body *)data)->r = NULL;	/* feedback_done() frees it */
	else
		body_free(data);
}

/* Writes a refusal's entry in a transaction of its own, in store s. */
static enum status refusal_store(struct store *s, const struct refusal *f, struct errbuf *e)
{
	enum status st = ST_OK;
	char was[33];

	snprintf(was, sizeof(was), "%s", store_trace(s) != NULL ? store_trace(s) : "");
	store_trace_set(s, f->trace[0] ? f->trace : NULL);
	if (store_begin(s, e) != ST_OK ||
	    exlog_append(s, "refusal", f->oin[0] ? f->oin : NULL, f->path,
			 json_pack("{s:s, s:i, s:s}", "method", f->method, "status", f->status,
				   "reason", f->reason), e) != ST_OK ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		st = ST_FAIL;
	}
	store_trace_set(s, was[0] ? was : NULL);
	return st;
}

static void refusal_unlogged(const struct errbuf *e)
{
	log_event(LV_ERROR, "http", "cannot log a refusal", "error", e->msg, NULL);
	metrics_refusal_unlogged();
}

/* A batch of refusals handed to a worker; failed: how many could not be logged. */
struct refusal_batch {
	struct api *api;
	struct refusal *list;
	long failed;
	struct errbuf e;
};

static void refusals_run(void *ctx, void *arg)
{
	struct refusal_batch *b = arg;

	for (const struct refusal *f = b->list; f != NULL; f = f->next)
		if (refusal_store(((struct app *)ctx)->store, f, &b->e) != ST_OK)
			b->failed++;
}

static void refusals_submit(struct api *api);

static void refusals_done(void *arg)
{
	struct refusal_batch *b = arg;
	struct api *api = b->api;

	for (long i = 0; i < b->failed; i++)
		refusal_unlogged(&b->e);
	while (b->list != NULL) {
		struct refusal *next = b->list->next;

		free(b->list);
		b->list = next;
	}
	free(b);
	api->refusals_queued = false;
	if (api->refusals != NULL)
		refusals_submit(api);
}

/* Hands the refusals waiting on the loop to a worker, as one batch. */
static void refusals_submit(struct api *api)
{
	struct refusal_batch *b = calloc(1, sizeof(*b));
	struct errbuf e;

	if (b != NULL) {
		*b = (struct refusal_batch){ .api = api, .list = api->refusals };
		if (work_submit(api->work, WORK_WRITES, refusals_run, refusals_done, b)) {
			api->refusals = NULL;
			api->nrefusals = 0;
			api->refusals_queued = true;
			return;
		}
		free(b);
	}
	/* Out of memory, or the workers have stopped: here and now. */
	while (api->refusals != NULL) {
		struct refusal *next = api->refusals->next;

		if (refusal_store(api->app->store, api->refusals, &e) != ST_OK)
			refusal_unlogged(&e);
		free(api->refusals);
		api->refusals = next;
	}
	api->nrefusals = 0;
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
 * Logs a refusal of a party in a transaction of its own: at once when no
 * worker writes, else after the worker, on a worker (a flood of refusals
 * during an upload must not hold the loop up on the write lock); at most
 * MAX_REFUSALS_WAITING wait, more are counted as not logged.  Counts one
 * of a client that is not identified (count_noise).
 */
static void on_refused(void *arg, const char *addr, const char *oin, const char *method,
		       const char *path, int status, const char *reason)
{
	struct api *api = arg;
	struct refusal f = { .status = status }, *q;
	const char *cause;
	struct errbuf e;
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	snprintf(f.oin, sizeof(f.oin), "%s", oin != NULL ? oin : "");
	snprintf(f.method, sizeof(f.method), "%s", method);
	snprintf(f.trace, sizeof(f.trace), "%s", store_trace(api->app->store) != NULL ?
		 store_trace(api->app->store) : "");
	/* Outside text: the path has no controls and no BSN, in the exchange
	 * log too; a reason quotes outside values masked already (outside()),
	 * its own numbers (sizes, limits) stay as they are. */
	log_clean(path, f.path, sizeof(f.path));
	log_clean_controls(reason, f.reason, sizeof(f.reason));
	cause = unidentified(api, oin, status, f.reason);
	if (cause != NULL) {
		log_event(LV_DEBUG, "http", "refused an unidentified client", "source", addr,
			  "cause", cause, "method", method, "path", f.path, "status", code,
			  "reason", f.reason, NULL);
		count_noise(api, addr, cause, status, f.reason);
		return;
	}
	log_event(LV_WARN, "http", "refused", "party", oin != NULL ? oin : "-",
		  "method", method, "path", f.path, "status", code, "reason", f.reason, NULL);
	if (api->work == NULL || (!api->refusals_queued && work_try_write(api->work))) {
		if (refusal_store(api->app->store, &f, &e) != ST_OK)
			refusal_unlogged(&e);
		if (api->work != NULL)
			work_end_write(api->work);
		return;
	}
	if (api->nrefusals >= MAX_REFUSALS_WAITING || (q = malloc(sizeof(*q))) == NULL) {
		errbuf_set(&e, ST_FAIL, "%d refusals already wait for the database",
			   MAX_REFUSALS_WAITING);
		refusal_unlogged(&e);
		return;
	}
	*q = f;
	q->next = api->refusals;	/* the order of the entries is of no account */
	api->refusals = q;
	api->nrefusals++;
	if (!api->refusals_queued)
		refusals_submit(api);
}

void api_handler(struct api *api, struct http_handler *h)
{
	the_api = api;
	*h = (struct http_handler){
		.begin = on_begin, .body = on_body, .end = on_end, .abort = on_abort,
		.refused = on_refused, .handshake_failed = on_handshake_failed, .arg = api,
	};
}
