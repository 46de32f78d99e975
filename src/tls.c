/*
 * tls.c - TLS contexts and peer identity (see tls.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

void tls_data_path(const char *dir, const char *name, char *out)
{
	if (name[0] == '/')
		snprintf(out, 4096, "%s", name);
	else
		snprintf(out, 4096, "%s/%s", dir, name);
}

/* OpenSSL's last error as one line. */
static const char *ssl_reason(void)
{
	unsigned long err = ERR_get_error();
	const char *r = err ? ERR_reason_error_string(err) : NULL;

	ERR_clear_error();
	return r != NULL ? r : "unknown error";
}

/* Lets the handshake finish whatever the verdict; tls_peer_check reads it. */
static int verify_later(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

static enum status load_crl(SSL_CTX *ctx, const char *path, struct errbuf *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());

	if (lookup == NULL || X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) <= 0)
		return errbuf_set(e, ST_FAIL, "cannot read the CRL %s: %s", path, ssl_reason());
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	return ST_OK;
}

SSL_CTX *tls_server_ctx(const struct config *cfg, const char *dir, struct errbuf *e)
{
	char cert[4096], key[4096], ca[4096], crl[4096];

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL || cfg->tls_ca == NULL) {
		errbuf_set(e, ST_FAIL, "[server] certificate, private_key and ca must be set");
		return NULL;
	}
	tls_data_path(dir, cfg->tls_cert, cert);
	tls_data_path(dir, cfg->tls_key, key);
	tls_data_path(dir, cfg->tls_ca, ca);
	if (cfg->tls_crl != NULL)
		tls_data_path(dir, cfg->tls_crl, crl);
	return tls_server_ctx_files(cert, key, ca, cfg->tls_crl != NULL ? crl : NULL, e);
}

SSL_CTX *tls_server_ctx_files(const char *cert, const char *key, const char *ca,
			      const char *crl, struct errbuf *e)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		errbuf_set(e, ST_FAIL, "TLS: %s", ssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		errbuf_set(e, ST_FAIL, "cannot use the certificate %s: %s", cert, ssl_reason());
		goto out_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		errbuf_set(e, ST_FAIL, "cannot use the private key %s: %s", key, ssl_reason());
		goto out_free;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		errbuf_set(e, ST_FAIL, "cannot read the CA bundle %s: %s", ca, ssl_reason());
		goto out_free;
	}
	SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(ca));
	if (crl != NULL && load_crl(ctx, crl, e) != ST_OK)
		goto out_free;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_later);
	/* Resumed sessions must belong to this context (OpenSSL refuses to
	 * resume a session with client certificates otherwise). */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"schakel", 7);
	SSL_CTX_set_verify_depth(ctx, 5);
	return ctx;
fail:
	errbuf_set(e, ST_FAIL, "TLS: %s", ssl_reason());
out_free:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Reads serialNumber from the subject: the OIN of a PKIoverheid certificate. */
static enum status subject_oin(X509 *cert, char oin[OIN_LEN + 1], struct errbuf *e)
{
	X509_NAME *subject = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(subject, NID_serialNumber, -1);
	ASN1_STRING *v;
	const unsigned char *d;

	if (i < 0)
		return errbuf_set(e, ST_FAIL, "the certificate's subject has no serialNumber (OIN)");
	v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
	d = ASN1_STRING_get0_data(v);
	if (ASN1_STRING_length(v) != OIN_LEN)
		goto bad;
	for (int k = 0; k < OIN_LEN; k++)
		if (d[k] < '0' || d[k] > '9')
			goto bad;
	memcpy(oin, d, OIN_LEN);
	oin[OIN_LEN] = '\0';
	return ST_OK;
bad:
	return errbuf_set(e, ST_FAIL, "the certificate's serialNumber is not a 20-digit OIN");
}

enum status tls_peer_check(SSL *ssl, char oin[OIN_LEN + 1], struct errbuf *e)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	long v;
	enum status st;

	if (cert == NULL)
		return errbuf_set(e, ST_FAIL, "a client certificate is required");
	v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK)
		st = errbuf_set(e, ST_FAIL, "the client certificate is not accepted: %s",
				X509_verify_cert_error_string(v));
	else
		st = subject_oin(cert, oin, e);
	X509_free(cert);
	return st;
}

enum status tls_cert_oin(X509 *cert, char oin[OIN_LEN + 1], struct errbuf *e)
{
	return subject_oin(cert, oin, e);
}

X509 *tls_cert_load(const char *path, struct errbuf *e)
{
	FILE *f = fopen(path, "r");
	X509 *cert;

	if (f == NULL) {
		errbuf_set(e, ST_FAIL, "cannot read %s", path);
		return NULL;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		errbuf_set(e, ST_FAIL, "%s holds no certificate", path);
	return cert;
}

enum status tls_cert_days_left(const char *path, int *days, struct errbuf *e)
{
	X509 *cert = tls_cert_load(path, e);
	int d, s;

	if (cert == NULL)
		return ST_FAIL;
	if (ASN1_TIME_diff(&d, &s, NULL, X509_get0_notAfter(cert)) != 1) {
		X509_free(cert);
		return errbuf_set(e, ST_FAIL, "%s: unreadable expiry date", path);
	}
	X509_free(cert);
	*days = d;
	return ST_OK;
}
