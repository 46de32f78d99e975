/*
 * brp_object.c - the fields of one NPS object and the record made of them.
 *
 * Values are kept as the source gave them; only begindatumVerblijf is
 * rewritten from yyyymmdd to YYYY-MM-DD (syntax only, the host checks the
 * calendar).  Names, birth dates and everything else are never stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brp.h"
#include "bsnlike.h"

struct brp_name {
	const char *name;
	int field;
	const char *label;	/* how a reason names it */
};

static const struct brp_name brp_object_names[] = {
	{ "inp.bsn", BRP_BSN, "BG:inp.bsn" },
	{ "inp.gemeenteVanInschrijving", BRP_GEMEENTE,
	  "BG:inp.gemeenteVanInschrijving" },
};

static const struct brp_name brp_adres_names[] = {
	{ "aoa.identificatie", BRP_AOA_ID,
	  "BG:verblijfsadres/BG:aoa.identificatie" },
	{ "aoa.postcode", BRP_POSTCODE, "BG:verblijfsadres/BG:aoa.postcode" },
	{ "aoa.huisnummer", BRP_HUISNUMMER,
	  "BG:verblijfsadres/BG:aoa.huisnummer" },
	{ "aoa.huisletter", BRP_HUISLETTER,
	  "BG:verblijfsadres/BG:aoa.huisletter" },
	{ "aoa.huisnummertoevoeging", BRP_TOEVOEGING,
	  "BG:verblijfsadres/BG:aoa.huisnummertoevoeging" },
	{ "begindatumVerblijf", BRP_BEGINDATUM,
	  "BG:verblijfsadres/BG:begindatumVerblijf" },
};

#define BRP_NAMES(a) (sizeof(a) / sizeof((a)[0]))

/* Looks name up in a table of n entries; returns its field or -1. */
static int brp_lookup(const struct brp_name *tab, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return tab[i].field;
	return -1;
}

int brp_object_field(const char *name)
{
	return brp_lookup(brp_object_names, BRP_NAMES(brp_object_names), name);
}

int brp_verblijfsadres_field(const char *name)
{
	return brp_lookup(brp_adres_names, BRP_NAMES(brp_adres_names), name);
}

void brp_object_clear(struct brp_object *obj)
{
	int f;

	for (f = 0; f < BRP_NFIELDS; f++) {
		free(obj->value[f]);
		obj->value[f] = NULL;
	}
	free(obj->error);
	obj->error = NULL;
}

void brp_object_start(struct brp_object *obj, unsigned long line,
		      unsigned long index)
{
	brp_object_clear(obj);
	obj->line = line;
	obj->index = index;
	obj->verwerkingssoort[0] = '\0';
	obj->withdraw = 0;
}

int brp_object_set(struct brp_object *obj, int f, const char *value,
		   size_t len)
{
	char *copy;

	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, value, len);
	copy[len] = '\0';
	free(obj->value[f]);
	obj->value[f] = copy;
	return 0;
}

int brp_object_fail(struct brp_object *obj, const char *reason)
{
	if (obj->error != NULL)
		return 0;
	obj->error = strdup(reason);
	return obj->error == NULL ? -1 : 0;
}

/* XML white space: what xs:token trims. */
static int brp_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Copies the first n characters of s after leading white space into out
 * (n + 1 bytes) when they are all digits.  Returns the number of digits
 * that follow the white space (so the caller can insist on exactly n),
 * or -1 when fewer than n digits are there.
 */
static int brp_digits(const char *s, size_t n, char *out)
{
	size_t i;

	while (brp_is_space(*s))
		s++;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		if (i < n)
			out[i] = s[i];
	if (i < n)
		return -1;
	out[n] = '\0';
	while (brp_is_space(s[i]))
		i++;
	return s[i] == '\0' ? (int)n : (int)n + 1;
}

/* Appends "label" to the list of missing elements in buf (size len). */
static void brp_missing(char *buf, size_t len, const char *label)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? ", " : "missing ",
		 label);
}

/*
 * Checks that the required fields are there; writes the reason into buf
 * (len bytes) and returns -1 when they are not.  gemeentecode may come from
 * the first four digits of aoa.identificatie.
 */
static int brp_check_required(const struct brp_object *obj, char *gem,
			      char *buf, size_t len)
{
	buf[0] = '\0';
	if (obj->value[BRP_BSN] == NULL)
		brp_missing(buf, len, "BG:inp.bsn");
	if (obj->value[BRP_POSTCODE] == NULL)
		brp_missing(buf, len, brp_adres_names[1].label);
	if (obj->value[BRP_HUISNUMMER] == NULL)
		brp_missing(buf, len, brp_adres_names[2].label);
	if (obj->value[BRP_BEGINDATUM] == NULL)
		brp_missing(buf, len, brp_adres_names[5].label);
	gem[0] = '\0';
	if (obj->value[BRP_GEMEENTE] == NULL &&
	    (obj->value[BRP_AOA_ID] == NULL ||
	     brp_digits(obj->value[BRP_AOA_ID], 4, gem) < 0))
		brp_missing(buf, len, "BG:inp.gemeenteVanInschrijving (and "
			    "no BG:aoa.identificatie to take it from)");
	return buf[0] ? -1 : 0;
}

/*
 * Rewrites begindatumVerblijf into out (11 bytes) as YYYY-MM-DD.  Returns
 * 0, or -1 with the reason in buf (len bytes).
 */
static int brp_date(const char *value, char *out, char *buf, size_t len)
{
	char d[9];

	if (brp_digits(value, 8, d) != 8) {
		char q[128];

		snprintf(buf, len, "begindatumVerblijf '%s' is not yyyymmdd",
			 bsnlike_quote(value, q, sizeof(q), 40));
		return -1;
	}
	snprintf(out, 11, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
	return 0;
}

/* Fills rec from obj; gem and date are buffers that rec points into. */
static void brp_fill(struct adapter_record *rec, const struct brp_object *obj,
		     const char *gem, const char *date, const char *place)
{
	memset(rec, 0, sizeof(*rec));
	rec->kind = obj->withdraw ? ADAPTER_PERSON_WITHDRAWN : ADAPTER_PERSON;
	rec->place = place;
	rec->address.gemeentecode = obj->value[BRP_GEMEENTE] ?
		obj->value[BRP_GEMEENTE] : gem;
	rec->address.nummeraanduiding_id = obj->value[BRP_AOA_ID];
	rec->address.postcode = obj->value[BRP_POSTCODE];
	rec->address.huisnummer = obj->value[BRP_HUISNUMMER];
	rec->address.huisletter = obj->value[BRP_HUISLETTER];
	rec->address.huisnummertoevoeging = obj->value[BRP_TOEVOEGING];
	rec->u.person.bsn = obj->value[BRP_BSN];
	rec->u.person.begindatum = date;
}

int brp_object_emit(struct brp_object *obj, const struct adapter_host *host)
{
	struct adapter_record rec;
	char place[64], reason[512], gem[5], date[11];
	int rc = 0;

	snprintf(place, sizeof(place), "line %lu (object %lu)", obj->line,
		 obj->index);
	if (obj->error != NULL) {
		host->reject(host->ctx, place, obj->error);
		goto out_clear;
	}
	if (brp_check_required(obj, gem, reason, sizeof(reason)) < 0 ||
	    brp_date(obj->value[BRP_BEGINDATUM], date, reason,
		     sizeof(reason)) < 0) {
		host->reject(host->ctx, place, reason);
		goto out_clear;
	}
	brp_fill(&rec, obj, gem, date, place);
	if (host->record(host->ctx, &rec) < 0)
		rc = -1;
out_clear:
	brp_object_clear(obj);
	return rc;
}
