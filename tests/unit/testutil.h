/*
 * testutil.h - what every cmocka test program includes.
 */
#ifndef SCHAKEL_TESTUTIL_H
#define SCHAKEL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
static inline char *testutil_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/schakel-test-XXXXXX", base) < 0)
		return NULL;
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

/* Removes a directory made by testutil_tmpdir, with everything in it. */
static inline void testutil_rmtree(char *path)
{
	char *cmd;

	if (path == NULL)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", path) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", path);
		free(cmd);
	}
	free(path);
}

/* The fixture directory of the source tree (tests/fixtures). */
#define FIXTURES SCHAKEL_SAMPLE_DIR

#endif
