/*
 * test_adapter_inspectie.c - the inspectie JSON adapter, driven through its
 * descriptor as the host would, with a recording host.
 */
#include "testutil.h"

#include "adapter.h"

extern const struct adapter schakel_adapter;

#define MAXREC 32
#define MAXBSN 8

struct got {
	char *place;
	char *id, *datum, *soort, *kvk, *personen;
	char *gemeentecode, *postcode, *huisnummer, *huisletter;
	char *toevoeging, *nummeraanduiding;
	char *bsn[MAXBSN];
	size_t nbsn;
};

struct host_log {
	struct got rec[MAXREC];
	size_t nrec;
	char *rej_place[MAXREC];
	char *rej_reason[MAXREC];
	size_t nrej;
	size_t stop_at;		/* record() returns -1 on this record (1-based) */
	size_t max_field;	/* 0: 4096 */
	size_t max_depth;	/* 0: 16 */
	int rc;			/* of the last feed() or finish() */
	char err[256];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int on_record(void *ctx, const struct adapter_record *r)
{
	struct host_log *log = ctx;
	const struct adapter_finding *f = &r->u.finding;
	struct got *g;
	size_t i;

	assert_int_equal(r->kind, ADAPTER_FINDING);
	assert_true(log->nrec < MAXREC);
	assert_true(f->nbsn <= MAXBSN);
	g = &log->rec[log->nrec++];
	g->place = strdup(r->place);
	g->id = dup_or_null(f->id);
	g->datum = dup_or_null(f->datum);
	g->soort = dup_or_null(f->soort);
	g->kvk = dup_or_null(f->kvk);
	g->personen = dup_or_null(f->aangetroffen_personen);
	g->gemeentecode = dup_or_null(r->address.gemeentecode);
	g->postcode = dup_or_null(r->address.postcode);
	g->huisnummer = dup_or_null(r->address.huisnummer);
	g->huisletter = dup_or_null(r->address.huisletter);
	g->toevoeging = dup_or_null(r->address.huisnummertoevoeging);
	g->nummeraanduiding = dup_or_null(r->address.nummeraanduiding_id);
	for (i = 0; i < f->nbsn; i++)
		g->bsn[i] = strdup(f->bsns[i]);
	g->nbsn = f->nbsn;
	if (log->stop_at && log->nrec == log->stop_at)
		return -1;
	return 0;
}

static void on_reject(void *ctx, const char *place, const char *reason)
{
	struct host_log *log = ctx;

	assert_true(log->nrej < MAXREC);
	log->rej_place[log->nrej] = strdup(place);
	log->rej_reason[log->nrej] = strdup(reason);
	log->nrej++;
}

static void got_free(struct got *g)
{
	size_t i;
	char *s[] = { g->place, g->id, g->datum, g->soort, g->kvk,
		      g->personen, g->gemeentecode, g->postcode, g->huisnummer,
		      g->huisletter, g->toevoeging, g->nummeraanduiding };

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		free(s[i]);
	for (i = 0; i < g->nbsn; i++)
		free(g->bsn[i]);
}

/* Frees what the log holds and empties it, keeping its settings. */
static void log_free(struct host_log *log)
{
	size_t i;

	for (i = 0; i < log->nrec; i++)
		got_free(&log->rec[i]);
	for (i = 0; i < log->nrej; i++) {
		free(log->rej_place[i]);
		free(log->rej_reason[i]);
	}
	log->nrec = 0;
	log->nrej = 0;
	log->err[0] = '\0';
}

/*
 * Runs the adapter over data in chunks of chunk bytes (0: all at once),
 * logging into log.  Returns the final adapter_rc.
 */
static int run(struct host_log *log, const char *data, size_t len,
	       size_t chunk)
{
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.ctx = log,
		.record = on_record,
		.reject = on_reject,
		.max_field_bytes = log->max_field ? log->max_field : 4096,
		.max_depth = log->max_depth ? log->max_depth : 16,
	};
	void *st;
	size_t off = 0;
	int rc = ADAPTER_OK;

	st = schakel_adapter.open(&host);
	assert_non_null(st);
	if (chunk == 0)
		chunk = len ? len : 1;
	while (off < len && rc == ADAPTER_OK) {
		size_t n = len - off < chunk ? len - off : chunk;

		rc = schakel_adapter.feed(st, data + off, n);
		off += n;
	}
	if (rc == ADAPTER_OK)
		rc = schakel_adapter.finish(st);
	snprintf(log->err, sizeof(log->err), "%s", schakel_adapter.error(st));
	schakel_adapter.close(st);
	log->rc = rc;
	return rc;
}

static int run_str(struct host_log *log, const char *s)
{
	return run(log, s, strlen(s), 0);
}

/* Reads a whole file for a test; the caller frees. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void assert_same_got(const struct got *a, const struct got *b)
{
	size_t i;

	assert_string_equal(a->place, b->place);
	assert_str_or_null(b->id, a->id);
	assert_str_or_null(b->datum, a->datum);
	assert_str_or_null(b->soort, a->soort);
	assert_str_or_null(b->kvk, a->kvk);
	assert_str_or_null(b->personen, a->personen);
	assert_str_or_null(b->gemeentecode, a->gemeentecode);
	assert_str_or_null(b->postcode, a->postcode);
	assert_str_or_null(b->huisnummer, a->huisnummer);
	assert_str_or_null(b->huisletter, a->huisletter);
	assert_str_or_null(b->toevoeging, a->toevoeging);
	assert_str_or_null(b->nummeraanduiding, a->nummeraanduiding);
	assert_int_equal(a->nbsn, b->nbsn);
	for (i = 0; i < a->nbsn; i++)
		assert_string_equal(a->bsn[i], b->bsn[i]);
}

static void assert_same_logs(const struct host_log *a, const struct host_log *b)
{
	size_t i;

	assert_int_equal(a->rc, b->rc);
	assert_string_equal(a->err, b->err);
	assert_int_equal(a->nrec, b->nrec);
	assert_int_equal(a->nrej, b->nrej);
	for (i = 0; i < a->nrec; i++)
		assert_same_got(&a->rec[i], &b->rec[i]);
	for (i = 0; i < a->nrej; i++) {
		assert_string_equal(a->rej_place[i], b->rej_place[i]);
		assert_string_equal(a->rej_reason[i], b->rej_reason[i]);
	}
}

/* A good finding with the given id, for building inputs. */
#define FINDING(id) "{\"id\": \"" id "\", \"datum\": \"2026-09-01\", " \
	"\"soort\": \"huisvesting\", \"adres\": {\"gemeentecode\": \"1783\", " \
	"\"postcode\": \"2671AB\", \"huisnummer\": 10}, " \
	"\"aangetroffen_personen\": 2, \"personen\": [{\"bsn\": \"999900006\"}]}"

static void test_descriptor_is_versioned_and_named(void **state)
{
	(void)state;
	assert_int_equal(schakel_adapter.abi_version, ADAPTER_ABI_VERSION);
	assert_string_equal(schakel_adapter.name, "inspectie");
	assert_null(schakel_adapter.source_schema);
	schakel_adapter.close(NULL);
}

static void test_fixture_gives_five_findings(void **state)
{
	struct host_log log = { 0 };
	size_t len;
	char *data = slurp(FIXTURES "/inspectie.json", &len);
	const struct got *g;

	(void)state;
	assert_int_equal(run(&log, data, len, 0), ADAPTER_OK);
	assert_int_equal(log.nrec, 5);
	assert_int_equal(log.nrej, 0);

	g = &log.rec[0];
	assert_string_equal(g->place, "bevindingen[0] (line 3)");
	assert_string_equal(g->id, "NLA-2026-000101");
	assert_string_equal(g->datum, "2026-09-01");
	assert_string_equal(g->soort, "huisvesting");
	assert_string_equal(g->kvk, "12345678");
	assert_string_equal(g->gemeentecode, "1783");
	assert_string_equal(g->postcode, "2671 ab");
	assert_string_equal(g->huisnummer, "10");
	assert_string_equal(g->huisletter, "");
	assert_string_equal(g->toevoeging, "");
	assert_null(g->nummeraanduiding);
	assert_string_equal(g->personen, "9");
	assert_int_equal(g->nbsn, 2);
	assert_string_equal(g->bsn[0], "999900006");
	assert_string_equal(g->bsn[1], "999900018");

	g = &log.rec[1];
	assert_string_equal(g->id, "NLA-2026-000102");
	assert_string_equal(g->huisletter, "a");
	assert_string_equal(g->personen, "5");
	assert_int_equal(g->nbsn, 0);

	g = &log.rec[2];
	assert_string_equal(g->place, "bevindingen[2] (line 23)");
	assert_null(g->huisletter);
	assert_null(g->toevoeging);
	assert_int_equal(g->nbsn, 1);
	assert_string_equal(g->bsn[0], "999993653");

	g = &log.rec[4];
	assert_string_equal(g->id, "NLA-2026-000104");
	assert_string_equal(g->soort, "werkplek");
	assert_string_equal(g->datum, "2026-10-20");
	assert_string_equal(g->kvk, "87654321");
	assert_string_equal(g->postcode, "2675AA");
	assert_string_equal(g->huisnummer, "1");
	assert_string_equal(g->personen, "40");
	log_free(&log);
	free(data);
}

static void test_one_byte_chunks_give_the_same_result(void **state)
{
	static const char *const inputs[] = {
		NULL,	/* the fixture */
		"{\"volgende\": \"abc\", \"x\": [1, {\"y\": \"]}\\\"\"}],\n"
		" \"bevindingen\": [" FINDING("A") ", 42, {\"id\": 1}, "
		FINDING("B") "]}",
		"{\"bevindingen\": [" FINDING("A") ",\n {\"id\": \"x\" \"y\"}]}",
		"{\"bevindingen\": [" FINDING("A") "], \"volgende\": nul}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct host_log whole = { 0 }, bytes = { 0 };
		size_t len;
		char *data = inputs[i] ? strdup(inputs[i])
				       : slurp(FIXTURES "/inspectie.json", &len);

		if (inputs[i])
			len = strlen(data);
		run(&whole, data, len, 0);
		run(&bytes, data, len, 1);
		assert_same_logs(&whole, &bytes);
		log_free(&whole);
		log_free(&bytes);
		free(data);
	}
}

static void test_syntax_error_refused_with_line_and_column(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	/* Found by the framer: no ',' between two findings. */
	assert_int_equal(run_str(&log, "{\"bevindingen\": [\n  " FINDING("A")
				 "\n  " FINDING("B") "]}"), ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 3, column 3: expected ',' or ']' "
			    "in \"bevindingen\"");
	log_free(&log);
	/* Found by jansson inside a finding: no ':' after "datum". */
	assert_int_equal(run_str(&log, "{\"bevindingen\": [\n"
				 "  {\"id\": \"A\",\n"
				 "   \"datum\" \"2026-09-01\"}]}"),
			 ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 3, column "));
	assert_non_null(strstr(log.err, "JSON syntax error: ':' expected"));
	assert_null(strstr(log.err, "2026"));
	log_free(&log);
	/* Brackets that do not match. */
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"id\": [}]}"),
			 ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 1, column 26: '}' does not close "
			    "an open '{'");
	log_free(&log);
}

static void test_findings_before_a_syntax_error_are_still_passed(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	/* The host drops them when the file is refused; see README. */
	assert_int_equal(run_str(&log, "{\"bevindingen\": [" FINDING("A")
				 ", {\"id\": tru}]}"), ADAPTER_REFUSED);
	assert_int_equal(log.nrec, 1);
	assert_non_null(strstr(log.err, "line 1, column "));
	log_free(&log);
}

static void test_not_an_object_or_no_array_is_refused(void **state)
{
	static const struct {
		const char *in, *err;
	} cases[] = {
		{ "[]", "line 1, column 1: the file is not a JSON object "
			"(expected '{')" },
		{ "", "line 1, column 1: the file is empty, expected a JSON "
		      "object" },
		{ "{}", "line 1, column 2: the top-level object has no "
			"\"bevindingen\" array" },
		{ "{\"bevindingen\": {}}", "line 1, column 17: \"bevindingen\" "
			"is not an array" },
		{ "{\"bevindingen\": []", "line 1, column 19: unexpected end "
			"of the file" },
		{ "{\"bevindingen\": []} x", "line 1, column 21: text after "
			"the end of the top-level object" },
		{ "{\"bevindingen\": [],}", "line 1, column 20: expected a key "
			"(\"...\") in the top-level object" },
		{ "{\"bevindingen\": [" FINDING("A") ",]}", NULL },
		{ "{\"volgende\": 5, \"bevindingen\": []}", "line 1, column 14: "
			"\"volgende\" is not a string or null" },
	};
	struct host_log log = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run_str(&log, cases[i].in), ADAPTER_REFUSED);
		if (cases[i].err)
			assert_string_equal(log.err, cases[i].err);
		log_free(&log);
	}
}

static void test_volgende_string_or_null_is_accepted(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "{\"volgende\": \"eyJuYSI6IDEwMX0=\", "
				 "\"bevindingen\": [" FINDING("A") "]}"),
			 ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	log_free(&log);
	assert_int_equal(run_str(&log, "{\"bevindingen\": [], "
				 "\"volgende\": null}"), ADAPTER_OK);
	assert_int_equal(log.nrec, 0);
	log_free(&log);
}

/* A UTF-8 byte-order mark is ignored (RFC 8259 §8.1), in any chunks. */
static void test_utf8_bom_is_ignored(void **state)
{
	static const char doc[] = "\xEF\xBB\xBF{\"bevindingen\": [" FINDING("A") "], "
				  "\"volgende\": null}";
	struct host_log log = { 0 };

	(void)state;
	for (size_t chunk = 0; chunk <= 2; chunk++) {
		assert_int_equal(run(&log, doc, strlen(doc), chunk), ADAPTER_OK);
		assert_int_equal(log.nrec, 1);
		assert_string_equal(log.rec[0].place, "bevindingen[0] (line 1)");
		log_free(&log);
	}
	/* a mark cut short, or one of UTF-16, is not a JSON object */
	assert_int_equal(run_str(&log, "\xEF\xBB{\"bevindingen\": []}"), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "byte-order mark"));
	log_free(&log);
	assert_int_equal(run_str(&log, "\xFF\xFE{\"bevindingen\": []}"), ADAPTER_REFUSED);
	log_free(&log);
	/* only at the start */
	assert_int_equal(run_str(&log, " \xEF\xBB\xBF{\"bevindingen\": []}"), ADAPTER_REFUSED);
	log_free(&log);
}

static void test_duplicate_top_level_key_is_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "{\"bevindingen\": [], \"volgende\": "
				 "null,\n \"bevinding\\u0065n\": []}"),
			 ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 2, column 2: duplicate key in the "
			    "top-level object");
	log_free(&log);
}

static void test_duplicate_key_in_a_finding_rejects_it(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"id\": \"A\", "
				 "\"id\": \"B\"}, " FINDING("C") "]}"),
			 ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_string_equal(log.rec[0].id, "C");
	assert_int_equal(log.nrej, 1);
	assert_string_equal(log.rej_place[0], "bevindingen[0] (line 1)");
	assert_string_equal(log.rej_reason[0],
			    "a key appears twice in one object");
	log_free(&log);
}

static void test_deep_nesting_is_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	log.max_depth = 8;
	/* object 1, bevindingen 2, finding 3, x 4 .. 8: allowed. */
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"x\": "
				 "[[[[{}]]]]}]}"), ADAPTER_OK);
	assert_int_equal(log.nrej, 1);
	log_free(&log);
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"x\": "
				 "[[[[[[]]]]]]}]}"), ADAPTER_REFUSED);
	assert_string_equal(log.err,
			    "line 1, column 29: nesting deeper than 8 levels");
	log_free(&log);
	/* Also outside bevindingen. */
	assert_int_equal(run_str(&log, "{\"x\": [[[[[[[[[[]]]]]]]]]], "
				 "\"bevindingen\": []}"), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "nesting deeper than 8 levels"));
	log_free(&log);
}

static void test_overlong_finding_is_refused(void **state)
{
	struct host_log log = { 0 };
	char in[2048];

	(void)state;
	log.max_field = 512;
	snprintf(in, sizeof(in), "{\"bevindingen\": [" FINDING("A") ",\n"
		 "{\"id\": \"%0600d\"}]}", 7);
	assert_int_equal(run_str(&log, in), ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 2, column 1: bevindingen[1] is "
			    "longer than 512 bytes");
	log_free(&log);
	snprintf(in, sizeof(in), "{\"bevindingen\": [], \"x\": \"%0600d\"}", 7);
	assert_int_equal(run_str(&log, in), ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 1, column 26: a value is longer "
			    "than 512 bytes");
	log_free(&log);
}

static void test_personen_longer_than_aangetroffen_is_rejected(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"id\": \"A\", "
		"\"datum\": \"2026-09-01\", \"soort\": \"huisvesting\", "
		"\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"2671AB\", "
		"\"huisnummer\": 10}, \"aangetroffen_personen\": 1, "
		"\"personen\": [{\"bsn\": \"999900006\"}, {\"bsn\": \"999900018\"}]"
		"}, " FINDING("B") "]}"), ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_string_equal(log.rec[0].id, "B");
	assert_string_equal(log.rec[0].personen, "2");
	assert_int_equal(log.rec[0].nbsn, 1);
	assert_int_equal(log.nrej, 1);
	assert_string_equal(log.rej_reason[0], "personen has 2 entries, more "
			    "than aangetroffen_personen (1)");
	log_free(&log);
}

static void test_missing_id_is_rejected_and_others_kept(void **state)
{
	struct host_log log = { 0 };
	size_t len;
	char *data = slurp(FIXTURES "/inspectie.json", &len);
	char *id = strstr(data, "\"id\": \"NLA-2026-000102\"");

	(void)state;
	assert_non_null(id);
	memcpy(id, "\"ix\"", 4);
	assert_int_equal(run(&log, data, len, 0), ADAPTER_OK);
	assert_int_equal(log.nrec, 4);
	assert_string_equal(log.rec[0].id, "NLA-2026-000101");
	assert_string_equal(log.rec[1].id, "NLA-2026-000103");
	assert_int_equal(log.nrej, 1);
	assert_string_equal(log.rej_place[0], "bevindingen[1] (line 13)");
	assert_string_equal(log.rej_reason[0], "id is missing");
	log_free(&log);
	free(data);
}

static void test_wrong_types_are_rejected_naming_the_field(void **state)
{
	static const struct {
		const char *in, *reason;
	} cases[] = {
		{ "42", "finding is not an object" },
		{ "{\"id\": 7}", "id is not a string" },
		{ "{\"id\": \"A\"}", "datum is missing" },
		{ "{\"id\": \"A\", \"datum\": \"1-9-2026\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": 1}, \"aangetroffen_personen\": 0}",
		  "datum is not a date (YYYY-MM-DD)" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": \"10\"}, \"aangetroffen_personen\": 0}",
		  "adres.huisnummer is not an integer" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": 10.5}, \"aangetroffen_personen\": 0}",
		  "adres.huisnummer is not an integer" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"werkgever\": {\"kvk\": 12345678}, "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": 10}, \"aangetroffen_personen\": 0}",
		  "werkgever.kvk is not a string" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": 10}, \"aangetroffen_personen\": -1}",
		  "aangetroffen_personen is negative" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"postcode\": \"1\", "
		  "\"huisnummer\": 10}, \"aangetroffen_personen\": 3, "
		  "\"personen\": [{\"bsn\": \"1\"}, {\"bsn\": 2}]}",
		  "personen[1].bsn is not a string" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": \"Dorpsstraat 1\", \"aangetroffen_personen\": 0}",
		  "adres is not an object" },
		{ "{\"id\": \"A\", \"datum\": \"2026-09-01\", \"soort\": \"w\", "
		  "\"adres\": {\"gemeentecode\": \"1783\", \"huisnummer\": 10}, "
		  "\"aangetroffen_personen\": 0}", "adres.postcode is missing" },
	};
	struct host_log log = { 0 };
	char in[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(in, sizeof(in), "{\"bevindingen\": [%s, %s]}",
			 cases[i].in, FINDING("OK"));
		assert_int_equal(run_str(&log, in), ADAPTER_OK);
		assert_int_equal(log.nrec, 1);
		assert_string_equal(log.rec[0].id, "OK");
		assert_int_equal(log.nrej, 1);
		assert_string_equal(log.rej_place[0], "bevindingen[0] (line 1)");
		assert_string_equal(log.rej_reason[0], cases[i].reason);
		log_free(&log);
	}
}

static void test_numbers_out_of_range_are_rejected(void **state)
{
	static const char *const numbers[] = {
		"1e400", "99999999999999999999999", "-99999999999999999999999",
	};
	struct host_log log = { 0 };
	char in[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		snprintf(in, sizeof(in), "{\"bevindingen\": [{\"id\": \"A\", "
			 "\"aangetroffen_personen\": %s}, %s]}", numbers[i],
			 FINDING("OK"));
		assert_int_equal(run_str(&log, in), ADAPTER_OK);
		assert_int_equal(log.nrec, 1);
		assert_int_equal(log.nrej, 1);
		assert_non_null(strstr(log.rej_reason[0],
				       "a number is out of range"));
		log_free(&log);
	}
}

static void test_invalid_utf8_in_a_finding_rejects_it(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "{\"bevindingen\": [{\"id\": \"A\xff\"}, "
				 "{\"id\": \"A\\u0000\"}, " FINDING("OK") "]}"),
			 ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_int_equal(log.nrej, 2);
	assert_non_null(strstr(log.rej_reason[0], "not valid UTF-8"));
	assert_string_equal(log.rej_reason[1], "a string contains \\u0000");
	log_free(&log);
}

static void test_record_returning_minus_one_aborts(void **state)
{
	struct host_log log = { 0 };
	size_t len;
	char *data = slurp(FIXTURES "/inspectie.json", &len);

	(void)state;
	log.stop_at = 2;
	assert_int_equal(run(&log, data, len, 0), ADAPTER_ABORT);
	assert_int_equal(log.nrec, 2);
	assert_string_equal(log.err, "stopped by the host");
	log_free(&log);
	log.stop_at = 1;
	assert_int_equal(run(&log, data, len, 1), ADAPTER_ABORT);
	assert_int_equal(log.nrec, 1);
	log_free(&log);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_is_versioned_and_named),
		cmocka_unit_test(test_fixture_gives_five_findings),
		cmocka_unit_test(test_one_byte_chunks_give_the_same_result),
		cmocka_unit_test(test_syntax_error_refused_with_line_and_column),
		cmocka_unit_test(test_findings_before_a_syntax_error_are_still_passed),
		cmocka_unit_test(test_not_an_object_or_no_array_is_refused),
		cmocka_unit_test(test_volgende_string_or_null_is_accepted),
		cmocka_unit_test(test_utf8_bom_is_ignored),
		cmocka_unit_test(test_duplicate_top_level_key_is_refused),
		cmocka_unit_test(test_duplicate_key_in_a_finding_rejects_it),
		cmocka_unit_test(test_deep_nesting_is_refused),
		cmocka_unit_test(test_overlong_finding_is_refused),
		cmocka_unit_test(test_personen_longer_than_aangetroffen_is_rejected),
		cmocka_unit_test(test_missing_id_is_rejected_and_others_kept),
		cmocka_unit_test(test_wrong_types_are_rejected_naming_the_field),
		cmocka_unit_test(test_numbers_out_of_range_are_rejected),
		cmocka_unit_test(test_invalid_utf8_in_a_finding_rejects_it),
		cmocka_unit_test(test_record_returning_minus_one_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
