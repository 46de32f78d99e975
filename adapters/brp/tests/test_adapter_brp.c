/*
 * test_adapter_brp.c - the brp adapter (StUF-BG 3.10) against the example
 * files, hand-made variants and hostile input.
 */
#include "testutil.h"

#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "adapter.h"

extern const struct adapter schakel_adapter;

#define BRP_TESTS SCHAKEL_SCHEMA_DIR "/../adapters/brp/tests"
#define MAXREC 32

struct got_record {
	int kind;
	char *place, *bsn, *begindatum, *gemeentecode, *nummeraanduiding_id;
	char *postcode, *huisnummer, *huisletter, *toevoeging;
};

struct got {
	struct got_record rec[MAXREC];
	size_t nrec;
	char *reject_place[MAXREC];
	char *reject_reason[MAXREC];
	size_t nrej;
	int stop_after;		/* record() returns -1 after this many; 0 = never */
	int rc;			/* of the last feed() or finish() */
	char *error;		/* error() after a refusal */
};

static xmlSchemaPtr schema;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int on_record(void *ctx, const struct adapter_record *r)
{
	struct got *g = ctx;
	struct got_record *o;

	assert_true(r->kind == ADAPTER_PERSON || r->kind == ADAPTER_PERSON_WITHDRAWN);
	assert_true(g->nrec < MAXREC);
	o = &g->rec[g->nrec++];
	o->kind = r->kind;
	o->place = dup_or_null(r->place);
	o->bsn = dup_or_null(r->u.person.bsn);
	o->begindatum = dup_or_null(r->u.person.begindatum);
	o->gemeentecode = dup_or_null(r->address.gemeentecode);
	o->nummeraanduiding_id = dup_or_null(r->address.nummeraanduiding_id);
	o->postcode = dup_or_null(r->address.postcode);
	o->huisnummer = dup_or_null(r->address.huisnummer);
	o->huisletter = dup_or_null(r->address.huisletter);
	o->toevoeging = dup_or_null(r->address.huisnummertoevoeging);
	if (g->stop_after && (int)g->nrec >= g->stop_after)
		return -1;
	return 0;
}

static void on_reject(void *ctx, const char *place, const char *reason)
{
	struct got *g = ctx;

	assert_true(g->nrej < MAXREC);
	g->reject_place[g->nrej] = strdup(place);
	g->reject_reason[g->nrej] = strdup(reason);
	g->nrej++;
}

static void got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->nrec; i++) {
		struct got_record *o = &g->rec[i];

		free(o->place); free(o->bsn); free(o->begindatum);
		free(o->gemeentecode); free(o->nummeraanduiding_id);
		free(o->postcode); free(o->huisnummer); free(o->huisletter);
		free(o->toevoeging);
	}
	for (i = 0; i < g->nrej; i++) {
		free(g->reject_place[i]);
		free(g->reject_reason[i]);
	}
	free(g->error);
	memset(g, 0, sizeof(*g));
}

/* Runs the adapter over buf in chunks of `chunk` bytes; fills g. */
static void run_buf(struct got *g, const char *buf, size_t len, size_t chunk,
		    int with_schema, size_t max_depth, size_t max_field)
{
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.ctx = g,
		.record = on_record,
		.reject = on_reject,
		.source_schema = with_schema ? schema : NULL,
		.max_field_bytes = max_field,
		.max_depth = max_depth,
	};
	void *s = schakel_adapter.open(&host);
	size_t off, n;

	assert_non_null(s);
	g->rc = ADAPTER_OK;
	for (off = 0; off < len && g->rc == ADAPTER_OK; off += n) {
		n = len - off < chunk ? len - off : chunk;
		g->rc = schakel_adapter.feed(s, buf + off, n);
	}
	if (g->rc == ADAPTER_OK)
		g->rc = schakel_adapter.finish(s);
	if (g->rc == ADAPTER_REFUSED)
		g->error = strdup(schakel_adapter.error(s));
	schakel_adapter.close(s);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void run_file(struct got *g, const char *path, size_t chunk)
{
	size_t len;
	char *buf = slurp(path, &len);

	run_buf(g, buf, len, chunk, 1, 64, 4096);
	free(buf);
}

static void run_str(struct got *g, const char *doc, int with_schema)
{
	run_buf(g, doc, strlen(doc), 4096, with_schema, 64, 4096);
}

static void assert_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void assert_rec(const struct got_record *r, const char *bsn,
		       const char *date, const char *gem, const char *pc,
		       const char *hn, const char *hl, const char *tv)
{
	assert_str(r->bsn, bsn);
	assert_str(r->begindatum, date);
	assert_str(r->gemeentecode, gem);
	assert_str(r->postcode, pc);
	assert_str(r->huisnummer, hn);
	assert_str(r->huisletter, hl);
	assert_str(r->toevoeging, tv);
}

/* The Westland example: 9 objects, all read (the elfproef is the host's). */
static void test_westland_example_gives_nine_records(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_file(&g, FIXTURES "/brp-npsLa01.xml", 65536);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 9);
	assert_int_equal(g.nrej, 0);
	assert_rec(&g.rec[0], "999900006", "2025-03-01", "1783", "2671AB",
		   "10", NULL, NULL);
	assert_str(g.rec[0].nummeraanduiding_id, "1783200000000010");
	assert_string_equal(g.rec[0].place, "line 22 (object 1)");
	assert_rec(&g.rec[2], "999900031", "2024-01-01", "1783", "2671AC",
		   "3", "A", NULL);
	assert_rec(&g.rec[8], "999998620", "2023-09-01", "1783", "2672XY",
		   "7", NULL, NULL);
	assert_null(g.rec[8].nummeraanduiding_id);
	got_free(&g);
}

/* The Venlo example: gemeentecode 0983, toevoeging "2". */
static void test_venlo_example_gives_gemeente_0983_and_toevoeging(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_file(&g, FIXTURES "/brp-venlo-npsLa01.xml", 65536);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 4);
	assert_rec(&g.rec[0], "999900092", "2026-01-01", "0983", "5911AA",
		   "1", NULL, "2");
	assert_rec(&g.rec[3], "999993653", "2025-01-10", "0983", "5911AB",
		   "20", NULL, NULL);
	got_free(&g);
}

/* Feeding one byte at a time gives exactly the same records. */
static void test_one_byte_chunks_give_same_records(void **state)
{
	struct got a = { 0 }, b = { 0 };
	size_t i;

	(void)state;
	run_file(&a, FIXTURES "/brp-npsLa01.xml", 65536);
	run_file(&b, FIXTURES "/brp-npsLa01.xml", 1);
	assert_int_equal(b.rc, ADAPTER_OK);
	assert_int_equal(a.nrec, b.nrec);
	for (i = 0; i < a.nrec; i++) {
		assert_string_equal(a.rec[i].place, b.rec[i].place);
		assert_string_equal(a.rec[i].bsn, b.rec[i].bsn);
		assert_string_equal(a.rec[i].begindatum, b.rec[i].begindatum);
		assert_string_equal(a.rec[i].postcode, b.rec[i].postcode);
	}
	got_free(&a);
	got_free(&b);
}

/* npsLk01 with old and new state: only the new state is a record. */
static void test_lk01_two_objects_gives_only_new_state(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_file(&g, BRP_TESTS "/npsLk01-two-objects.xml", 7);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 1);
	assert_int_equal(g.nrej, 0);
	/* no gemeenteVanInschrijving: taken from aoa.identificatie */
	assert_rec(&g.rec[0], "999900006", "2026-10-15", "1783", "2672XY",
		   "7", NULL, NULL);
	assert_string_equal(g.rec[0].place, "line 24 (object 2)");
	got_free(&g);
}

/*
 * An npsLk01 with mutatiesoort ms (NULL: no element) and one object (old
 * NULL) or two, each "VERWERKINGSSOORT/BSN" ("" before the / for no
 * attribute), the new state at 2672XY 7 from 2026-10-15.
 */
static void run_lk01(struct got *g, const char *ms, const char *old, const char *new)
{
	char doc[4096], objs[2][1024], params[256];
	const char *states[2] = { old, new };

	for (int i = 0; i < 2; i++) {
		char v[8] = "", bsn[16] = "", attr[64] = "";

		objs[i][0] = '\0';
		if (states[i] == NULL)
			continue;
		assert_int_equal(sscanf(states[i], "%7[^/]/%15s", v, bsn) == 2 ||
				 sscanf(states[i], "/%15s", bsn) == 1, 1);
		if (states[i][0] == '/')
			v[0] = '\0';
		if (v[0] != '\0')
			snprintf(attr, sizeof(attr), " StUF:verwerkingssoort=\"%s\"", v);
		snprintf(objs[i], sizeof(objs[i]),
			 "<BG:object StUF:entiteittype=\"NPS\"%s><BG:inp.bsn>%s</BG:inp.bsn>"
			 "<BG:verblijfsadres><BG:aoa.postcode>%s</BG:aoa.postcode>"
			 "<BG:aoa.huisnummer>%s</BG:aoa.huisnummer><BG:begindatumVerblijf>%s"
			 "</BG:begindatumVerblijf></BG:verblijfsadres>"
			 "<BG:inp.gemeenteVanInschrijving>1783</BG:inp.gemeenteVanInschrijving>"
			 "</BG:object>\n", attr, bsn, i == 0 ? "2671AB" : "2672XY",
			 i == 0 ? "10" : "7", i == 0 ? "20250301" : "20261015");
	}
	snprintf(params, sizeof(params), "%s%s%s<StUF:indicatorOvername>V</StUF:indicatorOvername>",
		 ms != NULL ? "<StUF:mutatiesoort>" : "", ms != NULL ? ms : "",
		 ms != NULL ? "</StUF:mutatiesoort>" : "");
	snprintf(doc, sizeof(doc),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<BG:npsLk01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\" "
		 "xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">\n"
		 "<BG:stuurgegevens><StUF:berichtcode>Lk01</StUF:berichtcode><StUF:zender>"
		 "<StUF:organisatie>1783</StUF:organisatie></StUF:zender><StUF:tijdstipBericht>"
		 "20261101080000000</StUF:tijdstipBericht><StUF:entiteittype>NPS"
		 "</StUF:entiteittype></BG:stuurgegevens>\n"
		 "<BG:parameters>%s</BG:parameters>\n%s%s</BG:npsLk01>\n",
		 params, objs[0], objs[1]);
	memset(g, 0, sizeof(*g));
	run_str(g, doc, 1);
	assert_int_equal(g->rc, ADAPTER_OK);
}

/* run_lk01() gave one record of kind k, the new state. */
static void assert_lk01_record(struct got *g, int k)
{
	if (g->nrej != 0)
		fail_msg("rejected: %s", g->reject_reason[0]);
	assert_int_equal(g->nrec, 1);
	assert_int_equal(g->rec[0].kind, k);
	assert_rec(&g->rec[0], "999900006", "2026-10-15", "1783", "2672XY", "7", NULL, NULL);
	got_free(g);
}

/* run_lk01() gave no record and one rejection whose reason has want. */
static void assert_lk01_rejected(struct got *g, const char *want)
{
	assert_int_equal(g->nrec, 0);
	assert_int_equal(g->nrej, 1);
	if (strstr(g->reject_reason[0], want) == NULL)
		fail_msg("reason '%s' lacks '%s'", g->reject_reason[0], want);
	got_free(g);
}

/* T, W: the new state is a registration; V: the registration is withdrawn. */
static void test_lk01_mutations_t_w_v(void **state)
{
	struct got g;

	(void)state;
	run_lk01(&g, "T", NULL, "T/999900006");
	assert_lk01_record(&g, ADAPTER_PERSON);
	run_lk01(&g, "W", "W/999900006", "W/999900006");
	assert_lk01_record(&g, ADAPTER_PERSON);
	run_lk01(&g, "W", NULL, "W/999900006");
	assert_lk01_record(&g, ADAPTER_PERSON);
	run_lk01(&g, "V", NULL, "V/999900006");
	assert_lk01_record(&g, ADAPTER_PERSON_WITHDRAWN);
	run_lk01(&g, NULL, NULL, "V/999900006");	/* the object says it */
	assert_lk01_record(&g, ADAPTER_PERSON_WITHDRAWN);
	run_lk01(&g, "V", NULL, "/999900006");		/* the parameters say it */
	assert_lk01_record(&g, ADAPTER_PERSON_WITHDRAWN);
	run_lk01(&g, NULL, NULL, "/999900006");		/* neither: a new state */
	assert_lk01_record(&g, ADAPTER_PERSON);
	run_lk01(&g, " W ", "W/999900006", "W/999900006");	/* blanks around the code */
	assert_lk01_record(&g, ADAPTER_PERSON);
}

/* What schakel does not process is rejected with a reason, never stored. */
static void test_lk01_unprocessed_mutations_rejected(void **state)
{
	static const char *const codes[] = { "E", "I", "S", "R", "C", "F", "X", "WW" };
	struct got g;
	char obj[32];

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		run_lk01(&g, codes[i], NULL, "/999900006");
		assert_lk01_rejected(&g, "StUF:mutatiesoort '");
		snprintf(obj, sizeof(obj), "%s/999900006", codes[i]);
		run_lk01(&g, NULL, NULL, obj);
		assert_lk01_rejected(&g, "StUF:verwerkingssoort '");
	}
	run_lk01(&g, "W", "W/999900006", "V/999900006");
	assert_lk01_rejected(&g, "StUF:mutatiesoort W and the StUF:verwerkingssoort V of the new state disagree");
	run_lk01(&g, "V", NULL, "W/999900006");
	assert_lk01_rejected(&g, "disagree");
	run_lk01(&g, "T", "T/999900006", "T/999900006");
	assert_lk01_rejected(&g, "a toevoeging (T) carries one object, this one two");
	run_lk01(&g, "V", "V/999900006", "V/999900006");
	assert_lk01_rejected(&g, "a verwijdering (V) carries one object, this one two");
}

/* Old and new state of different persons: rejected, and no BSN shown. */
static void test_lk01_old_and_new_bsn_differ_rejected(void **state)
{
	struct got g;

	(void)state;
	run_lk01(&g, "W", "W/999900018", "W/999900006");
	assert_null(strstr(g.reject_reason[0], "99990"));
	assert_lk01_rejected(&g, "the old and the new state carry different BSNs");
	run_lk01(&g, NULL, "/999900018", "/999900006");
	assert_lk01_rejected(&g, "different BSNs");
}

/* xsi:nil / StUF:noValue elements are absent; history is not read. */
static void test_nil_and_novalue_count_as_absent(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_file(&g, BRP_TESTS "/npsLa01-nil-novalue.xml", 3);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 1);
	assert_rec(&g.rec[0], "999900018", "2026-01-01", "0983", "5911AA",
		   "1", NULL, NULL);
	assert_int_equal(g.nrej, 1);
	assert_string_equal(g.reject_place[0], "line 27 (object 2)");
	assert_non_null(strstr(g.reject_reason[0], "missing BG:inp.bsn"));
	got_free(&g);
}

static const char la01_head[] =
	"<?xml version=\"1.0\"?>\n"
	"<BG:npsLa01 xmlns:BG=\"http://www.egem.nl/StUF/sector/bg/0310\"\n"
	"  xmlns:StUF=\"http://www.egem.nl/StUF/StUF0301\">\n"
	"<BG:stuurgegevens/><BG:parameters/>\n"
	"<BG:antwoord>\n";

/* Builds an npsLa01 around `objects` (malloc'd; the caller frees). */
static char *la01(const char *objects)
{
	char *doc;

	assert_true(asprintf(&doc, "%s%s</BG:antwoord></BG:npsLa01>\n",
			     la01_head, objects) > 0);
	return doc;
}

/* A missing inp.bsn rejects that object, naming it and its place. */
static void test_missing_bsn_rejects_with_place(void **state)
{
	struct got g = { 0 };
	char *doc = la01(
		"<BG:object StUF:entiteittype=\"NPS\">\n"
		"<BG:verblijfsadres><BG:aoa.postcode>2671AB</BG:aoa.postcode>"
		"<BG:aoa.huisnummer>1</BG:aoa.huisnummer>"
		"<BG:begindatumVerblijf>20250101</BG:begindatumVerblijf>"
		"</BG:verblijfsadres>"
		"<BG:inp.gemeenteVanInschrijving>1783"
		"</BG:inp.gemeenteVanInschrijving></BG:object>\n");

	(void)state;
	run_str(&g, doc, 1);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 0);
	assert_int_equal(g.nrej, 1);
	assert_string_equal(g.reject_place[0], "line 6 (object 1)");
	assert_string_equal(g.reject_reason[0], "missing BG:inp.bsn");
	got_free(&g);
	free(doc);
}

/* Without a schema, a date that is not yyyymmdd is the adapter's reject. */
static void test_begindatum_not_yyyymmdd_rejects(void **state)
{
	struct got g = { 0 };
	char *doc = la01(
		"<BG:object StUF:entiteittype=\"NPS\"><BG:inp.bsn>999900006"
		"</BG:inp.bsn><BG:verblijfsadres><BG:aoa.postcode>2671AB"
		"</BG:aoa.postcode><BG:aoa.huisnummer>1</BG:aoa.huisnummer>"
		"<BG:begindatumVerblijf>2025-01-01</BG:begindatumVerblijf>"
		"</BG:verblijfsadres><BG:inp.gemeenteVanInschrijving>1783"
		"</BG:inp.gemeenteVanInschrijving></BG:object>\n");

	(void)state;
	run_str(&g, doc, 0);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrej, 1);
	assert_string_equal(g.reject_reason[0],
			    "begindatumVerblijf '2025-01-01' is not yyyymmdd");
	got_free(&g);
	free(doc);
}

/*
 * A misspelt element in object 2 and a bad value in object 4 reject those
 * two only; objects 1, 3 and 5 are records.  This is the check that the
 * validator goes on validating after an error inside one object.
 */
static void test_misspelt_element_rejects_only_its_object(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_file(&g, BRP_TESTS "/npsLa01-bad-objects.xml", 1);
	assert_int_equal(g.rc, ADAPTER_OK);
	assert_int_equal(g.nrec, 3);
	assert_string_equal(g.rec[0].bsn, "999900006");
	assert_string_equal(g.rec[1].bsn, "999900031");
	assert_string_equal(g.rec[2].bsn, "999900055");
	assert_int_equal(g.nrej, 2);
	assert_string_equal(g.reject_place[0], "line 16 (object 2)");
	assert_non_null(strstr(g.reject_reason[0],
			       "line 20: Element 'BG:aoa.huisnumer': "
			       "This element is not expected."));
	assert_string_equal(g.reject_place[1], "line 34 (object 4)");
	assert_non_null(strstr(g.reject_reason[1], "line 38"));
	assert_non_null(strstr(g.reject_reason[1], "'4x'"));
	got_free(&g);
}

/* A root element in the wrong namespace refuses the file, naming it. */
static void test_wrong_namespace_on_root_is_refused(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_str(&g, "<?xml version=\"1.0\"?>\n<BG:npsLa01 xmlns:BG="
		"\"http://www.egem.nl/StUF/sector/bg/0204\"/>\n", 1);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_int_equal(g.nrec, 0);
	assert_non_null(strstr(g.error, "line 2"));
	assert_non_null(strstr(g.error, "'npsLa01'"));
	assert_non_null(strstr(g.error, "sector/bg/0204"));
	got_free(&g);
}

/* An envelope element out of place refuses the whole file. */
static void test_envelope_schema_error_is_refused(void **state)
{
	struct got g = { 0 };

	(void)state;
	run_str(&g, "<?xml version=\"1.0\"?>\n<BG:npsLa01 xmlns:BG="
		"\"http://www.egem.nl/StUF/sector/bg/0310\">\n"
		"<BG:parameters/><BG:stuurgegevens/></BG:npsLa01>\n", 1);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_non_null(strstr(g.error, "line 3, column"));
	assert_non_null(strstr(g.error, "BG:parameters"));
	got_free(&g);
}

/* Not well-formed: refused with line and column. */
static void test_not_well_formed_is_refused_with_line_and_column(void **state)
{
	struct got g = { 0 };
	char *doc = la01("<BG:object StUF:entiteittype=\"NPS\">\n"
			 "  <BG:inp.bsn>1</BG:inp.bs>\n</BG:object>\n");

	(void)state;
	run_str(&g, doc, 1);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_int_equal(g.nrec, 0);
	assert_non_null(strstr(g.error, "line 7, column "));
	assert_non_null(strstr(g.error, "inp.bs"));
	got_free(&g);
	free(doc);
}

/* Runs a hostile file; it must be refused fast with nothing emitted. */
static void assert_doctype_refused(const char *path)
{
	struct got g = { 0 };
	clock_t t0 = clock();

	run_file(&g, path, 1);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_int_equal(g.nrec, 0);
	assert_int_equal(g.nrej, 0);
	assert_string_equal(g.error, "DOCTYPE is not allowed (line 2)");
	got_free(&g);
}

static void test_xxe_file_entity_is_refused(void **state)
{
	(void)state;
	assert_doctype_refused(BRP_TESTS "/xxe-file.xml");
}

static void test_xxe_http_entity_is_refused(void **state)
{
	(void)state;
	assert_doctype_refused(BRP_TESTS "/xxe-http.xml");
}

static void test_billion_laughs_is_refused(void **state)
{
	(void)state;
	assert_doctype_refused(BRP_TESTS "/billion-laughs.xml");
}

/* Nesting deeper than max_depth refuses the file. */
static void test_too_deep_nesting_is_refused(void **state)
{
	struct got g = { 0 };
	char *doc = la01("<BG:object StUF:entiteittype=\"NPS\"><BG:geboortedatum>"
			 "<a><b><c><d><e/></d></c></b></a>"
			 "</BG:geboortedatum></BG:object>\n");

	(void)state;
	run_buf(&g, doc, strlen(doc), 4096, 1, 6, 4096);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_non_null(strstr(g.error, "nested deeper than 6"));
	got_free(&g);
	free(doc);
}

/* A text node longer than max_field_bytes refuses the file. */
static void test_too_long_text_is_refused(void **state)
{
	struct got g = { 0 };
	char big[300], *doc, *objs;

	(void)state;
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(asprintf(&objs, "<BG:object StUF:entiteittype=\"NPS\">"
			     "<BG:inp.bsn>%s</BG:inp.bsn></BG:object>", big) > 0);
	doc = la01(objs);
	run_buf(&g, doc, strlen(doc), 16, 1, 64, 100);
	assert_int_equal(g.rc, ADAPTER_REFUSED);
	assert_non_null(strstr(g.error, "text longer than 100 bytes"));
	assert_int_equal(g.nrec, 0);
	got_free(&g);
	free(objs);
	free(doc);
}

/* record() returning -1 stops the parse with ADAPTER_ABORT. */
static void test_record_minus_one_aborts(void **state)
{
	struct got g = { 0 };

	(void)state;
	g.stop_after = 2;
	run_file(&g, FIXTURES "/brp-npsLa01.xml", 1);
	assert_int_equal(g.rc, ADAPTER_ABORT);
	assert_int_equal(g.nrec, 2);
	got_free(&g);
}

/* The descriptor is what the loader expects. */
static void test_descriptor_names_brp_and_its_schema(void **state)
{
	(void)state;
	assert_int_equal(schakel_adapter.abi_version, ADAPTER_ABI_VERSION);
	assert_string_equal(schakel_adapter.name, "brp");
	assert_string_equal(schakel_adapter.source_schema,
			    "stufbg0310-profile.xsd");
}

static int setup(void **state)
{
	xmlSchemaParserCtxtPtr pc;

	(void)state;
	pc = xmlSchemaNewParserCtxt(SCHAKEL_SCHEMA_DIR "/stufbg0310-profile.xsd");
	if (pc == NULL)
		return -1;
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	return schema == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	xmlSchemaFree(schema);
	xmlCleanupParser();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_names_brp_and_its_schema),
		cmocka_unit_test(test_westland_example_gives_nine_records),
		cmocka_unit_test(test_venlo_example_gives_gemeente_0983_and_toevoeging),
		cmocka_unit_test(test_one_byte_chunks_give_same_records),
		cmocka_unit_test(test_lk01_two_objects_gives_only_new_state),
		cmocka_unit_test(test_lk01_mutations_t_w_v),
		cmocka_unit_test(test_lk01_unprocessed_mutations_rejected),
		cmocka_unit_test(test_lk01_old_and_new_bsn_differ_rejected),
		cmocka_unit_test(test_nil_and_novalue_count_as_absent),
		cmocka_unit_test(test_missing_bsn_rejects_with_place),
		cmocka_unit_test(test_begindatum_not_yyyymmdd_rejects),
		cmocka_unit_test(test_misspelt_element_rejects_only_its_object),
		cmocka_unit_test(test_wrong_namespace_on_root_is_refused),
		cmocka_unit_test(test_envelope_schema_error_is_refused),
		cmocka_unit_test(test_not_well_formed_is_refused_with_line_and_column),
		cmocka_unit_test(test_xxe_file_entity_is_refused),
		cmocka_unit_test(test_xxe_http_entity_is_refused),
		cmocka_unit_test(test_billion_laughs_is_refused),
		cmocka_unit_test(test_too_deep_nesting_is_refused),
		cmocka_unit_test(test_too_long_text_is_refused),
		cmocka_unit_test(test_record_minus_one_aborts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
