/*
 * ingest.h - the ingest pipeline: adapter -> normalise -> validate
 * (canonical XSD) -> pseudonymise and encrypt -> store, with the exchange
 * log, one transaction per input.
 *
 * Bytes arrive through ingest_feed() in chunks of any size (a file, an
 * upload, a download), so the same path serves every way data comes in.
 * A refused input (not well-formed, wrong envelope, over a limit) leaves
 * nothing of itself in the store, only a log entry saying why.
 */
#ifndef SCHAKEL_INGEST_H
#define SCHAKEL_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "config.h"
#include "loader.h"
#include "status.h"

struct ingest_opts {
	const char *origin;		/* file name, "upload 12", source name */
	const char *log_kind;		/* the log entry's kind: "ingest" (NULL) or "upload" */
	const char *party;		/* OIN of the supplier, or NULL (local) */
	/* When non-empty, records for other gemeenten are rejected one by one. */
	const struct strlist *gemeenten;
	/* Called for each rejected record (place, reason); may be NULL. */
	void (*on_reject)(void *arg, const char *place, const char *reason);
	/*
	 * Called inside the input's transaction just before it commits, with
	 * the cursor a paged source reported (cursor_seen false when none;
	 * cursor NULL on the last page); ST_FAIL undoes the whole input.
	 * May be NULL.
	 */
	enum status (*before_commit)(void *arg, struct store *s, bool cursor_seen,
				     const char *cursor, struct errbuf *e);
	/* Called now and then on long inputs (bytes read so far); may be NULL. */
	void (*on_progress)(void *arg, uint64_t bytes, long records);
	void *arg;
};

struct ingest_result {
	long accepted;		/* records stored or already there */
	long changed;		/* of those, records that were new or changed */
	long rejected;
	uint64_t bytes;
	char digest[65];	/* SHA-256 of the input, hex */
	int64_t ingest_id;
	bool refused;		/* the input as a whole was refused */
};

struct ingest;

/* Starts an ingest with a loaded adapter.  Returns NULL with e set. */
struct ingest *ingest_begin(struct app *app, struct loaded_adapter *la,
			    const struct ingest_opts *opts, struct errbuf *e);

/* Feeds len bytes.  ST_FAIL: refused or failed (see ingest_end). */
enum status ingest_feed(struct ingest *in, const void *buf, size_t len, struct errbuf *e);

/*
 * Ends the input, commits and frees in.  Returns ST_OK, ST_REJECTED (some
 * records rejected, the rest stored) or ST_FAIL (nothing stored; res->refused
 * tells whether the input was refused or the broker failed).
 */
enum status ingest_end(struct ingest *in, struct ingest_result *res, struct errbuf *e);

/* Reads a whole file (or stdin for "-") through ingest_*. */
enum status ingest_file(struct app *app, struct loaded_adapter *la, const char *path,
			const struct ingest_opts *opts, struct ingest_result *res,
			struct errbuf *e);

#endif
