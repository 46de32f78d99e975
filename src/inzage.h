/*
 * inzage.h - a person's access request (AVG article 15), the pipeline's
 * part: the request is pseudonymised and logged before anything is read,
 * then the exchanges and the processing records concerning the person are
 * read.  The command line (main.c) prints them.
 */
#ifndef SCHAKEL_INZAGE_H
#define SCHAKEL_INZAGE_H

#include "app.h"

/*
 * Pseudonymises bsn (nine digits, norm_bsn()) into pseudonym and logs the
 * request: an `inzage` entry naming the pseudonym only, with its
 * processing record, in one transaction.
 */
enum status inzage_request(struct app *app, const char *bsn,
			   uint8_t pseudonym[PSEUDONYM_LEN], struct errbuf *e);

/* Calls cb for every exchange that concerned the person. */
enum status inzage_exchanges(struct app *app, const uint8_t pseudonym[PSEUDONYM_LEN],
			     int (*cb)(void *arg, const struct inzage_row *r), void *arg,
			     struct errbuf *e);

/*
 * Calls cb for every processing record of the person, only those of
 * activity (a processing activity URI) and of trace when not NULL.
 */
enum status inzage_processings(struct app *app, const uint8_t pseudonym[PSEUDONYM_LEN],
			       const char *activity, const char *trace,
			       int (*cb)(void *arg, const struct ldv_span_row *r), void *arg,
			       struct errbuf *e);

#endif
