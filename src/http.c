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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
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
	bool http10;		/* HTTP/1.0: no Host needed, no Transfer-Encoding */
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
	case 505: return "HTTP Version Not Supported";
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
	r->replied = r->in_handler = r->http10 = false;
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

/* Whether the n bytes at s are a token (RFC 9110, 5.6.2): a method, a field name. */
static bool is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return false;
	return n > 0;
}

/*
 * Splits "Name: value" into the request's headers.  Refuses (-1) a name
 * that is not a token (so whitespace before the colon, and obs-fold: a
 * line that starts with whitespace) and a value with a control character
 * other than HTAB (RFC 9110, 5.5).
 */
static int parse_header(struct http_req *r, char *line)
{
	char *colon = strchr(line, ':'), *v;

	if (colon == NULL || !is_token(line, (size_t)(colon - line)))
		return -1;
	*colon = '\0';
	v = colon + 1;
	for (const char *p = v; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t');)
		v[--n] = '\0';
	return evhttp_add_header(&r->headers, line, v);
}

/*
 * Reads "METHOD SP TARGET SP HTTP/1.x" (RFC 9112, 3): the method a token,
 * the target in origin-form (the only form a server that is no proxy
 * needs; absolute-, authority- and asterisk-form are refused) of visible
 * ASCII.  HTTP/1.0 closes after the reply; HTTP/1.2-1.9 are read as 1.1.
 * Returns 0, -1 (malformed: 400) or -3 (another major version: 505).
 */
static int parse_request_line(struct http_req *r, char *line)
{
	char *target = strchr(line, ' '), *version, *q;

	if (target == NULL || (size_t)(target - line) >= sizeof(r->method) ||
	    !is_token(line, (size_t)(target - line)))
		return -1;
	*target++ = '\0';
	version = strchr(target, ' ');
	if (version == NULL || target[0] != '/')
		return -1;
	*version++ = '\0';
	for (const char *p = target; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	if (strncmp(version, "HTTP/", 5) != 0 || !isdigit((unsigned char)version[5]) ||
	    version[6] != '.' || !isdigit((unsigned char)version[7]) || version[8] != '\0')
		return -1;
	if (version[5] != '1')
		return -3;
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
	r->http10 = version[7] == '0';
	if (r->http10)
		r->conn->close_after = true;
	return 0;
}

/* Replies to a head that read_head_lines() refused with code bad. */
static void head_refused(struct conn *c, int bad)
{
	struct http_req *r = &c->req;

	switch (bad) {
	case -2:
		http_reply_error(r, 431, "more than %zu header lines", c->srv->lim.max_headers);
		break;
	case -3:
		http_reply_error(r, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
		break;
	case -4:
		http_reply_error(r, 400, "a NUL byte in the request head");
		break;
	case -5:
		http_reply_error(r, 400, "a CR or LF that does not end a line (lines end in CRLF)");
		break;
	default:
		http_reply_error(r, 400, "malformed request line or header");
		break;
	}
}

/*
 * Parses the head (len bytes at head, ending in the CRLF CRLF, NUL added
 * after) line by line, each line ended by CRLF and nothing else: a bare
 * CR or LF, which another reader might take for a line end, and a NUL are
 * refused (RFC 9112, 2.2).  Returns 0 or a code for head_refused().
 */
static int read_head_lines(struct conn *c, char *head, size_t len)
{
	struct http_req *r = &c->req;
	size_t nheaders = 0;
	char *eol;

	if (memchr(head, '\0', len) != NULL)
		return -4;
	for (char *line = head; (eol = strstr(line, "\r\n")) != NULL; line = eol + 2) {
		int bad;

		*eol = '\0';
		if (strpbrk(line, "\r\n") != NULL)
			return -5;
		if (*line == '\0') {
			if (r->target == NULL && eol + 2 < head + len)
				continue;	/* an empty line before the request line */
			return 0;
		}
		bad = r->target == NULL ? parse_request_line(r, line)
					: (++nheaders > c->srv->lim.max_headers ? -2
					   : parse_header(r, line));
		if (bad != 0)
			return bad;
	}
	return 0;
}

/* Parses the head in the first len bytes of in (taken out); replies on error. */
static int read_head(struct conn *c, struct evbuffer *in, size_t len)
{
	char *head = malloc(len + 1);
	int bad;

	if (head == NULL) {
		evbuffer_drain(in, len);
		http_reply_error(&c->req, 503, "out of memory");
		return -1;
	}
	evbuffer_remove(in, head, len);
	head[len] = '\0';
	bad = read_head_lines(c, head, len);
	free(head);
	if (bad != 0) {
		head_refused(c, bad);
		return -1;
	}
	return 0;
}

/* How many times the request has a header called name. */
static size_t header_count(const struct http_req *r, const char *name)
{
	const struct evkeyval *h;
	size_t n = 0;

	TAILQ_FOREACH(h, &r->headers, next)
		n += evutil_ascii_strcasecmp(h->key, name) == 0;
	return n;
}

/*
 * Checks Transfer-Encoding and Content-Length (RFC 9112, 6.1-6.3): both at
 * once, a transfer coding other than chunked alone, Content-Length twice
 * or as a list, or not a plain decimal number: 400, so that no reader
 * before or after this one can frame the request otherwise.  chunked
 * alone: 411.  Replies on error (the reply closes the connection).
 */
static int check_lengths(struct conn *c)
{
	struct http_req *r = &c->req;
	const char *cl = evhttp_find_header(&r->headers, "Content-Length");
	const char *te = evhttp_find_header(&r->headers, "Transfer-Encoding");
	size_t digits;

	if (te != NULL && (cl != NULL || r->http10))
		return http_reply_error(r, 400, "Transfer-Encoding with %s",
					cl != NULL ? "Content-Length" : "HTTP/1.0"), -1;
	if (te != NULL && (header_count(r, "Transfer-Encoding") > 1 ||
			   evutil_ascii_strcasecmp(te, "chunked") != 0))
		return http_reply_error(r, 400, "Transfer-Encoding '%.32s' is not understood "
					"here", te), -1;
	if (te != NULL)
		return http_reply_error(r, 411, "send the body with a Content-Length, not "
					"chunked"), -1;
	if (cl == NULL)
		return 0;
	if (header_count(r, "Content-Length") > 1)
		return http_reply_error(r, 400, "Content-Length given more than once"), -1;
	digits = strspn(cl, "0123456789");
	errno = 0;
	r->content_length = strtoull(cl, NULL, 10);
	if (digits == 0 || cl[digits] != '\0' || errno != 0) {
		char shown[40];

		log_mask_bsn(cl, shown, sizeof(shown));	/* outside text */
		return http_reply_error(r, 400, "Content-Length '%.32s' is not a number",
					shown), -1;
	}
	return 0;
}

/* Checks the framing of a request whose head is in; replies on error. */
static int check_framing(struct conn *c)
{
	struct http_req *r = &c->req;
	const char *conn = evhttp_find_header(&r->headers, "Connection");

	if (conn != NULL && evutil_ascii_strcasecmp(conn, "close") == 0)
		c->close_after = true;
	if (!r->http10 && header_count(r, "Host") != 1) {	/* RFC 9112, 3.2 */
		http_reply_error(r, 400, "an HTTP/1.1 request needs one Host header");
		return -1;
	}
	if (check_lengths(c) != 0)
		return -1;
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
	/* A response leaves in more than one write (head, body; TLS records):
	 * without TCP_NODELAY, Nagle holds the last segment until the client
	 * ACKs the first, and a client's delayed ACK makes that ~40 ms on every
	 * kept-alive request.  Best effort: a socket that refuses still works. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
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

/* Whether the n bytes at v are well percent-encoded, at most max bytes
 * decoded, with no control character. */
static bool query_value_ok(const char *v, size_t n, size_t max)
{
	size_t len = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++, len++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)v[i + 1]) ||
			    !isxdigit((unsigned char)v[i + 2]))
				return false;
			c = (unsigned char)strtol((char[]){ v[i + 1], v[i + 2], 0 }, NULL, 16);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return len <= max;
}

/* Whether the parameter called by the nl bytes at p comes before p in query. */
static bool query_seen(const char *query, const char *p, size_t nl)
{
	for (const char *q = query; q < p; q += strcspn(q, "&") + 1)
		if (strncmp(q, p, nl) == 0 && strchr("=&", q[nl]) != NULL)
			return true;
	return false;
}

int http_query_check(struct http_req *r, const char *const *names, size_t max_value)
{
	for (const char *p = r->query; *p != '\0'; p += strcspn(p, "&") + (p[strcspn(p, "&")] != '\0')) {
		size_t len = strcspn(p, "&"), nl = strcspn(p, "=&");
		bool known = false;

		if (nl == 0)
			continue;	/* "&&", a trailing '&' */
		for (size_t i = 0; names[i] != NULL; i++)
			known = known || (strlen(names[i]) == nl && strncmp(p, names[i], nl) == 0);
		if (!known)
			http_reply_error(r, 400, "unknown query parameter '%.*s'",
					 (int)(nl < 32 ? nl : 32), p);
		else if (query_seen(r->query, p, nl))
			http_reply_error(r, 400, "query parameter '%.*s' given twice", (int)nl, p);
		else if (p[nl] != '=' || !query_value_ok(p + nl + 1, len - nl - 1, max_value))
			http_reply_error(r, 400, "query parameter '%.*s' has no value or a bad one "
					 "(percent-encoding, control character, over %zu bytes)",
					 (int)nl, p, max_value);
		else
			continue;
		return -1;
	}
	return 0;
}
