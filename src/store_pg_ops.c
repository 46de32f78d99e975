/*
 * store_pg_ops.c - what the PostgreSQL store tells operators (store_pg.h;
 * the contracts are store.h's): the figures of /metrics, the tables of
 * the dashboard, and the write check of /healthz.  The queries are
 * store_sqlite.c's, in PostgreSQL's words (the log's detail is JSON text:
 * read with ::jsonb ->>).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

/* A field of the log entry's detail, as text. */
#define DETAIL(f) "(detail::jsonb ->> '" f "')"
/* Now, in Unix seconds. */
#define NOW_S "extract(epoch FROM now())::bigint"
/* A Unix second x as ISO 8601 (UTC). */
#define ISO_S(x) "to_char(to_timestamp(" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The store's metrics: name, help, type, labels, and the query that gives
 * (label value 1, label value 2, value) rows.  As store_sqlite.c's. */
static const struct {
	const char *metric, *help, *type, *label1, *label2, *sql;
} gauges[] = {
	{ "schakel_records_total", "Records read per adapter, accepted or rejected.", "counter",
	  "adapter", "outcome", "SELECT " DETAIL("adapter") " AS a, 'accepted' AS o,"
	  " sum(" DETAIL("accepted") "::bigint) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1 UNION ALL SELECT " DETAIL("adapter") ", 'rejected',"
	  " sum(" DETAIL("rejected") "::bigint) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1 ORDER BY 1, 2" },
	{ "schakel_inputs_refused_total", "Inputs refused whole, per adapter.", "counter",
	  "adapter", NULL, "SELECT " DETAIL("adapter") ", NULL, count(*) FROM exlog"
	  " WHERE kind = 'reject' AND " DETAIL("place") " = 'file' GROUP BY 1" },
	{ "schakel_pulls_total", "Pull attempts per source and outcome.", "counter",
	  "source", "outcome", "SELECT subject, " DETAIL("outcome") ", count(*) FROM"
	  " exlog WHERE kind = 'pull' GROUP BY 1, 2" },
	{ "schakel_signals_total", "Signals raised per rule.", "counter", "rule", NULL,
	  "SELECT " DETAIL("rule") ", NULL, count(*) FROM exlog WHERE kind = 'signal' GROUP BY 1" },
	{ "schakel_feedback_total", "Recipients' feedback per rule and outcome.", "counter",
	  "rule", "outcome", "SELECT s.rule, f.outcome, count(*) FROM feedback f JOIN signal s"
	  " ON s.id = f.signal_id GROUP BY 1, 2" },
	{ "schakel_delivery_attempts_total", "Delivery attempts per recipient and outcome"
	  " (delivered, retry, failed, exhausted).", "counter", "recipient", "outcome",
	  "SELECT party, " DETAIL("outcome") ", count(*) FROM exlog"
	  " WHERE kind = 'delivery' GROUP BY 1, 2" },
	{ "schakel_deliveries", "Deliveries in the outbox per recipient and state.", "gauge",
	  "recipient", "state", "SELECT oin, state, count(*) FROM delivery GROUP BY 1, 2" },
	{ "schakel_delivery_queue_depth", "Deliveries waiting, per recipient.", "gauge",
	  "recipient", NULL, "SELECT oin, NULL, count(*) FROM delivery WHERE state = 'pending'"
	  " GROUP BY 1" },
	{ "schakel_delivery_oldest_pending_seconds", "Age of the oldest waiting delivery.",
	  "gauge", "recipient", NULL, "SELECT oin, NULL, " NOW_S " - min(created) FROM delivery"
	  " WHERE state = 'pending' GROUP BY 1" },
	{ "schakel_refusals_total", "Requests refused, per status.", "counter", "status", NULL,
	  "SELECT " DETAIL("status") ", NULL, sum(coalesce(" DETAIL("count") "::bigint, 1))"
	  " FROM exlog WHERE kind = 'refusal' GROUP BY 1" },
	{ "schakel_log_entries", "Entries in the exchange log.", "gauge", NULL, NULL,
	  "SELECT NULL, NULL, count(*) FROM exlog" },
};

enum status store_pg_gauges(struct store_pg *s, int (*cb)(void *arg, const struct gauge *g),
			    void *arg, struct errbuf *e)
{
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		PGresult *res = pg_run(s, gauges[i].sql, NULL, PGRES_TUPLES_OK, "read figures", e);

		if (res == NULL)
			return ST_FAIL;
		for (int r = 0; r < PQntuples(res); r++) {
			struct gauge g = {
				gauges[i].metric, gauges[i].help, gauges[i].type,
				gauges[i].label1, pg_value_or_null(res, r, 0),
				gauges[i].label2, pg_value_or_null(res, r, 1),
				PQgetisnull(res, r, 2) ? 0 : strtod(PQgetvalue(res, r, 2), NULL),
			};

			if (cb(arg, &g) != 0) {
				PQclear(res);
				return ST_FAIL;
			}
		}
		PQclear(res);
	}
	return ST_OK;
}

/*
 * A real write, committed (a read-only server or a full disk fails it): a
 * row no source can have (source names are never empty) put in and taken
 * out again, waiting at most timeout_ms for a lock.
 */
enum status store_pg_check_writable(struct store_pg *s, int timeout_ms, struct errbuf *e)
{
	struct params p = { 0 };
	char ms[32];
	struct errbuf why;
	int rows;

	snprintf(ms, sizeof(ms), "%dms", timeout_ms > 0 ? timeout_ms : 1);
	p_text(&p, ms);
	if (store_pg_begin(s, &why) != ST_OK ||
	    pg_run_rows(s, "SELECT set_config('lock_timeout', $1, true),"
			" set_config('statement_timeout', $1, true)", &p, &rows, "check",
			&why) != ST_OK ||
	    pg_run_done(s, "INSERT INTO source_state(name) VALUES ('') ON CONFLICT (name)"
			" DO NOTHING", NULL, "check", &why) != ST_OK ||
	    pg_run_done(s, "DELETE FROM source_state WHERE name = ''", NULL, "check",
			&why) != ST_OK ||
	    store_pg_commit(s, &why) != ST_OK) {
		store_pg_rollback(s);
		return errbuf_set(e, ST_FAIL, "database not writable: %s", why.msg);
	}
	return ST_OK;
}

/* The tables of the operator's page, as store_sqlite.c's. */
static const char *const reports[] = {
	/* a refusal without a party is of unidentified clients, aggregated
	 * (noise.c): its count says how many */
	[REPORT_EXCHANGES] = "SELECT coalesce(party, CASE WHEN kind = 'refusal' THEN 'unidentified'"
		" END, " DETAIL("source") ", " DETAIL("adapter") ", 'local') AS who, kind,"
		" substr(at, 1, 10) AS day, sum(CASE WHEN kind = 'refusal' AND party IS NULL"
		" THEN coalesce(" DETAIL("count") "::bigint, 1) ELSE 1 END) FROM exlog"
		" WHERE kind IN ('ingest', 'upload', 'pull', 'delivery', 'reject', 'refusal', 'feedback')"
		" AND at >= to_char((now() AT TIME ZONE 'UTC')::date - 13, 'YYYY-MM-DD')"
		" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	[REPORT_SIGNALS] = "SELECT s.rule, count(DISTINCT s.id),"
		" count(*) FILTER (WHERE f.outcome = 'bevestigd'),"
		" count(*) FILTER (WHERE f.outcome = 'onterecht'),"
		" count(*) FILTER (WHERE f.outcome = 'in_behandeling') FROM signal s"
		" LEFT JOIN feedback f ON f.signal_id = s.id GROUP BY 1 ORDER BY s.rule COLLATE \"C\"",
	[REPORT_BACKLOG] = "SELECT oin, count(*) FILTER (WHERE state = 'pending'),"
		" " NOW_S " - min(CASE WHEN state = 'pending' THEN created END),"
		" count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'delivered')"
		" FROM delivery GROUP BY 1 ORDER BY 1",
	[REPORT_FAILURES] = "SELECT seq, at, kind, coalesce(party, '-'), coalesce(subject, '-'),"
		" detail FROM exlog WHERE kind IN ('refusal', 'reject')"
		" OR " DETAIL("outcome") " IN ('failed', 'exhausted', 'retry')"
		" ORDER BY seq DESC LIMIT 20",
	[REPORT_QUEUE] = "SELECT count(*) FILTER (WHERE state = 'pending'),"
		" count(*) FILTER (WHERE state = 'failed'),"
		" " ISO_S("min(next_at) FILTER (WHERE state = 'pending')") ","
		" min(next_at) FILTER (WHERE state = 'pending') - " NOW_S " FROM delivery",
};

enum status store_pg_report(struct store_pg *s, enum report r,
			    int (*cb)(void *arg, int ncols, const char *const *cols), void *arg,
			    struct errbuf *e)
{
	PGresult *res = pg_run(s, reports[r], NULL, PGRES_TUPLES_OK, "read a report", e);
	const char *cols[16];
	int n;

	if (res == NULL)
		return ST_FAIL;
	n = PQnfields(res) < 16 ? PQnfields(res) : 16;
	for (int i = 0; i < PQntuples(res); i++) {
		for (int c = 0; c < n; c++)
			cols[c] = pg_value_or_null(res, i, c);
		if (cb(arg, n, cols) != 0) {
			PQclear(res);
			return ST_FAIL;
		}
	}
	PQclear(res);
	return ST_OK;
}
