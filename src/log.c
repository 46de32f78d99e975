/*
 * log.c - the daemon's log lines (see log.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "esc.h"
#include "log.h"

/* Set by the loop (a SIGHUP), read by every thread that logs (workers too). */
static _Atomic int least = LV_INFO;
static atomic_bool as_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_setup(const char *level, const char *format)
{
	for (int i = 0; i <= LV_DEBUG; i++)
		if (level != NULL && strcmp(level, level_names[i]) == 0)
			atomic_store(&least, i);
	atomic_store(&as_json, format != NULL && strcmp(format, "json") == 0);
}

/* A character of an id, a digest or a message id: hex digits and '-'. */
static bool id_char(char c)
{
	return isxdigit((unsigned char)c) || c == '-';
}

/*
 * Whether the digits [p, p + len) of text are part of an id rather than a
 * number of their own: a run of hex digits and '-' of 16 or more with a
 * letter in it (a signal id, a digest, a message id).
 */
static bool part_of_id(const char *text, const char *p, size_t len)
{
	const char *a = p, *b = p + len;
	bool letter = false;

	while (a > text && id_char(a[-1]))
		letter |= isalpha((unsigned char)*--a) != 0;
	for (; id_char(*b); b++)
		letter |= isalpha((unsigned char)*b) != 0;
	return letter && b - a >= 16;
}

void log_mask_bsn(const char *in, char *out, size_t n)
{
	static const char marker[] = LOG_BSN_MARKER;
	size_t o = 0;

	if (n == 0)
		return;
	for (const char *p = in; *p != '\0' && o + 1 < n;) {
		size_t digits = 0;

		while (isdigit((unsigned char)p[digits]))
			digits++;
		if ((digits == 8 || digits == 9) && !part_of_id(in, p, digits)) {
			for (size_t i = 0; marker[i] != '\0' && o + 1 < n; i++)
				out[o++] = marker[i];
			p += digits;
		} else {
			for (size_t i = 0; i < (digits > 0 ? digits : 1) && o + 1 < n; i++)
				out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

void log_clean(const char *in, char *out, size_t n)
{
	log_mask_bsn(in, out, n);
	log_clean_controls(out, out, n);
}

void log_clean_controls(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = in; *p != '\0' && o + 1 < n; p++)
		out[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	if (n > 0)
		out[o] = '\0';
}

static bool outside_text(const char *key)
{
	return strcmp(key, "path") == 0 || strcmp(key, "reason") == 0 ||
	       strcmp(key, "error") == 0;
}

/*
 * v, or when it has a control character or bytes that are not UTF-8 (a
 * request method, a peer's error text) its escaped copy (esc_text()) in
 * *copy, which the caller frees: no value can break a log line in two or
 * reach the terminal of whoever reads the log.  Separate from the BSN
 * masking of log_clean().
 */
static const char *log_escaped(const char *v, char **copy)
{
	*copy = esc_needed(v) ? esc_dup(v) : NULL;
	if (*copy != NULL)
		return *copy;
	return esc_needed(v) ? "?" : v;	/* out of memory: the value is left out */
}

/* Writes v as a logfmt value: bare when it can be, else quoted. */
static void logfmt_value(FILE *f, const char *v)
{
	bool bare = *v != '\0';

	for (const char *p = v; *p && bare; p++)
		bare = *p > ' ' && *p != '"' && *p != '=' && *p != '\\';
	if (bare) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

/*
 * One line to stderr, put together first and written whole (stderr is
 * unbuffered: a dozen write() calls a line otherwise, each a chance for
 * another process's line to come in between).
 */
void log_event(enum log_level lv, const char *subsys, const char *msg, ...)
{
	char now[32], clean[512], *line = NULL, *msg_copy;
	const char *shown;
	size_t len = 0;
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;
	json_t *o = NULL;
	FILE *f;

	if ((int)lv > atomic_load(&least))
		return;
	f = open_memstream(&line, &len);
	if (f == NULL)
		f = stderr;	/* out of memory: piece by piece, as it comes */
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	shown = log_escaped(msg, &msg_copy);
	if (as_json)
		o = json_pack("{s:s, s:s, s:s, s:s}", "time", now, "level", level_names[lv],
			      "subsys", subsys, "msg", shown);
	else
		fprintf(f, "time=%s level=%s subsys=%s msg=", now, level_names[lv], subsys);
	if (!as_json)
		logfmt_value(f, shown);
	free(msg_copy);
	va_start(ap, msg);
	for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
		const char *v = va_arg(ap, const char *);
		char *copy;

		if (v == NULL)
			v = "";
		if (outside_text(k)) {
			log_clean(v, clean, sizeof(clean));
			v = clean;
		}
		v = log_escaped(v, &copy);
		if (o != NULL) {
			json_object_set_new(o, k, json_string(v));
		} else if (!as_json) {
			fprintf(f, " %s=", k);
			logfmt_value(f, v);
		}
		free(copy);
	}
	va_end(ap);
	if (o != NULL) {
		json_dumpf(o, f, JSON_COMPACT);
		json_decref(o);
	}
	fputc('\n', f);
	if (f != stderr && fclose(f) == 0)
		fwrite(line, 1, len, stderr);
	free(line);
}
