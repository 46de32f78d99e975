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
	 * as the defaults of threads made later (ingest's parse and check
	 * threads). */
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

/* Compiles schema_dir/name. */
static xmlSchemaPtr compile_schema(const char *schema_dir, const char *name,
				   struct errbuf *e)
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

void xml_note_nomem(void *ctx, xmlErrorPtr err)
{
	bool *nomem = ctx;

	if (err != NULL && (err->code == XML_ERR_NO_MEMORY || err->domain == XML_FROM_MEMORY))
		*nomem = true;
}

/*
 * libxml2's allocator while a schema compiles: libxml2's own, counting the
 * allocations that fail.  It changes nothing about how memory is got or
 * freed (blocks pass between it and libxml2's allocator freely); it only
 * lets us see failures that libxml2 keeps to itself.
 */
static struct {
	xmlFreeFunc free;
	xmlMallocFunc malloc, malloc_atomic;
	xmlReallocFunc realloc;
	xmlStrdupFunc strdup;
} xml_alloc;
static unsigned long xml_alloc_failures;

static void *counting_malloc(size_t n)
{
	void *p = xml_alloc.malloc(n);

	xml_alloc_failures += p == NULL;
	return p;
}

static void *counting_malloc_atomic(size_t n)
{
	void *p = xml_alloc.malloc_atomic(n);

	xml_alloc_failures += p == NULL;
	return p;
}

static void *counting_realloc(void *old, size_t n)
{
	void *p = xml_alloc.realloc(old, n);

	xml_alloc_failures += p == NULL;
	return p;
}

static char *counting_strdup(const char *s)
{
	char *p = xml_alloc.strdup(s);

	xml_alloc_failures += p == NULL;
	return p;
}

/*
 * Compiles a schema, and throws it away if an allocation failed while it
 * compiled.  libxml2 2.9.14 does not always fail
 * xmlSchemaParse() when one does: it may report it (XML_ERR_NO_MEMORY,
 * through the thread's structured error handler, not the schema parser's),
 * or not even that (xmlAutomataNewTransition2() returns NULL when the
 * buffer for a namespaced element name cannot be allocated, and
 * xmlSchemaBuildContentModelForElement() goes on without the transition),
 * and return a schema whose content models are incomplete: one that
 * rejects good input, every record of a file, as the supplier's fault.
 * libxml2's allocator is process-wide: this is safe because schemas are
 * compiled (app_open(), loader_load()) on the main thread while no
 * ingest's parse or check thread exists (ingest_file() joins them before
 * it returns), so no other thread allocates through libxml2 meanwhile.  The counting
 * allocator only watches; it does not make an allocation succeed (that
 * cannot be had), it keeps a schema that a failure left incomplete from
 * being used.
 */
xmlSchemaPtr xml_schema_load(const char *schema_dir, const char *name, struct errbuf *e)
{
	xmlStructuredErrorFunc old = xmlStructuredError;
	void *old_ctx = xmlStructuredErrorContext;
	bool nomem = false;
	xmlSchemaPtr schema;

	if (xmlGcMemGet(&xml_alloc.free, &xml_alloc.malloc, &xml_alloc.malloc_atomic,
			&xml_alloc.realloc, &xml_alloc.strdup) != 0) {
		errbuf_set(e, ST_FAIL, "schema %s: libxml2 has no allocator", name);
		return NULL;
	}
	xml_alloc_failures = 0;
	xmlGcMemSetup(xml_alloc.free, counting_malloc, counting_malloc_atomic,
		      counting_realloc, counting_strdup);
	xmlSetStructuredErrorFunc(&nomem, xml_note_nomem);
	schema = compile_schema(schema_dir, name, e);
	xmlSetStructuredErrorFunc(old_ctx, old);
	xmlGcMemSetup(xml_alloc.free, xml_alloc.malloc, xml_alloc.malloc_atomic,
		      xml_alloc.realloc, xml_alloc.strdup);
	if (nomem || xml_alloc_failures > 0) {
		if (schema != NULL)
			xmlSchemaFree(schema);
		errbuf_set(e, ST_FAIL, "schema %s: out of memory while compiling it", name);
		return NULL;
	}
	return schema;
}

#define SPOILT_MAX 16

struct xml_validator {
	xmlSchemaPtr schema;
	xmlSchemaValidCtxtPtr ctxt;
	/* Contexts an allocation failure left in a state that libxml2 2.9.14
	 * may crash on, even when freeing them: kept here, never used again
	 * and never freed.  When full, no new context is made. */
	xmlSchemaValidCtxtPtr spoilt[SPOILT_MAX];
	int nspoilt;
	xmlDictPtr dict;
	struct first_error fe;
};

static void spoil(struct xml_validator *v, xmlSchemaValidCtxtPtr c)
{
	if (c != NULL && v->nspoilt < SPOILT_MAX)
		v->spoilt[v->nspoilt++] = c;
}

/*
 * A fresh validation context, or NULL.  libxml2 2.9.14 does not check
 * every allocation xmlSchemaNewValidCtxt() makes and returns a context
 * that crashes later: one made while an allocation failed is not used.
 */
static xmlSchemaValidCtxtPtr new_context(struct xml_validator *v)
{
	xmlStructuredErrorFunc old = xmlStructuredError;
	void *old_ctx = xmlStructuredErrorContext;
	bool nomem = false;
	xmlSchemaValidCtxtPtr c;

	if (v->nspoilt == SPOILT_MAX)
		return NULL;
	xmlSetStructuredErrorFunc(&nomem, xml_note_nomem);
	c = xmlSchemaNewValidCtxt(v->schema);
	xmlSetStructuredErrorFunc(old_ctx, old);
	if (c == NULL || nomem) {
		spoil(v, c);
		return NULL;
	}
	xmlSchemaSetValidStructuredErrors(c, keep_first, &v->fe);
	return c;
}

struct xml_validator *xml_validator_new(xmlSchemaPtr schema)
{
	struct xml_validator *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->schema = schema;
	v->ctxt = new_context(v);
	v->dict = xmlDictCreate();
	if (v->ctxt == NULL || v->dict == NULL) {
		xml_validator_free(v);
		return NULL;
	}
	return v;
}

enum status xml_validate(struct xml_validator *v, xmlDocPtr doc, struct errbuf *e)
{
	int rc;

	v->fe.e = e;
	v->fe.seen = 0;
	v->fe.nomem = false;
	if (v->ctxt == NULL)
		v->ctxt = new_context(v);	/* the last one ran out of memory */
	if (v->ctxt == NULL) {
		v->fe.nomem = true;
		return errbuf_set(e, ST_FAIL, "out of memory");
	}
	rc = xmlSchemaValidateDoc(v->ctxt, doc);
	if (rc == 0)
		return ST_OK;
	if (rc < 0)	/* an internal error of libxml2, not the document's */
		v->fe.nomem = true;
	if (v->fe.nomem) {	/* its state is not to be trusted */
		spoil(v, v->ctxt);
		v->ctxt = NULL;
	}
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
