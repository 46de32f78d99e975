/*
 * bench/latency.c - the signal latency of one upload, as a party that keeps
 * its connections measures it: from the upload's request to the first inbox
 * read that holds a signal of the upload's trace.
 *
 *   latency BASE_URL CA CERT KEY FILE TRACE AFTER
 *
 * Two libcurl easy handles, each keeping one HTTPS connection alive: the
 * uploader's (POST BASE_URL/v1/uploads/brp with a traceparent of TRACE) and
 * the reader's (GET BASE_URL/v1/signals?after=AFTER).  Both connections are
 * made before the clock starts, as a municipality's and an inspectorate's
 * client that stay connected would have them; the reader then polls with no
 * pause until the signal is there.  Prints one JSON object: seconds (request
 * to inbox), upload_seconds (the upload's answer), polls, read_seconds (one
 * further read alone, on the kept connection), connects (new connections
 * made while timed: 0 when keep-alive held).  Built by bench/run.sh:
 *   gcc -O2 -o latency latency.c -lcurl -ljansson
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"

struct buf {
	char *p;
	size_t len, cap;
};

static size_t keep(char *p, size_t s, size_t n, void *u)
{
	struct buf *b = u;
	size_t add = s * n;

	if (b->len + add + 1 > b->cap) {
		size_t cap = (b->len + add + 1) * 2;
		char *q = realloc(b->p, cap);

		if (q == NULL)
			return 0;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

static CURL *client(const char *ca, const char *cert, const char *key, struct buf *b)
{
	CURL *h = curl_easy_init();

	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, key);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	return h;
}

/* One request on H; its status, or -1 with the transfer's error printed. */
static long run(CURL *h, struct buf *b, long *connects)
{
	long code = 0, n = 0;
	CURLcode rc;

	b->len = 0;
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "latency: %s\n", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &n);
	if (connects != NULL)
		*connects += n;
	return code;
}

/* Whether the inbox page in B holds a signal of TRACE. */
static int has_trace(const struct buf *b, const char *trace)
{
	json_t *doc = json_loadb(b->p, b->len, 0, NULL);
	json_t *sigs = json_object_get(doc, "signals"), *s;
	size_t i;
	int found = 0;

	json_array_foreach(sigs, i, s) {
		const char *t = json_string_value(json_object_get(s, "trace_id"));

		if (t != NULL && strcmp(t, trace) == 0) {
			found = 1;
			break;
		}
	}
	json_decref(doc);
	return found;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: latency BASE_URL CA CERT KEY FILE TRACE AFTER\n");
		return 2;
	}
	const char *base = argv[1], *ca = argv[2], *cert = argv[3], *key = argv[4];
	const char *file = argv[5], *trace = argv[6], *after = argv[7];
	struct buf ub = {0}, rb = {0}, body = {0};
	char url[1024], hdr[128];
	FILE *f = fopen(file, "rb");
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		perror(file);
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (keep(chunk, 1, n, &body) != n)
			return 1;
	fclose(f);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *up = client(ca, cert, key, &ub), *rd = client(ca, cert, key, &rb);
	struct curl_slist *hd = NULL;
	long connects = 0, polls = 0, code;

	/* make both connections first (not timed) */
	snprintf(url, sizeof(url), "%s/healthz", base);
	curl_easy_setopt(up, CURLOPT_URL, url);
	snprintf(url, sizeof(url), "%s/v1/signals?after=%s&limit=1000", base, after);
	curl_easy_setopt(rd, CURLOPT_URL, url);
	if (run(up, &ub, NULL) < 0 || run(rd, &rb, NULL) != 200) {
		fprintf(stderr, "latency: the first requests failed\n");
		return 1;
	}

	snprintf(url, sizeof(url), "%s/v1/uploads/brp", base);
	snprintf(hdr, sizeof(hdr), "traceparent: 00-%s-00f067aa0ba902b7-01", trace);
	hd = curl_slist_append(curl_slist_append(NULL, hdr), "Expect:");
	curl_easy_setopt(up, CURLOPT_URL, url);
	curl_easy_setopt(up, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(up, CURLOPT_POSTFIELDS, body.p);
	curl_easy_setopt(up, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);

	double t0 = now();
	code = run(up, &ub, &connects);
	double t1 = now();
	if (code != 200) {
		fprintf(stderr, "latency: the upload answered %ld: %s\n", code, ub.p ? ub.p : "");
		return 1;
	}
	for (;;) {
		polls++;
		if (run(rd, &rb, &connects) != 200) {
			fprintf(stderr, "latency: the inbox read failed: %s\n", rb.p ? rb.p : "");
			return 1;
		}
		if (has_trace(&rb, trace))
			break;
		if (now() - t0 > 120) {
			fprintf(stderr, "latency: no signal of the upload in the inbox after 120 s\n");
			return 1;
		}
	}
	double t2 = now();
	if (run(rd, &rb, &connects) != 200)
		return 1;
	double t3 = now();

	printf("{\"seconds\":%.4f,\"upload_seconds\":%.4f,\"polls\":%ld,"
	       "\"read_seconds\":%.4f,\"connects\":%ld}\n",
	       t2 - t0, t1 - t0, polls, t3 - t2, connects);
	curl_slist_free_all(hd);
	curl_easy_cleanup(up);
	curl_easy_cleanup(rd);
	curl_global_cleanup();
	free(ub.p);
	free(rb.p);
	free(body.p);
	return 0;
}
