/*
 * store_pg_records.c - the records of the PostgreSQL store (store_pg.h):
 * persons, dwellings and findings, written in batches.
 *
 * A put is not sent at once: it joins the transaction's batch (records of
 * one kind, each column a binary array), which one statement writes,
 * unnest()ing the arrays: the address upsert, the record upsert and, for
 * findings, the persons, in one round trip for the batch instead of one a
 * record.  A batch of SEND_ROWS or more goes at the next hint (every 256
 * records of ingest.c), in libpq's pipeline mode with the processing
 * records' subjects waiting (store_pg_ldv_subjects_add()), and its answer
 * is read only before the next statement: the server writes one batch
 * while the client checks and puts the next.  That statement counts the
 * records it changed; a put's *changed is therefore always false here,
 * and the changes are counted by store_pg_flush() (store.h, store_flush()).
 *
 * The batch is written before anything else is sent on the connection
 * (pg_run() calls pg_records_flush()), at the latest by the COMMIT, so
 * every other statement sees the puts made before it, and a record put
 * twice in one batch starts a new batch first.  A failing batch fails
 * the put (or the statement, or the commit) that sent it, and the
 * caller rolls the whole transaction back.
 *
 * The territory check asks store_pg_held_address() once a record: the
 * keys a batch of ingest.c will ask about are fetched in one query
 * beforehand (store_pg_hint_addresses()) and kept, with the gemeente each
 * put gives its address, until the transaction ends.  The findings of the
 * input being read (store_pg_finding_repeat()) are kept in memory too.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "crypto.h"
#include "store_pg.h"
#include "store_pg_int.h"

#define BATCH_ROWS 2048
/* A batch this big goes when the next one's keys are asked (hint). */
#define SEND_ROWS 1000
#define NCOLS 15
/* The columns of the processing records' subjects waiting (span, first, pseudonyms). */
#define LDV_COL 15
#define NLDV 3

/* --- a hash table of byte-string keys, each with a value of its own size -- */

struct entry {
	uint64_t hash;
	size_t klen;
	unsigned char *blob;	/* the key, then the value; NULL: a free slot */
};

struct map {
	struct entry *e;
	size_t cap, n;		/* cap: a power of two, or 0 */
};

static uint64_t map_hash(const void *k, size_t len)
{
	const unsigned char *p = k;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* The slot of key k: its own, or the free one where it would go. */
static struct entry *map_slot(const struct map *m, const void *k, size_t klen, uint64_t h)
{
	size_t i = h & (m->cap - 1);

	while (m->e[i].blob != NULL &&
	       (m->e[i].hash != h || m->e[i].klen != klen || memcmp(m->e[i].blob, k, klen) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->e[i];
}

/* k's value, or NULL. */
static void *map_get(const struct map *m, const void *k, size_t klen)
{
	struct entry *s;

	if (m->n == 0)
		return NULL;
	s = map_slot(m, k, klen, map_hash(k, klen));
	return s->blob != NULL ? s->blob + klen : NULL;
}

/* Doubles m's table; false when out of memory. */
static bool map_grow(struct map *m)
{
	struct map bigger = { .cap = m->cap ? 2 * m->cap : 1024 };

	bigger.e = calloc(bigger.cap, sizeof(*bigger.e));
	if (bigger.e == NULL)
		return false;
	for (size_t i = 0; i < m->cap; i++)
		if (m->e[i].blob != NULL)
			*map_slot(&bigger, m->e[i].blob, m->e[i].klen, m->e[i].hash) = m->e[i];
	bigger.n = m->n;
	free(m->e);
	*m = bigger;
	return true;
}

/* k's value of vlen bytes (zeroed when k is new); NULL when out of memory. */
static void *map_put(struct map *m, const void *k, size_t klen, size_t vlen)
{
	uint64_t h = map_hash(k, klen);
	struct entry *s;

	if (2 * (m->n + 1) > m->cap && !map_grow(m))
		return NULL;
	s = map_slot(m, k, klen, h);
	if (s->blob != NULL)
		return s->blob + klen;
	s->blob = calloc(1, klen + vlen);
	if (s->blob == NULL)
		return NULL;
	memcpy(s->blob, k, klen);
	s->hash = h;
	s->klen = klen;
	m->n++;
	return s->blob + klen;
}

static void map_clear(struct map *m)
{
	for (size_t i = 0; i < m->cap && m->n > 0; i++)
		if (m->e[i].blob != NULL) {
			free(m->e[i].blob);
			m->e[i].blob = NULL;
			m->n--;
		}
}

static void map_free(struct map *m)
{
	map_clear(m);
	free(m->e);
	m->e = NULL;
	m->cap = 0;
}

/* --- arrays in PostgreSQL's binary format -------------------------------- */

/* The element types (pg_type OIDs) of the arrays sent. */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define HEAD 20		/* ndim, has-nulls, element type, length, lower bound */

/*
 * One column of a batch: an array in the binary format of array_recv(),
 * sent as a binary parameter (no quoting, escaping or parsing of text).
 */
struct col {
	unsigned char *buf;
	size_t len, cap;	/* len: from buf, HEAD bytes kept for the header */
	uint32_t n, oid;
	bool nulls;
};

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Makes room for an element of n bytes of type oid; false when out of memory. */
static bool col_room(struct col *c, size_t n, uint32_t oid)
{
	unsigned char *b;
	size_t cap = c->cap ? c->cap : 4096;

	if (c->len < HEAD)
		c->len = HEAD;
	c->oid = oid;
	if (c->len + n + 4 <= c->cap)
		return true;
	while (c->len + n + 4 > cap)
		cap *= 2;
	b = realloc(c->buf, cap);
	if (b == NULL)
		return false;
	c->buf = b;
	c->cap = cap;
	return true;
}

/* An element of n bytes at v of type oid; v NULL: SQL NULL. */
static bool col_put(struct col *c, const void *v, size_t n, uint32_t oid)
{
	if (!col_room(c, v != NULL ? n : 0, oid))
		return false;
	put32(c->buf + c->len, v != NULL ? (uint32_t)n : 0xffffffffu);
	c->len += 4;
	if (v != NULL) {
		memcpy(c->buf + c->len, v, n);
		c->len += n;
	} else {
		c->nulls = true;
	}
	c->n++;
	return true;
}

/* A text element; NULL is SQL NULL. */
static bool col_text(struct col *c, const char *v)
{
	return col_put(c, v, v != NULL ? strlen(v) : 0, OID_TEXT);
}

/* Text; NULL or "" is SQL NULL. */
static bool col_text_or_null(struct col *c, const char *v)
{
	return col_text(c, v != NULL && *v != '\0' ? v : NULL);
}

/* n bytes, a bytea element. */
static bool col_bytes(struct col *c, const uint8_t *v, size_t n)
{
	return col_put(c, v, n, OID_BYTEA);
}

/* A bigint element; negative is SQL NULL (unknown), with or_null. */
static bool col_long(struct col *c, long v, bool or_null)
{
	unsigned char b[8];
	uint64_t u = (uint64_t)(int64_t)v;

	for (int i = 7; i >= 0; i--, u >>= 8)
		b[i] = (unsigned char)u;
	return col_put(c, or_null && v < 0 ? NULL : b, sizeof(b), OID_INT8);
}

/* Adds the column, its header written, to p as a binary parameter; false when out of memory. */
static bool col_end(struct col *c, struct params *p, uint32_t oid)
{
	if (c->len < HEAD && !col_room(c, 0, oid))
		return false;
	put32(c->buf + 8, c->oid);
	if (c->n == 0) {	/* no dimensions: the empty array */
		put32(c->buf + 8, 0);
		put32(c->buf + 12, 0);
		put32(c->buf + 16, c->oid);
		p_bytes(p, c->buf + 8, 12);
		return true;
	}
	put32(c->buf, 1);
	put32(c->buf + 4, c->nulls);
	put32(c->buf + 12, c->n);
	put32(c->buf + 16, 1);
	p_bytes(p, c->buf, c->len);
	return true;
}

/* Empties the column for the next batch. */
static void col_reset(struct col *c)
{
	c->len = 0;
	c->n = 0;
	c->nulls = false;
}

/* --- the batch -------------------------------------------------------------- */

enum kind { K_NONE, K_PERSON, K_DWELLING, K_FINDING };

/* A gemeentecode an address key is held under, or none. */
struct held {
	bool found;
	char gemeente[5];
};

/* A finding of the input being read: where it came first, what it said. */
struct seen {
	uint8_t digest[32];
	char place[];		/* NUL-terminated */
};

struct pg_records {
	enum kind kind;		/* of the batch; K_NONE: empty */
	size_t n;		/* records in it */
	int64_t ingest_id;
	struct col col[NCOLS + NLDV];
	size_t nldv;		/* rows of subjects waiting (col[LDV_COL...]) */
	struct map keys;	/* the identities in the batch */
	/* Sent, results not read yet: the batch (its kind, or K_NONE), subjects. */
	enum kind sent_kind;
	bool sent_ldv, sent;
	long changed;		/* by batches written since store_pg_flush() */
	struct map held;	/* address key -> struct held, this transaction */
	struct map seen;	/* finding id -> struct seen, of ingest seen_id */
	int64_t seen_id;
};

/* s's records state, made on first use; NULL when out of memory. */
static struct pg_records *records(struct store_pg *s)
{
	if (s->rec == NULL)
		s->rec = calloc(1, sizeof(*s->rec));
	return s->rec;
}

static void batch_reset(struct pg_records *r)
{
	r->kind = K_NONE;
	r->n = 0;
	r->nldv = 0;
	for (size_t i = 0; i < NCOLS + NLDV; i++)
		col_reset(&r->col[i]);
	map_clear(&r->keys);
}

bool pg_records_pending(const struct store_pg *s)
{
	return s->rec != NULL && (s->rec->n > 0 || s->rec->nldv > 0 || s->rec->sent);
}

/* Reads and drops what was sent (a rollback follows); leaves pipeline mode. */
static void sent_drop(struct store_pg *s)
{
	int nulls = 0;

	s->rec->sent = false;
	while (nulls < 2 && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF) {
		PGresult *res = PQgetResult(s->conn);

		if (res == NULL) {	/* between results, or none will come */
			if (PQexitPipelineMode(s->conn) != 1)
				nulls++;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			PQexitPipelineMode(s->conn);
		PQclear(res);
	}
}

void pg_records_forget(struct store_pg *s)
{
	if (s->rec == NULL)
		return;
	sent_drop(s);
	batch_reset(s->rec);
	s->rec->changed = 0;
	map_clear(&s->rec->held);
	map_clear(&s->rec->seen);
	s->rec->seen_id = 0;
}

void pg_records_free(struct store_pg *s)
{
	if (s->rec == NULL)
		return;
	for (size_t i = 0; i < NCOLS + NLDV; i++)
		free(s->rec->col[i].buf);
	map_free(&s->rec->keys);
	map_free(&s->rec->held);
	map_free(&s->rec->seen);
	free(s->rec);
	s->rec = NULL;
}

/*
 * The batch's rows as r: the address columns ($1-$7: key, gemeentecode,
 * nummeraanduiding ("" for none), postcode, huisnummer, huisletter,
 * toevoeging) and those of the kind, with their ordinal; a, the address
 * upsert (the first nummeraanduiding given wins, as one put after another).
 */
#define BATCH_ROWS_CTE(cols, types) "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[]," \
	" $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], " types ")" \
	" WITH ORDINALITY AS u(addr, gem, nad, pc, nr, hl, tv, " cols ", ord))," \
	" a AS (INSERT INTO address(addr, gemeentecode, nummeraanduiding, postcode, huisnummer," \
	" huisletter, toevoeging) SELECT DISTINCT ON (addr) addr, gem, nullif(nad, ''), pc, nr," \
	" hl, tv FROM r ORDER BY addr, nullif(nad, '') IS NULL, ord ON CONFLICT (addr) DO UPDATE" \
	" SET nummeraanduiding = excluded.nummeraanduiding WHERE address.nummeraanduiding IS NULL" \
	" AND excluded.nummeraanduiding IS NOT NULL), "

/*
 * The statement of each kind: its last parameter is the ingest id; it
 * returns how many records it changed.  A registration's digest (of its
 * address key, gemeente and nummeraanduiding: SHA-256 computed by
 * store_pg_put_person(), as the SQL sha256() of earlier versions did, so
 * their rows compare alike) tells a re-ingest, whose BSN ciphertext
 * differs (a fresh nonce), from a change.
 */
static const char *const batch_sql[] = {
	[K_PERSON] = BATCH_ROWS_CTE("ps, bd, sealed, dg",
				    "$8::bytea[], $9::text[], $10::bytea[], $11::bytea[]")
	"c AS (INSERT INTO coverage(gemeentecode) SELECT DISTINCT gem FROM r ON CONFLICT DO NOTHING),"
	" p AS (INSERT INTO person(pseudonym, begindatum, addr, gemeentecode, bsn_sealed, digest,"
	" ingest_id) SELECT ps, bd, addr, gem, sealed, dg, $12 FROM r"
	" ON CONFLICT (pseudonym, begindatum) DO UPDATE SET addr = excluded.addr,"
	" gemeentecode = excluded.gemeentecode, bsn_sealed = excluded.bsn_sealed,"
	" digest = excluded.digest, ingest_id = excluded.ingest_id"
	" WHERE person.digest <> excluded.digest RETURNING 1) SELECT count(*) FROM p",
	[K_DWELLING] = BATCH_ROWS_CTE("opp, gd, mb, verg, vt",
				      "$8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[]")
	"d AS (INSERT INTO dwelling(addr, gemeentecode, oppervlakte, gebruiksdoel, max_bewoners,"
	" vergunning, vergunning_tot, ingest_id) SELECT addr, gem, opp, gd, mb, verg, vt, $13 FROM r"
	" ON CONFLICT (addr) DO UPDATE SET gemeentecode = excluded.gemeentecode,"
	" oppervlakte = excluded.oppervlakte, gebruiksdoel = excluded.gebruiksdoel,"
	" max_bewoners = excluded.max_bewoners, vergunning = excluded.vergunning,"
	" vergunning_tot = excluded.vergunning_tot, ingest_id = excluded.ingest_id"
	" WHERE (dwelling.gemeentecode, dwelling.oppervlakte, dwelling.gebruiksdoel,"
	" dwelling.max_bewoners, dwelling.vergunning, dwelling.vergunning_tot)"
	" IS DISTINCT FROM (excluded.gemeentecode, excluded.oppervlakte,"
	" excluded.gebruiksdoel, excluded.max_bewoners, excluded.vergunning,"
	" excluded.vergunning_tot) RETURNING 1) SELECT count(*) FROM d",
	/* the persons come as three more arrays ($13-$15: finding id, pseudonym,
	 * BSN ciphertext): those no longer named go, new ones come */
	[K_FINDING] = BATCH_ROWS_CTE("id, datum, soort, kvk, ag",
				     "$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[]")
	"f AS (INSERT INTO finding(id, datum, soort, kvk, addr, gemeentecode, aangetroffen,"
	" ingest_id) SELECT id, datum, soort, kvk, addr, gem, ag, $16 FROM r"
	" ON CONFLICT (id) DO UPDATE SET datum = excluded.datum, soort = excluded.soort,"
	" kvk = excluded.kvk, addr = excluded.addr, gemeentecode = excluded.gemeentecode,"
	" aangetroffen = excluded.aangetroffen, ingest_id = excluded.ingest_id"
	" WHERE (finding.datum, finding.soort, finding.kvk, finding.addr,"
	" finding.gemeentecode, finding.aangetroffen) IS DISTINCT FROM (excluded.datum,"
	" excluded.soort, excluded.kvk, excluded.addr, excluded.gemeentecode,"
	" excluded.aangetroffen) RETURNING id),"
	" fp AS (SELECT DISTINCT ON (fid, h) fid, h AS pseudonym,"
	" b AS bsn FROM unnest($13::text[], $14::bytea[], $15::bytea[])"
	" WITH ORDINALITY AS u(fid, h, b, ord) ORDER BY fid, h, ord),"
	" del AS (DELETE FROM finding_person x USING r WHERE x.finding_id = r.id AND NOT EXISTS"
	" (SELECT 1 FROM fp WHERE fp.fid = x.finding_id AND fp.pseudonym = x.pseudonym)"
	" RETURNING x.finding_id),"
	" ins AS (INSERT INTO finding_person(finding_id, pseudonym, bsn_sealed)"
	" SELECT fid, pseudonym, bsn FROM fp ON CONFLICT DO NOTHING RETURNING finding_id)"
	" SELECT count(*) FROM (SELECT id FROM f UNION SELECT finding_id FROM del"
	" UNION SELECT finding_id FROM ins) x",
};

/* The number of array columns of each kind's statement. */
static const int batch_cols[] = { [K_PERSON] = 11, [K_DWELLING] = 12, [K_FINDING] = 15 };

/* The element type of each column, by kind (the address's first), and of the subjects'. */
#define ADDRESS_OIDS OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT, OID_TEXT
static const uint32_t col_oid[][NCOLS + NLDV] = {
	[K_PERSON] = { ADDRESS_OIDS, OID_BYTEA, OID_TEXT, OID_BYTEA, OID_BYTEA },
	[K_DWELLING] = { ADDRESS_OIDS, OID_INT8, OID_TEXT, OID_INT8, OID_TEXT, OID_TEXT },
	[K_FINDING] = { ADDRESS_OIDS, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT,
			OID_BYTEA, OID_BYTEA },
	[K_NONE] = { [LDV_COL] = OID_INT8, OID_INT8, OID_BYTEA },
};

static const char *const batch_what[] = {
	[K_PERSON] = "store persons", [K_DWELLING] = "store dwellings",
	[K_FINDING] = "store findings",
};

/*
 * Runs sql with p as an unnamed statement, planned for its parameters and
 * the tables as they are now: a prepared one keeps the plan made when the
 * tables were small (a sequential scan), which a batch of keys then pays
 * for at every batch of an ingest of 10^6.  Returns the result when its
 * status is want (the caller PQclear()s it); else NULL, and e says why.
 */
static PGresult *run_planned(struct store_pg *s, const char *sql, const struct params *p,
			     const char *what, struct errbuf *e)
{
	PGresult *res = PQexecParams(s->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0);

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_fail(s, res, what, e);
		PQclear(res);
		return NULL;
	}
	return res;
}

static const char ldv_sql[] = "INSERT INTO ldv_subject(span_seq, first, pseudonyms)"
	" SELECT s, f, h FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])"
	" AS u(s, f, h)";

/* Adds columns from to from + n - 1 (of kind k) to p; false when out of memory. */
static bool p_cols(struct params *p, struct pg_records *r, enum kind k, int from, int n)
{
	for (int i = from; i < from + n; i++)
		if (!col_end(&r->col[i], p, col_oid[k][i]))
			return false;
	return true;
}

/* Reads one result of what was sent, of status want; NULL (e) if it failed. */
static PGresult *sent_result(struct store_pg *s, ExecStatusType want, const char *what,
			     struct errbuf *e)
{
	PGresult *res = PQgetResult(s->conn), *end;

	if (res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC &&
	    (end = PQgetResult(s->conn)) != NULL)	/* each result ends with a NULL */
		PQclear(end);
	if (res == NULL || PQresultStatus(res) != want) {
		pg_fail(s, res, what, e);
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * Waits for what was sent: the batch's count goes to s->rec->changed.
 * Leaves pipeline mode.
 */
static enum status sent_wait(struct store_pg *s, struct errbuf *e)
{
	struct pg_records *r = s->rec;
	enum status st = ST_OK;
	PGresult *res;
	long n = 0;

	if (!r->sent)
		return ST_OK;
	if (r->sent_kind != K_NONE) {
		res = sent_result(s, PGRES_TUPLES_OK, batch_what[r->sent_kind], e);
		if (res == NULL)
			st = ST_FAIL;
		else
			n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	if (st == ST_OK && r->sent_ldv) {
		res = sent_result(s, PGRES_COMMAND_OK, "processing record subjects", e);
		st = res != NULL ? ST_OK : ST_FAIL;
		PQclear(res);
	}
	if (st != ST_OK) {
		sent_drop(s);	/* the rest, aborted */
		return ST_FAIL;
	}
	res = sent_result(s, PGRES_PIPELINE_SYNC, "end the pipeline", e);
	r->sent = false;
	if (res == NULL || PQexitPipelineMode(s->conn) != 1) {
		PQclear(res);
		return pg_fail(s, NULL, "end the pipeline", e);
	}
	PQclear(res);
	r->changed += n;
	return n > 0 ? pg_mark_change(s, e) : ST_OK;
}

/*
 * Sends the batch and the subjects waiting, in one pipeline (after what
 * was sent before is done), without waiting for them: the server writes
 * while the caller goes on.  Parameters are copied by libpq, so the
 * columns are emptied for the next batch.
 */
static enum status batch_send(struct store_pg *s, struct errbuf *e)
{
	struct pg_records *r = s->rec;
	struct params p = { 0 }, l = { 0 };
	bool ok;

	if (sent_wait(s, e) != ST_OK)
		return ST_FAIL;
	if (r->n == 0 && r->nldv == 0)
		return ST_OK;
	ok = (r->n == 0 || p_cols(&p, r, r->kind, 0, batch_cols[r->kind])) &&
	     (r->nldv == 0 || p_cols(&l, r, K_NONE, LDV_COL, NLDV));
	if (!ok)
		return errbuf_set(e, ST_FAIL, "out of memory");
	p_int(&p, r->ingest_id);
	if (PQenterPipelineMode(s->conn) != 1)
		return pg_fail(s, NULL, "start a pipeline", e);
	ok = (r->n == 0 || PQsendQueryParams(s->conn, batch_sql[r->kind], p.n, NULL, p.v, p.len,
					      p.fmt, 0) == 1) &&
	     (r->nldv == 0 || PQsendQueryParams(s->conn, ldv_sql, l.n, NULL, l.v, l.len, l.fmt, 0) == 1) &&
	     PQpipelineSync(s->conn) == 1;
	r->sent = true;
	r->sent_kind = r->n > 0 ? r->kind : K_NONE;
	r->sent_ldv = r->nldv > 0;
	batch_reset(r);
	if (!ok) {
		pg_fail(s, NULL, "send a batch", e);
		sent_drop(s);
		return ST_FAIL;
	}
	return ST_OK;
}

/* Writes the batch and subjects waiting, if any, and waits for them. */
enum status pg_records_flush(struct store_pg *s, struct errbuf *e)
{
	if (s->rec == NULL)
		return ST_OK;
	if (batch_send(s, e) != ST_OK)
		return ST_FAIL;
	return sent_wait(s, e);
}

/* The subjects of a processing record wait for the next batch to go. */
enum status pg_records_subjects(struct store_pg *s, int64_t seq, long first,
				const uint8_t (*pseudonyms)[PSEUDONYM_LEN], size_t n,
				struct errbuf *e)
{
	struct pg_records *r = records(s);

	if (n == 0)
		return ST_OK;
	if (r == NULL || !col_long(&r->col[LDV_COL], (long)seq, false) ||
	    !col_long(&r->col[LDV_COL + 1], first, false) ||
	    !col_bytes(&r->col[LDV_COL + 2], pseudonyms[0], n * PSEUDONYM_LEN))
		return errbuf_set(e, ST_FAIL, "out of memory");
	r->nldv++;
	return ST_OK;
}

enum status store_pg_flush(struct store_pg *s, long *changed, struct errbuf *e)
{
	*changed = 0;
	if (s->rec == NULL)
		return ST_OK;
	if (pg_records_flush(s, e) != ST_OK)
		return ST_FAIL;
	*changed = s->rec->changed;
	s->rec->changed = 0;
	return ST_OK;
}

/*
 * Makes room in the batch for a record of kind k with identity (id, len):
 * writes the batch first when it is of another kind or input, full, or
 * holds that identity already.  Returns the records state, or NULL (e).
 */
static struct pg_records *batch_room(struct store_pg *s, enum kind k, int64_t ingest_id,
				     const void *id, size_t len, struct errbuf *e)
{
	struct pg_records *r = records(s);

	if (r == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	if (r->n > 0 && (r->kind != k || r->ingest_id != ingest_id || r->n == BATCH_ROWS ||
			 map_get(&r->keys, id, len) != NULL) && batch_send(s, e) != ST_OK)
		return NULL;
	if (map_put(&r->keys, id, len, 0) == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	r->kind = k;
	r->ingest_id = ingest_id;
	return r;
}

/* Notes that address key is held under gemeente g now (its record is put). */
static bool held_note(struct pg_records *r, const char *key, const char *g)
{
	struct held *h = map_put(&r->held, key, strlen(key), sizeof(*h));

	if (h == NULL)
		return false;
	h->found = true;
	snprintf(h->gemeente, sizeof(h->gemeente), "%s", g);
	return true;
}

/* The address columns of a record into r's batch, and its held gemeente. */
static bool batch_address(struct pg_records *r, const struct address *a)
{
	char key[ADDRESS_KEY_MAX];

	address_key(a, key);
	return col_text(&r->col[0], key) && col_text(&r->col[1], a->gemeentecode) &&
	       col_text(&r->col[2], a->nummeraanduiding_id) && col_text(&r->col[3], a->postcode) &&
	       col_long(&r->col[4], a->huisnummer, false) && col_text(&r->col[5], a->huisletter) &&
	       col_text(&r->col[6], a->toevoeging) && held_note(r, key, a->gemeentecode);
}

/* A registration under (pseudonym, begindatum). */
enum status store_pg_put_person(struct store_pg *s, int64_t ingest_id,
				const struct person_row *row, bool *changed, struct errbuf *e)
{
	uint8_t id[PSEUDONYM_LEN + sizeof(row->begindatum)] = { 0 }, digest[32];
	char key[ADDRESS_KEY_MAX], content[ADDRESS_KEY_MAX + 32];
	struct pg_records *r;
	int len;

	*changed = false;
	/* the digest of its content: address key, gemeente, nummeraanduiding */
	address_key(&row->address, key);
	len = snprintf(content, sizeof(content), "%s|%s|%s", key, row->address.gemeentecode,
		       row->address.nummeraanduiding_id);
	crypto_sha256(content, (size_t)len, digest);
	memcpy(id, row->pseudonym, PSEUDONYM_LEN);
	memcpy(id + PSEUDONYM_LEN, row->begindatum, strnlen(row->begindatum, sizeof(row->begindatum)));
	r = batch_room(s, K_PERSON, ingest_id, id, sizeof(id), e);
	if (r == NULL)
		return ST_FAIL;
	if (!batch_address(r, &row->address) || !col_bytes(&r->col[7], row->pseudonym, PSEUDONYM_LEN) ||
	    !col_text(&r->col[8], row->begindatum) ||
	    !col_bytes(&r->col[9], row->bsn_sealed, SEALED_BSN_LEN) ||
	    !col_bytes(&r->col[10], digest, sizeof(digest)))
		return errbuf_set(e, ST_FAIL, "out of memory");
	r->n++;
	return ST_OK;
}

enum status store_pg_put_dwelling(struct store_pg *s, int64_t ingest_id,
				  const struct dwelling_row *row, bool *changed, struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX];
	struct pg_records *r;

	*changed = false;
	address_key(&row->address, key);
	r = batch_room(s, K_DWELLING, ingest_id, key, strlen(key), e);
	if (r == NULL)
		return ST_FAIL;
	if (!batch_address(r, &row->address) || !col_long(&r->col[7], row->oppervlakte, true) ||
	    !col_text_or_null(&r->col[8], row->gebruiksdoel) ||
	    !col_long(&r->col[9], row->max_bewoners, true) ||
	    !col_text_or_null(&r->col[10], row->vergunning) ||
	    !col_text_or_null(&r->col[11], row->vergunning_tot))
		return errbuf_set(e, ST_FAIL, "out of memory");
	r->n++;
	return ST_OK;
}

enum status store_pg_put_finding(struct store_pg *s, int64_t ingest_id,
				 const struct finding_row *row, bool *changed, struct errbuf *e)
{
	struct pg_records *r;
	bool ok;

	*changed = false;
	r = batch_room(s, K_FINDING, ingest_id, row->id, strlen(row->id), e);
	if (r == NULL)
		return ST_FAIL;
	ok = batch_address(r, &row->address) && col_text(&r->col[7], row->id) &&
	     col_text(&r->col[8], row->datum) && col_text(&r->col[9], row->soort) &&
	     col_text_or_null(&r->col[10], row->kvk) &&
	     col_long(&r->col[11], row->aangetroffen, false);
	for (size_t i = 0; ok && i < row->npersons; i++)
		ok = col_text(&r->col[12], row->id) &&
		     col_bytes(&r->col[13], row->persons[i].pseudonym, PSEUDONYM_LEN) &&
		     col_bytes(&r->col[14], row->persons[i].bsn_sealed, SEALED_BSN_LEN);
	if (!ok)
		return errbuf_set(e, ST_FAIL, "out of memory");
	r->n++;
	return ST_OK;
}

/* --- what a record is held under ------------------------------------------ */

/* A held query: its one column (a gemeentecode) into out, *found. */
static enum status held(struct store_pg *s, const char *sql, const struct params *p,
			char out[5], bool *found, struct errbuf *e)
{
	PGresult *res = pg_run(s, sql, p, PGRES_TUPLES_OK, "read territory", e);

	out[0] = '\0';
	*found = false;
	if (res == NULL)
		return ST_FAIL;
	*found = PQntuples(res) > 0;
	if (*found)
		pg_value_copy(res, 0, 0, out, 5);
	PQclear(res);
	return ST_OK;
}

enum status store_pg_held_address(struct store_pg *s, const char *key, char out[5],
				  bool *found, struct errbuf *e)
{
	const struct held *h = s->rec != NULL ? map_get(&s->rec->held, key, strlen(key)) : NULL;
	struct params p = { 0 };
	PGresult *res;

	out[0] = '\0';
	*found = false;
	if (h != NULL) {
		*found = h->found;
		memcpy(out, h->gemeente, 5);
		return ST_OK;
	}
	p_text(&p, key);
	res = pg_run(s, "SELECT a.addr, coalesce(d.gemeentecode, a.gemeentecode) FROM address a"
		     " LEFT JOIN dwelling d ON d.addr = a.addr WHERE a.addr = $1", &p, PGRES_TUPLES_OK,
		     "read territory", e);
	if (res == NULL)
		return ST_FAIL;
	*found = PQntuples(res) > 0;
	if (*found)
		pg_value_copy(res, 0, 1, out, 5);
	PQclear(res);
	if (s->rec != NULL) {	/* kept, as the hint's */
		struct held *k = map_put(&s->rec->held, key, strlen(key), sizeof(*k));

		if (k == NULL)
			return errbuf_set(e, ST_FAIL, "out of memory");
		k->found = *found;
		memcpy(k->gemeente, out, 5);
	}
	return ST_OK;
}

/* Those of keys not known yet are read in one query and kept. */
enum status store_pg_hint_addresses(struct store_pg *s, const char (*keys)[ADDRESS_KEY_MAX],
				    size_t n, struct errbuf *e)
{
	struct pg_records *r = records(s);
	struct col c = { 0 };
	struct params p = { 0 };
	enum status st = ST_FAIL;
	PGresult *res = NULL;
	bool ok = true;

	if (r == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	/* each key not known yet, once: held by none until the query says */
	for (size_t i = 0; ok && i < n; i++)
		if (map_get(&r->held, keys[i], strlen(keys[i])) == NULL)
			ok = map_put(&r->held, keys[i], strlen(keys[i]), sizeof(struct held)) != NULL &&
			     col_text(&c, keys[i]);
	if (!ok || (c.n > 0 && !col_end(&c, &p, OID_TEXT))) {
		errbuf_set(e, ST_FAIL, "out of memory");
		goto out_free;
	}
	if (sent_wait(s, e) != ST_OK)	/* the batch before, done */
		goto out_free;
	if (c.n > 0) {
		/* a lookup a key (LIMIT: not turned into a join that scans address) */
		res = run_planned(s, "SELECT k.addr, h.g FROM unnest($1::text[]) AS k(addr),"
				  " LATERAL (SELECT coalesce(d.gemeentecode, a.gemeentecode) AS g"
				  " FROM address a LEFT JOIN dwelling d ON d.addr = a.addr"
				  " WHERE a.addr = k.addr LIMIT 1) h", &p, "read territory", e);
		if (res == NULL)
			goto out_free;
		for (int i = 0; i < PQntuples(res); i++)
			if (!held_note(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)))
				goto out_nomem;
	}
	/* the keys of the batch waiting are known: it goes now, and is written
	 * while the caller checks and puts the next one */
	st = r->n >= SEND_ROWS ? batch_send(s, e) : ST_OK;
	goto out_free;
out_nomem:
	errbuf_set(e, ST_FAIL, "out of memory");
out_free:
	PQclear(res);
	free(c.buf);
	return st;
}

enum status store_pg_held_person(struct store_pg *s, const uint8_t *pseudonym,
				 const char *begindatum, char out[5], bool *found,
				 struct errbuf *e)
{
	struct params p = { 0 };

	p_bytes(&p, pseudonym, PSEUDONYM_LEN);
	p_text(&p, begindatum);
	return held(s, "SELECT gemeentecode FROM person WHERE pseudonym = $1 AND begindatum = $2",
		    &p, out, found, e);
}

enum status store_pg_held_finding(struct store_pg *s, const char *id, char out[5],
				  bool *found, struct errbuf *e)
{
	struct params p = { 0 };

	p_text(&p, id);
	return held(s, "SELECT gemeentecode FROM finding WHERE id = $1", &p, out, found, e);
}

/* At once (the batch before it is written first, by pg_run()). */
enum status store_pg_withdraw_person(struct store_pg *s, const uint8_t *pseudonym,
				     const char *begindatum, bool *changed, struct errbuf *e)
{
	struct params p = { 0 };
	int rows = 0;

	*changed = false;
	p_bytes(&p, pseudonym, PSEUDONYM_LEN);
	p_text(&p, begindatum);
	if (pg_run_rows(s, "DELETE FROM person WHERE pseudonym = $1 AND begindatum = $2 RETURNING 1",
			&p, &rows, "withdraw person", e) != ST_OK)
		return ST_FAIL;
	*changed = rows > 0;
	return *changed ? pg_mark_change(s, e) : ST_OK;
}

/* --- repeats within one input ------------------------------------------- */

/* qsort()'s order of pseudonyms. */
static int pseudonym_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PSEUDONYM_LEN);
}

/*
 * The digest of what a finding says as stored: its columns (a kvk of ""
 * as none) and the set of its persons.  false when out of memory.
 */
static bool finding_digest(const struct finding_row *r, uint8_t out[32])
{
	uint8_t (*ps)[PSEUDONYM_LEN] = malloc((r->npersons + 1) * PSEUDONYM_LEN);
	char key[ADDRESS_KEY_MAX], *text;
	size_t len, n = 0;
	int head;

	if (ps == NULL)
		return false;
	for (size_t i = 0; i < r->npersons; i++)
		memcpy(ps[i], r->persons[i].pseudonym, PSEUDONYM_LEN);
	qsort(ps, r->npersons, PSEUDONYM_LEN, pseudonym_cmp);
	address_key(&r->address, key);
	head = snprintf(NULL, 0, "%s|%s|%s|%s|%s|%ld|", r->datum, r->soort,
			r->kvk != NULL ? r->kvk : "", key, r->address.gemeentecode, r->aangetroffen);
	len = (size_t)head + r->npersons * PSEUDONYM_LEN + 1;
	text = malloc(len);
	if (text == NULL) {
		free(ps);
		return false;
	}
	snprintf(text, len, "%s|%s|%s|%s|%s|%ld|", r->datum, r->soort, r->kvk != NULL ? r->kvk : "",
		 key, r->address.gemeentecode, r->aangetroffen);
	for (size_t i = 0; i < r->npersons; i++)	/* each once */
		if (i == 0 || memcmp(ps[i], ps[i - 1], PSEUDONYM_LEN) != 0)
			memcpy(text + head + PSEUDONYM_LEN * n++, ps[i], PSEUDONYM_LEN);
	crypto_sha256(text, (size_t)head + n * PSEUDONYM_LEN, out);
	free(text);
	free(ps);
	return true;
}

/*
 * The findings of the input being read are kept in memory, each with the
 * digest of its content (the first stands: a differing repeat is
 * rejected, so the stored finding is the first one).
 */
enum status store_pg_finding_repeat(struct store_pg *s, int64_t ingest_id,
				    const struct finding_row *row, const char *place, char *first,
				    size_t n, bool *differs, struct errbuf *e)
{
	struct pg_records *r = records(s);
	uint8_t digest[32];
	struct seen *v;

	*differs = false;
	if (r == NULL || !finding_digest(row, digest))
		return errbuf_set(e, ST_FAIL, "out of memory");
	if (r->seen_id != ingest_id) {
		map_clear(&r->seen);
		r->seen_id = ingest_id;
	}
	v = map_get(&r->seen, row->id, strlen(row->id));
	if (v != NULL) {
		snprintf(first, n, "%s", v->place);
		*differs = memcmp(v->digest, digest, sizeof(digest)) != 0;
		return ST_OK;
	}
	v = map_put(&r->seen, row->id, strlen(row->id), sizeof(*v) + strlen(place) + 1);
	if (v == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	memcpy(v->digest, digest, sizeof(digest));
	memcpy(v->place, place, strlen(place) + 1);
	return ST_OK;
}
