/*
 * test_outbox.c - signals, feedback and the delivery outbox through the
 * store interface, on both backends: SQLite always, PostgreSQL when
 * SCHAKEL_TEST_PG_DSN names a database (tests/pg/outbox.sh starts a
 * cluster and runs this program with it; without it those tests skip).
 *
 * The outbox is claimed by lease (store_deliveries_claim()): a row node A
 * claimed is not claimable by node B until A's lease lapses, then B gets
 * it under the same message id; A's late outcome does not overwrite B's;
 * two claimers at once never get the same row (on PostgreSQL by FOR
 * UPDATE SKIP LOCKED: a row another transaction holds is passed over,
 * not waited for).
 */
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>

#include "store.h"

#define NODE_A "node-a"
#define NODE_B "node-b"
#define LEASE 30
#define T0 1000000		/* "now" of the tests, Unix seconds */

struct fx {
	bool pg;
	char *dir;		/* SQLite: its directory */
	char *db;
	struct store *s;
	struct errbuf e;
	char oin[21];		/* this test's recipient (PostgreSQL's database is shared) */
	char tag[16];
	/* what the callbacks saw */
	int n;
	struct delivery_row rows[64];
	struct signal_filter f;
	char ids[8][40];
	int64_t seqs[8];
	char line[512];		/* keep_signal(): the first signal, as text */
};

static int tests_run;	/* numbers each test's rows apart on a shared database */

/* Fails the test with the store's message unless call returns ST_OK. */
#define OK(f, call) do { \
	if ((call) != ST_OK) \
		fail_msg("%s: %s", #call, (f)->e.msg); \
} while (0)	/* numbers each test's rows apart on a shared database */

/* Opens another connection to the fixture's store; NULL on failure (e says why). */
static struct store *open_again(struct fx *f, const char *dsn_extra)
{
	struct store *s = NULL;
	char dsn[1024];

	if (!f->pg) {
		if (store_open(f->db, SCHAKEL_SCHEMA_DIR, 5000, &s, &f->e) != ST_OK)
			return NULL;
		return s;
	}
	snprintf(dsn, sizeof(dsn), "%s%s", getenv("SCHAKEL_TEST_PG_DSN"), dsn_extra);
	if (store_open_dsn(dsn, NULL, SCHAKEL_SCHEMA_DIR, &s, &f->e) != ST_OK)
		return NULL;
	return s;
}

static int setup_backend(void **state, bool pg)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->pg = pg;
	tests_run++;
	snprintf(f->oin, sizeof(f->oin), "%020d", 77000 + tests_run);
	snprintf(f->tag, sizeof(f->tag), "t%d-%ld", tests_run, (long)getpid());
	*state = f;
	if (pg && getenv("SCHAKEL_TEST_PG_DSN") == NULL)
		return 0;	/* the test skips */
	if (!pg && ((f->dir = testutil_tmpdir()) == NULL ||
		    asprintf(&f->db, "%s/schakel.db", f->dir) < 0))
		return -1;
	f->s = open_again(f, "");
	if (f->s == NULL) {
		fprintf(stderr, "open the store: %s\n", f->e.msg);
		return -1;
	}
	return 0;
}

static int setup_sqlite(void **state)
{
	return setup_backend(state, false);
}

static int setup_pg(void **state)
{
	return setup_backend(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	free(f->db);
	testutil_rmtree(f->dir);
	free(f);
	return 0;
}

/* Skips a PostgreSQL test without a database to run it on. */
#define NEEDS_STORE(f) do { if ((f)->s == NULL) skip(); } while (0)

static const struct address HERE = { .gemeentecode = "1783", .postcode = "2671AB",
				      .huisnummer = 7 };

/* The address (through a dwelling, as an ingest stores it) and a person there. */
static void put_records(struct fx *f, const uint8_t pseudonym[PSEUDONYM_LEN],
			const uint8_t sealed[SEALED_BSN_LEN])
{
	struct ingest_row ir = { "huisvesting", "test", NULL, "00", 0, 0 };
	struct dwelling_row d = { .address = HERE, .oppervlakte = 30, .max_bewoners = -1 };
	struct person_row p = { .begindatum = "2020-01-01", .address = HERE };
	bool changed;
	int64_t id;

	memcpy(p.pseudonym, pseudonym, PSEUDONYM_LEN);
	memcpy(p.bsn_sealed, sealed, SEALED_BSN_LEN);
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_ingest_add(f->s, &ir, &id, &f->e));
	OK(f, store_put_dwelling(f->s, id, &d, &changed, &f->e));
	OK(f, store_put_person(f->s, id, &p, &changed, &f->e));
	OK(f, store_commit(f->s, &f->e));
}

/* Signal id of the fixture's signal i, into out. */
static void signal_id(const struct fx *f, int i, char out[33])
{
	snprintf(out, 33, "%s-s%d", f->tag, i);
}

/*
 * n signals for f->oin, each with one delivery (message id TAG-mI), due
 * at T0 + i (so they are claimed in that order).
 */
static void put_outbox(struct fx *f, int n)
{
	static const uint8_t nobody[PSEUDONYM_LEN] = { 1 }, sealed[SEALED_BSN_LEN] = { 2 };
	char (*to)[21] = calloc(1, sizeof(*to));

	assert_non_null(to);
	memcpy(to[0], f->oin, sizeof(to[0]));
	put_records(f, nobody, sealed);
	OK(f, store_begin(f->s, &f->e));
	for (int i = 0; i < n; i++) {
		struct signal sig = { .rule = "OVERBEWONING", .as_of = "2026-11-04",
				      .created = "2026-11-04T10:00:00Z", .address = HERE,
				      .registered = 9, .observed = 0, .oppervlakte = 30,
				      .max_bewoners = -1, .recipients = to, .nrecipients = 1 };
		char msg[48];
		bool created;

		signal_id(f, i, sig.id);
		snprintf(msg, sizeof(msg), "%s-m%d", f->tag, i);
		OK(f, store_put_signal(f->s, &sig, &created, &f->e));
		assert_true(created);
		OK(f, store_delivery_add(f->s, sig.id, f->oin, msg, T0 + i, &f->e));
	}
	OK(f, store_commit(f->s, &f->e));
	free(to);
}

static int keep_row(void *arg, const struct delivery_row *d)
{
	struct fx *f = arg;

	assert_true(f->n < 64);
	f->rows[f->n++] = *d;
	return 0;
}

/* Claims for node with store s at now; returns how many rows came (f->rows). */
static int claim(struct fx *f, struct store *s, const char *node, int64_t now, long limit)
{
	f->n = 0;
	if (store_deliveries_claim(s, node, f->oin, now, LEASE, limit, keep_row, f, &f->e) != ST_OK)
		fail_msg("claim: %s", f->e.msg);
	return f->n;
}

/* Records an attempt's outcome for row d as a deliverer does. */
static void record(struct fx *f, struct store *s, struct delivery_row d, const char *state,
		   int64_t at)
{
	snprintf(d.state, sizeof(d.state), "%s", state);
	d.attempts++;
	d.delivered_at = strcmp(state, "delivered") == 0 ? at : 0;
	d.last_status = 201;
	OK(f, store_begin(s, &f->e));
	OK(f, store_delivery_update(s, &d, &f->e));
	OK(f, store_commit(s, &f->e));
}

/* The state of f->oin's delivery with message id msg ("" when none). */
static const char *state_of(struct fx *f, const char *msg)
{
	static char state[12];

	state[0] = '\0';
	f->n = 0;
	OK(f, store_deliveries(f->s, -1, false, 0, keep_row, f, &f->e));
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->rows[i].message_id, msg) == 0)
			snprintf(state, sizeof(state), "%s", f->rows[i].state);
	return state;
}

/*
 * Node A claims the oldest row with a lease of LEASE seconds; node B gets
 * the other one, and not A's until A's lease lapses; then B's claim has
 * A's message id, A's late outcome is left alone, B's counts, and a
 * delivered row is never claimed again.
 */
static void test_a_lease_holds_until_it_lapses(void **state)
{
	struct fx *f = *state;
	struct delivery_row a, b;
	char msg0[48];

	NEEDS_STORE(f);
	put_outbox(f, 2);
	snprintf(msg0, sizeof(msg0), "%s-m0", f->tag);
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 5, 1), 1);
	a = f->rows[0];
	assert_string_equal(a.message_id, msg0);
	assert_string_equal(a.locked_by, NODE_A);
	/* B: only the row A does not hold; then nothing while both leases live */
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 10, 5), 1);
	assert_string_not_equal(f->rows[0].message_id, msg0);
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 5 + LEASE - 1, 5), 0);
	/* A's lease lapses at T0 + 5 + LEASE: B takes the row, same message */
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 5 + LEASE, 5), 1);
	assert_int_equal(f->rows[0].id, a.id);
	assert_string_equal(f->rows[0].message_id, msg0);
	assert_string_equal(f->rows[0].locked_by, NODE_B);
	b = f->rows[0];
	/* A answers late ("retry"): B's claim stands, and B's outcome counts */
	record(f, f->s, a, "pending", T0 + 40);
	assert_string_equal(state_of(f, msg0), "pending");
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 39, 5), 0);	/* both of B's live */
	record(f, f->s, b, "delivered", T0 + 42);
	assert_string_equal(state_of(f, msg0), "delivered");
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 10 * LEASE, 5), 1);	/* the other row */
	assert_string_not_equal(f->rows[0].message_id, msg0);
}

/*
 * A node's earlier claims are released when it starts again
 * (store_deliveries_release()); a signal queued again (it ended) is
 * claimable at once under its new message id, whatever lease it had.
 */
static void test_release_and_requeue_end_the_lease(void **state)
{
	struct fx *f = *state;
	char sid[33];
	long n = -1;

	NEEDS_STORE(f);
	put_outbox(f, 2);
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 5, 5), 2);
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 6, 5), 0);
	OK(f, store_deliveries_release(f->s, NODE_B, &n, &f->e));
	assert_int_equal(n, 0);
	OK(f, store_deliveries_release(f->s, NODE_A, &n, &f->e));
	assert_true(n >= 2);	/* on a shared database: this test's two, at least */
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 7, 5), 2);
	signal_id(f, 1, sid);
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_delivery_requeue(f->s, sid, f->oin, "again-1", T0 + 8, &f->e));
	OK(f, store_commit(f->s, &f->e));
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 8, 5), 1);
	assert_string_equal(f->rows[0].message_id, "again-1");
	assert_string_equal(f->rows[0].locked_by, NODE_A);
}

/* What two claimers took, each on its own connection (a thread each). */
struct claimer {
	struct fx *f;
	pthread_barrier_t *go;	/* both start together */
	struct store *s;
	const char *node;
	int64_t got[256];
	int n;
	char error[1024];
};

static int took(void *arg, const struct delivery_row *d)
{
	struct claimer *c = arg;

	if (c->n < 256)
		c->got[c->n++] = d->id;
	return 0;
}

/* Claims 3 rows at a time, with a lease longer than the test, until none come. */
static void *claim_all(void *arg)
{
	struct claimer *c = arg;
	struct errbuf e;

	pthread_barrier_wait(c->go);
	for (;;) {
		int before = c->n;

		if (store_deliveries_claim(c->s, c->node, c->f->oin, T0 + 500, 3600, 3, took, c,
					   &e) != ST_OK) {
			snprintf(c->error, sizeof(c->error), "%s", e.msg);
			break;
		}
		if (c->n == before)
			break;
	}
	return NULL;
}

/*
 * Two nodes claim the same recipient's 150 rows at once: together they
 * get every row, and no row twice.
 */
static void test_two_claimers_never_share_a_row(void **state)
{
	struct fx *f = *state;
	pthread_barrier_t go;
	struct claimer a = { .f = f, .go = &go, .node = NODE_A },
		       b = { .f = f, .go = &go, .node = NODE_B };
	pthread_t ta, tb;
	int total;

	NEEDS_STORE(f);
	put_outbox(f, 150);
	a.s = open_again(f, "");
	b.s = open_again(f, "");
	assert_non_null(a.s);
	assert_non_null(b.s);
	assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
	assert_int_equal(pthread_create(&ta, NULL, claim_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, claim_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&go);
	store_close(a.s);
	store_close(b.s);
	if (a.error[0] != '\0' || b.error[0] != '\0')
		fail_msg("claim: %s%s", a.error, b.error);
	total = a.n + b.n;
	print_message("# 150 rows: node A claimed %d, node B %d\n", a.n, b.n);
	assert_int_equal(total, 150);
	for (int i = 0; i < a.n; i++)
		for (int j = 0; j < b.n; j++)
			assert_true(a.got[i] != b.got[j]);
	for (int i = 0; i < a.n; i++)
		for (int j = i + 1; j < a.n; j++)
			assert_true(a.got[i] != a.got[j]);
	for (int i = 0; i < b.n; i++)
		for (int j = i + 1; j < b.n; j++)
			assert_true(b.got[i] != b.got[j]);
}

/*
 * PostgreSQL: a row another transaction has locked (an outcome being
 * written, say) is passed over, not waited for: the claim takes the next
 * one at once.  The claimer's connection gives up on a lock after 5 s,
 * so a claim that waited would fail rather than hang.
 */
static void test_a_locked_row_is_skipped_not_waited_for(void **state)
{
	struct fx *f = *state;
	struct store *other;
	struct delivery_row first;
	char msg0[48];

	NEEDS_STORE(f);
	if (!f->pg)
		skip();
	put_outbox(f, 2);
	snprintf(msg0, sizeof(msg0), "%s-m0", f->tag);
	f->n = 0;
	OK(f, store_deliveries_of(f->s, f->oin, T0 + 5, 1, keep_row, f, &f->e));
	assert_int_equal(f->n, 1);
	first = f->rows[0];
	assert_string_equal(first.message_id, msg0);
	other = open_again(f, " options='-c lock_timeout=5000'");
	assert_non_null(other);
	OK(f, store_begin(f->s, &f->e));	/* holds the first row */
	OK(f, store_delivery_update(f->s, &first, &f->e));
	assert_int_equal(claim(f, other, NODE_B, T0 + 5, 5), 1);
	assert_string_not_equal(f->rows[0].message_id, msg0);
	store_rollback(f->s);
	assert_int_equal(claim(f, other, NODE_B, T0 + 5, 5), 1);
	assert_string_equal(f->rows[0].message_id, msg0);
	store_close(other);
}

static int keep_signal(void *arg, const struct signal *sig)
{
	struct fx *f = arg;
	char line[512];
	size_t len;

	len = (size_t)snprintf(line, sizeof(line), "%s %s %s %s|%d%s", sig->id + strlen(f->tag),
			       sig->rule, sig->as_of, sig->address.postcode, sig->address.huisnummer,
			       sig->has_person ? " person" : "");
	for (size_t i = 0; i < sig->nevidence; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%s",
					sig->evidence[i].source, sig->evidence[i].record);
	for (size_t i = 0; i < sig->nrecipients; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " to %.4s",
					sig->recipients[i] + 16);
	snprintf(line + len, sizeof(line) - len, " %ld/%ld/%ld/%ld trace=%s ended=%s",
		 sig->registered, sig->observed, sig->oppervlakte, sig->max_bewoners,
		 sig->trace_id, sig->ended_on);
	assert_true(f->n < 8);
	snprintf(f->ids[f->n], sizeof(f->ids[0]), "%s", sig->id);
	f->seqs[f->n] = sig->seq;
	if (f->n == 0)
		snprintf(f->line, sizeof(f->line), "%s", line);
	f->n++;
	return 0;
}

static int feedback_seen(void *arg, const char *rule, const char *outcome, long n)
{
	long *bevestigd = arg;

	if (strcmp(rule, "ADRES_AFWIJKING") == 0 && strcmp(outcome, "bevestigd") == 0)
		*bevestigd = n;
	return 0;
}

/*
 * A signal with a person, evidence of every kind (quotes, backslashes and
 * a control character in a finding id), two recipients and a trace reads
 * back as written, once; the filters (id, rule, recipient, after, limit)
 * select as on SQLite; it ends once; feedback counts; the person's BSN
 * ciphertext comes back.
 */
static void test_a_signal_reads_back_as_written(void **state)
{
	struct fx *f = *state;
	static const uint8_t person[PSEUDONYM_LEN] = { 0xab, 0xcd }, sealed[SEALED_BSN_LEN] = { 9, 8 };
	struct evidence ev[3] = { { "inspectie", "NLA \"7\" \\ x\x01 caf\xc3\xa9" },
				  { "brp", "abcd/2020-01-01" }, { "huisvesting", "2671AB|7||" } };
	char to[2][21], expect[512];
	struct signal sig = { .rule = "ADRES_AFWIJKING", .as_of = "2026-11-04",
			      .created = "2026-11-04T10:00:00Z", .address = HERE, .has_person = true,
			      .registered_address = HERE, .registered = 1, .observed = 4,
			      .oppervlakte = -1, .max_bewoners = 12, .evidence = ev, .nevidence = 3,
			      .recipients = to, .nrecipients = 2 };
	uint8_t got[SEALED_BSN_LEN];
	bool created, routed, found;
	long before = 0, after = 0;
	int64_t fid;

	NEEDS_STORE(f);
	memcpy(sig.person, person, PSEUDONYM_LEN);
	snprintf(to[0], sizeof(to[0]), "%s", f->oin);
	snprintf(to[1], sizeof(to[1]), "%020d", 99000 + tests_run);
	put_records(f, person, sealed);
	signal_id(f, 0, sig.id);
	store_trace_set(f->s, "0af7651916cd43dd8448eb211c80319c");
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_put_signal(f->s, &sig, &created, &f->e));
	assert_true(created);
	OK(f, store_put_signal(f->s, &sig, &created, &f->e));
	assert_false(created);
	OK(f, store_commit(f->s, &f->e));
	store_trace_set(f->s, NULL);

	f->f = (struct signal_filter){ .id = sig.id };
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	assert_int_equal(f->n, 1);
	snprintf(expect, sizeof(expect), "-s0 ADRES_AFWIJKING 2026-11-04 2671AB|7 person"
		 " inspectie=NLA \"7\" \\ x\x01 caf\xc3\xa9 brp=abcd/2020-01-01"
		 " huisvesting=2671AB|7|| to %.4s to %.4s 1/4/-1/12"
		 " trace=0af7651916cd43dd8448eb211c80319c ended=",
		 strcmp(to[0], to[1]) < 0 ? to[0] + 16 : to[1] + 16,
		 strcmp(to[0], to[1]) < 0 ? to[1] + 16 : to[0] + 16);
	assert_string_equal(f->line, expect);
	/* the filters: by recipient (with a cursor), by rule, a limit */
	f->n = 0;
	f->f = (struct signal_filter){ .recipient = to[1] };
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	assert_int_equal(f->n, 1);
	f->n = 0;
	f->f = (struct signal_filter){ .recipient = to[1], .rule = "OVERBEWONING" };
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	assert_int_equal(f->n, 0);
	OK(f, store_signal_routed(f->s, sig.id, to[1], &routed, &f->e));
	assert_true(routed);
	OK(f, store_signal_routed(f->s, sig.id, "00000000000000000001", &routed,
					     &f->e));
	assert_false(routed);
	/* ended once, as of its date; the cursor passes it */
	f->n = 0;
	f->f = (struct signal_filter){ .id = sig.id };
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_end_signal(f->s, f->seqs[0], "2026-11-05", &f->e));
	OK(f, store_end_signal(f->s, f->seqs[0], "2026-11-09", &f->e));
	OK(f, store_commit(f->s, &f->e));
	f->n = 0;
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	assert_non_null(strstr(f->line, " ended=2026-11-05"));
	f->n = 0;
	f->f = (struct signal_filter){ .recipient = to[1], .after = f->seqs[0] };
	OK(f, store_signals(f->s, &f->f, keep_signal, f, &f->e));
	assert_int_equal(f->n, 0);
	/* the person's sealed BSN, and feedback counted per rule and outcome */
	OK(f, store_person_bsn(f->s, person, got, &found, &f->e));
	assert_true(found);
	assert_memory_equal(got, sealed, SEALED_BSN_LEN);
	OK(f, store_feedback_counts(f->s, feedback_seen, &before, &f->e));
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_put_feedback(f->s, sig.id, to[0], "bevestigd", "klopt", &fid,
					    &f->e));
	OK(f, store_commit(f->s, &f->e));
	assert_true(fid > 0);
	OK(f, store_feedback_counts(f->s, feedback_seen, &after, &f->e));
	assert_int_equal(after, before + 1);
}


static int count_gauge(void *arg, const struct gauge *g)
{
	struct fx *f = arg;

	if (strcmp(g->metric, "schakel_deliveries") == 0 && g->value1 != NULL &&
	    strcmp(g->value1, f->oin) == 0 && strcmp(g->value2, "failed") == 0)
		f->n += (int)g->value;
	return 0;
}

static int backlog_row(void *arg, int ncols, const char *const *cols)
{
	struct fx *f = arg;

	assert_int_equal(ncols, 5);
	if (cols[0] != NULL && strcmp(cols[0], f->oin) == 0)
		snprintf(f->line, sizeof(f->line), "%s pending %s failed %s delivered %s", cols[0],
			 cols[1], cols[3], cols[4]);
	return 0;
}

/*
 * Dead letters: a row failed at once is listed with --failed, counted in
 * the figures and the dashboard's backlog, and sent again by retry; the
 * database answers the write check.
 */
static void test_dead_letters_figures_and_retry(void **state)
{
	struct fx *f = *state;
	struct delivery_row d;
	char expect[128];
	long n = 0;

	NEEDS_STORE(f);
	put_outbox(f, 3);
	assert_int_equal(claim(f, f->s, NODE_A, T0 + 5, 1), 1);
	d = f->rows[0];
	record(f, f->s, d, "failed", T0 + 6);
	f->n = 0;
	OK(f, store_gauges(f->s, count_gauge, f, &f->e));
	assert_int_equal(f->n, 1);
	f->line[0] = '\0';
	OK(f, store_report(f->s, REPORT_BACKLOG, backlog_row, f, &f->e));
	snprintf(expect, sizeof(expect), "%s pending 2 failed 1 delivered 0", f->oin);
	assert_string_equal(f->line, expect);
	OK(f, store_begin(f->s, &f->e));
	OK(f, store_delivery_retry(f->s, d.id, T0 + 7, &n, &f->e));
	OK(f, store_commit(f->s, &f->e));
	assert_int_equal(n, 1);
	assert_int_equal(claim(f, f->s, NODE_B, T0 + 7, 5), 3);	/* due again, at the back */
	assert_int_equal(f->rows[2].id, d.id);
	assert_int_equal(f->rows[2].attempts, 0);
	OK(f, store_check_writable(f->s, 1000, &f->e));
}

/* A test on SQLite, and again on PostgreSQL (skipped without a database). */
#define BOTH(t) { #t " (sqlite)", t, setup_sqlite, teardown, NULL }, \
	{ #t " (postgresql)", t, setup_pg, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_a_signal_reads_back_as_written),
		BOTH(test_a_lease_holds_until_it_lapses),
		BOTH(test_release_and_requeue_end_the_lease),
		BOTH(test_two_claimers_never_share_a_row),
		BOTH(test_dead_letters_figures_and_retry),
		{ "test_a_locked_row_is_skipped_not_waited_for (postgresql)",
		  test_a_locked_row_is_skipped_not_waited_for, setup_pg, teardown, NULL },
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
