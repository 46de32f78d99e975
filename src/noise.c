/*
 * noise.c - refusals of unidentified clients, counted (see noise.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "exlog.h"
#include "log.h"
#include "noise.h"

#define MAX_KEYS 256

/* What is counted for one source address, cause and status. */
struct key {
	char addr[48];
	char cause[32];
	int status;
	long count;
	time_t first, last;
	char reason[256];
};

struct noise {
	struct key keys[MAX_KEYS];
	size_t n;
};

struct noise *noise_new(void)
{
	return calloc(1, sizeof(struct noise));
}

void noise_free(struct noise *n)
{
	free(n);
}

bool noise_add(struct noise *n, const char *addr, const char *cause, int status,
	       const char *reason)
{
	time_t now = time(NULL);
	struct key *k;

	for (size_t i = 0; i < n->n; i++) {
		k = &n->keys[i];
		if (k->status == status && strcmp(k->addr, addr) == 0 &&
		    strcmp(k->cause, cause) == 0) {
			k->count++;
			k->last = now;
			return true;
		}
	}
	if (n->n == MAX_KEYS)
		return false;
	k = &n->keys[n->n++];
	snprintf(k->addr, sizeof(k->addr), "%s", addr);
	snprintf(k->cause, sizeof(k->cause), "%s", cause);
	snprintf(k->reason, sizeof(k->reason), "%s", reason);
	k->status = status;
	k->count = 1;
	k->first = k->last = now;
	return true;
}

long noise_pending(const struct noise *n)
{
	long sum = 0;

	for (size_t i = 0; i < n->n; i++)
		sum += n->keys[i].count;
	return sum;
}

/* "2026-11-27T22:04:02Z" */
static void iso(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum status append(struct store *s, const struct key *k, struct errbuf *e)
{
	char first[32], last[32];

	iso(k->first, first);
	iso(k->last, last);
	return exlog_append(s, "refusal", NULL, k->addr,
			    json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i}", "cause", k->cause,
				      "count", (json_int_t)k->count, "first", first, "last", last,
				      "method", "-", "reason", k->reason, "source", k->addr,
				      "status", k->status), e);
}

enum status noise_flush(struct noise *n, struct store *s, struct errbuf *e)
{
	if (n->n == 0)
		return ST_OK;
	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < n->n; i++)
		if (append(s, &n->keys[i], e) != ST_OK) {
			store_rollback(s);
			return ST_FAIL;
		}
	if (store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	for (size_t i = 0; i < n->n; i++) {
		char count[24], status[8];

		snprintf(count, sizeof(count), "%ld", n->keys[i].count);
		snprintf(status, sizeof(status), "%d", n->keys[i].status);
		log_event(LV_WARN, "http", "refused unidentified clients", "source",
			  n->keys[i].addr, "cause", n->keys[i].cause, "status", status,
			  "count", count, "reason", n->keys[i].reason, NULL);
	}
	n->n = 0;
	return ST_OK;
}
