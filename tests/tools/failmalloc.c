/*
 * failmalloc.c - an LD_PRELOAD shim for allocation torture tests (as
 * curl's torture mode): the Nth call of malloc, calloc or realloc in the
 * process fails (returns NULL with errno ENOMEM); every other call is
 * passed to glibc.  strdup, strndup, asprintf and the like allocate through
 * malloc, so they are counted and can fail too.
 *
 *   FAILMALLOC_N=N        arms the shim: the Nth allocation fails (1 = the
 *                         first); unset or 0: count only, fail nothing
 *   FAILMALLOC_LOG=FILE   at exit, writes "calls C hit H" to FILE: C
 *                         allocations were counted, H is 1 when the Nth
 *                         came (and failed), else 0; "hit N" is written at
 *                         the moment of the failure too, so that a crash
 *                         right after it still leaves a record
 *   FAILMALLOC_BACKTRACE=1  with FAILMALLOC_LOG: after "hit N", the stack
 *                         of the failing call (backtrace_symbols_fd(),
 *                         which does not allocate; build with -g and read
 *                         the addresses with addr2line or gdb).  The first
 *                         backtrace() loads libgcc_s, so the constructor
 *                         calls it once: the counts shift a little when
 *                         this is set
 *
 * Counting starts when the shim is loaded (before main), so N counts the
 * dynamic libraries' own initialisation as well.  Thread-safe (an atomic
 * counter).  Built by tests/e2e/torture.sh:
 *
 *   gcc -shared -fPIC -O2 -o failmalloc.so tests/tools/failmalloc.c -ldl
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc's own allocator entry points: no dlsym() (which allocates). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static atomic_ulong calls;
static unsigned long fail_at;	/* 0: never */
static atomic_int hit;
static char log_path[4096];
static int want_backtrace;

/* Reads the environment without allocating. */
__attribute__((constructor)) static void failmalloc_init(void)
{
	const char *n = getenv("FAILMALLOC_N"), *log = getenv("FAILMALLOC_LOG");

	if (n != NULL)
		fail_at = strtoul(n, NULL, 10);
	if (log != NULL && strlen(log) < sizeof(log_path))
		memcpy(log_path, log, strlen(log) + 1);
	if (getenv("FAILMALLOC_BACKTRACE") != NULL && log_path[0] != '\0') {
		void *frames[2];

		want_backtrace = 1;
		(void)backtrace(frames, 2);	/* loads libgcc_s now, not at the hit */
	}
}

/* Appends the current stack to the log (no allocation). */
static void log_backtrace(void)
{
	void *frames[64];
	int n, fd;

	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, fd);
	close(fd);
}

static void log_line(const char *s)
{
	int fd;

	if (log_path[0] == '\0')
		return;
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0) {
		/* nothing to be done */
	}
	close(fd);
}

/* Whether this call is the one that fails. */
static int should_fail(void)
{
	unsigned long k = atomic_fetch_add(&calls, 1) + 1;

	if (fail_at == 0 || k != fail_at)
		return 0;
	atomic_store(&hit, 1);
	{
		char buf[64];

		snprintf(buf, sizeof(buf), "hit %lu\n", k);	/* no allocation */
		log_line(buf);
		if (want_backtrace)
			log_backtrace();
	}
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t m, size_t n)
{
	return should_fail() ? NULL : __libc_calloc(m, n);
}

void *realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __libc_realloc(p, n);
}

__attribute__((destructor)) static void failmalloc_fini(void)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "calls %lu hit %d\n", (unsigned long)atomic_load(&calls),
		 atomic_load(&hit));
	log_line(buf);
}
