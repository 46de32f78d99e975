/*
 * test_esc.c - escaping control characters and bytes that are not UTF-8
 * (esc.c): what a terminal, a log line or an XML document may not get raw.
 */
#include "testutil.h"

#include "esc.h"

static void expect(const char *in, const char *want)
{
	char out[256];

	assert_string_equal(esc_text(in, out, sizeof(out)), want);
	assert_int_equal(esc_needed(in), strcmp(in, want) != 0);
	{
		char *d = esc_dup(in);

		assert_non_null(d);
		assert_string_equal(d, want);
		free(d);
	}
}

static void test_c0_and_del_become_hex_escapes(void **state)
{
	(void)state;
	expect("NLA-\x1b[2J\x07\x01", "NLA-\\x1b[2J\\x07\\x01");
	expect("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d");
	expect("x\x7fy", "x\\x7fy");
}

static void test_c1_becomes_a_unicode_escape(void **state)
{
	(void)state;
	expect("a\xc2\x9b" "31mb", "a\\u009b31mb");	/* U+009B CSI */
	expect("\xc2\x80\xc2\x9f", "\\u0080\\u009f");
}

static void test_invalid_utf8_bytes_are_escaped_one_by_one(void **state)
{
	(void)state;
	expect("caf\xe9", "caf\\xe9");		/* Latin-1 */
	expect("\xc0\xaf", "\\xc0\\xaf");		/* overlong '/' */
	expect("\xed\xa0\x80", "\\xed\\xa0\\x80");	/* a surrogate */
	expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");	/* over U+10FFFF */
	expect("\xe2\x82", "\\xe2\\x82");		/* cut short */
}

static void test_plain_text_and_other_unicode_are_kept(void **state)
{
	(void)state;
	expect("'s-Gravenhage \\ Één €5 \xf0\x9f\x8f\xa0 \xc2\xa0", "'s-Gravenhage \\ Één €5 \xf0\x9f\x8f\xa0 \xc2\xa0");
	expect("", "");
}

static void test_a_short_buffer_cuts_at_a_whole_escape(void **state)
{
	char out[7];

	(void)state;
	assert_string_equal(esc_text("ab\x1b" "cd", out, sizeof(out)), "ab\\x1b");
	assert_string_equal(esc_text("abc\x1b", out, sizeof(out)), "abc");
	assert_string_equal(esc_text("abcdefgh", out, sizeof(out)), "abcdef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c0_and_del_become_hex_escapes),
		cmocka_unit_test(test_c1_becomes_a_unicode_escape),
		cmocka_unit_test(test_invalid_utf8_bytes_are_escaped_one_by_one),
		cmocka_unit_test(test_plain_text_and_other_unicode_are_kept),
		cmocka_unit_test(test_a_short_buffer_cuts_at_a_whole_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
