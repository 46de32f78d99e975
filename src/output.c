/*
 * output.c - signals as table, JSON and XML (see output.h).
 */
#include <stdlib.h>
#include <string.h>

#include "esc.h"
#include "output.h"

static json_t *json_long_or_null(long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static json_t *address_json(const struct address *a)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?}", "gemeentecode", a->gemeentecode,
			 "postcode", a->postcode, "huisnummer", a->huisnummer,
			 "huisletter", a->huisletter, "huisnummertoevoeging", a->toevoeging,
			 "nummeraanduiding_id",
			 a->nummeraanduiding_id[0] ? a->nummeraanduiding_id : NULL);
}

json_t *output_signal_json(const struct signal *sig)
{
	json_t *o, *to = json_array(), *ev = json_array();

	for (size_t i = 0; to != NULL && i < sig->nrecipients; i++)
		json_array_append_new(to, json_string(sig->recipients[i]));
	for (size_t i = 0; ev != NULL && i < sig->nevidence; i++)
		json_array_append_new(ev, json_pack("{s:s, s:s}", "source",
						    sig->evidence[i].source, "record",
						    sig->evidence[i].record));
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		      "id", sig->id, "rule", sig->rule, "as_of", sig->as_of,
		      "address", address_json(&sig->address),
		      "registered", json_long_or_null(sig->registered),
		      "observed", json_long_or_null(sig->observed),
		      "oppervlakte_m2", json_long_or_null(sig->oppervlakte),
		      "max_bewoners", json_long_or_null(sig->max_bewoners),
		      "recipients", to, "evidence", ev);
	if (o != NULL && json_object_set_new(o, "ended_on", sig->ended_on[0] != '\0'
						 ? json_string(sig->ended_on) : json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	if (o != NULL && sig->has_person) {
		char hex[2 * PSEUDONYM_LEN + 1];

		crypto_hex(sig->person, PSEUDONYM_LEN, hex);
		if (json_object_set_new(o, "person", json_string(hex)) != 0 ||
		    json_object_set_new(o, "registered_address",
					address_json(&sig->registered_address)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * Writes <name>text</name>.  Text that XML 1.0 cannot carry (most C0
 * characters, bytes that are not UTF-8), and any other control character,
 * is not emitted: it is replaced by its escaped form (esc_text(): ESC as
 * the four characters \x1b), so that the document stays well-formed.  The
 * records stored today cannot have them (schakel-records.xsd); older ones
 * might.
 */
static int el(xmlTextWriterPtr w, const char *name, const char *text)
{
	char *safe = esc_needed(text) ? esc_dup(text) : NULL;
	int rc;

	if (safe == NULL && esc_needed(text))
		return -1;
	rc = xmlTextWriterWriteElement(w, (const xmlChar *)name,
				       (const xmlChar *)(safe != NULL ? safe : text));
	free(safe);
	return rc < 0 ? -1 : 0;
}

static int el_long(xmlTextWriterPtr w, const char *name, long v)
{
	if (v >= 0)
		return xmlTextWriterWriteFormatElement(w, (const xmlChar *)name, "%ld", v) < 0
			? -1 : 0;
	if (xmlTextWriterStartElement(w, (const xmlChar *)name) < 0 ||
	    xmlTextWriterWriteAttributeNS(w, (const xmlChar *)"xsi", (const xmlChar *)"nil",
					  (const xmlChar *)"http://www.w3.org/2001/XMLSchema-instance",
					  (const xmlChar *)"true") < 0 ||
	    xmlTextWriterEndElement(w) < 0)
		return -1;
	return 0;
}

static int address_xml(xmlTextWriterPtr w, const char *name, const struct address *a)
{
	if (xmlTextWriterStartElement(w, (const xmlChar *)name) < 0 ||
	    el(w, "gemeentecode", a->gemeentecode) || el(w, "postcode", a->postcode) ||
	    el_long(w, "huisnummer", a->huisnummer) || el(w, "huisletter", a->huisletter) ||
	    el(w, "huisnummertoevoeging", a->toevoeging))
		return -1;
	if (a->nummeraanduiding_id[0] != '\0') {
		if (el(w, "nummeraanduiding_id", a->nummeraanduiding_id))
			return -1;
	} else if (el_long(w, "nummeraanduiding_id", -1)) {
		return -1;
	}
	return xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

static int lists_xml(xmlTextWriterPtr w, const struct signal *sig)
{
	if (xmlTextWriterStartElement(w, (const xmlChar *)"recipients") < 0)
		return -1;
	for (size_t i = 0; i < sig->nrecipients; i++)
		if (el(w, "recipient", sig->recipients[i]))
			return -1;
	if (xmlTextWriterEndElement(w) < 0 ||
	    xmlTextWriterStartElement(w, (const xmlChar *)"evidence") < 0)
		return -1;
	for (size_t i = 0; i < sig->nevidence; i++)
		if (xmlTextWriterStartElement(w, (const xmlChar *)"item") < 0 ||
		    el(w, "source", sig->evidence[i].source) ||
		    el(w, "record", sig->evidence[i].record) || xmlTextWriterEndElement(w) < 0)
			return -1;
	return xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

int output_signal_xml(xmlTextWriterPtr w, const struct signal *sig, int declare_ns,
		      const char *bsn)
{
	int rc = declare_ns
		? xmlTextWriterStartElementNS(w, NULL, (const xmlChar *)"signaal",
					      (const xmlChar *)SIGNAL_NS)
		: xmlTextWriterStartElement(w, (const xmlChar *)"signaal");

	if (rc < 0 || el(w, "id", sig->id) || el(w, "rule", sig->rule) ||
	    el(w, "as_of", sig->as_of) ||
	    (sig->ended_on[0] != '\0' && el(w, "ended_on", sig->ended_on)) ||
	    address_xml(w, "address", &sig->address) ||
	    el_long(w, "registered", sig->registered) || el_long(w, "observed", sig->observed) ||
	    el_long(w, "oppervlakte_m2", sig->oppervlakte) ||
	    el_long(w, "max_bewoners", sig->max_bewoners))
		return -1;
	if (sig->has_person) {
		char hex[2 * PSEUDONYM_LEN + 1];

		crypto_hex(sig->person, PSEUDONYM_LEN, hex);
		if (el(w, "person", hex) || (bsn != NULL && el(w, "bsn", bsn)) ||
		    address_xml(w, "registered_address", &sig->registered_address))
			return -1;
	}
	if (lists_xml(w, sig))
		return -1;
	return xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

void output_signal_reason(const struct config *cfg, const struct signal *sig, char *out,
			  size_t n)
{
	char b[ADDRESS_KEY_MAX];
	long persons = sig->registered > sig->observed ? sig->registered : sig->observed;
	const char *who = sig->observed >= sig->registered ? "found (inspectie)"
							    : "registered (BRP)";

	if (strcmp(sig->rule, "OVERBEWONING") == 0) {
		if (sig->oppervlakte >= 0 && persons > sig->oppervlakte / cfg->m2_per_person)
			snprintf(out, n, "%ld persons %s on %ld m2: at most %ld", persons, who,
				 sig->oppervlakte, sig->oppervlakte / cfg->m2_per_person);
		else
			snprintf(out, n, "%ld persons %s, permit maximum %ld", persons, who,
				 sig->max_bewoners);
	} else if (strcmp(sig->rule, "ONDERREGISTRATIE") == 0) {
		snprintf(out, n, "%ld found, %ld registered", sig->observed, sig->registered);
	} else if (strcmp(sig->rule, "ADRES_AFWIJKING") == 0) {
		address_display(&sig->registered_address, b);
		snprintf(out, n, "person found there is registered at %s (%s)", b,
			 sig->registered_address.gemeentecode);
	} else {
		snprintf(out, n, "%ld found in %s, no valid landlord permit", sig->observed,
			 sig->address.gemeentecode);
	}
}

void output_table_header(FILE *f)
{
	fprintf(f, "%-18s %-12s %-4s %5s %5s  %s\n", "RULE", "ADDRESS", "GEM", "REG", "OBS",
		"WHY");
}

void output_table_row(FILE *f, const struct config *cfg, const struct signal *sig)
{
	char where[ADDRESS_KEY_MAX], why[256];

	address_display(&sig->address, where);
	output_signal_reason(cfg, sig, why, sizeof(why));
	/* an ended signal says so first: "ended 2026-11-02: ..." */
	esc_line(f, "%-18s %-12s %-4s %5ld %5ld  %s%s%s%s", sig->rule, where,
		 sig->address.gemeentecode, sig->registered, sig->observed,
		 sig->ended_on[0] != '\0' ? "ended " : "", sig->ended_on,
		 sig->ended_on[0] != '\0' ? ": " : "", why);
}
