/*
 * rule.h - the matching rules by number and name (matching.md).
 */
#ifndef SCHAKEL_RULE_H
#define SCHAKEL_RULE_H

enum rule {
	RULE_OVERBEWONING = 0,
	RULE_ONDERREGISTRATIE = 1,
	RULE_ADRES_AFWIJKING = 2,
	RULE_GEEN_VERGUNNING = 3,
	RULE_COUNT = 4,
};

#define RULE_BIT(r) (1u << (r))
#define RULE_ALL ((1u << RULE_COUNT) - 1)

/* "OVERBEWONING", ...; NULL for a number out of range. */
const char *rule_name(enum rule r);
/* The rule called name, or -1. */
int rule_from_name(const char *name);

#endif
