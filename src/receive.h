/*
 * receive.h - `schakel receive`: the reference receiver of pushed signals.
 *
 * A small mutual-TLS endpoint: it takes POSTed signals from the broker only
 * (its client certificate is --broker-cert, or carries --broker-oin; any
 * other party of the same CA gets 403), refuses anything that is not
 * well-formed, not valid against the signal schema or not signed by the
 * broker (with the key of --broker-cert, or by a certificate of the CA
 * with --broker-oin in its subject; a document another party re-signed
 * with its own certificate is refused), drops a message whose
 * X-Message-Id it has stored before (answering 200), and stores the rest
 * as DIR/<message id>.xml, answering 201 only once the file is on disk
 * (written, fsynced, renamed, directory fsynced).  With a delay it holds
 * each answer back, and says how many requests it held open at once (at
 * each request, and the most when it stops).  For tests and the demo,
 * and as an example for authorities that build their own.
 */
#ifndef SCHAKEL_RECEIVE_H
#define SCHAKEL_RECEIVE_H

#include "status.h"

struct receive_opts {
	const char *dir;		/* where signals are stored */
	const char *listen;		/* address, default 127.0.0.1 */
	int port;			/* 0: any free port */
	const char *cert, *key;		/* the receiver's certificate and key */
	const char *ca;			/* trusted for TLS clients and signatures */
	const char *crl;		/* or NULL */
	const char *broker_cert;	/* the broker's certificate (PEM), or NULL */
	const char *broker_oin;		/* the broker's OIN, or NULL; one of the two is set */
	int refuse;			/* non-zero: answer every request with this status */
	int delay_ms;			/* hold each answer this long (to test senders) */
};

enum status receive_run(const struct receive_opts *o, struct errbuf *e);

#endif
