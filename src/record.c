/*
 * record.c - normalising adapter records and their canonical XML
 * (see record.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsnlike.h"
#include "record.h"

#define RECORDS_NS "urn:schakel:records:1"

static bool empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static enum status normalise_person(const struct adapter_person *p, struct record *out,
				    struct errbuf *e)
{
	if (norm_bsn(p->bsn, out->bsn, e) != ST_OK)
		return ST_FAIL;
	if (norm_date("begindatumVerblijf", p->begindatum, e) != ST_OK)
		return ST_FAIL;
	memcpy(out->begindatum, p->begindatum, 11);
	return ST_OK;
}

static enum status normalise_dwelling(const struct adapter_dwelling *d, struct record *out,
				      struct errbuf *e)
{
	if (norm_int("oppervlakte_m2", d->oppervlakte_m2, 1, 1000000, true,
		     &out->oppervlakte, e) != ST_OK ||
	    norm_int("max_bewoners", d->max_bewoners, 0, 1000000, true,
		     &out->max_bewoners, e) != ST_OK)
		return ST_FAIL;
	out->gebruiksdoel = empty(d->gebruiksdoel) ? NULL : d->gebruiksdoel;
	out->vergunning = empty(d->vergunning_nummer) ? NULL : d->vergunning_nummer;
	out->vergunning_tot = empty(d->vergunning_geldig_tot) ? NULL : d->vergunning_geldig_tot;
	if (out->vergunning != NULL && out->vergunning_tot == NULL)
		return errbuf_set(e, ST_FAIL, "vergunning_nummer without vergunning_geldig_tot");
	if (out->vergunning == NULL && out->vergunning_tot != NULL)
		return errbuf_set(e, ST_FAIL, "vergunning_geldig_tot without vergunning_nummer");
	if (out->vergunning_tot != NULL &&
	    norm_date("vergunning_geldig_tot", out->vergunning_tot, e) != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

static enum status normalise_finding(const struct adapter_finding *f, struct record *out,
				     struct errbuf *e)
{
	if (empty(f->id))
		return errbuf_set(e, ST_FAIL, "id is missing");
	if (norm_date("datum", f->datum, e) != ST_OK)
		return ST_FAIL;
	if (empty(f->soort) || (strcmp(f->soort, "huisvesting") != 0 &&
				strcmp(f->soort, "werkplek") != 0))
		return errbuf_set(e, ST_FAIL, "soort '%s' is not huisvesting or werkplek",
				  bsnlike_quote(f->soort, (char[128]){ 0 }, 128, 40));
	if (norm_int("aangetroffen_personen", f->aangetroffen_personen, 0, 100000, false,
		     &out->aangetroffen, e) != ST_OK)
		return ST_FAIL;
	if (f->nbsn > (size_t)out->aangetroffen)
		return errbuf_set(e, ST_FAIL, "personen names %zu persons, more than "
				  "aangetroffen_personen %ld", f->nbsn, out->aangetroffen);
	if (f->nbsn > RECORD_MAX_PERSONS)
		return errbuf_set(e, ST_FAIL, "personen names more than %d persons",
				  RECORD_MAX_PERSONS);
	out->id = f->id;
	out->datum = f->datum;
	out->soort = f->soort;
	out->kvk = empty(f->kvk) ? NULL : f->kvk;
	if (f->nbsn == 0)
		return ST_OK;
	out->bsns = calloc(f->nbsn, sizeof(*out->bsns));
	if (out->bsns == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	for (size_t i = 0; i < f->nbsn; i++) {
		struct errbuf why;

		if (norm_bsn(f->bsns[i], out->bsns[i], &why) != ST_OK)
			return errbuf_set(e, ST_FAIL, "personen[%zu]: %.200s", i, why.msg);
		for (size_t j = 0; j < i; j++)
			if (memcmp(out->bsns[j], out->bsns[i], 9) == 0)
				return errbuf_set(e, ST_FAIL, "personen[%zu] names the same "
						  "person as personen[%zu]", i, j);
	}
	out->nbsn = f->nbsn;
	return ST_OK;
}

enum status record_normalise(const struct adapter_record *in, struct record *out,
			     struct errbuf *e)
{
	enum status st;

	memset(out, 0, sizeof(*out));
	out->kind = in->kind;
	out->oppervlakte = out->max_bewoners = -1;
	if (norm_address(&in->address, &out->address, e) != ST_OK)
		return ST_FAIL;
	switch (in->kind) {
	case ADAPTER_PERSON_WITHDRAWN:	/* checked as a person, then removed */
		out->kind = ADAPTER_PERSON;
		out->withdraw = true;
		st = normalise_person(&in->u.person, out, e);
		break;
	case ADAPTER_PERSON:
		st = normalise_person(&in->u.person, out, e);
		break;
	case ADAPTER_DWELLING:
		st = normalise_dwelling(&in->u.dwelling, out, e);
		break;
	case ADAPTER_FINDING:
		st = normalise_finding(&in->u.finding, out, e);
		break;
	default:
		st = errbuf_set(e, ST_FAIL, "unknown record kind %d", (int)in->kind);
	}
	if (st != ST_OK)
		record_clear(out);
	return st;
}

void record_clear(struct record *r)
{
	if (r == NULL)
		return;
	if (r->bsns != NULL) {
		memset(r->bsns, 0, r->nbsn * sizeof(*r->bsns));
		free(r->bsns);
	}
	r->bsns = NULL;
	r->nbsn = 0;
	memset(r->bsn, 0, sizeof(r->bsn));
}

/* Adds <name>text</name> under parent; false when out of memory. */
static bool add(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text) != NULL;
}

static bool add_long(xmlNodePtr parent, const char *name, long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%ld", v);
	return add(parent, name, buf);
}

static bool add_address(xmlNodePtr parent, const struct address *a)
{
	xmlNodePtr n = xmlNewChild(parent, NULL, (const xmlChar *)"adres", NULL);

	return n != NULL && add(n, "gemeentecode", a->gemeentecode) &&
	       (a->nummeraanduiding_id[0] == '\0' ||
		add(n, "nummeraanduiding", a->nummeraanduiding_id)) &&
	       add(n, "postcode", a->postcode) && add_long(n, "huisnummer", a->huisnummer) &&
	       add(n, "huisletter", a->huisletter) &&
	       add(n, "huisnummertoevoeging", a->toevoeging);
}

static bool add_dwelling(xmlNodePtr root, const struct record *r)
{
	xmlNodePtr v;

	if (!add_address(root, &r->address) ||
	    (r->oppervlakte >= 0 && !add_long(root, "oppervlakte_m2", r->oppervlakte)) ||
	    (r->gebruiksdoel != NULL && !add(root, "gebruiksdoel", r->gebruiksdoel)) ||
	    (r->max_bewoners >= 0 && !add_long(root, "max_bewoners", r->max_bewoners)))
		return false;
	if (r->vergunning == NULL)
		return true;
	v = xmlNewChild(root, NULL, (const xmlChar *)"vergunning", NULL);
	return v != NULL && add(v, "nummer", r->vergunning) &&
	       add(v, "geldig_tot", r->vergunning_tot);
}

static bool add_finding(xmlNodePtr root, const struct record *r)
{
	if (!add(root, "id", r->id) || !add(root, "datum", r->datum) ||
	    !add(root, "soort", r->soort) || (r->kvk != NULL && !add(root, "kvk", r->kvk)) ||
	    !add_address(root, &r->address) ||
	    !add_long(root, "aangetroffen_personen", r->aangetroffen))
		return false;
	for (size_t i = 0; i < r->nbsn; i++)
		if (!add(root, "bsn", r->bsns[i]))
			return false;
	return true;
}

/* A document with only the root element of a record of kind k. */
static xmlDocPtr new_record_doc(enum adapter_kind k, xmlDictPtr dict)
{
	static const char *const names[] = {
		[ADAPTER_PERSON] = "persoon",
		[ADAPTER_DWELLING] = "woning",
		[ADAPTER_FINDING] = "bevinding",
	};
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root;

	if (doc == NULL)
		return NULL;
	if (dict != NULL) {
		doc->dict = dict;
		xmlDictReference(dict);
	}
	root = xmlNewDocNode(doc, NULL, (const xmlChar *)names[k], NULL);
	if (root == NULL)
		goto out_free_doc;
	xmlDocSetRootElement(doc, root);
	xmlSetNs(root, xmlNewNs(root, (const xmlChar *)RECORDS_NS, NULL));
	if (root->ns != NULL && root->ns->href != NULL)	/* its strdup can fail alone */
		return doc;
out_free_doc:
	xmlFreeDoc(doc);
	return NULL;
}

xmlDocPtr record_to_xml(const struct record *r, xmlDictPtr dict)
{
	xmlDocPtr doc = new_record_doc(r->kind, dict);
	xmlNodePtr root;
	bool ok;

	if (doc == NULL)
		return NULL;
	root = xmlDocGetRootElement(doc);
	switch (r->kind) {
	case ADAPTER_PERSON:
		ok = add(root, "bsn", r->bsn) && add_address(root, &r->address) &&
		     add(root, "begindatumVerblijf", r->begindatum);
		break;
	case ADAPTER_DWELLING:
		ok = add_dwelling(root, r);
		break;
	default:
		ok = add_finding(root, r);
	}
	if (ok)
		return doc;
	xmlFreeDoc(doc);
	return NULL;
}

/*
 * A person's document, built once and filled in for each person: its text
 * nodes point at the record's own strings while it is validated, so that a
 * person (the bulk of every large input) costs no allocation here.  The
 * pointers are taken back before libxml2 could free them.
 */
enum person_field {
	PF_BSN, PF_GEMEENTE, PF_NAD, PF_POSTCODE, PF_HUISNUMMER, PF_LETTER, PF_TOEVOEGING,
	PF_BEGINDATUM, PF_COUNT
};

struct person_doc {
	xmlDocPtr doc;
	xmlNodePtr text[PF_COUNT];	/* the text node of each field */
	xmlNodePtr nad, gemeente;	/* nummeraanduiding, left out when empty */
	bool emptied;	/* the texts' own content freed: they point at ours */
	char huisnummer[16];
};

struct record_checker {
	struct xml_validator *v;
	struct person_doc person;
};

/* The text node of the element name under parent, made with empty text. */
static xmlNodePtr template_field(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n = xmlNewTextChild(parent, NULL, (const xmlChar *)name,
				       (const xmlChar *)"");

	return n != NULL ? n->children : NULL;
}

static bool person_doc_build(struct person_doc *p, xmlDictPtr dict)
{
	static const char *const names[PF_COUNT] = {
		"bsn", "gemeentecode", "nummeraanduiding", "postcode", "huisnummer",
		"huisletter", "huisnummertoevoeging", "begindatumVerblijf",
	};
	xmlNodePtr root, adres = NULL;

	p->doc = new_record_doc(ADAPTER_PERSON, dict);
	if (p->doc == NULL)
		return false;
	root = xmlDocGetRootElement(p->doc);
	for (int f = 0; f < PF_COUNT; f++) {
		if (f == PF_GEMEENTE) {	/* the fields after bsn are the address's */
			adres = xmlNewChild(root, NULL, (const xmlChar *)"adres", NULL);
			if (adres == NULL)
				return false;
		}
		p->text[f] = template_field(f == PF_BSN || f == PF_BEGINDATUM ? root : adres,
					    names[f]);
		if (p->text[f] == NULL)
			return false;
	}
	p->gemeente = p->text[PF_GEMEENTE]->parent;
	p->nad = p->text[PF_NAD]->parent;
	/* The empty text xmlNewTextChild made is ours to free, the
	 * record's strings are not: free it now, and never let libxml2 see
	 * a pointer of ours when it frees. */
	for (int f = 0; f < PF_COUNT; f++) {
		xmlFree(p->text[f]->content);
		p->text[f]->content = NULL;
	}
	p->emptied = true;
	return true;
}

static void person_doc_free(struct person_doc *p)
{
	if (p->doc == NULL)
		return;
	if (p->nad != NULL && p->nad->parent == NULL)	/* left out: put back */
		xmlAddNextSibling(p->gemeente, p->nad);
	/* Before it was emptied (a build that failed half-way) each text
	 * still holds libxml2's own string, which xmlFreeDoc() frees. */
	for (int f = 0; p->emptied && f < PF_COUNT; f++)
		if (p->text[f] != NULL)
			p->text[f]->content = NULL;
	xmlFreeDoc(p->doc);
	p->doc = NULL;
}

struct record_checker *record_checker_new(xmlSchemaPtr schema)
{
	struct record_checker *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->v = xml_validator_new(schema);
	if (c->v == NULL || !person_doc_build(&c->person, xml_validator_dict(c->v))) {
		record_checker_free(c);
		return NULL;
	}
	return c;
}

void record_checker_free(struct record_checker *c)
{
	if (c == NULL)
		return;
	person_doc_free(&c->person);
	xml_validator_free(c->v);
	free(c);
}

/* Points the person document at the strings of r. */
static void person_doc_fill(struct person_doc *p, const struct record *r)
{
	const char *values[PF_COUNT] = {
		r->bsn, r->address.gemeentecode, r->address.nummeraanduiding_id,
		r->address.postcode, p->huisnummer, r->address.huisletter,
		r->address.toevoeging, r->begindatum,
	};
	bool has_nad = r->address.nummeraanduiding_id[0] != '\0';

	snprintf(p->huisnummer, sizeof(p->huisnummer), "%d", r->address.huisnummer);
	for (int f = 0; f < PF_COUNT; f++)
		p->text[f]->content = (xmlChar *)values[f];
	if (has_nad && p->nad->parent == NULL)
		xmlAddNextSibling(p->gemeente, p->nad);
	else if (!has_nad && p->nad->parent != NULL)
		xmlUnlinkNode(p->nad);
}

static void person_doc_empty(struct person_doc *p)
{
	for (int f = 0; f < PF_COUNT; f++)
		p->text[f]->content = NULL;
}

enum status record_validate(struct record_checker *c, const struct record *r, bool *nomem,
			    struct errbuf *e)
{
	xmlDocPtr doc;
	enum status st;

	if (r->kind == ADAPTER_PERSON) {
		person_doc_fill(&c->person, r);
		st = xml_validate(c->v, c->person.doc, e);
		person_doc_empty(&c->person);
		*nomem = st != ST_OK && xml_validator_nomem(c->v);
		return st;
	}
	doc = record_to_xml(r, xml_validator_dict(c->v));
	*nomem = doc == NULL;
	if (doc == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	st = xml_validate(c->v, doc, e);
	*nomem = st != ST_OK && xml_validator_nomem(c->v);
	xmlFreeDoc(doc);
	return st;
}
