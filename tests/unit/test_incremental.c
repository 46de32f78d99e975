/*
 * test_incremental.c - incremental matching (match --changed) against the
 * full run, and signals that end.
 *
 * The property test keeps two installations fed the very same random
 * changes (registrations, moves, corrections, dwellings, findings, a date
 * that moves on, a changed rule parameter); after every step one matches
 * incrementally (MATCH_CHANGED), the other fully (MATCH_FULL), and both
 * must hold exactly the same signals, ended or not.  The seed of a failing
 * sequence is printed; SCHAKEL_INCR_SEED=N runs that one alone and
 * SCHAKEL_INCR_RUNS=N sets how many sequences run (default 200).
 */
#include "testutil.h"

#include <sqlite3.h>

#include "app.h"
#include "match.h"
#include "store.h"

#define NADDR 9
#define NPERS 8
#define NFIND 6
#define STEPS 12
#define BASE_DATE "2026-03-01"

#define OIN_WESTLAND "00000001000000001783"
#define OIN_NLA "00000001003214345000"

static const char conf[] =
	"[match]\nwindow_days = 30\nfull_interval = 0\n"
	"[rule.GEEN_VERGUNNING]\ngemeenten = 1783, 0983\nmin_persons = 2\n"
	"[party.00000001000000001783]\nname = Westland\ngemeenten = 1783\nreceives = all\n"
	"push_url = https://127.0.0.1:9/in\n"
	"[party.00000001000000000983]\nname = Venlo\ngemeenten = 0983\nreceives = all\n"
	"[party.00000001003214345000]\nname = NLA\n"
	"receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING\n"
	"push_url = https://127.0.0.1:9/nla\n";

static const char *const gemeenten[] = { "1783", "0983", "0363" };

/* One installation. */
struct inst {
	char *dir;
	struct app app;
};

struct world {
	char *tmp;
	struct inst inc, full;	/* matched with MATCH_CHANGED, with MATCH_FULL */
	uint64_t rng;
	long day;		/* the match date, in days */
	char date[11];
	/* registrations written, to correct one later */
	struct { int person; char begindatum[11]; } regs[STEPS * 3];
	size_t nregs;
	struct errbuf e;
};

static uint64_t next(struct world *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

static int pick(struct world *w, int n)
{
	return (int)(next(w) % (uint64_t)n);
}

static void write_conf(const char *dir)
{
	char *path;
	FILE *fp;

	assert_true(asprintf(&path, "%s/schakel.conf", dir) > 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(conf, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	free(path);
}

static void inst_open(struct inst *in, const char *tmp, const char *name)
{
	struct errbuf e;

	assert_true(asprintf(&in->dir, "%s/%s", tmp, name) > 0);
	if (app_init(in->dir, NULL, &e) != ST_OK)
		fail_msg("app_init: %s", e.msg);
	write_conf(in->dir);
	if (app_open(&in->app, in->dir, &e) != ST_OK)
		fail_msg("app_open: %s", e.msg);
}

static void world_open(struct world *w, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->rng = seed * 2654435761u + 0x9e3779b97f4a7c15u;
	w->tmp = testutil_tmpdir();
	assert_non_null(w->tmp);
	inst_open(&w->inc, w->tmp, "inc");
	inst_open(&w->full, w->tmp, "full");
	w->day = norm_days(BASE_DATE);
	norm_date_from_days(w->day, w->date);
}

static void world_close(struct world *w)
{
	app_close(&w->inc.app);
	app_close(&w->full.app);
	free(w->inc.dir);
	free(w->full.dir);
	testutil_rmtree(w->tmp);
}

static struct address address_of(int i)
{
	struct address a = { .huisnummer = i + 1 };

	snprintf(a.gemeentecode, sizeof(a.gemeentecode), "%s", gemeenten[i % 3]);
	snprintf(a.postcode, sizeof(a.postcode), "26%02dAB", 71 + i % 3);
	return a;
}

static void pseudonym_of(int p, uint8_t out[PSEUDONYM_LEN])
{
	memset(out, 0x5a, PSEUDONYM_LEN);
	out[0] = (uint8_t)(0x10 + p);
}

/* The records one step writes, the same into both installations. */
struct change {
	enum { C_PERSON, C_DWELLING, C_FINDING } kind;
	struct person_row person;
	struct dwelling_row dwelling;
	char vergunning_tot[11];
	struct finding_row finding;
	char id[8], datum[11];
	struct finding_person named[2];
};

static void put(struct world *w, struct inst *in, const struct change *c, size_t n)
{
	struct store *s = in->app.store;
	struct ingest_row ir = { "test", "test", NULL, "00", 0, 0 };
	int64_t id;
	bool changed;

	assert_int_equal(store_begin(s, &w->e), ST_OK);
	assert_int_equal(store_ingest_add(s, &ir, &id, &w->e), ST_OK);
	for (size_t i = 0; i < n; i++) {
		enum status st = c[i].kind == C_PERSON
			? store_put_person(s, id, &c[i].person, &changed, &w->e)
			: c[i].kind == C_DWELLING
			? store_put_dwelling(s, id, &c[i].dwelling, &changed, &w->e)
			: store_put_finding(s, id, &c[i].finding, &changed, &w->e);

		if (st != ST_OK)
			fail_msg("put: %s", w->e.msg);
	}
	assert_int_equal(store_commit(s, &w->e), ST_OK);
}

/* A registration: new, or (one in three) a correction of one written. */
static void make_person(struct world *w, struct change *c)
{
	int p = pick(w, NPERS);
	char begin[11];

	c->kind = C_PERSON;
	if (w->nregs > 0 && pick(w, 3) == 0) {
		size_t k = (size_t)pick(w, (int)w->nregs);

		p = w->regs[k].person;
		memcpy(begin, w->regs[k].begindatum, sizeof(begin));
	} else {
		/* mostly in the past, now and then in the future */
		norm_date_from_days(w->day - pick(w, 60) + (pick(w, 6) == 0 ? 8 : 0), begin);
		if (w->nregs < sizeof(w->regs) / sizeof(w->regs[0])) {
			w->regs[w->nregs].person = p;
			memcpy(w->regs[w->nregs++].begindatum, begin, sizeof(begin));
		}
	}
	pseudonym_of(p, c->person.pseudonym);
	memset(c->person.bsn_sealed, p, SEALED_BSN_LEN);
	memcpy(c->person.begindatum, begin, sizeof(begin));
	/* persons start in 1783 only: the other gemeenten become covered later */
	c->person.address = address_of(pick(w, 4) == 0 ? pick(w, NADDR) : 3 * pick(w, NADDR / 3));
}

static void make_dwelling(struct world *w, struct change *c)
{
	c->kind = C_DWELLING;
	c->dwelling.address = address_of(pick(w, NADDR));
	c->dwelling.oppervlakte = pick(w, 3) == 0 ? -1 : 10 + pick(w, 50);
	c->dwelling.max_bewoners = pick(w, 2) == 0 ? -1 : 1 + pick(w, 4);
	c->dwelling.vergunning = pick(w, 2) == 0 ? NULL : "V-1";
	norm_date_from_days(w->day + pick(w, 40) - 5, c->vergunning_tot);
	c->dwelling.vergunning_tot = c->dwelling.vergunning != NULL ? c->vergunning_tot : NULL;
}

static void make_finding(struct world *w, struct change *c)
{
	c->kind = C_FINDING;
	snprintf(c->id, sizeof(c->id), "F%d", pick(w, NFIND));
	norm_date_from_days(w->day - pick(w, 45) + (pick(w, 8) == 0 ? 3 : 0), c->datum);
	c->finding.id = c->id;
	c->finding.datum = c->datum;
	c->finding.soort = pick(w, 6) == 0 ? "arbeid" : "huisvesting";
	c->finding.address = address_of(pick(w, NADDR));
	c->finding.aangetroffen = pick(w, 8);
	c->finding.npersons = (size_t)pick(w, 3);
	for (size_t i = 0; i < c->finding.npersons; i++) {
		pseudonym_of((int)i * 3 + pick(w, 3), c->named[i].pseudonym);
		memset(c->named[i].bsn_sealed, 1, SEALED_BSN_LEN);
	}
	c->finding.persons = c->named;
}

/* One signal as a line: enough to tell any two apart. */
static int collect(void *arg, const struct signal *sig)
{
	char ***lines = arg;
	size_t n = 0;
	char key[ADDRESS_KEY_MAX];

	while ((*lines)[n] != NULL)
		n++;
	*lines = realloc(*lines, (n + 2) * sizeof(**lines));
	address_key(&sig->address, key);
	if (asprintf(&(*lines)[n], "%s %s %s ended=%s reg=%ld obs=%ld", sig->id, sig->rule, key,
		     sig->ended_on, sig->registered, sig->observed) < 0)
		return -1;
	(*lines)[n + 1] = NULL;
	return 0;
}

static int by_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The signals of an installation, sorted, NULL-terminated. */
static char **signals_of(struct world *w, struct inst *in, size_t *n)
{
	struct signal_filter f = { 0 };
	char **lines = calloc(1, sizeof(*lines));

	assert_int_equal(store_signals(in->app.store, &f, collect, &lines, &w->e), ST_OK);
	for (*n = 0; lines[*n] != NULL; (*n)++)
		;
	qsort(lines, *n, sizeof(*lines), by_line);
	return lines;
}

static void free_lines(char **lines)
{
	for (size_t i = 0; lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* Both installations hold the same signals; else fails naming seed and step. */
static void compare(struct world *w, uint64_t seed, int step)
{
	size_t ni, nf;
	char **li = signals_of(w, &w->inc, &ni), **lf = signals_of(w, &w->full, &nf);

	for (size_t i = 0; i < ni || i < nf; i++) {
		if (i < ni && i < nf && strcmp(li[i], lf[i]) == 0)
			continue;
		fprintf(stderr, "seed %llu, step %d, as of %s: incremental %zu signals, full %zu\n",
			(unsigned long long)seed, step, w->date, ni, nf);
		for (size_t k = 0; k < ni; k++)
			fprintf(stderr, "  inc  %s\n", li[k]);
		for (size_t k = 0; k < nf; k++)
			fprintf(stderr, "  full %s\n", lf[k]);
		fail_msg("incremental and full differ (SCHAKEL_INCR_SEED=%llu)",
			 (unsigned long long)seed);
	}
	free_lines(li);
	free_lines(lf);
}

static void match_both(struct world *w)
{
	struct match_result res;

	if (match_run_mode(&w->inc.app, w->date, MATCH_CHANGED, &res, NULL, NULL, &w->e) != ST_OK)
		fail_msg("match --changed: %s", w->e.msg);
	if (match_run_mode(&w->full.app, w->date, MATCH_FULL, &res, NULL, NULL, &w->e) != ST_OK)
		fail_msg("match: %s", w->e.msg);
}

/* One step: a few records, or a later date, or another rule parameter. */
static void step(struct world *w)
{
	struct change c[3];
	int what = pick(w, 100);
	size_t n = 1 + (size_t)pick(w, 3);

	memset(c, 0, sizeof(c));
	if (what < 12) {
		w->day += 1 + pick(w, 20);	/* the window slides, permits expire */
		norm_date_from_days(w->day, w->date);
		return;
	}
	if (what < 18) {	/* retention: every signal (those that hold come back), or
				 * now and then every record */
		struct retention r = { .signals = "9999-12-31T00:00:00Z" };
		struct purge_counts pc;

		if (what < 14) {
			r.signals = NULL;
			r.records = "9999-12-31T00:00:00Z";
			w->nregs = 0;
		}

		for (struct inst *in = &w->inc; in != NULL; in = in == &w->inc ? &w->full : NULL) {
			assert_int_equal(store_begin(in->app.store, &w->e), ST_OK);
			if (store_purge(in->app.store, &r, &pc, &w->e) != ST_OK)
				fail_msg("purge: %s", w->e.msg);
			assert_int_equal(store_commit(in->app.store, &w->e), ST_OK);
		}
		return;
	}
	if (what < 22) {	/* a SIGHUP with another parameter */
		static const int m2[] = { 8, 12, 20 };
		int v = m2[pick(w, 3)];

		w->inc.app.cfg.m2_per_person = w->full.app.cfg.m2_per_person = v;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int k = pick(w, 3);

		if (k == 0)
			make_person(w, &c[i]);
		else if (k == 1)
			make_dwelling(w, &c[i]);
		else
			make_finding(w, &c[i]);
	}
	put(w, &w->inc, c, n);
	put(w, &w->full, c, n);
}

static void run_sequence(uint64_t seed)
{
	struct world w;

	world_open(&w, seed);
	for (int i = 0; i < STEPS; i++) {
		step(&w);
		match_both(&w);
		compare(&w, seed, i);
	}
	world_close(&w);
}

static void test_incremental_equals_full(void **state)
{
	const char *one = getenv("SCHAKEL_INCR_SEED"), *runs = getenv("SCHAKEL_INCR_RUNS");
	long n = runs != NULL ? atol(runs) : 200;

	(void)state;
	if (one != NULL) {
		run_sequence(strtoull(one, NULL, 10));
		return;
	}
	for (long seed = 1; seed <= n; seed++)
		run_sequence((uint64_t)seed);
}

/* --- signals that end ----------------------------------------------------- */

static long count(struct inst *in, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *path;
	long v = -1;

	assert_true(asprintf(&path, "%s/schakel.db", in->dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return v;
}

/* A finding of n persons at address 0 (1783, 2671AB 1), dated datum. */
static void found(struct world *w, struct inst *in, long n, const char *datum)
{
	struct change c = { .kind = C_FINDING };

	snprintf(c.id, sizeof(c.id), "F1");
	snprintf(c.datum, sizeof(c.datum), "%s", datum);
	c.finding = (struct finding_row){ .id = c.id, .datum = c.datum, .soort = "huisvesting",
					  .address = address_of(0), .aangetroffen = n };
	put(w, in, &c, 1);
}

static void registered(struct world *w, struct inst *in, int p)
{
	struct change c = { .kind = C_PERSON };

	pseudonym_of(p, c.person.pseudonym);
	snprintf(c.person.begindatum, sizeof(c.person.begindatum), "2026-01-01");
	c.person.address = address_of(0);
	put(w, in, &c, 1);
}

static void match(struct world *w, struct inst *in, enum match_mode mode,
		  struct match_result *res)
{
	if (match_run_mode(&in->app, w->date, mode, res, NULL, NULL, &w->e) != ST_OK)
		fail_msg("match: %s", w->e.msg);
}

/* Keeps the first delivery it is given. */
static int keep_first(void *arg, const struct delivery_row *d)
{
	struct delivery_row *out = arg;

	if (out->id == 0)
		*out = *d;
	return 0;
}

/*
 * ONDERREGISTRATIE at an address where 5 are found and 1 registered: the
 * finding corrected to 2 found ends it, in either mode: ended_on set, an
 * `ended` log entry, its push queued again (pending, a new message id);
 * found again, it is a new signal with a new id.
 */
static void end_and_again(enum match_mode mode)
{
	struct world w;
	struct match_result res;
	char first_id[33];
	struct delivery_row sent = { .id = 0 };
	world_open(&w, 1);
	registered(&w, &w.inc, 0);
	found(&w, &w.inc, 5, "2026-02-20");
	match(&w, &w.inc, mode, &res);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on IS NULL"), 1);
	/* delivered, as far as the outbox knows */
	{
		sqlite3 *h;
		char *path;

		assert_true(asprintf(&path, "%s/schakel.db", w.inc.dir) > 0);
		assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h, "UPDATE delivery SET state = 'delivered'", NULL,
					      NULL, NULL), SQLITE_OK);
		sqlite3_close(h);
		free(path);
	}
	assert_true(count(&w.inc, "SELECT count(*) FROM delivery") > 0);
	{
		struct signal_filter f = { .rule = "ONDERREGISTRATIE" };
		char **lines = calloc(1, sizeof(*lines));

		assert_int_equal(store_signals(w.inc.app.store, &f, collect, &lines, &w.e), ST_OK);
		assert_non_null(lines[0]);
		memcpy(first_id, lines[0], 32);
		first_id[32] = '\0';
		free_lines(lines);
	}

	assert_int_equal(store_deliveries(w.inc.app.store, -1, false, 0, keep_first, &sent, &w.e),
			 ST_OK);
	found(&w, &w.inc, 2, "2026-02-20");	/* corrected: 2 found, gap 1 */
	match(&w, &w.inc, mode, &res);
	/* the outcome of a push sent before it ended leaves the new one queued */
	snprintf(sent.state, sizeof(sent.state), "delivered");
	assert_int_equal(store_begin(w.inc.app.store, &w.e), ST_OK);
	assert_int_equal(store_delivery_update(w.inc.app.store, &sent, &w.e), ST_OK);
	assert_int_equal(store_commit(w.inc.app.store, &w.e), ST_OK);
	assert_true(res.ended >= 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on = '" BASE_DATE "'"), 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on IS NULL"), 0);
	assert_true(count(&w.inc, "SELECT count(*) FROM exlog WHERE kind = 'ended'") >= 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM exlog WHERE kind = 'ended' AND"
			       " json_extract(detail, '$.rule') = 'ONDERREGISTRATIE' AND"
			       " json_extract(detail, '$.ended_on') = '" BASE_DATE "'"), 1);
	/* both pushes of the ended signal are pending again */
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM delivery d JOIN signal s ON"
			       " s.id = d.signal_id WHERE s.rule = 'ONDERREGISTRATIE' AND"
			       " d.state = 'pending'"), 2);
	/* a second run ends nothing more */
	match(&w, &w.inc, mode, &res);
	assert_int_equal(res.ended, 0);
	assert_int_equal(res.created, 0);

	found(&w, &w.inc, 5, "2026-02-20");	/* and back: the same facts again */
	match(&w, &w.inc, mode, &res);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on IS NULL"), 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"),
			 2);
	{
		struct signal_filter f = { .rule = "ONDERREGISTRATIE" };
		char **lines = calloc(1, sizeof(*lines));

		assert_int_equal(store_signals(w.inc.app.store, &f, collect, &lines, &w.e), ST_OK);
		assert_non_null(lines[1]);
		assert_memory_not_equal(lines[1], first_id, 32);	/* a new id */
		assert_non_null(strstr(lines[1], "ended= "));	/* that holds */
		free_lines(lines);
	}
	world_close(&w);
}

static void test_full_run_ends_and_raises_again(void **state)
{
	(void)state;
	end_and_again(MATCH_FULL);
}

static void test_changed_run_ends_and_raises_again(void **state)
{
	(void)state;
	end_and_again(MATCH_CHANGED);
}

/*
 * A finding that leaves the window as the date moves on ends its signal,
 * though no data changed: the incremental run widens to what the date
 * crossed.  The daily full run after it finds nothing to change.
 */
static void test_window_sliding_ends_without_new_data(void **state)
{
	struct world w;
	struct match_result res;

	(void)state;
	world_open(&w, 2);
	registered(&w, &w.inc, 0);
	found(&w, &w.inc, 5, "2026-02-20");
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_true(res.full);	/* the first: nothing to be incremental from */
	assert_int_equal(res.ended, 0);
	assert_true(res.raised >= 1);
	w.day += 25;	/* 2026-03-26: the finding of 02-20 is out of the 30-day window */
	norm_date_from_days(w.day, w.date);
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_false(res.full);
	assert_true(res.marked >= 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE ended_on IS NULL"), 0);
	assert_true(res.ended >= 1);
	match(&w, &w.inc, MATCH_RECONCILE, &res);
	assert_int_equal(res.created, 0);
	assert_int_equal(res.ended, 0);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM exlog WHERE kind = 'match' AND"
			       " json_extract(detail, '$.mode') = 'reconcile' AND"
			       " json_extract(detail, '$.ended') = 0"), 1);
	world_close(&w);
}

/* A municipality's first registration (coverage) widens the run to the
 * whole gemeente: ONDERREGISTRATIE at an address of it no registration
 * or finding changed. */
static void test_new_coverage_widens_to_the_gemeente(void **state)
{
	struct world w;
	struct match_result res;
	struct change c = { .kind = C_FINDING };

	(void)state;
	world_open(&w, 3);
	snprintf(c.id, sizeof(c.id), "F2");
	snprintf(c.datum, sizeof(c.datum), "2026-02-25");
	c.finding = (struct finding_row){ .id = c.id, .datum = c.datum, .soort = "huisvesting",
					  .address = address_of(1), .aangetroffen = 4 };
	put(&w, &w.inc, &c, 1);	/* 0983, not covered: no ONDERREGISTRATIE */
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"),
			 0);
	c = (struct change){ .kind = C_PERSON };
	pseudonym_of(1, c.person.pseudonym);
	snprintf(c.person.begindatum, sizeof(c.person.begindatum), "2026-01-01");
	c.person.address = address_of(4);	/* 0983, another address */
	put(&w, &w.inc, &c, 1);
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_false(res.full);
	assert_int_equal(res.gemeenten, 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND addr = '2672AB|2||'"), 1);
	world_close(&w);
}

/*
 * An input that changes more than 20,000 records (MARK_ALL_AFTER) stops
 * marking and makes the next incremental run a full one, which still
 * raises what the records after the last mark would.
 */
static void test_large_change_makes_a_full_run(void **state)
{
	struct world w;
	struct match_result res;
	struct store *s;
	struct ingest_row ir = { "test", "test", NULL, "00", 0, 0 };
	int64_t id;
	bool changed;

	(void)state;
	world_open(&w, 4);
	match(&w, &w.inc, MATCH_CHANGED, &res);	/* the first: full */
	s = w.inc.app.store;
	assert_int_equal(store_begin(s, &w.e), ST_OK);
	assert_int_equal(store_ingest_add(s, &ir, &id, &w.e), ST_OK);
	for (int i = 0; i < 20100; i++) {
		struct dwelling_row d = { .oppervlakte = 40, .max_bewoners = -1 };

		snprintf(d.address.gemeentecode, sizeof(d.address.gemeentecode), "1783");
		snprintf(d.address.postcode, sizeof(d.address.postcode), "3%03uAB", (unsigned)(i / 100) % 1000u);
		d.address.huisnummer = 1 + i % 100;
		assert_int_equal(store_put_dwelling(s, id, &d, &changed, &w.e), ST_OK);
	}
	assert_int_equal(store_commit(s, &w.e), ST_OK);
	assert_true(count(&w.inc, "SELECT count(*) FROM mark_addr") < 20100);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM mark_all"), 1);
	registered(&w, &w.inc, 0);	/* and one person at 2671AB 1: not marked */
	found(&w, &w.inc, 5, "2026-02-20");
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_true(res.full);
	assert_string_equal(res.why, "a large change");
	/* and it brought the registrations by address up to date for the next */
	assert_int_equal(count(&w.inc, "SELECT upto FROM person_at_state"), 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM person_at"), 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on IS NULL"), 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM mark_all"), 0);
	match(&w, &w.inc, MATCH_CHANGED, &res);
	assert_false(res.full);
	world_close(&w);
}

/*
 * The scoped run finds the registrations at a marked address through
 * person_at (store-014.sql), brought up to date from the person rowids
 * above the last it saw.  A purge that empties person, then registrations
 * written before the next run, reuse those rowids: the purge lowers the
 * mark, so the new ones are counted all the same.  And two persons whose
 * pseudonyms share a key (pseudonym_key(), the first 8 bytes) are told
 * apart.
 */
static void test_registrations_after_a_purge_are_counted(void **state)
{
	struct world w;
	struct retention r = { .records = "9999-12-31T00:00:00Z" };
	struct purge_counts pc;
	struct change c[2] = { { .kind = C_PERSON }, { .kind = C_PERSON } };

	(void)state;
	world_open(&w, 5);
	for (struct inst *in = &w.inc; in != NULL; in = in == &w.inc ? &w.full : NULL) {
		registered(&w, in, 0);
		registered(&w, in, 1);
	}
	match_both(&w);
	compare(&w, 5, 0);
	for (struct inst *in = &w.inc; in != NULL; in = in == &w.inc ? &w.full : NULL) {
		assert_int_equal(store_begin(in->app.store, &w.e), ST_OK);
		assert_int_equal(store_purge(in->app.store, &r, &pc, &w.e), ST_OK);
		assert_int_equal(store_commit(in->app.store, &w.e), ST_OK);
		/* a key shared: the same first 8 bytes, at address 0 and 1 */
		for (int i = 0; i < 2; i++) {
			pseudonym_of(2, c[i].person.pseudonym);
			c[i].person.pseudonym[PSEUDONYM_LEN - 1] = (uint8_t)i;
			memset(c[i].person.bsn_sealed, 2 + i, SEALED_BSN_LEN);
			snprintf(c[i].person.begindatum, sizeof(c[i].person.begindatum),
				 "2026-01-01");
			c[i].person.address = address_of(i);
		}
		put(&w, in, c, 2);
		found(&w, in, 5, "2026-02-20");
	}
	match_both(&w);
	compare(&w, 5, 1);
	assert_int_equal(count(&w.inc, "SELECT count(*) FROM signal WHERE rule = 'ONDERREGISTRATIE'"
			       " AND ended_on IS NULL AND registered = 1"), 1);
	world_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_run_ends_and_raises_again),
		cmocka_unit_test(test_changed_run_ends_and_raises_again),
		cmocka_unit_test(test_window_sliding_ends_without_new_data),
		cmocka_unit_test(test_new_coverage_widens_to_the_gemeente),
		cmocka_unit_test(test_large_change_makes_a_full_run),
		cmocka_unit_test(test_registrations_after_a_purge_are_counted),
		cmocka_unit_test(test_incremental_equals_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
