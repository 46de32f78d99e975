/*
 * purge.c - retention (see purge.h).
 */
#include <stdio.h>

#include "exlog.h"
#include "purge.h"

/* The cut-off "days before as_of" as an ISO time, or NULL for days 0. */
static const char *cutoff(const char *as_of, int days, char out[24])
{
	char date[11];

	if (days <= 0)
		return NULL;
	norm_date_from_days(norm_days(as_of) - days, date);
	snprintf(out, 24, "%sT00:00:00Z", date);
	return out;
}

enum status purge_run(struct app *app, const char *as_of, struct purge_counts *n,
		      struct errbuf *e)
{
	char rec[24], sig[24], del[24];
	struct retention r = {
		.records = cutoff(as_of, app->cfg.retention_records_days, rec),
		.signals = cutoff(as_of, app->cfg.retention_signals_days, sig),
		.deliveries = cutoff(as_of, app->cfg.retention_delivered_days, del),
	};
	struct store *s = app->store;

	if (norm_date("--as-of", as_of, e) != ST_OK)
		return ST_USAGE;
	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (store_purge(s, &r, n, e) != ST_OK ||
	    exlog_append(s, "purge", NULL, as_of,
			 json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "as_of", as_of,
				   "registrations", (json_int_t)n->persons,
				   "dwellings", (json_int_t)n->dwellings,
				   "findings", (json_int_t)n->findings,
				   "signals", (json_int_t)n->signals,
				   "deliveries", (json_int_t)n->deliveries,
				   "ingests", (json_int_t)n->ingests), e) != ST_OK ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}
