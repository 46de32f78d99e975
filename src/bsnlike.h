/*
 * bsnlike.h - quoting a value from the input in a reason without showing a
 * BSN that may be in it.
 *
 * A rejection's reason reaches the screen, the API's answer and the
 * append-only exchange log, so a value it quotes must never show a BSN,
 * however it is written: "999900006", "9999.00.006", "999 900 006",
 * "999-90-0006", mixed, or inside other text.  A BSN-like part is a run of
 * digit groups, each joined to the next by at most three separators (space,
 * tab, '.', '-', '_', '/', ','), whose digits number 8 or 9: that part is
 * written as "[BSN?]", the one mark every BSN masking of schakel writes,
 * which no value can be mistaken for.  One exception: a date written
 * YYYY-MM-DD (8 digits) is shown, since a date field must be able to say
 * which date is wrong.
 *
 * Header only (static inline): the adapters are shared objects of their
 * own and include it too (layer 2, below them).
 */
#ifndef SCHAKEL_BSNLIKE_H
#define SCHAKEL_BSNLIKE_H

#include <stddef.h>
#include <string.h>

#define BSNLIKE_GROUPS 64	/* digit groups looked at in one run */
#define BSNLIKE_MARK "[BSN?]"	/* as log_mask_bsn() writes it: no id, count or size */

static inline int bsnlike_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int bsnlike_sep(char c)
{
	return c == ' ' || c == '\t' || c == '.' || c == '-' || c == '_' || c == '/' ||
	       c == ',';
}

/* Is s[a..b) exactly DDDD-DD-DD? */
static inline int bsnlike_is_date(const char *s, size_t a, size_t b)
{
	static const char shape[] = "dddd-dd-dd";

	if (b - a != 10)
		return 0;
	for (size_t i = 0; i < 10; i++)
		if (shape[i] == 'd' ? !bsnlike_digit(s[a + i]) : s[a + i] != '-')
			return 0;
	return 1;
}

/*
 * Masks, in s, the part of one run (groups start[i]..end[i]) from the first
 * to the last window of consecutive groups that holds 8 or 9 digits: that
 * part is replaced by BSNLIKE_MARK, and the rest of s moved up.  Returns
 * the bytes s got shorter by (0 when nothing was masked).
 */
static inline size_t bsnlike_mask_run(char *s, const size_t *start, const size_t *end,
				      size_t n)
{
	size_t lo = (size_t)-1, hi = 0, mark = sizeof(BSNLIKE_MARK) - 1;

	for (size_t i = 0; i < n; i++) {
		size_t digits = 0;

		for (size_t j = i; j < n && digits < 10; j++) {
			digits += end[j] - start[j];
			if (digits < 8 || digits > 9 || bsnlike_is_date(s, start[i], end[j]))
				continue;
			lo = start[i] < lo ? start[i] : lo;
			hi = end[j] > hi ? end[j] : hi;
		}
	}
	if (lo >= hi)
		return 0;
	memcpy(s + lo, BSNLIKE_MARK, mark);	/* hi - lo >= 8 > mark */
	memmove(s + lo + mark, s + hi, strlen(s + hi) + 1);
	return hi - lo - mark;
}

/*
 * Masks every BSN-like part of the NUL-terminated s in place (see the top
 * of this file).
 */
static inline void bsnlike_mask(char *s)
{
	size_t start[BSNLIKE_GROUPS], end[BSNLIKE_GROUPS], n = 0, i = 0;

	while (s[i] != '\0') {
		size_t j, seps = 0, cut;

		if (!bsnlike_digit(s[i])) {
			i++;
			continue;
		}
		for (j = i; bsnlike_digit(s[j]); j++)
			;
		if (n == BSNLIKE_GROUPS) {	/* a very long run: look at it in parts */
			cut = bsnlike_mask_run(s, start, end, n);
			i -= cut;
			j -= cut;
			n = 0;
		}
		start[n] = i;
		end[n++] = j;
		while (bsnlike_sep(s[j + seps]) && seps < 4)
			seps++;
		cut = 0;
		if (seps == 0 || seps > 3 || !bsnlike_digit(s[j + seps])) {
			cut = bsnlike_mask_run(s, start, end, n);	/* the run ends here */
			n = 0;
		}
		i = j + seps - cut;
	}
	bsnlike_mask_run(s, start, end, n);
}

/*
 * Writes value into out (size n) as it may be quoted in a reason: masked
 * (bsnlike_mask()), then cut to at most max bytes (at a character).  NULL
 * is written as "".  Returns out.
 */
static inline const char *bsnlike_quote(const char *value, char *out, size_t n, size_t max)
{
	size_t len = value != NULL ? strlen(value) : 0;

	if (len >= n)
		len = n - 1;
	if (len > 0)
		memcpy(out, value, len);
	out[len] = '\0';
	bsnlike_mask(out);
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)out[len] & 0xC0) == 0x80)
			len--;	/* not inside a UTF-8 sequence */
		out[len] = '\0';
	}
	return out;
}

#endif
