/*
 * sign.h - XMLDSig (xmlsec1 with OpenSSL): signing the signals the broker
 * delivers, and verifying them at a receiver.
 *
 * A signal is signed with an enveloped signature over the whole document
 * (Reference URI=""), exclusive C14N, SHA-256 digests, ECDSA-SHA256 or
 * RSA-SHA256 after the key, and the signer's certificate in KeyInfo, so
 * that `xmlsec1 --verify --trusted-pem ca.crt FILE` accepts it.
 */
#ifndef SCHAKEL_SIGN_H
#define SCHAKEL_SIGN_H

#include <stddef.h>

#include <libxml/tree.h>

#include "status.h"

/* Initialises xmlsec1 once per process (after xml_init). */
enum status sign_init(struct errbuf *e);
void sign_cleanup(void);

struct signer;

/* Loads the private key and its certificate (PEM files). */
struct signer *sign_signer_new(const char *key_pem, const char *cert_pem, struct errbuf *e);
void sign_signer_free(struct signer *s);

/* Adds an enveloped signature to doc's root element. */
enum status sign_doc(struct signer *s, xmlDocPtr doc, struct errbuf *e);

struct verifier;

/* Trusts the certificates (CA) in ca_pem. */
struct verifier *sign_verifier_new(const char *ca_pem, struct errbuf *e);
void sign_verifier_free(struct verifier *v);

/*
 * Verifies the enveloped signature of doc: ST_OK when it is valid and made
 * with a certificate that chains to the trusted CA.
 */
enum status sign_verify(struct verifier *v, xmlDocPtr doc, struct errbuf *e);

#endif
