/*
 * test_node.c - node.c's parts that need no daemon: the digest of the
 * parties (what the nodes of one database compare after a reload), the
 * node's name, and the job leases of the store on SQLite (the PostgreSQL
 * side: tests/pg/lease.sh).
 */
#include "testutil.h"

#include <sqlite3.h>

#include "app.h"
#include "config.h"
#include "node.h"
#include "store.h"

static const char westland[] = "[party.00000001000000001783]\nname = Westland\n"
	"gemeenten = 1783, 1784\nsupplies = brp, huisvesting\nreceives = all\n";
static const char nla[] = "[party.00000001003214345000]\nname = NLA\nreceives = OVERBEWONING\n"
	"push_url = https://127.0.0.1:9/nla\n";

/* The digest of the parties of a configuration file with text. */
static void digest_of(const char *text, char out[65])
{
	char *dir = testutil_tmpdir(), path[4200];
	struct config cfg;
	struct errbuf e;
	FILE *f;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/schakel.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (config_load(&cfg, path, &e) != ST_OK)
		fail_msg("%s", e.msg);
	node_parties_digest(&cfg, out);
	config_free(&cfg);
	testutil_rmtree(dir);
}

static void test_digest_ignores_order_sees_grants(void **state)
{
	char a[65], b[65], c[65], d[65], none[65];
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text), "%s%s", westland, nla);
	digest_of(text, a);
	snprintf(text, sizeof(text), "%s%s", nla, westland);
	digest_of(text, b);
	assert_string_equal(a, b);	/* the order of the sections does not count */
	assert_int_equal(strlen(a), 64);
	snprintf(text, sizeof(text), "%s%s", nla,
		 "[party.00000001000000001783]\nname = Westland\ngemeenten = 1784, 1783\n"
		 "supplies = huisvesting, brp\nreceives = all\n");
	digest_of(text, c);
	assert_string_equal(a, c);	/* nor the order inside a list */
	snprintf(text, sizeof(text), "%s%s", westland,
		 "[party.00000001003214345000]\nname = NLA\nreceives = OVERBEWONING, GEEN_VERGUNNING\n"
		 "push_url = https://127.0.0.1:9/nla\n");
	digest_of(text, d);
	assert_string_not_equal(a, d);	/* a grant does */
	digest_of(westland, d);
	assert_string_not_equal(a, d);	/* and a party less */
	digest_of("", none);
	assert_string_not_equal(d, none);
}

static void test_name_is_the_key_or_the_host(void **state)
{
	struct config cfg = { 0 };
	char name[NODE_NAME_MAX], host[NODE_NAME_MAX] = "";

	(void)state;
	node_name(&cfg, name);
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(name, host[0] ? host : "schakel");
	cfg.node = "web2";
	node_name(&cfg, name);
	assert_string_equal(name, "web2");
}

/* On SQLite, the store's leases as on PostgreSQL: held, renewed, refused to
 * another node, dropped. */
static void test_sqlite_leases(void **state)
{
	char *dir = testutil_tmpdir(), db[4200];
	struct store *s;
	struct errbuf e;
	bool held;

	(void)state;
	assert_non_null(dir);
	snprintf(db, sizeof(db), "%s/schakel.db", dir);
	if (store_open(db, SCHAKEL_SCHEMA_DIR, 1000, &s, &e) != ST_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(store_lease_take(s, "purge", "a", 30, &held, &e), ST_OK);
	assert_true(held);
	assert_int_equal(store_lease_take(s, "purge", "a", 30, &held, &e), ST_OK);
	assert_true(held);
	assert_int_equal(store_lease_take(s, "purge", "b", 30, &held, &e), ST_OK);
	assert_false(held);
	assert_int_equal(store_lease_take(s, "checkpoint", "b", 30, &held, &e), ST_OK);
	assert_true(held);
	assert_int_equal(store_lease_drop(s, NULL, "a", &e), ST_OK);
	assert_int_equal(store_lease_take(s, "purge", "b", 30, &held, &e), ST_OK);
	assert_true(held);
	/* a lease of 0 s has run out at once */
	assert_int_equal(store_lease_take(s, "reconcile", "a", 0, &held, &e), ST_OK);
	assert_true(held);
	assert_int_equal(store_lease_take(s, "reconcile", "b", 30, &held, &e), ST_OK);
	assert_true(held);
	assert_int_equal(store_ping(s, &e), ST_OK);
	store_close(s);
	testutil_rmtree(dir);
}

/* Runs sql on the SQLite database at path with a connection of its own; 0: done. */
static int sql_on(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* The newest digest among the live nodes, and a node new to the database
 * with an old digest does not make it the newest. */
static void test_sqlite_node_newest(void **state)
{
	char *dir = testutil_tmpdir(), db[4200];
	const char *x1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *x2 = "2222222222222222222222222222222222222222222222222222222222222222";
	struct node_newest n;
	struct store *s;
	struct errbuf e;

	(void)state;
	assert_non_null(dir);
	snprintf(db, sizeof(db), "%s/schakel.db", dir);
	if (store_open(db, SCHAKEL_SCHEMA_DIR, 1000, &s, &e) != ST_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_false(n.found);
	assert_int_equal(store_node_put(s, "a", x1, &e), ST_OK);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_true(n.found);
	assert_string_equal(n.digest, x1);
	/* a changed at some earlier time; b changes its digest now */
	assert_int_equal(sql_on(db, "UPDATE node_config SET changed_at = changed_at - 100"), 0);
	assert_int_equal(store_node_put(s, "b", x2, &e), ST_OK);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_string_equal(n.node, "b");
	assert_string_equal(n.digest, x2);
	/* c, new, with a's old digest: keeps a's time, so b's stays the newest */
	assert_int_equal(store_node_put(s, "c", x1, &e), ST_OK);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_string_equal(n.digest, x2);
	/* a changes to x2 as well: the newest is still x2 */
	assert_int_equal(store_node_put(s, "a", x2, &e), ST_OK);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_string_equal(n.digest, x2);
	/* nodes not seen for longer than live_seconds do not count */
	assert_int_equal(sql_on(db, "UPDATE node_config SET seen = seen - 1000"), 0);
	assert_int_equal(store_node_newest(s, 60, &n, &e), ST_OK);
	assert_false(n.found);
	store_close(s);
	testutil_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_ignores_order_sees_grants),
		cmocka_unit_test(test_name_is_the_key_or_the_host),
		cmocka_unit_test(test_sqlite_leases),
		cmocka_unit_test(test_sqlite_node_newest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
