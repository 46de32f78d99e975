/* rule.c - rule names (see rule.h). */
#include <string.h>

#include "rule.h"

static const char *const names[RULE_COUNT] = {
	[RULE_OVERBEWONING] = "OVERBEWONING",
	[RULE_ONDERREGISTRATIE] = "ONDERREGISTRATIE",
	[RULE_ADRES_AFWIJKING] = "ADRES_AFWIJKING",
	[RULE_GEEN_VERGUNNING] = "GEEN_VERGUNNING",
};

const char *rule_name(enum rule r)
{
	return (unsigned)r < RULE_COUNT ? names[r] : NULL;
}

int rule_from_name(const char *name)
{
	for (int r = 0; r < RULE_COUNT; r++)
		if (strcmp(names[r], name) == 0)
			return r;
	return -1;
}
