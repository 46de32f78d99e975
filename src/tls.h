/*
 * tls.h - TLS contexts (OpenSSL 3) for the broker: the server side of the
 * HTTPS API with client certificates, and the OIN of a verified peer.
 *
 * TLS 1.2 at least, 1.3 preferred (Digikoppeling / NCSC).  The client
 * certificate is asked for and verified against the configured CA bundle
 * and CRL; the handshake itself lets an unverified client through so that
 * the API can refuse it with a status code and a reason (tls_peer_check),
 * instead of a bare TLS alert.  Nothing is served to such a client.
 */
#ifndef SCHAKEL_TLS_H
#define SCHAKEL_TLS_H

#include <openssl/ssl.h>

#include "config.h"
#include "status.h"

/* A server context from [server] of cfg; relative paths are under dir. */
SSL_CTX *tls_server_ctx(const struct config *cfg, const char *dir, struct errbuf *e);

/* A server context from PEM files (crl may be NULL). */
SSL_CTX *tls_server_ctx_files(const char *cert, const char *key, const char *ca,
			      const char *crl, struct errbuf *e);

/* A configured file name resolved against the data directory (4096 bytes). */
void tls_data_path(const char *dir, const char *name, char *out);

/*
 * Checks the peer of a finished handshake: a certificate was sent, it
 * verified, and its subject carries a 20-digit OIN in serialNumber.
 * Writes the OIN to oin and returns ST_OK, or ST_FAIL with the reason.
 */
enum status tls_peer_check(SSL *ssl, char oin[OIN_LEN + 1], struct errbuf *e);

/* The OIN in cert's subject serialNumber (20 digits), or ST_FAIL with why. */
enum status tls_cert_oin(X509 *cert, char oin[OIN_LEN + 1], struct errbuf *e);

/* Reads the first certificate of a PEM file; NULL with e set.  X509_free it. */
X509 *tls_cert_load(const char *path, struct errbuf *e);

/* Days until the certificate in file path expires (negative: expired). */
enum status tls_cert_days_left(const char *path, int *days, struct errbuf *e);

#endif
