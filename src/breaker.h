/*
 * breaker.h - a circuit breaker per recipient of deliveries.
 *
 * The deliverer counts each recipient's failed attempts in a row (no
 * answer, 5xx, 408, 429).  At a threshold ([delivery] breaker_failures)
 * the recipient is held down: from then on it is only probed, with one
 * delivery at a time, when its probe is due (the deliverer sets when,
 * with backoff); its failed attempts are counted, not logged one by one.
 * Its first answer (any status the deliverer does not retry) ends the
 * outage.  Memory only: after a restart a recipient starts up again.
 */
#ifndef SCHAKEL_BREAKER_H
#define SCHAKEL_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct breakers;

struct breaker_state {
	char oin[OIN_STR_LEN];
	int failures;		/* failed attempts in a row */
	bool down;		/* held down: only probed */
	int64_t since;		/* when it was held down (Unix seconds) */
	long attempts;		/* attempts since then, the answered one included */
	int64_t next_probe;	/* while down: when the next probe may go */
};

enum breaker_event {
	BREAKER_NONE,
	BREAKER_DOWN,		/* this failure holds the recipient down */
	BREAKER_UP,		/* this answer ends its outage */
};

/* An empty set of breakers; NULL when out of memory.  breaker_free() it. */
struct breakers *breaker_new(void);
/* Frees; accepts NULL. */
void breaker_free(struct breakers *b);

/*
 * Counts an attempt to oin at now: answered, or failed.  threshold is the
 * number of failures in a row that holds it down.  *st gets the state
 * after the count (for BREAKER_UP: the outage just ended, with its
 * attempts).  Out of memory counts nothing (BREAKER_NONE, st->down false).
 */
enum breaker_event breaker_count(struct breakers *b, const char *oin, bool answered,
				 int threshold, int64_t now, struct breaker_state *st);

/* Sets when oin, held down, may be probed next. */
void breaker_set_probe(struct breakers *b, const char *oin, int64_t at);

/* Whether a delivery to oin may start at now: it is up, or its probe is due. */
bool breaker_may_send(const struct breakers *b, const char *oin, int64_t now);

/* Whether oin is held down (only probed, one delivery at a time). */
bool breaker_is_down(const struct breakers *b, const char *oin);

/* Calls cb for each recipient that has failed (up again or not), by OIN. */
void breaker_each(const struct breakers *b, void (*cb)(void *arg, const struct breaker_state *st),
		  void *arg);

/* Recipients held down now. */
int breaker_down_count(const struct breakers *b);

#endif
