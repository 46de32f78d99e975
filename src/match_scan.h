/*
 * match_scan.h - what the rules of match.c read, worked out from the rows
 * the store gives (store.h, "the rows a match reads"): each person's
 * current registration, registered(A) beside the facts of each address,
 * the persons a finding names at an address where they are not
 * registered, and the evidence of a signal.  The same on every backend:
 * a store keeps rows and answers plain scans, the ordering and the walks
 * are done here.
 *
 * One scan belongs to one match run, between match_scan_begin() and
 * match_scan_end(), in the run's transaction.
 */
#ifndef SCHAKEL_MATCH_SCAN_H
#define SCHAKEL_MATCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The quantities of matching.md for one address, as of a date. */
struct address_facts {
	struct address address;
	long registered;
	long observed;
	long oppervlakte;	/* -1: unknown */
	long max_bewoners;	/* -1: none set */
	bool has_dwelling;
	bool permit_valid;	/* a permit valid on the date */
	bool covered;		/* the municipality delivers BRP data */
};

/* A finding at A naming a person whose current registration is at B. */
struct mismatch {
	struct address address;		/* A */
	struct address registered_at;	/* B */
	uint8_t pseudonym[PSEUDONYM_LEN];
	long registered, observed;		/* at A */
	long oppervlakte, max_bewoners;		/* of A; -1: unknown */
};

/* Which evidence to gather for an address (bit mask). */
enum {
	EVIDENCE_BRP = 1,	/* current registrations at A */
	EVIDENCE_FINDINGS = 2,	/* findings of soort huisvesting in the window at A */
	EVIDENCE_DWELLING = 4,	/* the housing register's row for A (the caller
				 * knows it exists: address_facts.has_dwelling) */
};

struct match_scan;

/*
 * Starts the scan of a match as of as_of (YYYY-MM-DD) with findings after
 * window_start, over every address or (scoped) the marked ones: reads the
 * registrations and works out each person's current one, in memory, and
 * reads the findings in the window.  *out is freed by match_scan_end().
 */
enum status match_scan_begin(struct store *s, const char *as_of, const char *window_start,
			     bool scoped, struct match_scan **out, struct errbuf *e);
/* Ends the store's scan and frees m; accepts NULL. */
void match_scan_end(struct match_scan *m);

/*
 * Calls cb for every address (scoped: every marked one) with registered
 * or observed persons, in the order of the address key.
 */
enum status match_scan_addresses(struct match_scan *m,
				 int (*cb)(void *arg, const struct address_facts *f), void *arg,
				 struct errbuf *e);

/* Calls cb for every (person, A) of rule ADRES_AFWIJKING. */
enum status match_scan_mismatches(struct match_scan *m,
				  int (*cb)(void *arg, const struct mismatch *m), void *arg,
				  struct errbuf *e);

/*
 * Appends the evidence for address addr (or, with person non-NULL, the
 * findings at addr naming that person and the person's current
 * registration) to *ev (realloc'd; caller frees), *n counting.  For the
 * address rules (person NULL) in the order of match_scan_addresses(): the
 * findings are walked alongside, not searched for.
 */
enum status match_scan_evidence(struct match_scan *m, const struct address *addr,
				const uint8_t *person, unsigned what, struct evidence **ev,
				size_t *n, struct errbuf *e);

#endif
