/*
 * ldv.h - processing records as the Logius standard "Logboek
 * Dataverwerkingen" (LDV) asks: one span per processing of personal data,
 * in the trace of its exchange (trace.h), with its processing activity
 * (dpl.core.processing_activity_id) and one child record per data subject
 * (dpl.core.data_subject_id, the keyed pseudonym, never the BSN).
 *
 * A span is written in the caller's open store transaction, beside the
 * exchange log entry of the same processing: if it cannot be written, the
 * transaction is rolled back and the processing does not happen.  Span
 * names, attributes and the register of activities: docs/formats.md,
 * "Processing records".  With [ldv] enabled = false, or on a connection
 * without a trace, every function here does nothing.
 */
#ifndef SCHAKEL_LDV_H
#define SCHAKEL_LDV_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "status.h"
#include "store.h"

/* The processing activities of the register (docs/formats.md). */
enum ldv_activity {
	LDV_RECEIVE,		/* an input received (file, upload, pulled page) */
	LDV_STORE,		/* its records pseudonymised, sealed and stored */
	LDV_MATCH,		/* a match run */
	LDV_SIGNAL,		/* a signal raised */
	LDV_DISCLOSURE,		/* a signal disclosed to a recipient */
	LDV_INZAGE,		/* an access request answered */
	LDV_ACTIVITY_COUNT,
};

#define LDV_BATCH 256	/* subjects held before they are written */
#define LDV_URI_MAX 512

/* A span being written; on the caller's stack, begun and ended in one
 * transaction. */
struct ldv {
	bool on;
	struct ldv_span_row row;
	char activity[LDV_URI_MAX];
	char object[96];
	char party[OIN_STR_LEN];
	long subjects;		/* written or held */
	bool written;		/* the span's row is in the store */
	size_t held;
	uint8_t hold[LDV_BATCH][PSEUDONYM_LEN];
};

/* The span name of an activity ("schakel.receive", ...). */
const char *ldv_span_name(enum ldv_activity a);

/* Its versioned URI in the register: REGISTER/NAME/vN, into out. */
void ldv_activity_uri(const struct config *cfg, enum ldv_activity a, char out[LDV_URI_MAX]);

/* The activity whose span name or URI is s, or LDV_ACTIVITY_COUNT. */
enum ldv_activity ldv_activity_find(const struct config *cfg, const char *s);

/*
 * Begins a span of activity a in the store's trace (store_trace()), the
 * child of parent (a span id, or NULL), about object, with party (the
 * supplier of an input, the recipient of a disclosure; or NULL), starting
 * now.  Its row is written when its first batch of subjects is, or at
 * ldv_end(); a span whose subjects fit one batch is then held by the
 * store and written with others in one insert (by the commit at the
 * latest), so a record costs a match little.  l->on is false when records
 * are off or there is no trace; then the other calls do nothing.
 */
enum status ldv_begin(struct store *s, const struct config *cfg, enum ldv_activity a,
		      const char *parent, const char *object, const char *party,
		      struct ldv *l, struct errbuf *e);

/* The same in trace (NULL or "": the store's). */
enum status ldv_begin_in(struct store *s, const struct config *cfg, const char *trace,
			 enum ldv_activity a, const char *parent, const char *object,
			 const char *party, struct ldv *l, struct errbuf *e);

/*
 * The processing record of a disclosure (disclose.h) of signal_id to
 * recipient, written after its log entry: in the signal's trace, with the
 * signal's data subjects.  Nothing when the signal is not found.
 */
enum status ldv_disclosure(struct store *s, const struct config *cfg, const char *signal_id,
			   const char *recipient, struct errbuf *e);

/* Adds a data subject; written in batches of LDV_BATCH. */
enum status ldv_subject(struct store *s, struct ldv *l, const uint8_t pseudonym[PSEUDONYM_LEN],
			struct errbuf *e);

/* The same with the pseudonym as 64 hex digits (what may follow them is
 * ignored); refused when they are not hex. */
enum status ldv_subject_hex(struct store *s, struct ldv *l, const char *hex, struct errbuf *e);

/* Adds the persons a stored finding names. */
enum status ldv_subjects_finding(struct store *s, struct ldv *l, const char *finding_id,
				 struct errbuf *e);

/*
 * Adds the data subjects of a signal: its person, the registrations in its
 * evidence and the persons its findings name.
 */
enum status ldv_signal_subjects(struct store *s, struct ldv *l, const struct signal *sig,
				struct errbuf *e);

/*
 * Ends the span: writes the held subjects, the end time, status (0 unset,
 * 2 error) and the exchange log entry just written (the log's head).
 */
enum status ldv_end(struct store *s, struct ldv *l, int status, struct errbuf *e);

/* dpl.core.data_subject_id_type of every subject: the keyed pseudonym of a BSN. */
#define LDV_SUBJECT_ID_TYPE "schakel-pseudoniem (HMAC-SHA256 van het BSN)"

/* Unix nanoseconds as UTC with milliseconds (2026-11-01T08:00:00.123Z). */
void ldv_time(int64_t ns, char out[32]);

/*
 * A span as a record of the LDV read side (docs/formats.md): the fields
 * of the Logboek interface, with subject_hex (or NULL) as its
 * dpl.core.data_subject_id.  A new reference, or NULL (out of memory).
 */
json_t *ldv_span_json(const struct ldv_span_row *r, const char *subject_hex);

/* The current time in Unix nanoseconds. */
int64_t ldv_now_ns(void);

#endif
