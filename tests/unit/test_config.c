/*
 * test_config.c - DIR/schakel.conf: defaults, the default file, parties
 * and the "file:line:" errors.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "config.h"

struct fx {
	char *dir;
	char *path;		/* DIR/schakel.conf */
	struct config cfg;
	struct errbuf e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = testutil_tmpdir()) == NULL)
		return -1;
	if (asprintf(&f->path, "%s/schakel.conf", f->dir) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	config_free(&f->cfg);
	free(f->path);
	testutil_rmtree(f->dir);
	free(f);
	return 0;
}

/* Writes text to f->path and loads it into f->cfg. */
static enum status load_text(struct fx *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	config_free(&f->cfg);
	f->e.msg[0] = '\0';
	return config_load(&f->cfg, f->path, &f->e);
}

/*
 * Asserts that text fails to load with "PATH:LINE: " followed by a message
 * that contains what, and that cfg is left empty.
 */
static void assert_load_error(struct fx *f, const char *text, int line, const char *what)
{
	char prefix[1200];

	assert_int_equal(load_text(f, text), ST_FAIL);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", f->path, line);
	if (strncmp(f->e.msg, prefix, strlen(prefix)) != 0 || strstr(f->e.msg, what) == NULL)
		fail_msg("expected '%s...%s', got '%s'", prefix, what, f->e.msg);
	assert_null(f->cfg.path);
	assert_null(f->cfg.database);
	assert_int_equal(f->cfg.nparties, 0);
}

/* Asserts that every value in cfg is its documented default. */
static void assert_defaults(const struct config *cfg)
{
	assert_int_equal(cfg->window_days, 365);
	for (int r = 0; r < RULE_COUNT; r++)
		assert_true(cfg->rule_enabled[r]);
	assert_int_equal(cfg->m2_per_person, 12);
	assert_int_equal(cfg->min_gap, 2);
	assert_int_equal(cfg->permit_gemeenten.n, 0);
	assert_int_equal(cfg->min_persons, 4);
	assert_int_equal(cfg->max_field_bytes, 65536);
	assert_int_equal(cfg->max_depth, 64);
	assert_int_equal(cfg->max_records, 10000000);
	assert_string_equal(cfg->database, "schakel.db");
	assert_int_equal(cfg->busy_timeout_ms, 5000);
	assert_string_equal(cfg->log_level, "info");
	assert_int_equal(cfg->nparties, 0);
}

static void test_defaults_are_the_documented_values(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(config_defaults(&cfg), ST_OK);
	assert_defaults(&cfg);
	config_free(&cfg);
	config_free(&cfg);	/* freeing twice is harmless */
}

static void test_empty_file_gives_defaults(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, ""), ST_OK);
	assert_defaults(&f->cfg);
	assert_string_equal(f->cfg.path, f->path);
}

static void test_comments_and_empty_sections_give_defaults(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, "; comment\n# comment\n\n[match]\n[log]\n"), ST_OK);
	assert_defaults(&f->cfg);
}

static void test_product_example_parses(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f,
		"[match]\n"
		"window_days = 365          ; findings older than this (before --as-of) are ignored\n"
		"\n"
		"[rule.OVERBEWONING]\n"
		"m2_per_person = 12         ; Bouwbesluit 2012 art. 7.18: one person per 12 m2 of floor area\n"
		"\n"
		"[rule.ONDERREGISTRATIE]\n"
		"min_gap = 2                ; observed minus registered at least this\n"
		"\n"
		"[rule.ADRES_AFWIJKING]\n"
		"enabled = true\n"
		"\n"
		"[rule.GEEN_VERGUNNING]\n"
		"gemeenten =                ; comma-separated gemeentecodes that require a landlord permit\n"
		"min_persons = 4\n"), ST_OK);
	assert_defaults(&f->cfg);
}

static void test_every_key_set(void **state)
{
	struct fx *f = *state;
	const struct config *c = &f->cfg;

	assert_int_equal(load_text(f,
		"[match]\nwindow_days = 30\n"
		"[rule.OVERBEWONING]\nenabled = off\nm2_per_person = 10\n"
		"[rule.ONDERREGISTRATIE]\nenabled = no\nmin_gap = 3\n"
		"[rule.ADRES_AFWIJKING]\nenabled = 0\n"
		"[rule.GEEN_VERGUNNING]\nenabled = FALSE\ngemeenten = 1783 ,0983\nmin_persons = 5\n"
		"[ingest]\nmax_field_bytes = 1M\nmax_depth = 8\nmax_records = 100\n"
		"[store]\ndatabase = /var/lib/schakel/s.db\nbusy_timeout_ms = 0\n"
		"[log]\nlevel = debug\n"), ST_OK);
	assert_int_equal(c->window_days, 30);
	for (int r = 0; r < RULE_COUNT; r++)
		assert_false(c->rule_enabled[r]);
	assert_int_equal(c->m2_per_person, 10);
	assert_int_equal(c->min_gap, 3);
	assert_int_equal(c->permit_gemeenten.n, 2);
	assert_string_equal(c->permit_gemeenten.v[0], "1783");
	assert_string_equal(c->permit_gemeenten.v[1], "0983");
	assert_int_equal(c->min_persons, 5);
	assert_int_equal(c->max_field_bytes, 1048576);
	assert_int_equal(c->max_depth, 8);
	assert_int_equal(c->max_records, 100);
	assert_string_equal(c->database, "/var/lib/schakel/s.db");
	assert_int_equal(c->busy_timeout_ms, 0);
	assert_string_equal(c->log_level, "debug");
}

static void test_bool_spellings(void **state)
{
	struct fx *f = *state;
	const char *yes[] = { "true", "yes", "on", "1", "True" };
	const char *no[] = { "false", "no", "off", "0", "OFF" };
	char text[200];

	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "[rule.ADRES_AFWIJKING]\nenabled = %s\n", no[i]);
		assert_int_equal(load_text(f, text), ST_OK);
		assert_false(f->cfg.rule_enabled[RULE_ADRES_AFWIJKING]);
		snprintf(text, sizeof(text), "[rule.ADRES_AFWIJKING]\nenabled = %s\n", yes[i]);
		assert_int_equal(load_text(f, text), ST_OK);
		assert_true(f->cfg.rule_enabled[RULE_ADRES_AFWIJKING]);
	}
}

static void test_indented_keys_bom_and_crlf(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, "\xEF\xBB\xBF[match]\r\n  window_days = 7\r\n"
				   "  [log]\r\n\tlevel = warn\r\n"), ST_OK);
	assert_int_equal(f->cfg.window_days, 7);
	assert_string_equal(f->cfg.log_level, "warn");
}

static void test_default_file_reads_back_as_defaults(void **state)
{
	struct fx *f = *state;
	bool created = false;

	assert_int_equal(config_write_default(f->path, &created, &f->e), ST_OK);
	assert_true(created);
	assert_int_equal(config_load(&f->cfg, f->path, &f->e), ST_OK);
	assert_defaults(&f->cfg);
}

static void test_default_file_names_every_key(void **state)
{
	struct fx *f = *state;
	static const char *const words[] = {
		"[match]", "window_days = 365", "[rule.OVERBEWONING]", "m2_per_person = 12",
		"[rule.ONDERREGISTRATIE]", "min_gap = 2", "[rule.ADRES_AFWIJKING]",
		"[rule.GEEN_VERGUNNING]", "gemeenten =", "min_persons = 4", "[ingest]",
		"max_field_bytes = 65536", "max_depth = 64", "max_records = 10000000",
		"[store]", "database = schakel.db", "busy_timeout_ms = 5000", "[log]",
		"level = info", ";[party.", ";name = ", ";gemeenten = ", ";supplies = ",
		";receives = ", ";receive_bsn = ", ";push_url = https://", ";max_in_flight = 4",
	};
	char buf[16384];
	size_t n;
	FILE *fp;

	assert_int_equal(config_write_default(f->path, NULL, &f->e), ST_OK);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(buf, words[i]) == NULL)
			fail_msg("default file lacks '%s'", words[i]);
}

static void test_default_file_is_mode_0600(void **state)
{
	struct fx *f = *state;
	bool created = false;
	struct stat sb;

	assert_int_equal(config_write_default(f->path, &created, &f->e), ST_OK);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

static void test_default_file_kept_when_present(void **state)
{
	struct fx *f = *state;
	bool created = true;

	assert_int_equal(load_text(f, "[match]\nwindow_days = 9\n"), ST_OK);
	assert_int_equal(config_write_default(f->path, &created, &f->e), ST_OK);
	assert_false(created);
	config_free(&f->cfg);
	assert_int_equal(config_load(&f->cfg, f->path, &f->e), ST_OK);
	assert_int_equal(f->cfg.window_days, 9);
}

static void test_default_file_in_missing_dir_fails(void **state)
{
	struct fx *f = *state;
	char *path;
	bool created = true;

	assert_true(asprintf(&path, "%s/nope/schakel.conf", f->dir) > 0);
	assert_int_equal(config_write_default(path, &created, &f->e), ST_FAIL);
	assert_false(created);
	assert_non_null(strstr(f->e.msg, "cannot create"));
	free(path);
}

static void test_missing_file_fails(void **state)
{
	struct fx *f = *state;
	char *path;

	assert_true(asprintf(&path, "%s/absent.conf", f->dir) > 0);
	assert_int_equal(config_load(&f->cfg, path, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "absent.conf: cannot open: No such file"));
	assert_null(f->cfg.database);
	free(path);
}

static void test_unknown_section_names_line(void **state)
{
	assert_load_error(*state, "[match]\nwindow_days = 3\n\n[matching]\nwindow_days = 3\n",
			  4, "unknown section [matching]");
	/* The list of known sections is every section there is. */
	assert_load_error(*state, "[matching]\n", 1, "(known: [match], [rule.<RULE>], [ingest], "
			  "[store], [log], [server], [admin], [delivery], [retention], [ldv], [party.<OIN>], "
			  "[source.<name>])");
}

static void test_empty_unknown_section_caught(void **state)
{
	assert_load_error(*state, "[match]\n; nothing\n[bogus]\n", 3, "unknown section [bogus]");
	assert_load_error(*state, "[rule.FOO]\n", 1, "unknown section [rule.FOO]");
	assert_load_error(*state, "[match\n", 1, "lacks its closing ']'");
}

static void test_unknown_key_names_line(void **state)
{
	assert_load_error(*state, "[match]\nwindow_days = 3\nx = 1\n", 3,
			  "unknown key 'x' in section [match]");
	/* a key of another section is unknown here */
	assert_load_error(*state, "[rule.ADRES_AFWIJKING]\nmin_gap = 2\n", 2,
			  "unknown key 'min_gap' in section [rule.ADRES_AFWIJKING]");
}

static void test_key_before_section(void **state)
{
	assert_load_error(*state, "window_days = 3\n", 1, "key 'window_days' comes before any [section]");
}

static void test_bad_int_names_line(void **state)
{
	assert_load_error(*state, "[match]\n\nwindow_days = abc\n", 3,
			  "window_days must be an integer from 1 to 3650, not 'abc'");
	assert_load_error(*state, "[match]\nwindow_days = 12x\n", 2, "not '12x'");
	assert_load_error(*state, "[match]\nwindow_days =\n", 2, "not ''");
}

static void test_out_of_range_names_line(void **state)
{
	assert_load_error(*state, "[match]\nwindow_days = 3651\n", 2,
			  "window_days must be an integer from 1 to 3650, not '3651'");
	assert_load_error(*state, "[match]\nwindow_days = 0\n", 2, "not '0'");
	assert_load_error(*state, "[store]\nbusy_timeout_ms = -1\n", 2,
			  "busy_timeout_ms must be an integer from 0 to 600000, not '-1'");
	assert_load_error(*state, "[ingest]\nmax_field_bytes = 1023\n", 2,
			  "max_field_bytes must be a number of bytes from 1024");
	assert_load_error(*state, "[ingest]\nmax_depth = 7\n", 2,
			  "max_depth must be an integer from 8 to 1000, not '7'");
	assert_load_error(*state, "[ingest]\nmax_records = 0\n", 2,
			  "max_records must be an integer of at least 1, not '0'");
	assert_load_error(*state, "[ingest]\nmax_records = -5\n", 2, "not '-5'");
	assert_load_error(*state, "[match]\nwindow_days = 99999999999999999999\n", 2,
			  "not '99999999999999999999'");
}

static void test_bad_bool_names_line(void **state)
{
	assert_load_error(*state, "[rule.OVERBEWONING]\nenabled = maybe\n", 2,
			  "enabled must be true or false (or yes/no, on/off, 1/0), not 'maybe'");
}

static void test_bad_string_values(void **state)
{
	assert_load_error(*state, "[log]\nlevel = verbose\n", 2,
			  "level must be one of error, warn, info, debug, not 'verbose'");
	assert_load_error(*state, "[store]\ndatabase =\n", 2, "database must not be empty");
}

static void test_bad_oin_names_line(void **state)
{
	assert_load_error(*state, "[match]\n[party.123]\nname = x\n", 2,
			  "not [party.123]");
	assert_load_error(*state, "[party.0000000100000000178X]\n", 1, "20 digits");
	assert_load_error(*state, "[party.000000010000000017830]\n", 1, "20 digits");
	assert_load_error(*state, "[party.]\n", 1, "20 digits");
}

static void test_bad_gemeentecode_names_line(void **state)
{
	assert_load_error(*state, "[rule.GEEN_VERGUNNING]\ngemeenten = 1783, 983\n", 2,
			  "gemeenten: '983' is not a gemeentecode");
	assert_load_error(*state, "[party.00000001000000001783]\ngemeenten = 1783,,0983\n", 2,
			  "gemeenten has an empty item in '1783,,0983'");
	assert_load_error(*state, "[party.00000001000000001783]\ngemeenten = 1783,\n", 2,
			  "empty item");
}

static void test_bad_rule_name_names_line(void **state)
{
	assert_load_error(*state, "[party.00000001000000001783]\nname = W\n"
			  "receives = OVERBEWONING, overbewoning\n", 3,
			  "receives: 'overbewoning' is not a rule");
	assert_load_error(*state, "[party.00000001000000001783]\nsupplies = BRP\n", 2,
			  "supplies: 'BRP' is not an adapter name");
}

static void test_bad_push_url(void **state)
{
	assert_load_error(*state, "[party.00000001000000001783]\npush_url = http://x.example/\n", 2,
			  "push_url must be a URL starting with https://, not 'http://x.example/'");
	assert_load_error(*state, "[party.00000001000000001783]\npush_url = https://\n", 2,
			  "push_url must be a URL");
}

static void test_duplicates_are_errors(void **state)
{
	assert_load_error(*state, "[match]\nwindow_days = 3\nwindow_days = 4\n", 3,
			  "window_days is set twice in [match] (first on line 2)");
	assert_load_error(*state, "[match]\n[log]\n[match]\n", 3,
			  "section [match] appears twice (first on line 1)");
	assert_load_error(*state, "[party.00000001000000001783]\nname = a\n"
			  "[party.00000001000000000983]\n"
			  "[party.00000001000000001783]\nname = b\n", 4,
			  "[party.00000001000000001783] appears twice");
}

static void test_syntax_error_names_line(void **state)
{
	assert_load_error(*state, "[match]\nwindow_days\n", 2, "expected [section], key = value");
	/* a syntax error before a semantic one is the one reported */
	assert_load_error(*state, "[match]\njunk\nwindow_days = abc\n", 2, "expected");
}

static void test_long_line_is_error(void **state)
{
	char text[400];

	snprintf(text, sizeof(text), "[store]\ndatabase = %0300d\n", 0);
	assert_load_error(*state, text, 2, "the line is longer than");
}

/* A NUL byte inside a value (or anywhere in a line) names file and line. */
static void test_nul_byte_names_line(void **state)
{
	static const char text[] = "[match]\nwindow_days = 3\n[party.00000001000000001783]\n"
				   "name = West\0land\ngemeenten = 1783\n";
	struct fx *f = *state;
	char prefix[1200];
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, sizeof(text) - 1, fp), sizeof(text) - 1);
	assert_int_equal(fclose(fp), 0);
	config_free(&f->cfg);
	assert_int_equal(config_load(&f->cfg, f->path, &f->e), ST_FAIL);
	snprintf(prefix, sizeof(prefix), "%s:4: a NUL byte in the line", f->path);
	assert_string_equal(f->e.msg, prefix);
	assert_int_equal(f->cfg.nparties, 0);
}

static void test_party_all_keys(void **state)
{
	struct fx *f = *state;
	const struct party *p;

	assert_int_equal(load_text(f,
		"[party.00000001000000001783]\n"
		"name = Gemeente Westland\n"
		"gemeenten = 1783, 1784\n"
		"supplies = brp, huisvesting\n"
		"receives = OVERBEWONING,GEEN_VERGUNNING\n"
		"receive_bsn = yes\n"
		"push_url = https://schakel.westland.example/signals\n"), ST_OK);
	assert_int_equal(f->cfg.nparties, 1);
	p = &f->cfg.parties[0];
	assert_string_equal(p->oin, "00000001000000001783");
	assert_string_equal(p->name, "Gemeente Westland");
	assert_int_equal(p->gemeenten.n, 2);
	assert_true(strlist_has(&p->gemeenten, "1784"));
	assert_int_equal(p->supplies.n, 2);
	assert_true(strlist_has(&p->supplies, "brp"));
	assert_true(strlist_has(&p->supplies, "huisvesting"));
	assert_false(strlist_has(&p->supplies, "inspectie"));
	assert_int_equal(p->receives, RULE_BIT(RULE_OVERBEWONING) | RULE_BIT(RULE_GEEN_VERGUNNING));
	assert_true(p->receive_bsn);
	assert_string_equal(p->push_url, "https://schakel.westland.example/signals");
	assert_int_equal(f->cfg.window_days, 365);
	assert_string_equal(f->cfg.database, "schakel.db");
}

static void test_party_defaults_deny(void **state)
{
	struct fx *f = *state;
	const struct party *p;

	assert_int_equal(load_text(f, "[party.00000001003214345000]\n"), ST_OK);
	p = config_party(&f->cfg, "00000001003214345000");
	assert_non_null(p);
	assert_string_equal(p->name, "00000001003214345000");
	assert_int_equal(p->gemeenten.n, 0);
	assert_int_equal(p->supplies.n, 0);
	assert_int_equal(p->receives, 0);
	assert_false(p->receive_bsn);
	assert_null(p->push_url);
	assert_int_equal(p->max_in_flight, 4);
}

/* [party] max_in_flight: the pushes under way at once to that party. */
static void test_party_max_in_flight(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, "[party.00000001003214345000]\nmax_in_flight = 1\n"
				   "[party.00000001000000001783]\nmax_in_flight = 1000\n"), ST_OK);
	assert_int_equal(config_party(&f->cfg, "00000001003214345000")->max_in_flight, 1);
	assert_int_equal(config_party(&f->cfg, "00000001000000001783")->max_in_flight, 1000);
	assert_int_equal(f->cfg.delivery_max_in_flight, 256);
	assert_load_error(*state, "[party.00000001003214345000]\nmax_in_flight = 0\n", 2,
			  "max_in_flight must be an integer from 1 to 1000, not '0'");
	assert_load_error(*state, "[party.00000001003214345000]\nmax_in_flight = 1001\n", 2,
			  "not '1001'");
	assert_load_error(*state, "[party.00000001003214345000]\nmax_in_flight = -4\n", 2,
			  "not '-4'");
}

static void test_party_receives_all(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, "[party.00000001003214345000]\nreceives = all\n"), ST_OK);
	assert_int_equal(f->cfg.parties[0].receives, RULE_ALL);
	assert_int_equal(load_text(f, "[party.00000001003214345000]\nreceives =\n"), ST_OK);
	assert_int_equal(f->cfg.parties[0].receives, 0);
}

static void test_config_party_lookup(void **state)
{
	struct fx *f = *state;
	const struct party *p;

	assert_int_equal(load_text(f,
		"[party.00000001000000001783]\nname = Westland\ngemeenten = 1783\n"
		"[party.00000001000000000983]\nname = Venlo\ngemeenten = 0983\n"
		"[party.00000001003214345000]\nname = Arbeidsinspectie\nreceives = all\n"), ST_OK);
	assert_int_equal(f->cfg.nparties, 3);
	p = config_party(&f->cfg, "00000001000000000983");
	assert_non_null(p);
	assert_string_equal(p->name, "Venlo");
	assert_true(strlist_has(&p->gemeenten, "0983"));
	p = config_party(&f->cfg, "00000001003214345000");
	assert_non_null(p);
	assert_string_equal(p->name, "Arbeidsinspectie");
	assert_null(config_party(&f->cfg, "00000001000000001784"));
	assert_null(config_party(&f->cfg, "0000000100000000178"));
	assert_null(config_party(NULL, "00000001000000001783"));
}

static void test_strlist_has(void **state)
{
	char a[] = "1783", b[] = "0983";
	char *v[] = { a, b };
	struct strlist l = { v, 2 }, empty = { NULL, 0 };

	(void)state;
	assert_true(strlist_has(&l, "0983"));
	assert_false(strlist_has(&l, "098"));
	assert_false(strlist_has(&empty, "1783"));
	assert_false(strlist_has(NULL, "1783"));
}

static void test_error_after_parties_leaks_nothing(void **state)
{
	/* valgrind checks that the parties read before the error are freed */
	assert_load_error(*state,
		"[party.00000001000000001783]\nname = Westland\ngemeenten = 1783\n"
		"push_url = https://w.example/\n[party.00000001000000000983]\nname = Venlo\n"
		"bogus = 1\n", 7, "unknown key 'bogus' in section [party.00000001000000000983]");
}

/* Reads FIXTURES/../../docs/configuration.md; NULL when it is not there. */
static char *docs_read(void)
{
	FILE *fp = fopen(FIXTURES "/../../docs/configuration.md", "r");
	char *buf;
	size_t n;

	if (fp == NULL)
		return NULL;
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, fp);
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

static void test_docs_example_loads(void **state)
{
	struct fx *f = *state;
	char *doc = docs_read(), *start, *end;

	if (doc == NULL)
		skip();
	start = strstr(doc, "## A complete example");
	assert_non_null(start);
	start = strstr(start, "```ini\n");
	assert_non_null(start);
	start += 7;
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	if (load_text(f, start) != ST_OK)
		fail_msg("%s", f->e.msg);
	assert_int_equal(f->cfg.nparties, 3);
	assert_non_null(config_party(&f->cfg, "00000001000000001783"));
	assert_non_null(config_party(&f->cfg, "00000001000000000983"));
	assert_int_equal(config_party(&f->cfg, "00000001003214345000")->gemeenten.n, 0);
	free(doc);
}

/* Every "key =" line of the default file is documented as `key`. */
static void test_docs_name_every_key(void **state)
{
	struct fx *f = *state;
	char *doc = docs_read(), line[256], want[64];
	FILE *fp;

	if (doc == NULL)
		skip();
	assert_int_equal(config_write_default(f->path, NULL, &f->e), ST_OK);
	fp = fopen(f->path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *p = line + (line[0] == ';'), *eq = strstr(p, " =");

		if (eq == NULL || strchr(p, ' ') != eq)
			continue;
		snprintf(want, sizeof(want), "`%.*s`", (int)(eq - p), p);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/configuration.md does not document %s", want);
	}
	fclose(fp);
	free(doc);
}

/* [store] backend: sqlite unless set; postgresql with a dsn and passfile. */
static void test_store_backend(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load_text(f, "[store]\ndatabase = x.db\n"), ST_OK);
	assert_string_equal(f->cfg.store_backend, "sqlite");
	assert_null(f->cfg.dsn);
	assert_null(f->cfg.passfile);
	assert_int_equal(load_text(f, "[store]\nbackend = postgresql\n"
				   "dsn = host=db.example port=5433 dbname=schakel user=sk\n"
				   "passfile = pgpass\n"), ST_OK);
	assert_string_equal(f->cfg.store_backend, "postgresql");
	assert_string_equal(f->cfg.dsn, "host=db.example port=5433 dbname=schakel user=sk");
	assert_string_equal(f->cfg.passfile, "pgpass");
	assert_int_equal(load_text(f, "[store]\nbackend = postgresql\n"
				   "dsn = postgresql://sk@db.example/schakel\n"), ST_OK);
}

/* Asserts that a [store] text fails with "PATH: " and a message holding what. */
static void assert_store_error(struct fx *f, const char *text, const char *what)
{
	char prefix[1200];

	assert_int_equal(load_text(f, text), ST_FAIL);
	snprintf(prefix, sizeof(prefix), "%s: ", f->path);
	if (strncmp(f->e.msg, prefix, strlen(prefix)) != 0 || strstr(f->e.msg, what) == NULL)
		fail_msg("expected '%s...%s', got '%s'", prefix, what, f->e.msg);
	assert_null(f->cfg.path);
}

/* A dsn with a password is refused, and the message never shows it. */
static void test_store_backend_errors(void **state)
{
	struct fx *f = *state;

	assert_load_error(f, "[store]\nbackend = mysql\n", 2,
			  "backend must be one of sqlite, postgresql, not 'mysql'");
	assert_store_error(f, "[store]\nbackend = postgresql\n", "needs a dsn");
	assert_store_error(f, "[store]\ndsn = host=x dbname=y\n", "dsn is for backend = postgresql");
	assert_store_error(f, "[store]\npassfile = pgpass\n", "passfile is for backend = postgresql");
	assert_store_error(f, "[store]\nbackend = postgresql\ndsn = host=x password=Geheim42\n",
			   "dsn must not hold the password: put it in a passfile");
	assert_null(strstr(f->e.msg, "Geheim42"));
	assert_store_error(f, "[store]\nbackend = postgresql\n"
			   "dsn = postgresql://sk:Geheim42@db.example/schakel\n",
			   "dsn must not hold the password");
	assert_null(strstr(f->e.msg, "Geheim42"));
	/* libpq's own message would quote the text after "password": not shown */
	assert_store_error(f, "[store]\nbackend = postgresql\ndsn = host=x password Geheim42\n",
			   "dsn is not a libpq connection string");
	assert_null(strstr(f->e.msg, "Geheim42"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults_are_the_documented_values),
		T(test_empty_file_gives_defaults),
		T(test_comments_and_empty_sections_give_defaults),
		T(test_product_example_parses),
		T(test_every_key_set),
		T(test_bool_spellings),
		T(test_indented_keys_bom_and_crlf),
		T(test_default_file_reads_back_as_defaults),
		T(test_default_file_names_every_key),
		T(test_default_file_is_mode_0600),
		T(test_default_file_kept_when_present),
		T(test_default_file_in_missing_dir_fails),
		T(test_missing_file_fails),
		T(test_unknown_section_names_line),
		T(test_empty_unknown_section_caught),
		T(test_unknown_key_names_line),
		T(test_key_before_section),
		T(test_bad_int_names_line),
		T(test_out_of_range_names_line),
		T(test_bad_bool_names_line),
		T(test_bad_string_values),
		T(test_store_backend),
		T(test_store_backend_errors),
		T(test_bad_oin_names_line),
		T(test_bad_gemeentecode_names_line),
		T(test_bad_rule_name_names_line),
		T(test_bad_push_url),
		T(test_duplicates_are_errors),
		T(test_syntax_error_names_line),
		T(test_long_line_is_error),
		T(test_nul_byte_names_line),
		T(test_party_all_keys),
		T(test_party_defaults_deny),
		T(test_party_max_in_flight),
		T(test_party_receives_all),
		T(test_config_party_lookup),
		T(test_strlist_has),
		T(test_error_after_parties_leaks_nothing),
		T(test_docs_example_loads),
		T(test_docs_name_every_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
