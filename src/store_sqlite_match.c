/*
 * store_sqlite_match.c - matching on SQLite: the current registrations
 * held in memory for a match run, the address and mismatch cursors, the
 * evidence walk, the match's state, the marks of incremental matching,
 * catch-up and the open signals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

/* Frees what c holds and empties it; accepts NULL. */
void current_free(struct current *c)
{
	if (c == NULL)
		return;
	free(c->rows);
	free(c->by_person);
	free(c->by_addr);
	memset(c, 0, sizeof(*c));
}

/* Binds the match date (?1) and the window start (?2). */
static void bind_window(struct store_sqlite *s, sqlite3_stmt *st)
{
	sqlite3_bind_text(st, 1, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
}

/*
 * One piece of evidence from row st at column i: a registration (pseudonym
 * blob, begindatum) as "HEX/begindatum", or a finding by its id.
 */
static void evidence_fill(struct evidence *ev, const char *source, sqlite3_stmt *st, int i)
{
	snprintf(ev->source, sizeof(ev->source), "%s", source);
	if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
		char hex[2 * PSEUDONYM_LEN + 1];

		crypto_hex(sqlite3_column_blob(st, i), PSEUDONYM_LEN, hex);
		snprintf(ev->record, sizeof(ev->record), "%s/%s", hex,
			 (const char *)sqlite3_column_text(st, i + 1));
	} else {
		column_copy(st, i, ev->record, sizeof(ev->record));
	}
}

/* Starts walking query id: on its first row. */
static enum status walk_start(struct store_sqlite *s, struct ev_walk *w, enum stmt_id id,
			      struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, id, e);

	if (st == NULL)
		return ST_FAIL;
	w->id = id;
	w->key[0] = '\0';
	w->n = 0;
	if (id == Q_EV_WALK_FINDINGS || id == Q_EV_WALK_SCOPED)
		bind_window(s, st);
	w->rc = sqlite3_step(st);
	if (w->rc != SQLITE_ROW && w->rc != SQLITE_DONE)
		return db_error(s, e, "gather evidence");
	return ST_OK;
}

static void walk_end(struct store_sqlite *s, struct ev_walk *w)
{
	if (s->stmt[w->id] != NULL)
		sqlite3_reset(s->stmt[w->id]);
	w->rc = SQLITE_DONE;
	w->key[0] = '\0';
}

/* Adds the walk's current row to its run. */
static bool walk_keep(struct ev_walk *w, sqlite3_stmt *st)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct evidence *grown = realloc(w->run, cap * sizeof(*grown));

		if (grown == NULL)
			return false;
		w->run = grown;
		w->cap = cap;
	}
	evidence_fill(&w->run[w->n++], "inspectie", st, 1);
	return true;
}

/*
 * Appends the walk's rows for address key to *ev.  Keys must come in the
 * walk's order (SQLite's BINARY collation: strcmp); the rows of a key
 * already passed are gone, which would be a bug of the caller.
 */
static enum status walk_take(struct store_sqlite *s, struct ev_walk *w, const char *key,
			     struct evidence **ev, size_t *n, struct errbuf *e)
{
	sqlite3_stmt *st = s->stmt[w->id];
	struct evidence *grown;

	if (strcmp(key, w->key) != 0) {
		if (w->key[0] != '\0' && strcmp(key, w->key) < 0)
			return errbuf_set(e, ST_FAIL, "gather evidence: address %s asked after %s",
					  key, w->key);
		snprintf(w->key, sizeof(w->key), "%s", key);
		w->n = 0;
		for (; w->rc == SQLITE_ROW; w->rc = sqlite3_step(st)) {
			int cmp = strcmp((const char *)sqlite3_column_text(st, 0), key);

			if (cmp > 0)
				break;
			if (cmp == 0 && !walk_keep(w, st))
				return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		}
		if (w->rc != SQLITE_ROW && w->rc != SQLITE_DONE)
			return db_error(s, e, "gather evidence");
	}
	if (w->n == 0)
		return ST_OK;
	grown = realloc(*ev, (*n + w->n) * sizeof(**ev));
	if (grown == NULL)
		return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
	memcpy(grown + *n, w->run, w->n * sizeof(*grown));
	*ev = grown;
	*n += w->n;
	return ST_OK;
}

/* qsort_r() comparison of two indexes into rows. */
static int by_person(const void *a, const void *b, void *rows)
{
	const struct registration *x = (const struct registration *)rows + *(const uint32_t *)a;
	const struct registration *y = (const struct registration *)rows + *(const uint32_t *)b;
	int c = memcmp(x->pseudonym, y->pseudonym, PSEUDONYM_LEN);

	return c != 0 ? c : strcmp(x->begindatum, y->begindatum);
}

/* qsort_r() comparison in SQLite's order of the address key (BINARY:
 * strcmp), then by pseudonym: the order of the evidence. */
static int by_address(const void *a, const void *b, void *rows)
{
	const struct registration *x = (const struct registration *)rows + *(const uint32_t *)a;
	const struct registration *y = (const struct registration *)rows + *(const uint32_t *)b;
	int c = strcmp(x->addr, y->addr);

	return c != 0 ? c : memcmp(x->pseudonym, y->pseudonym, PSEUDONYM_LEN);
}

/* Sorts idx[0..n) by cmp: a few (the usual case here) by insertion, with
 * no call into qsort_r() for each of 10^5 small groups. */
static void sort_indexes(uint32_t *idx, size_t n,
			 int (*cmp)(const void *, const void *, void *), const void *rows)
{
	if (n > 32) {
		qsort_r(idx, n, sizeof(*idx), cmp, (void *)rows);
		return;
	}
	for (size_t k = 1; k < n; k++) {
		uint32_t v = idx[k];
		size_t m = k;

		for (; m > 0 && cmp(&idx[m - 1], &v, (void *)rows) > 0; m--)
			idx[m] = idx[m - 1];
		idx[m] = v;
	}
}

/*
 * The order of rows[0..n) by (pseudonym, begindatum), as indexes.  A
 * pseudonym is an HMAC, evenly spread: counted into 65,536 buckets by its
 * first two bytes, then each bucket (some fifteen rows at 10^6) sorted;
 * a third of the time of one qsort() of the rows.
 */
static uint32_t *order_by_person(const struct registration *rows, size_t n)
{
	size_t *start = calloc(65537, sizeof(*start));
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order));

	if (start == NULL || order == NULL) {
		free(start);
		free(order);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		start[(rows[i].pseudonym[0] << 8 | rows[i].pseudonym[1]) + 1]++;
	for (size_t b = 1; b <= 65536; b++)
		start[b] += start[b - 1];
	for (size_t i = 0; i < n; i++)
		order[start[rows[i].pseudonym[0] << 8 | rows[i].pseudonym[1]]++] = (uint32_t)i;
	/* start[b] is now the end of bucket b, the start of bucket b + 1 */
	for (size_t b = 0, from = 0; b < 65536; from = start[b++])
		sort_indexes(order + from, start[b] - from, by_person, rows);
	free(start);
	return order;
}

/* The first eight bytes of an address key as a number that orders as the
 * keys do (strcmp): big-endian, a shorter key padded with NULs. */
static uint64_t key_prefix(const char *k)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < 8 && k[i] != '\0'; i++)
		v = v << 8 | (unsigned char)k[i];
	return i == 0 ? 0 : v << (8 * (8 - i));
}

struct keyed {
	uint64_t key;
	uint32_t row;
};

/*
 * Puts idx[0..n) (indexes into rows) in by_address() order.  A qsort() of
 * the 10^6 current registrations by strcmp() took a second: the rows are
 * radix-sorted by the first eight bytes of their address key instead
 * (four passes of 16 bits), and only rows that share those bytes (an
 * address's persons, numbers 1 and 10-19 of a postcode) are compared
 * whole.  false when out of memory.
 */
static bool order_by_address(const struct registration *rows, uint32_t *idx, size_t n)
{
	struct keyed *a = malloc((n ? n : 1) * sizeof(*a)), *b = malloc((n ? n : 1) * sizeof(*b));
	size_t *count = malloc(65536 * sizeof(*count));
	bool ok = a != NULL && b != NULL && count != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		a[i].key = key_prefix(rows[idx[i]].addr);
		a[i].row = idx[i];
	}
	for (int shift = 0; ok && shift < 64; shift += 16) {	/* stable: LSD first */
		struct keyed *t;
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].key >> shift) & 0xffff]++;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			b[count[(a[i].key >> shift) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0, j; ok && i < n; i = j) {
		for (j = i; j < n && a[j].key == a[i].key; j++)
			idx[j] = a[j].row;
		sort_indexes(idx + i, j - i, by_address, rows);
	}
	free(count);
	free(b);
	free(a);
	return ok;
}

/* Reads the registrations not after the match date of query id
 * (Q_PERSON_SCAN: every one) into c->rows. */
static enum status read_registrations(struct store_sqlite *s, enum stmt_id id, struct current *c,
				      size_t *n, struct errbuf *e)
{
	sqlite3_stmt *q = stmt(s, id, e);
	size_t cap = 0;
	int rc;

	*n = 0;
	if (q == NULL)
		return ST_FAIL;
	sqlite3_bind_text(q, 1, s->as_of, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct registration *r;

		if (*n == cap) {
			struct registration *grown;

			cap = cap ? 2 * cap : 4096;
			grown = realloc(c->rows, cap * sizeof(*grown));
			if (grown == NULL) {
				sqlite3_reset(q);
				return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
			}
			c->rows = grown;
		}
		if (sqlite3_column_bytes(q, 0) != PSEUDONYM_LEN)
			continue;	/* cannot be: the ingest writes them */
		r = &c->rows[(*n)++];
		memcpy(r->pseudonym, sqlite3_column_blob(q, 0), PSEUDONYM_LEN);
		column_copy(q, 1, r->begindatum, sizeof(r->begindatum));
		column_copy(q, 2, r->addr, sizeof(r->addr));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "current registrations");
	return ST_OK;
}

/* Adds to person_at the registrations written since it last was brought
 * up to date (store-014.sql), in this transaction. */
enum status store_sqlite_match_catch_up(struct store_sqlite *s, struct errbuf *e)
{
	sqlite3_stmt *add = stmt(s, Q_PERSON_AT_ADD, e), *upto = stmt(s, Q_PERSON_AT_UPTO, e);

	if (add == NULL || upto == NULL || step_done(s, add, e, "registrations by address") != ST_OK)
		return ST_FAIL;
	return step_done(s, upto, e, "registrations by address");
}

/*
 * Works out each person's latest registration not after the match date,
 * in memory (s->cur).  In SQL that is a GROUP BY pseudonym with
 * max(begindatum) into a temporary table and an index on it by address,
 * which took 3.1 s for the 10^6 registrations of the benchmark; read in
 * table order and ordered here twice (by person, by address) it takes a
 * fraction of that.  Some 90 bytes a registration.  With scoped, only
 * the persons registered at a marked address (found through person_at) or
 * named by a finding at one: enough for every count and lookup the scoped
 * match makes, and as much work as the change, not the table.
 */
static enum status fill_current(struct store_sqlite *s, bool scoped, struct errbuf *e)
{
	struct current *c = &s->cur;
	size_t n;

	current_free(c);
	if (scoped && store_sqlite_match_catch_up(s, e) != ST_OK)
		return ST_FAIL;
	if (read_registrations(s, scoped ? Q_PERSON_SCAN_SCOPED : Q_PERSON_SCAN, c, &n, e) != ST_OK)
		return ST_FAIL;
	if (n > UINT32_MAX || (c->by_person = order_by_person(c->rows, n)) == NULL)
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct registration *r = &c->rows[c->by_person[i]];

		if (i + 1 < n && memcmp(r->pseudonym, c->rows[c->by_person[i + 1]].pseudonym,
					PSEUDONYM_LEN) == 0)
			continue;	/* a later registration of the same person follows */
		c->by_person[c->n++] = c->by_person[i];
	}
	c->by_addr = malloc((c->n ? c->n : 1) * sizeof(*c->by_addr));
	if (c->by_addr == NULL)
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	memcpy(c->by_addr, c->by_person, c->n * sizeof(*c->by_addr));
	if (!order_by_address(c->rows, c->by_addr, c->n))
		return errbuf_set(e, ST_FAIL, "current registrations: out of memory");
	return ST_OK;
}

/* The current registration of person, or NULL. */
static const struct registration *current_of(const struct current *c, const uint8_t *person)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct registration *r = &c->rows[c->by_person[mid]];
		int cmp = memcmp(r->pseudonym, person, PSEUDONYM_LEN);

		if (cmp == 0)
			return r;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The current registrations at address key: by_addr[*first ..] and how
 * many. */
static size_t current_at(const struct current *c, const char *key, size_t *first)
{
	size_t lo = 0, hi = c->n, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->rows[c->by_addr[mid]].addr, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < c->n && strcmp(c->rows[c->by_addr[lo + n]].addr, key) == 0)
		n++;
	return n;
}

/* A registration as evidence: "HEX/begindatum" (as evidence_fill()). */
static void registration_evidence(struct evidence *ev, const struct registration *r)
{
	const size_t hex = 2 * (size_t)PSEUDONYM_LEN;

	_Static_assert(sizeof(ev->record) >= 2 * PSEUDONYM_LEN + 1 + sizeof(r->begindatum),
		       "a registration fits the evidence record");
	memcpy(ev->source, "brp", 4);
	crypto_hex(r->pseudonym, PSEUDONYM_LEN, ev->record);
	ev->record[hex] = '/';
	memcpy(ev->record + hex + 1, r->begindatum, sizeof(r->begindatum));
}

/* store_match_begin() and store_match_begin_scoped(). */
static enum status match_begin(struct store_sqlite *s, const char *as_of, const char *window_start,
			       bool scoped, struct errbuf *e)
{
	sqlite3_stmt *st;

	s->scoped = scoped;
	snprintf(s->as_of, sizeof(s->as_of), "%s", as_of);
	snprintf(s->window_start, sizeof(s->window_start), "%s", window_start);
	if (sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "match");
	if (fill_current(s, scoped, e) != ST_OK)
		return ST_FAIL;
	st = stmt(s, scoped ? Q_OBS_FILL_SCOPED : Q_OBS_FILL, e);
	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	if (step_done(s, st, e, "observed persons") != ST_OK)
		return ST_FAIL;
	return walk_start(s, &s->walk_findings, scoped ? Q_EV_WALK_SCOPED : Q_EV_WALK_FINDINGS, e);
}

enum status store_sqlite_match_begin(struct store_sqlite *s, const char *as_of,
				     const char *window_start, struct errbuf *e)
{
	return match_begin(s, as_of, window_start, false, e);
}

enum status store_sqlite_match_begin_scoped(struct store_sqlite *s, const char *as_of,
					    const char *window_start, struct errbuf *e)
{
	return match_begin(s, as_of, window_start, true, e);
}

void store_sqlite_match_end(struct store_sqlite *s)
{
	walk_end(s, &s->walk_findings);
	current_free(&s->cur);
	sqlite3_exec(s->db, "DELETE FROM temp.obs", NULL, NULL, NULL);
}

struct facts_cb {
	int (*cb)(void *arg, const struct address_facts *f);
	void *arg;
	const struct current *cur;
	size_t next;		/* into cur->by_addr: the first not yet counted */
	bool lost;		/* a registration at an address not in the table */
	bool scoped;		/* only some addresses: counted by a search */
};

/*
 * One address of Q_MATCH_ADDRESSES, with registered(A) counted off
 * cur->by_addr, which is in the same order; an address with neither a
 * registration nor a finding in the window is no candidate.
 */
static int facts_row(sqlite3_stmt *st, void *arg)
{
	struct facts_cb *c = arg;
	const char *key = (const char *)sqlite3_column_text(st, 12);
	struct address_facts f;
	long n = 0;
	int cmp = 1;

	if (key == NULL)
		return -1;
	if (c->scoped) {
		size_t first;

		n = (long)current_at(c->cur, key, &first);
	}
	for (; !c->scoped && c->next < c->cur->n; c->next++) {
		cmp = strcmp(c->cur->rows[c->cur->by_addr[c->next]].addr, key);
		if (cmp > 0)
			break;
		if (cmp < 0) {	/* cannot be: person.addr refers to address */
			c->lost = true;
			return -1;
		}
		n++;
	}
	if (n == 0 && sqlite3_column_int(st, 13) == 0)
		return 0;
	column_address(st, 0, &f.address);
	f.registered = n;
	f.observed = (long)sqlite3_column_int64(st, 6);
	f.oppervlakte = column_long_or_null(st, 7);
	f.max_bewoners = column_long_or_null(st, 8);
	f.has_dwelling = sqlite3_column_int(st, 9) != 0;
	f.permit_valid = sqlite3_column_int(st, 10) != 0;
	f.covered = sqlite3_column_int(st, 11) != 0;
	return c->cb(c->arg, &f);
}

enum status store_sqlite_match_addresses(struct store_sqlite *s,
					 int (*cb)(void *arg, const struct address_facts *f),
					 void *arg, struct errbuf *e)
{
	struct facts_cb c = { cb, arg, &s->cur, 0, false, s->scoped };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_ADDRESSES_SCOPED : Q_MATCH_ADDRESSES, e);
	enum status rc;

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	rc = each_row(s, st, facts_row, &c, e, "match addresses");
	/* every registration's address is in the table (a foreign key): one
	 * left over, or passed, is a store that lost its integrity */
	if (c.lost || (rc == ST_OK && !c.scoped && c.next < s->cur.n))
		return errbuf_set(e, ST_FAIL, "match addresses: a registration at %s, an address"
				  " the store does not have", s->cur.rows[s->cur.by_addr[c.next]].addr);
	return rc;
}

struct mismatch_cb {
	int (*cb)(void *arg, const struct mismatch *m);
	void *arg;
	struct store_sqlite *s;
	struct errbuf *e;
};

/* The address of key into a; false when the store has none. */
static bool address_get(struct store_sqlite *s, const char *key, struct address *a, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_ADDRESS_GET, e);
	int rc;

	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		column_address(st, 0, a);
	else if (rc == SQLITE_DONE)
		errbuf_set(e, ST_FAIL, "match address mismatches: no address %s", key);
	else
		db_error(s, e, "match address mismatches");
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

/* A person a finding names at A: a mismatch when the person's current
 * registration is at another address. */
static int mismatch_row(sqlite3_stmt *st, void *arg)
{
	struct mismatch_cb *c = arg;
	const struct registration *r;
	const char *at = (const char *)sqlite3_column_text(st, 7);
	struct mismatch m;
	size_t first;

	if (sqlite3_column_bytes(st, 6) != PSEUDONYM_LEN || at == NULL)
		return 0;	/* cannot be: the ingest writes them */
	r = current_of(&c->s->cur, sqlite3_column_blob(st, 6));
	if (r == NULL || strcmp(r->addr, at) == 0)
		return 0;	/* not registered, or registered here */
	column_address(st, 0, &m.address);
	if (!address_get(c->s, r->addr, &m.registered_at, c->e))
		return -1;
	memcpy(m.pseudonym, r->pseudonym, PSEUDONYM_LEN);
	m.registered = (long)current_at(&c->s->cur, at, &first);
	m.observed = (long)sqlite3_column_int64(st, 8);
	m.oppervlakte = column_long_or_null(st, 9);
	m.max_bewoners = column_long_or_null(st, 10);
	return c->cb(c->arg, &m);
}

enum status store_sqlite_match_mismatches(struct store_sqlite *s,
					  int (*cb)(void *arg, const struct mismatch *m),
					  void *arg, struct errbuf *e)
{
	struct mismatch_cb c = { cb, arg, s, e };
	sqlite3_stmt *st = stmt(s, s->scoped ? Q_MATCH_MISMATCHES_SCOPED : Q_MATCH_MISMATCHES, e);

	if (st == NULL)
		return ST_FAIL;
	bind_window(s, st);
	return each_row(s, st, mismatch_row, &c, e, "match address mismatches");
}

struct evidence_list {
	struct evidence **ev;
	size_t *n;
	const char *source;
};

static int evidence_row(sqlite3_stmt *st, void *arg)
{
	struct evidence_list *l = arg;
	struct evidence *grown;

	grown = realloc(*l->ev, (*l->n + 1) * sizeof(**l->ev));
	if (grown == NULL)
		return -1;
	*l->ev = grown;
	evidence_fill(&grown[(*l->n)++], l->source, st, 0);
	return 0;
}

/* Makes room for k more pieces of evidence in *ev. */
static bool evidence_grow(struct evidence **ev, size_t n, size_t k)
{
	struct evidence *grown = realloc(*ev, (n + k) * sizeof(**ev));

	if (grown == NULL)
		return false;
	*ev = grown;
	return true;
}

/* The findings at address key that name person, in the window. */
static enum status person_findings(struct store_sqlite *s, const char *key, const uint8_t *person,
				   struct evidence **ev, size_t *n, struct errbuf *e)
{
	struct evidence_list l = { ev, n, "inspectie" };
	sqlite3_stmt *st = stmt(s, Q_EV_PERSON_FINDINGS, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, s->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, person, PSEUDONYM_LEN, SQLITE_STATIC);
	if (each_row(s, st, evidence_row, &l, e, "gather evidence") != ST_OK)
		return errbuf_set(e, ST_FAIL, "gathering evidence failed (out of memory?)");
	return ST_OK;
}

enum status store_sqlite_match_evidence(struct store_sqlite *s, const struct address *addr,
					const uint8_t *person, unsigned what,
					struct evidence **ev, size_t *n, struct errbuf *e)
{
	const struct current *c = &s->cur;
	char key[ADDRESS_KEY_MAX];
	size_t first, k;

	address_key(addr, key);
	if (person != NULL) {
		const struct registration *r = current_of(c, person);

		if (person_findings(s, key, person, ev, n, e) != ST_OK)
			return ST_FAIL;
		if (r == NULL)
			return ST_OK;
		if (!evidence_grow(ev, *n, 1))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		registration_evidence(&(*ev)[(*n)++], r);
		return ST_OK;
	}
	if ((what & EVIDENCE_FINDINGS) &&
	    walk_take(s, &s->walk_findings, key, ev, n, e) != ST_OK)
		return ST_FAIL;
	if (what & EVIDENCE_BRP) {
		k = current_at(c, key, &first);
		if (k > 0 && !evidence_grow(ev, *n, k))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		for (size_t i = 0; i < k; i++)
			registration_evidence(&(*ev)[(*n)++], &c->rows[c->by_addr[first + i]]);
	}
	if (what & EVIDENCE_DWELLING) {
		if (!evidence_grow(ev, *n, 1))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		snprintf((*ev)[*n].source, sizeof((*ev)[*n].source), "huisvesting");
		address_display(addr, (*ev)[*n].record);
		(*n)++;
	}
	return ST_OK;
}

/* --- incremental matching (store-012.sql) ------------------------------- */

enum status store_sqlite_match_state(struct store_sqlite *s, struct match_state *ms,
				     struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_MATCH_STATE_GET, e);
	int rc;

	memset(ms, 0, sizeof(*ms));
	if (st == NULL)
		return ST_FAIL;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		column_copy(st, 0, ms->as_of, sizeof(ms->as_of));
		column_copy(st, 1, ms->window_start, sizeof(ms->window_start));
		column_copy(st, 2, ms->params, sizeof(ms->params));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read the match state");
	return ST_OK;
}

enum status store_sqlite_match_state_put(struct store_sqlite *s, const struct match_state *ms,
					 bool full, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_MATCH_STATE_PUT, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, ms->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ms->window_start, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ms->params, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, full);
	return step_done(s, st, e, "store the match state");
}

/* Runs q once with text parameters ?1..?n (n <= 4); *changes (may be NULL)
 * gets the rows it wrote.  For the statements of one run, prepared here. */
static enum status mark_step(struct store_sqlite *s, const char *q, const char *const *p, int n,
			     long *changes, struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "mark changes");
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_error(s, e, "mark changes");
	if (changes != NULL)
		*changes = sqlite3_changes(s->db);
	return ST_OK;
}

enum status store_sqlite_mark_dates(struct store_sqlite *s, const struct match_state *old,
				    const char *as_of, const char *window_start,
				    struct errbuf *e)
{
	/* what holds as of a date D changes between D0 and D1 (lo < hi) for a
	 * finding dated in (lo, hi] or in (lo_ws, hi_ws], a permit valid up to
	 * a day in [lo, hi), a registration beginning in (lo, hi] */
	bool up = strcmp(old->as_of, as_of) < 0;
	bool ws_up = strcmp(old->window_start, window_start) < 0;
	const char *p[4] = {
		up ? old->as_of : as_of, up ? as_of : old->as_of,
		ws_up ? old->window_start : window_start, ws_up ? window_start : old->window_start,
	};

	if (mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT addr FROM finding"
		      " WHERE soort = 'huisvesting' AND ((datum > ?1 AND datum <= ?2) OR"
		      " (datum > ?3 AND datum <= ?4))", p, 4, NULL, e) != ST_OK ||
	    mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT addr FROM dwelling"
		      " WHERE vergunning_tot >= ?1 AND vergunning_tot < ?2", p, 2, NULL, e) != ST_OK)
		return ST_FAIL;
	return mark_step(s, "INSERT OR IGNORE INTO mark_person(pkey) SELECT pkey"
			 " FROM person NOT INDEXED WHERE begindatum > ?1 AND begindatum <= ?2",
			 p, 2, NULL, e);
}

/* count(*) of q into *n. */
static enum status mark_count(struct store_sqlite *s, const char *q, long *n, struct errbuf *e)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
		return db_error(s, e, "count marks");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? ST_OK : db_error(s, e, "count marks");
}

enum status store_sqlite_mark_widen(struct store_sqlite *s, struct mark_counts *n,
				    struct errbuf *e)
{
	memset(n, 0, sizeof(*n));
	if (mark_count(s, "SELECT count(*) FROM mark_all", &n->all, e) != ST_OK)
		return ST_FAIL;
	if (n->all > 0)
		return ST_OK;	/* a full run; the marks are not complete */
	if (mark_count(s, "SELECT count(*) FROM mark_gemeente", &n->gemeenten, e) != ST_OK ||
	    mark_count(s, "SELECT count(*) FROM mark_person", &n->persons, e) != ST_OK)
		return ST_FAIL;
	/* coverage is asked of the dwelling's gemeente, else the address's */
	if (n->gemeenten > 0 &&
	    mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT a.addr FROM address a"
		      " LEFT JOIN dwelling d ON d.addr = a.addr WHERE coalesce(d.gemeentecode,"
		      " a.gemeentecode) IN (SELECT gemeentecode FROM mark_gemeente)",
		      NULL, 0, NULL, e) != ST_OK)
		return ST_FAIL;
	/* a person's registrations (the one that was current and the one that
	 * is), and the findings that name the person */
	if (n->persons > 0 &&
	    (mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT p.addr FROM mark_person m"
		       " CROSS JOIN person p ON p.pkey = m.pkey", NULL, 0, NULL, e) != ST_OK ||
	     mark_step(s, "INSERT OR IGNORE INTO mark_addr(addr) SELECT f.addr FROM mark_person m"
		       " CROSS JOIN person p ON p.pkey = m.pkey CROSS JOIN finding_person fp"
		       " ON fp.pseudonym = p.pseudonym JOIN finding f ON f.id = fp.finding_id",
		       NULL, 0, NULL, e) != ST_OK))
		return ST_FAIL;
	return mark_count(s, "SELECT count(*) FROM mark_addr", &n->addresses, e);
}

enum status store_sqlite_mark_clear(struct store_sqlite *s, struct errbuf *e)
{
	if (sqlite3_exec(s->db, "DELETE FROM mark_addr; DELETE FROM mark_person;"
			 " DELETE FROM mark_gemeente; DELETE FROM mark_all;", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_error(s, e, "clear the marks");
	return ST_OK;
}

enum status store_sqlite_open_signals(struct store_sqlite *s, bool scoped,
				      int (*cb)(void *arg, int64_t seq, const char *id),
				      void *arg, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, scoped ? Q_OPEN_SIGNALS_SCOPED : Q_OPEN_SIGNALS, e);
	int rc;

	if (st == NULL)
		return ST_FAIL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 1);

		if (id != NULL && cb(arg, sqlite3_column_int64(st, 0), id) != 0) {
			sqlite3_reset(st);
			return ST_FAIL;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "read the open signals");
	return ST_OK;
}

