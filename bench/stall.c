/*
 * stall.c - the "stall" benchmark's sampler: every 50 ms one GET of
 * /healthz (the operator's listener, plain HTTP), one small inbox read
 * that finds nothing new (INBOX_URL, over mutual TLS) and one that is
 * served a page of signals (PAGE_URL; its disclosures are logged before
 * it is served), each on a connection kept open, until the file STOP
 * exists; then one line of JSON with the latencies (p50, p99, max in ms)
 * and the samples that failed.
 *
 *   stall HEALTHZ_URL INBOX_URL PAGE_URL CA CERT:KEY STOP
 *
 * Each series has a thread of its own and a fixed timetable, a tick every
 * 50 ms.  A sample waits for its answer; ticks that pass meanwhile are not
 * skipped but counted as samples that waited from their tick to that
 * answer (what a client asking every 50 ms would have seen), so a daemon
 * that stalls for 2 s shows as 40 slow samples, not one.
 */
#include <pthread.h>
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
	CURL *h;
	const char *stop;
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

/* A series' thread: samples on its timetable until the stop file exists. */
static void *sampler(void *arg)
{
	struct series *s = arg;
	double tick = now();

	while (access(s->stop, F_OK) != 0) {
		double ms = sample(s->h), end = now(), wait;

		add(s, ms);
		/* the ticks that passed while this one waited */
		for (tick += TICK; tick < end; tick += TICK)
			add(s, ms < 0 ? -1 : (end - tick) * 1000);
		wait = tick - now();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct series sr[3] = { { "healthz", NULL, NULL, NULL, 0, 0 },
				{ "inbox", NULL, NULL, NULL, 0, 0 },
				{ "inbox_page", NULL, NULL, NULL, 0, 0 } };
	pthread_t t[3];
	char *cert, *key;

	if (argc != 7 || (key = strchr(argv[5], ':')) == NULL) {
		fprintf(stderr, "usage: stall HEALTHZ_URL INBOX_URL PAGE_URL CA CERT:KEY STOP\n");
		return 2;
	}
	cert = argv[5];
	*key++ = '\0';
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < 3; i++) {
		struct series *s = &sr[i];

		s->ms = calloc(MAX_SAMPLES, sizeof(double));
		s->h = curl_easy_init();
		if (s->ms == NULL || s->h == NULL)
			return 1;
		s->stop = argv[6];
		curl_easy_setopt(s->h, CURLOPT_URL, argv[1 + i]);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(s->h, CURLOPT_TIMEOUT, 120L);
		curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
		if (i > 0) {
			curl_easy_setopt(s->h, CURLOPT_CAINFO, argv[4]);
			curl_easy_setopt(s->h, CURLOPT_SSLCERT, cert);
			curl_easy_setopt(s->h, CURLOPT_SSLKEY, key);
		}
	}
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, sampler, &sr[i]) != 0)
			return 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("{");
	for (int i = 0; i < 3; i++)
		print(&sr[i], i == 2);
	printf("}\n");
	for (int i = 0; i < 3; i++) {
		curl_easy_cleanup(sr[i].h);
		free(sr[i].ms);
	}
	curl_global_cleanup();
	return 0;
}
