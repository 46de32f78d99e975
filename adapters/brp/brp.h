/*
 * brp.h - internals shared by the files of the brp adapter (StUF-BG 3.10).
 *
 * brp.c runs the libxml2 push parser and the schema validator and follows
 * the document; brp_object.c holds the fields of the one BG:object being
 * read and turns it into a record or a rejection.
 */
#ifndef SCHAKEL_BRP_H
#define SCHAKEL_BRP_H

#include <stddef.h>

#include "adapter.h"

/* The fields of an NPS object that schakel reads. */
enum brp_field {
	BRP_BSN,		/* BG:inp.bsn */
	BRP_GEMEENTE,		/* BG:inp.gemeenteVanInschrijving */
	BRP_AOA_ID,		/* BG:verblijfsadres/BG:aoa.identificatie */
	BRP_POSTCODE,		/* .../BG:aoa.postcode */
	BRP_HUISNUMMER,		/* .../BG:aoa.huisnummer */
	BRP_HUISLETTER,		/* .../BG:aoa.huisletter */
	BRP_TOEVOEGING,		/* .../BG:aoa.huisnummertoevoeging */
	BRP_BEGINDATUM,		/* .../BG:begindatumVerblijf */
	BRP_NFIELDS
};

/* One BG:object: its place, its fields, its first error. */
struct brp_object {
	unsigned long line;		/* line of the start tag */
	unsigned long index;		/* 1 for the first object of the file */
	char *value[BRP_NFIELDS];	/* malloc'd; NULL = absent */
	char *error;			/* malloc'd reason to reject it, or NULL */
	char verwerkingssoort[8];	/* its StUF:verwerkingssoort, trimmed; "" = none */
	int withdraw;			/* emit it as ADAPTER_PERSON_WITHDRAWN */
};

/*
 * What a BG:npsLk01 says of its mutation (brp_mutation.c): the
 * StUF:mutatiesoort of its parameters and the older state's BSN, beside
 * the new state in the brp_object.
 */
struct brp_mutation {
	char mutatiesoort[8];		/* trimmed; "" = none; "?" = too long */
	int objects;			/* BG:objects seen */
	char *old_bsn;			/* malloc'd: the BSN of the older state, or NULL */
};

/*
 * Judges the new state obj of the notification m before it is emitted:
 * marks it to withdraw (a verwijdering), or fails it with the reason when
 * the mutation is one schakel does not process or does not hold together.
 * Returns 0, or -1 when out of memory.
 */
int brp_mutation_judge(struct brp_mutation *m, struct brp_object *obj);
/* Keeps the BSN of the older state obj (taken from it) in m. */
void brp_mutation_keep_old(struct brp_mutation *m, struct brp_object *obj);
/* Frees what m holds. */
void brp_mutation_clear(struct brp_mutation *m);
/* Copies the trimmed text s (len bytes) into out (size n), or "?" if longer. */
void brp_mutation_code(const char *s, size_t len, char *out, size_t n);

/* Returns the field read from child `name` of BG:object, or -1. */
int brp_object_field(const char *name);
/* Returns the field read from child `name` of BG:verblijfsadres, or -1. */
int brp_verblijfsadres_field(const char *name);

/* Starts obj afresh at line and index; frees what it held. */
void brp_object_start(struct brp_object *obj, unsigned long line,
		      unsigned long index);
/*
 * Stores a copy of value (len bytes) as field f.  Returns 0, or -1 when out
 * of memory.
 */
int brp_object_set(struct brp_object *obj, int f, const char *value,
		   size_t len);
/*
 * Records the reason obj must be rejected, unless it already has one (the
 * first error is the one reported).  Returns 0, or -1 when out of memory.
 */
int brp_object_fail(struct brp_object *obj, const char *reason);
/*
 * Hands obj to the host: host->record() when it is complete, else
 * host->reject().  Returns 0 to go on, -1 when record() asked to stop.
 * obj is emptied either way.
 */
int brp_object_emit(struct brp_object *obj, const struct adapter_host *host);
/* Frees what obj holds; obj itself is the caller's. */
void brp_object_clear(struct brp_object *obj);

/*
 * A cheap look at the bytes before libxml2 parses them (brp_scan.c): the
 * start tag being read, so that one with too many attributes, or too long,
 * is refused before libxml2's duplicate-attribute check, quadratic in
 * their number, or its buffering of the whole tag, runs.
 */
struct brp_scan {
	int state;			/* where in the markup; 0: in text */
	unsigned char quote;		/* the open attribute value's quote */
	unsigned char prev[2];		/* the two bytes before, for --> ]]> ?> */
	size_t attrs;			/* '=' outside quotes in the open start tag */
	size_t tag_bytes;		/* bytes of the open start tag so far */
	unsigned long line;		/* line of the byte being scanned, from 1 */
};

/*
 * Scans the next len bytes of the input.  Returns 0, or -1 with the reason
 * in why (n bytes) when a start tag has more than max_attrs attributes
 * (0: no limit) or a name or quoted value in it longer than max_tag bytes
 * (0: no limit).
 */
int brp_scan(struct brp_scan *s, const char *buf, size_t len, size_t max_attrs,
	     size_t max_tag, char *why, size_t n);

#endif
