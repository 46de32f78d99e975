/*
 * record.h - canonical records: what an adapter's record becomes once its
 * values are normalised (norm.h), and its XML form (schemas/schakel-records.xsd),
 * against which every record is validated before it is stored.
 */
#ifndef SCHAKEL_RECORD_H
#define SCHAKEL_RECORD_H

#include <libxml/tree.h>

#include "adapter.h"
#include "norm.h"
#include "status.h"
#include "xml.h"

#define RECORD_MAX_PERSONS 1000	/* BSNs named in one finding */

struct record {
	enum adapter_kind kind;
	struct address address;
	/* ADAPTER_PERSON (also for ADAPTER_PERSON_WITHDRAWN, with withdraw) */
	bool withdraw;		/* remove this registration, do not store it */
	char bsn[10];
	char begindatum[11];
	/* ADAPTER_DWELLING */
	long oppervlakte, max_bewoners;		/* -1: absent */
	const char *gebruiksdoel, *vergunning, *vergunning_tot;	/* NULL: absent */
	/* ADAPTER_FINDING */
	const char *id, *datum, *soort, *kvk;
	long aangetroffen;
	char (*bsns)[10];	/* malloc'd; nbsn of them */
	size_t nbsn;
};

/*
 * Normalises and checks an adapter's record into out; strings point into
 * in, so out lives no longer than in.  Free with record_clear().  On
 * failure e names the field (never a BSN).
 */
enum status record_normalise(const struct adapter_record *in, struct record *out,
			     struct errbuf *e);
void record_clear(struct record *r);

/*
 * Builds the canonical XML of r, with element names from dict (may be
 * NULL); NULL when out of memory.  xmlFreeDoc() it.
 */
xmlDocPtr record_to_xml(const struct record *r, xmlDictPtr dict);

/*
 * Validates canonical records against schemas/schakel-records.xsd; one per
 * thread.  NULL when out of memory.
 */
struct record_checker;
struct record_checker *record_checker_new(xmlSchemaPtr schema);
void record_checker_free(struct record_checker *c);

/*
 * Builds the XML of r and validates it.  *nomem is set when the failure is
 * the broker's (out of memory), not the record's.
 */
enum status record_validate(struct record_checker *c, const struct record *r, bool *nomem,
			    struct errbuf *e);

#endif
