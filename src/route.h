/*
 * route.h - who receives a signal (matching.md, Routing).
 *
 * A party receives a signal when its grant's `receives` includes the rule
 * and either it has no gemeenten (a national authority: every address) or
 * its gemeenten include the gemeentecode of the signal's address, or, for
 * ADRES_AFWIJKING, that of the person's registered address.  Deny by
 * default: a party with no `receives` gets nothing.
 */
#ifndef SCHAKEL_ROUTE_H
#define SCHAKEL_ROUTE_H

#include "config.h"
#include "store.h"

/*
 * Fills sig->recipients (malloc'd, OINs in configuration order) for sig's
 * rule and addresses.  Returns ST_FAIL only when out of memory.
 */
enum status route_signal(const struct config *cfg, struct signal *sig, struct errbuf *e);

#endif
