/*
 * norm.h - normalising and checking the values every source shares:
 * addresses, BSNs, dates and small integers (sources.md).
 *
 * Each function takes the text a source gave and either writes the
 * normalised form or returns ST_FAIL with a reason in e that names the field
 * and the value (never a BSN: a BSN is never echoed, and a value quoted
 * has its BSN-like parts masked, bsnlike.h).
 */
#ifndef SCHAKEL_NORM_H
#define SCHAKEL_NORM_H

#include <stdbool.h>

#include "adapter.h"
#include "status.h"

/* A normalised address; the empty string stands for "absent". */
struct address {
	char gemeentecode[5];
	char nummeraanduiding_id[17];	/* "" when no source gave it */
	char postcode[7];
	int huisnummer;
	char huisletter[2];
	char toevoeging[5];
};

/*
 * The key that identifies an address in the store:
 * "POSTCODE|HUISNUMMER|HUISLETTER|TOEVOEGING", e.g. "2671AB|10||".
 */
#define ADDRESS_KEY_MAX 32
void address_key(const struct address *a, char out[ADDRESS_KEY_MAX]);

/* "2671AB 10", "2671AC 3A", "5911AA 1-2": for people to read. */
void address_display(const struct address *a, char out[ADDRESS_KEY_MAX]);

/* Normalises and checks a source address. */
enum status norm_address(const struct adapter_address *in, struct address *out,
			 struct errbuf *e);

/*
 * Checks a BSN: nine digits (eight get a leading zero), elfproef, not all
 * zeros.  Writes the nine digits to out.  The message never shows the BSN.
 */
enum status norm_bsn(const char *in, char out[10], struct errbuf *e);

/* Checks a calendar date YYYY-MM-DD (2026-02-30 fails). */
enum status norm_date(const char *field, const char *in, struct errbuf *e);

/*
 * Checks an ISO 8601 time in UTC as a filter takes it: YYYY-MM-DD, or that
 * with THH:MM, THH:MM:SS or THH:MM:SS.fff (1-9 digits), each with or
 * without a final Z.  A calendar date and a time of day (2026-13-01,
 * T24:00 fail); no other zone.
 */
enum status norm_time(const char *field, const char *in, struct errbuf *e);

/*
 * Parses a whole decimal number from min to max (surrounding white space
 * allowed).  Absent (NULL or "") gives *out = -1 when optional.
 */
enum status norm_int(const char *field, const char *in, long min, long max,
		     bool optional, long *out, struct errbuf *e);

/* Days since 1970-01-01 of a checked YYYY-MM-DD date. */
long norm_days(const char *date);
/* Writes the date that is days after 1970-01-01 as YYYY-MM-DD. */
void norm_date_from_days(long days, char out[11]);

#endif
