/*
 * test_pull.c - the URL of a pulled source's next page.
 */
#include "testutil.h"

#include "pull.h"

static void check(const char *base, const char *cursor, const char *want)
{
	char *url = puller_page_url(base, cursor);

	assert_non_null(url);
	assert_string_equal(url, want);
	free(url);
}

/* The cursor goes into the query percent-encoded (all but the unreserved
 * characters of RFC 3986), after ? or, when the URL has a query, &. */
static void test_page_url_encodes_the_cursor(void **state)
{
	(void)state;
	check("https://nla.example/feed", "", "https://nla.example/feed");
	check("https://nla.example/feed", "p2", "https://nla.example/feed?na=p2");
	check("https://nla.example/feed?soort=huisvesting", "p2",
	      "https://nla.example/feed?soort=huisvesting&na=p2");
	check("https://nla.example/feed", "2026-11-01T10:00:00Z&x=1 y/z~._",
	      "https://nla.example/feed?na=2026-11-01T10%3A00%3A00Z%26x%3D1%20y%2Fz~._");
	check("https://nla.example/feed", "caf\xc3\xa9", "https://nla.example/feed?na=caf%C3%A9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_url_encodes_the_cursor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
