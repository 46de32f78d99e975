/*
 * receive.c - the reference receiver (see receive.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto.h"
#include "http.h"
#include "loader.h"
#include "receive.h"
#include "trace.h"
#include "sign.h"
#include "tls.h"
#include "xml.h"

#define MAX_SIGNAL_BYTES (4 << 20)

struct receiver {
	const struct receive_opts *o;
	X509 *broker;			/* --broker-cert, or NULL */
	struct verifier *verifier;
	struct xml_validator *validator;
	struct http_server *http;
	struct event_base *base;
	long stored, duplicates, refused;
	int open, max_open;	/* requests taken and not answered yet; the most at once */
};

static struct receiver *the_receiver;	/* the handlers' state (one per process) */

/* A message being received. */
struct message {
	char *buf;
	size_t len;
	struct event *delay;	/* --delay: the answer's timer */
	struct http_req *r;
	bool otlp;	/* POST /v1/traces: an OTLP/HTTP JSON export */
};

#define OTLP_PATH "/v1/traces"

static bool valid_message_id(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

/* Whether a Content-Type is application/json (parameters allowed). */
static bool json_content_type(const char *v)
{
	static const char t[] = "application/json";

	return v != NULL && strncasecmp(v, t, sizeof(t) - 1) == 0 &&
	       (v[sizeof(t) - 1] == '\0' || v[sizeof(t) - 1] == ';');
}

/* Whether the client is the broker (--broker-oin, --broker-cert); else a 403. */
static bool from_broker(struct http_req *r)
{
	const char *want = the_receiver->o->broker_oin;
	X509 *peer = http_req_peer_cert(r);

	if (want != NULL && strcmp(http_req_oin(r), want) != 0) {
		http_reply_error(r, 403, "the client (OIN %s) is not the broker (OIN %s)",
				 http_req_oin(r), want);
		return false;
	}
	if (the_receiver->broker != NULL &&
	    (peer == NULL || X509_cmp(peer, the_receiver->broker) != 0)) {
		http_reply_error(r, 403, "the client (OIN %s) is not the broker: its certificate "
				 "is not the one of --broker-cert", http_req_oin(r));
		return false;
	}
	return true;
}

static void on_begin(struct http_req *r)
{
	struct message *m;
	bool otlp;

	if (the_receiver->o->refuse != 0 && the_receiver->o->delay_ms == 0) {
		http_reply_error(r, the_receiver->o->refuse, "refused on purpose (--refuse)");
		return;
	}
	if (!from_broker(r))
		return;
	if (strcmp(http_req_method(r), "POST") != 0) {
		http_reply_error(r, 405, "POST a signed signal");
		return;
	}
	otlp = strcmp(http_req_path(r), OTLP_PATH) == 0;
	if (otlp && !json_content_type(http_req_header(r, "Content-Type"))) {
		http_reply_error(r, 415, "OTLP/HTTP here is JSON: Content-Type: application/json");
		return;
	}
	if (!otlp && !valid_message_id(http_req_header(r, "X-Message-Id"))) {
		http_reply_error(r, 400, "X-Message-Id is missing or not 1-64 letters, digits, '-'");
		return;
	}
	if (http_req_content_length(r) == 0 || http_req_content_length(r) > MAX_SIGNAL_BYTES) {
		http_reply_error(r, http_req_content_length(r) ? 413 : 400,
				 "a signal is 1 to %d bytes", MAX_SIGNAL_BYTES);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (m != NULL)
		m->buf = malloc(http_req_content_length(r));
	if (m == NULL || m->buf == NULL) {
		free(m);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	m->otlp = otlp;
	http_req_set_data(r, m);
	m->r = r;
	if (++the_receiver->open > the_receiver->max_open)
		the_receiver->max_open = the_receiver->open;
	if (the_receiver->o->delay_ms > 0)
		fprintf(stderr, "schakel receive: %s: received at %s, %d open\n",
			otlp ? "-" : http_req_header(r, "X-Message-Id"), http_req_path(r),
			the_receiver->open);
}

/* Frees a message taken in on_begin(), and counts it answered. */
static void message_free(struct message *m)
{
	the_receiver->open--;
	if (m->delay != NULL)
		event_free(m->delay);
	free(m->buf);
	free(m);
}

static int on_body(struct http_req *r, const void *buf, size_t len)
{
	struct message *m = http_req_data(r);

	memcpy(m->buf + m->len, buf, len);	/* bounded by Content-Length */
	m->len += len;
	return 0;
}

/* Writes the message to dir/<id><ext> durably; 1 when it was there already. */
static int store(const char *dir, const char *id, const char *ext, const struct message *m,
		 struct errbuf *e)
{
	char path[4200], tmp[4300];
	int fd, dfd;

	snprintf(path, sizeof(path), "%s/%s%s", dir, id, ext);
	if (access(path, F_OK) == 0)
		return 1;
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, m->buf, m->len) != (ssize_t)m->len || fsync(fd) != 0) {
		errbuf_set(e, ST_FAIL, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		errbuf_set(e, ST_FAIL, "cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Checks a received document: well-formed, no DOCTYPE, valid, signed. */
static enum status check(const struct message *m, struct errbuf *e)
{
	xmlDocPtr doc = xmlReadMemory(m->buf, (int)m->len, NULL, NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	enum status st;

	if (doc == NULL)
		return errbuf_set(e, ST_FAIL, "the body is not well-formed XML");
	if (doc->intSubset != NULL) {
		xmlFreeDoc(doc);
		return errbuf_set(e, ST_FAIL, "a DOCTYPE is not allowed");
	}
	st = xml_validate(the_receiver->validator, doc, e);
	if (st == ST_OK)
		st = sign_verify(the_receiver->verifier, doc, e);
	xmlFreeDoc(doc);
	return st;
}

/*
 * An OTLP export: a JSON object with a resourceSpans array, stored as
 * dir/otlp-<SHA-256 of the body>.json (the same body twice: a duplicate).
 * The fields are checked by the test that reads them (tests/e2e/ldv.sh).
 */
static void otlp_end(struct http_req *r, struct message *m)
{
	json_t *doc = json_loadb(m->buf, m->len, JSON_REJECT_DUPLICATES, NULL);
	char hex[65], name[80];
	uint8_t sum[32];
	struct errbuf e;
	int rc;

	if (!json_is_array(json_object_get(doc, "resourceSpans"))) {
		json_decref(doc);
		the_receiver->refused++;
		http_reply_error(r, 400, "not an ExportTraceServiceRequest (JSON with resourceSpans)");
		return;
	}
	json_decref(doc);
	crypto_sha256(m->buf, m->len, sum);
	crypto_hex(sum, sizeof(sum), hex);
	snprintf(name, sizeof(name), "otlp-%s", hex);
	rc = store(the_receiver->o->dir, name, ".json", m, &e);
	if (rc < 0) {
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	if (rc == 1)
		the_receiver->duplicates++;
	else
		the_receiver->stored++;
	fprintf(stderr, "schakel receive: %s: OTLP export %s\n", name,
		rc == 1 ? "received again (duplicate)" : "stored");
	http_reply_json(r, 200, json_object());	/* ExportTraceServiceResponse */
}

/* Answers the complete message m of r (and frees m); with --delay, logs the status. */
static void answer(struct http_req *r, struct message *m)
{
	char id[72];	/* valid_message_id(): at most 64 */
	const char *trace = http_req_header(r, "traceparent");
	struct trace_ctx tc;
	struct errbuf e;
	int rc, status;

	snprintf(id, sizeof(id), "%s", m->otlp ? "-" : http_req_header(r, "X-Message-Id"));
	if (!trace_parse(trace, &tc))	/* quoted only when it is one */
		trace = NULL;
	http_req_set_data(r, NULL);
	if (the_receiver->o->refuse != 0) {
		status = the_receiver->o->refuse;
		http_reply_error(r, status, "refused on purpose (--refuse)");
	} else if (m->otlp) {
		otlp_end(r, m);
		status = 0;	/* otlp_end() has said what it did */
	} else if (check(m, &e) != ST_OK) {
		the_receiver->refused++;
		http_reply_error(r, status = 400, "%s", e.msg);
	} else if ((rc = store(the_receiver->o->dir, id, ".xml", m, &e)) < 0) {
		http_reply_error(r, status = 500, "%s", e.msg);
	} else if (rc == 1) {
		the_receiver->duplicates++;
		fprintf(stderr, "schakel receive: %s: duplicate, dropped\n", id);
		http_reply_json(r, status = 200,
				json_pack("{s:s, s:b}", "message", id, "duplicate", 1));
	} else {
		the_receiver->stored++;
		fprintf(stderr, "schakel receive: %s: verified and stored%s%s\n", id,
			trace != NULL ? ", traceparent " : "", trace != NULL ? trace : "");
		http_reply_json(r, status = 201,
				json_pack("{s:s, s:b}", "message", id, "duplicate", 0));
	}
	if (the_receiver->o->delay_ms > 0 && status != 0)
		fprintf(stderr, "schakel receive: %s: answered %d\n", id, status);
	message_free(m);
}

static void on_delayed(evutil_socket_t fd, short what, void *arg)
{
	struct message *m = arg;

	(void)fd;
	(void)what;
	answer(m->r, m);
}

static void on_end(struct http_req *r)
{
	struct message *m = http_req_data(r);
	struct timeval tv = { the_receiver->o->delay_ms / 1000,
			      (the_receiver->o->delay_ms % 1000) * 1000L };

	if (m == NULL) {
		http_reply_error(r, 400, "no body");
		return;
	}
	if (the_receiver->o->delay_ms > 0) {
		m->delay = evtimer_new(the_receiver->base, on_delayed, m);
		if (m->delay != NULL && evtimer_add(m->delay, &tv) == 0)
			return;	/* answered by on_delayed(), or freed by on_abort() */
	}
	answer(r, m);
}

static void on_abort(struct http_req *r)
{
	struct message *m = http_req_data(r);

	http_req_set_data(r, NULL);
	if (m != NULL)
		message_free(m);
}

static void on_refused(void *arg, const char *addr, const char *oin, const char *method,
		       const char *path, int status, const char *reason)
{
	(void)arg;
	fprintf(stderr, "schakel receive: refused %s %s from %s (%s): %d %s\n", method, path,
		oin != NULL ? oin : "(unidentified)", addr, status, reason);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct receiver *rc = arg;

	(void)sig;
	(void)what;
	event_base_loopexit(rc->base, NULL);
}

/*
 * The verifier of the broker's signature: its pinned certificate
 * (--broker-cert, whose OIN must then be --broker-oin if that is given too),
 * or any certificate of --ca with the OIN --broker-oin.  NULL with e set.
 */
static struct verifier *broker_verifier(struct receiver *rc, struct errbuf *e)
{
	const struct receive_opts *o = rc->o;
	struct verifier *v;
	char oin[OIN_LEN + 1];

	if (o->broker_cert == NULL) {
		v = sign_verifier_new(o->ca, e);
		if (v != NULL)
			sign_verifier_require_oin(v, o->broker_oin);
		return v;
	}
	rc->broker = tls_cert_load(o->broker_cert, e);
	if (rc->broker == NULL)
		return NULL;
	if (o->broker_oin != NULL && (tls_cert_oin(rc->broker, oin, e) != ST_OK ||
				      strcmp(oin, o->broker_oin) != 0)) {
		errbuf_set(e, ST_FAIL, "%s is not the certificate of OIN %s (--broker-oin)",
			   o->broker_cert, o->broker_oin);
		return NULL;
	}
	return sign_verifier_pinned(o->broker_cert, e);
}

enum status receive_run(const struct receive_opts *o, struct errbuf *e)
{
	struct receiver rc = { .o = o };
	struct http_handler h = {
		.begin = on_begin, .body = on_body, .end = on_end, .abort = on_abort,
		.refused = on_refused, .arg = &rc,
	};
	/* room for a sender with many deliveries under way (bench/run.sh: 200) */
	struct http_limits lim = { 16384, 64, MAX_SIGNAL_BYTES, 1024, 1024, 30, 1024 };
	struct event *ev_term = NULL, *ev_int = NULL;
	xmlSchemaPtr schema = NULL;
	enum status st = ST_FAIL;
	SSL_CTX *ctx = NULL;

	signal(SIGPIPE, SIG_IGN);
	the_receiver = &rc;
	if (mkdir(o->dir, 0700) != 0 && errno != EEXIST)
		return errbuf_set(e, ST_FAIL, "cannot create %s: %s", o->dir, strerror(errno));
	if (sign_init(e) != ST_OK)
		return ST_FAIL;
	schema = xml_schema_load(loader_schema_dir(), "schakel-signal.xsd", e);
	rc.validator = schema != NULL ? xml_validator_new(schema) : NULL;
	rc.verifier = rc.validator != NULL ? broker_verifier(&rc, e) : NULL;
	ctx = rc.verifier != NULL ? tls_server_ctx_files(o->cert, o->key, o->ca, o->crl, e) : NULL;
	rc.base = ctx != NULL ? event_base_new() : NULL;
	if (rc.base == NULL)
		goto out_free;
	rc.http = http_server_new(rc.base, ctx, o->listen, o->port, &h, &lim, e);
	if (rc.http == NULL)
		goto out_free;
	ev_term = evsignal_new(rc.base, SIGTERM, on_term, &rc);
	ev_int = evsignal_new(rc.base, SIGINT, on_term, &rc);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	fprintf(stderr, "schakel receive: listening on %s:%d, storing in %s\n", o->listen,
		http_server_port(rc.http), o->dir);
	event_base_dispatch(rc.base);
	fprintf(stderr, "schakel receive: stopped: %ld stored, %ld duplicates dropped, "
		"%ld refused, at most %d open at once\n", rc.stored, rc.duplicates, rc.refused,
		rc.max_open);
	st = ST_OK;
out_free:
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	http_server_free(rc.http);
	if (rc.base != NULL)
		event_base_free(rc.base);
	SSL_CTX_free(ctx);
	sign_verifier_free(rc.verifier);
	X509_free(rc.broker);
	xml_validator_free(rc.validator);
	if (schema != NULL)
		xmlSchemaFree(schema);
	sign_cleanup();
	return st;
}
