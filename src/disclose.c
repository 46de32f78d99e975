/*
 * disclose.c - disclosures in the exchange log (see disclose.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "disclose.h"
#include "exlog.h"
#include "ldv.h"

enum status disclose_add(struct disclosures *d, const char *signal, bool bsn)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 128;
		struct disclosure *v = realloc(d->v, cap * sizeof(*v));

		if (v == NULL)
			return ST_FAIL;
		d->v = v;
		d->cap = cap;
	}
	snprintf(d->v[d->n].signal, sizeof(d->v[d->n].signal), "%s", signal);
	d->v[d->n++].bsn = bsn;
	return ST_OK;
}

void disclose_free(struct disclosures *d)
{
	free(d->v);
	*d = (struct disclosures){ 0 };
}

enum status disclose_inbox(struct store *s, const struct config *cfg, const char *recipient,
			   const char *format, const struct disclosures *d, struct errbuf *e)
{
	char with[96], without[96];

	if (d->n == 0)
		return ST_OK;
	/* the detail as exlog_append() would write it: compact, keys sorted;
	 * the same two texts for every signal of the page */
	snprintf(with, sizeof(with), "{\"bsn\":true,\"format\":\"%s\",\"via\":\"inbox\"}", format);
	snprintf(without, sizeof(without), "{\"bsn\":false,\"format\":\"%s\",\"via\":\"inbox\"}",
		 format);
	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < d->n; i++)
		if (exlog_append_text(s, "disclosure", recipient, d->v[i].signal,
				      d->v[i].bsn ? with : without, e) != ST_OK ||
		    ldv_disclosure(s, cfg, d->v[i].signal, recipient, e) != ST_OK)
			goto out_rollback;
	if (store_commit(s, e) != ST_OK)
		goto out_rollback;
	return ST_OK;
out_rollback:
	store_rollback(s);
	return ST_FAIL;
}

enum status disclose_push(struct store *s, const struct config *cfg, const char *recipient,
			  const char *signal, const char *message, bool bsn, struct errbuf *e)
{
	if (exlog_append(s, "disclosure", recipient, signal,
			 json_pack("{s:b, s:s, s:s}", "bsn", bsn, "message", message,
				   "via", "push"), e) != ST_OK)
		return ST_FAIL;
	return ldv_disclosure(s, cfg, signal, recipient, e);
}
