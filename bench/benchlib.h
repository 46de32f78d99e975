/*
 * benchlib.h - what the benchmark's small libcurl clients (loadgen.c,
 * postgen.c) share: a clock, a body sink and percentiles.
 */
#ifndef SCHAKEL_BENCHLIB_H
#define SCHAKEL_BENCHLIB_H

#include <stddef.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A libcurl write callback that keeps nothing. */
static inline size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* For qsort() of doubles. */
static inline int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of the n sorted values v. */
static inline double pct(const double *v, long n, double p)
{
	long i;

	if (n == 0)
		return 0;
	i = (long)(p / 100.0 * (double)n + 0.5) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

#endif
