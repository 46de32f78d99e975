/*
 * norm.c - normalising addresses, BSNs, dates and numbers (see norm.h).
 * The rules are those of sources.md; every adapter's values pass here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsnlike.h"
#include "norm.h"

/* A value quoted in a reason: 40 bytes at most, never a BSN (bsnlike.h). */
#define QUOTE_MAX 40
struct quoted {
	char s[128];
};

static const char *quote(const char *value, struct quoted *q)
{
	return bsnlike_quote(value, q->s, sizeof(q->s), QUOTE_MAX);
}

/* Copies s without leading and trailing white space into out (size n). */
static bool trim_copy(const char *s, char *out, size_t n)
{
	size_t len;

	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= n)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static bool all_digits(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void upcase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)toupper((unsigned char)*s);
}

static enum status norm_postcode(const char *in, char out[7], struct errbuf *e)
{
	size_t n = 0;

	for (const char *p = in; *p != '\0'; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (n == 6)
			goto bad;
		out[n++] = (char)toupper((unsigned char)*p);
	}
	out[n] = '\0';
	if (n != 6 || out[0] < '1' || out[0] > '9' || !isdigit((unsigned char)out[1]) ||
	    !isdigit((unsigned char)out[2]) || !isdigit((unsigned char)out[3]) ||
	    out[4] < 'A' || out[4] > 'Z' || out[5] < 'A' || out[5] > 'Z')
		goto bad;
	return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL, "postcode '%s' is not 4 digits and 2 letters",
			  quote(in, &(struct quoted){ 0 }));
}

static enum status norm_letter(const char *in, char out[2], struct errbuf *e)
{
	char buf[8];

	if (in == NULL)
		in = "";
	if (!trim_copy(in, buf, sizeof(buf)) || strlen(buf) > 1 ||
	    (buf[0] != '\0' && !isalpha((unsigned char)buf[0])))
		return errbuf_set(e, ST_FAIL, "huisletter '%s' is not one letter",
				  quote(in, &(struct quoted){ 0 }));
	upcase(buf);
	memcpy(out, buf, 2);
	return ST_OK;
}

static enum status norm_toevoeging(const char *in, char out[5], struct errbuf *e)
{
	char buf[16];
	const char *p = buf;

	if (in == NULL)
		in = "";
	if (!trim_copy(in, buf, sizeof(buf)))
		goto bad;
	if (*p == '-')
		p++;
	if (strlen(p) > 4)
		goto bad;
	for (const char *q = p; *q != '\0'; q++)
		if (!isalnum((unsigned char)*q))
			goto bad;
	strcpy(out, p);	/* NOLINT(clang-analyzer-security.insecureAPI.strcpy): p has at most 4 characters (checked above), out 5 */
	upcase(out);
	return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL,
			  "huisnummertoevoeging '%s' is not up to 4 letters or digits",
			  quote(in, &(struct quoted){ 0 }));
}

enum status norm_address(const struct adapter_address *in, struct address *out,
			 struct errbuf *e)
{
	char buf[32];
	long nr;

	memset(out, 0, sizeof(*out));
	if (in->postcode == NULL || *in->postcode == '\0')
		return errbuf_set(e, ST_FAIL, "postcode is missing");
	if (norm_postcode(in->postcode, out->postcode, e) != ST_OK)
		return ST_FAIL;
	if (norm_int("huisnummer", in->huisnummer, 1, 99999, false, &nr, e) != ST_OK)
		return ST_FAIL;
	out->huisnummer = (int)nr;
	if (norm_letter(in->huisletter, out->huisletter, e) != ST_OK ||
	    norm_toevoeging(in->huisnummertoevoeging, out->toevoeging, e) != ST_OK)
		return ST_FAIL;

	if (in->nummeraanduiding_id != NULL && *in->nummeraanduiding_id != '\0') {
		if (!trim_copy(in->nummeraanduiding_id, buf, sizeof(buf)) ||
		    !all_digits(buf, 16) || buf[4] != '2' || buf[5] != '0')
			return errbuf_set(e, ST_FAIL, "nummeraanduiding_id '%s' is not a "
					  "16-digit BAG identifier",
					  quote(in->nummeraanduiding_id, &(struct quoted){ 0 }));
		memcpy(out->nummeraanduiding_id, buf, 17);
	}
	if (in->gemeentecode == NULL || *in->gemeentecode == '\0') {
		if (out->nummeraanduiding_id[0] == '\0')
			return errbuf_set(e, ST_FAIL, "gemeentecode is missing");
		memcpy(out->gemeentecode, out->nummeraanduiding_id, 4);
		out->gemeentecode[4] = '\0';
	} else if (!trim_copy(in->gemeentecode, buf, sizeof(buf)) || !all_digits(buf, 4)) {
		return errbuf_set(e, ST_FAIL, "gemeentecode '%s' is not 4 digits",
				  quote(in->gemeentecode, &(struct quoted){ 0 }));
	} else {
		memcpy(out->gemeentecode, buf, 5);
	}
	if (out->nummeraanduiding_id[0] != '\0' &&
	    memcmp(out->gemeentecode, out->nummeraanduiding_id, 4) != 0)
		return errbuf_set(e, ST_FAIL, "gemeentecode %s contradicts nummeraanduiding_id "
				  "%s (whose first four digits are its gemeentecode)",
				  out->gemeentecode, out->nummeraanduiding_id);
	return ST_OK;
}

/* Appends s (NUL-terminated within n bytes) to out. */
static char *put_field(char *out, const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	memcpy(out, s, len);
	return out + len;
}

/* "%s|%d|%s|%s", by hand: it is made for every record stored and several
 * times for every signal, and snprintf() was a noticeable part of both. */
void address_key(const struct address *a, char out[ADDRESS_KEY_MAX])
{
	char digits[12], *d = digits + sizeof(digits);
	unsigned long v = a->huisnummer < 0 ? -(unsigned long)a->huisnummer
					    : (unsigned long)a->huisnummer;
	char *p = out;

	_Static_assert(sizeof(a->postcode) + sizeof(digits) + sizeof(a->huisletter) +
		       sizeof(a->toevoeging) <= ADDRESS_KEY_MAX, "an address key fits");
	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (a->huisnummer < 0)
		*--d = '-';
	p = put_field(p, a->postcode, sizeof(a->postcode));
	*p++ = '|';
	p = put_field(p, d, (size_t)(digits + sizeof(digits) - d));
	*p++ = '|';
	p = put_field(p, a->huisletter, sizeof(a->huisletter));
	*p++ = '|';
	p = put_field(p, a->toevoeging, sizeof(a->toevoeging));
	*p = '\0';
}

void address_display(const struct address *a, char out[ADDRESS_KEY_MAX])
{
	snprintf(out, ADDRESS_KEY_MAX, "%s %d%s%s%s", a->postcode, a->huisnummer,
		 a->huisletter, a->toevoeging[0] ? "-" : "", a->toevoeging);
}

enum status norm_bsn(const char *in, char out[10], struct errbuf *e)
{
	char buf[16];
	int sum = 0;

	if (in == NULL || !trim_copy(in, buf, sizeof(buf)) ||
	    !(all_digits(buf, 9) || all_digits(buf, 8)))
		return errbuf_set(e, ST_FAIL, "BSN is not 8 or 9 digits");
	if (strlen(buf) == 8) {
		out[0] = '0';
		memcpy(out + 1, buf, 9);
	} else {
		memcpy(out, buf, 10);
	}
	for (int i = 0; i < 8; i++)
		sum += (9 - i) * (out[i] - '0');
	sum -= out[8] - '0';
	if (sum % 11 != 0 || strcmp(out, "000000000") == 0)
		return errbuf_set(e, ST_FAIL, "BSN fails the elfproef");
	return ST_OK;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

enum status norm_date(const char *field, const char *in, struct errbuf *e)
{
	int y, m, d;

	if (in == NULL || *in == '\0')
		return errbuf_set(e, ST_FAIL, "%s is missing", field);
	if (strlen(in) != 10 || in[4] != '-' || in[7] != '-' ||
	    !all_digits((char[]){ in[0], in[1], in[2], in[3], in[5], in[6], in[8], in[9], 0 }, 8))
		goto bad;
	/* The eight digits were checked above, so atoi cannot fail here. */
	y = atoi(in);		/* NOLINT(cert-err34-c) */
	m = atoi(in + 5);	/* NOLINT(cert-err34-c) */
	d = atoi(in + 8);	/* NOLINT(cert-err34-c) */
	if (y < 1800 || y > 9999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		goto bad;
	return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL, "%s '%s' is not a date (YYYY-MM-DD)", field,
			  quote(in, &(struct quoted){ 0 }));
}

/* The two digits at p as a number, or -1. */
static int two_digits(const char *p)
{
	return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])
		? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

enum status norm_time(const char *field, const char *in, struct errbuf *e)
{
	char date[11];
	const char *t;
	int h, m, s = 0;

	if (in == NULL || *in == '\0')
		return errbuf_set(e, ST_FAIL, "%s is missing", field);
	snprintf(date, sizeof(date), "%s", in);
	if (norm_date(field, date, e) != ST_OK)
		goto bad;
	t = in + 10;
	if (*t == '\0')
		return ST_OK;
	if (*t != 'T' || (h = two_digits(t + 1)) < 0 || t[3] != ':' ||
	    (m = two_digits(t + 4)) < 0)
		goto bad;
	t += 6;
	if (*t == ':') {
		if ((s = two_digits(t + 1)) < 0)
			goto bad;
		t += 3;
		if (*t == '.') {
			size_t n = strspn(t + 1, "0123456789");

			if (n == 0 || n > 9)
				goto bad;
			t += 1 + n;
		}
	}
	if (*t == 'Z')
		t++;
	if (*t == '\0' && h <= 23 && m <= 59 && s <= 59)
		return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL, "%s '%.40s' is not a time (YYYY-MM-DD or "
			  "YYYY-MM-DDTHH:MM:SSZ, in UTC)", field, in);
}

enum status norm_int(const char *field, const char *in, long min, long max,
		     bool optional, long *out, struct errbuf *e)
{
	char buf[32], *end;
	long v;

	*out = -1;
	if (in == NULL || *in == '\0') {
		if (optional)
			return ST_OK;
		return errbuf_set(e, ST_FAIL, "%s is missing", field);
	}
	if (!trim_copy(in, buf, sizeof(buf)) || buf[0] == '\0' ||
	    !(isdigit((unsigned char)buf[0]) || buf[0] == '-'))
		goto bad;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL, "%s '%s' is not a whole number from %ld to %ld",
			  field, quote(in, &(struct quoted){ 0 }), min, max);
}

/* Days from civil, after Howard Hinnant's public-domain algorithm. */
long norm_days(const char *date)
{
	/* date is a checked YYYY-MM-DD (norm_date), so atol cannot fail. */
	long y = atol(date), m = atol(date + 5), d = atol(date + 8);	/* NOLINT(cert-err34-c) */
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void norm_date_from_days(long z, char out[11])
{
	long era, doe, yoe, y, doy, mp, d, m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(y % 10000) % 10000u,
		 (unsigned)m % 100u, (unsigned)d % 100u);
}
