/*
 * test_store.c - store queries whose plan matters as much as their answer
 * (the deliverer's choice of what to send next), and the migrations that
 * move data rather than add tables.
 */
#include "testutil.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <unistd.h>

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
	char lines[4][256];
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

/* A schema directory with migrations 1..upto of the real one. */
static char *schema_upto(struct fx *f, int upto)
{
	char *dir, *cmd;

	assert_true(asprintf(&dir, "%s/schema-%d", f->dir, upto) > 0);
	assert_true(asprintf(&cmd, "mkdir '%s' && for i in $(seq 1 %d); do cp '%s'/store-$(printf"
			     " %%03d $i).sql '%s'/; done", dir, upto, SCHAKEL_SCHEMA_DIR, dir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return dir;
}

/* Makes the fixture's database anew at schema version `version`, closed. */
static void database_at(struct fx *f, int version)
{
	char *dir = schema_upto(f, version);

	store_close(f->s);
	f->s = NULL;
	unlink(f->db);
	assert_int_equal(store_open(f->db, dir, 1000, &f->s, &f->e), ST_OK);
	store_close(f->s);
	f->s = NULL;
	free(dir);
}

/* A database at schema version 7 with two signals, as migration 8 finds
 * them: evidence rows stored out of order, three recipient rows (one of a
 * signal that does not exist), feedback and a delivery. */
static void version7_with_signals(struct fx *f)
{
	database_at(f, 7);
	exec_sql(f, "INSERT INTO address VALUES ('2671AB|1||', '1783', NULL, '2671AB', 1, '', '');"
		 "INSERT INTO signal(id, rule, as_of, addr, registered, observed, created, seq)"
		 " VALUES ('s-one', 'OVERBEWONING', '2026-11-01', '2671AB|1||', 5, 0,"
		 " '2026-11-01T10:00:00Z', 1),"
		 " ('s-two', 'ONDERREGISTRATIE', '2026-11-02', '2671AB|1||', 1, 4,"
		 " '2026-11-02T10:00:00Z', 2);"
		 "INSERT INTO signal_evidence VALUES ('s-one', 1, 'huisvesting', '2671AB 1'),"
		 " ('s-one', 0, 'brp', 'ab/2020-01-01'), ('s-two', 0, 'inspectie', 'NLA-1');"
		 "INSERT INTO signal_recipient VALUES ('s-one', 'B'), ('s-one', 'A'), ('s-two', 'A'),"
		 " ('s-gone', 'A');"
		 "INSERT INTO feedback(signal_id, oin, outcome, note, at)"
		 " VALUES ('s-two', 'A', 'bevestigd', '', '2026-11-03T00:00:00Z');"
		 "INSERT INTO delivery(signal_id, oin, message_id, state, created, next_at)"
		 " VALUES ('s-one', 'A', 'm1', 'pending', 0, 0);");
}

static int collect(void *arg, const struct signal *sig)
{
	struct fx *f = arg;
	char line[256];
	size_t len;

	len = (size_t)snprintf(line, sizeof(line), "%" PRId64 " %s:", sig->seq, sig->id);
	for (size_t i = 0; i < sig->nevidence; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%s",
					sig->evidence[i].source, sig->evidence[i].record);
	len += (size_t)snprintf(line + len, sizeof(line) - len, " to");
	for (size_t i = 0; i < sig->nrecipients; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", sig->recipients[i]);
	assert_true(f->n < 4);
	snprintf(f->lines[f->n++], sizeof(f->lines[0]), "%s", line);
	return 0;
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * Migration 8 folds the evidence rows into their signal and keys the
 * recipients by the signal's number: every signal reads back as before,
 * evidence in its order, recipients and the rows that refer to signals
 * intact; a recipient row of a missing signal goes; new signals continue
 * the numbering.
 */
static void test_migration_8_keeps_signals_evidence_and_recipients(void **state)
{
	struct fx *f = *state;
	struct signal_filter all = { 0 };
	struct signal sig = { .rule = "OVERBEWONING", .as_of = "2026-11-04",
			      .created = "2026-11-04T10:00:00Z", .id = "s-three",
			      .address.gemeentecode = "1783", .address.postcode = "2671AB",
			      .address.huisnummer = 1, .oppervlakte = -1, .max_bewoners = -1 };
	bool routed, created;

	version7_with_signals(f);
	assert_int_equal(store_open(f->db, SCHAKEL_SCHEMA_DIR, 1000, &f->s, &f->e), ST_OK);
	assert_int_equal(store_signals(f->s, &all, collect, f, &f->e), ST_OK);
	assert_int_equal(f->n, 2);
	assert_string_equal(f->lines[0], "1 s-one: brp=ab/2020-01-01 huisvesting=2671AB 1 to A B");
	assert_string_equal(f->lines[1], "2 s-two: inspectie=NLA-1 to A");
	assert_int_equal(store_signal_routed(f->s, "s-one", "B", &routed, &f->e), ST_OK);
	assert_true(routed);
	assert_int_equal(store_signal_routed(f->s, "s-two", "B", &routed, &f->e), ST_OK);
	assert_false(routed);
	assert_int_equal(count(f, "SELECT count(*) FROM signal_recipient"), 3);
	assert_int_equal(count(f, "SELECT count(*) FROM feedback f JOIN signal s"
			      " ON s.id = f.signal_id WHERE s.seq = 2"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM delivery d JOIN signal s"
			      " ON s.id = d.signal_id WHERE s.seq = 1"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM sqlite_master"
			      " WHERE name = 'signal_evidence'"), 0);

	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_int_equal(store_put_signal(f->s, &sig, &created, &f->e), ST_OK);
	assert_true(created);
	assert_int_equal(store_put_signal(f->s, &sig, &created, &f->e), ST_OK);
	assert_false(created);
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);
	assert_int_equal(count(f, "SELECT seq FROM signal WHERE id = 's-three'"), 3);
}

/* A migration that would leave a row referring to nothing is refused as a
 * whole, says which table, and leaves the database at its version. */
static void test_migration_with_a_dangling_reference_is_refused(void **state)
{
	struct fx *f = *state;

	version7_with_signals(f);
	exec_sql(f, "PRAGMA foreign_keys = OFF; INSERT INTO feedback(signal_id, oin, outcome,"
		 " note, at) VALUES ('s-missing', 'A', 'onterecht', '', '2026-11-03T00:00:00Z')");
	assert_int_equal(store_open(f->db, SCHAKEL_SCHEMA_DIR, 1000, &f->s, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "store-008.sql"));
	assert_non_null(strstr(f->e.msg, "a row of feedback"));
	assert_int_equal(count(f, "PRAGMA user_version"), 7);
	assert_int_equal(count(f, "SELECT count(*) FROM signal_evidence"), 3);
	assert_int_equal(count(f, "SELECT count(*) FROM signal_recipient"), 4);
}

/* A registration of pseudonym p (32 bytes, all `fill` but the first
 * eight, which are `key`) at 2671AB 1, begun on `begin`. */
static struct person_row registration(uint64_t key, uint8_t fill, const char *begin,
				      uint8_t sealed)
{
	struct person_row r = { .address.gemeentecode = "1783", .address.postcode = "2671AB",
				.address.huisnummer = 1 };

	for (int i = 0; i < 8; i++)
		r.pseudonym[i] = (uint8_t)(key >> (56 - 8 * i));
	memset(r.pseudonym + 8, fill, PSEUDONYM_LEN - 8);
	memset(r.bsn_sealed, sealed, SEALED_BSN_LEN);
	snprintf(r.begindatum, sizeof(r.begindatum), "%s", begin);
	return r;
}

static bool put(struct fx *f, const struct person_row *r)
{
	bool changed = false;

	assert_int_equal(store_put_person(f->s, 1, r, &changed, &f->e), ST_OK);
	return changed;
}

static bool put_finding(struct fx *f, const struct finding_row *r)
{
	bool changed = false;

	assert_int_equal(store_put_finding(f->s, 7, r, &changed, &f->e), ST_OK);
	return changed;
}

/*
 * A registration is found by the first eight bytes of its pseudonym and
 * then compared whole: two persons whose pseudonyms share those bytes are
 * two persons, a registration stored again unchanged changes nothing, a
 * changed one is replaced, another begindatum is another registration.
 */
static void test_registrations_sharing_a_key_stay_apart(void **state)
{
	struct fx *f = *state;
	struct person_row a = registration(0x8000000000000001u, 0xaa, "2020-01-01", 1);
	struct person_row b = registration(0x8000000000000001u, 0xbb, "2020-01-01", 2);
	struct person_row again = registration(0x8000000000000001u, 0xaa, "2020-01-01", 9);
	struct person_row a2 = a;
	uint8_t sealed[SEALED_BSN_LEN];
	bool found;

	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_true(put(f, &a));
	assert_true(put(f, &b));
	assert_false(put(f, &again));	/* the same content (a fresh seal is no change) */
	a2.address.huisnummer = 2;	/* moved: the same identity, new content */
	assert_true(put(f, &a2));
	snprintf(a2.begindatum, sizeof(a2.begindatum), "2021-06-01");
	assert_true(put(f, &a2));	/* a later registration of a */
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);

	assert_int_equal(count(f, "SELECT count(*) FROM person"), 3);
	assert_int_equal(count(f, "SELECT count(DISTINCT pkey) FROM person"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM person WHERE pkey <> -9223372036854775807"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM person WHERE addr = '2671AB|2||'"), 2);
	assert_int_equal(store_person_bsn(f->s, b.pseudonym, sealed, &found, &f->e), ST_OK);
	assert_true(found);
	assert_int_equal(sealed[0], 2);
	assert_int_equal(store_person_bsn(f->s, a.pseudonym, sealed, &found, &f->e), ST_OK);
	assert_true(found);
	assert_int_equal(sealed[0], 1);
}

/*
 * What the territory check reads (store_held_*()), a withdrawn
 * registration (only that identity goes, once), and a finding id repeated
 * in one input (store_finding_repeat()).
 */
static void test_held_withdrawn_and_repeated(void **state)
{
	struct fx *f = *state;
	struct person_row a = registration(0x8000000000000001u, 0xaa, "2020-01-01", 1);
	struct person_row later = a, other = registration(0x8000000000000001u, 0xbb,
							   "2020-01-01", 2);
	struct finding_row fr = { .id = "NLA-1", .datum = "2026-01-01", .soort = "werkplek",
				  .address = a.address, .aangetroffen = 3 };
	char gem[5], first[64];
	bool found, changed, differs;

	snprintf(later.begindatum, sizeof(later.begindatum), "2021-06-01");
	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_true(put(f, &a));
	assert_true(put(f, &later));
	assert_true(put(f, &other));
	assert_int_equal(store_held_address(f->s, "2671AB|1||", gem, &found, &f->e), ST_OK);
	assert_true(found);
	assert_string_equal(gem, "1783");
	assert_int_equal(store_held_address(f->s, "2671AB|2||", gem, &found, &f->e), ST_OK);
	assert_false(found);
	assert_int_equal(store_held_person(f->s, a.pseudonym, "2020-01-01", gem, &found, &f->e),
			 ST_OK);
	assert_true(found);
	assert_string_equal(gem, "1783");
	assert_int_equal(store_withdraw_person(f->s, a.pseudonym, "2020-01-01", &changed, &f->e),
			 ST_OK);
	assert_true(changed);
	assert_int_equal(store_withdraw_person(f->s, a.pseudonym, "2020-01-01", &changed, &f->e),
			 ST_OK);
	assert_false(changed);
	assert_int_equal(store_held_person(f->s, a.pseudonym, "2020-01-01", gem, &found, &f->e),
			 ST_OK);
	assert_false(found);
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM person"), 2);	/* later, other */

	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_int_equal(store_finding_repeat(f->s, 7, &fr, "bevindingen[0]", first, sizeof(first),
					      &differs, &f->e), ST_OK);
	assert_false(differs);
	assert_true(put_finding(f, &fr));
	assert_int_equal(store_held_finding(f->s, "NLA-1", gem, &found, &f->e), ST_OK);
	assert_true(found);
	assert_int_equal(store_finding_repeat(f->s, 7, &fr, "bevindingen[1]", first, sizeof(first),
					      &differs, &f->e), ST_OK);
	assert_false(differs);	/* the same content again */
	fr.aangetroffen = 9;
	assert_int_equal(store_finding_repeat(f->s, 7, &fr, "bevindingen[2]", first, sizeof(first),
					      &differs, &f->e), ST_OK);
	assert_true(differs);
	assert_string_equal(first, "bevindingen[0]");
	/* the next input may give it again */
	assert_int_equal(store_finding_repeat(f->s, 8, &fr, "bevindingen[0]", first, sizeof(first),
					      &differs, &f->e), ST_OK);
	assert_false(differs);
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);
}

/*
 * Migration 9 rebuilds person with the key column: every registration
 * keeps its row number and content, gets the key of its pseudonym, and is
 * found by the store afterwards; the old unique index is gone.
 */
static void test_migration_9_keys_every_registration(void **state)
{
	struct fx *f = *state;
	struct person_row a = registration(0x0102030405060708u, 0x11, "2020-01-01", 7);
	uint8_t sealed[SEALED_BSN_LEN];
	bool found;

	database_at(f, 8);
	/* pseudonyms 01..08 00.. and ff..ff00 00..; sealed BSNs 07 00.. and 08 00.. */
	exec_sql(f, "INSERT INTO address VALUES ('2671AB|1||', '1783', NULL, '2671AB', 1, '', '');"
		 "INSERT INTO person(rowid, pseudonym, begindatum, addr, gemeentecode, bsn_sealed,"
		 " digest, ingest_id) VALUES"
		 " (5, x'0102030405060708000000000000000000000000000000000000000000000000',"
		 " '2020-01-01', '2671AB|1||', '1783',"
		 " x'07000000000000000000000000000000000000000000000000000000000000000000000000', x'00', 1),"
		 " (9, x'ffffffffffffff00000000000000000000000000000000000000000000000000',"
		 " '2019-01-01', '2671AB|1||', '1783',"
		 " x'08000000000000000000000000000000000000000000000000000000000000000000000000', x'00', 1)");
	assert_int_equal(store_open(f->db, SCHAKEL_SCHEMA_DIR, 1000, &f->s, &f->e), ST_OK);
	assert_true(count(f, "PRAGMA user_version") >= 9);	/* and any later ones */
	assert_int_equal(count(f, "SELECT pkey FROM person WHERE rowid = 5"), 0x0102030405060708);
	assert_int_equal(count(f, "SELECT pkey FROM person WHERE rowid = 9"), -256);
	assert_int_equal(count(f, "SELECT count(*) FROM sqlite_master"
			      " WHERE name = 'sqlite_autoindex_person_1'"), 0);
	memset(a.pseudonym + 8, 0, PSEUDONYM_LEN - 8);
	assert_int_equal(store_person_bsn(f->s, a.pseudonym, sealed, &found, &f->e), ST_OK);
	assert_true(found);
	assert_int_equal(sealed[0], 7);
}

/* Evidence goes into one JSON column and comes back as it was, whatever
 * characters a finding's id holds. */
static void test_signal_evidence_reads_back_as_written(void **state)
{
	struct fx *f = *state;
	struct signal_filter all = { 0 };
	struct evidence ev[3] = {
		{ "inspectie", "NLA \"2026\" \\ 7\t\x01 caf\xc3\xa9" },
		{ "brp", "00ff/2020-01-01" },
		{ "huisvesting", "" },
	};
	char to[1][21] = { "00000001000000001783" };
	struct signal sig = { .rule = "GEEN_VERGUNNING", .as_of = "2026-11-04",
			      .created = "2026-11-04T10:00:00Z", .id = "s-escape",
			      .address.gemeentecode = "1783", .address.postcode = "2671AB",
			      .address.huisnummer = 1, .oppervlakte = -1, .max_bewoners = 12,
			      .evidence = ev, .nevidence = 3, .recipients = to, .nrecipients = 1 };
	bool created;

	exec_sql(f, "INSERT INTO address VALUES ('2671AB|1||', '1783', NULL, '2671AB', 1, '', '')");
	assert_int_equal(store_begin(f->s, &f->e), ST_OK);
	assert_int_equal(store_put_signal(f->s, &sig, &created, &f->e), ST_OK);
	assert_int_equal(store_commit(f->s, &f->e), ST_OK);
	assert_true(created);
	assert_int_equal(store_signals(f->s, &all, collect, f, &f->e), ST_OK);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->lines[0], "1 s-escape: inspectie=NLA \"2026\" \\ 7\t\x01 caf\xc3\xa9"
			    " brp=00ff/2020-01-01 huisvesting= to 00000001000000001783");
	assert_int_equal(count(f, "SELECT json_valid(evidence) FROM signal"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_next_deliveries_are_the_oldest_due_of_each_recipient,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_8_keeps_signals_evidence_and_recipients,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_with_a_dangling_reference_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_evidence_reads_back_as_written,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registrations_sharing_a_key_stay_apart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_9_keys_every_registration,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_withdrawn_and_repeated, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
