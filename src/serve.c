/*
 * serve.c - the daemon's event loop and its signals (see serve.h).
 */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
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
#include "otlp.h"
#include "sign.h"
#include "serve.h"
#include "tls.h"

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

/* Writes the refusals of unidentified clients counted in the last minute. */
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

/* Deletes what is past its retention period, once a day. */
static void on_purge(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval day = { 86400, 0 };
	struct purge_counts n;
	char today[11], counts[128];
	struct errbuf e;

	(void)fd;
	(void)what;
	match_today(today);
	if (purge_run(&d->app, today, &n, &e) != ST_OK) {
		log_event(LV_ERROR, "purge", "purge failed", "error", e.msg, NULL);
	} else {
		snprintf(counts, sizeof(counts), "%ld/%ld/%ld/%ld/%ld", n.persons, n.dwellings,
			 n.findings, n.signals, n.deliveries);
		log_event(LV_INFO, "purge", "purged", "registrations/dwellings/findings/signals/"
			  "deliveries", counts, NULL);
	}
	evtimer_add(d->purge, &day);
}

/*
 * Checks the incremental matches ([match] full_interval): brings them up
 * to today, then a full run, which should find nothing to change; its
 * `match` log entry (mode reconcile) has the counts.
 */
static void on_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = { d->app.cfg.full_interval, 0 };
	struct match_result res;
	char today[11], changed[48];
	struct errbuf e;

	(void)fd;
	(void)what;
	match_today(today);
	if (match_run_mode(&d->app, today, MATCH_CHANGED, &res, NULL, NULL, &e) != ST_OK ||
	    match_run_mode(&d->app, today, MATCH_RECONCILE, &res, NULL, NULL, &e) != ST_OK) {
		log_event(LV_ERROR, "match", "full match failed", "error", e.msg, NULL);
	} else if (res.created > 0 || res.ended > 0) {
		snprintf(changed, sizeof(changed), "%ld/%ld", res.created, res.ended);
		log_event(LV_WARN, "match", "the full match changed what the incremental ones left",
			  "new/ended", changed, NULL);
	} else {
		log_match(today, &res);
	}
	deliverer_kick(d->deliverer);
	if (d->app.cfg.full_interval > 0)
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

/* Signs the chain head now and then ([log] checkpoint_interval). */
static void on_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char key[4096], cert[4096];
	struct timeval tv = { d->app.cfg.checkpoint_interval, 0 };
	struct errbuf e;
	bool made;

	(void)fd;
	(void)what;
	tls_data_path(d->app.dir, d->app.cfg.tls_key, key);
	tls_data_path(d->app.dir, d->app.cfg.tls_cert, cert);
	if (exlog_checkpoint(d->app.store, key, cert, &made, &e) != ST_OK)
		log_event(LV_ERROR, "log", "cannot sign a checkpoint", "error", e.msg, NULL);
	else if (made)
		log_event(LV_INFO, "log", "signed a checkpoint of the exchange log", NULL);
	if (d->app.cfg.checkpoint_interval > 0)
		evtimer_add(d->checkpoint, &tv);
}

/* New data came in from a pull: match as of today, deliver. */
static void on_new_data(void *arg)
{
	struct daemon *d = arg;
	struct match_result res;
	struct errbuf e;
	char today[11];

	match_today(today);
	if (match_run_mode(&d->app, today, MATCH_CHANGED, &res, NULL, NULL, &e) != ST_OK)
		log_event(LV_ERROR, "match", "match after pull failed", "error", e.msg, NULL);
	else
		log_match(today, &res);
	deliverer_kick(d->deliverer);
	otlp_kick(d->otlp);
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
	d->puller = puller_new(&d->app, d->base, d->fetcher, on_new_data, d, e);
	if (d->puller == NULL)
		return ST_FAIL;
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

/* SIGHUP: a new configuration and TLS context, or the old ones kept. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct http_limits lim;
	struct config cfg;
	struct errbuf e;
	char path[4200];
	SSL_CTX *ctx;

	(void)sig;
	(void)what;
	snprintf(path, sizeof(path), "%s/schakel.conf", d->app.dir);
	if (config_load(&cfg, path, &e) != ST_OK) {
		log_event(LV_ERROR, "serve", "reload refused, old configuration kept",
			  "error", e.msg, NULL);
		return;
	}
	ctx = tls_server_ctx(&cfg, d->app.dir, &e);
	if (ctx == NULL) {
		log_event(LV_ERROR, "serve", "reload refused, old configuration kept",
			  "error", e.msg, NULL);
		config_free(&cfg);
		return;
	}
	http_server_set_ctx(d->http, ctx);
	SSL_CTX_free(ctx);
	config_free(&d->app.cfg);
	d->app.cfg = cfg;
	lim = limits(&d->app.cfg);
	http_server_set_limits(d->http, &lim);
	log_setup(d->app.cfg.log_level, d->app.cfg.log_format);
	{
		char n[16];

		snprintf(n, sizeof(n), "%zu", d->app.cfg.nparties);
		log_event(LV_INFO, "serve", "configuration reloaded", "parties", n, NULL);
	}
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
	api_handler(d.api, &h);
	h.complete = on_complete;
	lim = limits(&d.app.cfg);
	d.http = http_server_new(d.base, ctx, d.app.cfg.listen, port >= 0 ? port : d.app.cfg.port,
				 &h, &lim, e);
	if (d.http == NULL || start_client(&d, e) != ST_OK || start_admin(&d, e) != ST_OK ||
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
	api_flush_noise(d.api);	/* before the last checkpoint, which then signs them */
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
	http_server_free(d.http);
	if (d.purge != NULL)
		event_free(d.purge);
	if (d.reconcile != NULL)
		event_free(d.reconcile);
	http_server_free(d.admin);
	if (d.checkpoint != NULL) {
		if (d.app.cfg.checkpoint_interval > 0)
			on_checkpoint(-1, 0, &d);	/* sign the head on the way out */
		event_free(d.checkpoint);
	}
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
