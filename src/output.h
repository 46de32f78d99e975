/*
 * output.h - signals as people and programs read them: a table, JSON
 * (one object per signal, the fields of matching.md) and XML (the signal
 * schema, schemas/schakel-signal.xsd).
 */
#ifndef SCHAKEL_OUTPUT_H
#define SCHAKEL_OUTPUT_H

#include <stdio.h>

#include <jansson.h>
#include <libxml/xmlwriter.h>

#include "config.h"
#include "store.h"

#define SIGNAL_NS "urn:schakel:signal:1"

/* The signal as a JSON object (new reference), or NULL when out of memory. */
json_t *output_signal_json(const struct signal *sig);

/*
 * Writes <signaal> for sig with w (a writer positioned where the element
 * goes; the namespace is declared on it when declare_ns).  bsn (or NULL)
 * is the person's BSN, for a recipient whose grant includes it.  Returns
 * 0, or -1 when the writer fails.
 */
int output_signal_xml(xmlTextWriterPtr w, const struct signal *sig, int declare_ns,
		      const char *bsn);

/* One sentence saying why the signal was raised, for the table. */
void output_signal_reason(const struct config *cfg, const struct signal *sig, char *out,
			  size_t n);

/* The table's header line, and one row per signal. */
void output_table_header(FILE *f);
void output_table_row(FILE *f, const struct config *cfg, const struct signal *sig);

#endif
