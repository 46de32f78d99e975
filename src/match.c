/*
 * match.c - the matching rules (see match.h and matching.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exlog.h"
#include "ldv.h"
#include "log.h"
#include "match.h"
#include "match_scan.h"
#include "route.h"
#include "trace.h"

/* A signal open before the run, and whether the run found it to hold. */
struct open_signal {
	char id[33];
	bool held;
	int64_t seq;
};

/* The signals open before the run (at the addresses it looks at), by id. */
struct open_set {
	struct open_signal *v;
	size_t n, cap;
};

struct run {
	struct app *app;
	const struct config *cfg;
	const char *as_of;
	char created[21];
	struct match_result *res;
	void (*on_new)(void *arg, const struct signal *sig);
	void *arg;
	struct errbuf *e;
	struct open_set open;
	struct ldv *ldv;	/* the run's processing record */
	struct match_scan *scan;	/* the rows it reads, during apply_rules() */
};

/* A signal that holds again after it ended is raised anew under the id of
 * its facts and "again|N": at most this many times. */
#define MAX_AGAIN 1000

void match_today(char out[11])
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * Text put together by hand: a signal's id and its log entry are made for
 * every signal of a run, and snprintf() was 3 % of a first match of 10^6
 * registrations.  Big enough for what is put into it here (a rule, an
 * address key, a pseudonym in hex, four numbers; or one piece of
 * evidence; or a log entry's detail with a few recipients); `over` says
 * it was not.
 */
struct text {
	char buf[512];
	size_t len;
	bool over;
};

/* Appends s; too long for what is left, nothing is put and `over` set. */
static void text_put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof(t->buf) - t->len) {
		t->over = true;
		return;
	}
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
}

/* Appends v in decimal, as "%ld" would. */
static void text_long(struct text *t, long v)
{
	char digits[24], *d = digits + sizeof(digits);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	*--d = '\0';
	do
		*--d = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (v < 0)
		*--d = '-';
	text_put(t, d);
}

/* The signal's id: a digest of everything it rests on.  The bytes
 * digested are those of "%s|%s|%s|%ld|%ld|%ld|%ld" and "\n%s|%s" per piece
 * of evidence, as ever: ids do not change between versions. */
static void signal_id(struct signal *sig, unsigned again)
{
	char key[ADDRESS_KEY_MAX], person[2 * PSEUDONYM_LEN + 1] = "";
	struct sha256 *h = crypto_sha256_new();
	struct text t = { .len = 0 };
	char hex[65];
	const long nums[] = { sig->registered, sig->observed, sig->oppervlakte, sig->max_bewoners };

	/* the longest line fits (a rule, a key, a pseudonym, four numbers and
	 * six '|'; or '\n', a piece of evidence and '|'): `over` cannot be */
	_Static_assert(sizeof(sig->rule) + ADDRESS_KEY_MAX + 2 * (size_t)PSEUDONYM_LEN +
		       4 * (size_t)21 + 6 < sizeof(t.buf), "a signal's line fits");
	_Static_assert(sizeof(sig->evidence[0].source) + sizeof(sig->evidence[0].record) + 2 <
		       sizeof(t.buf), "a piece of evidence fits");

	if (h == NULL) {
		snprintf(sig->id, sizeof(sig->id), "%s", "out-of-memory");
		return;
	}
	address_key(&sig->address, key);
	if (sig->has_person)
		crypto_hex(sig->person, PSEUDONYM_LEN, person);
	text_put(&t, sig->rule);
	text_put(&t, "|");
	text_put(&t, key);
	text_put(&t, "|");
	text_put(&t, person);
	for (size_t i = 0; i < 4; i++) {
		text_put(&t, "|");
		text_long(&t, nums[i]);
	}
	crypto_sha256_update(h, t.buf, t.len);
	for (size_t i = 0; i < sig->nevidence; i++) {
		t.len = 0;
		text_put(&t, "\n");
		text_put(&t, sig->evidence[i].source);
		text_put(&t, "|");
		text_put(&t, sig->evidence[i].record);
		crypto_sha256_update(h, t.buf, t.len);
	}
	if (again > 0) {	/* it held before, and ended */
		t.len = 0;
		text_put(&t, "\nagain|");
		text_long(&t, (long)again);
		crypto_sha256_update(h, t.buf, t.len);
	}
	crypto_sha256_final(h, hex);
	memcpy(sig->id, hex, 32);
	sig->id[32] = '\0';
}

/* Queues a delivery of sig to each recipient that has a push endpoint;
 * again: once more (it ended), under a new message id. */
static int queue_deliveries(struct run *run, const struct signal *sig, bool again)
{
	for (size_t i = 0; i < sig->nrecipients; i++) {
		const struct party *p = config_party(run->cfg, sig->recipients[i]);
		uint8_t id[16];
		char msgid[48], hex[33];

		if (p == NULL || p->push_url == NULL)
			continue;
		if (crypto_random(id, sizeof(id), run->e) != ST_OK)
			return -1;
		crypto_hex(id, sizeof(id), hex);
		snprintf(msgid, sizeof(msgid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
			 hex + 12, hex + 16, hex + 20);
		if ((again ? store_delivery_requeue : store_delivery_add)(run->app->store, sig->id,
									   p->oin, msgid, time(NULL),
									   run->e) != ST_OK)
			return -1;
	}
	return 0;
}

/* Whether v needs no escaping in JSON and is what it claims: letters,
 * digits, '-', ' ', '_'. */
static bool plain(const char *v)
{
	for (; *v != '\0'; v++)
		if (!isalnum((unsigned char)*v) && *v != '-' && *v != ' ' && *v != '_')
			return false;
	return true;
}

/*
 * The detail of a signal's log entry as exlog_append() would write it
 * (compact, keys sorted), put together here: jansson's tree and its dump
 * were 6 % of a first match of 10^6 registrations.  Every value is the
 * broker's own (a rule name, a normalised address, a date, OINs); NULL if
 * one is not plain() or it does not fit, and the caller takes jansson.
 */
static const char *signal_detail(const struct signal *sig, const char *where, struct text *t)
{
	if (!plain(sig->rule) || !plain(where) || !plain(sig->as_of))
		return NULL;
	text_put(t, "{\"address\":\"");
	text_put(t, where);
	text_put(t, "\",\"as_of\":\"");
	text_put(t, sig->as_of);
	text_put(t, "\",\"evidence\":");
	text_long(t, (long)sig->nevidence);
	text_put(t, ",\"recipients\":[");
	for (size_t i = 0; i < sig->nrecipients; i++) {
		if (!plain(sig->recipients[i]))
			return NULL;
		text_put(t, i > 0 ? ",\"" : "\"");
		text_put(t, sig->recipients[i]);
		text_put(t, "\"");
	}
	text_put(t, "],\"rule\":\"");
	text_put(t, sig->rule);
	text_put(t, "\"}");
	return t->over ? NULL : t->buf;
}

/* The signal's log entry. */
static enum status log_signal(struct run *run, const struct signal *sig)
{
	char where[ADDRESS_KEY_MAX];
	struct text t = { .len = 0 };
	const char *text;
	json_t *to;

	address_display(&sig->address, where);
	text = signal_detail(sig, where, &t);
	if (text != NULL)
		return exlog_append_text(run->app->store, "signal", NULL, sig->id, text, run->e);
	to = json_array();
	for (size_t i = 0; to != NULL && i < sig->nrecipients; i++)
		json_array_append_new(to, json_string(sig->recipients[i]));
	return exlog_append(run->app->store, "signal", NULL, sig->id,
			    json_pack("{s:s, s:s, s:s, s:o*, s:I}", "rule", sig->rule,
				      "address", where, "as_of", sig->as_of, "recipients", to,
				      "evidence", (json_int_t)sig->nevidence), run->e);
}

/*
 * The processing record of a new signal, a child of the run's: its data
 * subjects are its person, the registrations in its evidence and the
 * persons its findings name.
 */
static enum status record_signal(struct run *run, const struct signal *sig)
{
	struct store *s = run->app->store;
	struct ldv l;

	if (!run->ldv->on)
		return ST_OK;
	if (ldv_begin(s, run->cfg, LDV_SIGNAL, run->ldv->row.span_id, sig->id, NULL, &l,
		      run->e) != ST_OK ||
	    ldv_signal_subjects(s, &l, sig, run->e) != ST_OK)
		return ST_FAIL;
	return ldv_end(s, &l, 0, run->e);
}

static int by_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* The open signal with id, or NULL. */
static struct open_signal *open_find(const struct run *run, const char *id)
{
	if (run->open.n == 0)
		return NULL;	/* and v is NULL, which bsearch() may not be given */
	return bsearch(id, run->open.v, run->open.n, sizeof(*run->open.v), by_id);
}

/*
 * Stores sig under the id of its facts, or, while a signal with that id
 * exists and has ended, under the next "again" id: a known signal that
 * was not open before the run has ended (the run looks only at addresses
 * whose open signals it read, and raises each signal once).  Marks the
 * open one it holds.
 */
static enum status store_held(struct run *run, struct signal *sig, bool *created)
{
	for (unsigned again = 0; again <= MAX_AGAIN; again++) {
		struct open_signal *o;

		signal_id(sig, again);
		if (store_put_signal(run->app->store, sig, created, run->e) != ST_OK)
			return ST_FAIL;
		if (*created)
			return ST_OK;
		if ((o = open_find(run, sig->id)) != NULL) {
			o->held = true;
			return ST_OK;
		}
	}
	return errbuf_set(run->e, ST_FAIL, "match: signal %s ended %d times", sig->id,
			  MAX_AGAIN);
}

/* Gathers evidence, routes, stores and logs one signal. */
static int raise_signal(struct run *run, struct signal *sig, unsigned evidence)
{
	bool created = false;

	snprintf(sig->as_of, sizeof(sig->as_of), "%s", run->as_of);
	memcpy(sig->created, run->created, sizeof(sig->created));
	if (match_scan_evidence(run->scan, &sig->address, sig->has_person ? sig->person : NULL,
				evidence, &sig->evidence, &sig->nevidence, run->e) != ST_OK ||
	    route_signal(run->cfg, sig, run->e) != ST_OK)
		goto fail;
	if (store_held(run, sig, &created) != ST_OK)
		goto fail;
	run->res->raised++;
	if (created) {
		run->res->created++;
		if (log_signal(run, sig) != ST_OK || record_signal(run, sig) != ST_OK ||
		    queue_deliveries(run, sig, false) != 0)
			goto fail;
		if (run->on_new != NULL)
			run->on_new(run->arg, sig);
	}
	signal_clear(sig);
	return 0;
fail:
	signal_clear(sig);
	return -1;
}

/* A signal about address facts f, for rule r. */
static struct signal address_signal(enum rule r, const struct address_facts *f)
{
	struct signal sig = {
		.address = f->address, .registered = f->registered, .observed = f->observed,
		.oppervlakte = f->oppervlakte, .max_bewoners = f->max_bewoners,
	};

	snprintf(sig.rule, sizeof(sig.rule), "%s", rule_name(r));
	return sig;
}

static bool overcrowded(const struct config *cfg, const struct address_facts *f)
{
	long persons = f->registered > f->observed ? f->registered : f->observed;

	if (persons < 1)
		return false;
	if (f->oppervlakte >= 0 && persons > f->oppervlakte / cfg->m2_per_person)
		return true;	/* integer division: floor(m2 / m2_per_person) */
	return f->max_bewoners >= 0 && persons > f->max_bewoners;
}

/* Applies the three address rules to one address. */
static int match_address(void *arg, const struct address_facts *f)
{
	struct run *run = arg;
	const struct config *cfg = run->cfg;
	struct signal sig;

	run->res->addresses++;
	if (cfg->rule_enabled[RULE_OVERBEWONING] && overcrowded(cfg, f)) {
		unsigned ev = f->has_dwelling ? EVIDENCE_DWELLING : 0;

		ev |= f->registered > 0 ? EVIDENCE_BRP : 0;
		ev |= f->observed > 0 ? EVIDENCE_FINDINGS : 0;
		sig = address_signal(RULE_OVERBEWONING, f);
		if (raise_signal(run, &sig, ev) != 0)
			return -1;
	}
	if (cfg->rule_enabled[RULE_ONDERREGISTRATIE] && f->covered &&
	    f->observed - f->registered >= cfg->min_gap) {
		sig = address_signal(RULE_ONDERREGISTRATIE, f);
		if (raise_signal(run, &sig, EVIDENCE_FINDINGS | EVIDENCE_BRP) != 0)
			return -1;
	}
	if (cfg->rule_enabled[RULE_GEEN_VERGUNNING] &&
	    strlist_has(&cfg->permit_gemeenten, f->address.gemeentecode) &&
	    f->observed >= cfg->min_persons && !f->permit_valid) {
		sig = address_signal(RULE_GEEN_VERGUNNING, f);
		if (raise_signal(run, &sig, EVIDENCE_FINDINGS |
				 (f->has_dwelling ? EVIDENCE_DWELLING : 0)) != 0)
			return -1;
	}
	return 0;
}

/* ADRES_AFWIJKING for one (person, address) pair. */
static int match_mismatch(void *arg, const struct mismatch *m)
{
	struct run *run = arg;
	struct signal sig = {
		.address = m->address, .has_person = true, .registered_address = m->registered_at,
		.registered = m->registered, .observed = m->observed,
		.oppervlakte = m->oppervlakte, .max_bewoners = m->max_bewoners,
	};

	snprintf(sig.rule, sizeof(sig.rule), "%s", rule_name(RULE_ADRES_AFWIJKING));
	memcpy(sig.person, m->pseudonym, PSEUDONYM_LEN);
	return raise_signal(run, &sig, 0);
}

static void now_utc(char out[21])
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds an open signal to run->open. */
static int note_open(void *arg, int64_t seq, const char *id)
{
	struct run *run = arg;
	struct open_set *o = &run->open;

	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 1024;
		struct open_signal *grown = realloc(o->v, cap * sizeof(*grown));

		if (grown == NULL) {
			errbuf_set(run->e, ST_FAIL, "match: out of memory");
			return -1;
		}
		o->v = grown;
		o->cap = cap;
	}
	snprintf(o->v[o->n].id, sizeof(o->v[o->n].id), "%s", id);
	o->v[o->n].held = false;
	o->v[o->n++].seq = seq;
	return 0;
}

/* Reads the signals open before the run (with scoped, at the marked
 * addresses), sorted by id. */
static enum status read_open(struct run *run, bool scoped)
{
	if (store_open_signals(run->app->store, scoped, note_open, run, run->e) != ST_OK)
		return ST_FAIL;
	if (run->open.n > 1)
		qsort(run->open.v, run->open.n, sizeof(*run->open.v), by_id);
	return ST_OK;
}

/* The log entry of a signal that ended. */
static enum status log_ended(struct run *run, const struct signal *sig)
{
	char where[ADDRESS_KEY_MAX];
	json_t *to = json_array();

	address_display(&sig->address, where);
	for (size_t i = 0; to != NULL && i < sig->nrecipients; i++)
		json_array_append_new(to, json_string(sig->recipients[i]));
	return exlog_append(run->app->store, "ended", NULL, sig->id,
			    json_pack("{s:s, s:s, s:s, s:s, s:o*}", "rule", sig->rule,
				      "address", where, "as_of", sig->as_of, "ended_on", run->as_of,
				      "recipients", to), run->e);
}

/* Ends one signal that no longer holds: marked, logged, pushed again. */
static int end_one(void *arg, const struct signal *sig)
{
	struct run *run = arg;

	if (store_end_signal(run->app->store, sig->seq, run->as_of, run->e) != ST_OK ||
	    log_ended(run, sig) != ST_OK || queue_deliveries(run, sig, true) != 0)
		return -1;
	run->res->ended++;
	return 0;
}

/* Ends the signals open before the run that it did not find to hold. */
static enum status end_signals(struct run *run)
{
	for (size_t i = 0; i < run->open.n; i++) {
		struct signal_filter f = { .id = run->open.v[i].id };

		if (!run->open.v[i].held &&
		    store_signals(run->app->store, &f, end_one, run, run->e) != ST_OK)
			return ST_FAIL;
	}
	return ST_OK;
}

/*
 * The rules' parameters as one digest: a configuration (a SIGHUP) that
 * changes any of them makes the next incremental run a full one.
 */
static void rule_params(const struct config *cfg, const char *window_start,
			char out[sizeof(((struct match_state *)0)->params)])
{
	struct sha256 *h = crypto_sha256_new();
	char buf[128], hex[65];
	int n;

	n = snprintf(buf, sizeof(buf), "v1|%d%d%d%d|%d|%d|%d|%d|", cfg->rule_enabled[0],
		     cfg->rule_enabled[1], cfg->rule_enabled[2], cfg->rule_enabled[3],
		     cfg->m2_per_person, cfg->min_gap, cfg->min_persons, cfg->window_days);
	if (h == NULL) {	/* out of memory: never equal, so a full run */
		snprintf(out, 65, "unknown|%s", window_start);
		return;
	}
	crypto_sha256_update(h, buf, (size_t)n);
	for (size_t i = 0; i < cfg->permit_gemeenten.n; i++) {
		crypto_sha256_update(h, cfg->permit_gemeenten.v[i],
				     strlen(cfg->permit_gemeenten.v[i]));
		crypto_sha256_update(h, ",", 1);
	}
	crypto_sha256_final(h, hex);
	snprintf(out, 65, "%s", hex);
}

static const char *const mode_names[] = {
	[MATCH_FULL] = "full", [MATCH_CHANGED] = "changed", [MATCH_RECONCILE] = "reconcile",
};

/*
 * Works out what an incremental run recomputes: *full when it cannot be
 * incremental (no run before, other rule parameters), else the marks
 * widened by the change of date and by persons and gemeenten.
 */
static enum status plan(struct run *run, const struct match_state *now, bool *full)
{
	struct store *s = run->app->store;
	struct match_state last;
	struct mark_counts n;

	if (store_match_state(s, &last, run->e) != ST_OK)
		return ST_FAIL;
	*full = last.as_of[0] == '\0' || strcmp(last.params, now->params) != 0;
	if (*full) {
		run->res->why = last.as_of[0] == '\0' ? "no match before" : "rule parameters changed";
		return ST_OK;
	}
	if ((strcmp(last.as_of, now->as_of) != 0 ||
	     strcmp(last.window_start, now->window_start) != 0) &&
	    store_mark_dates(s, &last, now->as_of, now->window_start, run->e) != ST_OK)
		return ST_FAIL;
	if (store_mark_widen(s, &n, run->e) != ST_OK)
		return ST_FAIL;
	if (n.all > 0) {
		*full = true;
		run->res->why = "a large change";
		return ST_OK;
	}
	run->res->marked = n.addresses;
	run->res->persons = n.persons;
	run->res->gemeenten = n.gemeenten;
	return ST_OK;
}

/* The run's log entry. */
static enum status log_run(struct run *run, enum match_mode mode)
{
	const struct match_result *res = run->res;
	json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "as_of", run->as_of,
			      "mode", mode_names[mode], "addresses", (json_int_t)res->addresses,
			      "raised", (json_int_t)res->raised, "created",
			      (json_int_t)res->created, "ended", (json_int_t)res->ended);

	if (d != NULL && !res->full &&
	    json_object_set_new(d, "marked", json_integer(res->marked)) != 0) {
		json_decref(d);
		d = NULL;
	}
	return exlog_append(run->app->store, "match", NULL, run->as_of, d, run->e);
}

/* The rules over every address (full) or over the marked ones. */
static enum status apply_rules(struct run *run, const char *window_start, bool full)
{
	enum status st = match_scan_begin(run->app->store, run->as_of, window_start, !full,
					  &run->scan, run->e);

	if (st == ST_OK &&
	    (match_scan_addresses(run->scan, match_address, run, run->e) != ST_OK ||
	     (run->cfg->rule_enabled[RULE_ADRES_AFWIJKING] &&
	      match_scan_mismatches(run->scan, match_mismatch, run, run->e) != ST_OK)))
		st = ST_FAIL;
	match_scan_end(run->scan);
	run->scan = NULL;
	return st;
}

/* One run in one transaction. */
static enum status run_once(struct run *run, enum match_mode mode)
{
	struct store *s = run->app->store;
	struct match_state now = { .as_of = "" };
	bool full = mode != MATCH_CHANGED;

	snprintf(now.as_of, sizeof(now.as_of), "%s", run->as_of);
	norm_date_from_days(norm_days(run->as_of) - run->cfg->window_days, now.window_start);
	rule_params(run->cfg, now.window_start, now.params);
	now_utc(run->created);
	if (store_begin(s, run->e) != ST_OK)
		return ST_FAIL;
	if (ldv_begin(s, run->cfg, LDV_MATCH, NULL, run->as_of, NULL, run->ldv, run->e) != ST_OK ||
	    (mode == MATCH_CHANGED && plan(run, &now, &full) != ST_OK) ||
	    (mode == MATCH_CHANGED && full && store_match_catch_up(s, run->e) != ST_OK) ||
	    read_open(run, !full) != ST_OK)
		goto out_rollback;
	run->res->full = full;
	if (apply_rules(run, now.window_start, full) != ST_OK ||
	    end_signals(run) != ST_OK || store_mark_clear(s, run->e) != ST_OK ||
	    store_match_state_put(s, &now, full, run->e) != ST_OK ||
	    log_run(run, mode) != ST_OK || ldv_end(s, run->ldv, 0, run->e) != ST_OK ||
	    store_commit(s, run->e) != ST_OK)
		goto out_rollback;
	return ST_OK;
out_rollback:
	store_rollback(s);
	return ST_FAIL;
}

/* match_run_mode() in the trace the store is set to. */
static enum status match_traced(struct app *app, const char *as_of, enum match_mode mode,
				struct match_result *res,
				void (*on_new)(void *arg, const struct signal *sig), void *arg,
				struct errbuf *e)
{
	struct run run = { app, &app->cfg, as_of, "", res, on_new, arg, e, { NULL, 0, 0 }, NULL, NULL };
	enum status st;

	memset(res, 0, sizeof(*res));
	if (norm_date("--as-of", as_of, e) != ST_OK)
		return ST_USAGE;
	if ((run.ldv = malloc(sizeof(*run.ldv))) == NULL)	/* 8 KiB: not on the stack */
		return errbuf_set(e, ST_FAIL, "out of memory");
	st = run_once(&run, mode);
	free(run.open.v);
	free(run.ldv);
	return st;
}

enum status match_run_mode(struct app *app, const char *as_of, enum match_mode mode,
			   struct match_result *res,
			   void (*on_new)(void *arg, const struct signal *sig), void *arg,
			   struct errbuf *e)
{
	struct trace_ctx tc;
	enum status st;

	if (store_trace(app->store) != NULL)	/* the trace of the input that caused it */
		return match_traced(app, as_of, mode, res, on_new, arg, e);
	memset(res, 0, sizeof(*res));
	if (trace_new(&tc, e) != ST_OK)
		return ST_FAIL;
	store_trace_set(app->store, tc.trace_id);
	st = match_traced(app, as_of, mode, res, on_new, arg, e);
	store_trace_set(app->store, NULL);
	return st;
}

enum status match_run(struct app *app, const char *as_of, struct match_result *res,
		      void (*on_new)(void *arg, const struct signal *sig), void *arg,
		      struct errbuf *e)
{
	return match_run_mode(app, as_of, MATCH_FULL, res, on_new, arg, e);
}

void log_match(const char *as_of, const struct match_result *res)
{
	char raised[24], created[24];

	snprintf(raised, sizeof(raised), "%ld", res->raised);
	snprintf(created, sizeof(created), "%ld", res->created);
	log_event(LV_INFO, "match", "matched", "as_of", as_of, "signals", raised, "new", created,
		  NULL);
}
