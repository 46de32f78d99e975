/*
 * ingest.c - the ingest pipeline (see ingest.h).
 *
 * Three stages, joined by batches of records:
 *
 *   parse  - read the input, run the adapter, and for each record it
 *            gives: normalise, check the party's territory (prepare());
 *   check  - validate each record's canonical XML against the record
 *            schema; one that fails becomes a rejection (check_batch());
 *   store  - pseudonymise and encrypt the BSNs, write each record, or log
 *            each rejected one, in the input's transaction (consume()),
 *            then commit.
 *
 * The stages run on three threads when they can: parse and check on
 * threads of their own, store on the caller's, with at most NBATCH batches
 * in flight, so memory stays bounded whatever the input's size.  The parse
 * stage is libxml2's streaming parse and validation of the input (what
 * `xmllint --stream --schema` does), the other two take about as much
 * together (docs/performance.md), so on two cores a large file takes
 * little more than its parse.  If no thread can be had (or
 * opts->one_thread asks for it) the stages run in turn on the caller's
 * thread, through the same functions.
 *
 * Only the store stage touches the database and the keys; only the parse
 * stage the adapter and its source schema; only the check stage the
 * record schema.  What one stage tells another travels in the batches, or
 * is read after the threads have ended, except for `stop` (a later stage
 * failed: parse no further).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/threads.h>
#include <libxml/xmlerror.h>

#include "bsnlike.h"
#include "exlog.h"
#include "ingest.h"
#include "ldv.h"
#include "log.h"
#include "queue.h"
#include "record.h"

#define BATCH_LEN 256	/* records per batch */
#define NBATCH 6	/* batches in flight among the threads */
#define READ_SIZE (1 << 16)
#define PLACE_MAX 128	/* of a place kept for the check stage */

/* One record on its way from the parse stage to the store stage. */
struct item {
	bool rejected;
	struct record r;	/* its strings point into text */
	char where[PLACE_MAX];	/* its place, should the check reject it */
	uint8_t pseudonym[PSEUDONYM_LEN], sealed[SEALED_BSN_LEN];	/* a person */
	struct finding_person *persons;	/* a finding's, malloc'd */
	size_t npersons;
	char *text;		/* malloc'd: the record's strings, or place and reason */
	const char *place, *reason;	/* a rejection: point into text */
};

struct batch {
	size_t n;
	uint64_t bytes;		/* input read when the batch was handed over */
	struct item items[BATCH_LEN];
};

/* What one stage knows went wrong. */
struct side {
	bool failed;		/* the broker failed (not the input) */
	struct errbuf fatal;	/* why */
};

struct ingest {
	struct app *app;
	struct loaded_adapter *la;
	struct ingest_opts opts;
	void *stream;
	struct ingest_result res;

	/* the parse stage's own */
	struct side parse;
	struct sha256 *digest;
	uint64_t bytes;
	long records;		/* records and rejections given by the adapter */
	bool finished;		/* the adapter's finish() was called */
	char cursor[512];	/* what a paged source said comes next */
	bool cursor_seen, cursor_null;
	struct batch *cur;	/* being filled */
	int fd;
	const char *path;
	char buf[READ_SIZE];

	/* the check stage's own */
	struct side check;

	/* the store stage's own */
	struct side store;
	char held_key[ADDRESS_KEY_MAX];	/* the last address stored, and */
	char held_gemeente[5];		/* the gemeente it is held under */
	uint64_t progress_at;	/* bytes when on_progress was last called */
	struct ldv ldv_receive, ldv_store;	/* its processing records */
	atomic_bool stop;	/* check or store failed: parse no further */

	/* between the threads, when there are three */
	bool threaded;
	struct queue *parsed, *checked, *empty;
	struct batch *batches[NBATCH];	/* all of them, in->cur among them */
};

static enum status side_fail(struct side *s, const char *msg)
{
	if (!s->failed)
		errbuf_set(&s->fatal, ST_FAIL, "%s", msg);
	s->failed = true;
	return ST_FAIL;
}

/* ------------------------------------------------------------ batches */

/* Frees what the item owns and wipes it. */
static void item_clear(struct item *it)
{
	record_clear(&it->r);
	free(it->persons);
	free(it->text);
	memset(it, 0, sizeof(*it));
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		item_clear(&b->items[i]);
	b->n = 0;
}

static void check_batch(struct ingest *in, struct batch *b);
static void consume(struct ingest *in, struct batch *b);

/*
 * Hands the batch being filled to the check stage and, unless it is the
 * last, takes an empty one.  false when a later stage has stopped.
 */
static bool hand_over(struct ingest *in, bool last)
{
	struct batch *b = in->cur;

	b->bytes = in->bytes;
	if (!in->threaded) {	/* one thread: check and store it now */
		check_batch(in, b);
		if (!in->check.failed)
			consume(in, b);
		return !atomic_load(&in->stop);
	}
	if (!queue_push(in->parsed, b))
		return false;	/* still ours, cleared at the end */
	in->cur = last ? NULL : queue_pop(in->empty);
	return last || in->cur != NULL;
}

/* The next free item of the batch being filled; NULL: stop parsing. */
static struct item *next_item(struct ingest *in)
{
	if (atomic_load(&in->stop) || in->parse.failed)
		return NULL;
	if (in->cur->n == BATCH_LEN && !hand_over(in, false))
		return NULL;
	return &in->cur->items[in->cur->n];
}

/* ------------------------------------------------------------ parse stage */

/* Copies n strings into one allocation and points *strs[i] at the copies. */
static bool own_strings(struct item *it, const char **strs[], size_t n)
{
	size_t len = 0;
	char *p;

	for (size_t i = 0; i < n; i++)
		if (*strs[i] != NULL)
			len += strlen(*strs[i]) + 1;
	if (len == 0)
		return true;
	it->text = p = malloc(len);
	if (p == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (*strs[i] == NULL)
			continue;
		len = strlen(*strs[i]) + 1;
		memcpy(p, *strs[i], len);
		*strs[i] = p;
		p += len;
	}
	return true;
}

/* Makes it a rejection; false when out of memory. */
static bool make_reject(struct item *it, const char *place, const char *reason)
{
	const char **strs[] = { &place, &reason };

	it->rejected = true;
	if (!own_strings(it, strs, 2))
		return false;
	it->place = place;
	it->reason = reason;
	return true;
}

/* The strings of r, copied out of the adapter's buffers. */
static bool own_record(struct item *it)
{
	struct record *r = &it->r;
	const char **dwelling[] = { &r->gebruiksdoel, &r->vergunning, &r->vergunning_tot };
	const char **finding[] = { &r->id, &r->datum, &r->soort, &r->kvk };

	switch (r->kind) {
	case ADAPTER_DWELLING:
		return own_strings(it, dwelling, 3);
	case ADAPTER_FINDING:
		return own_strings(it, finding, 4);
	default:
		return true;
	}
}

/* Keeps a copy of place (cut to PLACE_MAX - 1 bytes, at a character). */
static void place_copy(char out[PLACE_MAX], const char *place)
{
	size_t n = strlen(place);

	if (n >= PLACE_MAX) {
		n = PLACE_MAX - 1;
		while (n > 0 && ((unsigned char)place[n] & 0xC0) == 0x80)
			n--;	/* not inside a UTF-8 sequence */
	}
	memcpy(out, place, n);
	out[n] = '\0';
}

/*
 * record_validate(), with libxml2's failed allocations counted as ours.
 * libxml2 2.9.14 reports most of them only through the thread's structured
 * error handler and carries on: xmlNewTextChild() then adds an element
 * whose text could not be copied, the validator a value it could not copy,
 * and the record fails validation ("'' is not a valid value ...") as if it
 * were bad.  That would reject a good record; any failed allocation during
 * the validation makes it the broker's failure instead.
 */
static enum status validate(struct ingest *in, const struct record *r, bool *nomem,
			    struct errbuf *e)
{
	xmlStructuredErrorFunc old = xmlStructuredError;
	void *old_ctx = xmlStructuredErrorContext;
	bool lost = false;
	enum status st;

	xmlSetStructuredErrorFunc(&lost, xml_note_nomem);
	st = record_validate(in->app->records, r, nomem, e);
	xmlSetStructuredErrorFunc(old_ctx, old);
	if (lost) {
		*nomem = true;
		st = ST_FAIL;
	}
	return st;
}

/*
 * Turns one adapter record into an item: normalised and in the party's
 * territory (the check stage validates it, the store stage seals its
 * BSNs).  A record that fails a check becomes a rejection; ST_FAIL only
 * when the broker fails.
 */
static enum status prepare(struct ingest *in, const struct adapter_record *rec,
			   const char *place, struct item *it)
{
	struct record *r = &it->r;
	struct errbuf e;

	if (record_normalise(rec, r, &e) != ST_OK) {
		if (strcmp(e.msg, "out of memory") == 0)	/* ours, not the record's */
			return side_fail(&in->parse, "out of memory");
		goto reject;
	}
	if (in->opts.gemeenten != NULL && in->opts.gemeenten->n > 0 &&
	    !strlist_has(in->opts.gemeenten, r->address.gemeentecode)) {
		errbuf_set(&e, ST_FAIL, "gemeentecode %s is not one this party may supply",
			   r->address.gemeentecode);
		goto reject;
	}
	if (!own_record(it))
		return side_fail(&in->parse, "out of memory");
	place_copy(it->where, place);
	return ST_OK;
reject:
	record_clear(r);
	memset(r, 0, sizeof(*r));
	if (!make_reject(it, place, e.msg))
		return side_fail(&in->parse, "out of memory");
	return ST_OK;
}

/* The adapter's record callback: one record prepared into the batch. */
static int host_record(void *ctx, const struct adapter_record *rec)
{
	struct ingest *in = ctx;
	const char *place = rec->place != NULL ? rec->place : "?";
	struct item *it;

	if (in->records >= (long)in->app->cfg.max_records) {	/* refused, not failed */
		errbuf_set(&in->parse.fatal, ST_FAIL, "%s: more than %zu records in one "
			   "input ([ingest] max_records)", place, in->app->cfg.max_records);
		return -1;
	}
	it = next_item(in);
	if (it == NULL)
		return -1;
	if (prepare(in, rec, place, it) != ST_OK) {
		item_clear(it);
		return -1;
	}
	in->cur->n++;
	in->records++;
	return 0;
}

/* The adapter's rejection of a record it could not read. */
static void host_reject(void *ctx, const char *place, const char *reason)
{
	struct ingest *in = ctx;
	struct item *it = next_item(in);

	if (it == NULL)
		return;
	if (!make_reject(it, place != NULL ? place : "?",
			 reason != NULL ? reason : "rejected")) {
		item_clear(it);
		side_fail(&in->parse, "out of memory");
		return;
	}
	in->cur->n++;
	in->records++;
}

/*
 * The adapter's nomem(): it (or a library of its) could not allocate
 * memory while reading the record at place.  Not the record's fault nor the
 * input's: the whole input fails, rolled back, as when the broker runs out
 * of memory itself.  -1: stop; the adapter returns ADAPTER_NOMEM.
 */
static int host_nomem(void *ctx, const char *place)
{
	struct ingest *in = ctx;
	char where[256], why[sizeof(in->parse.fatal.msg)];

	/* a BSN may hide in the place the adapter names (a parser's words) */
	log_mask_bsn(place != NULL ? place : "", where, sizeof(where));
	if (place != NULL)
		snprintf(why, sizeof(why), "out of memory (%s adapter, at %s)",
			 in->la->adapter->name, where);
	else
		snprintf(why, sizeof(why), "out of memory (%s adapter)", in->la->adapter->name);
	side_fail(&in->parse, why);
	return -1;
}

static void host_cursor(void *ctx, const char *next)
{
	struct ingest *in = ctx;

	in->cursor_seen = true;
	in->cursor_null = next == NULL;
	if (next != NULL && strlen(next) >= sizeof(in->cursor)) {
		in->parse.failed = true;
		errbuf_set(&in->parse.fatal, ST_FAIL,
			   "the page's cursor is longer than %zu bytes", sizeof(in->cursor) - 1);
		return;
	}
	snprintf(in->cursor, sizeof(in->cursor), "%s", next != NULL ? next : "");
}

/*
 * Turns an adapter result into ours, noting why the input stopped.  Once
 * the parse stage has failed (the adapter's nomem(), the broker's own
 * failure), that stands whatever feed() or finish() return: a refusal then
 * would blame the supplier, and ADAPTER_OK must not read on.
 */
static enum status adapter_result(struct ingest *in, int rc)
{
	if (in->parse.failed)
		return ST_FAIL;
	if (rc == ADAPTER_OK)
		return ST_OK;
	if (rc == ADAPTER_REFUSED) {
		const char *why = in->la->adapter->error(in->stream);

		in->res.refused = true;
		/* a BSN may hide in a parser's message ("the value '999900006' is ...") */
		log_mask_bsn(why != NULL ? why : "input refused", in->parse.fatal.msg,
			     sizeof(in->parse.fatal.msg));
	} else if (rc == ADAPTER_NOMEM) {
		host_nomem(in, NULL);
	} else if (!in->parse.failed && !atomic_load(&in->stop)) {
		in->res.refused = true;	/* ADAPTER_ABORT for a limit */
	}
	return ST_FAIL;
}

/*
 * The parse stage over the whole input: read, feed the adapter, finish it,
 * and hand over the last batch.
 */
static void parse_input(struct ingest *in)
{
	const struct adapter *a = in->la->adapter;
	enum status st = ST_OK;
	ssize_t n;

	while (st == ST_OK && (n = read(in->fd, in->buf, sizeof(in->buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			errbuf_set(&in->parse.fatal, ST_FAIL, "cannot read %s: %s", in->path,
				   strerror(errno));
			in->parse.failed = true;
			break;
		}
		crypto_sha256_update(in->digest, in->buf, (size_t)n);
		in->bytes += (uint64_t)n;
		st = adapter_result(in, a->feed(in->stream, in->buf, (size_t)n));
	}
	if (st == ST_OK && !in->parse.failed && !atomic_load(&in->stop))
		adapter_result(in, a->finish(in->stream));
	in->finished = true;
	if (in->cur != NULL && in->cur->n > 0 && !in->parse.failed && !in->res.refused &&
	    !atomic_load(&in->stop))
		hand_over(in, true);
}

static void *parse_thread(void *arg)
{
	struct ingest *in = arg;

	/*
	 * libxml2 2.9.14 allocates a thread's global state (its error
	 * handlers among it) on the thread's first use of it, and when that
	 * allocation fails, xmlStructuredError and the like dereference NULL.
	 * So the parse thread has it made now, before the adapter or the
	 * validation touch libxml2, and fails the input cleanly without it.
	 */
	if (xmlGetGlobalState() == NULL)
		side_fail(&in->parse, "out of memory (libxml2's state for the parse thread)");
	else
		parse_input(in);
	queue_close(in->parsed);
	return NULL;
}

/* ------------------------------------------------------------ check stage */

/*
 * The check stage for one batch: each record's canonical XML validated
 * against the record schema; one that fails becomes a rejection in its
 * place.  Out of memory fails the input.
 */
static void check_batch(struct ingest *in, struct batch *b)
{
	for (size_t i = 0; i < b->n && !in->check.failed; i++) {
		struct item *it = &b->items[i];
		struct errbuf e;
		bool nomem;

		if (it->rejected || validate(in, &it->r, &nomem, &e) == ST_OK)
			continue;
		if (nomem) {	/* the broker failed, not the record: stop the input */
			errbuf_set(&in->check.fatal, ST_FAIL, "out of memory while validating %s",
				   it->where);
			in->check.failed = true;
			break;
		}
		record_clear(&it->r);
		memset(&it->r, 0, sizeof(it->r));
		free(it->text);
		it->text = NULL;
		if (!make_reject(it, it->where, e.msg))
			side_fail(&in->check, "out of memory");
	}
	if (in->check.failed)
		atomic_store(&in->stop, true);
}

/* The check stage's thread: batches from `parsed`, checked, on to
 * `checked`, until the parse stage is done or a stage fails. */
static void *check_thread(void *arg)
{
	struct ingest *in = arg;
	struct batch *b;

	/* libxml2's state for this thread, as in parse_thread() */
	if (xmlGetGlobalState() == NULL) {
		side_fail(&in->check, "out of memory (libxml2's state for the check thread)");
		atomic_store(&in->stop, true);
	}
	while (!in->check.failed && (b = queue_pop(in->parsed)) != NULL) {
		check_batch(in, b);
		if (in->check.failed || !queue_push(in->checked, b))
			break;	/* b stays in in->batches, cleared at the end */
	}
	queue_stop(in->parsed);	/* wakes a parser waiting to hand over */
	queue_close(in->checked);
	return NULL;
}

/* ------------------------------------------------------------ store stage */

/* Reports and logs one rejected record. */
static void reject(struct ingest *in, const char *place, const char *reason)
{
	char why[512];
	struct errbuf e;

	log_mask_bsn(reason, why, sizeof(why));	/* the parser's words: outside text */
	in->res.rejected++;
	if (in->opts.on_reject != NULL)
		in->opts.on_reject(in->opts.arg, place, why);
	if (in->store.failed)
		return;
	if (exlog_append(in->app->store, "reject", in->opts.party, in->opts.origin,
			 json_pack("{s:s, s:s, s:s, s:I}", "adapter", in->la->adapter->name,
				   "place", place, "reason", why, "ingest", (json_int_t)in->res.ingest_id),
			 &e) != ST_OK) {
		in->store.failed = true;
		in->store.fatal = e;
	}
}

/*
 * Pseudonymises and encrypts the BSNs of it, and wipes them.  (Here, not
 * in the parse stage, which is the longest of the three.)
 */
static enum status seal(struct ingest *in, struct item *it)
{
	struct keys *k = &in->app->keys;
	struct record *r = &it->r;
	enum status st = ST_OK;

	if (r->kind == ADAPTER_PERSON) {
		crypto_pseudonym(k, r->bsn, it->pseudonym);
		st = crypto_seal_bsn(k, r->bsn, it->pseudonym, it->sealed, &in->store.fatal);
	} else if (r->nbsn > 0) {
		it->persons = calloc(r->nbsn, sizeof(*it->persons));
		if (it->persons == NULL)
			return side_fail(&in->store, "out of memory");
		for (size_t i = 0; st == ST_OK && i < r->nbsn; i++) {
			crypto_pseudonym(k, r->bsns[i], it->persons[i].pseudonym);
			st = crypto_seal_bsn(k, r->bsns[i], it->persons[i].pseudonym,
					     it->persons[i].bsn_sealed, &in->store.fatal);
		}
	}
	it->npersons = r->nbsn;
	record_clear(r);	/* the BSNs in clear go now; the pseudonyms stay */
	if (st != ST_OK)
		in->store.failed = true;
	return st;
}

/* Is code one of the party's gemeenten (or has it no list)? */
static bool in_territory(const struct ingest *in, const char *code)
{
	return in->opts.gemeenten == NULL || in->opts.gemeenten->n == 0 ||
	       strlist_has(in->opts.gemeenten, code);
}

/*
 * The address of r must lie in the gemeente it is stored under, if it is
 * stored (docs/formats.md, *Addresses and territory*): the first record
 * stored for an address decides its gemeente, whoever supplies it.
 * Writes why not into why (n bytes).
 */
static enum status screen_address(struct ingest *in, const struct record *r, char *why,
				  size_t n, struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX], shown[ADDRESS_KEY_MAX], held[5];
	bool found = true;

	address_key(&r->address, key);
	if (strcmp(key, in->held_key) == 0)
		memcpy(held, in->held_gemeente, sizeof(held));
	else if (store_held_address(in->app->store, key, held, &found, e) != ST_OK)
		return ST_FAIL;
	if (!found || strcmp(held, r->address.gemeentecode) == 0)
		return ST_OK;
	address_display(&r->address, shown);
	snprintf(why, n, "address %s is held under gemeentecode %s, not %s%s", shown, held,
		 r->address.gemeentecode,
		 in_territory(in, held) ? "" : " (outside this party's territory)");
	return ST_OK;
}

/*
 * A party with gemeenten may not change a stored record of another
 * gemeente: the registration or finding that r would replace must be held
 * in its territory too.  Writes why not into why.
 */
static enum status screen_identity(struct ingest *in, const struct item *it, char *why,
				   size_t n, struct errbuf *e)
{
	const struct record *r = &it->r;
	char held[5];
	bool found = false;
	enum status st = ST_OK;

	if (in->opts.gemeenten == NULL || in->opts.gemeenten->n == 0)
		return ST_OK;
	if (r->kind == ADAPTER_PERSON)
		st = store_held_person(in->app->store, it->pseudonym, r->begindatum, held,
				       &found, e);
	else if (r->kind == ADAPTER_FINDING)
		st = store_held_finding(in->app->store, r->id, held, &found, e);
	if (st == ST_OK && found && !in_territory(in, held))
		snprintf(why, n, "the stored %s it would change is held under gemeentecode %s, "
			 "not one this party may supply",
			 r->kind == ADAPTER_PERSON ? "registration" : "finding", held);
	return st;
}

/* The row of a prepared finding; it points into it. */
static void finding_row_of(const struct item *it, struct finding_row *row)
{
	const struct record *r = &it->r;

	*row = (struct finding_row){
		.id = r->id, .datum = r->datum, .soort = r->soort, .kvk = r->kvk,
		.address = r->address, .aangetroffen = r->aangetroffen,
		.persons = it->persons, .npersons = it->npersons,
	};
}

/*
 * A finding whose id this input gave before, with other content, is
 * rejected: the first one stands.  Writes why into why.
 */
static enum status screen_repeat(struct ingest *in, const struct item *it, char *why,
				 size_t n, struct errbuf *e)
{
	struct finding_row row;
	char first[PLACE_MAX], id[128];
	bool differs;

	if (it->r.kind != ADAPTER_FINDING)
		return ST_OK;
	finding_row_of(it, &row);
	if (store_finding_repeat(in->app->store, in->res.ingest_id, &row, it->where, first,
				 sizeof(first), &differs, e) != ST_OK)
		return ST_FAIL;
	if (differs)
		snprintf(why, n, "id '%s' was given before in this input (%s) with other "
			 "content; the first stands", bsnlike_quote(row.id, id, sizeof(id), 60),
			 first);
	return ST_OK;
}

/*
 * The checks that need the store, before it is written: territory
 * (screen_address(), screen_identity()) and repeats (screen_repeat()).
 * why (n bytes) is left "" or says why it is rejected.
 */
static enum status screen(struct ingest *in, const struct item *it, char *why, size_t n)
{
	struct errbuf *e = &in->store.fatal;

	why[0] = '\0';
	if (screen_address(in, &it->r, why, n, e) != ST_OK ||
	    (why[0] == '\0' && screen_identity(in, it, why, n, e) != ST_OK) ||
	    (why[0] == '\0' && screen_repeat(in, it, why, n, e) != ST_OK))
		return ST_FAIL;
	return ST_OK;
}

/* Remembers the gemeente of the address just stored (screen_address());
 * a withdrawal stores no address. */
static void held_note(struct ingest *in, const struct record *r)
{
	if (r->withdraw)
		return;
	address_key(&r->address, in->held_key);
	memcpy(in->held_gemeente, r->address.gemeentecode, sizeof(in->held_gemeente));
}

/* Stores one prepared record. */
static enum status store_item(struct ingest *in, const struct item *it, bool *changed)
{
	struct store *s = in->app->store;
	const struct record *r = &it->r;
	struct errbuf *e = &in->store.fatal;

	switch (r->kind) {
	case ADAPTER_PERSON: {
		struct person_row row = { .address = r->address };

		if (r->withdraw)	/* a verwijdering (adapters/brp/README.md) */
			return store_withdraw_person(s, it->pseudonym, r->begindatum, changed, e);
		memcpy(row.begindatum, r->begindatum, sizeof(row.begindatum));
		memcpy(row.pseudonym, it->pseudonym, sizeof(row.pseudonym));
		memcpy(row.bsn_sealed, it->sealed, sizeof(row.bsn_sealed));
		return store_put_person(s, in->res.ingest_id, &row, changed, e);
	}
	case ADAPTER_DWELLING: {
		struct dwelling_row row = {
			.address = r->address, .oppervlakte = r->oppervlakte,
			.gebruiksdoel = r->gebruiksdoel, .max_bewoners = r->max_bewoners,
			.vergunning = r->vergunning, .vergunning_tot = r->vergunning_tot,
		};

		return store_put_dwelling(s, in->res.ingest_id, &row, changed, e);
	}
	default: {
		struct finding_row row;

		finding_row_of(it, &row);
		return store_put_finding(s, in->res.ingest_id, &row, changed, e);
	}
	}
}

/* The data subjects of a stored record on its processing record. */
static enum status record_subjects(struct ingest *in, const struct item *it)
{
	struct store *s = in->app->store;
	struct ldv *l = &in->ldv_store;

	if (!l->on)
		return ST_OK;
	if (it->r.kind == ADAPTER_PERSON)
		return ldv_subject(s, l, it->pseudonym, &in->store.fatal);
	for (size_t i = 0; i < it->npersons; i++)
		if (ldv_subject(s, l, it->persons[i].pseudonym, &in->store.fatal) != ST_OK)
			return ST_FAIL;
	return ST_OK;
}

/* Tells the store the address keys the batch's territory checks will ask about. */
static enum status hint_addresses(struct ingest *in, const struct batch *b)
{
	char keys[BATCH_LEN][ADDRESS_KEY_MAX];
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (!b->items[i].rejected)
			address_key(&b->items[i].r.address, keys[n++]);
	return store_hint_addresses(in->app->store, (const char (*)[ADDRESS_KEY_MAX])keys, n,
				    &in->store.fatal);
}

/* The store stage for one batch; empties it. */
static void consume(struct ingest *in, struct batch *b)
{
	if (!in->store.failed && hint_addresses(in, b) != ST_OK)
		in->store.failed = true;
	for (size_t i = 0; i < b->n && !in->store.failed; i++) {
		struct item *it = &b->items[i];
		bool changed = false;
		char why[512];

		if (it->rejected) {
			reject(in, it->place, it->reason);
			continue;
		}
		if (seal(in, it) != ST_OK || screen(in, it, why, sizeof(why)) != ST_OK) {
			in->store.failed = true;
			break;
		}
		if (why[0] != '\0') {
			reject(in, it->where, why);
			continue;
		}
		if (store_item(in, it, &changed) != ST_OK || record_subjects(in, it) != ST_OK) {
			in->store.failed = true;
			break;
		}
		held_note(in, &it->r);
		in->res.accepted++;
		in->res.changed += changed;
	}
	if (in->store.failed)
		atomic_store(&in->stop, true);
	batch_clear(b);
	if (in->opts.on_progress != NULL &&
	    (b->bytes >> 22) != (in->progress_at >> 22)) {	/* every 4 MiB */
		in->progress_at = b->bytes;
		in->opts.on_progress(in->opts.arg, b->bytes, in->res.accepted + in->res.rejected);
	}
}

/* ------------------------------------------------------------ one input */

/* Frees the batches and queues of three threads, or the one batch of one. */
static void batches_free(struct ingest *in)
{
	if (!in->threaded) {
		in->batches[0] = in->cur;
		in->cur = NULL;
	}
	for (size_t i = 0; i < NBATCH; i++) {
		if (in->batches[i] != NULL)
			batch_clear(in->batches[i]);
		free(in->batches[i]);
		in->batches[i] = NULL;
	}
	queue_free(in->parsed);
	queue_free(in->checked);
	queue_free(in->empty);
	in->parsed = in->checked = in->empty = NULL;
}

/* Undoes what a failed start of the threads made; in->cur stays. */
static bool no_threads(struct ingest *in)
{
	struct batch *cur = in->cur;

	in->cur = NULL;
	batches_free(in);
	in->cur = cur;
	return false;
}

/*
 * Runs the parse and check stages on threads of their own and the store
 * stage here.  false when the threads or their queues cannot be had
 * (nothing was read).
 */
static bool run_threads(struct ingest *in)
{
	struct batch *first = in->cur, *b;
	pthread_t parser, checker;

	in->parsed = queue_new(NBATCH);
	in->checked = queue_new(NBATCH);
	in->empty = queue_new(NBATCH);
	if (in->parsed == NULL || in->checked == NULL || in->empty == NULL)
		return no_threads(in);
	for (size_t i = 1; i < NBATCH; i++) {
		in->batches[i] = calloc(1, sizeof(struct batch));
		if (in->batches[i] == NULL || !queue_push(in->empty, in->batches[i]))
			return no_threads(in);
	}
	in->threaded = true;
	if (pthread_create(&checker, NULL, check_thread, in) != 0) {
		in->threaded = false;
		return no_threads(in);
	}
	if (pthread_create(&parser, NULL, parse_thread, in) != 0) {
		queue_close(in->parsed);	/* the checker ends, having had nothing */
		pthread_join(checker, NULL);
		/* what went wrong there (its libxml2 state) was its thread's:
		 * one thread will check on its own */
		in->check.failed = false;
		atomic_store(&in->stop, false);
		in->threaded = false;
		return no_threads(in);
	}
	in->batches[0] = first;
	while ((b = queue_pop(in->checked)) != NULL) {
		consume(in, b);
		if (in->store.failed) {
			queue_stop(in->checked);	/* wakes a checker waiting to hand over */
			break;
		}
		queue_push(in->empty, b);
	}
	queue_close(in->empty);	/* wakes a parser waiting for an empty batch */
	pthread_join(checker, NULL);
	pthread_join(parser, NULL);
	return true;
}

static struct ingest *ingest_begin(struct app *app, struct loaded_adapter *la,
				   const struct ingest_opts *opts, struct errbuf *e)
{
	struct ingest *in = calloc(1, sizeof(*in));
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.record = host_record,
		.reject = host_reject,
		.nomem = host_nomem,
		.cursor = host_cursor,
		.source_schema = la->schema,
		.max_field_bytes = app->cfg.max_field_bytes,
		.max_depth = app->cfg.max_depth,
		.max_attributes = app->cfg.max_attributes,
	};
	struct ingest_row row = {
		.adapter = la->adapter->name, .origin = opts->origin, .party = opts->party,
		.digest = "",
	};

	if (in == NULL || (in->digest = crypto_sha256_new()) == NULL ||
	    (in->cur = calloc(1, sizeof(*in->cur))) == NULL) {
		if (in != NULL && in->digest != NULL)
			crypto_sha256_final(in->digest, in->res.digest);
		free(in);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	in->app = app;
	in->la = la;
	in->opts = *opts;
	atomic_init(&in->stop, false);
	host.ctx = in;
	if (store_begin(app->store, e) != ST_OK)
		goto out_free;
	if (store_ingest_add(app->store, &row, &in->res.ingest_id, e) != ST_OK ||
	    ldv_begin(app->store, &app->cfg, LDV_RECEIVE, NULL, opts->origin, opts->party,
		      &in->ldv_receive, e) != ST_OK ||
	    ldv_begin(app->store, &app->cfg, LDV_STORE,
		      in->ldv_receive.on ? in->ldv_receive.row.span_id : NULL, opts->origin,
		      NULL, &in->ldv_store, e) != ST_OK)
		goto out_rollback;
	in->stream = la->adapter->open(&host);
	if (in->stream == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		goto out_rollback;
	}
	return in;
out_rollback:
	store_rollback(app->store);
out_free:
	crypto_sha256_final(in->digest, in->res.digest);
	free(in->cur);
	free(in);
	return NULL;
}

/* Logs an input refused whole, in a transaction of its own. */
static enum status log_refusal(struct ingest *in, struct errbuf *e)
{
	struct store *s = in->app->store;

	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (exlog_append(s, "reject", in->opts.party, in->opts.origin,
			 json_pack("{s:s, s:s, s:s, s:s, s:I}", "adapter", in->la->adapter->name,
				   "place", "file", "reason", in->parse.fatal.msg, "digest",
				   in->res.digest, "bytes", (json_int_t)in->res.bytes),
			 e) != ST_OK || store_commit(s, e) != ST_OK) {
		store_rollback(s);
		return ST_FAIL;
	}
	return ST_OK;
}

/* Logs the ingest with its counts and commits everything. */
static enum status commit(struct ingest *in, struct errbuf *e)
{
	struct store *s = in->app->store;
	long deferred = 0;

	if (store_flush(s, &deferred, e) != ST_OK)	/* the changes of puts written in batches */
		return ST_FAIL;
	in->res.changed += deferred;
	if (store_ingest_counts(s, in->res.ingest_id, in->res.accepted, in->res.rejected,
				in->res.digest, e) != ST_OK ||
	    exlog_append(s, in->opts.log_kind != NULL ? in->opts.log_kind : "ingest",
			 in->opts.party, in->opts.origin,
			 json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
				   "adapter", in->la->adapter->name, "digest", in->res.digest,
				   "bytes", (json_int_t)in->res.bytes,
				   "accepted", (json_int_t)in->res.accepted,
				   "changed", (json_int_t)in->res.changed,
				   "rejected", (json_int_t)in->res.rejected,
				   "ingest", (json_int_t)in->res.ingest_id), e) != ST_OK ||
	    ldv_end(s, &in->ldv_store, 0, e) != ST_OK || ldv_end(s, &in->ldv_receive, 0, e) != ST_OK)
		return ST_FAIL;
	if (in->opts.before_commit != NULL &&
	    in->opts.before_commit(in->opts.arg, s, in->cursor_seen,
				   in->cursor_null ? NULL : in->cursor, e) != ST_OK)
		return ST_FAIL;
	return store_commit(s, e);
}

/*
 * Ends the input once all stages are done: commits, or rolls back and
 * says why (a later stage's failure first: it is what stopped the earlier
 * ones), then frees in.
 */
static enum status ingest_end(struct ingest *in, struct ingest_result *res, struct errbuf *e)
{
	enum status st = ST_FAIL;
	bool failed = in->store.failed || in->check.failed || in->parse.failed;

	crypto_sha256_final(in->digest, in->res.digest);
	in->res.bytes = in->bytes;
	if (failed || in->res.refused) {
		store_rollback(in->app->store);
		*e = in->store.failed ? in->store.fatal
		     : in->check.failed ? in->check.fatal : in->parse.fatal;
		/* a refusal is logged; a broker failure, or one while logging,
		 * is not the input's refusal */
		if (failed || log_refusal(in, e) != ST_OK)
			in->res.refused = false;
		goto out_free;
	}
	if (commit(in, e) != ST_OK) {
		store_rollback(in->app->store);
		goto out_free;
	}
	st = in->res.rejected > 0 ? ST_REJECTED : ST_OK;
out_free:
	*res = in->res;
	if (st == ST_FAIL)
		res->accepted = res->changed = 0;
	in->la->adapter->close(in->stream);
	batches_free(in);
	free(in);
	return st;
}

enum status ingest_fd(struct app *app, struct loaded_adapter *la, int fd, const char *name,
		      const struct ingest_opts *opts, struct ingest_result *res,
		      struct errbuf *e)
{
	struct ingest *in;

	memset(res, 0, sizeof(*res));
	in = ingest_begin(app, la, opts, e);
	if (in == NULL)
		return ST_FAIL;
	in->fd = fd;
	in->path = name;
	if (opts->one_thread || !run_threads(in))
		parse_input(in);
	return ingest_end(in, res, e);
}

enum status ingest_file(struct app *app, struct loaded_adapter *la, const char *path,
			const struct ingest_opts *opts, struct ingest_result *res,
			struct errbuf *e)
{
	enum status st;
	int fd;

	memset(res, 0, sizeof(*res));
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(e, ST_FAIL, "cannot open %s: %s", path, strerror(errno));
	st = ingest_fd(app, la, fd, path, opts, res, e);
	if (fd != STDIN_FILENO)
		close(fd);
	return st;
}
