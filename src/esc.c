/*
 * esc.c - escaping control characters (see esc.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esc.h"

/*
 * The length of the valid UTF-8 sequence at p (1-4), or 0 when p does not
 * start one (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
 */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/*
 * What to write for the character at p: its escape in esc (and the bytes
 * it takes in *used), or "" when it is to be copied as it is.
 */
static void esc_one(const unsigned char *p, char esc[8], size_t *used)
{
	size_t len = utf8_len(p);

	esc[0] = '\0';
	*used = len > 0 ? len : 1;
	if (len == 0 || (len == 1 && (p[0] < 0x20 || p[0] == 0x7f)))
		snprintf(esc, 8, "\\x%02x", p[0]);
	else if (len == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
		snprintf(esc, 8, "\\u%04x", p[1]);	/* C1: U+0080-U+009F */
}

bool esc_needed(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t used;

	for (; *p != '\0'; p += used) {
		esc_one(p, esc, &used);
		if (esc[0] != '\0')
			return true;
	}
	return false;
}

char *esc_text(const char *s, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, used, add;
	char esc[8];

	if (n == 0)
		return out;
	for (; *p != '\0'; p += used) {
		esc_one(p, esc, &used);
		add = esc[0] != '\0' ? strlen(esc) : used;
		if (o + add >= n)
			break;
		memcpy(out + o, esc[0] != '\0' ? esc : (const char *)p, add);
		o += add;
	}
	out[o] = '\0';
	return out;
}

char *esc_dup(const char *s)
{
	size_t n = 6 * strlen(s) + 1;	/* \u0080 (6) for C2 80 (2); \xNN (4) for a byte */
	char *out = malloc(n);

	return out != NULL ? esc_text(s, out, n) : NULL;
}

int esc_line(FILE *f, const char *fmt, ...)
{
	va_list ap, again;
	char *text, *safe;
	int n, rc;

	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	text = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (text != NULL)
		vsnprintf(text, (size_t)n + 1, fmt, again);
	va_end(again);
	safe = text != NULL ? esc_dup(text) : NULL;
	free(text);
	if (safe == NULL)
		return -1;
	rc = fputs(safe, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
	free(safe);
	return rc;
}
