/*
 * disclose.h - disclosures: every time a signal leaves the broker for a
 * recipient (an inbox page read, a push the recipient accepted), one
 * `disclosure` entry in the exchange log per signal and recipient, saying
 * how it went and whether the BSN itself was in it (the grant's
 * receive_bsn), with its processing record (ldv_disclosure(); cfg's
 * [ldv]).  An access request (inzage) lists them.
 *
 * Fail closed, as every exchange: the entries are written before the data
 * is handed over (an inbox page) or in the transaction that records the
 * recipient's acceptance (a push); what cannot be logged is not disclosed.
 */
#ifndef SCHAKEL_DISCLOSE_H
#define SCHAKEL_DISCLOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "status.h"
#include "store.h"

/* One signal handed to a recipient. */
struct disclosure {
	char signal[33];	/* the signal id */
	bool bsn;		/* the BSN itself was in it */
};

/* The signals of one inbox page, collected while it is built. */
struct disclosures {
	struct disclosure *v;
	size_t n, cap;
};

/* Adds a signal to d; ST_FAIL when out of memory. */
enum status disclose_add(struct disclosures *d, const char *signal, bool bsn);
void disclose_free(struct disclosures *d);

/*
 * Logs the signals of an inbox page read by recipient in one transaction
 * of its own: via "inbox", format "json" or "xml".  ST_FAIL (rolled back,
 * e set): the page must not be served.
 */
enum status disclose_inbox(struct store *s, const struct config *cfg, const char *recipient,
			   const char *format, const struct disclosures *d, struct errbuf *e);

/*
 * Logs a push that recipient accepted (message: its X-Message-Id), in the
 * caller's open transaction (the one that records the outcome).
 */
enum status disclose_push(struct store *s, const struct config *cfg, const char *recipient,
			  const char *signal, const char *message, bool bsn, struct errbuf *e);

#endif
