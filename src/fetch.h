/*
 * fetch.h - the HTTPS client: libcurl's multi socket interface driven by
 * the daemon's libevent loop, so pulls and deliveries run side by side
 * with the API on one thread, and one slow peer holds up nobody else.
 *
 * Every transfer is mutual TLS (TLS 1.2 at least), with the broker's
 * certificate as client certificate and the configured CA bundle to
 * verify the peer.  Bodies arrive through on_data as they come.
 */
#ifndef SCHAKEL_FETCH_H
#define SCHAKEL_FETCH_H

#include <stddef.h>

#include <event2/event.h>

#include "status.h"

struct fetcher;

struct fetch_tls {
	const char *cert, *key, *ca;	/* PEM files */
};

struct fetch_result {
	long status;		/* HTTP status, 0 when no response came */
	const char *error;	/* why the transfer failed, or NULL */
	double seconds;
	double bytes;		/* body bytes received */
	long retry_after;	/* seconds from a Retry-After header, or -1 */
	const char *etag, *last_modified;	/* response headers, or NULL */
	const char *traceparent;		/* the response's, as sent, or NULL */
};

struct fetch_req {
	const char *url;
	const char *method;		/* "GET" or "POST" */
	const void *body;		/* POST body (copied), or NULL */
	size_t body_len;
	const char *const *headers;	/* "Name: value", NULL-terminated, or NULL */
	long timeout_ms;		/* whole transfer */
	long connect_timeout_ms;
	const struct fetch_tls *tls;	/* NULL: the fetcher's */
	/* A piece of the response body; return 0, or -1 to abort. */
	int (*on_data)(void *arg, const void *buf, size_t len);
	/* The transfer is over (r valid during the call only). */
	void (*on_done)(void *arg, const struct fetch_result *r);
	void *arg;
};

struct fetcher *fetcher_new(struct event_base *base, const struct fetch_tls *tls,
			    struct errbuf *e);
/* Stops every transfer (without calling on_done) and frees; accepts NULL. */
void fetcher_free(struct fetcher *f);

/* Starts a transfer; on_done is called once, later: from the loop, or from
 * fetcher_kick(). */
enum status fetcher_start(struct fetcher *f, const struct fetch_req *req, struct errbuf *e);

/*
 * Lets curl work now instead of at the loop's next turn: a request just
 * started on a kept-alive connection goes on the wire before the caller
 * does something slow.  on_done callbacks may run from inside.
 */
void fetcher_kick(struct fetcher *f);

#endif
