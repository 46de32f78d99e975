/*
 * test_match.c - the matching rules of matching.md through the real
 * pipeline: a data directory made by app_init, the three adapters, small
 * input files, ingest_file, match_run and store_signals.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "app.h"
#include "crypto.h"
#include "ingest.h"
#include "loader.h"
#include "match.h"
#include "store.h"

#define D "2026-11-01"

#define OIN_WESTLAND "00000001000000001783"
#define OIN_VENLO "00000001000000000983"
#define OIN_NLA "00000001003214345000"
#define OIN_SILENT "00000001000000001784"

#define CSV_HEADER "gemeentecode;nummeraanduiding_id;postcode;huisnummer;huisletter;" \
	"huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;" \
	"vergunning_nummer;vergunning_geldig_tot\n"

struct fx {
	char *tmp;		/* inputs are written here */
	char *dir;		/* the data directory, TMP/data */
	struct app app;
	bool open;
	struct loaded_adapter brp, huis, insp;
	struct errbuf e;
};

/* A signal as stored, copied out of the store_signals callback. */
struct sig {
	char rule[24];
	char addr[ADDRESS_KEY_MAX], reg[ADDRESS_KEY_MAX];
	char gemeente[5], reg_gemeente[5];
	long registered, observed, oppervlakte, max_bewoners;
	bool has_person;
	uint8_t person[PSEUDONYM_LEN];
	struct evidence ev[16];
	size_t nev;
	char rec[8][21];
	size_t nrec;
};

struct sigs {
	struct sig v[32];
	size_t n;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->tmp = testutil_tmpdir()) == NULL)
		return -1;
	if (asprintf(&f->dir, "%s/data", f->tmp) < 0)
		return -1;
	if (app_init(f->dir, NULL, &f->e) != ST_OK) {
		fprintf(stderr, "app_init: %s\n", f->e.msg);
		return -1;
	}
	if (loader_load("brp", &f->brp, &f->e) != ST_OK ||
	    loader_load("huisvesting", &f->huis, &f->e) != ST_OK ||
	    loader_load("inspectie", &f->insp, &f->e) != ST_OK) {
		fprintf(stderr, "loader_load: %s\n", f->e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->open)
		app_close(&f->app);
	loader_unload(&f->brp);
	loader_unload(&f->huis);
	loader_unload(&f->insp);
	free(f->dir);
	testutil_rmtree(f->tmp);
	free(f);
	return 0;
}

/* --- files ------------------------------------------------------------ */

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static char *conf_path(struct fx *f)
{
	char *p;

	assert_true(asprintf(&p, "%s/schakel.conf", f->dir) > 0);
	return p;
}

/* Replaces the line that is exactly old in DIR/schakel.conf with new. */
static void conf_replace(struct fx *f, const char *old, const char *new)
{
	char *path = conf_path(f), *text = read_text(path), *at, *out, needle[256];

	snprintf(needle, sizeof(needle), "\n%s\n", old);
	at = strstr(text, needle);
	if (at == NULL)
		fail_msg("schakel.conf has no line '%s'", old);
	assert_true(asprintf(&out, "%.*s\n%s\n%s", (int)(at - text), text, new,
			     at + strlen(needle)) > 0);
	write_text(path, out);
	free(out);
	free(text);
	free(path);
}

static void conf_append(struct fx *f, const char *more)
{
	char *path = conf_path(f), *text = read_text(path), *out;

	assert_true(asprintf(&out, "%s\n%s", text, more) > 0);
	write_text(path, out);
	free(out);
	free(text);
	free(path);
}

static void open_app(struct fx *f)
{
	if (app_open(&f->app, f->dir, &f->e) != ST_OK)
		fail_msg("app_open: %s", f->e.msg);
	f->open = true;
}

/* Writes text to TMP/name and ingests it; returns the status. */
static enum status ingest_text(struct fx *f, struct loaded_adapter *la, const char *name,
			       const char *text, struct ingest_result *res)
{
	struct ingest_opts opts = { .origin = name };
	char *path;
	enum status st;

	assert_true(asprintf(&path, "%s/%s", f->tmp, name) > 0);
	write_text(path, text);
	st = ingest_file(&f->app, la, path, &opts, res, &f->e);
	free(path);
	return st;
}

/* Ingests text that must be accepted whole. */
static void ingest_ok(struct fx *f, struct loaded_adapter *la, const char *name,
		      const char *text)
{
	struct ingest_result res;

	if (ingest_text(f, la, name, text, &res) != ST_OK)
		fail_msg("ingest %s: %s", name, f->e.msg);
	assert_int_equal(res.rejected, 0);
}

static enum status ingest_fixture(struct fx *f, struct loaded_adapter *la, const char *name,
				  struct ingest_result *res)
{
	struct ingest_opts opts = { .origin = name };
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	return ingest_file(&f->app, la, path, &opts, res, &f->e);
}

/* Ingests the four fixture files. */
static void ingest_fixtures(struct fx *f)
{
	struct ingest_result res;

	assert_int_equal(ingest_fixture(f, &f->brp, "brp-npsLa01.xml", &res), ST_REJECTED);
	assert_int_equal(res.accepted, 8);
	assert_int_equal(res.rejected, 1);
	if (ingest_fixture(f, &f->brp, "brp-venlo-npsLa01.xml", &res) != ST_OK ||
	    ingest_fixture(f, &f->huis, "huisvesting.csv", &res) != ST_OK ||
	    ingest_fixture(f, &f->insp, "inspectie.json", &res) != ST_OK)
		fail_msg("ingest fixture: %s", f->e.msg);
}

/* --- input builders ---------------------------------------------------- */

/* The i-th BSN (from 0) of a series that passes the elfproef. */
static void bsn(int i, char out[10])
{
	for (unsigned p = 10000000; p < 99999999; p++) {
		unsigned q = p;
		int sum = 0, check;

		for (int k = 7; k >= 0; k--) {
			out[k] = (char)('0' + q % 10);
			sum += (9 - k) * (int)(q % 10);
			q /= 10;
		}
		check = sum % 11;
		if (check == 10)
			continue;
		if (i-- == 0) {
			out[8] = (char)('0' + check);
			out[9] = '\0';
			return;
		}
	}
	fail_msg("no BSN number %d", i);
}

struct person {
	int bsn;		/* index for bsn() */
	const char *gemeente, *postcode, *nr, *letter, *toev;
	const char *begin;	/* yyyymmdd */
};

/* A StUF-BG npsLa01 answer with one object per person. */
static char *brp_xml(const struct person *p, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\"\n"
	      "            xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">\n"
	      "  <BG:stuurgegevens>\n"
	      "    <StUF:berichtcode>La01</StUF:berichtcode>\n"
	      "    <StUF:tijdstipBericht>20261101080000000</StUF:tijdstipBericht>\n"
	      "    <StUF:entiteittype>NPS</StUF:entiteittype>\n"
	      "  </BG:stuurgegevens>\n"
	      "  <BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag>"
	      "</BG:parameters>\n"
	      "  <BG:antwoord>\n", m);
	for (size_t i = 0; i < n; i++) {
		char b[10];

		bsn(p[i].bsn, b);
		fprintf(m, "    <BG:object StUF:entiteittype=\"NPS\">\n"
			"      <BG:inp.bsn>%s</BG:inp.bsn>\n"
			"      <BG:verblijfsadres>\n"
			"        <BG:aoa.postcode>%s</BG:aoa.postcode>\n"
			"        <BG:aoa.huisnummer>%s</BG:aoa.huisnummer>\n", b,
			p[i].postcode, p[i].nr);
		if (p[i].letter != NULL)
			fprintf(m, "        <BG:aoa.huisletter>%s</BG:aoa.huisletter>\n",
				p[i].letter);
		if (p[i].toev != NULL)
			fprintf(m, "        <BG:aoa.huisnummertoevoeging>%s"
				"</BG:aoa.huisnummertoevoeging>\n", p[i].toev);
		fprintf(m, "        <BG:begindatumVerblijf>%s</BG:begindatumVerblijf>\n"
			"      </BG:verblijfsadres>\n"
			"      <BG:inp.gemeenteVanInschrijving>%s</BG:inp.gemeenteVanInschrijving>\n"
			"    </BG:object>\n", p[i].begin, p[i].gemeente);
	}
	fputs("  </BG:antwoord>\n</BG:npsLa01>\n", m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void ingest_persons(struct fx *f, const struct person *p, size_t n)
{
	char *xml = brp_xml(p, n);

	ingest_ok(f, &f->brp, "brp.xml", xml);
	free(xml);
}

struct finding {
	const char *id, *datum, *soort, *gemeente, *postcode, *nr, *letter, *toev;
	int aangetroffen;
	int persons[4];		/* bsn() indexes, -1 ends */
};

static char *inspectie_json(const struct finding *fi, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(m);
	fputs("{\n  \"bevindingen\": [\n", m);
	for (size_t i = 0; i < n; i++) {
		fprintf(m, "    %s{\"id\": \"%s\", \"datum\": \"%s\", \"soort\": \"%s\",\n"
			"     \"adres\": {\"gemeentecode\": \"%s\", \"postcode\": \"%s\","
			" \"huisnummer\": %s", i > 0 ? "," : "", fi[i].id, fi[i].datum,
			fi[i].soort != NULL ? fi[i].soort : "huisvesting", fi[i].gemeente,
			fi[i].postcode, fi[i].nr);
		if (fi[i].letter != NULL)
			fprintf(m, ", \"huisletter\": \"%s\"", fi[i].letter);
		if (fi[i].toev != NULL)
			fprintf(m, ", \"huisnummertoevoeging\": \"%s\"", fi[i].toev);
		fprintf(m, "},\n     \"aangetroffen_personen\": %d, \"personen\": [",
			fi[i].aangetroffen);
		for (int k = 0; k < 4 && fi[i].persons[k] >= 0; k++) {
			char b[10];

			bsn(fi[i].persons[k], b);
			fprintf(m, "%s{\"bsn\": \"%s\"}", k > 0 ? ", " : "", b);
		}
		fputs("]}\n", m);
	}
	fputs("  ],\n  \"volgende\": null\n}\n", m);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void ingest_findings(struct fx *f, const struct finding *fi, size_t n)
{
	char *json = inspectie_json(fi, n);

	ingest_ok(f, &f->insp, "inspectie.json", json);
	free(json);
}

static void ingest_csv_rows(struct fx *f, const char *rows)
{
	char *csv;

	assert_true(asprintf(&csv, "%s%s", CSV_HEADER, rows) > 0);
	ingest_ok(f, &f->huis, "huisvesting.csv", csv);
	free(csv);
}

/* --- matching and signals -------------------------------------------- */

static struct match_result run_match(struct fx *f, const char *as_of)
{
	struct match_result res;

	if (match_run(&f->app, as_of, &res, NULL, NULL, &f->e) != ST_OK)
		fail_msg("match_run: %s", f->e.msg);
	return res;
}

static int collect(void *arg, const struct signal *s)
{
	struct sigs *all = arg;
	struct sig *c;

	if (all->n == sizeof(all->v) / sizeof(all->v[0]))
		return 1;
	c = &all->v[all->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->rule, sizeof(c->rule), "%s", s->rule);
	address_key(&s->address, c->addr);
	memcpy(c->gemeente, s->address.gemeentecode, sizeof(c->gemeente));
	c->registered = s->registered;
	c->observed = s->observed;
	c->oppervlakte = s->oppervlakte;
	c->max_bewoners = s->max_bewoners;
	c->has_person = s->has_person;
	if (s->has_person) {
		memcpy(c->person, s->person, PSEUDONYM_LEN);
		address_key(&s->registered_address, c->reg);
		memcpy(c->reg_gemeente, s->registered_address.gemeentecode,
		       sizeof(c->reg_gemeente));
	}
	for (size_t i = 0; i < s->nevidence && i < 16; i++)
		c->ev[c->nev++] = s->evidence[i];
	for (size_t i = 0; i < s->nrecipients && i < 8; i++)
		memcpy(c->rec[c->nrec++], s->recipients[i], 21);
	return 0;
}

static void signals(struct fx *f, const char *rule, const char *recipient, struct sigs *out)
{
	struct signal_filter filter = { .rule = rule, .recipient = recipient };

	out->n = 0;
	if (store_signals(f->app.store, &filter, collect, out, &f->e) != ST_OK)
		fail_msg("store_signals: %s", f->e.msg);
}

static const struct sig *find(const struct sigs *all, const char *rule, const char *addr)
{
	for (size_t i = 0; i < all->n; i++)
		if (strcmp(all->v[i].rule, rule) == 0 && strcmp(all->v[i].addr, addr) == 0)
			return &all->v[i];
	return NULL;
}

static size_t count_rule(const struct sigs *all, const char *rule)
{
	size_t n = 0;

	for (size_t i = 0; i < all->n; i++)
		n += strcmp(all->v[i].rule, rule) == 0;
	return n;
}

/* Fails listing every stored signal. */
static void dump_fail(const struct sigs *all, const char *why)
{
	char text[4096] = "";

	for (size_t i = 0; i < all->n; i++) {
		size_t len = strlen(text);

		snprintf(text + len, sizeof(text) - len, "\n  %s %s (reg %ld, obs %ld)",
			 all->v[i].rule, all->v[i].addr, all->v[i].registered,
			 all->v[i].observed);
	}
	fail_msg("%s; signals:%s", why, text);
}

/* Asserts that the signals are exactly the (rule, address) pairs given. */
static void assert_exactly(const struct sigs *all, const char *const pairs[][2], size_t n)
{
	char why[256];

	for (size_t i = 0; i < n; i++)
		if (find(all, pairs[i][0], pairs[i][1]) == NULL) {
			snprintf(why, sizeof(why), "no %s at %s", pairs[i][0], pairs[i][1]);
			dump_fail(all, why);
		}
	if (all->n != n) {
		snprintf(why, sizeof(why), "%zu signals, expected %zu", all->n, n);
		dump_fail(all, why);
	}
}

static bool has_evidence(const struct sig *s, const char *source, const char *record)
{
	for (size_t i = 0; i < s->nev; i++)
		if (strcmp(s->ev[i].source, source) == 0 && strcmp(s->ev[i].record, record) == 0)
			return true;
	return false;
}

static bool has_recipient(const struct sig *s, const char *oin)
{
	for (size_t i = 0; i < s->nrec; i++)
		if (strcmp(s->rec[i], oin) == 0)
			return true;
	return false;
}

/* --- window ------------------------------------------------------------ */

static void test_window_excludes_exact_start_and_after_as_of(void **state)
{
	struct fx *f = *state;
	/* D - 365 = 2025-11-01: excluded; 2025-11-02 included; D included; D+1 excluded */
	const struct finding fi[] = {
		{ "F1", "2025-11-01", NULL, "1783", "1000AA", "1", NULL, NULL, 2, { -1 } },
		{ "F2", "2025-11-02", NULL, "1783", "1000AA", "2", NULL, NULL, 2, { -1 } },
		{ "F3", "2026-11-02", NULL, "1783", "1000AA", "3", NULL, NULL, 2, { -1 } },
		{ "F4", D, NULL, "1783", "1000AA", "4", NULL, NULL, 2, { -1 } },
		{ "F5", "2026-10-01", "werkplek", "1783", "1000AA", "5", NULL, NULL, 2, { -1 } },
	};
	const char *const want[][2] = {
		{ "OVERBEWONING", "1000AA|2||" },
		{ "OVERBEWONING", "1000AA|4||" },
	};
	struct sigs all;

	open_app(f);
	/* 12 m2 each: room for one */
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;12;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;12;woonfunctie;;;\n"
			"1783;;1000AA;3;;;X;12;woonfunctie;;;\n"
			"1783;;1000AA;4;;;X;12;woonfunctie;;;\n"
			"1783;;1000AA;5;;;X;12;woonfunctie;;;\n");
	ingest_findings(f, fi, 5);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 2);
	assert_int_equal(find(&all, "OVERBEWONING", "1000AA|2||")->observed, 2);
	assert_int_equal(find(&all, "OVERBEWONING", "1000AA|2||")->oppervlakte, 12);
}

static void test_window_days_setting_moves_the_window(void **state)
{
	struct fx *f = *state;
	const struct finding fi[] = {
		{ "F1", "2026-10-02", NULL, "1783", "1000AA", "1", NULL, NULL, 2, { -1 } },
		{ "F2", "2026-10-03", NULL, "1783", "1000AA", "2", NULL, NULL, 2, { -1 } },
	};
	const char *const want[][2] = { { "OVERBEWONING", "1000AA|2||" } };
	struct sigs all;

	conf_replace(f, "window_days = 365", "window_days = 30");
	open_app(f);
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;12;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;12;woonfunctie;;;\n");
	ingest_findings(f, fi, 2);
	run_match(f, D);	/* D - 30 = 2026-10-02 */
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
}

/* --- OVERBEWONING ------------------------------------------------------ */

static void test_overbewoning_uses_floor_of_area_per_person(void **state)
{
	struct fx *f = *state;
	struct person p[16];
	size_t n = 0;
	const char *const want[][2] = {
		{ "OVERBEWONING", "1000AA|2||" },
		{ "OVERBEWONING", "1000AA|3||" },
	};
	struct sigs all;
	const struct sig *s;

	/* 4 on 48 m2 (at most 4), 5 on 48 m2, 1 on 11 m2 (at most 0), 1 on 12 m2 */
	for (int i = 0; i < 4; i++)
		p[n++] = (struct person){ n, "1783", "1000AA", "1", NULL, NULL, "20200101" };
	for (int i = 0; i < 5; i++)
		p[n++] = (struct person){ n, "1783", "1000AA", "2", NULL, NULL, "20200101" };
	p[n++] = (struct person){ n, "1783", "1000AA", "3", NULL, NULL, "20200101" };
	p[n++] = (struct person){ n, "1783", "1000AA", "4", NULL, NULL, "20200101" };
	open_app(f);
	ingest_persons(f, p, n);
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;48;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;48;woonfunctie;;;\n"
			"1783;;1000AA;3;;;X;11;woonfunctie;;;\n"
			"1783;;1000AA;4;;;X;12;woonfunctie;;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 2);
	s = find(&all, "OVERBEWONING", "1000AA|2||");
	assert_int_equal(s->registered, 5);
	assert_int_equal(s->observed, 0);
	assert_int_equal(s->oppervlakte, 48);
	assert_int_equal(s->max_bewoners, -1);
	s = find(&all, "OVERBEWONING", "1000AA|3||");
	assert_int_equal(s->registered, 1);
	assert_int_equal(s->oppervlakte, 11);
}

static void test_overbewoning_m2_per_person_setting(void **state)
{
	struct fx *f = *state;
	const struct person p[] = {
		{ 0, "1783", "1000AA", "1", NULL, NULL, "20200101" },
		{ 1, "1783", "1000AA", "1", NULL, NULL, "20200101" },
	};
	const char *const want[][2] = { { "OVERBEWONING", "1000AA|1||" } };
	struct sigs all;

	/* 2 persons on 40 m2: fine at 12 m2 each (3), too many at 25 m2 each (1) */
	conf_replace(f, "m2_per_person = 12", "m2_per_person = 25");
	open_app(f);
	ingest_persons(f, p, 2);
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;40;woonfunctie;;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
}

static void test_overbewoning_by_max_bewoners_alone(void **state)
{
	struct fx *f = *state;
	struct person p[16];
	size_t n = 0;
	const char *const want[][2] = {
		{ "OVERBEWONING", "1000AA|1||" },
		{ "OVERBEWONING", "1000AA|3||" },
	};
	struct sigs all;
	const struct sig *s;

	for (int a = 1; a <= 3; a++)
		for (int i = 0; i < 3; i++)
			p[n++] = (struct person){ n, "1783", "1000AA", a == 1 ? "1" : a == 2 ? "2" : "3",
						  NULL, NULL, "20200101" };
	open_app(f);
	ingest_persons(f, p, n);
	/* 1: no area, max 2; 2: no area, max 3; 3: ample area, max 2 */
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;;woonfunctie;2;;\n"
			"1783;;1000AA;2;;;X;;woonfunctie;3;;\n"
			"1783;;1000AA;3;;;X;1000;woonfunctie;2;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 2);
	s = find(&all, "OVERBEWONING", "1000AA|1||");
	assert_int_equal(s->oppervlakte, -1);
	assert_int_equal(s->max_bewoners, 2);
	assert_int_equal(s->registered, 3);
}

/* --- current registration ---------------------------------------------- */

static void test_move_current_registration_is_latest_not_after_as_of(void **state)
{
	struct fx *f = *state;
	/* the newer registration comes first in the file */
	const struct person p[] = {
		{ 0, "1783", "1000AA", "2", NULL, NULL, "20250101" },
		{ 0, "1783", "1000AA", "1", NULL, NULL, "20200101" },
	};
	const char *const want[][2] = { { "OVERBEWONING", "1000AA|2||" } };
	struct match_result res;
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 2);
	/* 11 m2: room for nobody, so any registered person raises a signal */
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;11;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;11;woonfunctie;;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
	assert_int_equal(all.v[0].registered, 1);
	/* before the move the person counted at the old address only */
	res = run_match(f, "2024-06-01");
	assert_int_equal(res.raised, 1);
	assert_int_equal(res.created, 1);
	signals(f, NULL, NULL, &all);
	assert_int_equal(all.n, 2);
	assert_string_equal(all.v[1].addr, "1000AA|1||");
	assert_int_equal(all.v[1].registered, 1);
}

static void test_future_registration_is_ignored(void **state)
{
	struct fx *f = *state;
	const struct person p[] = {
		{ 0, "1783", "1000AA", "1", NULL, NULL, "20200101" },
		{ 0, "1783", "1000AA", "2", NULL, NULL, "20270101" },
	};
	const char *const want[][2] = { { "OVERBEWONING", "1000AA|1||" } };
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 2);
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;11;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;11;woonfunctie;;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
	assert_int_equal(all.v[0].registered, 1);
}

static void test_registration_starting_on_as_of_is_current(void **state)
{
	struct fx *f = *state;
	const struct person p[] = {
		{ 0, "1783", "1000AA", "1", NULL, NULL, "20200101" },
		{ 0, "1783", "1000AA", "2", NULL, NULL, "20261101" },
	};
	const char *const want[][2] = { { "OVERBEWONING", "1000AA|2||" } };
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 2);
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;11;woonfunctie;;;\n"
			"1783;;1000AA;2;;;X;11;woonfunctie;;;\n");
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
}

/* --- ONDERREGISTRATIE --------------------------------------------------- */

static void test_onderregistratie_only_where_gemeente_delivers_brp(void **state)
{
	struct fx *f = *state;
	const struct person p[] = { { 0, "1783", "2000BB", "9", NULL, NULL, "20200101" } };
	const struct finding fi[] = {
		{ "F1", "2026-10-01", NULL, "0599", "3000AA", "1", NULL, NULL, 5, { -1 } },
		{ "F2", "2026-10-01", NULL, "1783", "2000AA", "1", NULL, NULL, 5, { -1 } },
	};
	const char *const want[][2] = { { "ONDERREGISTRATIE", "2000AA|1||" } };
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 1);
	ingest_findings(f, fi, 2);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
	assert_int_equal(all.v[0].observed, 5);
	assert_int_equal(all.v[0].registered, 0);
}

static void test_onderregistratie_needs_min_gap(void **state)
{
	struct fx *f = *state;
	const struct person p[] = {
		{ 0, "1783", "2000AA", "1", NULL, NULL, "20200101" },
		{ 1, "1783", "2000AA", "2", NULL, NULL, "20200101" },
	};
	const struct finding fi[] = {
		{ "F1", "2026-10-01", NULL, "1783", "2000AA", "1", NULL, NULL, 2, { -1 } },
		{ "F2", "2026-10-01", NULL, "1783", "2000AA", "2", NULL, NULL, 3, { -1 } },
	};
	const char *const want[][2] = { { "ONDERREGISTRATIE", "2000AA|2||" } };
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 2);
	ingest_findings(f, fi, 2);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 1);
}

/* --- GEEN_VERGUNNING ----------------------------------------------------- */

static void test_permit_valid_through_its_last_day(void **state)
{
	struct fx *f = *state;
	const struct finding fi[] = {
		{ "F1", "2026-10-01", NULL, "1783", "1000AA", "1", NULL, NULL, 4, { -1 } },
		{ "F2", "2026-10-01", NULL, "1783", "1000AA", "2", NULL, NULL, 4, { -1 } },
		{ "F3", "2026-10-01", NULL, "1783", "1000AA", "3", NULL, NULL, 4, { -1 } },
		{ "F4", "2026-10-01", NULL, "1783", "1000AA", "4", NULL, NULL, 4, { -1 } },
		{ "F5", "2026-10-01", NULL, "1783", "1000AA", "5", NULL, NULL, 3, { -1 } },
		{ "F6", "2026-10-01", NULL, "0983", "5000AA", "1", NULL, NULL, 9, { -1 } },
	};
	const char *const want[][2] = {
		{ "GEEN_VERGUNNING", "1000AA|2||" },
		{ "GEEN_VERGUNNING", "1000AA|3||" },
	};
	struct sigs all;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	/* 1: valid until D; 2: until D-1; 3: no permit; 4: until next year; 5: too few */
	ingest_csv_rows(f, "1783;;1000AA;1;;;X;;woonfunctie;;V-1;2026-11-01\n"
			"1783;;1000AA;2;;;X;;woonfunctie;;V-2;2026-10-31\n"
			"1783;;1000AA;3;;;X;;woonfunctie;;;\n"
			"1783;;1000AA;4;;;X;;woonfunctie;;V-4;2027-01-01\n"
			"1783;;1000AA;5;;;X;;woonfunctie;;;\n"
			"0983;;5000AA;1;;;X;;woonfunctie;;;\n");
	ingest_findings(f, fi, 6);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 2);
}

static void test_geen_vergunning_silent_without_gemeenten(void **state)
{
	struct fx *f = *state;
	const struct finding fi[] = {
		{ "F1", "2026-10-01", NULL, "1783", "1000AA", "3", NULL, NULL, 9, { -1 } },
	};
	struct sigs all;

	open_app(f);
	ingest_csv_rows(f, "1783;;1000AA;3;;;X;;woonfunctie;;;\n");
	ingest_findings(f, fi, 1);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_int_equal(all.n, 0);
}

/* --- addresses ------------------------------------------------------------ */

static void test_address_written_differently_in_each_source_matches(void **state)
{
	struct fx *f = *state;
	const struct person p[] = { { 0, "1783", "2671 ab", "10", "a", "-2", "20200101" } };
	const struct finding fi[] = {
		{ "F1", "2026-10-01", NULL, "1783", "2671ab", "10", " A", "2", 3, { -1 } },
	};
	struct match_result res;
	struct sigs all;
	const struct sig *s;

	open_app(f);
	ingest_persons(f, p, 1);
	ingest_csv_rows(f, "1783;;2671AB;10;A;2;X;24;woonfunctie;;;\n");
	ingest_findings(f, fi, 1);
	res = run_match(f, D);
	assert_int_equal(res.addresses, 1);
	signals(f, NULL, NULL, &all);
	s = find(&all, "OVERBEWONING", "2671AB|10|A|2");
	if (s == NULL)
		dump_fail(&all, "no OVERBEWONING at 2671AB|10|A|2");
	/* one person from the BRP, three from the finding, 24 m2 from the register */
	assert_int_equal(s->registered, 1);
	assert_int_equal(s->observed, 3);
	assert_int_equal(s->oppervlakte, 24);
	for (size_t i = 0; i < all.n; i++)
		assert_string_equal(all.v[i].addr, "2671AB|10|A|2");
}

/* --- ADRES_AFWIJKING ------------------------------------------------------ */

static void test_adres_afwijking_names_pseudonym_and_registered_address(void **state)
{
	struct fx *f = *state;
	/* 0 registered in Venlo; 1 registered at the address itself; 2 nowhere */
	const struct person p[] = {
		{ 0, "0983", "5911AB", "20", NULL, NULL, "20250110" },
		{ 1, "1783", "2672XY", "7", NULL, NULL, "20230901" },
	};
	const struct finding fi[] = {
		{ "NLA-1", "2026-10-15", NULL, "1783", "2672XY", "7", NULL, NULL, 3, { 0, 1, 2, -1 } },
	};
	struct sigs all;
	const struct sig *s;
	uint8_t want[PSEUDONYM_LEN];
	char b[10], hex[2 * PSEUDONYM_LEN + 1], rec[96];

	open_app(f);
	ingest_persons(f, p, 2);
	ingest_findings(f, fi, 1);
	run_match(f, D);
	signals(f, "ADRES_AFWIJKING", NULL, &all);
	if (all.n != 1)
		dump_fail(&all, "expected one ADRES_AFWIJKING");
	s = &all.v[0];
	assert_string_equal(s->addr, "2672XY|7||");
	assert_string_equal(s->gemeente, "1783");
	assert_true(s->has_person);
	bsn(0, b);
	crypto_pseudonym(&f->app.keys, b, want);
	assert_memory_equal(s->person, want, PSEUDONYM_LEN);
	assert_string_equal(s->reg, "5911AB|20||");
	assert_string_equal(s->reg_gemeente, "0983");
	assert_int_equal(s->registered, 1);
	assert_int_equal(s->observed, 3);
	assert_true(has_evidence(s, "inspectie", "NLA-1"));
	crypto_hex(want, PSEUDONYM_LEN, hex);
	snprintf(rec, sizeof(rec), "%s/2025-01-10", hex);
	assert_true(has_evidence(s, "brp", rec));
}

static void test_person_without_brp_registration_raises_nothing(void **state)
{
	struct fx *f = *state;
	/* the gemeente delivers BRP data, but not for persons 1 and 2 */
	const struct person p[] = { { 0, "1783", "2000BB", "9", NULL, NULL, "20200101" } };
	const struct finding fi[] = {
		{ "NLA-1", "2026-10-15", NULL, "1783", "2672XY", "7", NULL, NULL, 2, { 1, 2, -1 } },
	};
	struct sigs all;

	open_app(f);
	ingest_persons(f, p, 1);
	ingest_findings(f, fi, 1);
	run_match(f, D);
	signals(f, "ADRES_AFWIJKING", NULL, &all);
	assert_int_equal(all.n, 0);
}

/* --- idempotency ----------------------------------------------------------- */

static void test_match_twice_same_day_creates_nothing_new(void **state)
{
	struct fx *f = *state;
	struct match_result res;
	struct sigs all;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	res = run_match(f, D);
	assert_int_equal(res.raised, 6);
	assert_int_equal(res.created, 6);
	res = run_match(f, D);
	assert_int_equal(res.raised, 6);
	assert_int_equal(res.created, 0);
	signals(f, NULL, NULL, &all);
	assert_int_equal(all.n, 6);
}

static void test_reingest_changes_no_records(void **state)
{
	struct fx *f = *state;
	static const char *const files[] = {
		"brp-npsLa01.xml", "brp-venlo-npsLa01.xml", "huisvesting.csv", "inspectie.json",
	};
	struct loaded_adapter *las[] = { &f->brp, &f->brp, &f->huis, &f->insp };
	struct ingest_result res;
	struct match_result mr;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	for (size_t i = 0; i < 4; i++) {
		enum status st = ingest_fixture(f, las[i], files[i], &res);

		assert_int_equal(st, i == 0 ? ST_REJECTED : ST_OK);
		assert_true(res.accepted > 0);
		if (res.changed != 0)
			fail_msg("re-ingesting %s changed %ld records", files[i], res.changed);
	}
	mr = run_match(f, D);
	assert_int_equal(mr.created, 0);
	assert_int_equal(mr.raised, 6);
}

/* --- the fixtures ----------------------------------------------------------- */

static void test_fixtures_raise_the_six_expected_signals(void **state)
{
	struct fx *f = *state;
	const char *const want[][2] = {
		{ "OVERBEWONING", "2671AB|10||" },
		{ "OVERBEWONING", "5911AA|1||2" },
		{ "ONDERREGISTRATIE", "2671AB|10||" },
		{ "ONDERREGISTRATIE", "2672XY|7||" },
		{ "ADRES_AFWIJKING", "2672XY|7||" },
		{ "GEEN_VERGUNNING", "2671AC|3|A|" },
	};
	struct sigs all;
	const struct sig *s;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_exactly(&all, want, 6);
	s = find(&all, "OVERBEWONING", "2671AB|10||");
	assert_int_equal(s->registered, 2);
	assert_int_equal(s->observed, 9);
	assert_int_equal(s->oppervlakte, 48);
	s = find(&all, "OVERBEWONING", "5911AA|1||2");
	assert_int_equal(s->registered, 3);
	assert_int_equal(s->oppervlakte, 30);
	s = find(&all, "ADRES_AFWIJKING", "2672XY|7||");
	assert_string_equal(s->reg, "5911AB|20||");
	s = find(&all, "GEEN_VERGUNNING", "2671AC|3|A|");
	assert_int_equal(s->observed, 5);
}

static void test_overbewoning_evidence_names_finding_and_dwelling(void **state)
{
	struct fx *f = *state;
	struct sigs all;
	const struct sig *s;
	size_t brp = 0;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	signals(f, "OVERBEWONING", NULL, &all);
	s = find(&all, "OVERBEWONING", "2671AB|10||");
	assert_non_null(s);
	assert_true(has_evidence(s, "inspectie", "NLA-2026-000101"));
	assert_true(has_evidence(s, "huisvesting", "2671AB 10"));
	for (size_t i = 0; i < s->nev; i++) {
		brp += strcmp(s->ev[i].source, "brp") == 0;
		/* findings at other addresses, or outside the window, are no evidence */
		assert_string_not_equal(s->ev[i].record, "NLA-2025-000877");
		assert_string_not_equal(s->ev[i].record, "NLA-2026-000102");
	}
	assert_int_equal(brp, 2);
	assert_int_equal(s->nev, 4);
}

/* --- routing ---------------------------------------------------------------- */

static void assert_recipients(const struct sigs *all, const char *rule, const char *addr,
			      const char *const *oins, size_t n)
{
	const struct sig *s = find(all, rule, addr);

	if (s == NULL)
		fail_msg("no %s at %s", rule, addr);
	for (size_t i = 0; i < n; i++)
		if (!has_recipient(s, oins[i]))
			fail_msg("%s at %s does not go to %s", rule, addr, oins[i]);
	if (s->nrec != n)
		fail_msg("%s at %s goes to %zu parties, expected %zu", rule, addr, s->nrec, n);
}

static void test_recipients_follow_routing(void **state)
{
	struct fx *f = *state;
	const char *const w_nla[] = { OIN_WESTLAND, OIN_NLA };
	const char *const v_nla[] = { OIN_VENLO, OIN_NLA };
	const char *const all3[] = { OIN_WESTLAND, OIN_VENLO, OIN_NLA };
	const char *const w[] = { OIN_WESTLAND };
	struct sigs all, mine;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	conf_append(f,
		"[party." OIN_WESTLAND "]\nname = Gemeente Westland\ngemeenten = 1783\n"
		"receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING, GEEN_VERGUNNING\n"
		"receive_bsn = true\n"
		"[party." OIN_VENLO "]\nname = Gemeente Venlo\ngemeenten = 0983\n"
		"receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING\n"
		"[party." OIN_NLA "]\nname = Nederlandse Arbeidsinspectie\n"
		"receives = OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING\n"
		"[party." OIN_SILENT "]\nname = Zonder rechten\ngemeenten = 1783\n");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_int_equal(all.n, 6);
	assert_recipients(&all, "OVERBEWONING", "2671AB|10||", w_nla, 2);
	assert_recipients(&all, "OVERBEWONING", "5911AA|1||2", v_nla, 2);
	assert_recipients(&all, "ONDERREGISTRATIE", "2671AB|10||", w_nla, 2);
	assert_recipients(&all, "ONDERREGISTRATIE", "2672XY|7||", w_nla, 2);
	/* found in Westland, registered in Venlo: both hear of it */
	assert_recipients(&all, "ADRES_AFWIJKING", "2672XY|7||", all3, 3);
	/* the inspectorate does not receive this rule */
	assert_recipients(&all, "GEEN_VERGUNNING", "2671AC|3|A|", w, 1);
	signals(f, NULL, OIN_WESTLAND, &mine);
	assert_int_equal(mine.n, 5);	/* all but the one in Venlo */
	signals(f, NULL, OIN_VENLO, &mine);
	assert_int_equal(mine.n, 2);
	signals(f, NULL, OIN_NLA, &mine);
	assert_int_equal(mine.n, 5);
	signals(f, NULL, OIN_SILENT, &mine);
	assert_int_equal(mine.n, 0);
}

static void test_no_parties_no_recipients(void **state)
{
	struct fx *f = *state;
	struct sigs all;

	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_int_equal(all.n, 6);
	for (size_t i = 0; i < all.n; i++)
		assert_int_equal(all.v[i].nrec, 0);
}

static void test_disabled_rule_raises_nothing(void **state)
{
	struct fx *f = *state;
	struct sigs all;
	char *path = conf_path(f), *text = read_text(path), *at;

	/* the first "enabled = true" is that of [rule.OVERBEWONING] */
	at = strstr(text, "[rule.OVERBEWONING]");
	assert_non_null(at);
	at = strstr(at, "enabled = true");
	assert_non_null(at);
	memcpy(at, "enabled = no  ", 14);
	write_text(path, text);
	free(text);
	free(path);
	conf_replace(f, "gemeenten =", "gemeenten = 1783");
	open_app(f);
	ingest_fixtures(f);
	run_match(f, D);
	signals(f, NULL, NULL, &all);
	assert_int_equal(count_rule(&all, "OVERBEWONING"), 0);
	assert_int_equal(all.n, 4);
}

static void test_bad_as_of_is_a_usage_error(void **state)
{
	struct fx *f = *state;
	struct match_result res;

	open_app(f);
	assert_int_equal(match_run(&f->app, "2026-02-30", &res, NULL, NULL, &f->e), ST_USAGE);
	assert_int_equal(match_run(&f->app, "", &res, NULL, NULL, &f->e), ST_USAGE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_window_excludes_exact_start_and_after_as_of),
		T(test_window_days_setting_moves_the_window),
		T(test_overbewoning_uses_floor_of_area_per_person),
		T(test_overbewoning_m2_per_person_setting),
		T(test_overbewoning_by_max_bewoners_alone),
		T(test_move_current_registration_is_latest_not_after_as_of),
		T(test_future_registration_is_ignored),
		T(test_registration_starting_on_as_of_is_current),
		T(test_onderregistratie_only_where_gemeente_delivers_brp),
		T(test_onderregistratie_needs_min_gap),
		T(test_permit_valid_through_its_last_day),
		T(test_geen_vergunning_silent_without_gemeenten),
		T(test_address_written_differently_in_each_source_matches),
		T(test_adres_afwijking_names_pseudonym_and_registered_address),
		T(test_person_without_brp_registration_raises_nothing),
		T(test_match_twice_same_day_creates_nothing_new),
		T(test_reingest_changes_no_records),
		T(test_fixtures_raise_the_six_expected_signals),
		T(test_overbewoning_evidence_names_finding_and_dwelling),
		T(test_recipients_follow_routing),
		T(test_no_parties_no_recipients),
		T(test_disabled_rule_raises_nothing),
		T(test_bad_as_of_is_a_usage_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
