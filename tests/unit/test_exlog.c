/*
 * test_exlog.c - the hash-chained exchange log on a real store: appending,
 * verifying, and noticing an entry that was changed or removed behind the
 * store's back.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "exlog.h"
#include "store.h"

struct fx {
	char *dir;
	char *db;		/* DIR/schakel.db */
	struct store *s;
	struct errbuf e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = testutil_tmpdir()) == NULL)
		return -1;
	if (asprintf(&f->db, "%s/schakel.db", f->dir) < 0)
		return -1;
	if (store_open(f->db, SCHAKEL_SCHEMA_DIR, 1000, &f->s, &f->e) != ST_OK) {
		fprintf(stderr, "store_open: %s\n", f->e.msg);
		return -1;
	}
	*state = f;
	return 0;
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

/* Appends n entries in one transaction. */
static void append_tx(struct fx *f, int n, const char *kind)
{
	if (store_begin(f->s, &f->e) != ST_OK)
		fail_msg("begin: %s", f->e.msg);
	for (int i = 0; i < n; i++) {
		json_t *detail = json_pack("{s:s, s:i}", "file", "x.csv", "n", i);

		if (exlog_append(f->s, kind, i % 2 ? "00000001000000001783" : NULL,
				 i % 2 ? NULL : "subject", detail, &f->e) != ST_OK)
			fail_msg("append: %s", f->e.msg);
	}
	if (store_commit(f->s, &f->e) != ST_OK)
		fail_msg("commit: %s", f->e.msg);
}

static long verify_ok(struct fx *f)
{
	long n = -1;

	if (exlog_verify(f->s, &n, &f->e) != ST_OK)
		fail_msg("verify failed: %s", f->e.msg);
	return n;
}

/* Runs SQL on the database file through a connection of its own. */
static int raw_exec(struct fx *f, const char *sql, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (err != NULL)
		snprintf(err, errlen, "%s", msg != NULL ? msg : "");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

struct rows {
	struct exlog_row r[16];
	char *kind[16], *detail[16];
	size_t n;
};

static int collect(void *arg, const struct exlog_row *r)
{
	struct rows *rows = arg;

	if (rows->n == 16)
		return 1;
	rows->r[rows->n] = *r;
	rows->kind[rows->n] = strdup(r->kind);
	rows->detail[rows->n] = strdup(r->detail);
	rows->r[rows->n].kind = rows->kind[rows->n];
	rows->r[rows->n].detail = rows->detail[rows->n];
	rows->r[rows->n].party = NULL;
	rows->r[rows->n].subject = NULL;
	rows->n++;
	return 0;
}

static void rows_free(struct rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->kind[i]);
		free(rows->detail[i]);
	}
}

static void test_empty_log_verifies_with_zero_entries(void **state)
{
	struct fx *f = *state;
	int64_t seq = -1;
	char hash[65];

	assert_int_equal(verify_ok(f), 0);
	assert_int_equal(store_log_head(f->s, &seq, hash, &f->e), ST_OK);
	assert_int_equal(seq, 0);
	assert_string_equal(hash, "0000000000000000000000000000000000000000000000000000000000000000");
}

static void test_verify_counts_entries_appended_in_transactions(void **state)
{
	struct fx *f = *state;

	append_tx(f, 1, "ingest");
	assert_int_equal(verify_ok(f), 1);
	append_tx(f, 3, "reject");
	append_tx(f, 2, "signal");
	assert_int_equal(verify_ok(f), 6);
}

static void test_first_entry_prev_is_64_zeros_and_entries_chain(void **state)
{
	struct fx *f = *state;
	struct rows rows = { .n = 0 };
	char hash[65];

	append_tx(f, 3, "ingest");
	assert_int_equal(store_log_scan(f->s, 1, NULL, 0, collect, &rows, &f->e), ST_OK);
	assert_int_equal(rows.n, 3);
	assert_string_equal(rows.r[0].prev,
			    "0000000000000000000000000000000000000000000000000000000000000000");
	for (size_t i = 0; i < rows.n; i++) {
		assert_int_equal(rows.r[i].seq, (int64_t)i + 1);
		assert_int_equal(strlen(rows.r[i].hash), 64);
		assert_int_equal(strspn(rows.r[i].hash, "0123456789abcdef"), 64);
		if (i > 0)
			assert_string_equal(rows.r[i].prev, rows.r[i - 1].hash);
	}
	/* the first entry's hash is that of its fields (party NULL, subject set) */
	rows.r[0].subject = "subject";
	exlog_hash(&rows.r[0], hash);
	assert_string_equal(hash, rows.r[0].hash);
	rows_free(&rows);
}

static void test_hash_covers_every_field(void **state)
{
	struct exlog_row r = {
		.seq = 1, .at = "2026-11-01T08:00:00.000Z", .kind = "ingest",
		.party = "00000001000000001783", .subject = "file.csv", .detail = "{}",
	};
	char base[65], h[65];

	(void)state;
	memset(r.prev, '0', 64);
	r.prev[64] = '\0';
	exlog_hash(&r, base);
	r.seq = 2;
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.seq = 1;
	r.at[0] = '3';
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.at[0] = '2';
	r.kind = "reject";
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.kind = "ingest";
	r.party = "00000001000000000983";
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.party = "00000001000000001783";
	r.subject = "other.csv";
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.subject = "file.csv";
	r.detail = "{\"a\":1}";
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.detail = "{}";
	r.prev[63] = '1';
	exlog_hash(&r, h);
	assert_string_not_equal(h, base);
	r.prev[63] = '0';
	exlog_hash(&r, h);
	assert_string_equal(h, base);
}

static void test_changed_detail_is_named_by_verify(void **state)
{
	struct fx *f = *state;
	char err[256];
	long n = -1;

	append_tx(f, 2, "ingest");
	append_tx(f, 2, "signal");
	assert_int_equal(verify_ok(f), 4);
	assert_int_equal(raw_exec(f, "DROP TRIGGER exlog_no_update;"
				  " UPDATE exlog SET detail = '{\"file\":\"y.csv\"}' WHERE seq = 2;",
				  err, sizeof(err)), SQLITE_OK);
	assert_int_equal(exlog_verify(f->s, &n, &f->e), ST_FAIL);
	if (strstr(f->e.msg, "entry 2") == NULL || strstr(f->e.msg, "entry 2:") != f->e.msg)
		fail_msg("expected the message to name entry 2 first, got '%s'", f->e.msg);
	/* appending afterwards does not make the log whole again */
	append_tx(f, 1, "match");
	assert_int_equal(exlog_verify(f->s, &n, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "entry 2"));
}

static void test_changed_hash_is_noticed_at_the_next_entry(void **state)
{
	struct fx *f = *state;
	char err[256];
	long n;

	append_tx(f, 3, "ingest");
	/* a forger who recomputes nothing but rewrites entry 2's hash */
	assert_int_equal(raw_exec(f, "DROP TRIGGER exlog_no_update;"
				  " UPDATE exlog SET hash = replace(hash, substr(hash, 1, 1),"
				  " CASE substr(hash, 1, 1) WHEN 'a' THEN 'b' ELSE 'a' END)"
				  " WHERE seq = 2;", err, sizeof(err)), SQLITE_OK);
	assert_int_equal(exlog_verify(f->s, &n, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "entry 2"));
}

static void test_deleted_entry_is_named_as_a_gap(void **state)
{
	struct fx *f = *state;
	char err[256];
	long n = -1;

	append_tx(f, 4, "ingest");
	assert_int_equal(raw_exec(f, "DROP TRIGGER exlog_no_delete;"
				  " DELETE FROM exlog WHERE seq = 2;", err, sizeof(err)), SQLITE_OK);
	assert_int_equal(exlog_verify(f->s, &n, &f->e), ST_FAIL);
	if (strstr(f->e.msg, "entry 3") == NULL || strstr(f->e.msg, "entry 2") == NULL ||
	    strstr(f->e.msg, "missing") == NULL)
		fail_msg("expected a message naming the gap at entry 2, got '%s'", f->e.msg);
}

static void test_update_and_delete_refused_by_triggers(void **state)
{
	struct fx *f = *state;
	char err[256];

	append_tx(f, 3, "ingest");
	assert_int_not_equal(raw_exec(f, "UPDATE exlog SET detail = '{}' WHERE seq = 2;",
				      err, sizeof(err)), SQLITE_OK);
	assert_non_null(strstr(err, "append-only"));
	assert_int_not_equal(raw_exec(f, "UPDATE exlog SET seq = 9 WHERE seq = 3;",
				      err, sizeof(err)), SQLITE_OK);
	assert_int_not_equal(raw_exec(f, "DELETE FROM exlog WHERE seq = 3;", err, sizeof(err)),
			     SQLITE_OK);
	assert_non_null(strstr(err, "append-only"));
	assert_int_equal(verify_ok(f), 3);
	/* and the log goes on after the refused changes */
	append_tx(f, 1, "match");
	assert_int_equal(verify_ok(f), 4);
}

static void test_rolled_back_entry_leaves_no_trace(void **state)
{
	struct fx *f = *state;
	int64_t seq;
	char hash[65], before[65];

	append_tx(f, 2, "ingest");
	assert_int_equal(store_log_head(f->s, &seq, before, &f->e), ST_OK);
	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_int_equal(exlog_append(f->s, "ingest", NULL, "gone",
				      json_pack("{s:s}", "x", "y"), &f->e), ST_OK);
	store_rollback(f->s);
	assert_int_equal(store_log_head(f->s, &seq, hash, &f->e), ST_OK);
	assert_int_equal(seq, 2);
	assert_string_equal(hash, before);
	append_tx(f, 1, "ingest");
	assert_int_equal(verify_ok(f), 3);
}

static void test_append_without_detail_fails(void **state)
{
	struct fx *f = *state;

	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_int_equal(exlog_append(f->s, "ingest", NULL, NULL, NULL, &f->e), ST_FAIL);
	assert_true(f->e.msg[0] != '\0');
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);
	assert_int_equal(verify_ok(f), 0);
}

static void test_reopened_store_continues_the_chain(void **state)
{
	struct fx *f = *state;

	append_tx(f, 2, "ingest");
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->db, SCHAKEL_SCHEMA_DIR, 1000, &f->s, &f->e), ST_OK);
	assert_int_equal(verify_ok(f), 2);
	append_tx(f, 2, "signal");
	assert_int_equal(verify_ok(f), 4);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_log_verifies_with_zero_entries),
		T(test_verify_counts_entries_appended_in_transactions),
		T(test_first_entry_prev_is_64_zeros_and_entries_chain),
		T(test_hash_covers_every_field),
		T(test_changed_detail_is_named_by_verify),
		T(test_changed_hash_is_noticed_at_the_next_entry),
		T(test_deleted_entry_is_named_as_a_gap),
		T(test_update_and_delete_refused_by_triggers),
		T(test_rolled_back_entry_leaves_no_trace),
		T(test_append_without_detail_fails),
		T(test_reopened_store_continues_the_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
