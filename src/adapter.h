/*
 * adapter.h - the one interface between schakel and a source adapter.
 *
 * An adapter turns the bytes of one source format into records and hands
 * them to the host through a callback.  It knows nothing of the store, the
 * network or the keys: it is fed bytes (from a file, an upload or a pull,
 * in chunks of any size) and calls back.  It must parse as a stream: its
 * memory may not grow with the size of the input.
 *
 * Every adapter is a shared object in adapters/<name>/ that exports one
 * symbol, `schakel_adapter`, a `const struct adapter` filled in by field
 * name.  The loader refuses an adapter whose abi_version differs from
 * ADAPTER_ABI_VERSION.  Bump ADAPTER_ABI_VERSION on any change to a struct
 * in this file.
 *
 * Field values are passed as text exactly as the source gave them (with the
 * one exception of dates, see below); the host normalises and validates
 * them, so every adapter gets the same rules for addresses, BSNs and dates.
 * A NULL pointer means "absent"; "" means "present but empty".  Pointers are
 * valid only during the record() call.
 */
#ifndef SCHAKEL_ADAPTER_H
#define SCHAKEL_ADAPTER_H

#include <stddef.h>

#define ADAPTER_ABI_VERSION 4

/* The kinds of canonical record a source can produce. */
enum adapter_kind {
	ADAPTER_PERSON = 1,	/* a BRP registration (brp) */
	ADAPTER_DWELLING = 2,	/* a dwelling in a housing register (huisvesting) */
	ADAPTER_FINDING = 3,	/* an inspection finding (inspectie) */
	ADAPTER_PERSON_WITHDRAWN = 4,	/* a BRP registration to remove (brp: a
					 * verwijdering in a notification); its
					 * fields are a person's */
};

struct adapter_address {
	const char *gemeentecode;
	const char *nummeraanduiding_id;
	const char *postcode;
	const char *huisnummer;
	const char *huisletter;
	const char *huisnummertoevoeging;
};

struct adapter_person {
	const char *bsn;
	const char *begindatum;	/* YYYY-MM-DD (the adapter rewrites yyyymmdd) */
};

struct adapter_dwelling {
	const char *oppervlakte_m2;
	const char *gebruiksdoel;
	const char *max_bewoners;
	const char *vergunning_nummer;
	const char *vergunning_geldig_tot;	/* YYYY-MM-DD */
};

struct adapter_finding {
	const char *id;
	const char *datum;		/* YYYY-MM-DD */
	const char *soort;		/* "huisvesting" or "werkplek" */
	const char *kvk;
	const char *aangetroffen_personen;
	const char *const *bsns;	/* the BSNs of `personen`, nbsn of them */
	size_t nbsn;
};

struct adapter_record {
	enum adapter_kind kind;
	const char *place;		/* where in the input: "line 12", "record 3" */
	struct adapter_address address;
	union {
		struct adapter_person person;	/* ADAPTER_PERSON and _WITHDRAWN */
		struct adapter_dwelling dwelling;
		struct adapter_finding finding;
	} u;
};

/*
 * What the host gives an adapter when it opens a stream.
 *
 * record() is called once per record that the adapter could read; it
 * returns 0 to go on, or -1 when the host wants the parse to stop (the
 * adapter then returns ADAPTER_ABORT from feed() or finish()).
 * reject() reports a record the adapter itself could not read (a missing
 * required element, a schema error inside one record); the parse goes on.
 * It is for faults of the input only.
 * nomem() reports that the adapter, or a library it uses, could not
 * allocate memory while reading the record at place (NULL: outside any
 * record).  That is never the record's fault, so it must never become a
 * reject(), nor a refusal of the input: the host fails the whole input
 * (nothing of it is stored; `schakel ingest` exits 1 with "out of memory")
 * and returns -1, and the adapter stops and returns ADAPTER_NOMEM from
 * feed() or finish().  Where a library reports an error that may have been
 * caused by a failed allocation (libxml2's internal errors, an error
 * without a message), the adapter reports nomem() too: a broker failure
 * that is retried beats a good record rejected.  An adapter may also just
 * return ADAPTER_NOMEM without calling nomem(); the host treats both alike.
 * cursor(), when not NULL, is called by a paged source's adapter at the
 * end of a page that was read whole, with where the next page starts (the
 * inspectorate's "volgende"; NULL on the last page).
 * source_schema is the compiled schema named by the adapter's descriptor
 * (an xmlSchemaPtr for XML adapters), or NULL.  max_field_bytes,
 * max_depth and max_attributes are [ingest]'s limits (0: none).
 */
struct adapter_host {
	unsigned abi_version;
	void *ctx;
	int (*record)(void *ctx, const struct adapter_record *rec);
	void (*reject)(void *ctx, const char *place, const char *reason);
	int (*nomem)(void *ctx, const char *place);	/* since ABI 3 */
	void (*cursor)(void *ctx, const char *next);
	void *source_schema;
	size_t max_field_bytes;		/* longest value or line accepted */
	size_t max_depth;		/* deepest nesting accepted */
	size_t max_attributes;		/* since ABI 4: most attributes (namespace
					 * declarations too) on one element; 0: none */
};

/* Results of feed() and finish(). */
enum adapter_rc {
	ADAPTER_OK = 0,
	ADAPTER_REFUSED = -1,	/* the input as a whole is refused; see error() */
	ADAPTER_ABORT = -2,	/* the host's record() asked to stop */
	ADAPTER_NOMEM = -3,	/* out of memory (see nomem() above): the input fails */
};

struct adapter {
	unsigned abi_version;		/* ADAPTER_ABI_VERSION */
	const char *name;		/* "brp": the name used on the command line */
	const char *version;		/* the adapter's own version */
	const char *description;	/* one line for `schakel --help` */
	const char *source_schema;	/* file in schemas/ to validate input with, or NULL */

	/* Starts one stream.  Returns NULL when out of memory. */
	void *(*open)(const struct adapter_host *host);
	/* Parses the next len bytes.  Returns an adapter_rc. */
	int (*feed)(void *stream, const char *buf, size_t len);
	/* Ends the input; flushes the last record.  Returns an adapter_rc. */
	int (*finish)(void *stream);
	/* Why the input was refused, naming the place; valid until close(). */
	const char *(*error)(void *stream);
	/* Frees the stream; accepts NULL. */
	void (*close)(void *stream);
};

/* The one symbol each adapter module exports. */
#define ADAPTER_SYMBOL "schakel_adapter"

#endif
