/*
 * test_log.c - the daemon's log lines (log.c): every value, of any key,
 * with control characters escaped, in logfmt and in JSON.
 */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"

/* Logs one hostile event in format and returns the line written (static). */
static const char *logged(const char *format)
{
	static char line[4096];
	char path[] = "/tmp/schakel-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;
	size_t n;

	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_setup("info", format);
	log_event(LV_WARN, "http", "refused \x1b]0;title\x07", "method", "G\x1b[2JET",
		  "party", "a\r\nlevel=error forged", "path", "/v1/\x1b[31m", "oin",
		  "x\xc2\x9b" "1m\x7f\xff", NULL);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fd);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(line, 1, sizeof(line) - 1, f);
	line[n] = '\0';
	fclose(f);
	unlink(path);
	return line;
}

/* One line, and no byte below 0x20, DEL, C1 or 0xff in it but its newline. */
static void assert_clean(const char *line)
{
	size_t n = strlen(line);

	assert_true(n > 0 && line[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f || c == 0xff ||
		    (c == 0xc2 && (unsigned char)line[i + 1] <= 0x9f))
			fail_msg("raw byte 0x%02x at %zu in: %s", c, i, line);
	}
}

static void test_logfmt_values_are_escaped(void **state)
{
	const char *line = logged("logfmt");

	(void)state;
	assert_clean(line);
	/* logfmt quoting doubles the backslash of each escape */
	assert_non_null(strstr(line, "method=\"G\\\\x1b[2JET\""));
	assert_non_null(strstr(line, "party=\"a\\\\x0d\\\\x0alevel=error forged\""));
	assert_non_null(strstr(line, "msg=\"refused \\\\x1b]0;title\\\\x07\""));
	assert_non_null(strstr(line, "oin=\"x\\\\u009b1m\\\\x7f\\\\xff\""));
}

static void test_json_values_are_escaped(void **state)
{
	const char *line = logged("json");

	(void)state;
	assert_clean(line);
	assert_non_null(strstr(line, "\"method\":\"G\\\\x1b[2JET\""));
	assert_non_null(strstr(line, "\"oin\":\"x\\\\u009b1m\\\\x7f\\\\xff\""));
	assert_non_null(strstr(line, "\"msg\":\"refused \\\\x1b]0;title\\\\x07\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt_values_are_escaped),
		cmocka_unit_test(test_json_values_are_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
