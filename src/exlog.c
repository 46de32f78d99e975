/*
 * exlog.c - the hash-chained exchange log (see exlog.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "esc.h"
#include "exlog.h"
#include "norm.h"

void exlog_hash(const struct exlog_row *r, char out[65])
{
	struct sha256 *h = crypto_sha256_new();
	char seq[24];

	if (h == NULL) {	/* out of memory: a hash that matches nothing */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	snprintf(seq, sizeof(seq), "%" PRId64, r->seq);
	const char *parts[] = { r->prev, seq, r->at, r->kind, r->party, r->subject, r->detail };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (i > 0)
			crypto_sha256_update(h, "\n", 1);
		if (parts[i] != NULL)
			crypto_sha256_update(h, parts[i], strlen(parts[i]));
	}
	if (r->trace_id != NULL && r->trace_id[0] != '\0') {	/* since migration 10 */
		crypto_sha256_update(h, "\n", 1);
		crypto_sha256_update(h, r->trace_id, strlen(r->trace_id));
	}
	crypto_sha256_final(h, out);
}

/* The time now as 2026-11-01T08:00:00.123Z. */
static void now_utc(char out[32])
{
	struct timespec ts;
	struct tm tm;

	char ms[8];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ms, sizeof(ms), ".%03uZ", (unsigned)(ts.tv_nsec / 1000000) % 1000u);
	strcat(out, ms);	/* NOLINT(clang-analyzer-security.insecureAPI.strcpy): 19 + 5 + 1 bytes fit in 32 */
}

enum status exlog_append_text(struct store *s, const char *kind, const char *party,
			      const char *subject, const char *detail, struct errbuf *e)
{
	struct exlog_row r = { .kind = kind, .party = party, .subject = subject,
			       .detail = detail, .trace_id = store_trace(s) };

	if (store_log_head(s, &r.seq, r.prev, e) != ST_OK)
		return ST_FAIL;
	r.seq++;
	now_utc(r.at);
	exlog_hash(&r, r.hash);
	if (r.hash[0] == 'x')	/* exlog_hash() ran out of memory */
		return errbuf_set(e, ST_FAIL, "exchange log: out of memory");
	return store_log_insert(s, &r, e);
}

enum status exlog_append(struct store *s, const char *kind, const char *party,
			 const char *subject, json_t *detail, struct errbuf *e)
{
	enum status st;
	char *text;

	if (detail == NULL)
		return errbuf_set(e, ST_FAIL, "exchange log: out of memory");
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (text == NULL)
		return errbuf_set(e, ST_FAIL, "exchange log: out of memory");
	st = exlog_append_text(s, kind, party, subject, text, e);
	free(text);
	return st;
}

struct verify {
	int64_t expect_seq;
	char prev[65];
	long entries;
	struct errbuf *e;
};

static int verify_entry(void *arg, const struct exlog_row *r)
{
	struct verify *v = arg;
	char hash[65];

	if (r->seq != v->expect_seq) {
		errbuf_set(v->e, ST_FAIL, "entry %" PRId64 ": expected entry %" PRId64
			   " here (entries are missing)", r->seq, v->expect_seq);
		return 1;
	}
	if (strcmp(r->prev, v->prev) != 0) {
		errbuf_set(v->e, ST_FAIL, "entry %" PRId64 ": its link to entry %" PRId64
			   " does not match (an entry before it was changed or removed)",
			   r->seq, r->seq - 1);
		return 1;
	}
	exlog_hash(r, hash);
	if (strcmp(hash, r->hash) != 0) {
		errbuf_set(v->e, ST_FAIL, "entry %" PRId64 ": its content does not match "
			   "its hash (the entry was changed)", r->seq);
		return 1;
	}
	memcpy(v->prev, r->hash, sizeof(v->prev));
	v->expect_seq++;
	v->entries++;
	return 0;
}

enum status exlog_verify(struct store *s, long *entries, struct errbuf *e)
{
	struct verify v = { .expect_seq = 1, .e = e };

	memset(v.prev, '0', 64);
	v.prev[64] = '\0';
	*entries = 0;
	if (store_log_scan(s, 1, NULL, 0, verify_entry, &v, e) != ST_OK)
		return ST_FAIL;
	*entries = v.entries;
	return ST_OK;
}

/* The text a checkpoint signs. */
static int checkpoint_text(char *out, size_t n, int64_t seq, const char *hash, const char *at)
{
	return snprintf(out, n, "schakel-checkpoint\n%" PRId64 "\n%s\n%s", seq, hash, at);
}

/* Reads a whole (small) file into a malloc'd string. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

struct last_cp {
	int64_t seq;
};

static int note_last(void *arg, const struct checkpoint_row *c)
{
	((struct last_cp *)arg)->seq = c->seq;
	return 0;
}

enum status exlog_checkpoint(struct store *s, const char *key_pem, const char *cert_pem,
			     bool *made, struct errbuf *e)
{
	struct checkpoint_row c = { 0 };
	struct last_cp last = { 0 };
	unsigned char *sig = NULL;
	char text[256], *cert;
	enum status st = ST_FAIL;

	*made = false;
	if (store_log_head(s, &c.seq, c.hash, e) != ST_OK ||
	    store_checkpoints(s, note_last, &last, e) != ST_OK)
		return ST_FAIL;
	if (c.seq == 0 || c.seq <= last.seq)
		return ST_OK;	/* nothing new to sign */
	cert = read_text(cert_pem);
	if (cert == NULL)
		return errbuf_set(e, ST_FAIL, "cannot read %s", cert_pem);
	now_utc(c.at);
	checkpoint_text(text, sizeof(text), c.seq, c.hash, c.at);
	if (crypto_sign(key_pem, text, strlen(text), &sig, &c.signature_len, e) != ST_OK)
		goto out_free;
	c.signature = sig;
	c.certificate = cert;
	if (store_begin(s, e) != ST_OK)
		goto out_free;
	if (store_checkpoint_add(s, &c, e) != ST_OK || store_commit(s, e) != ST_OK) {
		store_rollback(s);
		goto out_free;
	}
	*made = true;
	st = ST_OK;
out_free:
	free(sig);
	free(cert);
	return st;
}

struct prove {
	struct store *s;
	const char *ca;
	struct exlog_proof *p;
	int64_t head;
	struct errbuf *e;
};

/* The hash the chain holds at seq (empty when there is no such entry). */
static int entry_hash(void *arg, const struct exlog_row *r)
{
	snprintf(arg, 65, "%s", r->hash);
	return 1;	/* one is enough */
}

static int prove_checkpoint(void *arg, const struct checkpoint_row *c)
{
	struct prove *pr = arg;
	char text[256], hash[65] = "";
	struct errbuf why;

	if (c->seq > pr->head) {
		errbuf_set(pr->e, ST_FAIL, "entries after %" PRId64 " are missing: checkpoint "
			   "of %s signs entry %" PRId64, pr->head, c->at, c->seq);
		return 1;
	}
	store_log_scan(pr->s, c->seq, NULL, 1, entry_hash, hash, &why);
	if (strcmp(hash, c->hash) != 0) {
		errbuf_set(pr->e, ST_FAIL, "entry %" PRId64 " is not the one the checkpoint of "
			   "%s signed", c->seq, c->at);
		return 1;
	}
	checkpoint_text(text, sizeof(text), c->seq, c->hash, c->at);
	if (crypto_verify(c->certificate, pr->ca, text, strlen(text), c->signature,
			  c->signature_len, &why) != ST_OK) {
		errbuf_set(pr->e, ST_FAIL, "checkpoint of %s (entry %" PRId64 "): %.200s",
			   c->at, c->seq, why.msg);
		return 1;
	}
	pr->p->checkpoints++;
	pr->p->proven_seq = c->seq;
	snprintf(pr->p->proven_at, sizeof(pr->p->proven_at), "%s", c->at);
	return 0;
}

enum status exlog_prove(struct store *s, const char *ca_pem, struct exlog_proof *p,
			struct errbuf *e)
{
	struct prove pr = { s, ca_pem, p, 0, e };
	char hash[65];

	memset(p, 0, sizeof(*p));
	if (exlog_verify(s, &p->entries, e) != ST_OK)
		return ST_FAIL;
	if (store_log_head(s, &pr.head, hash, e) != ST_OK)
		return ST_FAIL;
	return store_checkpoints(s, prove_checkpoint, &pr, e);
}

enum status exlog_check_head(struct store *s, struct errbuf *e)
{
	struct verify v = { .e = e };
	char hash[65];
	int64_t head;
	struct errbuf ignored;

	if (store_log_head(s, &head, hash, e) != ST_OK)
		return ST_FAIL;
	if (head == 0)
		return ST_OK;
	v.expect_seq = head > 1 ? head - 1 : 1;
	memset(v.prev, '0', 64);
	v.prev[64] = '\0';
	if (head > 1) {	/* the entry before the head gives the link to check */
		char prev[65] = "";

		store_log_scan(s, head - 1, NULL, 1, entry_hash, prev, &ignored);
		if (prev[0] == '\0')
			return errbuf_set(e, ST_FAIL, "entry %" PRId64 " is missing", head - 1);
		memcpy(v.prev, prev, sizeof(v.prev));
		v.expect_seq = head;
	}
	if (store_log_scan(s, head, NULL, 1, verify_entry, &v, e) != ST_OK)
		return ST_FAIL;
	return ST_OK;
}

/* The kinds of entry (docs/formats.md); a search for another finds nothing. */
static const char *const exlog_kinds[] = {
	"ingest", "upload", "reject", "match", "signal", "ended", "pull", "delivery", "retry",
	"feedback", "refusal", "inzage", "purge", "disclosure", "recipient_down",
	"recipient_up",
};
#define NKINDS (sizeof(exlog_kinds) / sizeof(exlog_kinds[0]))

/* Whether s is n to m characters, each in set (NULL: no control character). */
static bool filter_shape(const char *s, size_t n, size_t m, const char *set)
{
	size_t len = strlen(s);

	if (len < n || len > m)
		return false;
	return set != NULL ? strspn(s, set) == len : !esc_needed(s);
}

/* The message for filter name with value v, escaped, in e. */
static enum status filter_bad(struct errbuf *e, const char *opt, const char *name,
			      const char *v, const char *why)
{
	char shown[64];

	esc_text(v, shown, sizeof(shown));
	return errbuf_set(e, ST_USAGE, "%s%s '%.48s' %s", opt, name, shown, why);
}

/* Checks kind, party, recipient and status of f (see exlog_filter_check). */
static enum status filter_names(const struct log_filter *f, const char *opt,
				struct errbuf *e)
{
	static const char digits[] = "0123456789";
	bool known = f->kind == NULL;

	for (size_t i = 0; !known && i < NKINDS; i++)
		known = strcmp(f->kind, exlog_kinds[i]) == 0;
	if (!known) {
		char why[256];
		size_t len = (size_t)snprintf(why, sizeof(why), "is not a kind of entry (");

		for (size_t i = 0; i < NKINDS && len < sizeof(why); i++)
			len += (size_t)snprintf(why + len, sizeof(why) - len, "%s%s",
						exlog_kinds[i], i + 1 < NKINDS ? ", " : ")");
		return filter_bad(e, opt, "kind", f->kind, why);
	}
	if (f->party != NULL && !filter_shape(f->party, 20, 20, digits))
		return filter_bad(e, opt, "party", f->party, "is not an OIN (20 digits)");
	if (f->recipient != NULL && !filter_shape(f->recipient, 20, 20, digits))
		return filter_bad(e, opt, "recipient", f->recipient, "is not an OIN (20 digits)");
	if (f->status != NULL && !filter_shape(f->status, 3, 3, digits) &&
	    !filter_shape(f->status, 1, 32, "abcdefghijklmnopqrstuvwxyz_"))
		return filter_bad(e, opt, "status", f->status, "is neither an HTTP status "
				  "(401) nor an outcome (delivered, failed, stored)");
	return ST_OK;
}

enum status exlog_filter_check(const struct log_filter *f, const char *opt,
			       struct errbuf *e)
{
	if (filter_names(f, opt, e) != ST_OK)
		return ST_USAGE;
	if (f->source != NULL && !filter_shape(f->source, 1, 64, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
		return filter_bad(e, opt, "source", f->source, "is not a source or adapter name");
	if (f->id != NULL && !filter_shape(f->id, 1, 256, NULL))
		return filter_bad(e, opt, "id", f->id, "is not an id");
	if (f->since != NULL && norm_time("since", f->since, e) != ST_OK)
		return filter_bad(e, opt, "since", f->since, "is not a time (YYYY-MM-DD or "
				  "YYYY-MM-DDTHH:MM:SSZ, in UTC)");
	if (f->until != NULL && norm_time("until", f->until, e) != ST_OK)
		return filter_bad(e, opt, "until", f->until, "is not a time (YYYY-MM-DD or "
				  "YYYY-MM-DDTHH:MM:SSZ, in UTC)");
	if (f->since != NULL && f->until != NULL && strcmp(f->since, f->until) > 0 &&
	    strncmp(f->since, f->until, strlen(f->until)) != 0)
		return errbuf_set(e, ST_USAGE, "%ssince %s is after %suntil %s: nothing can "
				  "match", opt, f->since, opt, f->until);
	return ST_OK;
}
