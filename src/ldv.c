/*
 * ldv.c - processing records (see ldv.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "ldv.h"
#include "trace.h"

static const struct {
	const char *span;	/* the span name */
	const char *id;		/* the activity's name in the register */
	int version;
} activities[LDV_ACTIVITY_COUNT] = {
	[LDV_RECEIVE] = { "schakel.receive", "ontvangen", 1 },
	[LDV_STORE] = { "schakel.pseudonymise", "pseudonimiseren-opslaan", 1 },
	[LDV_MATCH] = { "schakel.match", "matchen", 1 },
	[LDV_SIGNAL] = { "schakel.signal", "signaleren", 1 },
	[LDV_DISCLOSURE] = { "schakel.disclose", "verstrekken", 1 },
	[LDV_INZAGE] = { "schakel.inzage", "inzage", 1 },
};

const char *ldv_span_name(enum ldv_activity a)
{
	return a < LDV_ACTIVITY_COUNT ? activities[a].span : "?";
}

/* Copies s (NULL: "") into out of n bytes, cut to fit; no printf (a
 * record is made for every signal of a match). */
static void copy_str(char *out, size_t n, const char *s)
{
	size_t len = s != NULL ? strnlen(s, n - 1) : 0;

	memcpy(out, s != NULL ? s : "", len);
	out[len] = '\0';
}

void ldv_activity_uri(const struct config *cfg, enum ldv_activity a, char out[LDV_URI_MAX])
{
	const char *reg = cfg->ldv_register != NULL ? cfg->ldv_register : "";
	size_t len = strlen(reg);
	char tail[64];
	int n;

	while (len > 0 && reg[len - 1] == '/')
		len--;
	n = snprintf(tail, sizeof(tail), "/%s/v%d", a < LDV_ACTIVITY_COUNT ? activities[a].id : "?",
		     a < LDV_ACTIVITY_COUNT ? activities[a].version : 0);
	if (len > LDV_URI_MAX - 1 - (size_t)n)
		len = LDV_URI_MAX - 1 - (size_t)n;
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the next copy ends it with tail's NUL */
	memcpy(out, reg, len);
	memcpy(out + len, tail, (size_t)n + 1);
}

enum ldv_activity ldv_activity_find(const struct config *cfg, const char *s)
{
	char uri[LDV_URI_MAX];

	for (int a = 0; a < LDV_ACTIVITY_COUNT; a++) {
		ldv_activity_uri(cfg, (enum ldv_activity)a, uri);
		if (strcmp(s, activities[a].span) == 0 || strcmp(s, uri) == 0 ||
		    strcmp(s, activities[a].id) == 0)
			return (enum ldv_activity)a;
	}
	return LDV_ACTIVITY_COUNT;
}

/*
 * A fresh span id: 8 random bytes as hex, not all zero, taken from a pool
 * that is refilled 4 KiB at a time (OpenSSL's RAND_bytes per span was a
 * tenth of the records' cost in a match).  Spans are made on one thread.
 */
static enum status span_id(char out[SPAN_ID_HEX + 1], struct errbuf *e)
{
	static uint8_t pool[4096];
	static size_t left;
	uint8_t *b;

	do {
		if (left < 8) {
			if (crypto_random(pool, sizeof(pool), e) != ST_OK)
				return ST_FAIL;
			left = sizeof(pool);
		}
		left -= 8;
		b = pool + left;
	} while (memcmp(b, "\0\0\0\0\0\0\0\0", 8) == 0);
	crypto_hex(b, 8, out);
	memset(b, 0, 8);	/* used once */
	return ST_OK;
}

int64_t ldv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

enum status ldv_begin(struct store *s, const struct config *cfg, enum ldv_activity a,
		      const char *parent, const char *object, const char *party,
		      struct ldv *l, struct errbuf *e)
{
	return ldv_begin_in(s, cfg, NULL, a, parent, object, party, l, e);
}

enum status ldv_begin_in(struct store *s, const struct config *cfg, const char *trace,
			 enum ldv_activity a, const char *parent, const char *object,
			 const char *party, struct ldv *l, struct errbuf *e)
{
	if (trace == NULL || trace[0] == '\0')
		trace = store_trace(s);

	l->on = false;
	l->subjects = 0;
	l->held = 0;
	if (!cfg->ldv_enabled || trace == NULL)
		return ST_OK;
	memset(&l->row, 0, sizeof(l->row));
	copy_str(l->row.trace_id, sizeof(l->row.trace_id), trace);
	if (span_id(l->row.span_id, e) != ST_OK)
		return ST_FAIL;
	copy_str(l->row.parent_span_id, sizeof(l->row.parent_span_id), parent);
	copy_str(l->object, sizeof(l->object), object);
	copy_str(l->party, sizeof(l->party), party);
	ldv_activity_uri(cfg, a, l->activity);
	l->row.name = activities[a].span;
	l->row.activity = l->activity;
	l->row.object = l->object;
	l->row.party = l->party;
	l->row.start_ns = l->row.end_ns = ldv_now_ns();
	l->written = false;
	l->on = true;
	return ST_OK;
}

/*
 * Writes the held subjects: with the span's row, inline, the first time
 * (its end is then updated at ldv_end()), else as a row of their own.
 */
static enum status flush(struct store *s, struct ldv *l, struct errbuf *e)
{
	long first = l->subjects - (long)l->held;

	if (!l->written) {
		l->row.subjects = l->subjects;
		l->row.pseudonyms = &l->hold[0][0];
		l->row.npseudonyms = l->held;
		if (store_ldv_span_add(s, &l->row, e) != ST_OK)
			return ST_FAIL;
		l->written = true;
	} else if (l->held > 0 &&
		   store_ldv_subjects_add(s, l->row.seq, first,
					  (const uint8_t (*)[PSEUDONYM_LEN])l->hold, l->held,
					  e) != ST_OK) {
		return ST_FAIL;
	}
	l->held = 0;
	return ST_OK;
}

enum status ldv_subject(struct store *s, struct ldv *l, const uint8_t pseudonym[PSEUDONYM_LEN],
			struct errbuf *e)
{
	if (!l->on)
		return ST_OK;
	memcpy(l->hold[l->held++], pseudonym, PSEUDONYM_LEN);
	l->subjects++;
	return l->held == LDV_BATCH ? flush(s, l, e) : ST_OK;
}

/* The value of a hex digit, or -1. */
static int hex_digit(unsigned char c)
{
	if ((unsigned)(c - '0') < 10u)
		return c - '0';
	c |= 0x20;	/* lower case */
	if ((unsigned)(c - 'a') < 6u)
		return c - 'a' + 10;
	return -1;
}

enum status ldv_subject_hex(struct store *s, struct ldv *l, const char *hex, struct errbuf *e)
{
	uint8_t p[PSEUDONYM_LEN];

	if (!l->on)
		return ST_OK;
	for (size_t i = 0; i < PSEUDONYM_LEN; i++) {
		int hi = hex_digit((unsigned char)hex[2 * i]);
		int lo = hi < 0 ? -1 : hex_digit((unsigned char)hex[2 * i + 1]);

		if (lo < 0)
			return errbuf_set(e, ST_FAIL, "processing record: a pseudonym is not hex");
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	return ldv_subject(s, l, p, e);
}

struct finding_walk {
	struct store *s;
	struct ldv *l;
	struct errbuf *e;
};

static int finding_person(void *arg, const uint8_t *pseudonym)
{
	struct finding_walk *w = arg;

	return ldv_subject(w->s, w->l, pseudonym, w->e) != ST_OK;
}

enum status ldv_subjects_finding(struct store *s, struct ldv *l, const char *finding_id,
				 struct errbuf *e)
{
	struct finding_walk w = { s, l, e };

	if (!l->on)
		return ST_OK;
	return store_finding_persons(s, finding_id, finding_person, &w, e);
}

enum status ldv_signal_subjects(struct store *s, struct ldv *l, const struct signal *sig,
				struct errbuf *e)
{
	if (!l->on)
		return ST_OK;
	if (sig->has_person && ldv_subject(s, l, sig->person, e) != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < sig->nevidence; i++) {
		const struct evidence *ev = &sig->evidence[i];

		if ((strcmp(ev->source, "brp") == 0 && ldv_subject_hex(s, l, ev->record, e) != ST_OK) ||
		    (strcmp(ev->source, "inspectie") == 0 &&
		     ldv_subjects_finding(s, l, ev->record, e) != ST_OK))
			return ST_FAIL;
	}
	return ST_OK;
}

struct disclosure_walk {
	struct store *s;
	const struct config *cfg;
	const char *recipient;
	struct errbuf *e;
	enum status st;
};

/* The disclosure's record, for the signal it found (valid during the call). */
static int disclosed(void *arg, const struct signal *sig)
{
	struct disclosure_walk *w = arg;
	struct ldv *l = malloc(sizeof(*l));	/* 8 KiB: not on the stack */

	if (l == NULL) {
		w->st = errbuf_set(w->e, ST_FAIL, "out of memory");
		return 1;
	}
	w->st = ldv_begin_in(w->s, w->cfg, sig->trace_id, LDV_DISCLOSURE, NULL, sig->id,
			     w->recipient, l, w->e);
	if (w->st == ST_OK)
		w->st = ldv_signal_subjects(w->s, l, sig, w->e);
	if (w->st == ST_OK)
		w->st = ldv_end(w->s, l, 0, w->e);
	free(l);
	return w->st != ST_OK;
}

enum status ldv_disclosure(struct store *s, const struct config *cfg, const char *signal_id,
			   const char *recipient, struct errbuf *e)
{
	struct signal_filter f = { .id = signal_id };
	struct disclosure_walk w = { s, cfg, recipient, e, ST_OK };

	if (!cfg->ldv_enabled)
		return ST_OK;
	if (store_signals(s, &f, disclosed, &w, e) != ST_OK)
		return w.st != ST_OK ? w.st : ST_FAIL;
	return ST_OK;
}

enum status ldv_end(struct store *s, struct ldv *l, int status, struct errbuf *e)
{
	int64_t head;
	char hash[65];

	if (!l->on)
		return ST_OK;
	if (store_log_head(s, &head, hash, e) != ST_OK)
		return ST_FAIL;
	l->on = false;
	if (!l->written) {	/* complete: written with others, by the commit at the latest */
		l->row.end_ns = ldv_now_ns();
		l->row.status = status;
		l->row.exlog_seq = head;
		l->row.subjects = l->subjects;
		l->row.pseudonyms = &l->hold[0][0];
		l->row.npseudonyms = l->held;
		return store_ldv_span_defer(s, &l->row, e);
	}
	if (flush(s, l, e) != ST_OK ||
	    store_ldv_span_end(s, l->row.seq, ldv_now_ns(), status, head, l->subjects, e) != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

void ldv_time(int64_t ns, char out[32])
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char ms[8];

	gmtime_r(&sec, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ms, sizeof(ms), ".%03dZ", (int)(ns / 1000000 % 1000));
	strncat(out, ms, 8);
}

static const char *status_name(int status)
{
	return status == 1 ? "STATUS_CODE_OK" : status == 2 ? "STATUS_CODE_ERROR"
							    : "STATUS_CODE_UNSET";
}

json_t *ldv_span_json(const struct ldv_span_row *r, const char *subject_hex)
{
	char start[32], end[32];
	json_t *attrs = json_pack("{s:s}", "dpl.core.processing_activity_id", r->activity);

	if (attrs != NULL && subject_hex != NULL) {
		json_object_set_new(attrs, "dpl.core.data_subject_id", json_string(subject_hex));
		json_object_set_new(attrs, "dpl.core.data_subject_id_type",
				    json_string(LDV_SUBJECT_ID_TYPE));
	}
	ldv_time(r->start_ns, start);
	ldv_time(r->end_ns, end);
	return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:o, s:{s:s?, s:s?, s:I, s:I}}",
			 "trace_id", r->trace_id, "span_id", r->span_id, "parent_span_id",
			 r->parent_span_id[0] ? r->parent_span_id : NULL, "name", r->name,
			 "status_code", status_name(r->status), "start_time", start, "end_time", end,
			 "attributes", attrs, "schakel", "object", r->object, "party", r->party,
			 "subjects", (json_int_t)r->subjects, "exchange_log_entry",
			 (json_int_t)r->exlog_seq);
}
