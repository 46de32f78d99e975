/*
 * crypto.c - keys, pseudonyms, BSN encryption, digests (see crypto.h).
 * OpenSSL errors are turned into messages here; no key or BSN is ever part
 * of one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"

static const char *const key_files[] = { "pseudonym.key", "encrypt.key" };

enum status crypto_random(void *buf, size_t n, struct errbuf *e)
{
	if (RAND_bytes(buf, (int)n) != 1)
		return errbuf_set(e, ST_FAIL, "the random generator failed");
	return ST_OK;
}

/* Writes a fresh key to path unless the file exists. */
static enum status key_create(const char *path, struct errbuf *e)
{
	uint8_t key[CRYPTO_KEY_LEN];
	enum status st = ST_FAIL;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return ST_OK;
		return errbuf_set(e, ST_FAIL, "cannot create %s: %s", path, strerror(errno));
	}
	if (crypto_random(key, sizeof(key), e) != ST_OK)
		goto out_close;
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0) {
		errbuf_set(e, ST_FAIL, "cannot write %s: %s", path, strerror(errno));
		goto out_close;
	}
	st = ST_OK;
out_close:
	OPENSSL_cleanse(key, sizeof(key));
	close(fd);
	if (st != ST_OK)
		unlink(path);
	return st;
}

enum status crypto_keys_create(const char *dir, struct errbuf *e)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/keys", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return errbuf_set(e, ST_FAIL, "cannot create %s: %s", path, strerror(errno));
	for (size_t i = 0; i < sizeof(key_files) / sizeof(key_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/keys/%s", dir, key_files[i]);
		if (key_create(path, e) != ST_OK)
			return ST_FAIL;
	}
	return ST_OK;
}

static enum status key_load(const char *path, uint8_t key[CRYPTO_KEY_LEN], struct errbuf *e)
{
	struct stat sb;
	enum status st = ST_FAIL;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errbuf_set(e, ST_FAIL, "cannot read key %s: %s (run `schakel init`)",
				  path, strerror(errno));
	if (fstat(fd, &sb) != 0 || (sb.st_mode & 077) != 0) {
		errbuf_set(e, ST_FAIL, "key %s must be readable by its owner only (chmod 600)",
			   path);
		goto out_close;
	}
	n = read(fd, key, CRYPTO_KEY_LEN);
	if (n != CRYPTO_KEY_LEN || sb.st_size != CRYPTO_KEY_LEN) {
		errbuf_set(e, ST_FAIL, "key %s is not %d bytes", path, CRYPTO_KEY_LEN);
		goto out_close;
	}
	st = ST_OK;
out_close:
	close(fd);
	return st;
}

/* Makes the keyed HMAC and AES-256-GCM contexts of k. */
static enum status keys_contexts(struct keys *k, struct errbuf *e)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	k->mac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	k->seal = EVP_CIPHER_CTX_new();
	if (k->mac == NULL || k->seal == NULL ||
	    EVP_MAC_init(k->mac, k->pseudonym, CRYPTO_KEY_LEN, params) != 1 ||
	    EVP_EncryptInit_ex(k->seal, EVP_aes_256_gcm(), NULL, k->encrypt, NULL) != 1)
		return errbuf_set(e, ST_FAIL, "the crypto library cannot use the keys");
	return ST_OK;
}

enum status crypto_keys_load(const char *dir, struct keys *k, struct errbuf *e)
{
	char path[4096];

	memset(k, 0, sizeof(*k));
	k->nonce_used = sizeof(k->nonces);	/* empty: drawn at the first seal */
	snprintf(path, sizeof(path), "%s/keys/%s", dir, key_files[0]);
	if (key_load(path, k->pseudonym, e) != ST_OK)
		goto fail;
	snprintf(path, sizeof(path), "%s/keys/%s", dir, key_files[1]);
	if (key_load(path, k->encrypt, e) != ST_OK || keys_contexts(k, e) != ST_OK)
		goto fail;
	return ST_OK;
fail:
	crypto_keys_wipe(k);
	return ST_FAIL;
}

void crypto_keys_wipe(struct keys *k)
{
	if (k == NULL)
		return;
	EVP_MAC_CTX_free(k->mac);
	EVP_CIPHER_CTX_free(k->seal);
	OPENSSL_cleanse(k, sizeof(*k));
}

void crypto_pseudonym(const struct keys *k, const char bsn[9], uint8_t out[PSEUDONYM_LEN])
{
	unsigned int len = PSEUDONYM_LEN;
	size_t n;

	/* Re-initialising with no key keeps the key set at load. */
	if (k->mac != NULL && EVP_MAC_init(k->mac, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(k->mac, (const uint8_t *)bsn, 9) == 1 &&
	    EVP_MAC_final(k->mac, out, &n, PSEUDONYM_LEN) == 1)
		return;
	HMAC(EVP_sha256(), k->pseudonym, CRYPTO_KEY_LEN, (const uint8_t *)bsn, 9, out, &len);
}

/* A fresh random 96-bit nonce from the pool of k. */
static enum status next_nonce(struct keys *k, uint8_t out[12], struct errbuf *e)
{
	if (k->nonce_used + 12 > sizeof(k->nonces)) {
		if (crypto_random(k->nonces, sizeof(k->nonces), e) != ST_OK)
			return ST_FAIL;
		k->nonce_used = 0;
	}
	memcpy(out, k->nonces + k->nonce_used, 12);
	OPENSSL_cleanse(k->nonces + k->nonce_used, 12);
	k->nonce_used += 12;
	return ST_OK;
}

enum status crypto_seal_bsn(struct keys *k, const char bsn[9],
			    const uint8_t pseudonym[PSEUDONYM_LEN],
			    uint8_t out[SEALED_BSN_LEN], struct errbuf *e)
{
	EVP_CIPHER_CTX *c = k->seal;
	enum status st = ST_FAIL;
	int n;

	if (next_nonce(k, out, e) != ST_OK)
		return ST_FAIL;
	if (c == NULL)
		return errbuf_set(e, ST_FAIL, "the keys are not loaded");
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, out) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, pseudonym, PSEUDONYM_LEN) != 1 ||
	    EVP_EncryptUpdate(c, out + 12, &n, (const uint8_t *)bsn, 9) != 1 ||
	    EVP_EncryptFinal_ex(c, out + 12 + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 21) != 1)
		return errbuf_set(e, ST_FAIL, "BSN encryption failed");
	st = ST_OK;
	return st;
}

enum status crypto_open_bsn(const struct keys *k, const uint8_t in[SEALED_BSN_LEN],
			    const uint8_t pseudonym[PSEUDONYM_LEN], char out[10],
			    struct errbuf *e)
{
	EVP_CIPHER_CTX *c;
	enum status st = ST_FAIL;
	uint8_t tag[16];
	int n;

	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	memcpy(tag, in + 21, 16);
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->encrypt, in) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, pseudonym, PSEUDONYM_LEN) != 1 ||
	    EVP_DecryptUpdate(c, (uint8_t *)out, &n, in + 12, 9) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 ||
	    EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &n) != 1) {
		OPENSSL_cleanse(out, 10);
		errbuf_set(e, ST_FAIL, "a stored BSN does not decrypt (wrong key or damaged row)");
		goto out_free;
	}
	out[9] = '\0';
	st = ST_OK;
out_free:
	EVP_CIPHER_CTX_free(c);
	return st;
}

/* The label crypto_key_check() authenticates; changing it changes every check value. */
#define KEY_CHECK_LABEL "schakel pseudonym key check v1"

void crypto_key_check(const struct keys *k, char hex[65])
{
	unsigned char mac[32];
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), k->pseudonym, CRYPTO_KEY_LEN,
		 (const unsigned char *)KEY_CHECK_LABEL, sizeof(KEY_CHECK_LABEL) - 1, mac,
		 &len) == NULL || len != sizeof(mac)) {
		memset(hex, 'x', 64);	/* matches no stored check value */
		hex[64] = '\0';
		return;
	}
	crypto_hex(mac, sizeof(mac), hex);
	OPENSSL_cleanse(mac, sizeof(mac));
}

void crypto_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm
 * up (under a lock) on every digest, and a digest is taken per record.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_digest(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

struct sha256 {
	EVP_MD_CTX *md;
};

struct sha256 *crypto_sha256_new(void)
{
	struct sha256 *s = malloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	s->md = EVP_MD_CTX_new();
	if (s->md == NULL || EVP_DigestInit_ex(s->md, sha256_digest(), NULL) != 1) {
		EVP_MD_CTX_free(s->md);
		free(s);
		return NULL;
	}
	return s;
}

void crypto_sha256_update(struct sha256 *s, const void *buf, size_t len)
{
	EVP_DigestUpdate(s->md, buf, len);
}

void crypto_sha256_final(struct sha256 *s, char hex[65])
{
	uint8_t d[32];
	unsigned int n = 32;

	EVP_DigestFinal_ex(s->md, d, &n);
	crypto_hex(d, 32, hex);
	EVP_MD_CTX_free(s->md);
	free(s);
}

void crypto_sha256(const void *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	EVP_Digest(buf, len, out, &n, sha256_digest(), NULL);
}

enum status crypto_sign(const char *key_pem, const void *data, size_t len,
			unsigned char **sig, size_t *siglen, struct errbuf *e)
{
	FILE *f = fopen(key_pem, "r");
	EVP_PKEY *pk = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	enum status st = ST_FAIL;

	if (f != NULL)
		fclose(f);
	*sig = NULL;
	if (pk == NULL) {
		errbuf_set(e, ST_FAIL, "cannot read the signing key %s", key_pem);
		goto out_free;
	}
	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, NULL, siglen, data, len) != 1 ||
	    (*sig = malloc(*siglen)) == NULL ||
	    EVP_DigestSign(md, *sig, siglen, data, len) != 1) {
		free(*sig);
		*sig = NULL;
		errbuf_set(e, ST_FAIL, "signing failed");
		goto out_free;
	}
	st = ST_OK;
out_free:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return st;
}

/* Whether cert chains to the CA certificates in ca_file. */
static bool chains_to(X509 *cert, const char *ca_file)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (store != NULL && ctx != NULL && X509_STORE_load_file(store, ca_file) == 1 &&
	    X509_STORE_CTX_init(ctx, store, cert, NULL) == 1)
		ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

enum status crypto_verify(const char *cert, const char *ca_file, const void *data, size_t len,
			  const unsigned char *sig, size_t siglen, struct errbuf *e)
{
	BIO *b = BIO_new_mem_buf(cert, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	enum status st = ST_FAIL;

	BIO_free(b);
	if (x == NULL || md == NULL) {
		errbuf_set(e, ST_FAIL, "the signer's certificate cannot be read");
		goto out_free;
	}
	if (!chains_to(x, ca_file)) {
		errbuf_set(e, ST_FAIL, "the signer's certificate is not from the trusted CA");
		goto out_free;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(x)) != 1 ||
	    EVP_DigestVerify(md, sig, siglen, data, len) != 1) {
		errbuf_set(e, ST_FAIL, "the signature does not match");
		goto out_free;
	}
	st = ST_OK;
out_free:
	EVP_MD_CTX_free(md);
	X509_free(x);
	return st;
}
