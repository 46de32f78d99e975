/*
 * node.c - this daemon as one node of several on one database (node.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "crypto.h"
#include "log.h"
#include "node.h"

/* A job this node asked for. */
struct lease {
	char job[80];
	bool held;
	double until;		/* CLOCK_MONOTONIC seconds: held at most until then */
};

struct node {
	struct app *app;
	struct work_pool *work;
	struct node_ops ops;
	struct event *timer;
	char name[NODE_NAME_MAX];
	char digest[65];
	bool shared;		/* PostgreSQL: other nodes may use the database */
	bool refusing;		/* the parties are stale: refused until they are not */
	char why[512];		/* while refusing: why */
	struct lease *leases;
	size_t nleases;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void node_name(const struct config *cfg, char out[NODE_NAME_MAX])
{
	if (cfg->node != NULL) {
		snprintf(out, NODE_NAME_MAX, "%s", cfg->node);
		return;
	}
	if (gethostname(out, NODE_NAME_MAX) != 0 || out[0] == '\0')
		snprintf(out, NODE_NAME_MAX, "schakel");
	out[NODE_NAME_MAX - 1] = '\0';
}

/* Whether name is a node name: 1-63 of A-Z a-z 0-9 . _ - */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < NODE_NAME_MAX && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_party(const void *a, const void *b)
{
	return strcmp((*(const struct party *const *)a)->oin, (*(const struct party *const *)b)->oin);
}

/* A list into the digest in byte order, whatever order the file had. */
static void digest_list(struct sha256 *h, const char *key, const struct strlist *l)
{
	char **v = l->n > 0 ? malloc(l->n * sizeof(*v)) : NULL;

	crypto_sha256_update(h, key, strlen(key) + 1);
	if (v != NULL) {
		memcpy(v, l->v, l->n * sizeof(*v));
		qsort(v, l->n, sizeof(*v), cmp_str);
	}
	for (size_t i = 0; i < l->n; i++) {
		const char *s = v != NULL ? v[i] : l->v[i];

		crypto_sha256_update(h, s, strlen(s) + 1);
	}
	free(v);
}

void node_parties_digest(const struct config *cfg, char out[65])
{
	const struct party **ps = malloc((cfg->nparties + 1) * sizeof(const struct party *));
	struct sha256 *h = crypto_sha256_new();
	char line[512];

	if (ps == NULL || h == NULL) {	/* out of memory: a digest nobody has */
		free(ps);
		if (h != NULL)
			crypto_sha256_final(h, out);
		snprintf(out, 65, "%064d", 0);
		return;
	}
	for (size_t i = 0; i < cfg->nparties; i++)
		ps[i] = &cfg->parties[i];
	qsort(ps, cfg->nparties, sizeof(const struct party *), cmp_party);
	for (size_t i = 0; i < cfg->nparties; i++) {
		const struct party *p = ps[i];
		int n = snprintf(line, sizeof(line), "party %s|%u|%d|%d|", p->oin, p->receives,
				 p->receive_bsn, p->max_in_flight);

		crypto_sha256_update(h, line, (size_t)n + 1);
		crypto_sha256_update(h, p->name != NULL ? p->name : "", strlen(p->name ? p->name : "") + 1);
		crypto_sha256_update(h, p->push_url != NULL ? p->push_url : "",
				     strlen(p->push_url ? p->push_url : "") + 1);
		digest_list(h, "gemeenten", &p->gemeenten);
		digest_list(h, "supplies", &p->supplies);
	}
	free(ps);
	crypto_sha256_final(h, out);
}

/* The lease of job, added (not held) if new; NULL: out of memory. */
static struct lease *lease_of(struct node *n, const char *job)
{
	struct lease *l;

	for (size_t i = 0; i < n->nleases; i++)
		if (strcmp(n->leases[i].job, job) == 0)
			return &n->leases[i];
	l = realloc(n->leases, (n->nleases + 1) * sizeof(*l));
	if (l == NULL)
		return NULL;
	n->leases = l;
	l = &n->leases[n->nleases++];
	memset(l, 0, sizeof(*l));
	snprintf(l->job, sizeof(l->job), "%s", job);
	return l;
}

/*
 * Whether the loop may write now: always with PostgreSQL (row locks, no
 * file lock); on SQLite only when no worker writes (then end_write()).
 */
static bool begin_write(struct node *n)
{
	return n->shared || n->work == NULL || work_try_write(n->work);
}

static void end_write(struct node *n)
{
	if (!n->shared && n->work != NULL)
		work_end_write(n->work);
}

/* Takes or renews l's lease in the database; keeps what it knew on failure. */
static void lease_renew(struct node *n, struct lease *l)
{
	double asked = now_s();
	struct errbuf e;
	bool held;

	if (!begin_write(n))
		return;
	if (store_lease_take(n->app->store, l->job, n->name, n->app->cfg.lease_seconds, &held,
			     &e) != ST_OK) {
		log_event(n->shared ? LV_WARN : LV_DEBUG, "node", "cannot renew a job lease",
			  "job", l->job, "error", e.msg, NULL);
	} else {
		if (l->held && !held)
			log_event(LV_WARN, "node", "another node holds the job now", "job", l->job,
				  NULL);
		l->held = held;
		if (held)
			l->until = asked + n->app->cfg.lease_seconds;
	}
	end_write(n);
}

bool node_holds(struct node *n, const char *job)
{
	if (n == NULL)
		return true;	/* not a daemon: nobody to share with */
	if (n->refusing)
		return false;
	if (!n->shared)
		return true;	/* the database is this node's alone */
	for (size_t i = 0; i < n->nleases; i++)
		if (strcmp(n->leases[i].job, job) == 0)
			return n->leases[i].held && now_s() < n->leases[i].until;
	return false;
}

bool node_take(struct node *n, const char *job)
{
	struct lease *l;

	if (n == NULL)
		return true;
	l = lease_of(n, job);
	if (n->refusing)
		return false;
	if (l != NULL)
		lease_renew(n, l);
	return node_holds(n, job);
}

/* Gives up every lease (the database's rows too). */
static void drop_leases(struct node *n)
{
	struct errbuf e;

	for (size_t i = 0; i < n->nleases; i++)
		n->leases[i].held = false;
	if (begin_write(n)) {
		if (store_lease_drop(n->app->store, NULL, n->name, &e) != ST_OK)
			log_event(LV_WARN, "node", "cannot give up the job leases", "error", e.msg,
				  NULL);
		end_write(n);
	}
}

/* The digest of the parties schakel.conf gives now; false if it cannot be read. */
static bool file_digest(struct node *n, char out[65])
{
	struct config cfg;
	struct errbuf e;
	char path[4200];

	snprintf(path, sizeof(path), "%s/schakel.conf", n->app->dir);
	if (config_load(&cfg, path, &e) != ST_OK)
		return false;
	node_parties_digest(&cfg, out);
	config_free(&cfg);
	return true;
}

/* The parties are stale (newest is another's): reloads schakel.conf when
 * it has the newest parties; true when it did. */
static bool reload_newest(struct node *n, const struct node_newest *newest)
{
	char disk[65];

	if (!file_digest(n, disk) || strcmp(disk, newest->digest) != 0)
		return false;
	log_event(LV_WARN, "node", "another node changed the parties and so did "
		  "schakel.conf: reloading it", "node", newest->node, NULL);
	return n->ops.reload != NULL && n->ops.reload(n->ops.arg);
}

/* The parties are stale and the file has others: refuse them (once the
 * newest is old enough for a reload of the nodes in turn to be over). */
static void refuse(struct node *n, const struct node_newest *newest)
{
	char age[24];

	if (n->refusing || newest->age < (long)n->app->cfg.reload_check * 2 / 3)
		return;
	n->refusing = true;
	snprintf(age, sizeof(age), "%ld", newest->age);
	snprintf(n->why, sizeof(n->why), "this node's parties are not those node %s has "
		 "served for %ld s (docs/operations.md, \"Several nodes\"): try another node",
		 newest->node, newest->age);
	log_event(LV_ERROR, "node", "refusing parties: their grants here are stale; make this "
		  "node's [party.*] sections the same as the other node's and reload it (SIGHUP)",
		  "node", newest->node, "seconds", age, NULL);
	drop_leases(n);
	if (n->ops.refuse != NULL)
		n->ops.refuse(n->ops.arg, n->why);
}

/* Writes this node's digest and reads the newest into *newest; false on failure. */
static bool compare(struct node *n, struct node_newest *newest)
{
	struct errbuf e;
	enum status st = ST_OK;

	if (!begin_write(n))
		return false;
	if (store_node_put(n->app->store, n->name, n->digest, &e) != ST_OK ||
	    store_node_newest(n->app->store, 3 * n->app->cfg.lease_seconds, newest, &e) != ST_OK)
		st = ST_FAIL;
	end_write(n);
	if (st != ST_OK)
		log_event(n->shared ? LV_WARN : LV_DEBUG, "node", "cannot compare the parties "
			  "with the other nodes'", "error", e.msg, NULL);
	return st == ST_OK;
}

/* Writes this node's digest, compares it with the newest, and acts on it. */
static void check_parties(struct node *n)
{
	struct node_newest newest;

	if (!compare(n, &newest))
		return;
	if (newest.found && strcmp(newest.digest, n->digest) != 0 && reload_newest(n, &newest)) {
		node_parties_digest(&n->app->cfg, n->digest);
		if (!compare(n, &newest))
			return;
	}
	if (newest.found && strcmp(newest.digest, n->digest) != 0) {
		refuse(n, &newest);
	} else if (n->refusing) {
		n->refusing = false;
		log_event(LV_INFO, "node", "the parties are the same as the other nodes' again: "
			  "serving them", NULL);
		if (n->ops.refuse != NULL)
			n->ops.refuse(n->ops.arg, NULL);
	}
}

void node_beat(struct node *n)
{
	check_parties(n);
	if (n->refusing || !n->shared)
		return;	/* on SQLite nobody else takes a lease: no renewal needed */
	for (size_t i = 0; i < n->nleases; i++)
		if (n->leases[i].held)
			lease_renew(n, &n->leases[i]);
}

const char *node_refusing(const struct node *n)
{
	return n->refusing ? n->why : NULL;
}

void node_reloaded(struct node *n)
{
	node_parties_digest(&n->app->cfg, n->digest);
	check_parties(n);
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_beat(arg);
}

/* Seconds between heartbeats: a third of the lease and of reload_check. */
static int beat_seconds(const struct config *cfg)
{
	int s = (cfg->lease_seconds < cfg->reload_check ? cfg->lease_seconds
							: cfg->reload_check) / 3;

	return s < 1 ? 1 : s;
}

struct node *node_new(struct app *app, struct event_base *base, struct work_pool *work,
		      const struct node_ops *ops, struct errbuf *e)
{
	struct node *n = calloc(1, sizeof(*n));
	struct timeval tv = { beat_seconds(&app->cfg), 0 };

	if (n == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		return NULL;
	}
	n->app = app;
	n->work = work;
	n->ops = *ops;
	n->shared = strcmp(app->cfg.store_backend, "postgresql") == 0;
	node_name(&app->cfg, n->name);
	if (!name_ok(n->name)) {
		errbuf_set(e, ST_FAIL, "[server] node must be 1-63 letters, digits, '.', '_' or "
			   "'-', not '%.80s' (the host name when empty)", n->name);
		free(n);
		return NULL;
	}
	n->timer = event_new(base, -1, EV_PERSIST, on_beat, n);
	if (n->timer == NULL || event_add(n->timer, &tv) != 0) {
		errbuf_set(e, ST_FAIL, "out of memory");
		node_free(n);
		return NULL;
	}
	node_reloaded(n);
	return n;
}

void node_free(struct node *n)
{
	if (n == NULL)
		return;
	if (n->timer != NULL)
		event_free(n->timer);
	n->work = NULL;	/* stopped by now */
	if (n->nleases > 0)
		drop_leases(n);
	free(n->leases);
	free(n);
}
