/*
 * store_pg_lease.c - what the nodes sharing one PostgreSQL database agree
 * on (store.h, "several nodes"; pg/004.sql): the leases of the jobs that
 * run on one node at a time, each node's digest of its parties, and the
 * probe of the connection /healthz shows.
 *
 * Every statement runs on its own (autocommit) and every time is the
 * server's now(), so that the nodes' clocks do not matter.  Two nodes
 * taking one lease at once meet in INSERT ... ON CONFLICT: the second
 * waits for the first's row and then finds it held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_int.h"

enum status store_pg_lease_take(struct store_pg *s, const char *job, const char *node,
				int seconds, bool *held, struct errbuf *e)
{
	struct params p = { 0 };
	int rows = 0;

	*held = false;
	p_text(&p, job);
	p_text(&p, node);
	p_int(&p, seconds);
	if (pg_run_rows(s, "INSERT INTO job_lease(job, holder, until)"
			" VALUES ($1, $2, now() + make_interval(secs => $3::int))"
			" ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder,"
			" until = EXCLUDED.until WHERE job_lease.holder = EXCLUDED.holder"
			" OR job_lease.until <= now() RETURNING holder", &p, &rows,
			"take a job lease", e) != ST_OK)
		return ST_FAIL;
	*held = rows == 1;
	return ST_OK;
}

enum status store_pg_lease_drop(struct store_pg *s, const char *job, const char *node,
				struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, job);
	p_text(&p, node);
	return pg_run_done(s, "DELETE FROM job_lease WHERE holder = $2"
			   " AND ($1::text IS NULL OR job = $1)", &p, "drop a job lease", e);
}

enum status store_pg_node_put(struct store_pg *s, const char *node, const char digest[65],
			      struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, node);
	p_text(&p, digest);
	return pg_run_done(s, "INSERT INTO node_config(node, digest, changed_at, seen)"
			   " VALUES ($1, $2, coalesce((SELECT min(changed_at) FROM node_config"
			   " WHERE digest = $2), now()), now()) ON CONFLICT (node) DO UPDATE"
			   " SET seen = EXCLUDED.seen, changed_at = CASE WHEN node_config.digest"
			   " = EXCLUDED.digest THEN node_config.changed_at ELSE now() END,"
			   " digest = EXCLUDED.digest", &p, "record the node's digest", e);
}

enum status store_pg_node_newest(struct store_pg *s, int live_seconds,
				 struct node_newest *out, struct errbuf *e)
{
	struct params p = { 0 };
	PGresult *res;

	memset(out, 0, sizeof(*out));
	p_int(&p, live_seconds);
	res = pg_run(s, "SELECT node, digest, floor(extract(epoch FROM now() - changed_at))::bigint"
		     " FROM node_config WHERE seen >= now() - make_interval(secs => $1::int)"
		     " ORDER BY changed_at DESC, node LIMIT 1", &p, PGRES_TUPLES_OK,
		     "read the nodes' digests", e);
	if (res == NULL)
		return ST_FAIL;
	if (PQntuples(res) == 1) {
		out->found = true;
		pg_value_copy(res, 0, 0, out->node, sizeof(out->node));
		pg_value_copy(res, 0, 1, out->digest, sizeof(out->digest));
		out->age = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	}
	PQclear(res);
	return ST_OK;
}

/* A round trip, and that this server takes writes (not a standby). */
enum status store_pg_ping(struct store_pg *s, struct errbuf *e)
{
	PGresult *res = pg_run(s, "SELECT pg_is_in_recovery() OR"
			       " current_setting('transaction_read_only')::boolean", NULL,
			       PGRES_TUPLES_OK, "check the connection", e);
	bool read_only;

	if (res == NULL)
		return ST_FAIL;
	read_only = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (read_only)
		return errbuf_set(e, ST_FAIL, "database: PostgreSQL %s takes no writes (a standby, "
				  "or read-only)", s->where);
	return ST_OK;
}
