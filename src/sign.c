/*
 * sign.c - XMLDSig with xmlsec1 (see sign.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/openssl/x509.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sign.h"
#include "tls.h"

struct signer {
	xmlSecKeyPtr key;
	xmlSecTransformId method;
};

struct verifier {
	xmlSecKeysMngrPtr mngr;
	bool pinned;			/* one key, the certificates in KeyInfo ignored */
	char oin[OIN_LEN + 1];		/* or "": the signer's OIN must be this */
};

enum status sign_init(struct errbuf *e)
{
	if (xmlSecInit() < 0)
		return errbuf_set(e, ST_FAIL, "xmlsec: initialisation failed");
	if (xmlSecCheckVersion() != 1) {
		xmlSecShutdown();
		return errbuf_set(e, ST_FAIL, "xmlsec: the library is not the version built with");
	}
	if (xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0) {
		xmlSecShutdown();
		return errbuf_set(e, ST_FAIL, "xmlsec: the OpenSSL back-end failed to start");
	}
	return ST_OK;
}

void sign_cleanup(void)
{
	xmlSecCryptoShutdown();
	xmlSecCryptoAppShutdown();
	xmlSecShutdown();
}

/* ECDSA or RSA, after the key in the PEM file. */
static xmlSecTransformId method_for(const char *key_pem)
{
	FILE *f = fopen(key_pem, "r");
	EVP_PKEY *pk = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	xmlSecTransformId id = xmlSecTransformRsaSha256Id;

	if (f != NULL)
		fclose(f);
	if (pk != NULL && EVP_PKEY_base_id(pk) == EVP_PKEY_EC)
		id = xmlSecTransformEcdsaSha256Id;
	EVP_PKEY_free(pk);
	return id;
}

struct signer *sign_signer_new(const char *key_pem, const char *cert_pem, struct errbuf *e)
{
	struct signer *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	s->key = xmlSecCryptoAppKeyLoad(key_pem, xmlSecKeyDataFormatPem, NULL, NULL, NULL);
	if (s->key == NULL) {
		errbuf_set(e, ST_FAIL, "cannot load the signing key %s", key_pem);
		goto out_free;
	}
	if (xmlSecCryptoAppKeyCertLoad(s->key, cert_pem, xmlSecKeyDataFormatPem) < 0) {
		errbuf_set(e, ST_FAIL, "cannot load the signing certificate %s", cert_pem);
		goto out_free;
	}
	s->method = method_for(key_pem);
	return s;
out_free:
	sign_signer_free(s);
	return NULL;
}

void sign_signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->key != NULL)
		xmlSecKeyDestroy(s->key);
	free(s);
}

enum status sign_doc(struct signer *s, xmlDocPtr doc, struct errbuf *e)
{
	xmlNodePtr sig, ref, ki;
	xmlSecDSigCtxPtr ctx;
	enum status st = ST_FAIL;

	sig = xmlSecTmplSignatureCreate(doc, xmlSecTransformExclC14NId, s->method, NULL);
	if (sig == NULL)
		return errbuf_set(e, ST_FAIL, "xmlsec: cannot make a signature template");
	xmlAddChild(xmlDocGetRootElement(doc), sig);
	ref = xmlSecTmplSignatureAddReference(sig, xmlSecTransformSha256Id, NULL,
					      (const xmlChar *)"", NULL);
	ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL);
	if (ref == NULL || xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId) == NULL ||
	    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId) == NULL ||
	    ki == NULL || xmlSecTmplKeyInfoAddX509Data(ki) == NULL)
		return errbuf_set(e, ST_FAIL, "xmlsec: cannot fill the signature template");
	ctx = xmlSecDSigCtxCreate(NULL);
	if (ctx == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	/* The key is lent, not copied (a copy cost more than the signature),
	 * and taken back before the context is destroyed with what it owns. */
	ctx->signKey = s->key;
	if (xmlSecDSigCtxSign(ctx, sig) < 0)
		errbuf_set(e, ST_FAIL, "xmlsec: signing failed");
	else
		st = ST_OK;
	ctx->signKey = NULL;
	xmlSecDSigCtxDestroy(ctx);
	return st;
}

struct verifier *sign_verifier_new(const char *ca_pem, struct errbuf *e)
{
	struct verifier *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	v->mngr = xmlSecKeysMngrCreate();
	if (v->mngr == NULL || xmlSecCryptoAppDefaultKeysMngrInit(v->mngr) < 0) {
		errbuf_set(e, ST_FAIL, "xmlsec: cannot make a keys manager");
		goto out_free;
	}
	if (xmlSecCryptoAppKeysMngrCertLoad(v->mngr, ca_pem, xmlSecKeyDataFormatPem,
					    xmlSecKeyDataTypeTrusted) < 0) {
		errbuf_set(e, ST_FAIL, "cannot load the trusted certificate %s", ca_pem);
		goto out_free;
	}
	return v;
out_free:
	sign_verifier_free(v);
	return NULL;
}

struct verifier *sign_verifier_pinned(const char *cert_pem, struct errbuf *e)
{
	struct verifier *v = calloc(1, sizeof(*v));
	xmlSecKeyPtr key;

	if (v == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	v->pinned = true;
	v->mngr = xmlSecKeysMngrCreate();
	if (v->mngr == NULL || xmlSecCryptoAppDefaultKeysMngrInit(v->mngr) < 0) {
		errbuf_set(e, ST_FAIL, "xmlsec: cannot make a keys manager");
		goto out_free;
	}
	key = xmlSecCryptoAppKeyLoad(cert_pem, xmlSecKeyDataFormatCertPem, NULL, NULL, NULL);
	if (key == NULL) {
		errbuf_set(e, ST_FAIL, "cannot load the signer's certificate %s", cert_pem);
		goto out_free;
	}
	if (xmlSecCryptoAppDefaultKeysMngrAdoptKey(v->mngr, key) < 0) {
		xmlSecKeyDestroy(key);
		errbuf_set(e, ST_FAIL, "xmlsec: cannot keep the signer's key");
		goto out_free;
	}
	return v;
out_free:
	sign_verifier_free(v);
	return NULL;
}

void sign_verifier_require_oin(struct verifier *v, const char *oin)
{
	snprintf(v->oin, sizeof(v->oin), "%s", oin != NULL ? oin : "");
}

void sign_verifier_free(struct verifier *v)
{
	if (v == NULL)
		return;
	if (v->mngr != NULL)
		xmlSecKeysMngrDestroy(v->mngr);
	free(v);
}

/* Whether the certificate that made a verified signature carries v's OIN. */
static enum status check_signer_oin(const struct verifier *v, xmlSecDSigCtxPtr ctx,
				    struct errbuf *e)
{
	xmlSecKeyDataPtr x509;
	X509 *cert;
	char oin[OIN_LEN + 1];

	if (v->oin[0] == '\0')
		return ST_OK;
	x509 = ctx->signKey != NULL ? xmlSecKeyGetData(ctx->signKey, xmlSecOpenSSLKeyDataX509Id)
				    : NULL;
	cert = x509 != NULL ? xmlSecOpenSSLKeyDataX509GetKeyCert(x509) : NULL;
	if (cert == NULL)
		return errbuf_set(e, ST_FAIL, "the signer's certificate is not in the signature");
	if (tls_cert_oin(cert, oin, e) != ST_OK)
		return errbuf_set(e, ST_FAIL, "the signer is not the broker: %s", e->msg);
	if (strcmp(oin, v->oin) != 0)
		return errbuf_set(e, ST_FAIL, "the signer is not the broker: signed by OIN %s, "
				  "not %s", oin, v->oin);
	return ST_OK;
}

enum status sign_verify(struct verifier *v, xmlDocPtr doc, struct errbuf *e)
{
	xmlNodePtr node = xmlSecFindNode(xmlDocGetRootElement(doc), xmlSecNodeSignature,
					 xmlSecDSigNs);
	xmlSecDSigCtxPtr ctx;
	enum status st = ST_FAIL;

	if (node == NULL)
		return errbuf_set(e, ST_FAIL, "the document is not signed");
	ctx = xmlSecDSigCtxCreate(v->mngr);
	if (ctx == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	/* Only what the broker signs with: no other algorithms, no URIs. */
	ctx->enabledReferenceUris = xmlSecTransformUriTypeEmpty;
	/* Pinned: KeyInfo may name a key, never bring one (its certificates
	 * are not read), so the only key is the pinned one.  Else only a
	 * certificate (which must chain to the CA) brings the key: never a
	 * bare KeyValue. */
	if (xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, v->pinned ?
			     (xmlSecPtr)xmlSecKeyDataNameId : (xmlSecPtr)xmlSecKeyDataX509Id) < 0) {
		xmlSecDSigCtxDestroy(ctx);
		return errbuf_set(e, ST_FAIL, "out of memory");
	}
	if (xmlSecDSigCtxVerify(ctx, node) < 0)
		errbuf_set(e, ST_FAIL, v->pinned ? "the signature cannot be checked (malformed "
			   "signature)" : "the signature cannot be checked (untrusted "
			   "certificate or malformed signature)");
	else if (ctx->status != xmlSecDSigStatusSucceeded)
		errbuf_set(e, ST_FAIL, v->pinned ? "the signature is not the broker's, or does "
			   "not match the document" : "the signature does not match the document");
	else
		st = check_signer_oin(v, ctx, e);
	xmlSecDSigCtxDestroy(ctx);
	return st;
}
