/*
 * test_store.c - store queries whose plan matters as much as their answer:
 * the deliverer's choice of what to send next.
 */
#include "testutil.h"

#include <sqlite3.h>

#include "store.h"

struct fx {
	char *dir;
	char *db;		/* DIR/schakel.db */
	struct store *s;
	struct errbuf e;
	/* what the callback saw */
	int n;
	char oin[4][21];
	int64_t id[4];
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

/* Runs SQL on a connection of its own (as another process would). */
static void exec_sql(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 1000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static int seen(void *arg, const struct delivery_row *d)
{
	struct fx *f = arg;

	assert_true(f->n < 4);
	snprintf(f->oin[f->n], sizeof(f->oin[0]), "%s", d->oin);
	f->id[f->n++] = d->id;
	return 0;
}

/*
 * Three recipients: A with many due deliveries, B with one due later than
 * all of A's, C with one not yet due; and a delivered and a failed row.
 * The next to send is A's oldest and B's: a recipient with a long queue
 * does not hide one with a short one, and nothing that is not due comes.
 */
static void test_next_deliveries_are_the_oldest_due_of_each_recipient(void **state)
{
	struct fx *f = *state;
	char sql[4096];
	size_t len;

	/* the signals do not matter here: no foreign keys */
	len = (size_t)snprintf(sql, sizeof(sql), "PRAGMA foreign_keys = OFF;"
			       "INSERT INTO delivery(id, signal_id, oin, message_id, state, created, next_at)"
			       " VALUES (1, 'sB', 'B', 'm1', 'pending', 0, 500),"
			       " (2, 'sC', 'C', 'm2', 'pending', 0, 2000),"
			       " (3, 'sA', 'B', 'm3', 'delivered', 0, 10),"
			       " (4, 'sC', 'A', 'm4', 'failed', 0, 10)");
	for (int i = 0; i < 50; i++)	/* A: ids 100..149, due 100..149 but id 120 first */
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					", (%d, 's%d', 'A', 'a%d', 'pending', 0, %d)", 100 + i,
					i, i, i == 20 ? 50 : 100 + i);
	snprintf(sql + len, sizeof(sql) - len, ";");
	exec_sql(f, sql);
	assert_int_equal(store_deliveries_next(f->s, 1000, 0, seen, f, &f->e), ST_OK);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->oin[0], "A");
	assert_int_equal(f->id[0], 120);
	assert_string_equal(f->oin[1], "B");
	assert_int_equal(f->id[1], 1);
	/* at most one recipient when limited, and none before anything is due */
	f->n = 0;
	assert_int_equal(store_deliveries_next(f->s, 1000, 1, seen, f, &f->e), ST_OK);
	assert_int_equal(f->n, 1);
	f->n = 0;
	assert_int_equal(store_deliveries_next(f->s, 49, 0, seen, f, &f->e), ST_OK);
	assert_int_equal(f->n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_next_deliveries_are_the_oldest_due_of_each_recipient,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
