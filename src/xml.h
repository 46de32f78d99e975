/*
 * xml.h - libxml2 set-up and XSD validation.
 *
 * Outside XML is parsed by the adapters with XML_PARSE_NONET and without
 * DTD loading or entity substitution (a DOCTYPE is refused outright), so
 * XXE and entity expansion cannot happen.  libxml2 messages are turned into
 * one line that names element and line.
 */
#ifndef SCHAKEL_XML_H
#define SCHAKEL_XML_H

#include <stdbool.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "status.h"

/* Call once before any other XML function (initialises libxml2). */
void xml_init(void);
void xml_cleanup(void);

/*
 * Loads and compiles schema_dir/name.  Returns NULL with a message in e.
 * Free with xmlSchemaFree().
 */
xmlSchemaPtr xml_schema_load(const char *schema_dir, const char *name, struct errbuf *e);

/*
 * A reusable validation context for one schema; not thread-safe.
 * xml_validate returns ST_OK or ST_FAIL with the first error in e, as
 * "element 'x' (line N): message".
 */
struct xml_validator;
struct xml_validator *xml_validator_new(xmlSchemaPtr schema);
enum status xml_validate(struct xml_validator *v, xmlDocPtr doc, struct errbuf *e);
/*
 * A structured error handler (xmlSetStructuredErrorFunc) that only sets
 * *(bool *)ctx when libxml2 failed to allocate: libxml2 2.9.14 reports
 * many such failures only there, and carries on.
 */
void xml_note_nomem(void *ctx, xmlErrorPtr err);

/* Whether the last xml_validate() failed for lack of memory, not the document. */
bool xml_validator_nomem(const struct xml_validator *v);
/*
 * The validator's dictionary: documents built for it with this dictionary
 * share their element names instead of copying each one.
 */
xmlDictPtr xml_validator_dict(struct xml_validator *v);
void xml_validator_free(struct xml_validator *v);

/* Copies a libxml2 error into e as one line; returns ST_FAIL. */
enum status xml_error(const xmlError *err, struct errbuf *e);

#endif
