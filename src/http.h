/*
 * http.h - the HTTPS server: HTTP/1.1 over mutual TLS on libevent
 * bufferevents, with request bodies handed to the handler as they arrive.
 *
 * Why not evhttp: libevent 2.1's evhttp (Debian 12) hands a request to its
 * callback only once the whole body is in memory, and has no hook to
 * stream it (evhttp_set_newreqcb came with 2.2).  Uploads of hundreds of
 * megabytes must not be held in memory, so this module reads requests
 * itself, on the same event loop and bufferevent_openssl connections: the
 * request line and headers (with limits on size and count), then a
 * Content-Length body in pieces.  Chunked request bodies are refused (411).
 *
 * The server refuses what it can judge alone (no or bad client
 * certificate 401, too many connections of one party 429, headers too
 * large 431, body too large 413, a silent client 408, malformed requests
 * 400) with a JSON error, and reports every refusal through
 * http_handler.refused so that the application can log it.
 */
#ifndef SCHAKEL_HTTP_H
#define SCHAKEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "config.h"
#include "status.h"

struct http_server;
struct http_req;

struct http_handler {
	/*
	 * The request line and headers are in, and the client is a verified
	 * party (http_req_oin).  The handler replies at once (a refusal, or a
	 * request without body) or leaves the request open to take its body.
	 */
	void (*begin)(struct http_req *r);
	/* The next piece of the body; returns 0, or -1 after replying. */
	int (*body)(struct http_req *r, const void *buf, size_t len);
	/* The body is complete: reply now (unless replied already). */
	void (*end)(struct http_req *r);
	/* The request ended without a reply (client gone, time-out). */
	void (*abort)(struct http_req *r);
	/* A reply was written: for metrics (may be NULL). */
	void (*complete)(void *arg, const char *method, const char *path, int status,
			 double seconds);
	/*
	 * A refusal, by the server or a handler: for the exchange log.  addr
	 * is the client's IP address; oin is NULL when the client sent no
	 * verified certificate with an OIN.
	 */
	void (*refused)(void *arg, const char *addr, const char *oin, const char *method,
			const char *path, int status, const char *reason);
	/* A TLS connection closed before its handshake was done (may be NULL). */
	void (*handshake_failed)(void *arg, const char *addr);
	void *arg;
};

struct http_limits {
	size_t max_header_bytes;
	size_t max_headers;
	uint64_t max_body_bytes;
	size_t max_connections;
	size_t max_connections_per_party;
	int timeout_s;
	size_t min_body_rate;	/* bytes/s a body must keep up, on average; 0: none */
};

/*
 * Listens on addr:port: HTTPS with client certificates with ctx, or plain
 * HTTP for a loopback admin listener with ctx NULL (no party then).
 * Returns NULL with e set.
 */
struct http_server *http_server_new(struct event_base *base, SSL_CTX *ctx, const char *addr,
				    int port, const struct http_handler *h,
				    const struct http_limits *lim, struct errbuf *e);
/* Uses ctx (a new reference is taken) for connections made from now on. */
void http_server_set_ctx(struct http_server *s, SSL_CTX *ctx);
/* Changes the limits for connections made from now on. */
void http_server_set_limits(struct http_server *s, const struct http_limits *lim);
/* The port actually bound (for port 0). */
int http_server_port(const struct http_server *s);
/*
 * Stops accepting, closes idle connections, lets requests in flight finish,
 * then calls done(arg) once no connection is left.
 */
void http_server_drain(struct http_server *s, void (*done)(void *arg), void *arg);
/* Closes everything; accepts NULL. */
void http_server_free(struct http_server *s);

const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r);	/* decoded-free, as sent */
const char *http_req_query(const struct http_req *r);	/* after '?', or "" */
const char *http_req_header(const struct http_req *r, const char *name);

/*
 * Checks the query string against the parameters an endpoint takes, so
 * that a parameter it would ignore is an error instead of a filter that
 * says nothing: each name one of names (NULL-terminated), at most once,
 * its value well percent-encoded, at most max_value bytes decoded and
 * without control characters.  Returns 0, or -1 after replying 400 with
 * the parameter's name.
 */
int http_query_check(struct http_req *r, const char *const *names, size_t max_value);
const char *http_req_oin(const struct http_req *r);
/* The client's verified certificate (borrowed), or NULL. */
X509 *http_req_peer_cert(const struct http_req *r);
uint64_t http_req_content_length(const struct http_req *r);
void *http_req_data(const struct http_req *r);
void http_req_set_data(struct http_req *r, void *data);
bool http_req_replied(const struct http_req *r);

/* Replies with status and body (len bytes of content_type). */
void http_reply(struct http_req *r, int status, const char *content_type, const void *body,
		size_t len);
/* The same, with extra header lines ("Name: value\r\n" each), or NULL. */
void http_reply_headers(struct http_req *r, int status, const char *content_type,
			const char *extra, const void *body, size_t len);
/* Replies with a JSON document; takes the reference to o. */
void http_reply_json(struct http_req *r, int status, json_t *o);
/*
 * Replies {"status": N, "error": "..."} and reports the refusal through
 * http_handler.refused.
 */
void http_reply_error(struct http_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
