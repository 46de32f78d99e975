/*
 * serve.c - the daemon's event loop and its signals (see serve.h).
 */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "admin.h"
#include "api.h"
#include "log.h"
#include "deliver.h"
#include "exlog.h"
#include "fetch.h"
#include "http.h"
#include "match.h"
#include "pull.h"
#include "purge.h"
#include "metrics.h"
#include "node.h"
#include "otlp.h"
#include "sign.h"
#include "serve.h"
#include "tls.h"
#include "work.h"

struct daemon {
	struct app app;
	struct event_base *base;
	struct http_server *http;
	struct api *api;
	struct fetcher *fetcher;
	struct signer *signer;
	struct deliverer *deliverer;
	struct puller *puller;
	struct otlp *otlp;		/* [ldv] otlp_url set: the export */
	struct event *checkpoint;
	struct event *purge;
	struct event *noise;		/* writes the counted unidentified refusals */
	struct event *reconcile;
	struct http_server *admin;
	struct work_pool *work;
	struct node *node;	/* this node among several: job leases, stale parties */
	bool matching;		/* a match job is queued or running */
	bool match_again;	/* new data came in meanwhile: match once more */
	char again_trace[33];	/* in the trace of the first that came */
	struct waiter *again_waiters;	/* answered when that match is done */
	bool stopping;
	int draining;		/* stopping: the API and the deliverer not drained yet */
};

/* Counts every answered API request for /metrics. */
static void on_complete(void *arg, const char *method, const char *path, int status,
			double seconds)
{
	(void)arg;
	metrics_request(method, path, status, seconds);
}

#define NOISE_SECONDS 60	/* at most one entry per source and cause this often */

/* Writes the refusals of unidentified clients counted in the last minute
 * (not while a worker writes: then at the next minute). */
static void on_noise(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	api_flush_noise(d->api);
}

static enum status start_noise(struct daemon *d, struct errbuf *e)
{
	struct timeval tv = { NOISE_SECONDS, 0 };

	d->noise = event_new(d->base, -1, EV_PERSIST, on_noise, d);
	if (d->noise == NULL || event_add(d->noise, &tv) != 0)
		return errbuf_set(e, ST_FAIL, "out of memory");
	return ST_OK;
}

/* --- the jobs on the worker threads (work.h) -------------------------------- */

/* Worker i's own installation: its database connection, keys, schema, adapters. */
static void *worker_open(void *arg, int i, struct errbuf *e)
{
	struct daemon *d = arg;
	struct app *app = malloc(sizeof(*app));

	(void)i;
	if (app == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	if (app_open(app, d->app.dir, e) != ST_OK) {
		free(app);
		return NULL;
	}
	return app;
}

static void worker_close(void *arg, void *ctx)
{
	(void)arg;
	app_close(ctx);
	free(ctx);
}

/* After a SIGHUP (which the loop checked): the worker reads schakel.conf too. */
static void worker_reload(void *arg, void *ctx)
{
	struct app *app = ctx;
	struct config cfg;
	struct errbuf e;
	char path[4200];

	(void)arg;
	snprintf(path, sizeof(path), "%s/schakel.conf", app->dir);
	if (config_load(&cfg, path, &e) != ST_OK) {
		log_event(LV_ERROR, "serve", "a worker kept the old configuration", "error", e.msg,
			  NULL);
		return;
	}
	config_free(&app->cfg);
	app->cfg = cfg;
}

/* A job of the daemon's own: its outcome, filled on the worker, read on the loop. */
struct job {
	struct daemon *d;
	char today[11];
	enum status st;
	struct errbuf e;
	struct match_result match;
	struct purge_counts purged;
	char key[4096], cert[4096];	/* checkpoints */
	bool made;
	char trace[33];		/* a match: the trace of the data that asked for it */
	struct waiter *waiters;	/* a match: to be told when it is done */
};

/* An upload waiting for the match that covers its data. */
struct waiter {
	struct waiter *next;
	void (*matched)(void *arg);
	void *arg;
};

/* A job as of today; NULL when out of memory.  Its done frees it. */
static struct job *job_new(struct daemon *d)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j != NULL) {
		j->d = d;
		match_today(j->today);
	}
	return j;
}

/* Hands j to the workers; false (j freed, logged) when it cannot be. */
static bool job_submit(struct daemon *d, struct job *j, work_run_fn *run, work_done_fn *done,
		       const char *what)
{
	if (j != NULL && work_submit(d->work, WORK_WRITES, run, done, j))
		return true;
	free(j);
	if (!d->stopping)
		log_event(LV_ERROR, "serve", "cannot queue a job: out of memory", "job", what,
			  NULL);
	return false;
}

static void match_job_run(void *ctx, void *arg)
{
	struct job *j = arg;

	struct store *st = ((struct app *)ctx)->store;

	store_trace_set(st, j->trace[0] ? j->trace : NULL);
	j->st = match_run_mode(ctx, j->today, MATCH_CHANGED, &j->match, NULL, NULL, &j->e);
	store_trace_set(st, NULL);
}

static bool submit_match(struct daemon *d, const char *trace, struct waiter *waiters);

/* Tells the waiters (uploads answer now) and frees them. */
static void tell_waiters(struct waiter *w)
{
	while (w != NULL) {
		struct waiter *next = w->next;

		w->matched(w->arg);
		free(w);
		w = next;
	}
}

static void match_job_done(void *arg)
{
	struct job *j = arg;
	struct daemon *d = j->d;
	struct waiter *again = d->again_waiters;

	if (j->st != ST_OK)
		log_event(LV_ERROR, "match", "match after new data failed", "error", j->e.msg,
			  NULL);
	else
		log_match(j->today, &j->match);
	tell_waiters(j->waiters);
	free(j);
	deliverer_kick(d->deliverer);
	otlp_kick(d->otlp);
	d->matching = false;
	if (d->match_again) {
		d->match_again = false;
		d->again_waiters = NULL;
		if (!submit_match(d, d->again_trace, again))
			tell_waiters(again);
	}
}

/* A match job as of today in trace, telling waiters when done; false: none. */
static bool submit_match(struct daemon *d, const char *trace, struct waiter *waiters)
{
	struct job *j = job_new(d);

	if (j != NULL) {
		snprintf(j->trace, sizeof(j->trace), "%s", trace != NULL ? trace : "");
		j->waiters = waiters;
	}
	d->matching = job_submit(d, j, match_job_run, match_job_done, "match");
	return d->matching;
}

/*
 * New data came in (an upload, a pull round): an incremental match as of
 * today on a worker, then deliver; in the trace the loop's store carries
 * (the upload's or the page's).  matched(marg), when not NULL, is called
 * once a match that covers the data is done.  One match at a time: data
 * that comes in while one is queued or running gets one more after it (in
 * the trace of the first that came meanwhile).  false (nothing asked, and
 * matched not called) when no match can be queued.
 */
static bool request_match_for(void *arg, void (*matched)(void *marg), void *marg)
{
	struct daemon *d = arg;
	const char *trace = store_trace(d->app.store);
	struct waiter *w = NULL;

	if (matched != NULL) {
		w = malloc(sizeof(*w));
		if (w == NULL)
			return false;
		*w = (struct waiter){ NULL, matched, marg };
	}
	if (d->matching) {
		if (!d->match_again)
			snprintf(d->again_trace, sizeof(d->again_trace), "%s",
				 trace != NULL ? trace : "");
		d->match_again = true;
		if (w != NULL) {
			w->next = d->again_waiters;
			d->again_waiters = w;
		}
		return true;
	}
	if (submit_match(d, trace, w))
		return true;
	free(w);
	return false;
}

/* A pull round stored new data. */
static void request_match(void *arg)
{
	request_match_for(arg, NULL, NULL);
}

static void purge_job_run(void *ctx, void *arg)
{
	struct job *j = arg;

	j->st = purge_run(ctx, j->today, &j->purged, &j->e);
}

static void purge_job_done(void *arg)
{
	struct job *j = arg;
	struct timeval day = { 86400, 0 };
	const struct purge_counts *n = &j->purged;
	char counts[128];

	if (j->st != ST_OK) {
		log_event(LV_ERROR, "purge", "purge failed", "error", j->e.msg, NULL);
	} else {
		snprintf(counts, sizeof(counts), "%ld/%ld/%ld/%ld/%ld", n->persons, n->dwellings,
			 n->findings, n->signals, n->deliveries);
		log_event(LV_INFO, "purge", "purged", "registrations/dwellings/findings/signals/"
			  "deliveries", counts, NULL);
	}
	evtimer_add(j->d->purge, &day);
	free(j);
}

/* Deletes what is past its retention period, once a day (on a worker). */
static void on_purge(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (!node_take(d->node, "purge") ||
	    !job_submit(d, job_new(d), purge_job_run, purge_job_done, "purge")) {
		struct timeval day = { 86400, 0 };

		evtimer_add(d->purge, &day);
	}
}

/*
 * Checks the incremental matches ([match] full_interval): brings them up
 * to today, then a full run, which should find nothing to change; its
 * `match` log entry (mode reconcile) has the counts.
 */
static void reconcile_job_run(void *ctx, void *arg)
{
	struct job *j = arg;

	j->st = match_run_mode(ctx, j->today, MATCH_CHANGED, &j->match, NULL, NULL, &j->e);
	if (j->st == ST_OK)
		j->st = match_run_mode(ctx, j->today, MATCH_RECONCILE, &j->match, NULL, NULL,
				       &j->e);
}

static void reconcile_job_done(void *arg)
{
	struct job *j = arg;
	struct daemon *d = j->d;
	struct timeval tv = { d->app.cfg.full_interval, 0 };
	const struct match_result *res = &j->match;
	char changed[48];

	if (j->st != ST_OK) {
		log_event(LV_ERROR, "match", "full match failed", "error", j->e.msg, NULL);
	} else if (res->created > 0 || res->ended > 0) {
		snprintf(changed, sizeof(changed), "%ld/%ld", res->created, res->ended);
		log_event(LV_WARN, "match", "the full match changed what the incremental ones left",
			  "new/ended", changed, NULL);
	} else {
		log_match(j->today, res);
	}
	free(j);
	deliverer_kick(d->deliverer);
	if (d->app.cfg.full_interval > 0)
		evtimer_add(d->reconcile, &tv);
}

/* The daily check of the incremental matches, on a worker. */
static void on_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { d->app.cfg.full_interval, 0 };

	(void)fd;
	(void)what;
	if ((!node_take(d->node, "reconcile") ||
	     !job_submit(d, job_new(d), reconcile_job_run, reconcile_job_done, "reconcile")) &&
	    d->app.cfg.full_interval > 0)
		evtimer_add(d->reconcile, &tv);
}

/* The operator's listener ([admin]). */
static enum status start_admin(struct daemon *d, struct errbuf *e)
{
	struct http_limits lim = { 16384, 64, 1024, 64, 64, 30, 0 };
	struct http_handler h;
	char msg[128];

	if (!d->app.cfg.admin_enabled)
		return ST_OK;
	admin_handler(&d->app, &h);
	admin_set_deliverer(d->deliverer);
	admin_set_node(d->node);
	d->admin = http_server_new(d->base, NULL, d->app.cfg.admin_listen, d->app.cfg.admin_port,
				   &h, &lim, e);
	if (d->admin == NULL) {
		/* The exchange goes on without its operator's page; say so loudly. */
		log_event(LV_ERROR, "admin", "no operator page", "error", e->msg, NULL);
		return ST_OK;
	}
	snprintf(msg, sizeof(msg), "operator page on http://%s:%d/", d->app.cfg.admin_listen,
		 http_server_port(d->admin));
	log_event(LV_INFO, "admin", msg, NULL);
	return ST_OK;
}

/* Signs the chain head of the worker's store with the broker's key (the paths in j). */
static void checkpoint_job_run(void *ctx, void *arg)
{
	struct job *j = arg;

	j->st = exlog_checkpoint(((struct app *)ctx)->store, j->key, j->cert, &j->made, &j->e);
}

static void checkpoint_log(const struct job *j)
{
	if (j->st != ST_OK)
		log_event(LV_ERROR, "log", "cannot sign a checkpoint", "error", j->e.msg, NULL);
	else if (j->made)
		log_event(LV_INFO, "log", "signed a checkpoint of the exchange log", NULL);
}

static void checkpoint_job_done(void *arg)
{
	struct job *j = arg;
	struct daemon *d = j->d;
	struct timeval tv = { d->app.cfg.checkpoint_interval, 0 };

	checkpoint_log(j);
	free(j);
	if (d->app.cfg.checkpoint_interval > 0)
		evtimer_add(d->checkpoint, &tv);
}

/* A checkpoint job with the key and certificate of [server]; NULL: out of memory. */
static struct job *checkpoint_job(struct daemon *d)
{
	struct job *j = job_new(d);

	if (j != NULL) {
		tls_data_path(d->app.dir, d->app.cfg.tls_key, j->key);
		tls_data_path(d->app.dir, d->app.cfg.tls_cert, j->cert);
	}
	return j;
}

/* Signs the chain head now and then ([log] checkpoint_interval), on a worker. */
static void on_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { d->app.cfg.checkpoint_interval, 0 };

	(void)fd;
	(void)what;
	if ((!node_take(d->node, "checkpoint") ||
	     !job_submit(d, checkpoint_job(d), checkpoint_job_run, checkpoint_job_done,
			 "checkpoint")) && d->app.cfg.checkpoint_interval > 0)
		evtimer_add(d->checkpoint, &tv);
}

/* The last checkpoint, when the daemon stops (after the loop and the workers). */
static void final_checkpoint(struct daemon *d)
{
	struct job *j = checkpoint_job(d);

	if (j == NULL)
		return;
	checkpoint_job_run(&d->app, j);
	checkpoint_log(j);
	free(j);
}

/* The client side: deliveries (and pulls) with the broker's certificate. */
static enum status start_client(struct daemon *d, struct errbuf *e)
{
	char cert[4096], key[4096], ca[4096];
	const struct config *cfg = &d->app.cfg;

	tls_data_path(d->app.dir, cfg->tls_cert, cert);
	tls_data_path(d->app.dir, cfg->tls_key, key);
	tls_data_path(d->app.dir, cfg->tls_ca, ca);
	if (sign_init(e) != ST_OK)
		return ST_FAIL;
	d->signer = sign_signer_new(key, cert, e);
	if (d->signer == NULL)
		return ST_FAIL;
	d->fetcher = fetcher_new(d->base, &(struct fetch_tls){ cert, key, ca }, e);
	if (d->fetcher == NULL)
		return ST_FAIL;
	d->deliverer = deliverer_new(&d->app, d->base, d->fetcher, d->signer, e);
	if (d->deliverer == NULL)
		return ST_FAIL;
	d->puller = puller_new(&d->app, d->base, d->fetcher, request_match, d, e);
	if (d->puller == NULL)
		return ST_FAIL;
	puller_set_work(d->puller, d->work);
	puller_set_node(d->puller, d->node);
	puller_schedule(d->puller);
	if (d->app.cfg.ldv_otlp_url != NULL &&
	    (d->otlp = otlp_new(&d->app, d->base, d->fetcher, e)) == NULL)
		return ST_FAIL;
	d->checkpoint = evtimer_new(d->base, on_checkpoint, d);
	d->purge = evtimer_new(d->base, on_purge, d);
	d->reconcile = evtimer_new(d->base, on_reconcile, d);
	if (d->checkpoint == NULL || d->purge == NULL || d->reconcile == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (d->app.cfg.full_interval > 0) {
		struct timeval tv = { d->app.cfg.full_interval, 0 };

		evtimer_add(d->reconcile, &tv);
	}
	{
		struct timeval first = { 60, 0 };	/* a minute after start, then daily */

		evtimer_add(d->purge, &first);
	}
	if (d->app.cfg.checkpoint_interval > 0) {
		struct timeval tv = { d->app.cfg.checkpoint_interval, 0 };

		evtimer_add(d->checkpoint, &tv);
	}
	return ST_OK;
}

/*
 * Removes what a daemon that was killed left in DIR/spool: uploads and
 * pulls it never finished, whose data was never committed.
 */
static void clean_spool(const char *dir)
{
	char path[4400];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/spool", dir);
	d = opendir(path);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "upload-", 7) != 0 && strncmp(de->d_name, "pull-", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%.4000s/spool/%.255s", dir, de->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
}

static struct http_limits limits(const struct config *cfg)
{
	return (struct http_limits){
		.max_header_bytes = cfg->max_header_bytes,
		.max_headers = cfg->max_headers,
		.max_body_bytes = cfg->max_body_bytes,
		.max_connections = cfg->max_connections,
		.max_connections_per_party = cfg->max_connections_per_party,
		.timeout_s = cfg->request_timeout,
		.min_body_rate = cfg->min_body_rate,
	};
}

/* One of the two drains (the API's requests, the deliveries) is over. */
static void stopped(void *arg)
{
	struct daemon *d = arg;

	if (--d->draining == 0)
		event_base_loopexit(d->base, NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (d->stopping)
		return;
	d->stopping = true;
	(void)sig;
	log_event(LV_INFO, "serve", "stopping: finishing requests in flight", NULL);
	d->draining = d->otlp != NULL ? 3 : 2;
	if (d->admin != NULL)
		http_server_drain(d->admin, NULL, NULL);
	http_server_drain(d->http, stopped, d);
	deliverer_drain(d->deliverer, d->app.cfg.delivery_drain_seconds, stopped, d);
	if (d->otlp != NULL)
		otlp_drain(d->otlp, d->app.cfg.delivery_drain_seconds, stopped, d);
}

/* Reads schakel.conf and the TLS files again: true, or the old ones kept (logged). */
static bool reload(struct daemon *d)
{
	struct http_limits lim;
	struct config cfg;
	struct errbuf e;
	char path[4200], n[16];
	SSL_CTX *ctx;

	snprintf(path, sizeof(path), "%s/schakel.conf", d->app.dir);
	if (config_load(&cfg, path, &e) != ST_OK) {
		log_event(LV_ERROR, "serve", "reload refused, old configuration kept",
			  "error", e.msg, NULL);
		return false;
	}
	ctx = tls_server_ctx(&cfg, d->app.dir, &e);
	if (ctx == NULL) {
		log_event(LV_ERROR, "serve", "reload refused, old configuration kept",
			  "error", e.msg, NULL);
		config_free(&cfg);
		return false;
	}
	http_server_set_ctx(d->http, ctx);
	SSL_CTX_free(ctx);
	config_free(&d->app.cfg);
	d->app.cfg = cfg;
	work_pool_reload(d->work);
	lim = limits(&d->app.cfg);
	http_server_set_limits(d->http, &lim);
	log_setup(d->app.cfg.log_level, d->app.cfg.log_format);
	snprintf(n, sizeof(n), "%zu", d->app.cfg.nparties);
	log_event(LV_INFO, "serve", "configuration reloaded", "parties", n, NULL);
	return true;
}

/* SIGHUP: a new configuration and TLS context, or the old ones kept. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)sig;
	(void)what;
	if (reload(d))
		node_reloaded(d->node);	/* the other nodes see the new parties */
}

/* node.h's: the parties are stale, and schakel.conf has the newest. */
static bool node_reload(void *arg)
{
	return reload(arg);
}

/* node.h's: refuse the parties (why), or serve them again (NULL). */
static void node_refuse(void *arg, const char *why)
{
	struct daemon *d = arg;

	api_set_refusing(d->api, why);
}

enum status serve_run(const char *dir, int port, struct errbuf *e)
{
	struct daemon d = { 0 };
	struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
	struct http_handler h;
	struct http_limits lim;
	enum status st = ST_FAIL;
	SSL_CTX *ctx = NULL;

	signal(SIGPIPE, SIG_IGN);
	if (app_open(&d.app, dir, e) != ST_OK)
		return ST_FAIL;
	log_setup(d.app.cfg.log_level, d.app.cfg.log_format);
	clean_spool(d.app.dir);
	ctx = tls_server_ctx(&d.app.cfg, dir, e);
	d.base = event_base_new();
	d.api = api_new(&d.app, e);
	if (ctx == NULL || d.base == NULL || d.api == NULL)
		goto out_free;
	d.work = work_pool_new(d.base, d.app.cfg.workers, d.app.cfg.work_queue,
			       &(struct work_ops){ worker_open, worker_close, worker_reload, &d }, e);
	if (d.work == NULL)
		goto out_free;
	api_set_work(d.api, d.work, request_match_for, &d);
	admin_set_work(d.work);
	api_handler(d.api, &h);
	h.complete = on_complete;
	lim = limits(&d.app.cfg);
	d.http = http_server_new(d.base, ctx, d.app.cfg.listen, port >= 0 ? port : d.app.cfg.port,
				 &h, &lim, e);
	if (d.http == NULL)
		goto out_free;
	d.node = node_new(&d.app, d.base, d.work, &(struct node_ops){ node_reload, node_refuse,
								      &d }, e);
	if (d.node == NULL || start_client(&d, e) != ST_OK || start_admin(&d, e) != ST_OK ||
	    start_noise(&d, e) != ST_OK)
		goto out_free;
	ev_term = evsignal_new(d.base, SIGTERM, on_term, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_term, &d);
	ev_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL || event_add(ev_term, NULL) ||
	    event_add(ev_int, NULL) || event_add(ev_hup, NULL)) {
		errbuf_set(e, ST_FAIL, "cannot set up signal handling");
		goto out_free;
	}
	{
		char msg[128];

		snprintf(msg, sizeof(msg), "listening on %s:%d", d.app.cfg.listen,
			 http_server_port(d.http));
		log_event(LV_INFO, "serve", msg, NULL);
	}
	if (event_base_dispatch(d.base) < 0)
		errbuf_set(e, ST_FAIL, "the event loop failed");
	else
		st = ST_OK;
	log_event(LV_INFO, "serve", "stopped", NULL);
out_free:
	if (d.noise != NULL)
		event_free(d.noise);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	if (ev_hup != NULL)
		event_free(ev_hup);
	admin_set_work(NULL);
	admin_set_node(NULL);
	work_pool_free(d.work);	/* runs what is queued (a match), hands back outcomes */
	if (d.api != NULL) {
		api_set_work(d.api, NULL, NULL, NULL);
		api_flush_noise(d.api);	/* before the last checkpoint, which then signs them */
	}
	http_server_free(d.http);
	if (d.purge != NULL)
		event_free(d.purge);
	if (d.reconcile != NULL)
		event_free(d.reconcile);
	http_server_free(d.admin);
	if (d.checkpoint != NULL) {
		if (d.app.cfg.checkpoint_interval > 0 && node_holds(d.node, "checkpoint"))
			final_checkpoint(&d);	/* sign the head on the way out */
		event_free(d.checkpoint);
	}
	node_free(d.node);	/* the workers have stopped: its leases given up */
	fetcher_free(d.fetcher);	/* first: no more callbacks */
	puller_free(d.puller);
	otlp_free(d.otlp);
	deliverer_free(d.deliverer);
	if (d.signer != NULL) {
		sign_signer_free(d.signer);
		sign_cleanup();
	}
	api_free(d.api);
	if (d.base != NULL)
		event_base_free(d.base);
	SSL_CTX_free(ctx);
	app_close(&d.app);
	return st;
}
