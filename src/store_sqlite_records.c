/*
 * store_sqlite_records.c - the records on SQLite: ingests, the puts of
 * persons, dwellings and findings (with their content digests and the
 * addresses they mark for the next match), what a record is held under,
 * withdrawals and the repeats of findings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_sqlite.h"

enum status store_sqlite_ingest_add(struct store_sqlite *s, const struct ingest_row *r,
				    int64_t *id, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_INGEST_ADD, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->adapter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->origin, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, r->party);
	sqlite3_bind_text(st, 4, r->digest, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "add ingest") != ST_OK)
		return ST_FAIL;
	*id = sqlite3_last_insert_rowid(s->db);
	return ST_OK;
}

enum status store_sqlite_ingest_counts(struct store_sqlite *s, int64_t id, long accepted,
				       long rejected, const char *digest, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_INGEST_COUNTS, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, accepted);
	sqlite3_bind_int64(st, 3, rejected);
	sqlite3_bind_text(st, 4, digest, -1, SQLITE_STATIC);
	return step_done(s, st, e, "update ingest");
}

static enum status put_address(struct store_sqlite *s, const struct address *a, const char *key,
			       struct errbuf *e)
{
	bool nad = a->nummeraanduiding_id[0] != '\0';
	sqlite3_stmt *st;

	if (strcmp(s->last_addr, key) == 0 && (s->last_addr_nad || !nad))
		return ST_OK;	/* the row is there, and this would not fill it in */
	st = stmt(s, Q_ADDRESS_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->gemeentecode, -1, SQLITE_STATIC);
	bind_text_or_null(st, 3, a->nummeraanduiding_id);
	sqlite3_bind_text(st, 4, a->postcode, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, a->huisnummer);
	sqlite3_bind_text(st, 6, a->huisletter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->toevoeging, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store address") != ST_OK)
		return ST_FAIL;
	snprintf(s->last_addr, sizeof(s->last_addr), "%s", key);
	s->last_addr_nad = nad;
	return ST_OK;
}

/* A digest of a record's content, to tell a re-ingest from a change. */
static void content_digest(uint8_t out[32], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void content_digest(uint8_t out[32], const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	crypto_sha256(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1, out);
}

/* The content digest of a registration: content_digest() of
 * "KEY|GEMEENTE|NAD", put together without printf (a tenth of the time,
 * once per person). */
static void person_digest(uint8_t out[32], const char *key, const struct address *a)
{
	const char *parts[] = { key, a->gemeentecode, a->nummeraanduiding_id };
	char buf[ADDRESS_KEY_MAX + sizeof(a->gemeentecode) + sizeof(a->nummeraanduiding_id)];
	size_t len = 0;

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);

		if (i > 0)
			buf[len++] = '|';
		memcpy(buf + len, parts[i], n);
		len += n;
	}
	crypto_sha256(buf, len, out);
}

/* The address and coverage rows of a registration: consecutive persons
 * mostly share both, and a repeat is skipped. */
static enum status put_person_address(struct store_sqlite *s, const struct person_row *r,
				      const char *key, struct errbuf *e)
{
	sqlite3_stmt *st;

	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	if (strcmp(s->last_coverage, r->address.gemeentecode) == 0)
		return ST_OK;
	st = stmt(s, Q_COVERAGE_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->address.gemeentecode, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store coverage") != ST_OK)
		return ST_FAIL;
	snprintf(s->last_coverage, sizeof(s->last_coverage), "%s", r->address.gemeentecode);
	return ST_OK;
}

/*
 * After this many changed records in one transaction the next match is a
 * full run (mark_all, store-012.sql) and the triggers stop marking: a
 * full run costs less than marks for a large part of the store would save.
 */
#define MARK_ALL_AFTER 20000

/*
 * Marks what a changed record touches for the next incremental match
 * (store-012.sql): its address (key) and, for a registration, its person
 * (person non-NULL: the pseudonym's key).  Counts the change; at
 * MARK_ALL_AFTER sets mark_all and marks nothing more in this transaction.
 */
static enum status mark_write(struct store_sqlite *s, const char *key, const sqlite3_int64 *person,
			      struct errbuf *e)
{
	sqlite3_stmt *st;

	if (++s->changes > MARK_ALL_AFTER)
		return ST_OK;
	if (s->changes == MARK_ALL_AFTER) {
		if (sqlite3_exec(s->db, "INSERT OR IGNORE INTO mark_all(id) VALUES (1)", NULL,
				 NULL, NULL) != SQLITE_OK)
			return db_error(s, e, "mark a large change");
		return ST_OK;
	}
	if (strcmp(s->last_mark, key) != 0) {
		if ((st = stmt(s, Q_MARK_ADDR, e)) == NULL)
			return ST_FAIL;
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (step_done(s, st, e, "mark a change") != ST_OK)
			return ST_FAIL;
		snprintf(s->last_mark, sizeof(s->last_mark), "%s", key);
	}
	if (person == NULL)
		return ST_OK;
	if ((st = stmt(s, Q_MARK_PERSON, e)) == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, *person);
	return step_done(s, st, e, "mark a change");
}

/*
 * A registration is found by its pseudonym's key (pseudonym_key(), an
 * integer index) and then compared whole: the index of (pseudonym,
 * begindatum) that an ON CONFLICT needs was 56 bytes an entry, at random
 * places, and at 10^6 registrations outgrew the page cache (docs/
 * performance.md); the key's index is a third of that.
 */
enum status store_sqlite_put_person(struct store_sqlite *s, int64_t ingest_id,
				    const struct person_row *r, bool *changed, struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_int64 pkey = pseudonym_key(r->pseudonym), rowid = 0;
	sqlite3_stmt *st;
	int rc;

	*changed = false;
	address_key(&r->address, key);
	if (put_person_address(s, r, key, e) != ST_OK)
		return ST_FAIL;
	person_digest(digest, key, &r->address);
	st = stmt(s, Q_PERSON_FIND, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, pkey);
	sqlite3_bind_blob(st, 2, r->pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->begindatum, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) == sizeof(digest) &&
		    memcmp(sqlite3_column_blob(st, 1), digest, sizeof(digest)) == 0) {
			sqlite3_reset(st);
			return ST_OK;	/* stored before, unchanged */
		}
		rowid = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read person");
	st = stmt(s, rowid != 0 ? Q_PERSON_UPDATE : Q_PERSON_ADD, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, rowid != 0 ? rowid : pkey);
	sqlite3_bind_blob(st, 2, r->pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->begindatum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->address.gemeentecode, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, r->bsn_sealed, SEALED_BSN_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, ingest_id);
	if (step_done(s, st, e, "store person") != ST_OK)
		return ST_FAIL;
	*changed = true;
	return mark_write(s, key, &pkey, e);
}

enum status store_sqlite_put_dwelling(struct store_sqlite *s, int64_t ingest_id,
				      const struct dwelling_row *r, bool *changed,
				      struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;

	address_key(&r->address, key);
	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	content_digest(digest, "%s|%s|%ld|%s|%ld|%s|%s", r->address.gemeentecode,
		       r->address.nummeraanduiding_id, r->oppervlakte,
		       r->gebruiksdoel ? r->gebruiksdoel : "\x01", r->max_bewoners,
		       r->vergunning ? r->vergunning : "\x01",
		       r->vergunning_tot ? r->vergunning_tot : "\x01");
	st = stmt(s, Q_DWELLING_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->address.gemeentecode, -1, SQLITE_STATIC);
	bind_long_or_null(st, 3, r->oppervlakte);
	bind_text_or_null(st, 4, r->gebruiksdoel);
	bind_long_or_null(st, 5, r->max_bewoners);
	bind_text_or_null(st, 6, r->vergunning);
	bind_text_or_null(st, 7, r->vergunning_tot);
	sqlite3_bind_blob(st, 8, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, ingest_id);
	if (step_done(s, st, e, "store dwelling") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	return *changed ? mark_write(s, key, NULL, e) : ST_OK;
}

static void finding_digest(const struct finding_row *r, const char *key, uint8_t out[32])
{
	char buf[128];
	struct sha256 *h = crypto_sha256_new();
	char hex[65];
	int n;

	n = snprintf(buf, sizeof(buf), "%s|%s|%s|%s|%s|%ld|", r->datum, r->soort,
		     r->kvk ? r->kvk : "\x01", key, r->address.gemeentecode, r->aangetroffen);
	if (h == NULL) {	/* out of memory: a digest that always differs */
		crypto_random(out, 32, NULL);
		return;
	}
	crypto_sha256_update(h, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	crypto_sha256_update(h, r->address.nummeraanduiding_id,
			     strlen(r->address.nummeraanduiding_id));
	for (size_t i = 0; i < r->npersons; i++)
		crypto_sha256_update(h, r->persons[i].pseudonym, PSEUDONYM_LEN);
	crypto_sha256_final(h, hex);
	memcpy(out, hex, 32);	/* half the hex digits are as good as a digest here */
}

enum status store_sqlite_put_finding(struct store_sqlite *s, int64_t ingest_id,
				     const struct finding_row *r, bool *changed,
				     struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;

	address_key(&r->address, key);
	if (put_address(s, &r->address, key, e) != ST_OK)
		return ST_FAIL;
	finding_digest(r, key, digest);
	st = stmt(s, Q_FINDING_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->datum, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->soort, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, r->kvk);
	sqlite3_bind_text(st, 5, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->address.gemeentecode, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, r->aangetroffen);
	sqlite3_bind_blob(st, 8, digest, sizeof(digest), SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, ingest_id);
	if (step_done(s, st, e, "store finding") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	if (!*changed)
		return ST_OK;
	if (mark_write(s, key, NULL, e) != ST_OK)
		return ST_FAIL;

	st = stmt(s, Q_FINDING_PERSONS_DEL, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	if (step_done(s, st, e, "store finding") != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < r->npersons; i++) {
		st = stmt(s, Q_FINDING_PERSON_ADD, e);
		if (st == NULL)
			return ST_FAIL;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, r->persons[i].pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, r->persons[i].bsn_sealed, SEALED_BSN_LEN, SQLITE_STATIC);
		if (step_done(s, st, e, "store finding person") != ST_OK)
			return ST_FAIL;
	}
	return ST_OK;
}

/* --- what a stored record is held under (territory, ingest.c) --------- */

/* Steps a held query: its first column into out (5 bytes), *found. */
static enum status held_step(struct store_sqlite *s, sqlite3_stmt *st, char out[5], bool *found,
			     struct errbuf *e)
{
	int rc = sqlite3_step(st);

	*found = rc == SQLITE_ROW;
	out[0] = '\0';
	if (*found)
		column_copy(st, 0, out, 5);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read territory");
	return ST_OK;
}

/* A held query id of one text parameter, key. */
static enum status held_by_text(struct store_sqlite *s, enum stmt_id id, const char *key, char out[5],
				bool *found, struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, id, e);

	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return held_step(s, st, out, found, e);
}

enum status store_sqlite_held_address(struct store_sqlite *s, const char *key, char out[5],
				      bool *found, struct errbuf *e)
{
	return held_by_text(s, Q_HELD_ADDRESS, key, out, found, e);
}

/* Binds a registration's identity as ?1 (its key), ?2, ?3. */
static void bind_person_identity(sqlite3_stmt *st, const uint8_t *pseudonym,
				 const char *begindatum)
{
	sqlite3_bind_int64(st, 1, pseudonym_key(pseudonym));
	sqlite3_bind_blob(st, 2, pseudonym, PSEUDONYM_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, begindatum, -1, SQLITE_STATIC);
}

enum status store_sqlite_held_person(struct store_sqlite *s, const uint8_t *pseudonym,
				     const char *begindatum, char out[5], bool *found,
				     struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_HELD_PERSON, e);

	if (st == NULL)
		return ST_FAIL;
	bind_person_identity(st, pseudonym, begindatum);
	return held_step(s, st, out, found, e);
}

enum status store_sqlite_held_finding(struct store_sqlite *s, const char *id, char out[5],
				      bool *found, struct errbuf *e)
{
	return held_by_text(s, Q_HELD_FINDING, id, out, found, e);
}

enum status store_sqlite_withdraw_person(struct store_sqlite *s, const uint8_t *pseudonym,
					 const char *begindatum, bool *changed,
					 struct errbuf *e)
{
	sqlite3_stmt *st = stmt(s, Q_PERSON_WITHDRAW, e);

	*changed = false;
	if (st == NULL)
		return ST_FAIL;
	bind_person_identity(st, pseudonym, begindatum);
	if (step_done(s, st, e, "withdraw person") != ST_OK)
		return ST_FAIL;
	*changed = sqlite3_changes(s->db) > 0;
	return ST_OK;
}

/*
 * The findings stored by the input being read are listed, with their
 * places, in temp.finding_seen (made here on first use; the rows of
 * earlier inputs are dropped as the next one starts, so it holds one
 * input's findings at most).
 */
enum status store_sqlite_finding_repeat(struct store_sqlite *s, int64_t ingest_id,
					const struct finding_row *r, const char *place,
					char *first, size_t n, bool *differs, struct errbuf *e)
{
	char key[ADDRESS_KEY_MAX];
	uint8_t digest[32];
	sqlite3_stmt *st;
	int rc;

	*differs = false;
	if (s->stmt[Q_FINDING_SEEN_GET] == NULL &&
	    sqlite3_exec(s->db, "CREATE TEMP TABLE IF NOT EXISTS finding_seen(id TEXT PRIMARY KEY,"
			 " ingest_id INTEGER NOT NULL, place TEXT NOT NULL);"
			 " CREATE INDEX IF NOT EXISTS temp.finding_seen_ingest"
			 " ON finding_seen(ingest_id)", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, e, "finding_seen");
	st = stmt(s, Q_FINDING_SEEN_GET, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ingest_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		address_key(&r->address, key);
		finding_digest(r, key, digest);
		*differs = sqlite3_column_bytes(st, 1) != (int)sizeof(digest) ||
			   memcmp(sqlite3_column_blob(st, 1), digest, sizeof(digest)) != 0;
		column_copy(st, 0, first, n);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, e, "read finding_seen");
	if (rc == SQLITE_ROW)
		return ST_OK;
	st = stmt(s, Q_FINDING_SEEN_FORGET, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_int64(st, 1, ingest_id);
	if (step_done(s, st, e, "forget finding_seen") != ST_OK)
		return ST_FAIL;
	st = stmt(s, Q_FINDING_SEEN_PUT, e);
	if (st == NULL)
		return ST_FAIL;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ingest_id);
	sqlite3_bind_text(st, 3, place, -1, SQLITE_STATIC);
	return step_done(s, st, e, "note finding_seen");
}

