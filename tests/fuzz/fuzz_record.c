/*
 * fuzz_record.c - libFuzzer target for the canonical record path:
 * record_normalise() (norm.c: addresses, BSNs, dates, numbers), then
 * record_validate() against schemas/schakel-records.xsd, as ingest.c runs
 * them on every record an adapter hands over.
 *
 * Input format (so that seeds stay readable): the first byte picks the kind
 * ('P' person, 'D' dwelling, 'F' finding, anything else: that byte as the
 * kind number); the rest is fields separated by '\n', taken in the order of
 * the struct: the six address fields, then the kind's fields; a finding's
 * fields after aangetroffen_personen are its BSNs.  A field that is exactly
 * "~" is absent (NULL); fields not given are absent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "norm.h"
#include "record.h"
#include "xml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 1100

static struct record_checker *records;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("SCHAKEL_SCHEMA_DIR");
	struct errbuf e;
	xmlSchemaPtr schema;

	(void)argc;
	(void)argv;
	xml_init();
	schema = xml_schema_load(dir != NULL && *dir ? dir : SCHAKEL_SCHEMA_DIR,
				 "schakel-records.xsd", &e);
	if (schema == NULL) {
		fprintf(stderr, "fuzz_record: %s\n", e.msg);
		exit(1);
	}
	records = record_checker_new(schema);
	if (records == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *f[MAXF];
	struct adapter_record in;
	struct record out;
	struct errbuf e;
	bool nomem;
	char *copy, *p;
	size_t n = 0;

	if (size == 0)
		return 0;
	/* A copy with a NUL after every field, so each is a C string of its own. */
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	for (p = copy; n < MAXF; p = p + strlen(p) + 1) {
		char *nl = memchr(p, '\n', (size_t)(copy + size - 1 - p));

		if (nl != NULL)
			*nl = '\0';
		f[n++] = strcmp(p, "~") == 0 ? NULL : p;
		if (nl == NULL)
			break;
	}
	for (size_t i = n; i < 12; i++)
		f[i] = NULL;

	memset(&in, 0, sizeof(in));
	in.kind = data[0] == 'P' ? ADAPTER_PERSON : data[0] == 'D' ? ADAPTER_DWELLING
		  : data[0] == 'F' ? ADAPTER_FINDING : (enum adapter_kind)data[0];
	in.place = "fuzz";
	in.address = (struct adapter_address){ f[0], f[1], f[2], f[3], f[4], f[5] };
	switch (in.kind) {
	case ADAPTER_PERSON:
		in.u.person = (struct adapter_person){ f[6], f[7] };
		break;
	case ADAPTER_DWELLING:
		in.u.dwelling = (struct adapter_dwelling){ f[6], f[7], f[8], f[9], f[10] };
		break;
	default:
		in.u.finding = (struct adapter_finding){ f[6], f[7], f[8], f[9], f[10],
			n > 11 ? f + 11 : NULL, n > 11 ? n - 11 : 0 };
	}
	if (record_normalise(&in, &out, &e) == ST_OK) {
		char key[ADDRESS_KEY_MAX], shown[ADDRESS_KEY_MAX];

		address_key(&out.address, key);
		address_display(&out.address, shown);
		if (out.kind == ADAPTER_PERSON) {
			char back[11];

			norm_date_from_days(norm_days(out.begindatum), back);
			if (strcmp(back, out.begindatum) != 0)
				abort();	/* days and dates must round-trip */
		}
		if (record_validate(records, &out, &nomem, &e) != ST_OK)
			(void)strlen(e.msg);
		record_clear(&out);
	} else {
		(void)strlen(e.msg);
	}
	free(copy);
	return 0;
}
