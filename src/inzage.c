/*
 * inzage.c - a person's access request (see inzage.h).
 */
#include <jansson.h>

#include "exlog.h"
#include "inzage.h"
#include "ldv.h"
#include "trace.h"

enum status inzage_request(struct app *app, const char *bsn,
			   uint8_t pseudonym[PSEUDONYM_LEN], struct errbuf *e)
{
	char hex[2 * PSEUDONYM_LEN + 1];
	struct trace_ctx tc;
	struct ldv l;

	crypto_pseudonym(&app->keys, bsn, pseudonym);
	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	if (trace_new(&tc, e) != ST_OK)
		return ST_FAIL;
	store_trace_set(app->store, tc.trace_id);
	if (store_begin(app->store, e) != ST_OK ||
	    ldv_begin(app->store, &app->cfg, LDV_INZAGE, NULL, NULL, NULL, &l, e) != ST_OK ||
	    ldv_subject(app->store, &l, pseudonym, e) != ST_OK ||
	    exlog_append(app->store, "inzage", NULL, hex, json_object(), e) != ST_OK ||
	    ldv_end(app->store, &l, 0, e) != ST_OK || store_commit(app->store, e) != ST_OK) {
		store_rollback(app->store);
		store_trace_set(app->store, NULL);
		return ST_FAIL;
	}
	store_trace_set(app->store, NULL);
	return ST_OK;
}

enum status inzage_exchanges(struct app *app, const uint8_t pseudonym[PSEUDONYM_LEN],
			     int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			     struct errbuf *e)
{
	return store_inzage(app->store, pseudonym, cb, arg, e);
}

enum status inzage_processings(struct app *app, const uint8_t pseudonym[PSEUDONYM_LEN],
			       const char *activity, const char *trace,
			       int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
			       struct errbuf *e)
{
	struct ldv_filter f = { .subject = pseudonym, .activity = activity, .trace = trace };

	return store_ldv_search(app->store, &f, cb, arg, e);
}
