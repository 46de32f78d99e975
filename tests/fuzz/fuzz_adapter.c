/*
 * fuzz_adapter.c - libFuzzer target for one source adapter's parser.
 *
 * Built once per adapter by tests/fuzz/run.sh, linked with that adapter's
 * sources (so `schakel_adapter` is the adapter under test, no loader) and
 * with the real normaliser and validators: every record the adapter hands
 * over goes through record_normalise() and record_validate() against
 * schemas/schakel-records.xsd, as ingest.c does, and an adapter with a
 * source schema (brp) gets the real compiled profile from schemas/.
 *
 * The input is fed whole, in three chunks whose boundaries are taken from
 * the data itself (its first and last bytes), so the fuzzer explores where
 * a stream is split as well as what it holds.  One input in sixteen makes
 * record() ask the adapter to stop after its first record (ADAPTER_ABORT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "record.h"
#include "xml.h"

extern const struct adapter schakel_adapter;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static xmlSchemaPtr source_schema, records_schema;
static struct record_checker *records;

struct run {
	unsigned records, rejects, stop_after;
};

static const char *schema_dir(void)
{
	const char *d = getenv("SCHAKEL_SCHEMA_DIR");

	return d != NULL && *d != '\0' ? d : SCHAKEL_SCHEMA_DIR;
}

static xmlSchemaPtr load(const char *name)
{
	struct errbuf e;
	xmlSchemaPtr s = xml_schema_load(schema_dir(), name, &e);

	if (s == NULL) {
		fprintf(stderr, "fuzz_adapter: %s\n", e.msg);
		exit(1);
	}
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xml_init();
	if (schakel_adapter.source_schema != NULL)
		source_schema = load(schakel_adapter.source_schema);
	records_schema = load("schakel-records.xsd");
	records = record_checker_new(records_schema);
	if (records == NULL)
		abort();
	return 0;
}

/* Touches every byte of s, so ASan sees a bad pointer or a missing NUL. */
static size_t touch(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static int on_record(void *ctx, const struct adapter_record *rec)
{
	struct run *r = ctx;
	struct record out;
	struct errbuf e;
	bool nomem;

	touch(rec->place);
	if (record_normalise(rec, &out, &e) == ST_OK) {
		(void)record_validate(records, &out, &nomem, &e);
		record_clear(&out);
	}
	touch(e.msg);
	r->records++;
	return r->stop_after != 0 && r->records >= r->stop_after ? -1 : 0;
}

static void on_reject(void *ctx, const char *place, const char *reason)
{
	struct run *r = ctx;

	touch(place);
	touch(reason);
	r->rejects++;
}

/* Out of memory (the fuzzer's limit): stop, as the host does. */
static int on_nomem(void *ctx, const char *place)
{
	(void)ctx;
	touch(place);
	return -1;
}

static void on_cursor(void *ctx, const char *next)
{
	(void)ctx;
	touch(next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0, 0, 0 };
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.ctx = &r,
		.record = on_record,
		.reject = on_reject,
		.nomem = on_nomem,
		.cursor = on_cursor,
		.source_schema = source_schema,
		.max_field_bytes = 4096,
		.max_depth = 64,
	};
	const char *buf = (const char *)data;
	size_t cut[4] = { 0, 0, 0, size };
	int rc = ADAPTER_OK;
	void *s;

	if (size > 0) {
		cut[1] = (data[0] * 7u + data[size - 1]) % (size + 1);
		cut[2] = cut[1] + (data[size - 1] * 13u) % (size - cut[1] + 1);
		if ((data[0] ^ data[size - 1]) % 16 == 0)
			r.stop_after = 1;
	}
	s = schakel_adapter.open(&host);
	if (s == NULL)
		return 0;
	for (int i = 0; i < 3 && rc == ADAPTER_OK; i++)
		rc = schakel_adapter.feed(s, buf + cut[i], cut[i + 1] - cut[i]);
	if (rc == ADAPTER_OK)
		rc = schakel_adapter.finish(s);
	if (rc == ADAPTER_REFUSED)
		touch(schakel_adapter.error(s));
	schakel_adapter.close(s);
	return 0;
}
