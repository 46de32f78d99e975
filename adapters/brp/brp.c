/*
 * brp.c - the brp adapter: municipal BRP registrations as StUF-BG 3.10
 * (BG:npsLa01 answers and BG:npsLk01 notifications) to ADAPTER_PERSON
 * records.
 *
 * The input is parsed as a stream with libxml2's push parser and SAX2
 * callbacks; the host's compiled profile schema is plugged into that same
 * SAX stream (xmlSchemaSAXPlug, what `xmllint --stream --schema` does), so
 * no tree is built and memory holds only the fields of the current
 * BG:object.
 *
 * What is refused as a whole (feed()/finish() return ADAPTER_REFUSED):
 * a DOCTYPE (so no entity is ever declared, let alone expanded), anything
 * not well-formed, a root other than BG:npsLa01/BG:npsLk01, a schema error
 * outside any BG:object, nesting deeper than host->max_depth and text
 * longer than host->max_field_bytes.  A schema error inside a BG:object,
 * or a missing required field, rejects that object only.
 *
 * Order of events, verified with libxml2 2.9.14: for each start and end
 * tag the plug calls our callback first and the validator after it, and
 * the validator goes on validating the following elements after an error
 * (tests/test_adapter_brp.c, bad object in the middle).  So an error about
 * the end of an object ("Missing child element") arrives after our end
 * callback; a closed object is therefore kept "pending" and handed to the
 * host at the next SAX event, and errors that arrive meanwhile are its own.
 *
 * Out of memory, ours or libxml2's, is neither a rejection nor a refusal:
 * it goes to host->nomem() and the input fails (ADAPTER_NOMEM).  libxml2
 * reports its failed allocations as errors of code XML_ERR_NO_MEMORY (or
 * domain XML_FROM_MEMORY) through the same structured handler, whether the
 * parser, the validator or a string function lost them; the validator's
 * "Internal error" is taken as out of memory as well, since in 2.9.14 it
 * follows a failed allocation (and is never the object's fault).  Without
 * this, a validator that lost a value's text reports "'' is not a valid
 * value" and a good object would be rejected.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "adapter.h"
#include "brp.h"
#include "bsnlike.h"

#define BRP_NS_BG	"http://www.egem.nl/StUF/sector/bg/0310"
#define BRP_NS_STUF	"http://www.egem.nl/StUF/StUF0301"
#define BRP_NS_XSI	"http://www.w3.org/2001/XMLSchema-instance"
#define BRP_CHUNK	(1 << 20)	/* largest piece given to xmlParseChunk */
#define BRP_MSG_MAX	400		/* longest libxml2 message we pass on */
#define BRP_MUTATIESOORT BRP_NFIELDS	/* st->field: StUF:mutatiesoort */

enum brp_kind { BRP_UNKNOWN, BRP_LA01, BRP_LK01 };

struct brp_stream {
	struct adapter_host host;
	xmlParserCtxtPtr parser;
	xmlSchemaValidCtxtPtr vctxt;	/* NULL without a schema */
	xmlSchemaSAXPlugPtr plug;
	xmlSAXHandlerPtr own_sax;	/* the parser's before the plug */
	void *own_user_data;
	int lib_nomem;			/* libxml2 lost an allocation */
	int rc;				/* first adapter_rc that is not OK */
	char error[1024];		/* why, when rc is ADAPTER_REFUSED */
	enum brp_kind kind;
	size_t depth;			/* of the open element; root is 1 */
	size_t obj_depth;		/* of the open BG:object, or 0 */
	size_t adres_depth;		/* of its BG:verblijfsadres, or 0 */
	size_t run;			/* bytes of text since the last tag */
	unsigned long nobjects;
	struct brp_scan scan;		/* of the bytes fed, ahead of the parser */
	struct brp_object obj;		/* the open or the pending object */
	struct brp_mutation mut;	/* a notification's mutation */
	int in_parameters;		/* inside BG:parameters */
	int pending;			/* obj is closed, not yet handed on */
	int field;			/* field being read, or -1 */
	char *text;			/* its text so far */
	size_t tlen, tcap;
};

/* Returns the line the parser is at. */
static int brp_line(const struct brp_stream *st)
{
	return xmlSAX2GetLineNumber(st->parser);
}

/*
 * Stops the parse with rc; the first stop wins.  Not xmlStopParser(): in
 * libxml2 2.9.14 it frees the input buffer that the parser is still reading
 * when it is called from a SAX callback (valgrind: use after free in
 * xmlParseCharData).  Marking the parser at its end and switching SAX off
 * is what it does apart from that free; the rest of the current chunk is
 * skimmed without callbacks and feed() parses nothing more.
 */
static void brp_stop(struct brp_stream *st, int rc)
{
	if (st->rc != ADAPTER_OK)
		return;
	st->rc = rc;
	if (rc == ADAPTER_NOMEM)
		snprintf(st->error, sizeof(st->error), "out of memory");
	st->parser->disableSAX = 1;
	st->parser->instate = XML_PARSER_EOF;
}

/*
 * Out of memory: stops the parse and tells the host, naming the object
 * being read if there is one.
 */
static void brp_nomem(struct brp_stream *st)
{
	char place[64];
	int in_object = st->obj_depth > 0 || st->pending;

	if (st->rc != ADAPTER_OK)
		return;
	brp_stop(st, ADAPTER_NOMEM);
	if (st->host.nomem == NULL)
		return;
	if (in_object)
		snprintf(place, sizeof(place), "line %lu (object %lu)",
			 st->obj.line, st->obj.index);
	else
		snprintf(place, sizeof(place), "line %d", brp_line(st));
	st->host.nomem(st->host.ctx, place);
}

/* Is err a failed allocation (see the top of this file)? */
static int brp_is_nomem(const xmlError *err)
{
	return err->code == XML_ERR_NO_MEMORY || err->domain == XML_FROM_MEMORY ||
	       err->code == XML_SCHEMAV_INTERNAL;
}

/* Refuses the whole input; fmt says why and where. */
static void brp_refuse(struct brp_stream *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void brp_refuse(struct brp_stream *st, const char *fmt, ...)
{
	va_list ap;

	if (st->rc != ADAPTER_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
	brp_stop(st, ADAPTER_REFUSED);
}

/* Hands the pending object to the host. */
static void brp_emit(struct brp_stream *st)
{
	st->pending = 0;
	if (st->kind == BRP_LK01 && brp_mutation_judge(&st->mut, &st->obj) < 0) {
		brp_nomem(st);
		return;
	}
	if (brp_object_emit(&st->obj, &st->host) < 0)
		brp_stop(st, ADAPTER_ABORT);
}

/*
 * Called at every SAX event: an answer's closed object goes to the host
 * now that the validator has had its say about it.  A notification keeps
 * its object until the end, as only the last one counts.
 */
static void brp_flush(struct brp_stream *st)
{
	if (st->pending && st->kind == BRP_LA01)
		brp_emit(st);
}

/*
 * Copies libxml2's message msg into out (len bytes) with namespace URIs
 * written as the BG: and StUF: prefixes, the trailing newline dropped, the
 * length capped and any BSN-like value masked (bsnlike.h).
 */
static void brp_clean(const char *msg, char *out, size_t len)
{
	static const char bg[] = "{" BRP_NS_BG "}";
	static const char stuf[] = "{" BRP_NS_STUF "}";
	size_t o = 0;

	if (msg == NULL)
		msg = "unknown error";
	while (*msg && o + 6 < len && o < BRP_MSG_MAX) {
		if (strncmp(msg, bg, sizeof(bg) - 1) == 0) {
			memcpy(out + o, "BG:", 3);
			o += 3;
			msg += sizeof(bg) - 1;
		} else if (strncmp(msg, stuf, sizeof(stuf) - 1) == 0) {
			memcpy(out + o, "StUF:", 5);
			o += 5;
			msg += sizeof(stuf) - 1;
		} else {
			out[o++] = *msg == '\n' ? ' ' : *msg;
			msg++;
		}
	}
	if (*msg)
		o += (size_t)snprintf(out + o, len - o, "...");
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	bsnlike_mask(out);	/* it may quote a value: never a BSN */
}

/*
 * The structured error handler of both the parser and the validator.  A
 * validity error inside a BG:object rejects that object; any other error
 * refuses the input.  Warnings are ignored.
 */
static void brp_on_error(void *ctx, xmlErrorPtr err)
{
	struct brp_stream *st = ctx;
	char msg[BRP_MSG_MAX + 16], reason[BRP_MSG_MAX + 64];
	int line, col;

	if (err != NULL && brp_is_nomem(err))
		st->lib_nomem = 1;	/* see brp_close() */
	if (err == NULL || err->level == XML_ERR_WARNING ||
	    st->rc != ADAPTER_OK)
		return;
	if (brp_is_nomem(err)) {
		brp_nomem(st);
		return;
	}
	brp_clean(err->message, msg, sizeof(msg));
	line = err->line > 0 ? err->line : brp_line(st);
	col = err->int2 > 0 ? err->int2 : xmlSAX2GetColumnNumber(st->parser);
	if (err->domain == XML_FROM_SCHEMASV && err->level == XML_ERR_ERROR &&
	    (st->obj_depth > 0 || st->pending)) {
		snprintf(reason, sizeof(reason), "line %d: %s", line, msg);
		if (brp_object_fail(&st->obj, reason) < 0)
			brp_nomem(st);
		return;
	}
	brp_refuse(st, "line %d, column %d: %s", line, col, msg);
}

/* SAX internalSubset/externalSubset: a DOCTYPE is refused at once. */
static void brp_on_doctype(void *ctx, const xmlChar *name,
			   const xmlChar *external_id, const xmlChar *system_id)
{
	struct brp_stream *st = ctx;

	(void)name;
	(void)external_id;
	(void)system_id;
	brp_refuse(st, "DOCTYPE is not allowed (line %d)", brp_line(st));
}

/* SAX entityDecl: cannot happen after brp_on_doctype; refused anyway. */
static void brp_on_entity(void *ctx, const xmlChar *name, int type,
			  const xmlChar *public_id, const xmlChar *system_id,
			  xmlChar *content)
{
	struct brp_stream *st = ctx;

	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	brp_refuse(st, "DOCTYPE is not allowed (line %d)", brp_line(st));
}

/* Is the URI the BG namespace? */
static int brp_is_bg(const xmlChar *uri)
{
	return uri != NULL && strcmp((const char *)uri, BRP_NS_BG) == 0;
}

/*
 * Looks for attribute uri:name among SAX2's nb attributes (5 pointers
 * each: localname, prefix, URI, value, end).  Returns its index or -1.
 */
static int brp_attr(const xmlChar **attrs, int nb, const char *uri,
		    const char *name)
{
	int i;

	for (i = 0; i < nb; i++) {
		const xmlChar **a = attrs + 5 * i;	/* NOLINT(bugprone-implicit-widening-of-multiplication-result): i < nb_attributes, small */

		if (a[2] != NULL && strcmp((const char *)a[2], uri) == 0 &&
		    strcmp((const char *)a[0], name) == 0)
			return i;
	}
	return -1;
}

/* Does attribute i (see brp_attr) have the value v, spaces aside? */
static int brp_attr_is(const xmlChar **attrs, int i, const char *v)
{
	const char *s = (const char *)attrs[5 * i + 3];
	const char *e = (const char *)attrs[5 * i + 4];
	size_t n = strlen(v);

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		e--;
	return (size_t)(e - s) == n && memcmp(s, v, n) == 0;
}

/* An element with xsi:nil="true" or StUF:noValue counts as absent. */
static int brp_is_absent(const xmlChar **attrs, int nb)
{
	int i = brp_attr(attrs, nb, BRP_NS_XSI, "nil");

	if (i >= 0 && (brp_attr_is(attrs, i, "true") ||
		       brp_attr_is(attrs, i, "1")))
		return 1;
	return brp_attr(attrs, nb, BRP_NS_STUF, "noValue") >= 0;
}

/* Refuses attribute values longer than max_field_bytes. */
static void brp_check_attrs(struct brp_stream *st, const xmlChar **attrs,
			    int nb)
{
	int i;

	if (st->host.max_field_bytes == 0)
		return;
	for (i = 0; i < nb; i++) {
		const xmlChar **a = attrs + 5 * i;	/* NOLINT(bugprone-implicit-widening-of-multiplication-result): i < nb_attributes, small */

		if ((size_t)(a[4] - a[3]) > st->host.max_field_bytes)
			brp_refuse(st, "line %d: attribute '%s' is longer than "
				   "%zu bytes", brp_line(st), (const char *)a[0],
				   st->host.max_field_bytes);
	}
}

/* Checks the root element and learns which message this is. */
static void brp_root(struct brp_stream *st, const xmlChar *name,
		     const xmlChar *uri)
{
	if (brp_is_bg(uri) && strcmp((const char *)name, "npsLa01") == 0)
		st->kind = BRP_LA01;
	else if (brp_is_bg(uri) && strcmp((const char *)name, "npsLk01") == 0)
		st->kind = BRP_LK01;
	else {
		char qn[128], qu[256];

		brp_refuse(st, "line %d: root element '%s' in namespace '%s' "
			   "is not BG:npsLa01 or BG:npsLk01 (BG = %s)",
			   brp_line(st),
			   bsnlike_quote((const char *)name, qn, sizeof(qn), 100),
			   uri ? bsnlike_quote((const char *)uri, qu, sizeof(qu), 200)
			       : "(none)", BRP_NS_BG);
	}
}

/* Opens a BG:object: a new object, or the new state of a notification. */
static void brp_object_open(struct brp_stream *st, const xmlChar **attrs,
			    int nb)
{
	int i;

	if (st->kind == BRP_LK01) {
		st->mut.objects++;
		if (st->pending)	/* the older state: only its BSN is kept */
			brp_mutation_keep_old(&st->mut, &st->obj);
	}
	st->pending = 0;
	st->nobjects++;
	brp_object_start(&st->obj, (unsigned long)brp_line(st), st->nobjects);
	st->obj_depth = st->depth;
	i = brp_attr(attrs, nb, BRP_NS_STUF, "verwerkingssoort");
	if (i >= 0)
		brp_mutation_code((const char *)attrs[5 * i + 3],
				  (size_t)(attrs[5 * i + 4] - attrs[5 * i + 3]),
				  st->obj.verwerkingssoort, sizeof(st->obj.verwerkingssoort));
	i = brp_attr(attrs, nb, BRP_NS_STUF, "entiteittype");
	if (i >= 0 && !brp_attr_is(attrs, i, "NPS") &&
	    brp_object_fail(&st->obj, "StUF:entiteittype is not NPS") < 0)
		brp_nomem(st);
}

/* Starts reading field f unless the element says it has no value. */
static void brp_field_open(struct brp_stream *st, int f,
			   const xmlChar **attrs, int nb)
{
	if (f < 0 || brp_is_absent(attrs, nb))
		return;
	st->field = f;
	st->tlen = 0;
}

/* Is the element at the current depth an object of this message? */
static int brp_is_object(const struct brp_stream *st, const xmlChar *name,
			 const xmlChar *uri)
{
	size_t at = st->kind == BRP_LA01 ? 3 : 2;

	return st->obj_depth == 0 && st->depth == at && brp_is_bg(uri) &&
	       strcmp((const char *)name, "object") == 0;
}

/* Follows a start tag below the root. */
static void brp_inner(struct brp_stream *st, const xmlChar *name,
		      const xmlChar *uri, const xmlChar **attrs, int nb)
{
	const char *n = (const char *)name;

	if (brp_is_object(st, name, uri)) {
		brp_object_open(st, attrs, nb);
	} else if (st->kind == BRP_LK01 && st->depth == 2 && brp_is_bg(uri) &&
		   strcmp(n, "parameters") == 0) {
		st->in_parameters = 1;
	} else if (st->in_parameters && st->depth == 3 && uri != NULL &&
		   strcmp((const char *)uri, BRP_NS_STUF) == 0 && strcmp(n, "mutatiesoort") == 0) {
		brp_field_open(st, BRP_MUTATIESOORT, attrs, nb);
	} else if (st->obj_depth == 0 || !brp_is_bg(uri)) {
		return;
	} else if (st->depth == st->obj_depth + 1) {
		if (strcmp(n, "verblijfsadres") == 0)
			st->adres_depth = st->depth;
		else
			brp_field_open(st, brp_object_field(n), attrs, nb);
	} else if (st->adres_depth && st->depth == st->adres_depth + 1) {
		brp_field_open(st, brp_verblijfsadres_field(n), attrs, nb);
	}
}

/* SAX2 startElementNs. */
static void brp_on_start(void *ctx, const xmlChar *name, const xmlChar *prefix,
			 const xmlChar *uri, int nb_namespaces,
			 const xmlChar **namespaces, int nb_attributes,
			 int nb_defaulted, const xmlChar **attrs)
{
	struct brp_stream *st = ctx;

	(void)prefix;
	(void)nb_namespaces;
	(void)namespaces;
	(void)nb_defaulted;
	if (st->rc != ADAPTER_OK)
		return;
	brp_flush(st);
	st->depth++;
	st->run = 0;
	if (st->host.max_depth && st->depth > st->host.max_depth) {
		brp_refuse(st, "line %d: elements nested deeper than %zu",
			   brp_line(st), st->host.max_depth);
		return;
	}
	brp_check_attrs(st, attrs, nb_attributes);
	if (st->depth == 1)
		brp_root(st, name, uri);
	else
		brp_inner(st, name, uri, attrs, nb_attributes);
}

/* SAX2 endElementNs. */
static void brp_on_end(void *ctx, const xmlChar *name, const xmlChar *prefix,
		       const xmlChar *uri)
{
	struct brp_stream *st = ctx;

	(void)name;
	(void)prefix;
	(void)uri;
	if (st->rc != ADAPTER_OK)
		return;
	brp_flush(st);
	if (st->field == BRP_MUTATIESOORT)
		brp_mutation_code(st->text ? st->text : "", st->tlen, st->mut.mutatiesoort,
				  sizeof(st->mut.mutatiesoort));
	else if (st->field >= 0 &&
		 brp_object_set(&st->obj, st->field, st->text ? st->text : "",
				st->tlen) < 0)
		brp_nomem(st);
	st->field = -1;
	if (st->depth == 2)
		st->in_parameters = 0;
	if (st->depth == st->adres_depth)
		st->adres_depth = 0;
	if (st->depth == st->obj_depth) {
		st->obj_depth = 0;
		st->pending = 1;
	}
	st->depth--;
	st->run = 0;
}

/* Appends len bytes of text to the field being read. */
static int brp_append(struct brp_stream *st, const xmlChar *ch, size_t len)
{
	char *p;
	size_t cap;

	if (st->tlen + len > st->tcap) {
		cap = st->tcap ? st->tcap : 64;
		while (cap < st->tlen + len)
			cap *= 2;
		p = realloc(st->text, cap);
		if (p == NULL)
			return -1;
		st->text = p;
		st->tcap = cap;
	}
	memcpy(st->text + st->tlen, ch, len);
	st->tlen += len;
	return 0;
}

/* SAX characters (and CDATA blocks). */
static void brp_on_text(void *ctx, const xmlChar *ch, int len)
{
	struct brp_stream *st = ctx;

	if (st->rc != ADAPTER_OK || len <= 0)
		return;
	brp_flush(st);
	st->run += (size_t)len;
	if (st->host.max_field_bytes && st->run > st->host.max_field_bytes) {
		brp_refuse(st, "line %d: text longer than %zu bytes",
			   brp_line(st), st->host.max_field_bytes);
		return;
	}
	if (st->field >= 0 && brp_append(st, ch, (size_t)len) < 0)
		brp_nomem(st);
}

/* Fills in the SAX2 handler the parser is created with. */
static void brp_sax(xmlSAXHandler *sax)
{
	memset(sax, 0, sizeof(*sax));
	sax->initialized = XML_SAX2_MAGIC;
	sax->startElementNs = brp_on_start;
	sax->endElementNs = brp_on_end;
	sax->characters = brp_on_text;
	sax->cdataBlock = brp_on_text;
	sax->internalSubset = brp_on_doctype;
	sax->externalSubset = brp_on_doctype;
	sax->entityDecl = brp_on_entity;
}

/*
 * Passes len bytes (or the end, with terminate) to the parser, with our
 * error handler in place for libxml2's parser errors; they go through the
 * thread's structured handler, which is put back afterwards.
 */
static void brp_parse(struct brp_stream *st, const char *buf, int len,
		      int terminate)
{
	xmlStructuredErrorFunc old = xmlStructuredError;
	void *old_ctx = xmlStructuredErrorContext;

	xmlSetStructuredErrorFunc(st, brp_on_error);
	xmlParseChunk(st->parser, buf, len, terminate);
	xmlSetStructuredErrorFunc(old_ctx, old);
	if (st->rc == ADAPTER_OK && st->parser->errNo == XML_ERR_NO_MEMORY)
		brp_nomem(st);	/* should the handler have missed it */
	if (st->rc == ADAPTER_OK && !st->parser->wellFormed)
		brp_refuse(st, "line %d, column %d: not well-formed",
			   brp_line(st), xmlSAX2GetColumnNumber(st->parser));
}

static int brp_feed(void *stream, const char *buf, size_t len)
{
	struct brp_stream *st = stream;
	int n;

	while (len > 0 && st->rc == ADAPTER_OK) {
		char why[256];

		n = len > BRP_CHUNK ? BRP_CHUNK : (int)len;
		if (brp_scan(&st->scan, buf, (size_t)n, st->host.max_attributes,
			     st->host.max_field_bytes, why, sizeof(why)) != 0) {
			brp_refuse(st, "%s", why);
			break;
		}
		brp_parse(st, buf, n, 0);
		buf += n;
		len -= (size_t)n;
	}
	return st->rc;
}

static int brp_finish(void *stream)
{
	struct brp_stream *st = stream;

	if (st->rc != ADAPTER_OK)
		return st->rc;
	brp_parse(st, NULL, 0, 1);
	if (st->rc == ADAPTER_OK && st->pending)
		brp_emit(st);
	return st->rc;
}

static const char *brp_error(void *stream)
{
	struct brp_stream *st = stream;

	return st->error;
}

/*
 * Validation contexts that libxml2 2.9.14 may have left broken, kept
 * here instead of freed (see brp_close()); reachable, so not a leak to
 * valgrind.  Past BRP_PARKED of them (that many inputs that ran out of
 * memory) they are simply dropped.  Never read: `used` keeps the compiler
 * from dropping the array and the stores into it (it did, and valgrind
 * saw the contexts as lost).
 */
#define BRP_PARKED 64
static struct brp_parked {
	xmlSchemaValidCtxtPtr vctxt;
	xmlSchemaSAXPlugPtr plug;
} brp_parked[BRP_PARKED] __attribute__((used));
static unsigned brp_nparked;

/*
 * Frees the stream.  After libxml2 reported a failed allocation while the
 * validator ran, the validation context is not touched again: in 2.9.14
 * the validator does not leave itself consistent when an allocation fails
 * (xmlSchemaGetFreshAttrInfo() grows attrInfos and then, if the attribute
 * info cannot be allocated, leaves the new slot uninitialised, which
 * xmlSchemaFreeValidCtxt() frees: a crash; a failed realloc of the same
 * array leaves a NULL array with a non-zero count, which xmlSchemaSAXUnplug()
 * walks).  So the parser gets its own SAX handler back by hand (what
 * xmlSchemaSAXUnplug() would do) and the context and the plug are parked,
 * never freed: a few kilobytes kept per input that ran out of memory,
 * instead of a crash.
 */
static void brp_close(void *stream)
{
	struct brp_stream *st = stream;

	if (st == NULL)
		return;
	if (st->plug != NULL && st->parser != NULL && st->lib_nomem) {
		st->parser->sax = st->own_sax;
		st->parser->userData = st->own_user_data;
		if (brp_nparked < BRP_PARKED) {
			brp_parked[brp_nparked].vctxt = st->vctxt;
			brp_parked[brp_nparked].plug = st->plug;
			brp_nparked++;
		}
		st->plug = NULL;
		st->vctxt = NULL;
	}
	if (st->plug != NULL)
		xmlSchemaSAXUnplug(st->plug);
	if (st->parser != NULL)
		xmlFreeParserCtxt(st->parser);
	if (st->vctxt != NULL)
		xmlSchemaFreeValidCtxt(st->vctxt);
	brp_object_clear(&st->obj);
	brp_mutation_clear(&st->mut);
	free(st->text);
	free(st);
}

/* A structured error handler that only notes failed allocations. */
static void brp_note_nomem(void *ctx, xmlErrorPtr err)
{
	int *nomem = ctx;

	if (err != NULL && brp_is_nomem(err))
		*nomem = 1;
}

/*
 * Plugs the host's schema into the parser's SAX stream.  Returns 0, or -1
 * when out of memory.
 *
 * libxml2 2.9.14's xmlSchemaNewValidCtxt() does not check the item list it
 * allocates for the context (nodeQNames): when that allocation fails it
 * returns a context that crashes in xmlSchemaClearValidCtxt() at the end of
 * the validation (xmlSchemaSAXUnplug() in brp_close(): NULL dereference in
 * xmlSchemaItemListClear()).  The failure is reported (XML_ERR_NO_MEMORY,
 * "allocating an item list structure") but not returned, so we listen for
 * it and throw such a context away unused.
 */
static int brp_plug_schema(struct brp_stream *st)
{
	xmlStructuredErrorFunc old = xmlStructuredError;
	void *old_ctx = xmlStructuredErrorContext;
	int nomem = 0;

	xmlSetStructuredErrorFunc(&nomem, brp_note_nomem);
	st->vctxt = xmlSchemaNewValidCtxt(st->host.source_schema);
	xmlSetStructuredErrorFunc(old_ctx, old);
	if (st->vctxt != NULL && nomem) {
		xmlSchemaFreeValidCtxt(st->vctxt);
		st->vctxt = NULL;
	}
	if (st->vctxt == NULL)
		return -1;
	xmlSchemaSetValidStructuredErrors(st->vctxt, brp_on_error, st);
	st->own_sax = st->parser->sax;
	st->own_user_data = st->parser->userData;
	st->plug = xmlSchemaSAXPlug(st->vctxt, &st->parser->sax,
				    &st->parser->userData);
	return st->plug == NULL ? -1 : 0;
}

static void *brp_open(const struct adapter_host *host)
{
	struct brp_stream *st;
	xmlSAXHandler sax;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->host = *host;
	st->field = -1;
	brp_sax(&sax);
	st->parser = xmlCreatePushParserCtxt(&sax, st, NULL, 0, NULL);
	if (st->parser == NULL)
		goto out_free;
	/* No network; no XML_PARSE_NOENT, no XML_PARSE_DTDLOAD. */
	xmlCtxtUseOptions(st->parser, XML_PARSE_NONET);
	if (host->source_schema != NULL && brp_plug_schema(st) < 0)
		goto out_free;
	return st;
out_free:
	brp_close(st);
	return NULL;
}

__attribute__((visibility("default")))
const struct adapter schakel_adapter = {
	.abi_version = ADAPTER_ABI_VERSION,
	.name = "brp",
	.version = "1.0",
	.description = "BRP registrations, StUF-BG 3.10 npsLa01/npsLk01 (XML)",
	.source_schema = "stufbg0310-profile.xsd",
	.open = brp_open,
	.feed = brp_feed,
	.finish = brp_finish,
	.error = brp_error,
	.close = brp_close,
};
