/*
 * node.h - this daemon as one node of several on one database (issue 15;
 * docs/operations.md, "Several nodes").
 *
 * Job leases: the jobs that must run on one node at a time (the daily
 * purge, checkpoint signing, the daily full match, the pulls of each
 * source) run on the node that holds their lease (store_lease_take()).
 * A job's timer asks node_take() before it runs; the holder renews what it
 * holds every heartbeat, so another node takes a lease over only once
 * its holder has stopped renewing it (died, or lost the database) for
 * [server] lease_seconds.  The heartbeat runs on the daemon's loop with
 * the loop's store, while the job itself runs on a worker.
 *
 * Stale grants: each node writes the digest of its [party.*] sections at
 * its start, after each reload and at every heartbeat (store_node_put()).
 * A node whose digest is not the newest one among the live nodes
 * (store_node_newest()) reloads at once when its own schakel.conf now
 * gives the newest digest; else, once the newest is [server]
 * reload_check * 2/3 seconds old, it refuses its parties with 503 (and
 * gives up its leases) until it has the same parties, so no node serves
 * other grants for longer than reload_check.
 *
 * On SQLite the database is the node's own: its leases are always its,
 * and a heartbeat that would wait for a worker's write is skipped.
 */
#ifndef SCHAKEL_NODE_H
#define SCHAKEL_NODE_H

#include <stdbool.h>

#include "app.h"
#include "config.h"
#include "store.h"
#include "work.h"

struct node;

/* The node's name: [server] node, else the host name, into out. */
void node_name(const struct config *cfg, char out[NODE_NAME_MAX]);

/* The hex SHA-256 of cfg's [party.*] sections, in OIN order, into out. */
void node_parties_digest(const struct config *cfg, char out[65]);

/*
 * What the node asks of the daemon when its parties are stale: reload
 * schakel.conf (returns true when the new configuration is in force), and
 * refuse (why, a sentence) or serve again (why NULL) the parties.
 */
struct node_ops {
	bool (*reload)(void *arg);
	void (*refuse)(void *arg, const char *why);
	void *arg;
};

/*
 * This node on app's store (the loop's), its heartbeat a timer on base;
 * work (or NULL) tells when a worker writes.  Writes its digest and
 * checks the others' once before it returns.  NULL with e set (a bad
 * node name).
 */
struct node *node_new(struct app *app, struct event_base *base, struct work_pool *work,
		      const struct node_ops *ops, struct errbuf *e);

/*
 * Whether this node may run job now: takes or renews its lease (false:
 * another node holds it, the parties are stale, or the database did not
 * answer and the lease has run out).  Once taken, the heartbeat renews it.
 */
bool node_take(struct node *n, const char *job);

/* Whether this node holds job's lease now (no database round trip).
 * With n NULL (no daemon, such as `schakel pull`) both say true. */
bool node_holds(struct node *n, const char *job);

/* Why the node refuses its parties now (stale grants), or NULL. */
const char *node_refusing(const struct node *n);

/* After a reload of the loop's configuration: writes the new digest. */
void node_reloaded(struct node *n);

/* Runs one heartbeat now (the timer's work; for tests). */
void node_beat(struct node *n);

/*
 * Gives up the node's leases and frees it, once the workers have stopped
 * (it writes without asking them for a turn); accepts NULL.
 */
void node_free(struct node *n);

#endif
