/*
 * test_record.c - canonical records: normalising an adapter's record and
 * validating its XML against schemas/schakel-records.xsd.
 */
#include "testutil.h"

#include "record.h"

static xmlSchemaPtr schema;
static struct record_checker *v;

static int setup(void **state)
{
	struct errbuf e;

	(void)state;
	xml_init();
	schema = xml_schema_load(SCHAKEL_SCHEMA_DIR, "schakel-records.xsd", &e);
	v = schema != NULL ? record_checker_new(schema) : NULL;
	return v != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	record_checker_free(v);
	xmlSchemaFree(schema);
	xml_cleanup();
	return 0;
}

static struct adapter_record person(const char *bsn, const char *postcode)
{
	return (struct adapter_record){
		.kind = ADAPTER_PERSON, .place = "line 1",
		.address = { .gemeentecode = "1783", .postcode = postcode, .huisnummer = "10",
			     .huisletter = " a ", .huisnummertoevoeging = "-2b" },
		.u.person = { .bsn = bsn, .begindatum = "2025-03-01" },
	};
}

static void test_person_is_normalised_and_valid(void **state)
{
	struct adapter_record in = person("12345672", "2671 ab");
	struct record r;
	struct errbuf e;
	bool nomem;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_OK);
	assert_string_equal(r.bsn, "012345672");
	assert_string_equal(r.address.postcode, "2671AB");
	assert_string_equal(r.address.huisletter, "A");
	assert_string_equal(r.address.toevoeging, "2B");
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	record_clear(&r);
}

static void test_bad_bsn_is_rejected_without_echoing_it(void **state)
{
	struct adapter_record in = person("999998620", "2671AB");
	struct record r;
	struct errbuf e;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "elfproef"));
	assert_null(strstr(e.msg, "999998620"));
}

static void test_finding_with_too_many_persons_is_rejected(void **state)
{
	const char *bsns[] = { "999900006", "999900018" };
	struct adapter_record in = {
		.kind = ADAPTER_FINDING, .place = "x",
		.address = { .gemeentecode = "1783", .postcode = "2671AB", .huisnummer = "10" },
		.u.finding = { .id = "F1", .datum = "2026-09-01", .soort = "huisvesting",
			       .aangetroffen_personen = "1", .bsns = bsns, .nbsn = 2 },
	};
	struct record r;
	struct errbuf e;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "more than aangetroffen_personen"));
}

static void test_schema_names_the_element_that_is_wrong(void **state)
{
	struct adapter_record in = {
		.kind = ADAPTER_FINDING, .place = "x",
		.address = { .gemeentecode = "1783", .postcode = "2671AB", .huisnummer = "10" },
		.u.finding = { .id = "F1", .datum = "2026-09-01", .soort = "huisvesting",
			       .kvk = "1234567", .aangetroffen_personen = "3" },
	};
	struct record r;
	struct errbuf e;
	bool nomem;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_OK);
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "kvk"));
	record_clear(&r);
}

static void test_dwelling_permit_needs_both_fields(void **state)
{
	struct adapter_record in = {
		.kind = ADAPTER_DWELLING, .place = "x",
		.address = { .gemeentecode = "1783", .postcode = "2671AB", .huisnummer = "10" },
		.u.dwelling = { .oppervlakte_m2 = "48", .vergunning_nummer = "V-1" },
	};
	struct record r;
	struct errbuf e;
	bool nomem;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "vergunning_geldig_tot"));
	in.u.dwelling.vergunning_geldig_tot = "2027-01-01";
	assert_int_equal(record_normalise(&in, &r, &e), ST_OK);
	assert_int_equal(r.oppervlakte, 48);
	assert_int_equal(r.max_bewoners, -1);
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	record_clear(&r);
}

/*
 * A person is validated through one document re-filled for each person
 * (record.c): a bad field is caught, and the next person, with or without
 * a nummeraanduiding, is judged on its own values.
 */
static void test_each_person_is_judged_on_its_own_values(void **state)
{
	struct adapter_record in = person("12345672", "2671AB");
	struct record r;
	struct errbuf e;
	bool nomem;

	(void)state;
	assert_int_equal(record_normalise(&in, &r, &e), ST_OK);
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	snprintf(r.address.postcode, sizeof(r.address.postcode), "0671AB");	/* no leading 0 */
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_FAIL);
	assert_false(nomem);
	assert_non_null(strstr(e.msg, "postcode"));
	snprintf(r.address.postcode, sizeof(r.address.postcode), "2671AB");
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	snprintf(r.address.nummeraanduiding_id, sizeof(r.address.nummeraanduiding_id),
		 "1783200000012345");
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	snprintf(r.address.nummeraanduiding_id, sizeof(r.address.nummeraanduiding_id),
		 "1783300000012345");	/* not an object of type 20 */
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "nummeraanduiding"));
	r.address.nummeraanduiding_id[0] = '\0';
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_OK);
	snprintf(r.begindatum, sizeof(r.begindatum), "2025-02-30");
	assert_int_equal(record_validate(v, &r, &nomem, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "begindatumVerblijf"));
	record_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_person_is_normalised_and_valid),
		cmocka_unit_test(test_bad_bsn_is_rejected_without_echoing_it),
		cmocka_unit_test(test_finding_with_too_many_persons_is_rejected),
		cmocka_unit_test(test_schema_names_the_element_that_is_wrong),
		cmocka_unit_test(test_dwelling_permit_needs_both_fields),
		cmocka_unit_test(test_each_person_is_judged_on_its_own_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
