/*
 * test_route.c - who receives a signal (matching.md, Routing).
 */
#include "testutil.h"

#include "route.h"

static struct config cfg;

/* Three parties: Westland (1783), Venlo (0983), the inspectorate (national). */
static int setup(void **state)
{
	static const char conf[] =
		"[party.00000001000000001783]\ngemeenten = 1783\nreceives = all\n"
		"[party.00000001000000000983]\ngemeenten = 0983\nreceives = all\n"
		"[party.00000001003214345000]\nreceives = OVERBEWONING, ADRES_AFWIJKING\n"
		"[party.00000001000000000000]\nname = nobody\n";
	char path[] = "/tmp/schakel-route-XXXXXX";
	struct errbuf e;
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)sizeof(conf) - 1)
		return -1;
	close(fd);
	if (config_load(&cfg, path, &e) != ST_OK) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(&cfg);
	return 0;
}

static struct signal make(const char *rule, const char *gem_a, const char *gem_b)
{
	struct signal sig = { 0 };

	snprintf(sig.rule, sizeof(sig.rule), "%s", rule);
	snprintf(sig.address.gemeentecode, sizeof(sig.address.gemeentecode), "%s", gem_a);
	if (gem_b != NULL) {
		sig.has_person = true;
		snprintf(sig.registered_address.gemeentecode,
			 sizeof(sig.registered_address.gemeentecode), "%s", gem_b);
	}
	return sig;
}

static bool has(const struct signal *sig, const char *oin)
{
	for (size_t i = 0; i < sig->nrecipients; i++)
		if (strcmp(sig->recipients[i], oin) == 0)
			return true;
	return false;
}

static void test_municipality_of_the_address_and_national_party_receive(void **state)
{
	struct signal sig = make("OVERBEWONING", "1783", NULL);
	struct errbuf e;

	(void)state;
	assert_int_equal(route_signal(&cfg, &sig, &e), ST_OK);
	assert_int_equal(sig.nrecipients, 2);
	assert_true(has(&sig, "00000001000000001783"));
	assert_true(has(&sig, "00000001003214345000"));
	assert_false(has(&sig, "00000001000000000983"));
	signal_clear(&sig);
}

static void test_rule_not_granted_is_not_routed(void **state)
{
	struct signal sig = make("ONDERREGISTRATIE", "1783", NULL);
	struct errbuf e;

	(void)state;
	assert_int_equal(route_signal(&cfg, &sig, &e), ST_OK);
	assert_int_equal(sig.nrecipients, 1);
	assert_false(has(&sig, "00000001003214345000"));
	signal_clear(&sig);
}

static void test_address_mismatch_also_goes_to_the_municipality_of_b(void **state)
{
	struct signal sig = make("ADRES_AFWIJKING", "1783", "0983");
	struct errbuf e;

	(void)state;
	assert_int_equal(route_signal(&cfg, &sig, &e), ST_OK);
	assert_int_equal(sig.nrecipients, 3);
	assert_true(has(&sig, "00000001000000000983"));
	signal_clear(&sig);
}

static void test_party_without_grant_receives_nothing(void **state)
{
	struct signal sig = make("GEEN_VERGUNNING", "9999", NULL);
	struct errbuf e;

	(void)state;
	assert_int_equal(route_signal(&cfg, &sig, &e), ST_OK);
	assert_int_equal(sig.nrecipients, 0);
	signal_clear(&sig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_municipality_of_the_address_and_national_party_receive),
		cmocka_unit_test(test_rule_not_granted_is_not_routed),
		cmocka_unit_test(test_address_mismatch_also_goes_to_the_municipality_of_b),
		cmocka_unit_test(test_party_without_grant_receives_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
