/*
 * status.h - the one result type of schakel.
 *
 * Functions that can fail return an enum status and, where the caller needs
 * to know why, fill a caller-owned struct errbuf with one sentence a user can
 * act on.  Library error codes (sqlite3, libxml2, OpenSSL, ...) are turned
 * into a status and a message in the module that calls the library, once.
 * The values are the process exit codes of product.md.
 */
#ifndef SCHAKEL_STATUS_H
#define SCHAKEL_STATUS_H

enum status {
	ST_OK = 0,		/* success */
	ST_FAIL = 1,		/* failure; nothing was changed */
	ST_USAGE = 2,		/* the command line was wrong */
	ST_REJECTED = 3,	/* finished, but some records were rejected */
};

struct errbuf {
	char msg[1024];
};

/* Formats a message into e (which may be NULL) and returns st. */
enum status errbuf_set(struct errbuf *e, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
