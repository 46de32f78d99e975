/*
 * stall.c - the "stall" benchmark's sampler: every 50 ms one GET of
 * /healthz (the operator's listener, plain HTTP) and one small inbox read
 * (GET /v1/signals?limit=10 over mutual TLS), each on a connection kept
 * open, until the file STOP exists; then one line of JSON with the
 * latencies (p50, p99, max in ms) and the samples that failed.
 *
 *   stall HEALTHZ_URL INBOX_URL CA CERT:KEY STOP
 *
 * A sample waits for its answer before the next is taken (at the next
 * 50 ms tick, or at once if the answer took longer), so a daemon that
 * stalls shows as one long sample, not as many queued ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "benchlib.h"

#define TICK 0.050
#define MAX_SAMPLES 200000

struct series {
	const char *name;
	double *ms;
	long n, failed;
};

/* One GET on h; the time it took in ms, or -1 when it failed. */
static double sample(CURL *h)
{
	double t0 = now();
	long status = 0;

	if (curl_easy_perform(h) != CURLE_OK)
		return -1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return -1;
	return (now() - t0) * 1000;
}

static void add(struct series *s, double ms)
{
	if (ms < 0)
		s->failed++;
	else if (s->n < MAX_SAMPLES)
		s->ms[s->n++] = ms;
}

static void print(const struct series *s, int last)
{
	qsort(s->ms, (size_t)s->n, sizeof(double), cmp);
	printf("\"%s\":{\"samples\":%ld,\"failed\":%ld,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
	       "\"max_ms\":%.1f}%s", s->name, s->n, s->failed, pct(s->ms, s->n, 50),
	       pct(s->ms, s->n, 99), s->n ? s->ms[s->n - 1] : 0, last ? "" : ",");
}

int main(int argc, char **argv)
{
	struct series hz = { "healthz", NULL, 0, 0 }, inbox = { "inbox", NULL, 0, 0 };
	char *cert, *key;
	CURL *a, *b;
	double next;

	if (argc != 6 || (key = strchr(argv[4], ':')) == NULL) {
		fprintf(stderr, "usage: stall HEALTHZ_URL INBOX_URL CA CERT:KEY STOP\n");
		return 2;
	}
	cert = argv[4];
	*key++ = '\0';
	hz.ms = calloc(MAX_SAMPLES, sizeof(double));
	inbox.ms = calloc(MAX_SAMPLES, sizeof(double));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	a = curl_easy_init();
	b = curl_easy_init();
	if (hz.ms == NULL || inbox.ms == NULL || a == NULL || b == NULL)
		return 1;
	curl_easy_setopt(a, CURLOPT_URL, argv[1]);
	curl_easy_setopt(b, CURLOPT_URL, argv[2]);
	curl_easy_setopt(b, CURLOPT_CAINFO, argv[3]);
	curl_easy_setopt(b, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(b, CURLOPT_SSLKEY, key);
	for (CURL *h = a; h != NULL; h = h == a ? b : NULL) {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	}
	next = now();
	while (access(argv[5], F_OK) != 0) {
		double wait;

		add(&hz, sample(a));
		add(&inbox, sample(b));
		next += TICK;
		wait = next - now();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
		else
			next = now();
	}
	printf("{");
	print(&hz, 0);
	print(&inbox, 1);
	printf("}\n");
	curl_easy_cleanup(a);
	curl_easy_cleanup(b);
	curl_global_cleanup();
	free(hz.ms);
	free(inbox.ms);
	return 0;
}
