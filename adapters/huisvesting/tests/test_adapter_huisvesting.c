/*
 * test_adapter_huisvesting.c - the huisvesting CSV adapter, driven through
 * its descriptor as the host would, with a recording host.
 */
#include "testutil.h"

#include "adapter.h"

extern const struct adapter schakel_adapter;

#define MAXREC 32
#define NFIELD 11

#define HEADER "gemeentecode;nummeraanduiding_id;postcode;huisnummer;" \
	"huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;" \
	"gebruiksdoel;max_bewoners;vergunning_nummer;vergunning_geldig_tot"

/* Field indexes in struct got.f. */
enum {
	F_GEMEENTE, F_NUMMERAANDUIDING, F_POSTCODE, F_HUISNUMMER, F_LETTER,
	F_TOEVOEGING, F_OPPERVLAKTE, F_DOEL, F_BEWONERS, F_VERGUNNING,
	F_GELDIG,
};

struct got {
	char *place;
	char *f[NFIELD];	/* NULL where the record had NULL */
};

struct host_log {
	struct got rec[MAXREC];
	size_t nrec;
	char *rej_place[MAXREC];
	char *rej_reason[MAXREC];
	size_t nrej;
	size_t stop_at;		/* record() returns -1 on this record (1-based) */
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
	struct got *g;
	const char *v[NFIELD];
	size_t i;

	assert_int_equal(r->kind, ADAPTER_DWELLING);
	assert_true(log->nrec < MAXREC);
	v[F_GEMEENTE] = r->address.gemeentecode;
	v[F_NUMMERAANDUIDING] = r->address.nummeraanduiding_id;
	v[F_POSTCODE] = r->address.postcode;
	v[F_HUISNUMMER] = r->address.huisnummer;
	v[F_LETTER] = r->address.huisletter;
	v[F_TOEVOEGING] = r->address.huisnummertoevoeging;
	v[F_OPPERVLAKTE] = r->u.dwelling.oppervlakte_m2;
	v[F_DOEL] = r->u.dwelling.gebruiksdoel;
	v[F_BEWONERS] = r->u.dwelling.max_bewoners;
	v[F_VERGUNNING] = r->u.dwelling.vergunning_nummer;
	v[F_GELDIG] = r->u.dwelling.vergunning_geldig_tot;
	g = &log->rec[log->nrec++];
	g->place = strdup(r->place);
	for (i = 0; i < NFIELD; i++)
		g->f[i] = dup_or_null(v[i]);
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

static void log_free(struct host_log *log)
{
	size_t i, j;

	for (i = 0; i < log->nrec; i++) {
		free(log->rec[i].place);
		for (j = 0; j < NFIELD; j++)
			free(log->rec[i].f[j]);
	}
	for (i = 0; i < log->nrej; i++) {
		free(log->rej_place[i]);
		free(log->rej_reason[i]);
	}
	memset(log, 0, sizeof(*log));
}

/*
 * Runs the adapter over data in chunks of chunk bytes (0: all at once) with
 * the given field limit, logging into log.  Returns the final adapter_rc.
 */
static int run(struct host_log *log, const char *data, size_t len,
	       size_t chunk, size_t max_field)
{
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.ctx = log,
		.record = on_record,
		.reject = on_reject,
		.max_field_bytes = max_field,
		.max_depth = 32,
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
	return run(log, s, strlen(s), 0, 256);
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

static void assert_field(const struct got *g, int i, const char *want)
{
	if (want == NULL)
		assert_null(g->f[i]);
	else
		assert_string_equal(g->f[i], want);
}

static void assert_same_logs(const struct host_log *a, const struct host_log *b)
{
	size_t i, j;

	assert_int_equal(a->rc, b->rc);
	assert_string_equal(a->err, b->err);
	assert_int_equal(a->nrec, b->nrec);
	assert_int_equal(a->nrej, b->nrej);
	for (i = 0; i < a->nrec; i++) {
		assert_string_equal(a->rec[i].place, b->rec[i].place);
		for (j = 0; j < NFIELD; j++)
			assert_field(&b->rec[i], (int)j, a->rec[i].f[j]);
	}
	for (i = 0; i < a->nrej; i++) {
		assert_string_equal(a->rej_place[i], b->rej_place[i]);
		assert_string_equal(a->rej_reason[i], b->rej_reason[i]);
	}
}

static void test_descriptor_is_versioned_and_named(void **state)
{
	(void)state;
	assert_int_equal(schakel_adapter.abi_version, ADAPTER_ABI_VERSION);
	assert_string_equal(schakel_adapter.name, "huisvesting");
	assert_null(schakel_adapter.source_schema);
	schakel_adapter.close(NULL);
}

static void test_fixture_gives_six_dwellings_as_given(void **state)
{
	struct host_log log = { 0 };
	size_t len;
	char *data = slurp(FIXTURES "/huisvesting.csv", &len);
	const struct got *g;

	(void)state;
	assert_int_equal(run(&log, data, len, 0, 256), ADAPTER_OK);
	assert_int_equal(log.nrec, 6);
	assert_int_equal(log.nrej, 0);

	g = &log.rec[0];
	assert_string_equal(g->place, "line 2");
	assert_field(g, F_GEMEENTE, "1783");
	assert_field(g, F_NUMMERAANDUIDING, "1783200000000010");
	assert_field(g, F_POSTCODE, "2671AB");
	assert_field(g, F_HUISNUMMER, "10");
	assert_field(g, F_LETTER, NULL);
	assert_field(g, F_TOEVOEGING, NULL);
	assert_field(g, F_OPPERVLAKTE, "48");
	assert_field(g, F_DOEL, "woonfunctie");
	assert_field(g, F_BEWONERS, NULL);
	assert_field(g, F_VERGUNNING, "V-2025-001");
	assert_field(g, F_GELDIG, "2027-01-01");

	g = &log.rec[1];
	assert_string_equal(g->place, "line 3");
	assert_field(g, F_POSTCODE, "2671 AC");
	assert_field(g, F_HUISNUMMER, "3");
	assert_field(g, F_LETTER, "a");
	assert_field(g, F_NUMMERAANDUIDING, NULL);
	assert_field(g, F_VERGUNNING, NULL);
	assert_field(g, F_GELDIG, NULL);

	assert_field(&log.rec[2], F_BEWONERS, "6");
	assert_field(&log.rec[3], F_TOEVOEGING, "2");
	assert_field(&log.rec[3], F_GEMEENTE, "0983");

	g = &log.rec[5];
	assert_string_equal(g->place, "line 7");
	assert_field(g, F_GEMEENTE, "1783");
	assert_field(g, F_POSTCODE, "2671AD");
	assert_field(g, F_OPPERVLAKTE, "90");
	assert_field(g, F_VERGUNNING, "V-2024-017");
	assert_field(g, F_GELDIG, "2025-12-31");
	log_free(&log);
	free(data);
}

static void test_one_byte_chunks_give_the_same_result(void **state)
{
	static const char *const inputs[] = {
		NULL,	/* the fixture */
		"\xef\xbb\xbf" HEADER "\r\n1;;2;3;;;w;;;;;\r\n\"4\n5\";;a\"\"b;1\r\n",
		HEADER "\n1;2;3;4;5;6;7;8;9;10;11;\"12",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct host_log whole = { 0 }, bytes = { 0 };
		size_t len;
		char *data = inputs[i] ? strdup(inputs[i])
				       : slurp(FIXTURES "/huisvesting.csv", &len);

		if (inputs[i])
			len = strlen(data);
		run(&whole, data, len, 0, 256);
		run(&bytes, data, len, 1, 256);
		assert_same_logs(&whole, &bytes);
		log_free(&whole);
		log_free(&bytes);
		free(data);
	}
}

static void test_bom_at_start_is_accepted(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "\xef\xbb\xbf" HEADER "\n"
				 "1783;;2671AB;10;;;N;48;woonfunctie;;;\n"),
			 ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_field(&log.rec[0], F_GEMEENTE, "1783");
	assert_string_equal(log.rec[0].place, "line 2");
	log_free(&log);
}

static void test_bom_bytes_that_are_no_bom_are_data(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "\xef\xbb" HEADER "\n"),
			 ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 1: header is not"));
	assert_non_null(strstr(log.err, "column 1"));
	log_free(&log);
}

static void test_wrong_header_is_refused_naming_the_column(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log,
		"gemeentecode;nummeraanduiding_id;postcod;huisnummer;"
		"huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;"
		"gebruiksdoel;max_bewoners;vergunning_nummer;"
		"vergunning_geldig_tot\n"
		"1783;;2671AB;10;;;N;48;woonfunctie;;;\n"), ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 1: header is not the huisvesting "
			    "header: column 3 is \"postcod\", expected "
			    "\"postcode\"");
	assert_int_equal(log.nrec, 0);
	log_free(&log);
}

static void test_header_with_columns_in_other_order_is_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log,
		"nummeraanduiding_id;gemeentecode;postcode;huisnummer;"
		"huisletter;huisnummertoevoeging;woonplaats;oppervlakte_m2;"
		"gebruiksdoel;max_bewoners;vergunning_nummer;"
		"vergunning_geldig_tot\n"), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "column 1 is \"nummeraanduiding_id\", "
			       "expected \"gemeentecode\""));
	log_free(&log);
}

static void test_short_and_long_headers_are_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, "gemeentecode;nummeraanduiding_id\n"),
			 ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "column 3 is missing, expected "
			       "\"postcode\""));
	log_free(&log);
	assert_int_equal(run_str(&log, HEADER ";extra\n"), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "13 columns, expected 12"));
	log_free(&log);
}

static void test_empty_file_and_empty_first_line_are_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, ""), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 1: header is missing"));
	log_free(&log);
	assert_int_equal(run_str(&log, "\n" HEADER "\n"), ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 1: header is not"));
	log_free(&log);
}

static void test_quoted_line_breaks_count_lines_right(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;\"Naald\nwijk\";48;woonfunctie;;;\n"
		"1783;;2671AC;3;;;\"a\r\nb\n\nc\";60;woonfunctie;;;\n"
		"\n"
		"1783;;2671AD;5;;;\"x;\"\"y\"\"\";90;woonfunctie;;;\n"
		"1783;;2671AE;6;;;N;;;\n"), ADAPTER_OK);
	assert_int_equal(log.nrec, 3);
	assert_string_equal(log.rec[0].place, "line 2");
	assert_string_equal(log.rec[1].place, "line 4");
	assert_string_equal(log.rec[2].place, "line 9");
	assert_field(&log.rec[1], F_POSTCODE, "2671AC");
	assert_field(&log.rec[1], F_OPPERVLAKTE, "60");
	assert_int_equal(log.nrej, 1);
	assert_string_equal(log.rej_place[0], "line 10");
	assert_string_equal(log.rej_reason[0], "10 fields, expected 12");
	log_free(&log);
}

static void test_crlf_and_cr_line_ends_count_as_one_line(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\r\n"
		"1783;;2671AB;10;;;N;48;woonfunctie;;;\r\n"
		"1783;;2671AC;3;;;N;60;woonfunctie;;;\r"
		"1783;;2671AD;5;;;N;90;woonfunctie;;;\n"
		"1783;;2671AE;6;;;N;90;woonfunctie;;;"), ADAPTER_OK);
	assert_int_equal(log.nrec, 4);
	assert_string_equal(log.rec[0].place, "line 2");
	assert_string_equal(log.rec[1].place, "line 3");
	assert_string_equal(log.rec[2].place, "line 4");
	assert_string_equal(log.rec[3].place, "line 5");
	assert_field(&log.rec[3], F_POSTCODE, "2671AE");
	assert_field(&log.rec[3], F_DOEL, "woonfunctie");
	assert_field(&log.rec[3], F_GELDIG, NULL);
	log_free(&log);
}

static void test_wrong_field_count_rejects_only_that_row(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;N;48;woonfunctie;;;\n"
		"1783;;2671AC;3;;;N;60;woonfunctie;;\n"
		"1783;;2671AD;5;;;N;90;woonfunctie;;;;\n"
		"1783;;2671AE;6;;;N;90;woonfunctie;;;\n"), ADAPTER_OK);
	assert_int_equal(log.nrec, 2);
	assert_field(&log.rec[0], F_POSTCODE, "2671AB");
	assert_field(&log.rec[1], F_POSTCODE, "2671AE");
	assert_string_equal(log.rec[1].place, "line 5");
	assert_int_equal(log.nrej, 2);
	assert_string_equal(log.rej_place[0], "line 3");
	assert_string_equal(log.rej_reason[0], "11 fields, expected 12");
	assert_string_equal(log.rej_place[1], "line 4");
	assert_string_equal(log.rej_reason[1], "13 fields, expected 12");
	log_free(&log);
}

static void test_empty_fields_quoted_or_not_are_absent(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;\"\";2671AB;10;\"\";;N;48;woonfunctie;;;\"\"\n"),
			 ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_field(&log.rec[0], F_NUMMERAANDUIDING, NULL);
	assert_field(&log.rec[0], F_LETTER, NULL);
	assert_field(&log.rec[0], F_GELDIG, NULL);
	log_free(&log);
}

static void test_spaces_are_kept_as_given(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		" 1783 ;;2671 ab; 10;;-2 ;N;48;woonfunctie;;;\n"), ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_field(&log.rec[0], F_GEMEENTE, " 1783 ");
	assert_field(&log.rec[0], F_POSTCODE, "2671 ab");
	assert_field(&log.rec[0], F_HUISNUMMER, " 10");
	assert_field(&log.rec[0], F_TOEVOEGING, "-2 ");
	log_free(&log);
}

static void test_overlong_field_is_refused(void **state)
{
	struct host_log log = { 0 };
	const char *ok = HEADER "\n1783;;2671AB;10;;;"
		"0123456789abcdefghijk;;;;;\n";
	const char *too_long = HEADER "\n1783;;2671AB;10;;;"
		"0123456789abcdefghijkl;;;;;\n";

	(void)state;
	/* The limit is 21 bytes, the longest header name: 21 pass, 22 not. */
	assert_int_equal(run(&log, ok, strlen(ok), 0, 21), ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_field(&log.rec[0], F_OPPERVLAKTE, NULL);
	log_free(&log);
	assert_int_equal(run(&log, too_long, strlen(too_long), 0, 21),
			 ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 2: a field is longer than 21 bytes");
	assert_int_equal(log.nrec, 0);
	log_free(&log);
	assert_int_equal(run(&log, too_long, strlen(too_long), 1, 21),
			 ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 2: a field is longer than 21 bytes");
	log_free(&log);
}

static void test_endless_field_is_refused_early(void **state)
{
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.record = on_record,
		.reject = on_reject,
		.max_field_bytes = 1000,
		.max_depth = 32,
	};
	struct host_log log = { 0 };
	char chunk[1000];
	size_t fed = 0;
	int rc;
	void *st;

	(void)state;
	host.ctx = &log;
	memset(chunk, 'x', sizeof(chunk));
	st = schakel_adapter.open(&host);
	assert_non_null(st);
	rc = schakel_adapter.feed(st, HEADER "\n\"", strlen(HEADER) + 2);
	assert_int_equal(rc, ADAPTER_OK);
	/* A quoted field that never ends: refused after about the limit. */
	while (rc == ADAPTER_OK && fed < 10 * 1000 * 1000) {
		rc = schakel_adapter.feed(st, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(rc, ADAPTER_REFUSED);
	assert_true(fed <= 8000);
	assert_string_equal(schakel_adapter.error(st),
			    "line 2: a field is longer than 1000 bytes");
	schakel_adapter.close(st);
}

static void test_unterminated_quote_at_end_is_refused(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;N;48;woonfunctie;;;\n"
		"1783;;2671AC;3;;;\"Naaldwijk;60;woonfunctie;;;\n"),
			 ADAPTER_REFUSED);
	assert_string_equal(log.err, "line 3: quoted field is not closed at "
			    "the end of the file");
	log_free(&log);
}

static void test_stray_quote_is_refused_naming_the_line(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;N;48;woonfunctie;;;\n"
		"1783;;2671AC;3;;;Naald\"wijk;60;woonfunctie;;;\n"),
			 ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 3: malformed CSV"));
	log_free(&log);
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;\"N\"x;48;woonfunctie;;;\n"),
			 ADAPTER_REFUSED);
	assert_non_null(strstr(log.err, "line 2: malformed CSV"));
	log_free(&log);
}

static void test_invalid_utf8_rejects_the_row(void **state)
{
	struct host_log log = { 0 };

	(void)state;
	assert_int_equal(run_str(&log, HEADER "\n"
		"1783;;2671AB;10;;;Naald\xffwijk;48;woonfunctie;;;\n"
		"1783;;2671AC;3;;;\xc3\xa9;60;woonfunctie;;;\n"
		"1783;;2671AD;5;\xc0\xaf;;N;60;woonfunctie;;;\n"), ADAPTER_OK);
	assert_int_equal(log.nrec, 1);
	assert_field(&log.rec[0], F_POSTCODE, "2671AC");
	assert_int_equal(log.nrej, 2);
	assert_string_equal(log.rej_place[0], "line 2");
	assert_string_equal(log.rej_reason[0],
			    "column woonplaats is not valid UTF-8");
	assert_string_equal(log.rej_reason[1],
			    "column huisletter is not valid UTF-8");
	log_free(&log);
}

static void test_record_returning_minus_one_aborts(void **state)
{
	struct host_log log = { 0 };
	size_t len;
	char *data = slurp(FIXTURES "/huisvesting.csv", &len);

	(void)state;
	log.stop_at = 2;
	assert_int_equal(run(&log, data, len, 0, 256), ADAPTER_ABORT);
	assert_int_equal(log.nrec, 2);
	log_free(&log);
	log.stop_at = 6;
	assert_int_equal(run(&log, data, len, 7, 256), ADAPTER_ABORT);
	assert_int_equal(log.nrec, 6);
	log_free(&log);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_is_versioned_and_named),
		cmocka_unit_test(test_fixture_gives_six_dwellings_as_given),
		cmocka_unit_test(test_one_byte_chunks_give_the_same_result),
		cmocka_unit_test(test_bom_at_start_is_accepted),
		cmocka_unit_test(test_bom_bytes_that_are_no_bom_are_data),
		cmocka_unit_test(test_wrong_header_is_refused_naming_the_column),
		cmocka_unit_test(test_header_with_columns_in_other_order_is_refused),
		cmocka_unit_test(test_short_and_long_headers_are_refused),
		cmocka_unit_test(test_empty_file_and_empty_first_line_are_refused),
		cmocka_unit_test(test_quoted_line_breaks_count_lines_right),
		cmocka_unit_test(test_crlf_and_cr_line_ends_count_as_one_line),
		cmocka_unit_test(test_wrong_field_count_rejects_only_that_row),
		cmocka_unit_test(test_empty_fields_quoted_or_not_are_absent),
		cmocka_unit_test(test_spaces_are_kept_as_given),
		cmocka_unit_test(test_overlong_field_is_refused),
		cmocka_unit_test(test_endless_field_is_refused_early),
		cmocka_unit_test(test_unterminated_quote_at_end_is_refused),
		cmocka_unit_test(test_stray_quote_is_refused_naming_the_line),
		cmocka_unit_test(test_invalid_utf8_rejects_the_row),
		cmocka_unit_test(test_record_returning_minus_one_aborts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
