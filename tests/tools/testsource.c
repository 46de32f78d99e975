/*
 * testsource.c - a scripted HTTPS source for the pull tests.
 *
 *   testsource --dir DIR --cert PEM --key PEM --ca PEM [--port N]
 *
 * Serves DIR/<path> for GET /<path>, and DIR/<path>.<cursor> for
 * GET /<path>?na=<cursor>, over mutual TLS (the real http.c server).  It
 * sends an ETag and a Last-Modified and answers 304 to a matching
 * If-None-Match.  Control files change its behaviour for a path:
 *   DIR/<path>.fail   holding N: answer 500 to the next N requests
 *   DIR/<path>.delay  holding S: wait S seconds before answering
 * Every request is logged on stderr as "GET <target> -> <status>".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "http.h"
#include "tls.h"

static const char *dir;
static struct event_base *base;

struct delayed {
	struct http_req *r;
	int status;
	char *body;
	size_t len;
	char etag[64];
	struct event *ev;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Reads a number from a control file, and writes back n - 1 when dec. */
static long control(const char *path, bool dec)
{
	size_t len;
	char *text = slurp(path, &len);
	long n = text != NULL ? strtol(text, NULL, 10) : 0;
	FILE *f;

	free(text);
	if (dec && n > 0 && (f = fopen(path, "w")) != NULL) {
		fprintf(f, "%ld\n", n - 1);
		fclose(f);
	}
	return n;
}

static void send_now(struct delayed *d)
{
	http_req_set_data(d->r, NULL);
	char extra[160];

	snprintf(extra, sizeof(extra), "ETag: %s\r\nLast-Modified: Sun, 01 Nov 2026 08:00:00 GMT\r\n",
		 d->etag);
	if (d->status == 200)
		http_reply_headers(d->r, 200, "application/octet-stream", extra, d->body, d->len);
	else if (d->status == 304)
		http_reply_headers(d->r, 304, "text/plain", extra, "", 0);
	else
		http_reply(d->r, d->status, "text/plain", "failing on purpose\n", 19);
	free(d->body);
	if (d->ev != NULL)
		event_free(d->ev);
	free(d);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_now(arg);
}

static void on_begin(struct http_req *r)
{
	const char *path = http_req_path(r), *q = http_req_query(r);
	const char *inm = http_req_header(r, "If-None-Match");
	char file[4096], ctl[4200];
	struct delayed *d = calloc(1, sizeof(*d));
	long delay;

	if (d == NULL || strstr(path, "..") != NULL) {
		http_reply_error(r, 400, "bad path");
		free(d);
		return;
	}
	d->r = r;
	if (strncmp(q, "na=", 3) == 0)
		snprintf(file, sizeof(file), "%s%s.%s", dir, path, q + 3);
	else
		snprintf(file, sizeof(file), "%s%s", dir, path);
	snprintf(ctl, sizeof(ctl), "%s%s.fail", dir, path);
	if (control(ctl, true) > 0) {
		d->status = 500;
	} else if ((d->body = slurp(file, &d->len)) == NULL) {
		d->status = 404;
	} else {
		snprintf(d->etag, sizeof(d->etag), "\"%zx-%lx\"", d->len,
			 (unsigned long)(d->len ? (unsigned char)d->body[d->len / 2] : 0));
		d->status = inm != NULL && strcmp(inm, d->etag) == 0 ? 304 : 200;
	}
	fprintf(stderr, "GET %s%s%s -> %d\n", path, *q ? "?" : "", q, d->status);
	snprintf(ctl, sizeof(ctl), "%s%s.delay", dir, path);
	delay = control(ctl, false);
	if (delay > 0) {
		struct timeval tv = { delay, 0 };

		d->ev = evtimer_new(base, on_delay, d);
		evtimer_add(d->ev, &tv);
		http_req_set_data(r, d);	/* dropped by on_abort if the client goes */
		return;
	}
	send_now(d);
}

static int on_body(struct http_req *r, const void *buf, size_t len)
{
	(void)buf;
	(void)len;
	http_reply_error(r, 400, "GET only");
	return -1;
}

static void on_end(struct http_req *r)
{
	(void)r;
}

/* The client went away before a delayed reply: drop it. */
static void on_abort(struct http_req *r)
{
	struct delayed *d = http_req_data(r);

	if (d == NULL)
		return;
	http_req_set_data(r, NULL);
	event_free(d->ev);
	free(d->body);
	free(d);
}

static void on_term(evutil_socket_t s, short w, void *a)
{
	(void)s;
	(void)w;
	(void)a;
	event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' }, { "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' }, { "ca", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
	};
	const char *cert = NULL, *key = NULL, *ca = NULL;
	struct http_handler h = { .begin = on_begin, .body = on_body, .end = on_end,
				  .abort = on_abort };
	struct http_limits lim = { 16384, 64, 1 << 20, 64, 64, 30, 0 };
	struct http_server *srv;
	struct errbuf e;
	SSL_CTX *ctx;
	int c, port = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': ca = optarg; break;
		case 'p': port = atoi(optarg); break;
		default: return 2;
		}
	}
	if (dir == NULL || cert == NULL || key == NULL || ca == NULL) {
		fprintf(stderr, "usage: testsource --dir DIR --cert PEM --key PEM --ca PEM [--port N]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = tls_server_ctx_files(cert, key, ca, NULL, &e);
	base = event_base_new();
	srv = ctx != NULL ? http_server_new(base, ctx, "127.0.0.1", port, &h, &lim, &e) : NULL;
	if (srv == NULL) {
		fprintf(stderr, "testsource: %s\n", e.msg);
		return 1;
	}
	struct event *t = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(t, NULL);
	fprintf(stderr, "testsource: listening on 127.0.0.1:%d\n", http_server_port(srv));
	event_base_dispatch(base);
	event_free(t);
	http_server_free(srv);
	SSL_CTX_free(ctx);
	event_base_free(base);
	return 0;
}
