/*
 * feedback.c - a recipient's feedback on a signal (see feedback.h).
 */
#include <jansson.h>

#include "exlog.h"
#include "feedback.h"

enum status feedback_record(struct store *s, const char *signal_id, const char *oin,
			    const char *outcome, const char *note, int64_t *fid,
			    struct errbuf *e)
{
	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (store_put_feedback(s, signal_id, oin, outcome, note, fid, e) != ST_OK ||
	    exlog_append(s, "feedback", oin, signal_id,
			 json_pack("{s:s, s:I}", "outcome", outcome, "feedback", (json_int_t)*fid),
			 e) != ST_OK ||
	    store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}
