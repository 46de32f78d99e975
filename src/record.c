/*
 * record.c - normalising adapter records and their canonical XML
 * (see record.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		return errbuf_set(e, ST_FAIL, "soort '%.40s' is not huisvesting or werkplek",
				  f->soort ? f->soort : "");
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

xmlDocPtr record_to_xml(const struct record *r, xmlDictPtr dict)
{
	static const char *const names[] = {
		[ADAPTER_PERSON] = "persoon",
		[ADAPTER_DWELLING] = "woning",
		[ADAPTER_FINDING] = "bevinding",
	};
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr root;
	bool ok;

	if (doc == NULL)
		return NULL;
	if (dict != NULL) {
		doc->dict = dict;
		xmlDictReference(dict);
	}
	root = xmlNewDocNode(doc, NULL, (const xmlChar *)names[r->kind], NULL);
	if (root == NULL)
		goto out_free_doc;
	xmlDocSetRootElement(doc, root);
	xmlSetNs(root, xmlNewNs(root, (const xmlChar *)RECORDS_NS, NULL));
	if (root->ns == NULL)
		goto out_free_doc;
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
out_free_doc:
	xmlFreeDoc(doc);
	return NULL;
}

enum status record_validate(struct xml_validator *v, const struct record *r, bool *nomem,
			    struct errbuf *e)
{
	xmlDocPtr doc = record_to_xml(r, xml_validator_dict(v));
	enum status st;

	*nomem = doc == NULL;
	if (doc == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	st = xml_validate(v, doc, e);
	*nomem = st != ST_OK && xml_validator_nomem(v);
	xmlFreeDoc(doc);
	return st;
}
