/*
 * feedback.h - a recipient's feedback on a signal (bevestigd, onterecht,
 * in_behandeling), the pipeline's part: stored and logged together.  The
 * API (api.c) reads and checks the request and calls this.
 */
#ifndef SCHAKEL_FEEDBACK_H
#define SCHAKEL_FEEDBACK_H

#include <stdint.h>

#include "store.h"

/*
 * Stores oin's feedback outcome (with note, "" for none) on signal_id and
 * its `feedback` log entry in one transaction on s; *fid is its number.
 * The caller has checked that the signal is routed to oin.
 */
enum status feedback_record(struct store *s, const char *signal_id, const char *oin,
			    const char *outcome, const char *note, int64_t *fid,
			    struct errbuf *e);

#endif
