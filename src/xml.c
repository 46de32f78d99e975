/*
 * xml.c - libxml2 set-up and XSD validation (see xml.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"


/* libxml2's generic error handler: we collect errors through the structured
 * handlers below instead of letting libxml2 print them. */
static void silent(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

void xml_init(void)
{
	xmlInitParser();
	/* These settings are per thread in libxml2: set them for this one and
	 * as the defaults of threads made later (ingest's parse thread). */
	xmlSetGenericErrorFunc(NULL, silent);
	xmlThrDefSetGenericErrorFunc(NULL, silent);
	/* No entity ever gets loaded from outside: refuse all external loads. */
	xmlSubstituteEntitiesDefault(0);
	xmlThrDefSubstituteEntitiesDefaultValue(0);
	xmlLoadExtDtdDefaultValue = 0;
	xmlThrDefLoadExtDtdDefaultValue(0);
}

void xml_cleanup(void)
{
	xmlCleanupParser();
}

/* Copies the message without its trailing newline. */
enum status xml_error(const xmlError *err, struct errbuf *e)
{
	char msg[512];
	size_t n;

	if (err == NULL || err->message == NULL)
		return errbuf_set(e, ST_FAIL, "XML error");
	snprintf(msg, sizeof(msg), "%s", err->message);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (err->line > 0)
		return errbuf_set(e, ST_FAIL, "line %d: %s", err->line, msg);
	return errbuf_set(e, ST_FAIL, "%s", msg);
}

/* Keeps the first error of a schema parse or a validation. */
struct first_error {
	struct errbuf *e;
	int seen;
	bool nomem;	/* libxml2 ran out of memory */
};

static void keep_first(void *arg, xmlErrorPtr err)
{
	struct first_error *f = arg;

	if (err != NULL && (err->code == XML_ERR_NO_MEMORY || err->domain == XML_FROM_MEMORY))
		f->nomem = true;
	if (f->seen++ == 0)
		xml_error(err, f->e);
}

xmlSchemaPtr xml_schema_load(const char *schema_dir, const char *name, struct errbuf *e)
{
	struct first_error fe = { e, 0, false };
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr schema;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", schema_dir, name);
	pc = xmlSchemaNewParserCtxt(path);
	if (pc == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pc, keep_first, &fe);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (schema == NULL) {
		char why[sizeof(e->msg)];

		snprintf(why, sizeof(why), "%s", fe.seen ? e->msg : "cannot be read");
		errbuf_set(e, ST_FAIL, "schema %s: %s (is the schema directory right? "
			   "see $SCHAKEL_SCHEMA_DIR)", path, why);
	}
	return schema;
}

struct xml_validator {
	xmlSchemaValidCtxtPtr ctxt;
	xmlDictPtr dict;
	struct first_error fe;
};

struct xml_validator *xml_validator_new(xmlSchemaPtr schema)
{
	struct xml_validator *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->ctxt = xmlSchemaNewValidCtxt(schema);
	v->dict = xmlDictCreate();
	if (v->ctxt == NULL || v->dict == NULL) {
		xml_validator_free(v);
		return NULL;
	}
	xmlSchemaSetValidStructuredErrors(v->ctxt, keep_first, &v->fe);
	return v;
}

enum status xml_validate(struct xml_validator *v, xmlDocPtr doc, struct errbuf *e)
{
	int rc;

	v->fe.e = e;
	v->fe.seen = 0;
	v->fe.nomem = false;
	rc = xmlSchemaValidateDoc(v->ctxt, doc);
	if (rc == 0)
		return ST_OK;
	if (rc < 0)	/* an internal error of libxml2, not the document's */
		v->fe.nomem = true;
	if (!v->fe.seen)
		errbuf_set(e, ST_FAIL, "XML schema validation failed (%d)", rc);
	return ST_FAIL;
}

xmlDictPtr xml_validator_dict(struct xml_validator *v)
{
	return v->dict;
}

bool xml_validator_nomem(const struct xml_validator *v)
{
	return v->fe.nomem;
}

void xml_validator_free(struct xml_validator *v)
{
	if (v == NULL)
		return;
	if (v->ctxt != NULL)
		xmlSchemaFreeValidCtxt(v->ctxt);
	if (v->dict != NULL)
		xmlDictFree(v->dict);
	free(v);
}
