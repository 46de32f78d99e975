/*
 * pull.c - pulling sources (see pull.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exlog.h"
#include "log.h"
#include "ingest.h"
#include "loader.h"
#include "node.h"
#include "pull.h"
#include "tls.h"
#include "trace.h"
#include "work.h"

/* One source's state in the puller. */
struct src {
	struct puller *p;
	char name[33];
	struct event *timer;
	bool busy;		/* a round is under way */
	bool manual;		/* part of a puller_round() */
	int fd;			/* spool of the page being fetched */
	char spool[4300];
	int pages;
	bool changed;
	struct source_state st;
	char page_cursor[512];	/* the cursor this page was asked with */
};

struct puller {
	struct app *app;
	struct event_base *base;
	struct fetcher *fetcher;
	struct work_pool *work;	/* pages are read there; NULL: on the loop */
	struct node *node;	/* scheduled rounds need its lease; NULL: none */
	struct src *srcs;
	size_t nsrcs;
	bool scheduled;
	void (*on_change)(void *arg);
	void *arg;
	/* the manual round */
	int pending, failures;
	void (*report)(void *arg, const char *line);
	void (*done)(void *arg, int failures);
	void *round_arg;
};

static void fetch_page(struct src *s);

static void report(struct puller *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct puller *p, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->report != NULL)
		p->report(p->round_arg, line);
	else
		log_event(strstr(line, "failed") != NULL ? LV_WARN : LV_INFO, "pull", line, NULL);
}

static const struct source *config_of(struct src *s)
{
	return config_source(&s->p->app->cfg, s->name);
}

static void schedule_at(struct src *s, int64_t at)
{
	int64_t now = time(NULL);
	struct timeval tv = { at > now ? (time_t)(at - now) : 0, 0 };

	if (s->p->scheduled)
		evtimer_add(s->timer, &tv);
}

/* The round of s is over; ok says how. */
static void round_over(struct src *s, bool ok)
{
	struct puller *p = s->p;

	s->busy = false;
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->spool);
		s->fd = -1;
	}
	if (s->changed && p->on_change != NULL)
		p->on_change(p->arg);
	s->changed = false;
	schedule_at(s, s->st.next_at);
	if (s->manual) {
		s->manual = false;
		p->failures += !ok;
		if (--p->pending == 0 && p->done != NULL)
			p->done(p->round_arg, p->failures);
	}
}

/* Logs a pull attempt in a transaction of its own. */
static void log_pull(struct src *s, const struct fetch_result *r, const char *outcome,
		     const char *error)
{
	struct store *st = s->p->app->store;
	const struct source *cfg = config_of(s);
	struct errbuf e;

	if (store_begin(st, &e) != ST_OK ||
	    exlog_append(st, "pull", cfg != NULL ? cfg->party : NULL, s->name,
			 json_pack("{s:s, s:i, s:I, s:I, s:s, s:s?, s:i}", "source", s->name,
				   "status", (int)(r ? r->status : 0),
				   "ms", (json_int_t)(r ? r->seconds * 1000 : 0),
				   "bytes", (json_int_t)(r ? r->bytes : 0), "outcome", outcome,
				   "error", error, "page", s->pages), &e) != ST_OK ||
	    store_source_put(st, s->name, &s->st, &e) != ST_OK ||
	    store_commit(st, &e) != ST_OK) {
		store_rollback(st);
		report(s->p, "%s: cannot log the pull: %s", s->name, e.msg);
	}
}

/* A failed attempt: back off (exponential, jitter), never past the interval. */
static void failed(struct src *s, const struct fetch_result *r, const char *why)
{
	const struct source *cfg = config_of(s);
	long wait = 5, interval = cfg != NULL ? cfg->interval : 3600;

	s->st.failures++;
	for (int i = 1; i < s->st.failures && wait < interval; i++)
		wait *= 2;
	if (wait > interval)
		wait = interval;
	wait = wait / 2 + random() % (wait / 2 + 1);
	s->st.next_at = time(NULL) + (wait < 1 ? 1 : wait);
	log_pull(s, r, "failed", why);
	report(s->p, "%s: failed (attempt %d, next in %ld s): %s", s->name, s->st.failures,
	       wait, why);
	round_over(s, false);
}

struct commit_ctx {
	struct src *s;
	const struct fetch_result *r;
	const struct source *cfg;	/* of the installation that reads the page */
};

/* Inside the page's transaction: the new cursor and the log entry. */
static enum status before_commit(void *arg, struct store *st, bool cursor_seen,
				 const char *cursor, struct errbuf *e)
{
	struct commit_ctx *c = arg;
	struct src *s = c->s;
	const struct source *cfg = c->cfg;

	if (cursor_seen)
		snprintf(s->st.cursor, sizeof(s->st.cursor), "%s",
			 cursor != NULL ? cursor : s->page_cursor);
	if (c->r->etag != NULL)
		snprintf(s->st.etag, sizeof(s->st.etag), "%s", c->r->etag);
	if (c->r->last_modified != NULL)
		snprintf(s->st.last_modified, sizeof(s->st.last_modified), "%s",
			 c->r->last_modified);
	s->st.failures = 0;
	s->st.last_ok = time(NULL);
	s->st.next_at = s->st.last_ok + (cfg != NULL ? cfg->interval : 3600);
	if (store_source_put(st, s->name, &s->st, e) != ST_OK)
		return ST_FAIL;
	return exlog_append(st, "pull", cfg != NULL ? cfg->party : NULL, s->name,
			    json_pack("{s:s, s:i, s:I, s:I, s:s, s:i}", "source", s->name,
				      "status", (int)c->r->status,
				      "ms", (json_int_t)(c->r->seconds * 1000),
				      "bytes", (json_int_t)c->r->bytes, "outcome", "stored",
				      "page", s->pages), e);
}

static void reject_line(void *arg, const char *place, const char *reason)
{
	struct commit_ctx *c = arg;

	report(c->s->p, "%s: rejected %s: %s", c->s->name, place, reason);
}

/*
 * Reads a fetched page through the adapter, with installation app (the
 * loop's, or a worker's own): the source's configuration, its party and
 * the adapter are app's.  Returns ingest_file()'s status.
 */
static enum status read_page(struct app *app, struct src *s, const struct fetch_result *r,
			     struct ingest_result *res, struct errbuf *e)
{
	const struct source *cfg = config_source(&app->cfg, s->name);
	const struct party *party;
	struct commit_ctx c = { s, r, cfg };
	struct ingest_opts opts = {
		.on_reject = reject_line, .before_commit = before_commit, .arg = &c,
	};
	struct loaded_adapter *la;
	char origin[64];

	memset(res, 0, sizeof(*res));
	if (cfg == NULL)
		return errbuf_set(e, ST_FAIL, "the source was removed by a reload");
	party = cfg->party != NULL ? config_party(&app->cfg, cfg->party) : NULL;
	opts.party = cfg->party;
	opts.gemeenten = party != NULL ? &party->gemeenten : NULL;
	if (loader_cache_get(app->adapters, cfg->adapter, &la, e) != ST_OK)
		return ST_FAIL;
	snprintf(origin, sizeof(origin), "pull %s", s->name);
	opts.origin = origin;
	return ingest_file(app, la, s->spool, &opts, res, e);
}

/* The page was read (st, res, e): on to the next page, or the round is over. */
static void page_read(struct src *s, const struct fetch_result *r, enum status st,
		      const struct ingest_result *res, const struct errbuf *e)
{
	const struct source *cfg = config_of(s);
	bool more;

	close(s->fd);
	unlink(s->spool);
	s->fd = -1;
	if (st == ST_FAIL) {
		failed(s, r, e->msg);
		return;
	}
	s->changed |= res->changed > 0;
	report(s->p, "%s: page %d: %ld accepted (%ld new or changed), %ld rejected", s->name,
	       s->pages, res->accepted, res->changed, res->rejected);
	more = s->st.cursor[0] != '\0' && strcmp(s->st.cursor, s->page_cursor) != 0;
	if (more && cfg != NULL && s->pages < cfg->max_pages) {
		fetch_page(s);
		return;
	}
	round_over(s, true);
}

/* A page handed to a worker: what the fetch said (copied: the fetcher's
 * result lives only as long as its callback), and the outcome. */
struct page_job {
	struct src *s;
	struct fetch_result r;	/* etag, last_modified point below; error NULL */
	char etag[256], last_modified[64];
	char trace[33];		/* the page's trace (on_done), or "" */
	enum status st;
	struct ingest_result res;
	struct errbuf e;
};

static void page_job_run(void *ctx, void *arg)
{
	struct page_job *j = arg;
	struct store *st = ((struct app *)ctx)->store;

	store_trace_set(st, j->trace[0] ? j->trace : NULL);
	j->st = read_page(ctx, j->s, &j->r, &j->res, &j->e);
	store_trace_set(st, NULL);
}

static void page_job_done(void *arg)
{
	struct page_job *j = arg;
	struct store *st = j->s->p->app->store;

	/* in the page's trace again: a failure's entry, the match after the round */
	store_trace_set(st, j->trace[0] ? j->trace : NULL);
	page_read(j->s, &j->r, j->st, &j->res, &j->e);
	store_trace_set(st, NULL);
	free(j);
}

/* Reads the page on a worker when there are workers, else here and now. */
static void store_page(struct src *s, const struct fetch_result *r)
{
	struct page_job *j;
	struct ingest_result res;
	struct errbuf e;
	enum status st;

	if (s->p->work != NULL && (j = calloc(1, sizeof(*j))) != NULL) {
		j->s = s;
		j->r = *r;
		j->r.error = NULL;
		snprintf(j->etag, sizeof(j->etag), "%s", r->etag != NULL ? r->etag : "");
		snprintf(j->last_modified, sizeof(j->last_modified), "%s",
			 r->last_modified != NULL ? r->last_modified : "");
		j->r.etag = r->etag != NULL ? j->etag : NULL;
		j->r.last_modified = r->last_modified != NULL ? j->last_modified : NULL;
		j->r.traceparent = NULL;	/* read by on_done already */
		snprintf(j->trace, sizeof(j->trace), "%s", store_trace(s->p->app->store) != NULL ?
			 store_trace(s->p->app->store) : "");
		if (work_submit(s->p->work, WORK_WRITES, page_job_run, page_job_done, j))
			return;
		free(j);
	}
	st = read_page(s->p->app, s, r, &res, &e);
	page_read(s, r, st, &res, &e);
}

static int on_data(void *arg, const void *buf, size_t len)
{
	struct src *s = arg;

	for (const char *p = buf; len > 0;) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void page_done(void *arg, const struct fetch_result *r)
{
	struct src *s = arg;
	const struct source *cfg = config_of(s);
	char why[256];

	if (cfg == NULL) {	/* removed by a reload */
		round_over(s, false);
		return;
	}
	if (r->error != NULL || (r->status != 200 && r->status != 304)) {
		snprintf(why, sizeof(why), "%s", r->error != NULL ? r->error : "");
		if (r->error == NULL)
			snprintf(why, sizeof(why), "HTTP %ld", r->status);
		failed(s, r, why);
		return;
	}
	if (r->status == 304) {
		s->st.failures = 0;
		s->st.next_at = time(NULL) + cfg->interval;
		log_pull(s, r, "not modified", NULL);
		report(s->p, "%s: not modified", s->name);
		round_over(s, true);
		return;
	}
	store_page(s, r);
}

/*
 * A page's answer: its entries, its records and (when the round ends here)
 * the match after the round belong to the trace of the source's
 * traceparent, or to a new one.
 */
static void on_done(void *arg, const struct fetch_result *r)
{
	struct store *st = ((struct src *)arg)->p->app->store;
	struct trace_ctx tc;
	struct errbuf e;

	store_trace_set(st, trace_start(r->traceparent, &tc, &e) == ST_OK ? tc.trace_id : NULL);
	page_done(arg, r);
	store_trace_set(st, NULL);
}

/* s percent-encoded for a query (RFC 3986: all but the unreserved
 * characters, as curl_easy_escape() does); malloc'd. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

char *puller_page_url(const char *base, const char *cursor)
{
	char *esc, *url;

	if (cursor[0] == '\0')
		return strdup(base);
	esc = url_escape(cursor);
	if (esc == NULL)
		return NULL;
	if (asprintf(&url, "%s%sna=%s", base, strchr(base, '?') ? "&" : "?", esc) < 0)
		url = NULL;
	free(esc);
	return url;
}

static void fetch_page(struct src *s)
{
	const struct source *cfg = config_of(s);
	struct app *app = s->p->app;
	char cert[4096], key[4096], ca[4096], inm[300], ims[100];
	const char *headers[3] = { NULL };
	struct errbuf e;
	char *url;
	int h = 0;

	snprintf(s->spool, sizeof(s->spool), "%s/spool/pull-%s-XXXXXX", app->dir, s->name);
	s->fd = mkstemp(s->spool);
	memcpy(s->page_cursor, s->st.cursor, sizeof(s->page_cursor));
	url = s->fd >= 0 ? puller_page_url(cfg->url, s->st.cursor) : NULL;
	if (url == NULL) {
		failed(s, NULL, s->fd < 0 ? "cannot make a spool file" : "out of memory");
		return;
	}
	if (s->st.cursor[0] == '\0' && s->st.etag[0] != '\0') {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", s->st.etag);
		headers[h++] = inm;
	}
	if (s->st.cursor[0] == '\0' && s->st.last_modified[0] != '\0') {
		snprintf(ims, sizeof(ims), "If-Modified-Since: %s", s->st.last_modified);
		headers[h++] = ims;
	}
	tls_data_path(app->dir, cfg->tls_cert ? cfg->tls_cert : app->cfg.tls_cert, cert);
	tls_data_path(app->dir, cfg->tls_key ? cfg->tls_key : app->cfg.tls_key, key);
	tls_data_path(app->dir, cfg->tls_ca ? cfg->tls_ca : app->cfg.tls_ca, ca);
	s->pages++;
	struct fetch_tls tls = { cert, key, ca };
	struct fetch_req req = {
		.url = url, .method = "GET", .headers = headers,
		.timeout_ms = cfg->timeout * 1000L, .connect_timeout_ms = 10000, .tls = &tls,
		.on_data = on_data, .on_done = on_done, .arg = s,
	};
	if (fetcher_start(s->p->fetcher, &req, &e) != ST_OK)
		failed(s, NULL, e.msg);
	free(url);
}

/* Starts a round of s unless one is under way. */
static bool start_round(struct src *s)
{
	struct errbuf e;

	if (s->busy || config_of(s) == NULL)
		return false;
	if (store_source_get(s->p->app->store, s->name, &s->st, &e) != ST_OK) {
		report(s->p, "%s: %s", s->name, e.msg);
		return false;
	}
	s->busy = true;
	s->pages = 0;
	s->changed = false;
	fetch_page(s);
	return true;
}

/*
 * A scheduled round needs the source's lease (node.h): while another node
 * holds it, this one looks again in a lease period; when this node takes
 * it over, the source's state says when the round is due (the other node
 * may have pulled meanwhile).
 */
static bool lease_round(struct src *s)
{
	const struct config *cfg = &s->p->app->cfg;
	int64_t now = time(NULL);
	struct errbuf e;
	char job[64];

	snprintf(job, sizeof(job), "pull:%s", s->name);
	if (s->p->node == NULL || s->busy)
		return true;
	if (!node_take(s->p->node, job)) {
		schedule_at(s, now + cfg->lease_seconds);
		return false;
	}
	if (store_source_get(s->p->app->store, s->name, &s->st, &e) == ST_OK &&
	    s->st.next_at > now) {
		schedule_at(s, s->st.next_at);
		return false;
	}
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct src *s = arg;

	(void)fd;
	(void)what;
	if (!lease_round(s))
		return;
	if (!start_round(s) && !s->busy)
		schedule_at(s, time(NULL) + 60);
}

struct puller *puller_new(struct app *app, struct event_base *base, struct fetcher *f,
			  void (*on_change)(void *arg), void *arg, struct errbuf *e)
{
	struct puller *p = calloc(1, sizeof(*p));

	if (p == NULL)
		goto nomem;
	*p = (struct puller){ .app = app, .base = base, .fetcher = f, .on_change = on_change,
			      .arg = arg };
	p->srcs = calloc(app->cfg.nsources ? app->cfg.nsources : 1, sizeof(*p->srcs));
	if (p->srcs == NULL)
		goto nomem;
	for (size_t i = 0; i < app->cfg.nsources; i++) {
		struct src *s = &p->srcs[p->nsrcs];

		s->p = p;
		s->fd = -1;
		memcpy(s->name, app->cfg.sources[i].name, sizeof(s->name));
		s->timer = evtimer_new(base, on_timer, s);
		if (s->timer == NULL)
			goto nomem;
		p->nsrcs++;
	}
	return p;
nomem:
	puller_free(p);
	errbuf_set(e, ST_FAIL, "out of memory");
	return NULL;
}

void puller_set_work(struct puller *p, struct work_pool *work)
{
	p->work = work;
}

void puller_set_node(struct puller *p, struct node *node)
{
	p->node = node;
}

void puller_free(struct puller *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nsrcs; i++) {
		event_free(p->srcs[i].timer);
		if (p->srcs[i].fd >= 0) {
			close(p->srcs[i].fd);
			unlink(p->srcs[i].spool);
		}
	}
	free(p->srcs);
	free(p);
}

void puller_schedule(struct puller *p)
{
	struct errbuf e;

	p->scheduled = true;
	for (size_t i = 0; i < p->nsrcs; i++) {
		struct src *s = &p->srcs[i];

		if (store_source_get(p->app->store, s->name, &s->st, &e) != ST_OK)
			s->st.next_at = 0;
		schedule_at(s, s->st.next_at);
	}
}

enum status puller_round(struct puller *p, const char *name,
			 void (*report_line)(void *arg, const char *line),
			 void (*done)(void *arg, int failures), void *arg, struct errbuf *e)
{
	p->report = report_line;
	p->done = done;
	p->round_arg = arg;
	p->pending = 0;
	p->failures = 0;
	if (name != NULL && config_source(&p->app->cfg, name) == NULL)
		return errbuf_set(e, ST_USAGE, "no [source.%s] in the configuration", name);
	if (p->nsrcs == 0)
		return errbuf_set(e, ST_FAIL, "no [source.<name>] sections are configured");
	for (size_t i = 0; i < p->nsrcs; i++) {
		struct src *s = &p->srcs[i];

		if (name != NULL && strcmp(s->name, name) != 0)
			continue;
		s->manual = true;
		p->pending++;
		if (!start_round(s)) {
			s->manual = false;
			p->pending--;
			p->failures++;
		}
	}
	if (p->pending == 0 && done != NULL)
		done(arg, p->failures);
	return ST_OK;
}
