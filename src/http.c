/*
 * http.c - the HTTPS server (see http.h for why it is not evhttp).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "http.h"
#include "log.h"
#include "tls.h"

enum conn_state {
	C_HANDSHAKE,	/* TLS handshake under way */
	C_HEAD,		/* reading a request line and headers */
	C_BODY,		/* reading a body into the handler */
	C_HANDLER,	/* the body is in; waiting for the handler's reply */
	C_WRITING,	/* a reply is being written */
	C_LINGER,	/* replied early: reading and dropping the rest, then closing */
};

#define LINGER_SECONDS 2

struct http_req {
	struct conn *conn;
	char method[16];
	char *target;		/* malloc'd: path, '\0', query */
	const char *query;
	struct evkeyvalq headers;
	uint64_t content_length, received;
	bool replied, in_handler;
	void *data;
	struct timeval started;
	struct timeval deadline;	/* the body must be in by then */
};

struct conn {
	struct http_server *srv;
	struct bufferevent *bev;
	enum conn_state state;
	char oin[OIN_LEN + 1];
	char addr[INET6_ADDRSTRLEN];	/* the client's address */
	char peer_error[256];	/* why the client certificate is refused */
	bool counted;		/* counted in its party's connections */
	bool over_limit;	/* too many connections of this party */
	bool close_after;	/* close once the reply is written */
	bool linger;		/* the client may still be sending: drain before closing */
	bool active;		/* a request is under way */
	struct http_req req;
	LIST_ENTRY(conn) link;
};

struct party_count {
	char oin[OIN_LEN + 1];
	size_t n;
};

struct http_server {
	struct event_base *base;
	struct evconnlistener *listener;
	SSL_CTX *ctx;
	struct http_handler h;
	struct http_limits lim;
	LIST_HEAD(, conn) conns;
	size_t nconns;
	struct party_count *parties;
	size_t nparties;
	void (*drained)(void *arg);
	void *drained_arg;
	bool draining;
};

static void conn_process(struct conn *c);

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Counts c in its party's connections; false when that is over the limit. */
static bool party_enter(struct http_server *s, struct conn *c)
{
	struct party_count *p = NULL, *grown;

	for (size_t i = 0; i < s->nparties; i++)
		if (strcmp(s->parties[i].oin, c->oin) == 0)
			p = &s->parties[i];
	if (p == NULL) {
		grown = realloc(s->parties, (s->nparties + 1) * sizeof(*grown));
		if (grown == NULL)
			return false;
		s->parties = grown;
		p = &grown[s->nparties++];
		memcpy(p->oin, c->oin, sizeof(p->oin));
		p->n = 0;
	}
	p->n++;
	c->counted = true;
	return p->n <= s->lim.max_connections_per_party;
}

static void party_leave(struct http_server *s, struct conn *c)
{
	for (size_t i = 0; c->counted && i < s->nparties; i++)
		if (strcmp(s->parties[i].oin, c->oin) == 0 && s->parties[i].n > 0)
			s->parties[i].n--;
	c->counted = false;
}

static void req_reset(struct http_req *r)
{
	evhttp_clear_headers(&r->headers);
	free(r->target);
	r->target = NULL;
	r->query = "";
	r->method[0] = '\0';
	r->content_length = r->received = 0;
	r->replied = r->in_handler = false;
	r->data = NULL;
}

static void conn_free(struct conn *c)
{
	struct http_server *s = c->srv;

	/* The handler still holds state for the request (an upload's spool, a
	 * body being read): let it free that, replied or not (a 408 replies). */
	if (c->active && (c->req.data != NULL || !c->req.replied) && s->h.abort != NULL)
		s->h.abort(&c->req);
	req_reset(&c->req);
	party_leave(s, c);
	LIST_REMOVE(c, link);
	s->nconns--;
	bufferevent_free(c->bev);
	free(c);
	if (s->draining && s->nconns == 0 && s->drained != NULL) {
		void (*done)(void *) = s->drained;

		s->drained = NULL;
		done(s->drained_arg);
	}
}

void http_reply(struct http_req *r, int status, const char *content_type, const void *body,
		size_t len)
{
	http_reply_headers(r, status, content_type, NULL, body, len);
}

void http_reply_headers(struct http_req *r, int status, const char *content_type,
			const char *extra, const void *body, size_t len)
{
	struct conn *c = r->conn;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (r->replied)
		return;
	r->replied = true;
	/* A reply before the whole request is read ends the connection, after
	 * the rest is drained: closing with unread data would reset it, and
	 * the client would never see this reply (RFC 9112, 9.6). */
	if (c->state == C_BODY || c->state == C_HEAD) {
		c->close_after = true;
		c->linger = true;
	}
	if (c->srv->draining)
		c->close_after = true;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			    "X-Content-Type-Options: nosniff\r\n%s%s\r\n", status,
			    status_text(status), content_type, len,
			    c->close_after ? "Connection: close\r\n" : "", extra ? extra : "");
	evbuffer_add(out, body, len);
	c->state = C_WRITING;
	if (c->srv->h.complete != NULL) {
		struct timeval now, d;

		evutil_gettimeofday(&now, NULL);
		evutil_timersub(&now, &r->started, &d);
		c->srv->h.complete(c->srv->h.arg, r->method[0] ? r->method : "-",
				   r->target != NULL ? r->target : "-", status,
				   (double)d.tv_sec + (double)d.tv_usec / 1e6);
	}
	bufferevent_enable(c->bev, EV_WRITE);
}

void http_reply_json(struct http_req *r, int status, json_t *o)
{
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (text == NULL) {
		static const char oom[] = "{\"status\":500,\"error\":\"out of memory\"}\n";

		http_reply(r, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	size_t len = strlen(text);
	text[len] = '\n';	/* json_dumps leaves room: the NUL */
	http_reply(r, status, "application/json", text, len + 1);
	free(text);
}

void http_reply_error(struct http_req *r, int status, const char *fmt, ...)
{
	struct http_server *s = r->conn->srv;
	char msg[512];
	va_list ap;

	if (r->replied)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->h.refused != NULL)
		s->h.refused(s->h.arg, r->conn->addr, r->conn->oin[0] ? r->conn->oin : NULL,
			     r->method[0] ? r->method : "-", r->target ? r->target : "-",
			     status, msg);
	http_reply_json(r, status, json_pack("{s:i, s:s}", "status", status, "error", msg));
}

/* Splits "Name: value" into the request's headers. */
static int parse_header(struct http_req *r, char *line)
{
	char *colon = strchr(line, ':'), *v;

	if (colon == NULL || colon == line || isspace((unsigned char)line[0]))
		return -1;
	*colon = '\0';
	for (char *p = line; *p; p++)
		if (!isgraph((unsigned char)*p))
			return -1;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t');)
		v[--n] = '\0';
	return evhttp_add_header(&r->headers, line, v);
}

/* Reads "METHOD TARGET HTTP/1.x". */
static int parse_request_line(struct http_req *r, char *line)
{
	char *target = strchr(line, ' '), *version, *q;

	if (target == NULL || (size_t)(target - line) >= sizeof(r->method))
		return -1;
	*target++ = '\0';
	version = strchr(target, ' ');
	if (version == NULL || target[0] != '/')
		return -1;
	*version++ = '\0';
	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
		return -1;
	snprintf(r->method, sizeof(r->method), "%s", line);
	r->target = strdup(target);
	if (r->target == NULL)
		return -1;
	q = strchr(r->target, '?');
	r->query = "";
	if (q != NULL) {
		*q = '\0';
		r->query = q + 1;
	}
	if (strcmp(version, "HTTP/1.0") == 0)
		r->conn->close_after = true;
	return 0;
}

/* Parses the head in the first len bytes of in; replies on error. */
static int read_head(struct conn *c, struct evbuffer *in, size_t len)
{
	struct http_req *r = &c->req;
	size_t nheaders = 0, used = 0;
	char *line;

	while (used < len && (line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF)) != NULL) {
		used += strlen(line) + 1;
		if (*line == '\0') {
			free(line);
			break;
		}
		int bad = r->target == NULL ? parse_request_line(r, line)
					    : (++nheaders > c->srv->lim.max_headers ? -2
						: parse_header(r, line));
		free(line);
		if (bad == -2) {
			evbuffer_drain(in, len);
			http_reply_error(r, 431, "more than %zu header lines",
					 c->srv->lim.max_headers);
			return -1;
		}
		if (bad != 0) {
			evbuffer_drain(in, len);
			http_reply_error(r, 400, "malformed request line or header");
			return -1;
		}
	}
	return 0;
}

/* Checks the framing of a request whose head is in; replies on error. */
static int check_framing(struct conn *c)
{
	struct http_req *r = &c->req;
	const char *cl = evhttp_find_header(&r->headers, "Content-Length");
	const char *te = evhttp_find_header(&r->headers, "Transfer-Encoding");
	const char *conn = evhttp_find_header(&r->headers, "Connection");
	char *end;

	if (conn != NULL && evutil_ascii_strcasecmp(conn, "close") == 0)
		c->close_after = true;
	if (te != NULL) {
		http_reply_error(r, 411, "send the body with a Content-Length, not chunked");
		return -1;
	}
	if (cl == NULL)
		return 0;
	errno = 0;
	r->content_length = strtoull(cl, &end, 10);
	if (!isdigit((unsigned char)*cl) || *end != '\0' || errno != 0) {
		char shown[40];

		log_mask_bsn(cl, shown, sizeof(shown));	/* outside text */
		http_reply_error(r, 400, "Content-Length '%.32s' is not a number", shown);
		return -1;
	}
	if (r->content_length > c->srv->lim.max_body_bytes) {
		http_reply_error(r, 413, "the body is %llu bytes; at most %llu are accepted",
				 (unsigned long long)r->content_length,
				 (unsigned long long)c->srv->lim.max_body_bytes);
		return -1;
	}
	return 0;
}

/* Starts the request whose head is complete. */
static void start_request(struct conn *c)
{
	struct http_req *r = &c->req;

	if (c->peer_error[0] != '\0') {
		http_reply_error(r, 401, "%s", c->peer_error);
		return;
	}
	if (c->over_limit) {
		http_reply_error(r, 429, "more than %zu connections from this party",
				 c->srv->lim.max_connections_per_party);
		return;
	}
	if (check_framing(c) != 0)
		return;
	c->state = r->content_length > 0 ? C_BODY : C_HANDLER;
	/* Silence is caught by the read time-out; a trickle (slowloris) by a
	 * deadline that allows the body min_body_rate bytes a second. */
	r->deadline = r->started;
	r->deadline.tv_sec += c->srv->lim.timeout_s;
	if (c->srv->lim.min_body_rate > 0)
		r->deadline.tv_sec += (time_t)(r->content_length / c->srv->lim.min_body_rate);
	else
		r->deadline.tv_sec = 0;
	c->srv->h.begin(r);
	if (!r->replied && c->state == C_BODY) {
		const char *expect = evhttp_find_header(&r->headers, "Expect");

		if (expect != NULL && evutil_ascii_strcasecmp(expect, "100-continue") == 0)
			evbuffer_add_printf(bufferevent_get_output(c->bev),
					    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	if (!r->replied && c->state == C_HANDLER)
		c->srv->h.end(r);
}

/* Feeds what has arrived of the body to the handler. */
static void read_body(struct conn *c, struct evbuffer *in)
{
	struct http_req *r = &c->req;

	if (c->state == C_BODY && r->deadline.tv_sec != 0) {
		struct timeval now;

		evutil_gettimeofday(&now, NULL);
		if (now.tv_sec > r->deadline.tv_sec ||
		    (now.tv_sec == r->deadline.tv_sec && now.tv_usec > r->deadline.tv_usec)) {
			evbuffer_drain(in, evbuffer_get_length(in));
			http_reply_error(r, 408, "the body came slower than %zu bytes a second",
					 c->srv->lim.min_body_rate);
			return;
		}
	}
	while (c->state == C_BODY && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t want = r->content_length - r->received, n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = v.iov_len < want ? v.iov_len : want;
		r->received += n;
		if (r->received == r->content_length)
			c->state = C_HANDLER;
		if (c->srv->h.body(r, v.iov_base, n) != 0 || r->replied) {
			c->close_after = true;
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		evbuffer_drain(in, n);
	}
	if (c->state == C_HANDLER && !r->replied)
		c->srv->h.end(r);
}

/* Runs the connection's state machine over what is buffered. */
static void conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr eoh;

	while (c->state == C_HEAD || c->state == C_BODY) {
		if (c->state == C_BODY) {
			read_body(c, in);
			return;
		}
		if (evbuffer_get_length(in) == 0)
			return;
		if (!c->active)
			evutil_gettimeofday(&c->req.started, NULL);
		c->active = true;
		eoh = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (eoh.pos < 0 || (size_t)eoh.pos + 4 > c->srv->lim.max_header_bytes) {
			if (eoh.pos >= 0 || evbuffer_get_length(in) > c->srv->lim.max_header_bytes) {
				evbuffer_drain(in, evbuffer_get_length(in));
				http_reply_error(&c->req, 431, "request headers larger than %zu bytes",
						 c->srv->lim.max_header_bytes);
			}
			return;
		}
		if (read_head(c, in, (size_t)eoh.pos + 4) != 0)
			return;
		if (c->req.target == NULL) {
			http_reply_error(&c->req, 400, "no request line");
			return;
		}
		start_request(c);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == C_LINGER || c->state == C_WRITING) {
		if (c->linger)	/* what follows an early reply is dropped */
			evbuffer_drain(bufferevent_get_input(bev),
				       evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	conn_process(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state != C_WRITING || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->close_after && c->linger) {
		struct timeval tv = { LINGER_SECONDS, 0 };

		c->state = C_LINGER;	/* closed on EOF or after the linger time */
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		bufferevent_set_timeouts(bev, &tv, NULL);
		return;
	}
	if (c->close_after) {
		conn_free(c);
		return;
	}
	c->active = false;
	req_reset(&c->req);
	c->req.conn = c;
	c->state = C_HEAD;
	{
		struct timeval tv = { c->srv->lim.timeout_s, 0 };

		bufferevent_set_timeouts(bev, &tv, &tv);
	}
	if (c->srv->draining && evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
		conn_free(c);
		return;
	}
	conn_process(c);
}

/* The handshake is done: who is this? */
static void on_connected(struct conn *c)
{
	struct errbuf e;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	c->state = C_HEAD;
	if (tls_peer_check(ssl, c->oin, &e) != ST_OK) {
		snprintf(c->peer_error, sizeof(c->peer_error), "%.250s", e.msg);
		c->oin[0] = '\0';
	} else if (!party_enter(c->srv, c)) {
		c->over_limit = true;
	}
	conn_process(c);
}

/*
 * Before a 408 in the head: reads the request line, if a whole one came,
 * into c->req (method and path), without consuming it, so the refusal
 * names what was asked.  A malformed or partial line leaves them unset.
 */
static void peek_request_line(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr eol;
	char *line;

	if (c->state != C_HEAD || c->req.target != NULL)
		return;
	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_CRLF_STRICT);
	if (eol.pos <= 0 || (size_t)eol.pos >= c->srv->lim.max_header_bytes ||
	    (line = malloc((size_t)eol.pos + 1)) == NULL)
		return;
	if (evbuffer_copyout(in, line, (size_t)eol.pos) == eol.pos) {
		line[eol.pos] = '\0';
		if (parse_request_line(&c->req, line) != 0)
			c->req.method[0] = '\0';
	}
	free(line);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		on_connected(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->active && !c->req.replied &&
	    (c->state == C_HEAD || c->state == C_BODY)) {
		c->close_after = true;
		peek_request_line(c);
		http_reply_error(&c->req, 408, "no data for %d seconds", c->srv->lim.timeout_s);
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (c->state == C_WRITING || c->state == C_HANDLER)) {
		/* The broker, not the client, took its time (a long ingest holds
		 * the loop): the reply is still owed.  Time-outs are off until it
		 * is written. */
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	if (c->state == C_HANDSHAKE && c->srv->h.handshake_failed != NULL)
		c->srv->h.handshake_failed(c->srv->h.arg, c->addr);
	conn_free(c);	/* EOF, error, idle time-out, failed handshake */
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct http_server *s = arg;
	struct timeval tv = { s->lim.timeout_s, 0 };
	struct conn *c;
	SSL *ssl;

	(void)l;
	if (s->draining || s->nconns >= s->lim.max_connections ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if (s->ctx == NULL) {	/* the plain admin listener */
		ssl = NULL;
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		c->state = C_HEAD;
	} else {
		ssl = SSL_new(s->ctx);
		c->bev = ssl != NULL ? bufferevent_openssl_socket_new(s->base, fd, ssl,
				BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
	}
	if (c->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->srv = s;
	if (sa->sa_family != AF_INET || salen < (int)sizeof(struct sockaddr_in) ||
	    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)sa)->sin_addr, c->addr,
		      sizeof(c->addr)) == NULL)
		snprintf(c->addr, sizeof(c->addr), "?");
	c->req.conn = c;
	c->req.query = "";
	TAILQ_INIT(&c->req.headers);
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->nconns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct http_server *http_server_new(struct event_base *base, SSL_CTX *ctx, const char *addr,
				    int port, const struct http_handler *h,
				    const struct http_limits *lim, struct errbuf *e)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (s == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		errbuf_set(e, ST_FAIL, "[server] listen '%s' is not an IPv4 address", addr);
		free(s);
		return NULL;
	}
	s->base = base;
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	s->ctx = ctx;
	s->h = *h;
	s->lim = *lim;
	LIST_INIT(&s->conns);
	s->listener = evconnlistener_new_bind(base, on_accept, s, LEV_OPT_CLOSE_ON_FREE |
					      LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
					      (struct sockaddr *)&sin, sizeof(sin));
	if (s->listener == NULL) {
		errbuf_set(e, ST_FAIL, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
		free(s);
		return NULL;
	}
	return s;
}

void http_server_set_ctx(struct http_server *s, SSL_CTX *ctx)
{
	SSL_CTX_up_ref(ctx);
	SSL_CTX_free(s->ctx);
	s->ctx = ctx;
}

void http_server_set_limits(struct http_server *s, const struct http_limits *lim)
{
	s->lim = *lim;
}

int http_server_port(const struct http_server *s)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

void http_server_drain(struct http_server *s, void (*done)(void *arg), void *arg)
{
	struct conn *c, *next;

	s->draining = true;
	s->drained = done;
	s->drained_arg = arg;
	evconnlistener_disable(s->listener);
	for (c = LIST_FIRST(&s->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (!c->active)
			conn_free(c);
		else
			c->close_after = true;
	}
	if (s->nconns == 0 && s->drained != NULL) {
		s->drained = NULL;
		done(arg);
	}
}

void http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	s->draining = false;
	while (!LIST_EMPTY(&s->conns))
		conn_free(LIST_FIRST(&s->conns));
	evconnlistener_free(s->listener);
	SSL_CTX_free(s->ctx);
	free(s->parties);
	free(s);
}

const char *http_req_method(const struct http_req *r) { return r->method; }
const char *http_req_path(const struct http_req *r) { return r->target; }
const char *http_req_query(const struct http_req *r) { return r->query; }
const char *http_req_oin(const struct http_req *r) { return r->conn->oin; }

X509 *http_req_peer_cert(const struct http_req *r)
{
	SSL *ssl = r->conn->srv->ctx != NULL ? bufferevent_openssl_get_ssl(r->conn->bev) : NULL;

	return ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
}
uint64_t http_req_content_length(const struct http_req *r) { return r->content_length; }
void *http_req_data(const struct http_req *r) { return r->data; }
void http_req_set_data(struct http_req *r, void *data) { r->data = data; }
bool http_req_replied(const struct http_req *r) { return r->replied; }

const char *http_req_header(const struct http_req *r, const char *name)
{
	return evhttp_find_header(&r->headers, name);
}
