/*
 * test_crypto.c - the installation's keys, BSN pseudonyms, BSN sealing and
 * SHA-256.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto.h"

struct fx {
	char *dir;
	char *other;		/* a second installation */
	struct keys k, k2;
	struct errbuf e;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = testutil_tmpdir()) == NULL ||
	    (f->other = testutil_tmpdir()) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	crypto_keys_wipe(&f->k);
	crypto_keys_wipe(&f->k2);
	testutil_rmtree(f->dir);
	testutil_rmtree(f->other);
	free(f);
	return 0;
}

/* Creates and loads the keys of dir into k. */
static void make_keys(struct fx *f, const char *dir, struct keys *k)
{
	if (crypto_keys_create(dir, &f->e) != ST_OK)
		fail_msg("crypto_keys_create: %s", f->e.msg);
	if (crypto_keys_load(dir, k, &f->e) != ST_OK)
		fail_msg("crypto_keys_load: %s", f->e.msg);
}

/* Reads a whole small file into buf; returns its length. */
static size_t read_small(const char *path, uint8_t *buf, size_t n)
{
	FILE *fp = fopen(path, "rb");
	size_t got;

	assert_non_null(fp);
	got = fread(buf, 1, n, fp);
	fclose(fp);
	return got;
}

static char *key_path(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/keys/%s", dir, name) > 0);
	return p;
}

static void test_keys_created_0600_in_keys_dir_0700(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "pseudonym.key", "encrypt.key" };
	struct stat sb;
	char *p;

	umask(022);
	assert_int_equal(crypto_keys_create(f->dir, &f->e), ST_OK);
	assert_true(asprintf(&p, "%s/keys", f->dir) > 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	free(p);
	for (size_t i = 0; i < 2; i++) {
		p = key_path(f->dir, names[i]);
		assert_int_equal(stat(p, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		assert_int_equal(sb.st_mode & 07777, 0600);
		assert_int_equal(sb.st_size, CRYPTO_KEY_LEN);
		free(p);
	}
	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_OK);
	/* two different random keys, not all zeros */
	assert_memory_not_equal(f->k.pseudonym, f->k.encrypt, CRYPTO_KEY_LEN);
	assert_memory_not_equal(f->k.pseudonym, (uint8_t[CRYPTO_KEY_LEN]){ 0 }, CRYPTO_KEY_LEN);
}

static void test_keys_kept_on_second_create(void **state)
{
	struct fx *f = *state;
	uint8_t a1[64], e1[64], a2[64], e2[64];
	char *pp = key_path(f->dir, "pseudonym.key"), *ep = key_path(f->dir, "encrypt.key");

	assert_int_equal(crypto_keys_create(f->dir, &f->e), ST_OK);
	assert_int_equal(read_small(pp, a1, sizeof(a1)), CRYPTO_KEY_LEN);
	assert_int_equal(read_small(ep, e1, sizeof(e1)), CRYPTO_KEY_LEN);
	assert_int_equal(crypto_keys_create(f->dir, &f->e), ST_OK);
	assert_int_equal(read_small(pp, a2, sizeof(a2)), CRYPTO_KEY_LEN);
	assert_int_equal(read_small(ep, e2, sizeof(e2)), CRYPTO_KEY_LEN);
	assert_memory_equal(a1, a2, CRYPTO_KEY_LEN);
	assert_memory_equal(e1, e2, CRYPTO_KEY_LEN);
	/* the loaded keys are the bytes of the files */
	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_OK);
	assert_memory_equal(f->k.pseudonym, a1, CRYPTO_KEY_LEN);
	assert_memory_equal(f->k.encrypt, e1, CRYPTO_KEY_LEN);
	free(pp);
	free(ep);
}

static void test_load_refuses_key_readable_by_others(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "pseudonym.key", "encrypt.key" };

	assert_int_equal(crypto_keys_create(f->dir, &f->e), ST_OK);
	for (size_t i = 0; i < 2; i++) {
		char *p = key_path(f->dir, names[i]);

		assert_int_equal(chmod(p, 0644), 0);
		f->e.msg[0] = '\0';
		assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
		assert_non_null(strstr(f->e.msg, names[i]));
		assert_non_null(strstr(f->e.msg, "600"));
		assert_int_equal(chmod(p, 0640), 0);
		assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
		assert_int_equal(chmod(p, 0600), 0);
		assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_OK);
		crypto_keys_wipe(&f->k);	/* the loaded keys hold OpenSSL contexts */
		free(p);
	}
}

static void test_load_refuses_truncated_or_long_key(void **state)
{
	struct fx *f = *state;
	char *p = key_path(f->dir, "encrypt.key");
	int fd;

	assert_int_equal(crypto_keys_create(f->dir, &f->e), ST_OK);
	assert_int_equal(truncate(p, 16), 0);
	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "encrypt.key"));
	assert_int_equal(truncate(p, 0), 0);
	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef!", 33), 33);
	close(fd);
	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
	free(p);
}

static void test_load_without_keys_fails(void **state)
{
	struct fx *f = *state;

	assert_int_equal(crypto_keys_load(f->dir, &f->k, &f->e), ST_FAIL);
	assert_non_null(strstr(f->e.msg, "pseudonym.key"));
}

static void test_pseudonym_is_hmac_sha256_of_the_bsn(void **state)
{
	struct fx *f = *state;
	uint8_t p1[PSEUDONYM_LEN], p2[PSEUDONYM_LEN], want[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	make_keys(f, f->dir, &f->k);
	crypto_pseudonym(&f->k, "999900006", p1);
	crypto_pseudonym(&f->k, "999900006", p2);
	assert_memory_equal(p1, p2, PSEUDONYM_LEN);
	HMAC(EVP_sha256(), f->k.pseudonym, CRYPTO_KEY_LEN, (const uint8_t *)"999900006", 9,
	     want, &n);
	assert_int_equal(n, PSEUDONYM_LEN);
	assert_memory_equal(p1, want, PSEUDONYM_LEN);
	/* another BSN, another pseudonym */
	crypto_pseudonym(&f->k, "999900018", p2);
	assert_memory_not_equal(p1, p2, PSEUDONYM_LEN);
}

static void test_pseudonym_differs_for_another_key(void **state)
{
	struct fx *f = *state;
	uint8_t p1[PSEUDONYM_LEN], p2[PSEUDONYM_LEN];

	make_keys(f, f->dir, &f->k);
	make_keys(f, f->other, &f->k2);
	crypto_pseudonym(&f->k, "999900006", p1);
	crypto_pseudonym(&f->k2, "999900006", p2);
	assert_memory_not_equal(p1, p2, PSEUDONYM_LEN);
}

static void test_seal_open_round_trip(void **state)
{
	struct fx *f = *state;
	uint8_t ps[PSEUDONYM_LEN], sealed[SEALED_BSN_LEN];
	char out[10];

	make_keys(f, f->dir, &f->k);
	crypto_pseudonym(&f->k, "999993653", ps);
	assert_int_equal(crypto_seal_bsn(&f->k, "999993653", ps, sealed, &f->e), ST_OK);
	/* the BSN is not in the ciphertext in clear */
	assert_null(memmem(sealed, sizeof(sealed), "999993653", 9));
	memset(out, 'x', sizeof(out));
	assert_int_equal(crypto_open_bsn(&f->k, sealed, ps, out, &f->e), ST_OK);
	assert_string_equal(out, "999993653");
}

static void test_open_fails_with_another_pseudonym(void **state)
{
	struct fx *f = *state;
	uint8_t ps[PSEUDONYM_LEN], other[PSEUDONYM_LEN], sealed[SEALED_BSN_LEN];
	char out[10];

	make_keys(f, f->dir, &f->k);
	crypto_pseudonym(&f->k, "999900006", ps);
	crypto_pseudonym(&f->k, "999900018", other);
	assert_int_equal(crypto_seal_bsn(&f->k, "999900006", ps, sealed, &f->e), ST_OK);
	f->e.msg[0] = '\0';
	assert_int_equal(crypto_open_bsn(&f->k, sealed, other, out, &f->e), ST_FAIL);
	assert_true(f->e.msg[0] != '\0');
	assert_null(strstr(f->e.msg, "999900006"));
	assert_null(memmem(out, sizeof(out), "999900006", 9));
}

static void test_open_fails_on_any_flipped_byte(void **state)
{
	struct fx *f = *state;
	uint8_t ps[PSEUDONYM_LEN], sealed[SEALED_BSN_LEN], bad[SEALED_BSN_LEN];
	char out[10];

	make_keys(f, f->dir, &f->k);
	crypto_pseudonym(&f->k, "999900006", ps);
	assert_int_equal(crypto_seal_bsn(&f->k, "999900006", ps, sealed, &f->e), ST_OK);
	for (size_t i = 0; i < SEALED_BSN_LEN; i++) {
		memcpy(bad, sealed, sizeof(bad));
		bad[i] ^= 0x01;
		if (crypto_open_bsn(&f->k, bad, ps, out, &f->e) != ST_FAIL)
			fail_msg("a flipped bit in byte %zu was not noticed", i);
	}
	/* and the pseudonym is authenticated too */
	ps[PSEUDONYM_LEN - 1] ^= 0x80;
	assert_int_equal(crypto_open_bsn(&f->k, sealed, ps, out, &f->e), ST_FAIL);
}

static void test_open_fails_with_another_key(void **state)
{
	struct fx *f = *state;
	uint8_t ps[PSEUDONYM_LEN], sealed[SEALED_BSN_LEN];
	char out[10];

	make_keys(f, f->dir, &f->k);
	make_keys(f, f->other, &f->k2);
	crypto_pseudonym(&f->k, "999900006", ps);
	assert_int_equal(crypto_seal_bsn(&f->k, "999900006", ps, sealed, &f->e), ST_OK);
	assert_int_equal(crypto_open_bsn(&f->k2, sealed, ps, out, &f->e), ST_FAIL);
}

static void test_two_seals_of_the_same_bsn_differ(void **state)
{
	struct fx *f = *state;
	uint8_t ps[PSEUDONYM_LEN], s1[SEALED_BSN_LEN], s2[SEALED_BSN_LEN];
	char o1[10], o2[10];

	make_keys(f, f->dir, &f->k);
	crypto_pseudonym(&f->k, "999900006", ps);
	assert_int_equal(crypto_seal_bsn(&f->k, "999900006", ps, s1, &f->e), ST_OK);
	assert_int_equal(crypto_seal_bsn(&f->k, "999900006", ps, s2, &f->e), ST_OK);
	assert_memory_not_equal(s1, s2, 12);			/* nonce */
	assert_memory_not_equal(s1 + 12, s2 + 12, 9);		/* ciphertext */
	assert_int_equal(crypto_open_bsn(&f->k, s1, ps, o1, &f->e), ST_OK);
	assert_int_equal(crypto_open_bsn(&f->k, s2, ps, o2, &f->e), ST_OK);
	assert_string_equal(o1, o2);
}

static void test_sha256_known_vectors(void **state)
{
	uint8_t d[32];
	char hex[65];
	struct sha256 *h;

	(void)state;
	crypto_sha256("abc", 3, d);
	crypto_hex(d, 32, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, d);
	crypto_hex(d, 32, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	h = crypto_sha256_new();
	assert_non_null(h);
	crypto_sha256_update(h, "a", 1);
	crypto_sha256_update(h, "", 0);
	crypto_sha256_update(h, "bc", 2);
	crypto_sha256_final(h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_incremental_equals_one_shot(void **state)
{
	static uint8_t buf[100000];
	uint8_t d[32];
	char want[65], got[65];
	size_t chunks[] = { 1, 0, 63, 64, 65, 1000, 4096, 7, 33333 };

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131u + (i >> 8));
	crypto_sha256(buf, sizeof(buf), d);
	crypto_hex(d, 32, want);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct sha256 *h = crypto_sha256_new();
		size_t step = chunks[c] > 0 ? chunks[c] : 1, off = 0;

		assert_non_null(h);
		while (off < sizeof(buf)) {
			size_t n = sizeof(buf) - off < step ? sizeof(buf) - off : step;

			crypto_sha256_update(h, buf + off, n);
			crypto_sha256_update(h, buf + off, 0);
			off += n;
		}
		crypto_sha256_final(h, got);
		assert_string_equal(got, want);
	}
}

static void test_hex_is_lower_case(void **state)
{
	char out[9];

	(void)state;
	crypto_hex((const uint8_t[]){ 0x00, 0xab, 0xCD, 0xff }, 4, out);
	assert_string_equal(out, "00abcdff");
	crypto_hex(NULL, 0, out);
	assert_string_equal(out, "");
}

static void test_random_fills_buffer(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };
	struct errbuf e;

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a), &e), ST_OK);
	assert_int_equal(crypto_random(b, sizeof(b), &e), ST_OK);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void test_wipe_zeroes_keys(void **state)
{
	struct fx *f = *state;
	struct keys zero;

	memset(&zero, 0, sizeof(zero));
	make_keys(f, f->dir, &f->k);
	assert_memory_not_equal(&f->k, &zero, sizeof(zero));
	crypto_keys_wipe(&f->k);
	assert_memory_equal(&f->k, &zero, sizeof(zero));
	crypto_keys_wipe(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_keys_created_0600_in_keys_dir_0700),
		T(test_keys_kept_on_second_create),
		T(test_load_refuses_key_readable_by_others),
		T(test_load_refuses_truncated_or_long_key),
		T(test_load_without_keys_fails),
		T(test_pseudonym_is_hmac_sha256_of_the_bsn),
		T(test_pseudonym_differs_for_another_key),
		T(test_seal_open_round_trip),
		T(test_open_fails_with_another_pseudonym),
		T(test_open_fails_on_any_flipped_byte),
		T(test_open_fails_with_another_key),
		T(test_two_seals_of_the_same_bsn_differ),
		T(test_sha256_known_vectors),
		T(test_sha256_incremental_equals_one_shot),
		T(test_hex_is_lower_case),
		T(test_random_fills_buffer),
		T(test_wipe_zeroes_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
