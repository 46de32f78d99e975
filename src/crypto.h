/*
 * crypto.h - the installation's keys, BSN pseudonyms, BSN encryption and
 * SHA-256 digests (OpenSSL 3).
 *
 * Two secret keys live in DIR/keys/, mode 0600, made by `init`:
 *   pseudonym.key   32 bytes, HMAC-SHA256 key for pseudonyms
 *   encrypt.key     32 bytes, AES-256-GCM key for the BSN ciphertexts
 * Neither key nor any BSN appears in a message of this module.
 */
#ifndef SCHAKEL_CRYPTO_H
#define SCHAKEL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CRYPTO_KEY_LEN 32
#define PSEUDONYM_LEN 32	/* bytes; shown as 64 hex digits */
/* A sealed BSN: 12-byte nonce, 9-byte ciphertext, 16-byte tag. */
#define SEALED_BSN_LEN (12 + 9 + 16)

#define CRYPTO_NONCE_POOL (12 * 256)

struct keys {
	uint8_t pseudonym[CRYPTO_KEY_LEN];
	uint8_t encrypt[CRYPTO_KEY_LEN];
	/* Keyed once at load, re-used for every record (OpenSSL 3 fetches an
	 * algorithm and expands a key on each fresh context). */
	struct evp_mac_ctx_st *mac;
	struct evp_cipher_ctx_st *seal;
	/* Nonces drawn ahead: one RAND_bytes() call per CRYPTO_NONCE_POOL
	 * bytes instead of one per record (each call takes the generator's
	 * lock and checks for a fork).  Used up front to back, never twice. */
	uint8_t nonces[CRYPTO_NONCE_POOL];
	size_t nonce_used;
};

/*
 * Makes DIR/keys/ (0700) and both key files (0600) from the system's
 * random source; keys that exist are kept.
 */
enum status crypto_keys_create(const char *dir, struct errbuf *e);

/* Reads both keys; refuses key files readable by others. */
enum status crypto_keys_load(const char *dir, struct keys *k, struct errbuf *e);

/* Overwrites the keys in memory and frees their contexts. */
void crypto_keys_wipe(struct keys *k);

/* HMAC-SHA256(pseudonym key, the nine digits of the BSN). */
void crypto_pseudonym(const struct keys *k, const char bsn[9], uint8_t out[PSEUDONYM_LEN]);

/*
 * Encrypts the nine digits of a BSN with AES-256-GCM under a fresh random
 * nonce; the pseudonym is bound in as additional data, so a ciphertext
 * cannot be moved to another person's row.
 */
enum status crypto_seal_bsn(struct keys *k, const char bsn[9],
			    const uint8_t pseudonym[PSEUDONYM_LEN],
			    uint8_t out[SEALED_BSN_LEN], struct errbuf *e);

/* Decrypts and authenticates a sealed BSN into out (9 digits and a NUL). */
enum status crypto_open_bsn(const struct keys *k, const uint8_t in[SEALED_BSN_LEN],
			    const uint8_t pseudonym[PSEUDONYM_LEN], char out[10],
			    struct errbuf *e);

/*
 * The keyed check value of the pseudonym key: HMAC-SHA256(key, a fixed
 * label) as 64 hex digits.  Tells whether two installations share the key
 * without showing it (store_key_check()).
 */
void crypto_key_check(const struct keys *k, char hex[65]);
/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void crypto_hex(const uint8_t *in, size_t n, char *out);

/* An incremental SHA-256 (for file digests). */
struct sha256;
struct sha256 *crypto_sha256_new(void);
void crypto_sha256_update(struct sha256 *s, const void *buf, size_t len);
/* Writes the digest as 64 hex digits and frees s. */
void crypto_sha256_final(struct sha256 *s, char hex[65]);
/* SHA-256 of one buffer. */
void crypto_sha256(const void *buf, size_t len, uint8_t out[32]);

/* Fills buf with n random bytes; ST_FAIL if the generator fails. */
enum status crypto_random(void *buf, size_t n, struct errbuf *e);

/*
 * Signs data (SHA-256) with the private key in key_pem; *sig is malloc'd
 * (caller frees).
 */
enum status crypto_sign(const char *key_pem, const void *data, size_t len,
			unsigned char **sig, size_t *siglen, struct errbuf *e);

/*
 * Checks that cert (PEM text) chains to the CA in ca_file and that sig is
 * its signature over data.
 */
enum status crypto_verify(const char *cert, const char *ca_file, const void *data, size_t len,
			  const unsigned char *sig, size_t siglen, struct errbuf *e);

#endif
