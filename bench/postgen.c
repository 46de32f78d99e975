/*
 * bench/postgen.c - the floor of the delivery benchmark: plain POSTs of
 * already signed <signaal> documents to the reference receiver (`schakel
 * receive`) over mutual TLS, on libcurl's multi interface, with no broker.
 *
 *   postgen URL CA CERT KEY MANIFEST INFLIGHT
 *
 * MANIFEST has one line per message, "MESSAGE_ID SIGNAL_ID FILE": FILE is
 * the body (a document the broker signed and a receiver stored earlier),
 * sent as it is with the headers the broker sends (Content-Type,
 * X-Message-Id, X-Signal-Id, no Expect).  All bodies are read into memory
 * before the clock starts.  This client signs nothing, reads no database
 * and commits no state: it is the rate of the wire and the receiver alone.
 *
 * INFLIGHT requests are under way at once, each on a handle of its own that
 * is reused, so each keeps its keep-alive connection.  Prints one JSON
 * object: requests, errors, non_2xx, seconds, rps, latency percentiles
 * (ms), connections made.  Exit 1 when a request failed.  Built by
 * bench/run.sh:
 *   gcc -O2 -o postgen postgen.c -lcurl
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"

struct msg {
	char *body;
	long len;
	struct curl_slist *headers;
};

struct slot {
	CURL *h;
	long msg;	/* the message under way */
	double started;
	char err[CURL_ERROR_SIZE];
};

/* Reads a whole file; NULL on error. */
static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;

	if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) > 0) {
		rewind(f);
		buf = malloc((size_t)*len);
		if (buf != NULL && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
			free(buf);
			buf = NULL;
		}
	}
	if (f != NULL)
		fclose(f);
	if (buf == NULL)
		perror(path);
	return buf;
}

/* Reads MANIFEST and every body it names; the number of messages, -1 on error. */
static long load(const char *manifest, struct msg **out)
{
	FILE *f = fopen(manifest, "r");
	char line[8192], id[128], sig[128], file[4096], hdr[256];
	struct msg *m = NULL, *grown;
	long n = 0, cap = 0;

	if (f == NULL) {
		perror(manifest);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%127s %127s %4095s", id, sig, file) != 3)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(m, (size_t)cap * sizeof(*m));
			if (grown == NULL)
				return -1;
			m = grown;
		}
		m[n].body = slurp(file, &m[n].len);
		if (m[n].body == NULL)
			return -1;
		m[n].headers = curl_slist_append(NULL, "Content-Type: application/xml");
		snprintf(hdr, sizeof(hdr), "X-Message-Id: %s", id);
		m[n].headers = curl_slist_append(m[n].headers, hdr);
		snprintf(hdr, sizeof(hdr), "X-Signal-Id: %s", sig);
		m[n].headers = curl_slist_append(m[n].headers, hdr);
		/* no "Expect: 100-continue" round trip, as the broker */
		m[n].headers = curl_slist_append(m[n].headers, "Expect:");
		n++;
	}
	fclose(f);
	*out = m;
	return n;
}

/* Points slot s at message i and hands it to the multi handle. */
static void post(CURLM *multi, struct slot *s, struct msg *m, long i)
{
	s->msg = i;
	s->started = now();
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, m[i].body);
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m[i].len);
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, m[i].headers);
	curl_multi_add_handle(multi, s->h);
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: postgen URL CA CERT KEY MANIFEST INFLIGHT\n");
		return 2;
	}
	const char *url = argv[1], *ca = argv[2], *cert = argv[3], *key = argv[4];
	int nc = atoi(argv[6]);
	struct msg *m = NULL;
	long n = load(argv[5], &m);

	if (n <= 0 || nc < 1) {
		fprintf(stderr, "postgen: no messages in %s, or INFLIGHT < 1\n", argv[5]);
		return 2;
	}
	if (nc > n)
		nc = (int)n;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)nc);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)nc);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

	struct slot *sl = calloc((size_t)nc, sizeof(*sl));
	double *lat = malloc(sizeof(double) * (size_t)n);
	long next = 0, done = 0, errors = 0, non2xx = 0, connects = 0;

	if (sl == NULL || lat == NULL)
		return 1;
	for (int i = 0; i < nc; i++) {
		CURL *h = curl_easy_init();

		sl[i].h = h;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, key);
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "postgen");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_PRIVATE, &sl[i]);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, sl[i].err);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	}
	double t0 = now();

	for (int i = 0; i < nc; i++)
		post(multi, &sl[i], m, next++);
	while (done < n) {
		int running;
		CURLMsg *msg;
		int left;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s;
			long code = 0, nconn = 0;

			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &nconn);
			connects += nconn;
			lat[done++] = (now() - s->started) * 1000.0;
			if (msg->data.result != CURLE_OK) {
				if (errors < 3)
					fprintf(stderr, "postgen: %s: %s\n",
						curl_easy_strerror(msg->data.result), s->err);
				errors++;
			} else if (code < 200 || code > 299) {
				if (non2xx < 3)
					fprintf(stderr, "postgen: HTTP %ld for message %ld\n", code,
						s->msg);
				non2xx++;
			}
			curl_multi_remove_handle(multi, s->h);
			if (next < n)
				post(multi, s, m, next++);
		}
		if (done < n)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	double secs = now() - t0;

	qsort(lat, (size_t)done, sizeof(double), cmp);
	printf("{\"in_flight\":%d,\"requests\":%ld,\"errors\":%ld,\"non_2xx\":%ld,"
	       "\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
	       "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"connections\":%ld}\n",
	       nc, done, errors, non2xx, secs, (double)done / secs, pct(lat, done, 50),
	       pct(lat, done, 90), pct(lat, done, 99), done ? lat[done - 1] : 0.0, connects);
	for (int i = 0; i < nc; i++)
		curl_easy_cleanup(sl[i].h);
	curl_multi_cleanup(multi);
	for (long i = 0; i < n; i++) {
		free(m[i].body);
		curl_slist_free_all(m[i].headers);
	}
	free(m);
	free(sl);
	free(lat);
	curl_global_cleanup();
	return errors + non2xx > 0 ? 1 : 0;
}
