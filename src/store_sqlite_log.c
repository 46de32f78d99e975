/*
 * store_sqlite_log.c - on SQLite: the exchange log (head, append, scans
 * and searches), checkpoints, access requests (inzage), purges, the state
 * of pulled sources, the operators' gauges and reports and the write check.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

enum status store_sqlite_log_head(struct store_sqlite *s, int64_t *seq, char hash[65],
				  struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (s->head_known) {	/* appended in this transaction: nobody else can */
		*seq = s->head_seq;
		memcpy(hash, s->head_hash, 65);
		return ST_OK;
	}
	st = stmt(s, Q_LOG_HEAD, e);
	if (st == NULL)
		return ST_FAIL;
	*seq = 0;
	memset(hash, '0', 64);
	hash[64] = '\0';
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		column_copy(st, 1, hash, 65);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read log head");
	return ST_OK;
}

enum status store_sqlite_log_insert(struct store_sqlite *s, const struct exlog_row *r,
				    struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_LOG_INSERT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_text(st, 2, r->at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->kind, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, r->party);
	bind_text_or_null(st, 5, r->subject);
	sqlite3_bind_text(st, 6, r->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->hash, -1, SQLITE_STATIC);
	bind_text_or_null(st, 9, r->trace_id != NULL && r->trace_id[0] ? r->trace_id : NULL);
	if (step_done(s, st, e, "write the exchange log") != ST_OK)
		return ST_FAIL;
	/* Inside a transaction (BEGIN IMMEDIATE: no other writer) the next
	 * store_log_head() needs no query; forget_writes() ends it. */
	s->head_known = !sqlite3_get_autocommit(s->db);
	s->head_seq = r->seq;
	snprintf(s->head_hash, sizeof(s->head_hash), "%s", r->hash);
	return ST_OK;
}

/*
 * Steps st (columns seq, at, kind, party, subject, detail, prev, hash, trace_id),
 * calling cb with each entry.  The caller resets or finalizes st.
 */
static enum status log_rows(struct store_sqlite *s, sqlite3_stmt *st,
			    int (*cb)(void *arg, const struct exlog_row *r), void *arg,
			    struct errbuf *e)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct exlog_row r = { 0 };

		r.seq = sqlite3_column_int64(st, 0);
		column_copy(st, 1, r.at, sizeof(r.at));
		r.kind = (const char *)sqlite3_column_text(st, 2);
		r.party = (const char *)sqlite3_column_text(st, 3);
		r.subject = (const char *)sqlite3_column_text(st, 4);
		r.detail = (const char *)sqlite3_column_text(st, 5);
		column_copy(st, 6, r.prev, sizeof(r.prev));
		column_copy(st, 7, r.hash, sizeof(r.hash));
		r.trace_id = (const char *)sqlite3_column_text(st, 8);
		if (cb(arg, &r) != 0)
			return ST_FAIL;
	}
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read the exchange log");
	return ST_OK;
}

enum status store_sqlite_log_scan(struct store_sqlite *s, int64_t from, const char *party,
				  long limit, int (*cb)(void *arg, const struct exlog_row *r),
				  void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_LOG_SCAN, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, from);
	bind_text_or_null(st, 2, party);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	rc = log_rows(s, st, cb, arg, e);
	sqlite3_reset(st);
	return rc;
}

enum status store_sqlite_source_get(struct store_sqlite *s, const char *name,
				    struct source_state *ss, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_SOURCE_GET, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	memset(ss, 0, sizeof(*ss));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_copy(st, 0, ss->cursor, sizeof(ss->cursor));
		column_copy(st, 1, ss->etag, sizeof(ss->etag));
		column_copy(st, 2, ss->last_modified, sizeof(ss->last_modified));
		ss->failures = sqlite3_column_int(st, 3);
		ss->next_at = sqlite3_column_int64(st, 4);
		ss->last_ok = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read source state");
	return ST_OK;
}

enum status store_sqlite_source_put(struct store_sqlite *s, const char *name,
				    const struct source_state *ss, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_SOURCE_PUT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ss->cursor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ss->etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ss->last_modified, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, ss->failures);
	sqlite3_bind_int64(st, 6, ss->next_at);
	sqlite3_bind_int64(st, 7, ss->last_ok);
	return step_done(s, st, e, "store source state");
}

/* The conditions of a log search, each on one named parameter. */
static const struct {
	size_t off;		/* of the value in struct log_filter */
	const char *name;
	const char *cond;
} log_conds[] = {
	{ offsetof(struct log_filter, party), ":party", "party = :party OR (kind IN ('signal', 'ended') AND"
	  " EXISTS (SELECT 1 FROM json_each(detail, '$.recipients') WHERE value = :party))" },
	{ offsetof(struct log_filter, kind), ":kind", "kind = :kind" },
	{ offsetof(struct log_filter, source), ":source", "json_extract(detail, '$.source') ="
	  " :source OR json_extract(detail, '$.adapter') = :source" },
	{ offsetof(struct log_filter, recipient), ":recipient", "(kind IN ('delivery',"
	  " 'disclosure') AND party = :recipient) OR (kind IN ('signal', 'ended') AND EXISTS"
	  " (SELECT 1 FROM json_each(detail, '$.recipients') WHERE value = :recipient))" },
	{ offsetof(struct log_filter, status), ":status", "CAST(json_extract(detail, '$.status')"
	  " AS TEXT) = :status OR json_extract(detail, '$.outcome') = :status" },
	{ offsetof(struct log_filter, since), ":since", "at >= :since" },
	{ offsetof(struct log_filter, until), ":until", "at <= :until || 'z'" },
	{ offsetof(struct log_filter, trace), ":trace", "trace_id = :trace" },
	{ offsetof(struct log_filter, id), ":id", "subject = :id OR json_extract(detail,"
	  " '$.signal') = :id OR CAST(json_extract(detail, '$.ingest') AS TEXT) = :id" },
};

static const char *log_value(const struct log_filter *f, size_t i)
{
	return *(const char *const *)((const char *)f + log_conds[i].off);
}

enum status store_sqlite_log_search(struct store_sqlite *s, const struct log_filter *f,
				    int (*cb)(void *arg, const struct exlog_row *r), void *arg,
				    struct errbuf *e)
{
	char q[4096] = "SELECT seq, at, kind, party, subject, detail, prev, hash, trace_id"
		       " FROM exlog"
		       " WHERE seq > :after";
	size_t nconds = sizeof(log_conds) / sizeof(log_conds[0]), len;
	sqlite3_stmt *st;
	int rc;

	for (size_t i = 0; i < nconds; i++) {
		len = strlen(q);
		if (log_value(f, i) != NULL)
			snprintf(q + len, sizeof(q) - len, " AND (%s)", log_conds[i].cond);
	}
	len = strlen(q);
	snprintf(q + len, sizeof(q) - len, " ORDER BY seq%s LIMIT :limit",
		 f->newest_first ? " DESC" : "");
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "search the exchange log");
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":after"), f->after);
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
			   f->limit > 0 ? f->limit : -1);
	for (size_t i = 0; i < nconds; i++)
		if (log_value(f, i) != NULL)
			sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, log_conds[i].name),
					  log_value(f, i), -1, SQLITE_STATIC);
	rc = log_rows(s, st, cb, arg, e);
	sqlite3_finalize(st);
	return rc;
}

enum status store_sqlite_checkpoint_add(struct store_sqlite *s, const struct checkpoint_row *c,
					struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO checkpoint(seq, hash, at, signature,"
			       " certificate) VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "store a checkpoint");
	sqlite3_bind_int64(st, 1, c->seq);
	sqlite3_bind_text(st, 2, c->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->at, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, c->signature, (int)c->signature_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->certificate, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "store a checkpoint");
	return ST_OK;
}

enum status store_sqlite_checkpoints(struct store_sqlite *s,
				     int (*cb)(void *arg, const struct checkpoint_row *c),
				     void *arg, struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT seq, hash, at, signature, certificate FROM"
			       " checkpoint ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "read checkpoints");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct checkpoint_row c = { .seq = sqlite3_column_int64(st, 0) };

		column_copy(st, 1, c.hash, sizeof(c.hash));
		column_copy(st, 2, c.at, sizeof(c.at));
		c.signature = sqlite3_column_blob(st, 3);
		c.signature_len = (size_t)sqlite3_column_bytes(st, 3);
		c.certificate = (const char *)sqlite3_column_text(st, 4);
		if (cb(arg, &c) != 0) {
			sqlite3_finalize(st);
			return ST_FAIL;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read checkpoints");
	return ST_OK;
}

/* The queries of an access request, each giving the eight inzage_row fields. */
static const char *const inzage_sql[] = {
	/* registrations received */
	"SELECT 'registration', i.at, 'begindatumVerblijf ' || p.begindatum,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" i.adapter, i.origin, i.party, NULL FROM person p JOIN address a ON a.addr = p.addr"
	" JOIN ingest i ON i.id = p.ingest_id WHERE p.pkey = pseudonym_key(?1)"
	" AND p.pseudonym = ?1 ORDER BY p.begindatum",
	/* findings that name the person */
	"SELECT 'finding', i.at, f.id || ' of ' || f.datum,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" i.adapter, i.origin, i.party, NULL FROM finding_person fp"
	" JOIN finding f ON f.id = fp.finding_id JOIN address a ON a.addr = f.addr"
	" JOIN ingest i ON i.id = f.ingest_id WHERE fp.pseudonym = ?1",
	/* signals about the person, or resting on the person's records */
	"SELECT 'signal', s.created, s.id,"
	" a.postcode || ' ' || a.huisnummer || a.huisletter ||"
	" CASE a.toevoeging WHEN '' THEN '' ELSE '-' || a.toevoeging END,"
	" s.rule, 'as of ' || s.as_of, NULL, s.id FROM signal s JOIN address a ON a.addr = s.addr"
	" WHERE s.id IN (SELECT id FROM temp.inzage_signals)",
	/* where those signals went */
	"SELECT 'delivery', coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', d.delivered_at, 'unixepoch'),"
	" strftime('%Y-%m-%dT%H:%M:%SZ', d.created, 'unixepoch')), d.message_id, NULL, d.oin,"
	" d.state, d.oin, d.signal_id FROM delivery d"
	" WHERE d.signal_id IN (SELECT id FROM temp.inzage_signals)",
	/* recipients that fetch from their inbox */
	"SELECT 'routed', s.created, s.id, NULL, r.oin, 'inbox', r.oin, s.id"
	" FROM signal_recipient r JOIN signal s ON s.seq = r.signal_seq"
	" WHERE s.id IN (SELECT id FROM temp.inzage_signals)",
	/* each time one of those signals was handed to a recipient (disclose.c) */
	"SELECT 'disclosure', x.at, x.subject, NULL, x.party,"
	" (x.detail ->> '$.via') || CASE WHEN x.detail ->> '$.bsn' THEN ', with the BSN'"
	" ELSE ', without the BSN' END, x.party, x.subject FROM exlog x"
	" WHERE x.kind = 'disclosure' AND x.subject IN (SELECT id FROM temp.inzage_signals)"
	" ORDER BY x.seq",
};

enum status store_sqlite_inzage(struct store_sqlite *s, const uint8_t pseudonym[PSEUDONYM_LEN],
				int (*cb)(void *arg, const struct inzage_row *r), void *arg,
				struct errbuf *e)
{
	char hex[2 * PSEUDONYM_LEN + 2];
	enum status st = ST_OK;
	sqlite3_stmt *q;

	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	strcat(hex, "/");
	if (sqlite3_exec(s->db, "CREATE TEMP TABLE IF NOT EXISTS inzage_signals(id TEXT PRIMARY KEY);"
			 " DELETE FROM temp.inzage_signals;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO temp.inzage_signals SELECT id FROM signal"
			       " WHERE person = ?1 UNION SELECT s.id FROM signal s, json_each(s.evidence) ev"
			       " WHERE (ev.value ->> 0 = 'brp' AND substr(ev.value ->> 1, 1, 65) = ?2)"
			       " OR (ev.value ->> 0 = 'inspectie' AND ev.value ->> 1 IN"
			       " (SELECT finding_id FROM finding_person WHERE pseudonym = ?1))",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(s, e, "access request");
	sqlite3_bind_blob(q, 1, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, hex, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		st = db_error(s, e, "access request");
	sqlite3_finalize(q);
	for (size_t i = 0; st == ST_OK && i < sizeof(inzage_sql) / sizeof(inzage_sql[0]); i++) {
		int rc;

		if (sqlite3_prepare_v2(s->db, inzage_sql[i], -1, &q, NULL) != SQLITE_OK)
			return db_error(s, e, "access request");
		sqlite3_bind_blob(q, 1, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct inzage_row r;
			const char **f[] = { &r.kind, &r.at, &r.what, &r.address, &r.source, &r.via,
					     &r.party, &r.signal };

			for (int c = 0; c < 8; c++)
				*f[c] = (const char *)sqlite3_column_text(q, c);
			if (cb(arg, &r) != 0) {
				st = ST_FAIL;
				break;
			}
		}
		if (st == ST_OK && rc != SQLITE_DONE)
			st = db_error(s, e, "access request");
		sqlite3_finalize(q);
	}
	return st;
}

/* Runs one purge statement with the cut-off bound as ?1; adds its count. */
static enum status purge_step(struct store_sqlite *s, const char *q, const char *cutoff, long *n,
			      struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (cutoff == NULL)
		return ST_OK;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "purge");
	sqlite3_bind_text(st, 1, cutoff, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "purge");
	if (n != NULL)
		*n += sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_sqlite_purge(struct store_sqlite *s, const struct retention *r,
			       struct purge_counts *n, struct errbuf *e)
{
	/* Signals first, with everything that hangs on them. */
	static const char old_signals[] = "(SELECT id FROM signal WHERE created < ?1)";
	char q[512];

	memset(n, 0, sizeof(*n));
	snprintf(q, sizeof(q), "DELETE FROM feedback WHERE signal_id IN %s", old_signals);
	if (purge_step(s, q, r->signals, NULL, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM delivery WHERE signal_id IN %s", old_signals);
	if (purge_step(s, q, r->signals, &n->deliveries, e) != ST_OK)
		return ST_FAIL;
	if (purge_step(s, "DELETE FROM signal_recipient WHERE signal_seq IN"
		       " (SELECT seq FROM signal WHERE created < ?1)", r->signals, NULL, e) != ST_OK ||
	    purge_step(s, "DELETE FROM signal WHERE created < ?1", r->signals, &n->signals, e) != ST_OK)
		return ST_FAIL;
	/* Delivered messages (the outbox rows; the log keeps their metadata). */
	if (purge_step(s, "DELETE FROM delivery WHERE state = 'delivered' AND delivered_at <"
		       " CAST(strftime('%s', ?1) AS INTEGER)", r->deliveries, &n->deliveries, e)
	    != ST_OK)
		return ST_FAIL;
	/* Records, by when they were received. */
	static const char old_ingests[] = "(SELECT id FROM ingest WHERE at < ?1)";
	snprintf(q, sizeof(q), "DELETE FROM person WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->persons, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM dwelling WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->dwellings, e) != ST_OK)
		return ST_FAIL;
	snprintf(q, sizeof(q), "DELETE FROM finding WHERE ingest_id IN %s", old_ingests);
	if (purge_step(s, q, r->records, &n->findings, e) != ST_OK)
		return ST_FAIL;
	if (purge_step(s, "DELETE FROM coverage WHERE ?1 IS NOT NULL AND gemeentecode NOT IN"
		       " (SELECT gemeentecode FROM person)", r->records, NULL, e) != ST_OK)
		return ST_FAIL;
	return purge_step(s, "DELETE FROM ingest WHERE at < ?1 AND id NOT IN (SELECT ingest_id"
			  " FROM person UNION SELECT ingest_id FROM dwelling UNION SELECT ingest_id"
			  " FROM finding)", r->records, &n->ingests, e);
}

/* The store's metrics: name, help, type, labels, and the query that gives
 * (label value 1, label value 2, value) rows. */
static const struct {
	const char *metric, *help, *type, *label1, *label2, *sql;
} gauges[] = {
	/* Counters come from the exchange log, which retention never purges. */
	{ "schakel_records_total", "Records read per adapter, accepted or rejected.", "counter",
	  "adapter", "outcome", "SELECT json_extract(detail, '$.adapter'), 'accepted',"
	  " sum(json_extract(detail, '$.accepted')) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1"
	  " UNION ALL SELECT json_extract(detail, '$.adapter'), 'rejected',"
	  " sum(json_extract(detail, '$.rejected')) FROM exlog WHERE kind IN ('ingest', 'upload')"
	  " GROUP BY 1"
	  " ORDER BY 1, 2" },
	{ "schakel_inputs_refused_total", "Inputs refused whole, per adapter.", "counter",
	  "adapter", NULL, "SELECT json_extract(detail, '$.adapter'), NULL, count(*) FROM exlog"
	  " WHERE kind = 'reject' AND json_extract(detail, '$.place') = 'file' GROUP BY 1" },
	{ "schakel_pulls_total", "Pull attempts per source and outcome.", "counter",
	  "source", "outcome", "SELECT subject, json_extract(detail, '$.outcome'), count(*) FROM"
	  " exlog WHERE kind = 'pull' GROUP BY 1, 2" },
	{ "schakel_signals_total", "Signals raised per rule.", "counter", "rule", NULL,
	  "SELECT json_extract(detail, '$.rule'), NULL, count(*) FROM exlog WHERE kind = 'signal'"
	  " GROUP BY 1" },
	{ "schakel_feedback_total", "Recipients' feedback per rule and outcome.", "counter",
	  "rule", "outcome", "SELECT s.rule, f.outcome, count(*) FROM feedback f JOIN signal s"
	  " ON s.id = f.signal_id GROUP BY 1, 2" },
	{ "schakel_delivery_attempts_total", "Delivery attempts per recipient and outcome"
	  " (delivered, retry, failed, exhausted).", "counter", "recipient", "outcome",
	  "SELECT party, json_extract(detail, '$.outcome'), count(*) FROM exlog"
	  " WHERE kind = 'delivery' GROUP BY 1, 2" },
	{ "schakel_deliveries", "Deliveries in the outbox per recipient and state.", "gauge",
	  "recipient", "state", "SELECT oin, state, count(*) FROM delivery GROUP BY 1, 2" },
	{ "schakel_delivery_queue_depth", "Deliveries waiting, per recipient.", "gauge",
	  "recipient", NULL, "SELECT oin, NULL, count(*) FROM delivery WHERE state = 'pending'"
	  " GROUP BY 1" },
	{ "schakel_delivery_oldest_pending_seconds", "Age of the oldest waiting delivery.",
	  "gauge", "recipient", NULL, "SELECT oin, NULL, CAST(strftime('%s', 'now') AS INTEGER) -"
	  " min(created) FROM delivery WHERE state = 'pending' GROUP BY 1" },
	{ "schakel_refusals_total", "Requests refused, per status.", "counter", "status", NULL,
	  "SELECT json_extract(detail, '$.status'), NULL, sum(coalesce(json_extract(detail,"
	  " '$.count'), 1)) FROM exlog WHERE kind = 'refusal' GROUP BY 1" },
	{ "schakel_log_entries", "Entries in the exchange log.", "gauge", NULL, NULL,
	  "SELECT NULL, NULL, count(*) FROM exlog" },
};

enum status store_sqlite_gauges(struct store_sqlite *s,
				int (*cb)(void *arg, const struct gauge *g), void *arg,
				struct errbuf *e)
{
	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		sqlite3_stmt *st;
		int rc;

		if (sqlite3_prepare_v2(s->db, gauges[i].sql, -1, &st, NULL) != SQLITE_OK)
			return db_error(s, e, "read figures");
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct gauge g = {
				gauges[i].metric, gauges[i].help, gauges[i].type,
				gauges[i].label1, (const char *)sqlite3_column_text(st, 0),
				gauges[i].label2, (const char *)sqlite3_column_text(st, 1),
				sqlite3_column_double(st, 2),
			};

			if (cb(arg, &g) != 0) {
				sqlite3_finalize(st);
				return ST_FAIL;
			}
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_error(s, e, "read figures");
	}
	return ST_OK;
}

enum status store_sqlite_check_writable(struct store_sqlite *s, int timeout_ms,
					struct errbuf *e)
{
	char *err = NULL;
	enum status st = ST_OK;

	/* A real write that must reach the WAL to commit (a full disk fails it;
	 * taking the lock alone needs no space): a row no source can have
	 * (source names are never empty) put in and taken out again. */
	sqlite3_busy_timeout(s->db, timeout_ms);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE; "
			 "INSERT OR REPLACE INTO source_state (name) VALUES (''); "
			 "DELETE FROM source_state WHERE name = ''; COMMIT", NULL, NULL,
			 &err) != SQLITE_OK) {
		st = errbuf_set(e, ST_FAIL, "database not writable: %s", err ? err : "?");
		sqlite3_free(err);
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
	return st;
}

static const char *const reports[] = {
	/* a refusal without a party is of unidentified clients, aggregated
	 * (noise.c): its count says how many */
	[REPORT_EXCHANGES] = "SELECT coalesce(party, iif(kind = 'refusal', 'unidentified', NULL),"
		" json_extract(detail, '$.source'), json_extract(detail, '$.adapter'), 'local'),"
		" kind, date(at), sum(iif(kind = 'refusal' AND party IS NULL,"
		" coalesce(json_extract(detail, '$.count'), 1), 1)) FROM exlog"
		" WHERE kind IN ('ingest', 'upload', 'pull', 'delivery', 'reject', 'refusal', 'feedback')"
		" AND at >= date('now', '-13 days') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
	[REPORT_SIGNALS] = "SELECT s.rule, count(DISTINCT s.id),"
		" sum(f.outcome = 'bevestigd'), sum(f.outcome = 'onterecht'),"
		" sum(f.outcome = 'in_behandeling') FROM signal s LEFT JOIN feedback f"
		" ON f.signal_id = s.id GROUP BY 1 ORDER BY 1",
	[REPORT_BACKLOG] = "SELECT oin, sum(state = 'pending'),"
		" CAST(strftime('%s', 'now') AS INTEGER)"
		" - min(CASE WHEN state = 'pending' THEN created END),"
		" sum(state = 'failed'), sum(state = 'delivered') FROM delivery GROUP BY 1 ORDER BY 1",
	[REPORT_FAILURES] = "SELECT seq, at, kind, coalesce(party, '-'), coalesce(subject, '-'),"
		" detail FROM exlog WHERE kind IN ('refusal', 'reject')"
		" OR json_extract(detail, '$.outcome') IN ('failed', 'exhausted', 'retry')"
		" ORDER BY seq DESC LIMIT 20",
	[REPORT_QUEUE] = "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0),"
		" strftime('%Y-%m-%dT%H:%M:%SZ', min(iif(state = 'pending', next_at, NULL)), 'unixepoch'),"
		" min(iif(state = 'pending', next_at, NULL)) - CAST(strftime('%s', 'now') AS INTEGER)"
		" FROM delivery",
};

enum status store_sqlite_report(struct store_sqlite *s, enum report r,
				int (*cb)(void *arg, int ncols, const char *const *cols),
				void *arg, struct errbuf *e)
{
	const char *cols[16];
	sqlite3_stmt *st;
	int rc, n;

	if (sqlite3_prepare_v2(s->db, reports[r], -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "read a report");
	n = sqlite3_column_count(st);
	if (n > 16)
		n = 16;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		if (cb(arg, n, cols) != 0) {
			sqlite3_finalize(st);
			return ST_FAIL;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read");
	return ST_OK;
}

