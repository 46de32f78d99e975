/*
 * brp_mutation.c - what a BG:npsLk01 notification asks: StUF:mutatiesoort
 * (in BG:parameters) and the StUF:verwerkingssoort of its objects, read as
 * StUF 03.01 defines them for an entity (adapters/brp/README.md, "Mutation
 * messages"):
 *
 *   T  toevoeging    the object is new: stored as a registration;
 *   W  wijziging     the object has a new state (the last object): stored
 *                    under its identity (BSN, begindatumVerblijf), which
 *                    replaces the registration with the same identity
 *                    (a correction) or adds one (a move);
 *   V  verwijdering  the object is removed from the registration: the
 *                    registration with its identity is removed;
 *
 * and anything else (E beëindiging, I, S, R, ... ) is rejected with a
 * reason: schakel does not process it.  A notification whose two objects
 * carry different BSNs is rejected: they are not two states of one person.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brp.h"
#include "bsnlike.h"

static int brp_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void brp_mutation_code(const char *s, size_t len, char *out, size_t n)
{
	while (len > 0 && brp_is_blank(*s)) {
		s++;
		len--;
	}
	while (len > 0 && brp_is_blank(s[len - 1]))
		len--;
	if (len >= n) {
		snprintf(out, n, "?");
		return;
	}
	memcpy(out, s, len);
	out[len] = '\0';
}

void brp_mutation_keep_old(struct brp_mutation *m, struct brp_object *obj)
{
	free(m->old_bsn);
	m->old_bsn = obj->value[BRP_BSN];
	obj->value[BRP_BSN] = NULL;
}

void brp_mutation_clear(struct brp_mutation *m)
{
	free(m->old_bsn);
	memset(m, 0, sizeof(*m));
}

/* The digits of a BSN as written, without blanks and leading zeros. */
static const char *brp_bsn_core(const char *s, size_t *len)
{
	size_t n;

	while (brp_is_blank(*s) || *s == '0')
		s++;
	n = strlen(s);
	while (n > 0 && brp_is_blank(s[n - 1]))
		n--;
	*len = n;
	return s;
}

/* Do the two states carry the same BSN (as the host would read them)? */
static int brp_same_bsn(const char *a, const char *b)
{
	size_t na, nb;

	if (a == NULL || b == NULL)
		return a == b;
	a = brp_bsn_core(a, &na);
	b = brp_bsn_core(b, &nb);
	return na == nb && memcmp(a, b, na) == 0;
}

/* Is code one schakel processes (T, W, V), or none? */
static int brp_known(const char *code)
{
	return code[0] == '\0' || strcmp(code, "T") == 0 || strcmp(code, "W") == 0 ||
	       strcmp(code, "V") == 0;
}

/* The reason the mutation cannot be processed, in buf; or "" */
static void brp_mutation_why(const struct brp_mutation *m, const struct brp_object *obj,
			     char *buf, size_t n)
{
	const char *ms = m->mutatiesoort, *vs = obj->verwerkingssoort;
	const char *op = vs[0] != '\0' ? vs : ms;
	char q[32];

	buf[0] = '\0';
	if (!brp_known(ms))
		snprintf(buf, n, "StUF:mutatiesoort '%s' is not processed (only T toevoeging, "
			 "W wijziging and V verwijdering are)", bsnlike_quote(ms, q, sizeof(q), 8));
	else if (!brp_known(vs))
		snprintf(buf, n, "StUF:verwerkingssoort '%s' of the new state is not processed "
			 "(only T, W and V are)", bsnlike_quote(vs, q, sizeof(q), 8));
	else if (ms[0] != '\0' && vs[0] != '\0' && strcmp(ms, vs) != 0)
		snprintf(buf, n, "StUF:mutatiesoort %s and the StUF:verwerkingssoort %s of the "
			 "new state disagree", ms, vs);
	else if (m->objects > 2)
		snprintf(buf, n, "%d objects: a notification carries one or two", m->objects);
	else if (m->objects == 2 && (strcmp(op, "T") == 0 || strcmp(op, "V") == 0))
		snprintf(buf, n, "a %s carries one object, this one two",
			 op[0] == 'T' ? "toevoeging (T)" : "verwijdering (V)");
	else if (m->objects == 2 && !brp_same_bsn(m->old_bsn, obj->value[BRP_BSN]))
		snprintf(buf, n, "the old and the new state carry different BSNs");
}

int brp_mutation_judge(struct brp_mutation *m, struct brp_object *obj)
{
	char why[256];

	if (obj->error != NULL)
		return 0;	/* it has its reason already */
	brp_mutation_why(m, obj, why, sizeof(why));
	if (why[0] != '\0')
		return brp_object_fail(obj, why);
	obj->withdraw = strcmp(obj->verwerkingssoort[0] != '\0' ? obj->verwerkingssoort
				: m->mutatiesoort, "V") == 0;
	return 0;
}
