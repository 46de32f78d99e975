/*
 * fetch.c - libcurl multi on the libevent loop (see fetch.h), after the
 * pattern of curl's own ev/libevent examples: curl says which sockets to
 * watch (socket callback) and when to wake it (timer callback); libevent
 * tells curl when they are ready.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "fetch.h"

/*
 * libcurl, loaded when the first fetcher is made rather than with the
 * program.  Debian's libcurl brings 27 libraries of its own (GnuTLS,
 * Kerberos, LDAP, SSH, RTMP, ...), and loading them took 5 ms of the
 * start of every command, ingest and match among them, which never fetch
 * (10.8 against 5.6 ms for a program that only prints; systemd loads its
 * optional libraries the same way).  These are the functions used; the
 * calls go through lc.  The headers are those of the -dev package the
 * program was built against, and the library loaded must be at least that
 * version.
 */
static struct {
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	time_t (*getdate)(const char *, const time_t *);
	curl_version_info_data *(*version_info)(CURLversion);
} lc;

static pthread_once_t lc_once = PTHREAD_ONCE_INIT;
static char lc_error[256];	/* why libcurl could not be had; "" when it could */

static void lc_load(void)
{
	static const struct { const char *name; size_t offset; } fns[] = {
#define FN(f) { "curl_" #f, offsetof(__typeof__(lc), f) }
		FN(multi_init), FN(multi_setopt), FN(multi_add_handle), FN(multi_remove_handle),
		FN(multi_socket_action), FN(multi_assign), FN(multi_info_read), FN(multi_cleanup),
		FN(easy_init), FN(easy_setopt), FN(easy_getinfo), FN(easy_strerror),
		FN(easy_cleanup), FN(slist_append), FN(slist_free_all), FN(getdate),
		FN(version_info),
#undef FN
	};
	/* the soname of Debian's libcurl4 (OpenSSL), what `make deps` installs */
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	curl_version_info_data *v;

	if (h == NULL) {
		snprintf(lc_error, sizeof(lc_error), "cannot load libcurl: %s", dlerror());
		return;
	}
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		void *sym = dlsym(h, fns[i].name);

		if (sym == NULL) {
			snprintf(lc_error, sizeof(lc_error), "libcurl has no %s", fns[i].name);
			dlclose(h);
			return;
		}
		memcpy((char *)&lc + fns[i].offset, &sym, sizeof(sym));
	}
	v = lc.version_info(CURLVERSION_NOW);
	if (v == NULL || v->version_num < LIBCURL_VERSION_NUM) {
		snprintf(lc_error, sizeof(lc_error), "libcurl %s is older than %s, which schakel "
			 "was built with", v != NULL ? v->version : "?", LIBCURL_VERSION);
		dlclose(h);
	}
}

struct xfer;

struct fetcher {
	struct event_base *base;
	struct xfer *xfers;	/* under way, for fetcher_free */
	CURLM *multi;
	struct event *timer;
	int running;
	char cert[4096], key[4096], ca[4096];
};

/* One transfer. */
struct xfer {
	struct fetcher *f;
	struct xfer *next, **pprev;
	CURL *easy;
	struct curl_slist *headers;
	void *body;
	struct fetch_req req;
	char error[CURL_ERROR_SIZE];
	char etag[256], last_modified[64];
	char traceparent[128];
	long retry_after;
	double bytes;
	int aborted;
	struct fetch_tls tls;
	char tls_cert[4096], tls_key[4096], tls_ca[4096];
};

/* The libevent event of one socket curl asked us to watch. */
struct sock {
	struct event *ev;
};

/* Unlinks and frees a transfer that is no longer in the multi handle. */
static void xfer_free(struct xfer *x)
{
	if (x->pprev != NULL) {
		*x->pprev = x->next;
		if (x->next != NULL)
			x->next->pprev = x->pprev;
	}
	lc.easy_cleanup(x->easy);
	lc.slist_free_all(x->headers);
	free(x->body);
	free(x);
}

static void check_done(struct fetcher *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = lc.multi_info_read(f->multi, &left)) != NULL) {
		struct xfer *x;
		struct fetch_result r = { .retry_after = -1 };
		double secs = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		lc.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		lc.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
		lc.easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
		r.seconds = secs;
		r.bytes = x->bytes;
		r.retry_after = x->retry_after;
		r.etag = x->etag[0] ? x->etag : NULL;
		r.last_modified = x->last_modified[0] ? x->last_modified : NULL;
		r.traceparent = x->traceparent[0] ? x->traceparent : NULL;
		if (msg->data.result != CURLE_OK) {
			r.error = x->aborted ? "aborted by the receiver of the data"
					     : (x->error[0] ? x->error
							    : lc.easy_strerror(msg->data.result));
		}
		lc.multi_remove_handle(f->multi, x->easy);
		x->req.on_done(x->req.arg, &r);
		xfer_free(x);
	}
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;
	int action = (what & EV_READ ? CURL_CSELECT_IN : 0) |
		     (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	lc.multi_socket_action(f->multi, fd, action, &f->running);
	check_done(f);	/* the timer stays: curl manages it through timer_cb */
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fetcher *f = arg;

	(void)fd;
	(void)what;
	lc.multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &f->running);
	check_done(f);
}

void fetcher_kick(struct fetcher *f)
{
	on_timer(-1, 0, f);
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be woken. */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetcher *f = arg;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)multi;
	if (timeout_ms < 0)
		evtimer_del(f->timer);
	else
		evtimer_add(f->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: which sockets to watch for what. */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct fetcher *f = arg;
	struct sock *sk = sockp;
	short kind = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
		}
		lc.multi_assign(f->multi, s, NULL);
		return 0;
	}
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL)
			return -1;
		lc.multi_assign(f->multi, s, sk);
	} else {
		event_free(sk->ev);
	}
	sk->ev = event_new(f->base, s, kind | EV_PERSIST, on_socket_ready, f);
	if (sk->ev == NULL)
		return -1;
	event_add(sk->ev, NULL);
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	x->bytes += (double)len;
	if (x->req.on_data != NULL && x->req.on_data(x->req.arg, ptr, len) != 0) {
		x->aborted = 1;
		return 0;	/* CURLE_WRITE_ERROR */
	}
	return len;
}

/* Copies a header value without its line end into out. */
static void header_value(const char *line, size_t len, size_t name_len, char *out, size_t n)
{
	const char *v = line + name_len;
	size_t vl = len - name_len;

	while (vl > 0 && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	snprintf(out, n, "%.*s", (int)vl, v);
}

static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	char v[64];

	if (len > 5 && strncasecmp(line, "ETag:", 5) == 0) {
		header_value(line, len, 5, x->etag, sizeof(x->etag));
	} else if (len > 14 && strncasecmp(line, "Last-Modified:", 14) == 0) {
		header_value(line, len, 14, x->last_modified, sizeof(x->last_modified));
	} else if (len > 12 && strncasecmp(line, "traceparent:", 12) == 0) {
		header_value(line, len, 12, x->traceparent, sizeof(x->traceparent));
	} else if (len > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
		header_value(line, len, 12, v, sizeof(v));
		char *end;
		long secs = strtol(v, &end, 10);

		if (end != v && *end == '\0' && secs >= 0)
			x->retry_after = secs;
		else {	/* an HTTP date */
			time_t t = lc.getdate(v, NULL);

			x->retry_after = t > 0 ? (long)(t - time(NULL)) : -1;
			if (x->retry_after < 0 && t > 0)
				x->retry_after = 0;
		}
	}
	return len;
}

struct fetcher *fetcher_new(struct event_base *base, const struct fetch_tls *tls,
			    struct errbuf *e)
{
	struct fetcher *f;

	pthread_once(&lc_once, lc_load);
	if (lc_error[0] != '\0') {
		errbuf_set(e, ST_FAIL, "%s", lc_error);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	f->base = base;
	snprintf(f->cert, sizeof(f->cert), "%s", tls->cert);
	snprintf(f->key, sizeof(f->key), "%s", tls->key);
	snprintf(f->ca, sizeof(f->ca), "%s", tls->ca);
	f->multi = lc.multi_init();
	f->timer = evtimer_new(base, on_timer, f);
	if (f->multi == NULL || f->timer == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		fetcher_free(f);
		return NULL;
	}
	lc.multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	lc.multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	lc.multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	lc.multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	/* No cap per host: the callers bound their transfers (the deliverer per
	 * recipient and in all), and recipients may share one host and port. */
	lc.multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	return f;
}

void fetcher_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	for (struct xfer *x = f->xfers, *next; x != NULL; x = next) {
		next = x->next;
		lc.multi_remove_handle(f->multi, x->easy);
		x->pprev = NULL;	/* the list goes whole */
		xfer_free(x);
	}
	f->xfers = NULL;
	if (f->multi != NULL)
		lc.multi_cleanup(f->multi);
	if (f->timer != NULL)
		event_free(f->timer);
	free(f);
}

/* Sets the options of one transfer. */
static void easy_setup(struct fetcher *f, struct xfer *x)
{
	CURL *c = x->easy;

	lc.easy_setopt(c, CURLOPT_URL, x->req.url);
	lc.easy_setopt(c, CURLOPT_PRIVATE, x);
	lc.easy_setopt(c, CURLOPT_ERRORBUFFER, x->error);
	lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	lc.easy_setopt(c, CURLOPT_WRITEDATA, x);
	lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	lc.easy_setopt(c, CURLOPT_HEADERDATA, x);
	lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	lc.easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	lc.easy_setopt(c, CURLOPT_SSLCERT, x->req.tls != NULL ? x->req.tls->cert : f->cert);
	lc.easy_setopt(c, CURLOPT_SSLKEY, x->req.tls != NULL ? x->req.tls->key : f->key);
	lc.easy_setopt(c, CURLOPT_CAINFO, x->req.tls != NULL ? x->req.tls->ca : f->ca);
	lc.easy_setopt(c, CURLOPT_CAPATH, NULL);
	lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	lc.easy_setopt(c, CURLOPT_TIMEOUT_MS, x->req.timeout_ms);
	lc.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, x->req.connect_timeout_ms);
	lc.easy_setopt(c, CURLOPT_USERAGENT, "schakel");
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
	if (x->body != NULL || strcmp(x->req.method, "POST") == 0) {
		lc.easy_setopt(c, CURLOPT_POST, 1L);
		lc.easy_setopt(c, CURLOPT_POSTFIELDS, x->body != NULL ? x->body : "");
		lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.body_len);
	}
}

enum status fetcher_start(struct fetcher *f, const struct fetch_req *req, struct errbuf *e)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	x->f = f;
	x->req = *req;
	x->req.tls = NULL;	/* copied below: the caller's may not outlive the call */
	if (req->tls != NULL) {
		snprintf(x->tls_cert, sizeof(x->tls_cert), "%s", req->tls->cert);
		snprintf(x->tls_key, sizeof(x->tls_key), "%s", req->tls->key);
		snprintf(x->tls_ca, sizeof(x->tls_ca), "%s", req->tls->ca);
		x->tls = (struct fetch_tls){ x->tls_cert, x->tls_key, x->tls_ca };
		x->req.tls = &x->tls;
	}
	x->retry_after = -1;
	if (x->req.method == NULL)
		x->req.method = "GET";
	if (x->req.timeout_ms <= 0)
		x->req.timeout_ms = 30000;
	if (x->req.connect_timeout_ms <= 0)
		x->req.connect_timeout_ms = 10000;
	x->req.headers = NULL;
	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		struct curl_slist *l = lc.slist_append(x->headers, req->headers[i]);

		if (l == NULL)
			goto nomem;
		x->headers = l;
	}
	if (req->body != NULL) {
		x->body = malloc(req->body_len ? req->body_len : 1);
		if (x->body == NULL)
			goto nomem;
		memcpy(x->body, req->body, req->body_len);
	}
	x->easy = lc.easy_init();
	if (x->easy == NULL)
		goto nomem;
	easy_setup(f, x);
	if (lc.multi_add_handle(f->multi, x->easy) != CURLM_OK) {
		lc.easy_cleanup(x->easy);
		goto nomem;
	}
	x->next = f->xfers;
	if (x->next != NULL)
		x->next->pprev = &x->next;
	x->pprev = &f->xfers;
	f->xfers = x;
	return ST_OK;
nomem:
	lc.slist_free_all(x->headers);
	free(x->body);
	free(x);
	return errbuf_set(e, ST_FAIL, "out of memory");
}
