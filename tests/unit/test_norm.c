/*
 * test_norm.c - the shared value rules of sources.md: addresses, BSNs
 * (elfproef), dates, day arithmetic and whole numbers.
 */
#include "testutil.h"

#include <ctype.h>

#include "bsnlike.h"
#include "norm.h"

/* An adapter address with the given parts (NULL: absent). */
static struct adapter_address src_address(const char *gemeente, const char *nad,
					  const char *postcode, const char *nr,
					  const char *letter, const char *toev)
{
	struct adapter_address a = {
		.gemeentecode = gemeente, .nummeraanduiding_id = nad, .postcode = postcode,
		.huisnummer = nr, .huisletter = letter, .huisnummertoevoeging = toev,
	};

	return a;
}

/* Normalises an address that must be accepted. */
static struct address accept_address(struct adapter_address in)
{
	struct address out;
	struct errbuf e = { "" };

	if (norm_address(&in, &out, &e) != ST_OK)
		fail_msg("address refused: %s", e.msg);
	return out;
}

/* Asserts that an address is refused with a message that contains what. */
static void refuse_address(struct adapter_address in, const char *what)
{
	struct address out;
	struct errbuf e = { "" };

	assert_int_equal(norm_address(&in, &out, &e), ST_FAIL);
	if (strstr(e.msg, what) == NULL)
		fail_msg("expected a message with '%s', got '%s'", what, e.msg);
}

/* Only the postcode varies. */
static struct adapter_address pc(const char *postcode)
{
	return src_address("1783", NULL, postcode, "10", NULL, NULL);
}

static void test_postcode_loses_white_space_and_is_upper_cased(void **state)
{
	(void)state;
	assert_string_equal(accept_address(pc("2671 ab")).postcode, "2671AB");
	assert_string_equal(accept_address(pc("2671AB")).postcode, "2671AB");
	assert_string_equal(accept_address(pc(" 2671\tAb ")).postcode, "2671AB");
	assert_string_equal(accept_address(pc("2671 A B")).postcode, "2671AB");
	assert_string_equal(accept_address(pc("9999zz")).postcode, "9999ZZ");
}

static void test_postcode_of_wrong_shape_is_refused(void **state)
{
	(void)state;
	refuse_address(pc("0123AB"), "postcode");	/* may not start with 0 */
	refuse_address(pc("2671A"), "postcode");
	refuse_address(pc("2671ABC"), "postcode");
	refuse_address(pc("26711AB"), "postcode");
	refuse_address(pc("267AB"), "postcode");
	refuse_address(pc("2671A1"), "postcode");
	refuse_address(pc("AB2671"), "postcode");
	refuse_address(pc(""), "postcode");
	refuse_address(pc("   "), "postcode");
	refuse_address(src_address("1783", NULL, NULL, "10", NULL, NULL), "postcode");
}

static struct adapter_address nr(const char *huisnummer)
{
	return src_address("1783", NULL, "2671AB", huisnummer, NULL, NULL);
}

static void test_huisnummer_from_1_to_99999(void **state)
{
	(void)state;
	assert_int_equal(accept_address(nr("1")).huisnummer, 1);
	assert_int_equal(accept_address(nr("99999")).huisnummer, 99999);
	assert_int_equal(accept_address(nr(" 10 ")).huisnummer, 10);
	refuse_address(nr("0"), "huisnummer");
	refuse_address(nr("100000"), "huisnummer");
	refuse_address(nr("-1"), "huisnummer");
	refuse_address(nr("10a"), "huisnummer");
	refuse_address(nr("1.5"), "huisnummer");
	refuse_address(nr(""), "huisnummer");
	refuse_address(nr(NULL), "huisnummer");
}

static struct adapter_address letter(const char *l)
{
	return src_address("1783", NULL, "2671AB", "10", l, NULL);
}

static void test_huisletter_trimmed_and_upper_cased(void **state)
{
	(void)state;
	assert_string_equal(accept_address(letter("a")).huisletter, "A");
	assert_string_equal(accept_address(letter(" b ")).huisletter, "B");
	assert_string_equal(accept_address(letter("Z")).huisletter, "Z");
	assert_string_equal(accept_address(letter("")).huisletter, "");
	assert_string_equal(accept_address(letter("  ")).huisletter, "");
	assert_string_equal(accept_address(letter(NULL)).huisletter, "");
	refuse_address(letter("ab"), "huisletter");
	refuse_address(letter("1"), "huisletter");
	refuse_address(letter("-"), "huisletter");
}

static struct adapter_address toev(const char *t)
{
	return src_address("1783", NULL, "2671AB", "10", NULL, t);
}

static void test_toevoeging_strips_one_dash_and_is_upper_cased(void **state)
{
	(void)state;
	assert_string_equal(accept_address(toev("-2")).toevoeging, "2");
	assert_string_equal(accept_address(toev("2")).toevoeging, "2");
	assert_string_equal(accept_address(toev(" -a1 ")).toevoeging, "A1");
	assert_string_equal(accept_address(toev("bis")).toevoeging, "BIS");
	assert_string_equal(accept_address(toev("")).toevoeging, "");
	assert_string_equal(accept_address(toev(NULL)).toevoeging, "");
	/* only one dash is stripped */
	refuse_address(toev("--2"), "huisnummertoevoeging");
	refuse_address(toev("2-"), "huisnummertoevoeging");
	refuse_address(toev("a b"), "huisnummertoevoeging");
}

static void test_toevoeging_at_most_four_characters(void **state)
{
	(void)state;
	assert_string_equal(accept_address(toev("abcd")).toevoeging, "ABCD");
	assert_string_equal(accept_address(toev("-1234")).toevoeging, "1234");
	refuse_address(toev("abcde"), "huisnummertoevoeging");
	refuse_address(toev("-12345"), "huisnummertoevoeging");
	refuse_address(toev("123456789012345678901234567890"), "huisnummertoevoeging");
}

static void test_gemeentecode_taken_from_nummeraanduiding_when_absent(void **state)
{
	struct address a;

	(void)state;
	a = accept_address(src_address(NULL, "1783200000000010", "2671AB", "10", NULL, NULL));
	assert_string_equal(a.gemeentecode, "1783");
	assert_string_equal(a.nummeraanduiding_id, "1783200000000010");
	a = accept_address(src_address("", "0983200000000101", "5911AA", "1", NULL, NULL));
	assert_string_equal(a.gemeentecode, "0983");
	/* a given gemeentecode is kept */
	a = accept_address(src_address("1783", NULL, "2671AB", "10", NULL, NULL));
	assert_string_equal(a.gemeentecode, "1783");
	assert_string_equal(a.nummeraanduiding_id, "");
	refuse_address(src_address(NULL, NULL, "2671AB", "10", NULL, NULL), "gemeentecode");
	refuse_address(src_address("", "", "2671AB", "10", NULL, NULL), "gemeentecode");
	refuse_address(src_address("983", NULL, "2671AB", "10", NULL, NULL), "gemeentecode");
	refuse_address(src_address("17834", NULL, "2671AB", "10", NULL, NULL), "gemeentecode");
	refuse_address(src_address("17a3", NULL, "2671AB", "10", NULL, NULL), "gemeentecode");
}

static struct adapter_address nad(const char *id)
{
	return src_address("1783", id, "2671AB", "10", NULL, NULL);
}

static void test_nummeraanduiding_is_16_digits_with_20_in_5th_6th(void **state)
{
	(void)state;
	assert_string_equal(accept_address(nad("1783200000000010")).nummeraanduiding_id,
			    "1783200000000010");
	refuse_address(nad("178320000000001"), "nummeraanduiding_id");	/* 15 */
	refuse_address(nad("17832000000000100"), "nummeraanduiding_id");	/* 17 */
	refuse_address(nad("1783100000000010"), "nummeraanduiding_id");	/* "10" */
	refuse_address(nad("1783020000000010"), "nummeraanduiding_id");	/* "02" */
	refuse_address(nad("17832000000000x0"), "nummeraanduiding_id");
	refuse_address(nad("-783200000000010"), "nummeraanduiding_id");
}

static void test_address_key_and_display(void **state)
{
	struct address a;
	char key[ADDRESS_KEY_MAX], disp[ADDRESS_KEY_MAX];

	(void)state;
	a = accept_address(src_address("1783", NULL, "2671 ab", "10", NULL, NULL));
	address_key(&a, key);
	address_display(&a, disp);
	assert_string_equal(key, "2671AB|10||");
	assert_string_equal(disp, "2671AB 10");
	a = accept_address(src_address("1783", NULL, "2671ac", "3", "a", NULL));
	address_key(&a, key);
	address_display(&a, disp);
	assert_string_equal(key, "2671AC|3|A|");
	assert_string_equal(disp, "2671AC 3A");
	a = accept_address(src_address("0983", NULL, "5911AA", "1", NULL, "-2"));
	address_key(&a, key);
	address_display(&a, disp);
	assert_string_equal(key, "5911AA|1||2");
	assert_string_equal(disp, "5911AA 1-2");
	a = accept_address(src_address("0983", NULL, "5911AA", "99999", "z", "abcd"));
	address_key(&a, key);
	assert_string_equal(key, "5911AA|99999|Z|ABCD");
	/* written by hand: the same as its printf format for any number */
	for (long n = -12; n <= 2147483647L; n = n < 1000 ? n + 1 : n * 3 + 7) {
		char want[ADDRESS_KEY_MAX];

		a.huisnummer = (int)n;
		address_key(&a, key);
		snprintf(want, sizeof(want), "%s|%d|%s|%s", a.postcode, a.huisnummer,
			 a.huisletter, a.toevoeging);
		assert_string_equal(key, want);
	}
	a.huisnummer = -2147483647 - 1;
	address_key(&a, key);
	assert_string_equal(key, "5911AA|-2147483648|Z|ABCD");
}

/* --- BSN ------------------------------------------------------------ */

/* Asserts that the message names no run of 4 or more digits. */
static void assert_no_digits_run(const char *msg)
{
	int run = 0;

	for (const char *p = msg; *p != '\0'; p++) {
		run = isdigit((unsigned char)*p) ? run + 1 : 0;
		if (run >= 4)
			fail_msg("the message shows digits: '%s'", msg);
	}
}

static void accept_bsn(const char *in, const char *want)
{
	char out[10];
	struct errbuf e = { "" };

	if (norm_bsn(in, out, &e) != ST_OK)
		fail_msg("BSN refused: %s", e.msg);
	assert_string_equal(out, want);
}

static void refuse_bsn(const char *in)
{
	char out[10];
	struct errbuf e = { "" };

	assert_int_equal(norm_bsn(in, out, &e), ST_FAIL);
	assert_true(e.msg[0] != '\0');
	assert_non_null(strstr(e.msg, "BSN"));
	if (in != NULL && *in != '\0' && strstr(e.msg, in) != NULL)
		fail_msg("the message shows the BSN: '%s'", e.msg);
	assert_no_digits_run(e.msg);
}

static void test_bsn_elfproef_accepts_valid_numbers(void **state)
{
	(void)state;
	accept_bsn("999900006", "999900006");
	accept_bsn("999993653", "999993653");
	accept_bsn("999900018", "999900018");
	accept_bsn("111222333", "111222333");
}

static void test_bsn_elfproef_refuses_invalid_numbers(void **state)
{
	(void)state;
	refuse_bsn("999998620");
	refuse_bsn("999900007");
	refuse_bsn("123456789");
	refuse_bsn("999993654");
}

static void test_bsn_of_8_digits_gets_leading_zero(void **state)
{
	char out[10];
	struct errbuf e;

	(void)state;
	/* 0·9 + 1·8 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3 + 7·2 = 112 = 10·11 + 2 */
	accept_bsn("12345672", "012345672");
	accept_bsn("012345672", "012345672");
	/* the same digits with the wrong check digit */
	refuse_bsn("12345673");
	assert_int_equal(norm_bsn("12345673", out, &e), ST_FAIL);
}

static void test_bsn_all_zeros_refused(void **state)
{
	(void)state;
	refuse_bsn("000000000");
	refuse_bsn("00000000");
}

static void test_bsn_of_wrong_length_or_not_digits_refused(void **state)
{
	(void)state;
	refuse_bsn("9999000006");
	refuse_bsn("9990006");
	refuse_bsn("99990000a");
	refuse_bsn("999 900 006");
	refuse_bsn("-99990006");
	refuse_bsn("");
	refuse_bsn(NULL);
}

static void test_bsn_message_never_shows_the_number(void **state)
{
	static const char *const bad[] = {
		"999998620", "99999862", "9999986200", "99999862x", "000000000",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuse_bsn(bad[i]);
}

/* --- dates ----------------------------------------------------------- */

static void accept_date(const char *in)
{
	struct errbuf e = { "" };

	if (norm_date("datum", in, &e) != ST_OK)
		fail_msg("date '%s' refused: %s", in, e.msg);
}

static void refuse_date(const char *in)
{
	struct errbuf e = { "" };

	if (norm_date("datum", in, &e) != ST_FAIL)
		fail_msg("date '%s' accepted", in ? in : "(null)");
	assert_non_null(strstr(e.msg, "datum"));
}

static void test_date_checks_the_calendar(void **state)
{
	(void)state;
	accept_date("2026-01-01");
	accept_date("2026-12-31");
	accept_date("2024-02-29");
	accept_date("2000-02-29");
	accept_date("2026-04-30");
	refuse_date("2026-02-30");
	refuse_date("2026-13-01");
	refuse_date("2023-02-29");
	refuse_date("1900-02-29");
	refuse_date("2100-02-29");
	refuse_date("2026-04-31");
	refuse_date("2026-00-10");
	refuse_date("2026-01-00");
	refuse_date("2026-01-32");
}

static void test_date_must_be_yyyy_mm_dd(void **state)
{
	(void)state;
	refuse_date("2026-1-01");
	refuse_date("2026-01-1");
	refuse_date("26-01-01");
	refuse_date("2026/01/01");
	refuse_date("20260101");
	refuse_date("2026-01-01T00");
	refuse_date("2026-0a-01");
	refuse_date(" 2026-01-01");
	refuse_date("+026-01-01");
	refuse_date("");
	refuse_date(NULL);
}

static void test_days_known_values(void **state)
{
	(void)state;
	assert_int_equal(norm_days("1970-01-01"), 0);
	assert_int_equal(norm_days("1970-01-02"), 1);
	assert_int_equal(norm_days("1969-12-31"), -1);
	assert_int_equal(norm_days("2000-03-01"), 11017);
	assert_int_equal(norm_days("2026-11-01") - norm_days("2025-11-01"), 365);
	assert_int_equal(norm_days("2024-11-01") - norm_days("2023-11-01"), 366);
	assert_int_equal(norm_days("2024-03-01") - norm_days("2024-02-28"), 2);
	assert_int_equal(norm_days("2100-03-01") - norm_days("2100-02-28"), 1);
}

static void test_days_round_trip_over_leap_years(void **state)
{
	long from = norm_days("1896-01-01"), to = norm_days("2104-12-31");
	char prev[11] = "", date[11];
	struct errbuf e;
	int year = 1896;
	long days_in_year = 0;

	(void)state;
	for (long d = from; d <= to; d++) {
		norm_date_from_days(d, date);
		if (norm_date("d", date, &e) != ST_OK)
			fail_msg("day %ld gives '%s', not a date", d, date);
		if (norm_days(date) != d)
			fail_msg("'%s' gives day %ld, not %ld", date, norm_days(date), d);
		if (strcmp(prev, date) >= 0)
			fail_msg("'%s' follows '%s'", date, prev);
		if (atoi(date) != year) {
			bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

			if (days_in_year != (leap ? 366 : 365))
				fail_msg("year %d has %ld days", year, days_in_year);
			assert_string_equal(date + 4, "-01-01");
			year++;
			days_in_year = 0;
		}
		days_in_year++;
		memcpy(prev, date, sizeof(prev));
	}
	assert_string_equal(prev, "2104-12-31");
	assert_int_equal(days_in_year, 366);
}

/* --- whole numbers ---------------------------------------------------- */

static void test_int_within_bounds(void **state)
{
	long v = 0;
	struct errbuf e = { "" };

	(void)state;
	assert_int_equal(norm_int("n", "1", 1, 10, false, &v, &e), ST_OK);
	assert_int_equal(v, 1);
	assert_int_equal(norm_int("n", "10", 1, 10, false, &v, &e), ST_OK);
	assert_int_equal(v, 10);
	assert_int_equal(norm_int("n", " 7\t", 1, 10, false, &v, &e), ST_OK);
	assert_int_equal(v, 7);
	assert_int_equal(norm_int("n", "-3", -5, 5, false, &v, &e), ST_OK);
	assert_int_equal(v, -3);
	assert_int_equal(norm_int("n", "007", 1, 10, false, &v, &e), ST_OK);
	assert_int_equal(v, 7);
}

static void test_int_out_of_bounds_or_not_a_number_refused(void **state)
{
	static const char *const bad[] = {
		"0", "11", "-1", "abc", "5x", "1.5", "+5", "1e1", "0x5", " ", "5 5",
		"99999999999999999999", "-99999999999999999999",
	};
	struct errbuf e;
	long v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		v = 3;
		if (norm_int("aantal", bad[i], 1, 10, true, &v, &e) != ST_FAIL)
			fail_msg("'%s' accepted as %ld", bad[i], v);
		assert_non_null(strstr(e.msg, "aantal"));
		assert_non_null(strstr(e.msg, "from 1 to 10"));
	}
}

static void test_int_absent_is_minus_one_when_optional(void **state)
{
	long v = 5;
	struct errbuf e = { "" };

	(void)state;
	assert_int_equal(norm_int("n", NULL, 1, 10, true, &v, &e), ST_OK);
	assert_int_equal(v, -1);
	v = 5;
	assert_int_equal(norm_int("n", "", 1, 10, true, &v, &e), ST_OK);
	assert_int_equal(v, -1);
	assert_int_equal(norm_int("max_bewoners", NULL, 1, 10, false, &v, &e), ST_FAIL);
	assert_non_null(strstr(e.msg, "max_bewoners is missing"));
	assert_int_equal(norm_int("n", "", 1, 10, false, &v, &e), ST_FAIL);
}

/* bsnlike_mask() on a copy of in must give want. */
static void mask_is(const char *in, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	bsnlike_mask(buf);
	assert_string_equal(buf, want);
}

static void test_bsnlike_masks_a_bsn_whatever_its_separators(void **state)
{
	(void)state;
	mask_is("999900006", "[BSN?]");
	mask_is("9999.00.006", "[BSN?]");
	mask_is("999 900 006", "[BSN?]");
	mask_is("999-90-0006", "[BSN?]");
	mask_is("99 99.00-006", "[BSN?]");
	mask_is("12345672", "[BSN?]");	/* 8 digits: a BSN without its 0 */
	mask_is("x999900006y", "x[BSN?]y");
	mask_is("the value '9999.00.006' is not", "the value '[BSN?]' is not");
	mask_is("12 9999.00.006", "[BSN?]");	/* a window of the run */
	mask_is("9 9 9 9 0 0 0 0 6", "[BSN?]");
}

static void test_bsnlike_leaves_other_numbers(void **state)
{
	(void)state;
	mask_is("1783200000000010", "1783200000000010");	/* 16 digits */
	mask_is("99999999999999999999", "99999999999999999999");
	mask_is("2026-02-30", "2026-02-30");	/* a date is shown */
	mask_is("line 6, column 93", "line 6, column 93");
	mask_is("1234567", "1234567");
	mask_is("2671AB 10", "2671AB 10");
	mask_is("[0-9]{8,9}", "[0-9]{8,9}");
}

/* Asserts that msg, its separators taken out, does not show 999900006. */
static void assert_no_bsn(const char *msg)
{
	char digits[512];
	size_t n = 0;

	for (const char *p = msg; *p != '\0' && n + 1 < sizeof(digits); p++)
		if (!bsnlike_sep(*p))
			digits[n++] = *p;
	digits[n] = '\0';
	if (strstr(digits, "999900006") != NULL)
		fail_msg("the message shows the BSN: '%s'", msg);
	assert_non_null(strstr(msg, "[BSN?]"));
}

/* Every message of norm.c that quotes a value hides a BSN in it. */
static void test_norm_messages_never_quote_a_bsn(void **state)
{
	static const char *const bsns[] = { "9999.00.006", "999 900 006", "999-90-0006",
					    "999900006" };
	struct adapter_address a = { .gemeentecode = "1783", .postcode = "2671AB",
				     .huisnummer = "10" };
	struct address out;
	struct errbuf e;
	long v;

	(void)state;
	for (size_t i = 0; i < sizeof(bsns) / sizeof(bsns[0]); i++) {
		const char **fields[] = { &a.postcode, &a.huisnummer, &a.huisletter,
					  &a.huisnummertoevoeging, &a.nummeraanduiding_id,
					  &a.gemeentecode };

		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
			const char *keep = *fields[f];

			*fields[f] = bsns[i];
			assert_int_equal(norm_address(&a, &out, &e), ST_FAIL);
			*fields[f] = keep;
			assert_no_bsn(e.msg);
		}
		assert_int_equal(norm_date("datum", bsns[i], &e), ST_FAIL);
		assert_no_bsn(e.msg);
		assert_int_equal(norm_int("oppervlakte_m2", bsns[i], 1, 1000, false, &v, &e),
				 ST_FAIL);
		assert_no_bsn(e.msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postcode_loses_white_space_and_is_upper_cased),
		cmocka_unit_test(test_postcode_of_wrong_shape_is_refused),
		cmocka_unit_test(test_huisnummer_from_1_to_99999),
		cmocka_unit_test(test_huisletter_trimmed_and_upper_cased),
		cmocka_unit_test(test_toevoeging_strips_one_dash_and_is_upper_cased),
		cmocka_unit_test(test_toevoeging_at_most_four_characters),
		cmocka_unit_test(test_gemeentecode_taken_from_nummeraanduiding_when_absent),
		cmocka_unit_test(test_nummeraanduiding_is_16_digits_with_20_in_5th_6th),
		cmocka_unit_test(test_address_key_and_display),
		cmocka_unit_test(test_bsn_elfproef_accepts_valid_numbers),
		cmocka_unit_test(test_bsn_elfproef_refuses_invalid_numbers),
		cmocka_unit_test(test_bsn_of_8_digits_gets_leading_zero),
		cmocka_unit_test(test_bsn_all_zeros_refused),
		cmocka_unit_test(test_bsn_of_wrong_length_or_not_digits_refused),
		cmocka_unit_test(test_bsn_message_never_shows_the_number),
		cmocka_unit_test(test_date_checks_the_calendar),
		cmocka_unit_test(test_date_must_be_yyyy_mm_dd),
		cmocka_unit_test(test_days_known_values),
		cmocka_unit_test(test_days_round_trip_over_leap_years),
		cmocka_unit_test(test_int_within_bounds),
		cmocka_unit_test(test_int_out_of_bounds_or_not_a_number_refused),
		cmocka_unit_test(test_int_absent_is_minus_one_when_optional),
		cmocka_unit_test(test_bsnlike_masks_a_bsn_whatever_its_separators),
		cmocka_unit_test(test_bsnlike_leaves_other_numbers),
		cmocka_unit_test(test_norm_messages_never_quote_a_bsn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
