/*
 * test_ingest.c - the ingest pipeline on a real data directory: inputs
 * refused whole leave nothing behind but a log entry, bad records are
 * rejected alone, re-ingesting changes nothing, hostile XML is refused
 * fast, and no BSN is ever written in clear.
 */
#include "testutil.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "app.h"
#include "exlog.h"
#include "ingest.h"
#include "loader.h"
#include "match.h"

struct fx {
	char *tmp;		/* inputs are written here */
	char *dir;		/* the data directory, TMP/data */
	char *db;		/* DIR/schakel.db */
	struct app app;
	bool open;
	struct loaded_adapter brp, huis, insp;
	struct errbuf e;
	/* on_reject calls */
	int nrejects;
	char reject_place[256], reject_reason[512];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->tmp = testutil_tmpdir()) == NULL)
		return -1;
	if (asprintf(&f->dir, "%s/data", f->tmp) < 0 || asprintf(&f->db, "%s/schakel.db", f->dir) < 0)
		return -1;
	if (app_init(f->dir, NULL, &f->e) != ST_OK || app_open(&f->app, f->dir, &f->e) != ST_OK) {
		fprintf(stderr, "app: %s\n", f->e.msg);
		return -1;
	}
	f->open = true;
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
	free(f->db);
	free(f->dir);
	testutil_rmtree(f->tmp);
	free(f);
	return 0;
}

static void on_reject(void *arg, const char *place, const char *reason)
{
	struct fx *f = arg;

	f->nrejects++;
	snprintf(f->reject_place, sizeof(f->reject_place), "%s", place);
	snprintf(f->reject_reason, sizeof(f->reject_reason), "%s", reason);
}

/* --- files and counts ---------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
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
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static char *fixture(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	return read_file(path, NULL);
}

/* Writes len bytes to TMP/name; returns the path (malloc'd). */
static char *write_input(struct fx *f, const char *name, const char *text, size_t len)
{
	char *path;
	FILE *fp;

	assert_true(asprintf(&path, "%s/%s", f->tmp, name) > 0);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static enum status ingest_path(struct fx *f, struct loaded_adapter *la, const char *path,
			       struct ingest_result *res)
{
	struct ingest_opts opts = { .origin = path, .on_reject = on_reject, .arg = f };

	f->e.msg[0] = '\0';
	return ingest_file(&f->app, la, path, &opts, res, &f->e);
}

static enum status ingest_text(struct fx *f, struct loaded_adapter *la, const char *name,
			       const char *text, size_t len, struct ingest_result *res)
{
	char *path = write_input(f, name, text, len);
	enum status st = ingest_path(f, la, path, res);

	free(path);
	return st;
}

static enum status ingest_fixture(struct fx *f, struct loaded_adapter *la, const char *name,
				  struct ingest_result *res)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	return ingest_path(f, la, path, res);
}

/* The single number a query on the database file gives. */
static long count(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Every record table is empty and no ingest row was kept. */
static void assert_nothing_stored(struct fx *f)
{
	static const char *const tables[] = {
		"person", "dwelling", "finding", "finding_person", "address", "ingest", "signal",
	};
	char sql[128];

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
		if (count(f, sql) != 0)
			fail_msg("table %s has %ld rows", tables[i], count(f, sql));
	}
}

static long exlog_kind(struct fx *f, const char *kind)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM exlog WHERE kind = '%s'", kind);
	return count(f, sql);
}

static void verify_log(struct fx *f, long want)
{
	long n = -1;

	if (exlog_verify(f->app.store, &n, &f->e) != ST_OK)
		fail_msg("exlog_verify: %s", f->e.msg);
	assert_int_equal(n, want);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A minimal npsLa01 answer, for documents written inline. */
#define BRP_OPEN "<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\"" \
	" xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">\n" \
	"<BG:stuurgegevens><StUF:berichtcode>La01</StUF:berichtcode></BG:stuurgegevens>\n" \
	"<BG:parameters><StUF:indicatorVervolgvraag>false</StUF:indicatorVervolgvraag>" \
	"</BG:parameters>\n<BG:antwoord>\n"
#define BRP_OBJECT(bsn) "<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>" bsn \
	"</BG:inp.bsn><BG:verblijfsadres><BG:aoa.postcode>2671AB</BG:aoa.postcode>" \
	"<BG:aoa.huisnummer>10</BG:aoa.huisnummer>" \
	"<BG:begindatumVerblijf>20250301</BG:begindatumVerblijf></BG:verblijfsadres>" \
	"<BG:inp.gemeenteVanInschrijving>1783</BG:inp.gemeenteVanInschrijving></BG:object>\n"
#define BRP_CLOSE "</BG:antwoord>\n</BG:npsLa01>\n"

/* --- refused whole -------------------------------------------------------- */

static void test_xml_cut_off_half_way_is_refused_whole(void **state)
{
	struct fx *f = *state;
	char *xml = fixture("brp-npsLa01.xml");
	struct ingest_result res;
	size_t half = strlen(xml) / 2;

	/* the first half holds complete objects, which must not be kept */
	xml[half] = '\0';
	assert_non_null(strstr(strstr(xml, "</BG:object>") + 1, "</BG:object>"));
	assert_int_equal(ingest_text(f, &f->brp, "cut.xml", xml, half, &res), ST_FAIL);
	assert_true(res.refused);
	assert_int_equal(res.accepted, 0);
	assert_int_equal(res.changed, 0);
	assert_non_null(strstr(f->e.msg, "line"));
	assert_nothing_stored(f);
	assert_int_equal(exlog_kind(f, "reject"), 1);
	assert_int_equal(exlog_kind(f, "ingest"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE kind = 'reject'"
			       " AND detail LIKE '%\"place\":\"file\"%'"), 1);
	verify_log(f, 1);
	free(xml);
}

static void test_json_cut_off_half_way_is_refused_whole(void **state)
{
	struct fx *f = *state;
	char *json = fixture("inspectie.json");
	struct ingest_result res;
	size_t half = strlen(json) / 2;

	assert_non_null(memmem(json, half, "NLA-2026-000102", 15));
	assert_int_equal(ingest_text(f, &f->insp, "cut.json", json, half, &res), ST_FAIL);
	assert_true(res.refused);
	assert_nothing_stored(f);
	assert_int_equal(exlog_kind(f, "reject"), 1);
	free(json);
}

static void test_csv_with_wrong_header_is_refused_whole(void **state)
{
	struct fx *f = *state;
	static const char csv[] =
		"gemeentecode;postcode;nummeraanduiding_id;huisnummer;huisletter;"
		"huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;max_bewoners;"
		"vergunning_nummer;vergunning_geldig_tot\n"
		"1783;2671AB;;10;;;Naaldwijk;48;woonfunctie;;;\n";
	struct ingest_result res;

	assert_int_equal(ingest_text(f, &f->huis, "bad.csv", csv, strlen(csv), &res), ST_FAIL);
	assert_true(res.refused);
	assert_non_null(strstr(f->e.msg, "line 1"));
	assert_nothing_stored(f);
	assert_int_equal(exlog_kind(f, "reject"), 1);
}

/* --- one bad record ---------------------------------------------------------- */

static void test_bad_record_rejected_alone_and_logged(void **state)
{
	struct fx *f = *state;
	struct ingest_result res;

	assert_int_equal(ingest_fixture(f, &f->brp, "brp-npsLa01.xml", &res), ST_REJECTED);
	assert_false(res.refused);
	assert_int_equal(res.accepted, 8);
	assert_int_equal(res.changed, 8);
	assert_int_equal(res.rejected, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM person"), 8);
	assert_int_equal(count(f, "SELECT count(*) FROM ingest WHERE accepted = 8 AND rejected = 1"), 1);
	/* the rejection is reported and logged with its place, without the BSN */
	assert_int_equal(f->nrejects, 1);
	assert_non_null(strstr(f->reject_place, "line"));
	assert_non_null(strstr(f->reject_reason, "elfproef"));
	assert_null(strstr(f->reject_reason, "999998620"));
	assert_int_equal(exlog_kind(f, "reject"), 1);
	assert_int_equal(exlog_kind(f, "ingest"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE kind = 'reject'"
			       " AND detail LIKE '%elfproef%' AND detail LIKE '%line%'"), 1);
	verify_log(f, 2);
}

static void test_bad_finding_rejected_alone(void **state)
{
	struct fx *f = *state;
	static const char json[] =
		"{\"bevindingen\": [\n"
		" {\"id\": \"A\", \"datum\": \"2026-10-01\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 10},"
		"  \"aangetroffen_personen\": 2, \"personen\": [{\"bsn\": \"999900006\"}]},\n"
		" {\"id\": \"B\", \"datum\": \"2026-10-01\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 11},"
		"  \"aangetroffen_personen\": 2,"
		"  \"personen\": [{\"bsn\": \"999900018\"}, {\"bsn\": \"999998620\"}]},\n"
		" {\"id\": \"C\", \"datum\": \"2026-02-30\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 12},"
		"  \"aangetroffen_personen\": 2},\n"
		" {\"id\": \"D\", \"datum\": \"2026-10-01\", \"soort\": \"werkplek\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 13},"
		"  \"aangetroffen_personen\": 40}\n"
		"], \"volgende\": null}\n";
	struct ingest_result res;

	assert_int_equal(ingest_text(f, &f->insp, "f.json", json, strlen(json), &res),
			 ST_REJECTED);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.rejected, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM finding"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM finding WHERE id IN ('A', 'D')"), 2);
	/* the finding with an invalid BSN is rejected whole: no person of it kept */
	assert_int_equal(count(f, "SELECT count(*) FROM finding_person"), 1);
	assert_int_equal(exlog_kind(f, "reject"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE detail LIKE '%999998620%'"
			       " OR detail LIKE '%999900018%'"), 0);
}

/*
 * A record that passes normalisation but not the record schema (a finding
 * id over 64 characters) is refused by the check stage: rejected in its
 * place, reported and logged, and the records around it stored.
 */
static void test_record_schema_rejects_in_its_place(void **state)
{
	struct fx *f = *state;
	static const char json[] =
		"{\"bevindingen\": [\n"
		" {\"id\": \"A\", \"datum\": \"2026-10-01\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 10},"
		"  \"aangetroffen_personen\": 2},\n"
		" {\"id\": \"B12345678901234567890123456789012345678901234567890123456789012345\","
		"  \"datum\": \"2026-10-01\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 11},"
		"  \"aangetroffen_personen\": 2},\n"
		" {\"id\": \"C\", \"datum\": \"2026-10-01\", \"soort\": \"huisvesting\","
		"  \"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", \"huisnummer\": 12},"
		"  \"aangetroffen_personen\": 2}\n"
		"], \"volgende\": null}\n";
	struct ingest_result res;

	assert_int_equal(ingest_text(f, &f->insp, "f.json", json, strlen(json), &res),
			 ST_REJECTED);
	assert_int_equal(res.accepted, 2);
	assert_int_equal(res.rejected, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM finding WHERE id IN ('A', 'C')"), 2);
	assert_int_equal(f->nrejects, 1);
	assert_string_equal(f->reject_place, "bevindingen[1] (line 3)");
	assert_non_null(strstr(f->reject_reason, "maxLength"));
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE kind = 'reject'"
			       " AND detail LIKE '%bevindingen[1]%' AND detail LIKE '%maxLength%'"), 1);
}

static void test_reject_reason_never_shows_a_bsn(void **state)
{
	struct fx *f = *state;
	/* a schema error whose message would quote the value, BSN and all */
	static const char xml[] = "<?xml version=\"1.0\"?>\n" BRP_OPEN
		BRP_OBJECT("999900006") BRP_OBJECT("999900018 1") BRP_CLOSE;
	struct ingest_result res;

	assert_int_equal(ingest_text(f, &f->brp, "q.xml", xml, strlen(xml), &res), ST_REJECTED);
	assert_int_equal(res.accepted, 1);
	assert_int_equal(res.rejected, 1);
	assert_int_equal(f->nrejects, 1);
	assert_true(f->reject_reason[0] != '\0');
	if (strstr(f->reject_reason, "99990001") != NULL)
		fail_msg("the reason shows the BSN: %s", f->reject_reason);
	assert_int_equal(exlog_kind(f, "reject"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE detail LIKE '%99990001%'"), 0);
}

/* --- re-ingest ---------------------------------------------------------------- */

static void test_reingest_changes_nothing(void **state)
{
	struct fx *f = *state;
	static const char *const files[] = {
		"brp-npsLa01.xml", "brp-venlo-npsLa01.xml", "huisvesting.csv", "inspectie.json",
	};
	struct loaded_adapter *las[] = { &f->brp, &f->brp, &f->huis, &f->insp };
	static const char *const q[] = {
		"SELECT count(*) FROM person", "SELECT count(*) FROM dwelling",
		"SELECT count(*) FROM finding", "SELECT count(*) FROM finding_person",
		"SELECT count(*) FROM address",
		"SELECT total(length(bsn_sealed)) FROM person",
		"SELECT group_concat(hex(bsn_sealed)) FROM (SELECT bsn_sealed FROM person"
		" ORDER BY pseudonym, begindatum)",
	};
	long before[5], first_changed[4];
	char *sealed_before = NULL;
	struct ingest_result res;

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ingest_fixture(f, las[i], files[i], &res),
				 i == 0 ? ST_REJECTED : ST_OK);
		first_changed[i] = res.changed;
		assert_int_equal(res.changed, res.accepted);
	}
	assert_int_equal(first_changed[0] + first_changed[1], 12);
	assert_int_equal(first_changed[2], 6);
	assert_int_equal(first_changed[3], 5);
	for (size_t k = 0; k < 5; k++)
		before[k] = count(f, q[k]);
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, q[6], -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		sealed_before = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ingest_fixture(f, las[i], files[i], &res),
				 i == 0 ? ST_REJECTED : ST_OK);
		assert_int_equal(res.accepted, first_changed[i]);
		if (res.changed != 0)
			fail_msg("re-ingesting %s changed %ld records", files[i], res.changed);
	}
	for (size_t k = 0; k < 5; k++)
		assert_int_equal(count(f, q[k]), before[k]);
	{
		sqlite3 *db;
		sqlite3_stmt *st;

		/* not even the ciphertexts were rewritten */
		assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, q[6], -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), sealed_before);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	free(sealed_before);
	/* every ingest is logged, the second round too */
	assert_int_equal(exlog_kind(f, "ingest"), 8);
	verify_log(f, 8 + 2);
}

/* What a database holds of the persons, in one string (malloc'd). */
static char *persons_text(const char *db_path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *text = NULL;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) || ':' || group_concat(r, ',')"
					    " FROM (SELECT addr || '@' || begindatum || '/' ||"
					    " gemeentecode AS r FROM person ORDER BY r)",
					    -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		text = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_non_null(text);
	return text;
}

/*
 * A file of many batches, with bad records spread through it, stored by
 * the three-thread pipeline and by the one-thread one (opts.one_thread):
 * the same counts, the same rows, as many rejections, each logged.
 */
static void test_threads_store_what_one_thread_stores(void **state)
{
	struct fx *f = *state;
	struct ingest_opts one = { .origin = "one", .one_thread = true };
	struct ingest_result r2, r1;
	struct app app1;
	char *cmd, *path, *dir1, *db1, *text2, *text1;

	assert_true(asprintf(&path, "%s/many.xml", f->tmp) > 0);
	/* every 400th line gets a BSN that fails the elfproef */
	assert_true(asprintf(&cmd, "%s/../tools/gen-brp.sh 3000 | awk 'NR %% 400 == 0 "
			     "{ sub(/<BG:inp.bsn>[0-9]+</, \"<BG:inp.bsn>123456789<\") } 1' >%s",
			     FIXTURES, path) > 0);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ingest_path(f, &f->brp, path, &r2), ST_REJECTED);
	assert_int_equal(r2.rejected, f->nrejects);
	assert_true(r2.rejected >= 7);
	assert_int_equal(r2.accepted + r2.rejected, 3000);

	assert_true(asprintf(&dir1, "%s/one", f->tmp) > 0);
	assert_true(asprintf(&db1, "%s/schakel.db", dir1) > 0);
	assert_int_equal(app_init(dir1, NULL, &f->e), ST_OK);
	assert_int_equal(app_open(&app1, dir1, &f->e), ST_OK);
	assert_int_equal(ingest_file(&app1, &f->brp, path, &one, &r1, &f->e), ST_REJECTED);
	app_close(&app1);
	assert_int_equal(r1.accepted, r2.accepted);
	assert_int_equal(r1.changed, r2.changed);
	assert_int_equal(r1.rejected, r2.rejected);
	assert_int_equal(r1.bytes, r2.bytes);
	assert_string_equal(r1.digest, r2.digest);
	text2 = persons_text(f->db);
	text1 = persons_text(db1);
	assert_string_equal(text1, text2);
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE kind = 'reject'"), r2.rejected);
	free(text1);
	free(text2);
	free(db1);
	free(dir1);
	free(cmd);
	free(path);
}

static void test_later_row_replaces_dwelling(void **state)
{
	struct fx *f = *state;
	static const char head[] = "gemeentecode;nummeraanduiding_id;postcode;huisnummer;"
		"huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;gebruiksdoel;"
		"max_bewoners;vergunning_nummer;vergunning_geldig_tot\n";
	char csv[1024];
	struct ingest_result res;

	snprintf(csv, sizeof(csv), "%s1783;;2671AB;10;;;X;48;woonfunctie;;V-1;2027-01-01\n", head);
	assert_int_equal(ingest_text(f, &f->huis, "a.csv", csv, strlen(csv), &res), ST_OK);
	snprintf(csv, sizeof(csv), "%s1783;;2671 ab;10;;;X;50;woonfunctie;;;\n", head);
	assert_int_equal(ingest_text(f, &f->huis, "b.csv", csv, strlen(csv), &res), ST_OK);
	assert_int_equal(res.changed, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM dwelling"), 1);
	assert_int_equal(count(f, "SELECT oppervlakte FROM dwelling"), 50);
	assert_int_equal(count(f, "SELECT count(*) FROM dwelling WHERE vergunning IS NULL"), 1);
}

/* --- hostile XML ------------------------------------------------------------- */


/* Ingests a hostile document: refused within a second, nothing stored. */
static void assert_refused_fast(struct fx *f, const char *name, const char *xml)
{
	struct ingest_result res;
	double t0 = now_s(), dt;
	enum status st;

	st = ingest_text(f, &f->brp, name, xml, strlen(xml), &res);
	dt = now_s() - t0;
	if (st != ST_FAIL || !res.refused)
		fail_msg("%s: not refused (status %d, %ld accepted)", name, (int)st, res.accepted);
	if (dt > 1.0)
		fail_msg("%s: refusing took %.2f s", name, dt);
	assert_nothing_stored(f);
	assert_int_equal(exlog_kind(f, "reject"), 1);
	/* nothing of the entity's target leaked into the log */
	assert_int_equal(count(f, "SELECT count(*) FROM exlog WHERE detail LIKE '%root:%'"), 0);
}

static void test_sanity_brp_document_of_hostile_tests_is_accepted(void **state)
{
	struct fx *f = *state;
	static const char xml[] = "<?xml version=\"1.0\"?>\n" BRP_OPEN
		BRP_OBJECT("999900006") BRP_CLOSE;
	struct ingest_result res;

	if (ingest_text(f, &f->brp, "ok.xml", xml, strlen(xml), &res) != ST_OK)
		fail_msg("%s", f->e.msg);
	assert_int_equal(res.accepted, 1);
}

static void test_xxe_document_is_refused(void **state)
{
	assert_refused_fast(*state, "xxe.xml",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE BG:npsLa01 [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
		BRP_OPEN BRP_OBJECT("&xxe;") BRP_CLOSE);
}

static void test_external_dtd_is_refused(void **state)
{
	assert_refused_fast(*state, "dtd.xml",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE BG:npsLa01 SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
		BRP_OPEN BRP_OBJECT("999900006") BRP_CLOSE);
}

static void test_billion_laughs_is_refused_fast(void **state)
{
	assert_refused_fast(*state, "lol.xml",
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n"
		BRP_OPEN
		"<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>999900006</BG:inp.bsn>"
		"<BG:geslachtsnaam>&lol9;</BG:geslachtsnaam></BG:object>\n"
		BRP_CLOSE);
}

static void test_deep_nesting_is_refused_fast(void **state)
{
	struct fx *f = *state;
	size_t depth = 100000, len = 0;
	char *xml = malloc(depth * 8 + 4096), *p;
	struct ingest_result res;
	double t0;

	assert_non_null(xml);
	p = xml;
	p += sprintf(p, "<?xml version=\"1.0\"?>\n%s<BG:object StUF:entiteittype=\"NPS\">"
		     "<BG:inp.bsn>999900006</BG:inp.bsn>", BRP_OPEN);
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "<BG:x>");
	len = (size_t)(p - xml);
	t0 = now_s();
	assert_int_equal(ingest_text(f, &f->brp, "deep.xml", xml, len, &res), ST_FAIL);
	assert_true(now_s() - t0 < 1.0);
	assert_true(res.refused);
	assert_nothing_stored(f);
	free(xml);
}

/* --- no BSN in clear ----------------------------------------------------------- */

struct scan {
	char bsns[64][10];
	size_t nbsn;
	char found[512];
	int files;
	bool wal;
};

static struct scan *g_scan;	/* nftw passes no argument */

static int scan_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char *buf;
	size_t len;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	buf = read_file(path, &len);
	g_scan->files++;
	if (len > 4 && strcmp(path + strlen(path) - 4, "-wal") == 0 && len > 0)
		g_scan->wal = true;
	for (size_t i = 0; i < g_scan->nbsn; i++)
		if (memmem(buf, len, g_scan->bsns[i], 9) != NULL) {
			size_t n = strlen(g_scan->found);

			snprintf(g_scan->found + n, sizeof(g_scan->found) - n, " %s in %s",
				 g_scan->bsns[i], path);
		}
	free(buf);
	return 0;
}

/* Collects every 9-digit value after marker in text. */
static void bsns_after(struct scan *s, const char *text, const char *marker)
{
	for (const char *p = strstr(text, marker); p != NULL; p = strstr(p + 1, marker)) {
		const char *v = p + strlen(marker);

		if (strspn(v, "0123456789") != 9 || s->nbsn == 64)
			continue;
		memcpy(s->bsns[s->nbsn], v, 9);
		s->bsns[s->nbsn++][9] = '\0';
	}
}

static void test_no_bsn_in_clear_in_the_data_directory(void **state)
{
	struct fx *f = *state;
	static const char *const xmls[] = { "brp-npsLa01.xml", "brp-venlo-npsLa01.xml" };
	struct scan scan = { .nbsn = 0 };
	struct ingest_result res;
	struct match_result mr;
	char *text;

	for (size_t i = 0; i < 2; i++) {
		text = fixture(xmls[i]);
		bsns_after(&scan, text, "<BG:inp.bsn>");
		free(text);
	}
	text = fixture("inspectie.json");
	bsns_after(&scan, text, "\"bsn\": \"");
	free(text);
	assert_true(scan.nbsn >= 15);	/* 9 + 4 in the BRP files, 3 in the findings */

	assert_int_equal(ingest_fixture(f, &f->brp, xmls[0], &res), ST_REJECTED);
	assert_int_equal(ingest_fixture(f, &f->brp, xmls[1], &res), ST_OK);
	assert_int_equal(ingest_fixture(f, &f->huis, "huisvesting.csv", &res), ST_OK);
	assert_int_equal(ingest_fixture(f, &f->insp, "inspectie.json", &res), ST_OK);
	assert_int_equal(match_run(&f->app, "2026-11-01", &mr, NULL, NULL, &f->e), ST_OK);
	assert_true(mr.created > 0);

	/* with the store open, so the write-ahead log is there too */
	g_scan = &scan;
	assert_int_equal(nftw(f->dir, scan_file, 16, FTW_PHYS), 0);
	assert_true(scan.files >= 4);
	assert_true(scan.wal);
	if (scan.found[0] != '\0')
		fail_msg("BSN in clear:%s", scan.found);

	/* and after closing, once the log is checkpointed into the database */
	app_close(&f->app);
	f->open = false;
	scan.files = 0;
	assert_int_equal(nftw(f->dir, scan_file, 16, FTW_PHYS), 0);
	if (scan.found[0] != '\0')
		fail_msg("BSN in clear:%s", scan.found);
	g_scan = NULL;
}

/*
 * The daemon's adapters are loaded once and kept: the same adapter serves
 * one ingest after another (its compiled schema validates each), and a
 * name that is no adapter is refused each time, not remembered.
 */
static void test_a_kept_adapter_serves_one_ingest_after_another(void **state)
{
	struct fx *f = *state;
	struct loaded_adapter *a, *again;
	struct ingest_result res;
	enum status first;
	long accepted;

	assert_int_equal(loader_cache_get(f->app.adapters, "brp", &a, &f->e), ST_OK);
	assert_int_equal(loader_cache_get(f->app.adapters, "brp", &again, &f->e), ST_OK);
	assert_ptr_equal(a, again);
	assert_non_null(a->schema);
	first = ingest_fixture(f, a, "brp-npsLa01.xml", &res);	/* one bad record in it */
	assert_int_equal(first, ST_REJECTED);
	accepted = res.accepted;
	assert_true(accepted > 0);
	assert_int_equal(res.changed, accepted);
	assert_int_equal(ingest_fixture(f, again, "brp-venlo-npsLa01.xml", &res), ST_OK);
	assert_true(res.accepted > 0);
	assert_int_equal(ingest_text(f, a, "bad.xml", "<BG:npsLa01", 11, &res), ST_FAIL);
	assert_true(res.refused);
	assert_int_equal(ingest_fixture(f, a, "brp-npsLa01.xml", &res), first);
	assert_int_equal(res.accepted, accepted);
	assert_int_equal(res.changed, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(loader_cache_get(f->app.adapters, "nope", &a, &f->e), ST_USAGE);
	assert_int_equal(loader_cache_get(f->app.adapters, "../brp", &a, &f->e), ST_USAGE);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_xml_cut_off_half_way_is_refused_whole),
		T(test_json_cut_off_half_way_is_refused_whole),
		T(test_csv_with_wrong_header_is_refused_whole),
		T(test_bad_record_rejected_alone_and_logged),
		T(test_bad_finding_rejected_alone),
		T(test_reject_reason_never_shows_a_bsn),
		T(test_reingest_changes_nothing),
		T(test_later_row_replaces_dwelling),
		T(test_threads_store_what_one_thread_stores),
		T(test_record_schema_rejects_in_its_place),
		T(test_a_kept_adapter_serves_one_ingest_after_another),
		T(test_sanity_brp_document_of_hostile_tests_is_accepted),
		T(test_xxe_document_is_refused),
		T(test_external_dtd_is_refused),
		T(test_billion_laughs_is_refused_fast),
		T(test_deep_nesting_is_refused_fast),
		T(test_no_bsn_in_clear_in_the_data_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
