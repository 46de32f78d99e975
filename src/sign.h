/*
 * sign.h - XMLDSig (xmlsec1 with OpenSSL): signing the signals the broker
 * delivers, and verifying them at a receiver.
 *
 * A signal is signed with an enveloped signature over the whole document
 * (Reference URI=""), exclusive C14N, SHA-256 digests, ECDSA-SHA256 or
 * RSA-SHA256 after the key, and the signer's certificate in KeyInfo.
 *
 * A receiver must accept the broker's signature only, not that of any
 * holder of a certificate of the same CA: it pins the broker's
 * certificate (sign_verifier_pinned; as `xmlsec1 --verify
 * --pubkey-cert-pem broker.crt --enabled-key-data key-name FILE`, which
 * ignores the certificate in KeyInfo), or trusts the CA and requires the
 * broker's OIN in the signer's subject (sign_verifier_require_oin).
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

/* Trusts the certificates (CA) in ca_pem: any signer they certify. */
struct verifier *sign_verifier_new(const char *ca_pem, struct errbuf *e);
/*
 * Accepts only signatures made with the key of the certificate in
 * cert_pem; the certificates a document brings in KeyInfo are ignored.
 */
struct verifier *sign_verifier_pinned(const char *cert_pem, struct errbuf *e);
/* From now on (sign_verifier_new's kind) the signer's subject serialNumber must be oin. */
void sign_verifier_require_oin(struct verifier *v, const char *oin);
void sign_verifier_free(struct verifier *v);

/*
 * Verifies the enveloped signature of doc: ST_OK when it is valid and made
 * with the pinned key, or with a certificate that chains to the trusted CA
 * (and carries the required OIN).
 */
enum status sign_verify(struct verifier *v, xmlDocPtr doc, struct errbuf *e);

#endif
