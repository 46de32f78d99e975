/*
 * bench/loadgen.c - a small load generator for `schakel serve`, on libcurl's
 * multi interface.  C clients each keep one HTTPS connection (keep-alive,
 * TLS sessions shared) and POST the same file again and again, until N
 * requests are done or T seconds have passed.  Prints one JSON object:
 * requests, errors, seconds, rps, latency percentiles (ms), connections made.
 *
 *   loadgen URL FILE CA C N T CERT:KEY [CERT:KEY...]
 *   LOADGEN_RESUME=0 loadgen ...     without TLS session resumption
 *
 * Client i presents the certificate CERT:KEY number i modulo their count,
 * so the clients can be spread over several parties.  Built by bench/run.sh:
 *   gcc -O2 -o loadgen loadgen.c -lcurl
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"

struct client {
	CURL *h;
	double started;
	char err[CURL_ERROR_SIZE];
	char *cert, *key;
};

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: loadgen URL FILE CA CLIENTS REQUESTS SECONDS CERT:KEY...\n");
		return 2;
	}
	const char *url = argv[1], *file = argv[2], *ca = argv[3];
	int nc = atoi(argv[4]);
	long nreq = atol(argv[5]);
	double limit = atof(argv[6]);
	int ncert = argc - 7;
	FILE *f = fopen(file, "rb");
	char *body;
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0) {
		perror(file);
		return 1;
	}
	rewind(f);
	body = malloc((size_t)len);
	if (body == NULL || fread(body, 1, (size_t)len, f) != (size_t)len)
		return 1;
	fclose(f);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* one TLS session cache per client certificate: a session made with one
	 * party's certificate is not offered by a client of another party.
	 * LOADGEN_RESUME=0 turns resumption off (each new connection makes a
	 * full handshake); keep-alive is on either way. */
	const char *resume_env = getenv("LOADGEN_RESUME");
	long resume = resume_env == NULL || strcmp(resume_env, "0") != 0;
	CURLSH **sh = calloc((size_t)ncert, sizeof(*sh));

	for (int i = 0; i < ncert; i++) {
		sh[i] = curl_share_init();
		curl_share_setopt(sh[i], CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nc);
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)nc);
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);

	struct client *cl = calloc((size_t)nc, sizeof(*cl));
	double *lat = malloc(sizeof(double) * (size_t)(nreq > 0 ? nreq : 1));
	long started = 0, done = 0, errors = 0, connects = 0, status_err = 0;
	double t0 = now(), t_end = t0 + limit;

	for (int i = 0; i < nc; i++) {
		char *spec = strdup(argv[7 + i % ncert]), *colon = strchr(spec, ':');

		if (colon == NULL) {
			fprintf(stderr, "loadgen: CERT:KEY expected, not %s\n", spec);
			return 2;
		}
		*colon = '\0';
		cl[i].cert = spec;
		cl[i].key = colon + 1;
		cl[i].h = curl_easy_init();
		CURL *h = cl[i].h;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, cl[i].cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, cl[i].key);
		curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, resume);
		if (resume)
			curl_easy_setopt(h, CURLOPT_SHARE, sh[i % ncert]);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_PRIVATE, &cl[i]);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cl[i].err);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
		/* no "Expect: 100-continue" round trip for small bodies */
		struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
		if (started < nreq) {
			cl[i].started = now();
			curl_multi_add_handle(m, h);
			started++;
		}
	}
	int running = 1;
	while (running > 0 || done < started) {
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;

		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			struct client *c;
			long code = 0, nconn = 0;

			curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
			connects += nconn;
			lat[done++] = (now() - c->started) * 1000.0;
			if (msg->data.result != CURLE_OK) {
				if (errors < 3)
					fprintf(stderr, "loadgen: %s: %s\n",
						curl_easy_strerror(msg->data.result), c->err);
				errors++;
			} else if (code != 200) {
				if (status_err < 3)
					fprintf(stderr, "loadgen: HTTP %ld\n", code);
				status_err++;
			}
			curl_multi_remove_handle(m, h);
			if (started < nreq && now() < t_end) {
				c->started = now();
				curl_multi_add_handle(m, h);
				started++;
				running = 1;
			}
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	double secs = now() - t0;

	qsort(lat, (size_t)done, sizeof(double), cmp);
	printf("{\"clients\":%d,\"requests\":%ld,\"errors\":%ld,\"non_200\":%ld,"
	       "\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,"
	       "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"connections\":%ld,\"tls_resumption\":%s}\n",
	       nc, done, errors, status_err, secs, (double)done / secs, pct(lat, done, 50),
	       pct(lat, done, 90), pct(lat, done, 99), done ? lat[done - 1] : 0.0, connects,
	       resume ? "true" : "false");
	for (int i = 0; i < nc; i++)
		curl_easy_cleanup(cl[i].h);
	curl_multi_cleanup(m);
	for (int i = 0; i < ncert; i++)
		curl_share_cleanup(sh[i]);
	curl_global_cleanup();
	return errors + status_err > 0 ? 1 : 0;
}
