/*
 * route.c - recipients of a signal (see route.h).
 */
#include <stdlib.h>
#include <string.h>

#include "route.h"

static bool party_receives(const struct party *p, int rule, const struct signal *sig)
{
	if (!(p->receives & RULE_BIT(rule)))
		return false;
	if (p->gemeenten.n == 0)
		return true;
	if (strlist_has(&p->gemeenten, sig->address.gemeentecode))
		return true;
	return sig->has_person && strlist_has(&p->gemeenten, sig->registered_address.gemeentecode);
}

enum status route_signal(const struct config *cfg, struct signal *sig, struct errbuf *e)
{
	int rule = rule_from_name(sig->rule);

	free(sig->recipients);
	sig->recipients = NULL;
	sig->nrecipients = 0;
	if (rule < 0 || cfg->nparties == 0)
		return ST_OK;
	sig->recipients = calloc(cfg->nparties, sizeof(*sig->recipients));
	if (sig->recipients == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	for (size_t i = 0; i < cfg->nparties; i++)
		if (party_receives(&cfg->parties[i], rule, sig))
			memcpy(sig->recipients[sig->nrecipients++], cfg->parties[i].oin,
			       OIN_LEN + 1);
	return ST_OK;
}
