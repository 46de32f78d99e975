/*
 * match_scan.c - the current registrations, the address walk, the
 * mismatch walk and the evidence of a match, from the store's plain
 * scans (match_scan.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "match_scan.h"

/* One registration as the match holds it. */
struct registration {
	uint8_t pseudonym[PSEUDONYM_LEN];
	char begindatum[11];
	char addr[ADDRESS_KEY_MAX];
};

/*
 * The current registrations of a match run, in memory (fill_current()):
 * rows holds every registration not after the match date; by_person the
 * current one of each person, in pseudonym order, and by_addr the same in
 * (address, pseudonym) order, both as indexes into rows.
 */
struct current {
	struct registration *rows;
	size_t nrows, cap;
	uint32_t *by_person, *by_addr;
	size_t n;		/* of by_person and by_addr */
};

/*
 * The findings in the window, in address order (store_scan_findings()):
 * "key\0id\0" one after the other in text, at[i] the start of finding i.
 * The rules visit addresses in that order too, so the evidence of address
 * A is the next run of findings with key A: one step a finding instead of
 * a search per signal (300,000 of them at 10^6 registrations).
 */
struct findings {
	char *text;
	size_t len, cap;
	size_t *at;
	size_t n, ncap;
	size_t next;		/* the first not yet passed */
};

struct match_scan {
	struct store *s;
	bool scoped;		/* only the marked addresses */
	struct current cur;
	struct findings fin;
	char key[ADDRESS_KEY_MAX];	/* the address of the last evidence asked; "" */
	size_t run_first, run_n;	/* its findings: fin.at[run_first ...] */
};

/* Copies the text v (or "") into out (n bytes), cut to fit. */
static void copy_text(char *out, const char *v, size_t n)
{
	size_t len = v != NULL ? strlen(v) : 0;

	if (len >= n)
		len = n - 1;
	memcpy(out, v != NULL ? v : "", len);
	out[len] = '\0';
}

/* --- the current registrations ----------------------------------------- */

/* qsort_r() comparison of two indexes into rows. */
static int by_person(const void *a, const void *b, void *rows)
{
	const struct registration *x = (const struct registration *)rows + *(const uint32_t *)a;
	const struct registration *y = (const struct registration *)rows + *(const uint32_t *)b;
	int c = memcmp(x->pseudonym, y->pseudonym, PSEUDONYM_LEN);

	return c != 0 ? c : strcmp(x->begindatum, y->begindatum);
}

/* qsort_r() comparison in the byte order of the address key (strcmp),
 * then by pseudonym: the order of the evidence. */
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

struct keep_cb {
	struct current *c;
	struct errbuf *e;
};

/* Adds one registration of store_scan_registrations() to c->rows. */
static int keep_registration(void *arg, const struct registration_row *row)
{
	struct keep_cb *k = arg;
	struct current *c = k->c;
	struct registration *r;

	if (c->nrows == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 4096;
		struct registration *grown = realloc(c->rows, cap * sizeof(*grown));

		if (grown == NULL) {
			errbuf_set(k->e, ST_FAIL, "current registrations: out of memory");
			return -1;
		}
		c->rows = grown;
		c->cap = cap;
	}
	r = &c->rows[c->nrows++];
	memcpy(r->pseudonym, row->pseudonym, PSEUDONYM_LEN);
	copy_text(r->begindatum, row->begindatum, sizeof(r->begindatum));
	copy_text(r->addr, row->addr, sizeof(r->addr));
	return 0;
}

/*
 * Works out each person's latest registration not after the match date,
 * in memory (m->cur).  In SQL that is a GROUP BY pseudonym with
 * max(begindatum) into a temporary table and an index on it by address,
 * which took 3.1 s for the 10^6 registrations of the benchmark on SQLite;
 * read in table order and ordered here twice (by person, by address) it
 * takes a fraction of that.  Some 90 bytes a registration.  Scoped, the
 * store gives only the persons registered at a marked address or named
 * by a finding at one: enough for every count and lookup the scoped
 * match makes, and as much work as the change, not the table.
 */
static enum status fill_current(struct match_scan *m, struct errbuf *e)
{
	struct current *c = &m->cur;
	struct keep_cb k = { c, e };
	size_t n;

	if (store_scan_registrations(m->s, keep_registration, &k, e) != ST_OK)
		return ST_FAIL;
	n = c->nrows;
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

/* --- the findings in the window ------------------------------------------ */

struct fin_cb {
	struct findings *f;
	struct errbuf *e;
};

/* Adds one finding of store_scan_findings() to f. */
static int keep_finding(void *arg, const char *key, const char *id)
{
	struct fin_cb *c = arg;
	struct findings *f = c->f;
	size_t kl = strlen(key) + 1, il = strlen(id) + 1;

	if (f->n == f->ncap) {
		size_t cap = f->ncap ? 2 * f->ncap : 1024;
		size_t *grown = realloc(f->at, cap * sizeof(*grown));

		if (grown == NULL)
			goto out_nomem;
		f->at = grown;
		f->ncap = cap;
	}
	if (f->len + kl + il > f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 65536;
		char *grown;

		while (cap < f->len + kl + il)
			cap *= 2;
		if ((grown = realloc(f->text, cap)) == NULL)
			goto out_nomem;
		f->text = grown;
		f->cap = cap;
	}
	f->at[f->n++] = f->len;
	memcpy(f->text + f->len, key, kl);
	memcpy(f->text + f->len + kl, id, il);
	f->len += kl + il;
	return 0;
out_nomem:
	errbuf_set(c->e, ST_FAIL, "findings in the window: out of memory");
	return -1;
}

static const char *finding_key(const struct findings *f, size_t i)
{
	return f->text + f->at[i];
}

static const char *finding_id(const struct findings *f, size_t i)
{
	const char *key = f->text + f->at[i];

	return key + strlen(key) + 1;
}

/* --- beginning and ending ------------------------------------------------ */

enum status match_scan_begin(struct store *s, const char *as_of, const char *window_start,
			     bool scoped, struct match_scan **out, struct errbuf *e)
{
	struct match_scan *m = calloc(1, sizeof(*m));
	struct fin_cb fc;

	*out = NULL;
	if (m == NULL)
		return errbuf_set(e, ST_FAIL, "match: out of memory");
	m->s = s;
	m->scoped = scoped;
	fc.f = &m->fin;
	fc.e = e;
	if (store_scan_begin(s, as_of, window_start, scoped, e) != ST_OK ||
	    fill_current(m, e) != ST_OK || store_scan_findings(s, keep_finding, &fc, e) != ST_OK) {
		match_scan_end(m);
		return ST_FAIL;
	}
	*out = m;
	return ST_OK;
}

void match_scan_end(struct match_scan *m)
{
	if (m == NULL)
		return;
	store_scan_end(m->s);
	free(m->cur.rows);
	free(m->cur.by_person);
	free(m->cur.by_addr);
	free(m->fin.text);
	free(m->fin.at);
	free(m);
}

/* --- the address walk ---------------------------------------------------- */

struct facts_cb {
	int (*cb)(void *arg, const struct address_facts *f);
	void *arg;
	const struct current *cur;
	size_t next;		/* into cur->by_addr: the first not yet counted */
	bool lost;		/* a registration at an address not in the table */
	bool scoped;		/* only some addresses: counted by a search */
};

/*
 * One address of store_scan_addresses(), with registered(A) counted off
 * cur->by_addr, which is in the same order; an address with neither a
 * registration nor a finding in the window is no candidate.
 */
static int facts_row(void *arg, const struct address_row *r)
{
	struct facts_cb *c = arg;
	struct address_facts f;
	long n = 0;

	if (c->scoped) {
		size_t first;

		n = (long)current_at(c->cur, r->key, &first);
	}
	for (; !c->scoped && c->next < c->cur->n; c->next++) {
		int cmp = strcmp(c->cur->rows[c->cur->by_addr[c->next]].addr, r->key);

		if (cmp > 0)
			break;
		if (cmp < 0) {	/* cannot be: a registration's address is in the store */
			c->lost = true;
			return -1;
		}
		n++;
	}
	if (n == 0 && !r->has_findings)
		return 0;
	f.address = r->address;
	f.registered = n;
	f.observed = r->observed;
	f.oppervlakte = r->oppervlakte;
	f.max_bewoners = r->max_bewoners;
	f.has_dwelling = r->has_dwelling;
	f.permit_valid = r->permit_valid;
	f.covered = r->covered;
	return c->cb(c->arg, &f);
}

enum status match_scan_addresses(struct match_scan *m,
				 int (*cb)(void *arg, const struct address_facts *f), void *arg,
				 struct errbuf *e)
{
	struct facts_cb c = { cb, arg, &m->cur, 0, false, m->scoped };
	enum status rc = store_scan_addresses(m->s, facts_row, &c, e);

	/* every registration's address is in the store (a foreign key): one
	 * left over, or passed, is a store that lost its integrity */
	if (c.lost || (rc == ST_OK && !c.scoped && c.next < m->cur.n))
		return errbuf_set(e, ST_FAIL, "match addresses: a registration at %s, an address"
				  " the store does not have", m->cur.rows[m->cur.by_addr[c.next]].addr);
	return rc;
}

/* --- the mismatch walk --------------------------------------------------- */

struct mismatch_cb {
	int (*cb)(void *arg, const struct mismatch *m);
	void *arg;
	struct match_scan *m;
	struct errbuf *e;
};

/* A person a finding names at A: a mismatch when the person's current
 * registration is at another address. */
static int mismatch_row(void *arg, const struct named_row *row)
{
	struct mismatch_cb *c = arg;
	const struct registration *r = current_of(&c->m->cur, row->pseudonym);
	struct mismatch mm;
	bool found = false;
	size_t first;

	if (r == NULL || strcmp(r->addr, row->key) == 0)
		return 0;	/* not registered, or registered here */
	mm.address = row->address;
	if (store_address_get(c->m->s, r->addr, &mm.registered_at, &found, c->e) != ST_OK)
		return -1;
	if (!found) {
		errbuf_set(c->e, ST_FAIL, "match address mismatches: no address %s", r->addr);
		return -1;
	}
	memcpy(mm.pseudonym, r->pseudonym, PSEUDONYM_LEN);
	mm.registered = (long)current_at(&c->m->cur, row->key, &first);
	mm.observed = row->observed;
	mm.oppervlakte = row->oppervlakte;
	mm.max_bewoners = row->max_bewoners;
	return c->cb(c->arg, &mm);
}

enum status match_scan_mismatches(struct match_scan *m,
				  int (*cb)(void *arg, const struct mismatch *mm), void *arg,
				  struct errbuf *e)
{
	struct mismatch_cb c = { cb, arg, m, e };

	return store_scan_named(m->s, mismatch_row, &c, e);
}

/* --- evidence ------------------------------------------------------------ */

/* Makes room for k more pieces of evidence in *ev. */
static bool evidence_grow(struct evidence **ev, size_t n, size_t k)
{
	struct evidence *grown = realloc(*ev, (n + k) * sizeof(**ev));

	if (grown == NULL)
		return false;
	*ev = grown;
	return true;
}

/* A finding as evidence: its id. */
static void finding_evidence(struct evidence *ev, const char *id)
{
	memcpy(ev->source, "inspectie", sizeof("inspectie"));
	copy_text(ev->record, id, sizeof(ev->record));
}

/* A registration as evidence: "HEX/begindatum". */
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

/*
 * Appends the findings in the window at address key to *ev.  Keys must
 * come in the findings' order (strcmp); the findings of a key already
 * passed are gone, which would be a bug of the caller.  The run of the
 * last key asked is kept for the next rule there.
 */
static enum status findings_at(struct match_scan *m, const char *key, struct evidence **ev,
			       size_t *n, struct errbuf *e)
{
	struct findings *f = &m->fin;

	if (strcmp(key, m->key) != 0) {
		if (m->key[0] != '\0' && strcmp(key, m->key) < 0)
			return errbuf_set(e, ST_FAIL, "gather evidence: address %s asked after %s",
					  key, m->key);
		copy_text(m->key, key, sizeof(m->key));
		while (f->next < f->n && strcmp(finding_key(f, f->next), key) < 0)
			f->next++;
		m->run_first = f->next;
		while (f->next < f->n && strcmp(finding_key(f, f->next), key) == 0)
			f->next++;
		m->run_n = f->next - m->run_first;
	}
	if (m->run_n == 0)
		return ST_OK;
	if (!evidence_grow(ev, *n, m->run_n))
		return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
	for (size_t i = 0; i < m->run_n; i++)
		finding_evidence(&(*ev)[(*n)++], finding_id(f, m->run_first + i));
	return ST_OK;
}

struct person_ev {
	struct evidence **ev;
	size_t *n;
	struct errbuf *e;
};

static int person_finding(void *arg, const char *id)
{
	struct person_ev *p = arg;

	if (!evidence_grow(p->ev, *p->n, 1)) {
		errbuf_set(p->e, ST_FAIL, "gather evidence: out of memory");
		return -1;
	}
	finding_evidence(&(*p->ev)[(*p->n)++], id);
	return 0;
}

/* The findings at address key that name person, then the person's current
 * registration. */
static enum status person_evidence(struct match_scan *m, const char *key,
				   const uint8_t *person, struct evidence **ev, size_t *n,
				   struct errbuf *e)
{
	const struct registration *r = current_of(&m->cur, person);
	struct person_ev p = { ev, n, e };

	if (store_scan_person_findings(m->s, key, person, person_finding, &p, e) != ST_OK)
		return ST_FAIL;
	if (r == NULL)
		return ST_OK;
	if (!evidence_grow(ev, *n, 1))
		return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
	registration_evidence(&(*ev)[(*n)++], r);
	return ST_OK;
}

enum status match_scan_evidence(struct match_scan *m, const struct address *addr,
				const uint8_t *person, unsigned what, struct evidence **ev,
				size_t *n, struct errbuf *e)
{
	const struct current *c = &m->cur;
	char key[ADDRESS_KEY_MAX];

	address_key(addr, key);
	if (person != NULL)
		return person_evidence(m, key, person, ev, n, e);
	if ((what & EVIDENCE_FINDINGS) && findings_at(m, key, ev, n, e) != ST_OK)
		return ST_FAIL;
	if (what & EVIDENCE_BRP) {
		size_t first, k = current_at(c, key, &first);

		if (k > 0 && !evidence_grow(ev, *n, k))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		for (size_t i = 0; i < k; i++)
			registration_evidence(&(*ev)[(*n)++], &c->rows[c->by_addr[first + i]]);
	}
	if (what & EVIDENCE_DWELLING) {
		if (!evidence_grow(ev, *n, 1))
			return errbuf_set(e, ST_FAIL, "gather evidence: out of memory");
		memcpy((*ev)[*n].source, "huisvesting", sizeof("huisvesting"));
		address_display(addr, (*ev)[*n].record);
		(*n)++;
	}
	return ST_OK;
}
