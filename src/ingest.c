/*
 * ingest.c - the ingest pipeline (see ingest.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exlog.h"
#include "ingest.h"
#include "record.h"

struct ingest {
	struct app *app;
	struct loaded_adapter *la;
	struct ingest_opts opts;
	void *stream;
	struct sha256 *digest;
	struct ingest_result res;
	struct errbuf fatal;	/* why the ingest stopped, if it did */
	char cursor[512];	/* what a paged source said comes next */
	bool cursor_seen, cursor_null;
	bool failed;		/* the broker failed (not the input) */
};

/*
 * Replaces every run of 8 or 9 digits with asterisks: a BSN may hide in a
 * parser's message ("the value '999900006' is not ..."), and neither the
 * log nor the screen may show one.
 */
static void redact_bsn(char *s)
{
	for (char *p = s; *p != '\0';) {
		size_t n = 0;

		while (isdigit((unsigned char)p[n]))
			n++;
		if (n == 8 || n == 9)
			memset(p, '*', n);
		p += n > 0 ? n : 1;
	}
}

/* Reports and logs one rejected record. */
static void reject(struct ingest *in, const char *place, const char *reason)
{
	char why[512];
	struct errbuf e;

	snprintf(why, sizeof(why), "%s", reason);
	redact_bsn(why);
	in->res.rejected++;
	if (in->opts.on_reject != NULL)
		in->opts.on_reject(in->opts.arg, place, why);
	if (in->failed)
		return;
	if (exlog_append(in->app->store, "reject", in->opts.party, in->opts.origin,
			 json_pack("{s:s, s:s, s:s, s:I}", "adapter", in->la->adapter->name,
				   "place", place, "reason", why, "ingest", (json_int_t)in->res.ingest_id),
			 &e) != ST_OK) {
		in->failed = true;
		in->fatal = e;
	}
}

static void host_cursor(void *ctx, const char *next)
{
	struct ingest *in = ctx;

	in->cursor_seen = true;
	in->cursor_null = next == NULL;
	if (next != NULL && strlen(next) >= sizeof(in->cursor)) {
		in->failed = true;
		errbuf_set(&in->fatal, ST_FAIL, "the page's cursor is longer than %zu bytes",
			   sizeof(in->cursor) - 1);
		return;
	}
	snprintf(in->cursor, sizeof(in->cursor), "%s", next != NULL ? next : "");
}

static void host_reject(void *ctx, const char *place, const char *reason)
{
	reject(ctx, place != NULL ? place : "?", reason != NULL ? reason : "rejected");
}

/* Pseudonymises and encrypts one BSN. */
static enum status seal(struct ingest *in, const char bsn[10], uint8_t pseudonym[PSEUDONYM_LEN],
			uint8_t sealed[SEALED_BSN_LEN])
{
	crypto_pseudonym(&in->app->keys, bsn, pseudonym);
	return crypto_seal_bsn(&in->app->keys, bsn, pseudonym, sealed, &in->fatal);
}

static enum status store_finding(struct ingest *in, const struct record *r, bool *changed)
{
	struct finding_person *fp = NULL;
	struct finding_row row = {
		.id = r->id, .datum = r->datum, .soort = r->soort, .kvk = r->kvk,
		.address = r->address, .aangetroffen = r->aangetroffen, .npersons = r->nbsn,
	};
	enum status st = ST_FAIL;

	if (r->nbsn > 0) {
		fp = calloc(r->nbsn, sizeof(*fp));
		if (fp == NULL)
			return errbuf_set(&in->fatal, ST_FAIL, "out of memory");
	}
	for (size_t i = 0; i < r->nbsn; i++)
		if (seal(in, r->bsns[i], fp[i].pseudonym, fp[i].bsn_sealed) != ST_OK)
			goto out_free;
	row.persons = fp;
	st = store_put_finding(in->app->store, in->res.ingest_id, &row, changed, &in->fatal);
out_free:
	free(fp);
	return st;
}

/* Stores a normalised, validated record. */
static enum status store_record(struct ingest *in, const struct record *r, bool *changed)
{
	struct store *s = in->app->store;

	switch (r->kind) {
	case ADAPTER_PERSON: {
		struct person_row row = { .begindatum = r->begindatum, .address = r->address };

		if (seal(in, r->bsn, row.pseudonym, row.bsn_sealed) != ST_OK)
			return ST_FAIL;
		return store_put_person(s, in->res.ingest_id, &row, changed, &in->fatal);
	}
	case ADAPTER_DWELLING: {
		struct dwelling_row row = {
			.address = r->address, .oppervlakte = r->oppervlakte,
			.gebruiksdoel = r->gebruiksdoel, .max_bewoners = r->max_bewoners,
			.vergunning = r->vergunning, .vergunning_tot = r->vergunning_tot,
		};

		return store_put_dwelling(s, in->res.ingest_id, &row, changed, &in->fatal);
	}
	default:
		return store_finding(in, r, changed);
	}
}

/* The adapter's record callback: one record through the pipeline. */
static int host_record(void *ctx, const struct adapter_record *rec)
{
	struct ingest *in = ctx;
	const char *place = rec->place != NULL ? rec->place : "?";
	struct record r;
	struct errbuf e;
	bool changed = false, nomem;

	if (in->failed)
		return -1;
	if (in->res.accepted + in->res.rejected >= (long)in->app->cfg.max_records) {
		errbuf_set(&in->fatal, ST_FAIL, "%s: more than %zu records in one input "
			   "([ingest] max_records)", place, in->app->cfg.max_records);
		return -1;
	}
	if (record_normalise(rec, &r, &e) != ST_OK) {
		if (strcmp(e.msg, "out of memory") == 0)	/* ours, not the record's */
			return errbuf_set(&in->fatal, ST_FAIL, "out of memory"), in->failed = true,
			       -1;
		reject(in, place, e.msg);
		return in->failed ? -1 : 0;
	}
	if (in->opts.gemeenten != NULL && in->opts.gemeenten->n > 0 &&
	    !strlist_has(in->opts.gemeenten, r.address.gemeentecode)) {
		errbuf_set(&e, ST_FAIL, "gemeentecode %s is not one this party may supply",
			   r.address.gemeentecode);
		reject(in, place, e.msg);
		record_clear(&r);
		return in->failed ? -1 : 0;
	}
	if (record_validate(in->app->records, &r, &nomem, &e) != ST_OK) {
		record_clear(&r);
		if (nomem) {	/* the broker failed, not the record: stop the input */
			in->failed = true;
			errbuf_set(&in->fatal, ST_FAIL, "out of memory while validating %s", place);
			return -1;
		}
		reject(in, place, e.msg);
		return in->failed ? -1 : 0;
	}
	if (store_record(in, &r, &changed) != ST_OK) {
		in->failed = true;
		record_clear(&r);
		return -1;
	}
	record_clear(&r);
	in->res.accepted++;
	in->res.changed += changed;
	return 0;
}

struct ingest *ingest_begin(struct app *app, struct loaded_adapter *la,
			    const struct ingest_opts *opts, struct errbuf *e)
{
	struct ingest *in = calloc(1, sizeof(*in));
	struct adapter_host host = {
		.abi_version = ADAPTER_ABI_VERSION,
		.record = host_record,
		.reject = host_reject,
		.cursor = host_cursor,
		.source_schema = la->schema,
		.max_field_bytes = app->cfg.max_field_bytes,
		.max_depth = app->cfg.max_depth,
	};
	struct ingest_row row = {
		.adapter = la->adapter->name, .origin = opts->origin, .party = opts->party,
		.digest = "",
	};

	if (in == NULL || (in->digest = crypto_sha256_new()) == NULL) {
		free(in);
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	in->app = app;
	in->la = la;
	in->opts = *opts;
	host.ctx = in;
	if (store_begin(app->store, e) != ST_OK)
		goto out_free;
	if (store_ingest_add(app->store, &row, &in->res.ingest_id, e) != ST_OK)
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
	free(in);
	return NULL;
}

/* Turns an adapter result into ours, noting why the input stopped. */
static enum status adapter_result(struct ingest *in, int rc)
{
	if (rc == ADAPTER_OK)
		return ST_OK;
	if (rc == ADAPTER_REFUSED) {
		const char *why = in->la->adapter->error(in->stream);

		in->res.refused = true;
		errbuf_set(&in->fatal, ST_FAIL, "%s", why != NULL ? why : "input refused");
		redact_bsn(in->fatal.msg);
	} else if (rc == ADAPTER_NOMEM) {
		in->failed = true;
		errbuf_set(&in->fatal, ST_FAIL, "%s adapter: out of memory",
			   in->la->adapter->name);
	} else if (!in->failed) {	/* ADAPTER_ABORT for a limit */
		in->res.refused = true;
	}
	return ST_FAIL;
}

enum status ingest_feed(struct ingest *in, const void *buf, size_t len, struct errbuf *e)
{
	crypto_sha256_update(in->digest, buf, len);
	in->res.bytes += len;
	if (adapter_result(in, in->la->adapter->feed(in->stream, buf, len)) != ST_OK) {
		*e = in->fatal;
		return ST_FAIL;
	}
	return ST_OK;
}

/* Logs an input refused whole, in a transaction of its own. */
static enum status log_refusal(struct ingest *in, struct errbuf *e)
{
	struct store *s = in->app->store;

	if (store_begin(s, e) != ST_OK)
		return ST_FAIL;
	if (exlog_append(s, "reject", in->opts.party, in->opts.origin,
			 json_pack("{s:s, s:s, s:s, s:s, s:I}", "adapter", in->la->adapter->name,
				   "place", "file", "reason", in->fatal.msg, "digest",
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
				   "ingest", (json_int_t)in->res.ingest_id), e) != ST_OK)
		return ST_FAIL;
	if (in->opts.before_commit != NULL &&
	    in->opts.before_commit(in->opts.arg, s, in->cursor_seen,
				   in->cursor_null ? NULL : in->cursor, e) != ST_OK)
		return ST_FAIL;
	return store_commit(s, e);
}

enum status ingest_end(struct ingest *in, struct ingest_result *res, struct errbuf *e)
{
	enum status st = ST_FAIL;

	if (!in->res.refused && !in->failed)
		adapter_result(in, in->la->adapter->finish(in->stream));
	crypto_sha256_final(in->digest, in->res.digest);
	in->digest = NULL;
	if (in->res.refused || in->failed) {
		store_rollback(in->app->store);
		*e = in->fatal;
		if (in->res.refused && log_refusal(in, e) != ST_OK)
			in->res.refused = false;	/* the broker failed after all */
		goto out_free;
	}
	if (commit(in, e) != ST_OK) {
		store_rollback(in->app->store);
		goto out_free;
	}
	st = in->res.rejected > 0 ? ST_REJECTED : ST_OK;
out_free:
	*res = in->res;
	if (st == ST_FAIL) {
		res->accepted = res->changed = 0;
	}
	in->la->adapter->close(in->stream);
	free(in);
	return st;
}

enum status ingest_file(struct app *app, struct loaded_adapter *la, const char *path,
			const struct ingest_opts *opts, struct ingest_result *res,
			struct errbuf *e)
{
	static char buf[1 << 16];
	struct ingest *in;
	enum status st = ST_OK;
	ssize_t n;
	int fd;

	memset(res, 0, sizeof(*res));
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(e, ST_FAIL, "cannot open %s: %s", path, strerror(errno));
	in = ingest_begin(app, la, opts, e);
	if (in == NULL) {
		st = ST_FAIL;
		goto out_close;
	}
	while (st == ST_OK && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			in->failed = true;
			errbuf_set(&in->fatal, ST_FAIL, "cannot read %s: %s", path,
				   strerror(errno));
			break;
		}
		st = ingest_feed(in, buf, (size_t)n, e);
		if (opts->on_progress != NULL && (in->res.bytes & ((1u << 22) - 1)) < (uint64_t)n)
			opts->on_progress(opts->arg, in->res.bytes,
					  in->res.accepted + in->res.rejected);
	}
	st = ingest_end(in, res, e);
out_close:
	if (fd != STDIN_FILENO)
		close(fd);
	return st;
}
