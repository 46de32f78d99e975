/*
 * store_sqlite_lease.c - what several nodes of one database share
 * (store.h, "several nodes"; store-016.sql) on SQLite: job leases, the
 * nodes' digests of their parties, and the probe of /healthz.
 *
 * On SQLite the database is one node's, so its leases are always its own;
 * the statements are those of PostgreSQL all the same.  The daemon's loop
 * calls these every few seconds: they wait NODE_BUSY_MS at most for the
 * write lock (another process's), and the caller keeps what it knew.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

#define NODE_BUSY_MS 250

/* Prepares text with the short busy timeout; NULL with e set. */
static sqlite3_stmt *node_prepare(struct store_sqlite *s, const char *text, struct errbuf *e)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, text, -1, &st, NULL) != SQLITE_OK) {
		db_error(s, e, "prepare");
		return NULL;
	}
	sqlite3_busy_timeout(s->db, NODE_BUSY_MS < s->busy_timeout_ms ? NODE_BUSY_MS :
			     s->busy_timeout_ms);
	return st;
}

/* Steps st to its end (*rows: the rows it returned, or NULL), finalises it. */
static enum status node_finish(struct store_sqlite *s, sqlite3_stmt *st, int *rows, const char *what,
			       struct errbuf *e)
{
	enum status r = ST_OK;
	int rc, n = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		n++;
	if (rc != SQLITE_DONE)
		r = db_error(s, e, what);
	sqlite3_finalize(st);
	sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
	if (rows != NULL)
		*rows = n;
	return r;
}

enum status store_sqlite_lease_take(struct store_sqlite *s, const char *job, const char *node, int seconds,
			     bool *held, struct errbuf *e)
{
	sqlite3_stmt *st = node_prepare(s,
		"INSERT INTO job_lease(job, holder, until) VALUES (?1, ?2, unixepoch() + ?3)"
		" ON CONFLICT(job) DO UPDATE SET holder = excluded.holder, until = excluded.until"
		" WHERE job_lease.holder = excluded.holder OR job_lease.until <= unixepoch()"
		" RETURNING holder", e);
	int rows = 0;

	*held = false;
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, seconds);
	if (node_finish(s, st, &rows, "take a job lease", e) != ST_OK)
		return ST_FAIL;
	*held = rows == 1;
	return ST_OK;
}

enum status store_sqlite_lease_drop(struct store_sqlite *s, const char *job, const char *node,
			     struct errbuf *e)
{
	sqlite3_stmt *st = node_prepare(s, "DELETE FROM job_lease WHERE holder = ?2"
					" AND (?1 IS NULL OR job = ?1)", e);

	if (st == NULL)
		return ST_FAIL;
	if (job != NULL)
		sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC);
	return node_finish(s, st, NULL, "drop a job lease", e);
}

enum status store_sqlite_node_put(struct store_sqlite *s, const char *node, const char digest[65],
			   struct errbuf *e)
{
	sqlite3_stmt *st = node_prepare(s,
		"INSERT INTO node_config(node, digest, changed_at, seen) VALUES (?1, ?2,"
		" coalesce((SELECT min(changed_at) FROM node_config WHERE digest = ?2), unixepoch()),"
		" unixepoch()) ON CONFLICT(node) DO UPDATE SET seen = excluded.seen,"
		" changed_at = iif(node_config.digest = excluded.digest, node_config.changed_at,"
		" unixepoch()), digest = excluded.digest", e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
	return node_finish(s, st, NULL, "record the node's digest", e);
}

enum status store_sqlite_node_newest(struct store_sqlite *s, int live_seconds, struct node_newest *out,
			      struct errbuf *e)
{
	sqlite3_stmt *st = node_prepare(s,
		"SELECT node, digest, unixepoch() - changed_at FROM node_config"
		" WHERE seen >= unixepoch() - ?1 ORDER BY changed_at DESC, node LIMIT 1", e);
	int rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int(st, 1, live_seconds);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->found = true;
		snprintf(out->node, sizeof(out->node), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(out->digest, sizeof(out->digest), "%s",
			 (const char *)sqlite3_column_text(st, 1));
		out->age = (long)sqlite3_column_int64(st, 2);
	} else if (rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
		return db_error(s, e, "read the nodes' digests");
	}
	return node_finish(s, st, NULL, "read the nodes' digests", e);
}

enum status store_sqlite_ping(struct store_sqlite *s, struct errbuf *e)
{
	sqlite3_stmt *st = node_prepare(s, "SELECT count(*) FROM sqlite_schema", e);

	if (st == NULL)
		return ST_FAIL;
	return node_finish(s, st, NULL, "check the connection", e);
}
