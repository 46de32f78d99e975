/*
 * test_nomem.c - out of memory is never the record's fault (adapter ABI 3,
 * host->nomem()).
 *
 * The adapters: each runs over its fixture with every allocation of the
 * run, one after the other, made to fail (malloc, calloc and realloc are
 * replaced in this program; strdup and the libraries' allocations go
 * through them).  Each run must either absorb the failure and hand over
 * exactly the records and rejections of a run without failure, or stop
 * with ADAPTER_NOMEM after saying so once through nomem(), having handed
 * over only records and rejections that a run without failure hands over
 * too, in the same order and with the same values.  Never a rejection or a
 * refusal caused by the failure, never a record with a value it did not
 * read (jansson, for one, can lose a byte of a string without a word).
 *
 * The host: an adapter's nomem() fails the whole input, whatever the
 * adapter returns afterwards: nothing stored, no ingest row, no rejection
 * logged, res.refused false, ST_FAIL, a message that starts with "out of
 * memory" and names the adapter and the place.
 *
 * Under AddressSanitizer or valgrind malloc cannot be replaced here; the
 * adapter sweeps are skipped then (tests/torture/ covers the same without
 * them).
 */
#include "testutil.h"

#include <stdbool.h>

#include <sqlite3.h>

#include "app.h"
#include "exlog.h"
#include "ingest.h"
#include "loader.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOMEM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOMEM_SANITIZED 1
#endif
#endif

/* ------------------------------------------------ failing allocations */

/* volatile: the compiler takes malloc() for the C library's, which reads
 * no variable of ours, and would drop or move our stores around calls */
static volatile unsigned long fm_calls;	/* allocations counted while armed */
static volatile unsigned long fm_fail_at;	/* 0: none fails */
static volatile bool fm_armed, fm_hit;

#ifndef NOMEM_SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static bool fm_fails(void)
{
	if (!fm_armed)
		return false;
	if (++fm_calls != fm_fail_at)
		return false;
	fm_hit = true;
	return true;
}

void *malloc(size_t n)
{
	return fm_fails() ? NULL : __libc_malloc(n);
}

void *calloc(size_t m, size_t n)
{
	return fm_fails() ? NULL : __libc_calloc(m, n);
}

void *realloc(void *p, size_t n)
{
	return fm_fails() ? NULL : __libc_realloc(p, n);
}
#endif

/* Starts counting; allocation n (1-based) fails, none when n is 0. */
static void fm_arm(unsigned long n)
{
	fm_calls = 0;
	fm_fail_at = n;
	fm_hit = false;
	fm_armed = true;
}

/*
 * Whether malloc() is ours: not under valgrind, which replaces it in the
 * program as well (the adapter sweeps are skipped then).
 */
static bool fm_works(void)
{
	void *volatile p;

	fm_arm(0);
	p = malloc(16);
	fm_armed = false;
	free(p);
	return fm_calls == 1;
}

/* ------------------------------------------------ a recording host */

#define MAXEV 64
#define EVLEN 768

/* What the adapter did, one line per record or rejection. */
struct events {
	char ev[MAXEV][EVLEN];
	size_t n;
	int nomem;		/* nomem() calls */
	size_t n_at_nomem;	/* events before the first nomem() */
	char nomem_place[128];
};

static const char *nz(const char *s)
{
	return s != NULL ? s : "(null)";
}

static int ev_record(void *ctx, const struct adapter_record *r)
{
	struct events *t = ctx;
	bool armed = fm_armed;
	char *p;
	size_t len;
	int k;

	fm_armed = false;	/* the host's own allocations are not tested here */
	assert_true(t->n < MAXEV);
	p = t->ev[t->n];
	len = EVLEN;
	k = snprintf(p, len, "R %d %s|%s|%s|%s|%s|%s|%s", (int)r->kind, nz(r->place),
		     nz(r->address.gemeentecode), nz(r->address.nummeraanduiding_id),
		     nz(r->address.postcode), nz(r->address.huisnummer),
		     nz(r->address.huisletter), nz(r->address.huisnummertoevoeging));
	p += k;
	len -= (size_t)k;
	switch (r->kind) {
	case ADAPTER_PERSON:
		snprintf(p, len, "|%s|%s", nz(r->u.person.bsn), nz(r->u.person.begindatum));
		break;
	case ADAPTER_DWELLING:
		snprintf(p, len, "|%s|%s|%s|%s|%s", nz(r->u.dwelling.oppervlakte_m2),
			 nz(r->u.dwelling.gebruiksdoel), nz(r->u.dwelling.max_bewoners),
			 nz(r->u.dwelling.vergunning_nummer),
			 nz(r->u.dwelling.vergunning_geldig_tot));
		break;
	default:
		k = snprintf(p, len, "|%s|%s|%s|%s|%s|%zu", nz(r->u.finding.id),
			     nz(r->u.finding.datum), nz(r->u.finding.soort),
			     nz(r->u.finding.kvk), nz(r->u.finding.aangetroffen_personen),
			     r->u.finding.nbsn);
		for (size_t i = 0; i < r->u.finding.nbsn && (size_t)k < len; i++)
			k += snprintf(p + k, len - (size_t)k, "|%s", nz(r->u.finding.bsns[i]));
	}
	t->n++;
	fm_armed = armed;
	return 0;
}

static void ev_reject(void *ctx, const char *place, const char *reason)
{
	struct events *t = ctx;
	bool armed = fm_armed;

	fm_armed = false;
	assert_true(t->n < MAXEV);
	snprintf(t->ev[t->n++], EVLEN, "J %s: %s", nz(place), nz(reason));
	fm_armed = armed;
}

static int ev_nomem(void *ctx, const char *place)
{
	struct events *t = ctx;

	if (t->nomem++ == 0) {
		t->n_at_nomem = t->n;
		snprintf(t->nomem_place, sizeof(t->nomem_place), "%s", nz(place));
	}
	return -1;
}

/*
 * Runs adapter a over data (in chunks of chunk bytes) with allocation
 * fail_at failing.  Returns the adapter_rc, or 1 when open() failed.
 */
static int run_adapter(const struct loaded_adapter *la, const char *data, size_t len,
		       size_t chunk, unsigned long fail_at, struct events *t)
{
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.ctx = t,
		.record = ev_record,
		.reject = ev_reject,
		.nomem = ev_nomem,
		.source_schema = la->schema,
		.max_field_bytes = 65536,
		.max_depth = 64,
	};
	const struct adapter *a = la->adapter;
	size_t off = 0;
	int rc = ADAPTER_OK;
	void *st;

	memset(t, 0, sizeof(*t));
	fm_arm(fail_at);
	st = a->open(&host);
	if (st == NULL) {
		fm_armed = false;
		return 1;
	}
	while (rc == ADAPTER_OK && off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = a->feed(st, data + off, n);
		off += n;
	}
	if (rc == ADAPTER_OK)
		rc = a->finish(st);
	(void)a->error(st);
	a->close(st);
	fm_armed = false;
	return rc;
}

static char *slurp(const char *name, size_t *len)
{
	char path[4096];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Skips the test where malloc() cannot be replaced. */
static void need_failing_malloc(void)
{
#ifdef NOMEM_SANITIZED
	skip();
#endif
	if (!fm_works())
		skip();
}

/*
 * The sweep for one adapter and input: allocation 1, 2, ... of the run
 * fails in turn, until a run no longer reaches the failing allocation.
 */
static void sweep(const char *adapter, const char *name, const char *data, size_t len,
		  size_t chunk)
{
	struct loaded_adapter la;
	struct events *clean, *t;
	struct errbuf e;
	unsigned long n, absorbed = 0, failed = 0;
	int rc;

	assert_int_equal(loader_load(adapter, &la, &e), ST_OK);
	clean = calloc(1, sizeof(*clean));
	t = calloc(1, sizeof(*t));
	assert_non_null(clean);
	assert_non_null(t);

	rc = run_adapter(&la, data, len, chunk, 0, clean);
	assert_int_equal(rc, ADAPTER_OK);
	assert_int_equal(clean->nomem, 0);
	assert_true(clean->n > 0);

	for (n = 1;; n++) {
		rc = run_adapter(&la, data, len, chunk, n, t);
		if (!fm_hit)
			break;	/* past the last allocation of the run */
		if (rc == 1) {	/* open() failed: the host says out of memory */
			assert_int_equal(t->n, 0);
			failed++;
			continue;
		}
		if (rc == ADAPTER_OK) {	/* absorbed: exactly the clean run */
			absorbed++;
			if (t->nomem != 0 || t->n != clean->n)
				fail_msg("%s, allocation %lu: OK with %zu events, %d nomem() "
					 "(expected %zu, 0)", adapter, n, t->n, t->nomem, clean->n);
			for (size_t i = 0; i < t->n; i++)
				if (strcmp(t->ev[i], clean->ev[i]) != 0)
					fail_msg("%s, allocation %lu: event %zu is\n  %s\nnot\n  %s",
						 adapter, n, i, t->ev[i], clean->ev[i]);
			continue;
		}
		failed++;
		if (rc != ADAPTER_NOMEM)
			fail_msg("%s, allocation %lu: result %d, not ADAPTER_NOMEM (%s)",
				 adapter, n, rc, t->n > 0 ? t->ev[t->n - 1] : "no events");
		if (t->nomem != 1)
			fail_msg("%s, allocation %lu: ADAPTER_NOMEM after %d nomem() calls",
				 adapter, n, t->nomem);
		if (t->n != t->n_at_nomem)
			fail_msg("%s, allocation %lu: %zu events after nomem() (%s)", adapter, n,
				 t->n - t->n_at_nomem, t->ev[t->n - 1]);
		for (size_t i = 0; i < t->n; i++)
			if (i >= clean->n || strcmp(t->ev[i], clean->ev[i]) != 0)
				fail_msg("%s, allocation %lu: event %zu is\n  %s\nnot\n  %s", adapter,
					 n, i, t->ev[i], i < clean->n ? clean->ev[i] : "(none)");
	}
	print_message("# %s %s: %lu allocations, %lu absorbed, %lu out of memory\n", adapter,
		      name, n - 1, absorbed, failed);
	assert_true(failed > 0);
	free(clean);
	free(t);
	loader_unload(&la);
}

static void sweep_fixture(const char *adapter, const char *fixture, size_t chunk)
{
	size_t len;
	char *data;

	need_failing_malloc();
	data = slurp(fixture, &len);

	sweep(adapter, fixture, data, len, chunk);
	free(data);
}

static void test_brp_sweep(void **state)
{
	(void)state;
	sweep_fixture("brp", "brp-npsLa01.xml", 1024);
}

static void test_huisvesting_sweep(void **state)
{
	(void)state;
	sweep_fixture("huisvesting", "huisvesting.csv", 100);
}

/* Long fields, so that libcsv's buffer and the row buffer must grow. */
static void test_huisvesting_sweep_long_fields(void **state)
{
	static const char header[] =
		"gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;"
		"huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;"
		"vergunning_nummer;vergunning_geldig_tot\n";
	char *data, *p;

	(void)state;
	need_failing_malloc();
	data = malloc(16384);
	assert_non_null(data);
	p = data + sprintf(data, "%s", header);
	for (int row = 0; row < 3; row++) {
		p += sprintf(p, "1783;1783200000000%03d;2671AB;%d;;;", row, 10 + row);
		memset(p, 'w', 300);	/* a long woonplaats */
		p += 300;
		p += sprintf(p, ";80;\"");
		for (int i = 0; i < 700; i++)	/* a long quoted gebruiksdoel */
			*p++ = (char)('a' + i % 26);
		p += sprintf(p, "\";4;V-%d;2030-01-01\n", row);
	}
	sweep("huisvesting", "long fields", data, (size_t)(p - data), 500);
	free(data);
}

static void test_inspectie_sweep(void **state)
{
	(void)state;
	sweep_fixture("inspectie", "inspectie.json", 100);
}

/* ------------------------------------------------ the host's side */

/* How the fake adapter misbehaves after its nomem(). */
enum after {
	AFTER_NOMEM,		/* returns ADAPTER_NOMEM, as it should */
	AFTER_OK,		/* returns ADAPTER_OK and reads on */
	AFTER_REFUSED,		/* returns ADAPTER_REFUSED */
	AFTER_NOMEM_ONLY,	/* no nomem(), ADAPTER_NOMEM only */
};

static enum after fake_after;

struct fake {
	struct adapter_host host;
	int fed;
};

static void *fake_open(const struct adapter_host *host)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (f != NULL)
		f->host = *host;
	return f;
}

/* One good dwelling at line n. */
static int fake_record(struct fake *f, int n)
{
	char place[32], nr[16];
	struct adapter_record r = { .kind = ADAPTER_DWELLING, .place = place };

	snprintf(place, sizeof(place), "line %d", n);
	snprintf(nr, sizeof(nr), "%d", n);
	r.address.gemeentecode = "1783";
	r.address.postcode = "2671AB";
	r.address.huisnummer = nr;
	r.u.dwelling.oppervlakte_m2 = "80";
	r.u.dwelling.gebruiksdoel = "woonfunctie";
	r.u.dwelling.max_bewoners = "4";
	return f->host.record(f->host.ctx, &r);
}

/* Each feed(): two good records, then out of memory on the third. */
static int fake_feed(void *stream, const char *buf, size_t len)
{
	struct fake *f = stream;

	(void)buf;
	(void)len;
	if (f->fed++ > 0)
		return ADAPTER_OK;
	if (fake_record(f, 2) < 0 || fake_record(f, 3) < 0)
		return ADAPTER_ABORT;
	switch (fake_after) {
	case AFTER_NOMEM:
		assert_int_equal(f->host.nomem(f->host.ctx, "line 4"), -1);
		return ADAPTER_NOMEM;
	case AFTER_OK:
		f->host.nomem(f->host.ctx, "line 4");
		fake_record(f, 5);
		f->host.reject(f->host.ctx, "line 6", "a rejection after nomem()");
		return ADAPTER_OK;
	case AFTER_REFUSED:
		f->host.nomem(f->host.ctx, "line 4");
		return ADAPTER_REFUSED;
	default:
		return ADAPTER_NOMEM;
	}
}

static int fake_finish(void *stream)
{
	(void)stream;
	return ADAPTER_OK;
}

static const char *fake_error(void *stream)
{
	(void)stream;
	return "the fake adapter refuses";
}

static void fake_close(void *stream)
{
	free(stream);
}

static const struct adapter fake_adapter = {
	.abi_version = ADAPTER_ABI_VERSION,
	.name = "fake",
	.version = "1",
	.description = "a test adapter that runs out of memory",
	.open = fake_open,
	.feed = fake_feed,
	.finish = fake_finish,
	.error = fake_error,
	.close = fake_close,
};

struct hostfx {
	char *tmp, *dir, *input;
	struct app app;
	int nrejects;
};

static int host_setup(void **state)
{
	struct hostfx *f = calloc(1, sizeof(*f));
	struct errbuf e;
	FILE *fp;

	if (f == NULL || (f->tmp = testutil_tmpdir()) == NULL ||
	    asprintf(&f->dir, "%s/data", f->tmp) < 0 ||
	    asprintf(&f->input, "%s/input.txt", f->tmp) < 0)
		return -1;
	if (app_init(f->dir, NULL, &e) != ST_OK || app_open(&f->app, f->dir, &e) != ST_OK) {
		fprintf(stderr, "app: %s\n", e.msg);
		return -1;
	}
	fp = fopen(f->input, "w");
	if (fp == NULL)
		return -1;
	fputs("anything\n", fp);
	fclose(fp);
	*state = f;
	return 0;
}

static int host_teardown(void **state)
{
	struct hostfx *f = *state;

	app_close(&f->app);
	free(f->dir);
	free(f->input);
	testutil_rmtree(f->tmp);
	free(f);
	return 0;
}

static void count_reject(void *arg, const char *place, const char *reason)
{
	struct hostfx *f = arg;

	(void)place;
	(void)reason;
	f->nrejects++;
}

static long count(struct hostfx *f, const char *sql)
{
	char *path;
	sqlite3 *db;
	sqlite3_stmt *q;
	long n = -1;

	assert_true(asprintf(&path, "%s/schakel.db", f->dir) > 0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(path);
	return n;
}

/* One ingest through the fake adapter; checks that it failed whole. */
static void host_case(struct hostfx *f, enum after after, bool one_thread, const char *place)
{
	struct loaded_adapter la = { .adapter = &fake_adapter };
	struct ingest_opts opts = { .origin = "input.txt", .on_reject = count_reject, .arg = f,
				    .one_thread = one_thread };
	struct ingest_result res;
	struct errbuf e = { 0 };
	long entries;
	enum status st;

	fake_after = after;
	f->nrejects = 0;
	st = ingest_file(&f->app, &la, f->input, &opts, &res, &e);
	assert_int_equal(st, ST_FAIL);
	assert_false(res.refused);
	assert_int_equal(res.accepted, 0);
	if (strncmp(e.msg, "out of memory", 13) != 0 || strstr(e.msg, "fake adapter") == NULL ||
	    (place != NULL && strstr(e.msg, place) == NULL))
		fail_msg("message: %s", e.msg);
	assert_int_equal(f->nrejects, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM dwelling"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM ingest"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog"), 0);	/* not even a refusal */
	assert_int_equal(exlog_verify(f->app.store, &entries, &e), ST_OK);
}

static void test_host_nomem(void **state)
{
	host_case(*state, AFTER_NOMEM, false, "line 4");
	host_case(*state, AFTER_NOMEM, true, "line 4");
}

static void test_host_nomem_then_ok(void **state)
{
	host_case(*state, AFTER_OK, false, "line 4");
	host_case(*state, AFTER_OK, true, "line 4");
}

static void test_host_nomem_then_refused(void **state)
{
	host_case(*state, AFTER_REFUSED, false, "line 4");
	host_case(*state, AFTER_REFUSED, true, "line 4");
}

static void test_host_nomem_result_only(void **state)
{
	host_case(*state, AFTER_NOMEM_ONLY, false, NULL);
	host_case(*state, AFTER_NOMEM_ONLY, true, NULL);
}

/* libxml2 would print the errors of the failed allocations. */
static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brp_sweep),
		cmocka_unit_test(test_huisvesting_sweep),
		cmocka_unit_test(test_huisvesting_sweep_long_fields),
		cmocka_unit_test(test_inspectie_sweep),
		cmocka_unit_test_setup_teardown(test_host_nomem, host_setup, host_teardown),
		cmocka_unit_test_setup_teardown(test_host_nomem_then_ok, host_setup,
						host_teardown),
		cmocka_unit_test_setup_teardown(test_host_nomem_then_refused, host_setup,
						host_teardown),
		cmocka_unit_test_setup_teardown(test_host_nomem_result_only, host_setup,
						host_teardown),
	};

	xmlSetGenericErrorFunc(NULL, quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
