/*
 * ingest.h - the ingest pipeline: adapter -> normalise -> validate
 * (canonical XSD) -> pseudonymise and encrypt -> store, with the exchange
 * log, one transaction per input.
 *
 * Every way data comes in (a file, an upload, a download) lands in a file
 * first, read here in chunks: parsing runs on a thread of its own while
 * the caller's thread stores (see ingest.c).  A refused input (not
 * well-formed, wrong envelope, over a limit) leaves nothing of itself in
 * the store, only a log entry saying why.
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
	/* Parse and store on the caller's thread only (tests; one core). */
	bool one_thread;
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

/*
 * Reads a whole file (or stdin for "-") with adapter la.  Returns ST_OK,
 * ST_REJECTED (some records rejected, the rest stored) or ST_FAIL (nothing
 * stored; res->refused tells whether the input was refused or the broker
 * failed, e why).
 */
enum status ingest_file(struct app *app, struct loaded_adapter *la, const char *path,
			const struct ingest_opts *opts, struct ingest_result *res,
			struct errbuf *e);

/*
 * The same from the open file fd, read from where it stands to its end
 * (not closed); name is what errors call it.
 */
enum status ingest_fd(struct app *app, struct loaded_adapter *la, int fd, const char *name,
		      const struct ingest_opts *opts, struct ingest_result *res,
		      struct errbuf *e);

#endif
