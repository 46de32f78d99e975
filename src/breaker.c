/*
 * breaker.c - a circuit breaker per recipient (see breaker.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"

struct entry {
	struct breaker_state st;
	struct entry *next;
};

struct breakers {
	struct entry *list;	/* sorted by OIN */
};

struct breakers *breaker_new(void)
{
	return calloc(1, sizeof(struct breakers));
}

void breaker_free(struct breakers *b)
{
	if (b == NULL)
		return;
	while (b->list != NULL) {
		struct entry *next = b->list->next;

		free(b->list);
		b->list = next;
	}
	free(b);
}

static struct entry *find(const struct breakers *b, const char *oin)
{
	for (struct entry *x = b->list; x != NULL; x = x->next)
		if (strcmp(x->st.oin, oin) == 0)
			return x;
	return NULL;
}

/* oin's entry, made (in OIN order) when it has none; NULL when out of memory. */
static struct entry *get(struct breakers *b, const char *oin)
{
	struct entry *x = find(b, oin), **pp;

	if (x != NULL)
		return x;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	snprintf(x->st.oin, sizeof(x->st.oin), "%s", oin);
	for (pp = &b->list; *pp != NULL && strcmp((*pp)->st.oin, oin) < 0; pp = &(*pp)->next)
		;
	x->next = *pp;
	*pp = x;
	return x;
}

enum breaker_event breaker_count(struct breakers *b, const char *oin, bool answered,
				 int threshold, int64_t now, struct breaker_state *st)
{
	struct entry *x = answered ? find(b, oin) : get(b, oin);
	enum breaker_event ev = BREAKER_NONE;

	memset(st, 0, sizeof(*st));
	if (x == NULL)
		return BREAKER_NONE;	/* answered and never failed, or out of memory */
	if (x->st.down)
		x->st.attempts++;
	if (answered) {
		*st = x->st;
		ev = x->st.down ? BREAKER_UP : BREAKER_NONE;
		x->st.failures = 0;
		x->st.down = false;
		x->st.attempts = 0;
		return ev;
	}
	x->st.failures++;
	if (!x->st.down && x->st.failures >= threshold) {
		x->st.down = true;
		x->st.since = now;
		x->st.attempts = 0;
		x->st.next_probe = now;
		ev = BREAKER_DOWN;
	}
	*st = x->st;
	return ev;
}

void breaker_set_probe(struct breakers *b, const char *oin, int64_t at)
{
	struct entry *x = find(b, oin);

	if (x != NULL)
		x->st.next_probe = at;
}

bool breaker_may_send(const struct breakers *b, const char *oin, int64_t now)
{
	const struct entry *x = find(b, oin);

	return x == NULL || !x->st.down || x->st.next_probe <= now;
}

bool breaker_is_down(const struct breakers *b, const char *oin)
{
	const struct entry *x = find(b, oin);

	return x != NULL && x->st.down;
}

void breaker_each(const struct breakers *b, void (*cb)(void *arg, const struct breaker_state *st),
		  void *arg)
{
	for (const struct entry *x = b->list; x != NULL; x = x->next)
		cb(arg, &x->st);
}

int breaker_down_count(const struct breakers *b)
{
	int n = 0;

	for (const struct entry *x = b->list; x != NULL; x = x->next)
		n += x->st.down;
	return n;
}
