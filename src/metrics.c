/*
 * metrics.c - Prometheus metrics (see metrics.h).
 */
#include <string.h>
#include <sys/stat.h>

#include "breaker.h"
#include "metrics.h"

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const endpoints[] = {
	"/v1/uploads/{adapter}", "/v1/signals", "/v1/signals/{id}/feedback", "/v1/log", "other",
};
#define NENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

/* Status classes counted per endpoint: 2xx .. 5xx. */
static unsigned long requests[NENDPOINTS][6];
static unsigned long hist[NENDPOINTS][NBUCKETS + 1];
static double seconds_sum[NENDPOINTS];
static unsigned long refusals_unlogged;

const char *metrics_endpoint(const char *path)
{
	if (strncmp(path, "/v1/uploads/", 12) == 0)
		return endpoints[0];
	if (strcmp(path, "/v1/signals") == 0)
		return endpoints[1];
	if (strncmp(path, "/v1/signals/", 12) == 0 && strstr(path, "/feedback") != NULL)
		return endpoints[2];
	if (strcmp(path, "/v1/log") == 0)
		return endpoints[3];
	return endpoints[4];
}

static size_t endpoint_index(const char *path)
{
	const char *ep = metrics_endpoint(path);

	for (size_t i = 0; i < NENDPOINTS; i++)
		if (endpoints[i] == ep)
			return i;
	return NENDPOINTS - 1;
}

void metrics_request(const char *method, const char *path, int status, double seconds)
{
	size_t i = endpoint_index(path);
	int cls = status / 100;

	(void)method;
	requests[i][cls >= 1 && cls <= 5 ? cls : 0]++;
	seconds_sum[i] += seconds;
	for (size_t b = 0; b < NBUCKETS; b++)
		if (seconds <= buckets[b])
			hist[i][b]++;
	hist[i][NBUCKETS]++;	/* +Inf */
}

void metrics_refusal_unlogged(void)
{
	refusals_unlogged++;
}

/* Refusals of unidentified clients since the start, per cause and source. */
#define MAX_UNIDENTIFIED 512
static struct {
	char cause[32], addr[48];
	unsigned long n;
} unidentified[MAX_UNIDENTIFIED];
static size_t nunidentified;

/* The row of (cause, addr), added while fewer than limit rows exist; or -1. */
static long unidentified_row(const char *cause, const char *addr, size_t limit)
{
	for (size_t i = 0; i < nunidentified; i++)
		if (strcmp(unidentified[i].cause, cause) == 0 &&
		    strcmp(unidentified[i].addr, addr) == 0)
			return (long)i;
	if (nunidentified >= limit)
		return -1;
	snprintf(unidentified[nunidentified].cause, sizeof(unidentified[0].cause), "%s", cause);
	snprintf(unidentified[nunidentified].addr, sizeof(unidentified[0].addr), "%s", addr);
	return (long)nunidentified++;
}

void metrics_unidentified(const char *cause, const char *addr)
{
	/* the last rows are kept for "other": every address once the table is full */
	long i = unidentified_row(cause, addr, MAX_UNIDENTIFIED - 16);

	if (i < 0)
		i = unidentified_row(cause, "other", MAX_UNIDENTIFIED);
	if (i >= 0)
		unidentified[i].n++;
}

static void write_unidentified(FILE *f)
{
	fputs("# HELP schakel_unidentified_refusals_total Refusals of clients that are not "
	      "identified (no or a refused certificate, no OIN, an OIN that is no party, a "
	      "failed TLS handshake), by cause and source address.\n"
	      "# TYPE schakel_unidentified_refusals_total counter\n", f);
	for (size_t i = 0; i < nunidentified; i++)
		fprintf(f, "schakel_unidentified_refusals_total{cause=\"%s\",source=\"%s\"} %lu\n",
			unidentified[i].cause, unidentified[i].addr, unidentified[i].n);
}

static void write_requests(FILE *f)
{
	fputs("# HELP schakel_http_requests_total API requests answered, by endpoint and "
	      "status class.\n# TYPE schakel_http_requests_total counter\n", f);
	for (size_t i = 0; i < NENDPOINTS; i++)
		for (int c = 1; c <= 5; c++)
			if (requests[i][c] > 0)
				fprintf(f, "schakel_http_requests_total{endpoint=\"%s\",status=\"%dxx\"} "
					"%lu\n", endpoints[i], c, requests[i][c]);
	fputs("# HELP schakel_http_request_duration_seconds Time from a request's first byte "
	      "to its reply.\n# TYPE schakel_http_request_duration_seconds histogram\n", f);
	for (size_t i = 0; i < NENDPOINTS; i++) {
		if (hist[i][NBUCKETS] == 0)
			continue;
		for (size_t b = 0; b < NBUCKETS; b++)
			fprintf(f, "schakel_http_request_duration_seconds_bucket{endpoint=\"%s\","
				"le=\"%g\"} %lu\n", endpoints[i], buckets[b], hist[i][b]);
		fprintf(f, "schakel_http_request_duration_seconds_bucket{endpoint=\"%s\","
			"le=\"+Inf\"} %lu\n", endpoints[i], hist[i][NBUCKETS]);
		fprintf(f, "schakel_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
			endpoints[i], seconds_sum[i]);
		fprintf(f, "schakel_http_request_duration_seconds_count{endpoint=\"%s\"} %lu\n",
			endpoints[i], hist[i][NBUCKETS]);
	}
}

struct gauge_out {
	FILE *f;
	char last[64];
};

/* One store figure; a metric's HELP/TYPE lines come before its first sample. */
static int write_gauge(void *arg, const struct gauge *g)
{
	struct gauge_out *o = arg;

	if (strcmp(o->last, g->metric) != 0) {
		fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", g->metric, g->help, g->metric,
			g->type);
		snprintf(o->last, sizeof(o->last), "%s", g->metric);
	}
	fputs(g->metric, o->f);
	if (g->label1 != NULL) {
		fprintf(o->f, "{%s=\"%s\"", g->label1, g->value1 != NULL ? g->value1 : "");
		if (g->label2 != NULL)
			fprintf(o->f, ",%s=\"%s\"", g->label2, g->value2 != NULL ? g->value2 : "");
		fputc('}', o->f);
	}
	fprintf(o->f, " %.17g\n", g->value);
	return 0;
}

enum status metrics_write(FILE *f, struct store *s, const char *db_path, struct errbuf *e)
{
	struct gauge_out o = { f, "" };
	struct stat sb;

	if (store_gauges(s, write_gauge, &o, e) != ST_OK)
		return ST_FAIL;
	write_requests(f);
	fprintf(f, "# HELP schakel_refusals_unlogged_total Refusals that could not be written to "
		"the exchange log.\n# TYPE schakel_refusals_unlogged_total counter\n"
		"schakel_refusals_unlogged_total %lu\n", refusals_unlogged);
	write_unidentified(f);
	if (stat(db_path, &sb) == 0)
		fprintf(f, "# HELP schakel_database_bytes Size of the database file.\n"
			"# TYPE schakel_database_bytes gauge\nschakel_database_bytes %lld\n",
			(long long)sb.st_size);
	return ST_OK;
}

static void write_down(void *arg, const struct breaker_state *st)
{
	fprintf(arg, "schakel_recipient_down{recipient=\"%s\"} %d\n", st->oin, st->down ? 1 : 0);
}

enum status metrics_write_deliverer(FILE *f, const struct deliverer *d)
{
	if (d == NULL)
		return ST_OK;
	fprintf(f, "# HELP schakel_delivery_outcomes_unrecorded Delivery outcomes held in memory "
		"because the database took no write.\n"
		"# TYPE schakel_delivery_outcomes_unrecorded gauge\n"
		"schakel_delivery_outcomes_unrecorded %d\n", deliverer_unrecorded(d));
	fprintf(f, "# HELP schakel_recipients_down Recipients held down by the circuit breaker.\n"
		"# TYPE schakel_recipients_down gauge\nschakel_recipients_down %d\n",
		breaker_down_count(deliverer_breakers(d)));
	fputs("# HELP schakel_recipient_down 1 while the recipient is held down, 0 once it "
	      "answers again (recipients that have failed since the start).\n"
	      "# TYPE schakel_recipient_down gauge\n", f);
	breaker_each(deliverer_breakers(d), write_down, f);
	fprintf(f, "# HELP schakel_delivery_outage_attempts_total Failed attempts to recipients "
		"held down, counted instead of logged.\n"
		"# TYPE schakel_delivery_outage_attempts_total counter\n"
		"schakel_delivery_outage_attempts_total %ld\n", deliverer_quiet_attempts(d));
	return ST_OK;
}

void metrics_write_work(FILE *f, struct work_pool *p)
{
	struct work_stats w;

	if (p == NULL)
		return;
	work_pool_stats(p, &w);
	fprintf(f, "# HELP schakel_work_queue_length Jobs waiting for a worker thread.\n"
		"# TYPE schakel_work_queue_length gauge\nschakel_work_queue_length %d\n"
		"# HELP schakel_work_queue_max Uploads that may wait before one is refused (503).\n"
		"# TYPE schakel_work_queue_max gauge\nschakel_work_queue_max %d\n"
		"# HELP schakel_work_oldest_seconds How long the oldest waiting job has waited.\n"
		"# TYPE schakel_work_oldest_seconds gauge\nschakel_work_oldest_seconds %.3f\n"
		"# HELP schakel_work_running Jobs on a worker thread now.\n"
		"# TYPE schakel_work_running gauge\nschakel_work_running %d\n"
		"# HELP schakel_work_workers Worker threads.\n"
		"# TYPE schakel_work_workers gauge\nschakel_work_workers %d\n"
		"# HELP schakel_work_jobs_total Jobs the workers finished.\n"
		"# TYPE schakel_work_jobs_total counter\nschakel_work_jobs_total %lu\n"
		"# HELP schakel_work_refused_total Uploads refused (503) for a full work queue.\n"
		"# TYPE schakel_work_refused_total counter\nschakel_work_refused_total %lu\n",
		w.queued, w.max_queued, w.oldest_s, w.running, w.workers, w.done, w.refused);
}

/* Writes value as a label value (\\, \" and \n escaped) to f. */
static void label_value(FILE *f, const char *value)
{
	for (const char *c = value; *c != '\0'; c++) {
		if (*c == '\\' || *c == '"')
			fputc('\\', f);
		if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
}

void metrics_label_node(FILE *f, const char *text, size_t len, const char *node)
{
	const char *end = text + len;

	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		const char *eol = nl != NULL ? nl : end;
		size_t name = strcspn(text, "{ \n");

		if (*text == '#' || *text == '\n' || text + name >= eol) {
			fwrite(text, 1, (size_t)(eol - text), f);	/* a comment: as it is */
		} else {
			const char *rest = text + name;

			fwrite(text, 1, name, f);
			fputs("{node=\"", f);
			label_value(f, node);
			fputc('"', f);
			if (*rest == '{' && *++rest != '}')
				fputc(',', f);	/* the sample's own labels follow */
			else if (*rest != '}')
				fputc('}', f);	/* it had none */
			fwrite(rest, 1, (size_t)(eol - rest), f);
		}
		if (nl != NULL)
			fputc('\n', f);
		text = nl != NULL ? nl + 1 : end;
	}
}
