/*
 * admin.h - the operator's listener of `schakel serve`: plain HTTP on a
 * loopback address ([admin] listen, port), never exposed to parties.
 *
 *   GET /           the dashboard: server-rendered HTML, a little inline
 *                   JavaScript for the log search, no external assets
 *   GET /metrics    Prometheus text format
 *   GET /healthz    200 or 503 with the reasons (JSON)
 *   GET /api/log    log search (the filters of `schakel log`), JSON
 */
#ifndef SCHAKEL_ADMIN_H
#define SCHAKEL_ADMIN_H

#include "app.h"
#include "deliver.h"
#include "http.h"
#include "work.h"

/* The handlers for a plain http_server_new(); app is the daemon's. */
void admin_handler(struct app *app, struct http_handler *h);

/* The daemon's deliverer, for health, metrics and the outage table; NULL: none. */
void admin_set_deliverer(const struct deliverer *d);

/* The daemon's worker threads, for health, metrics and the dashboard; NULL: none. */
void admin_set_work(struct work_pool *p);

/* The daemon's node (node.h): /healthz fails while it refuses its parties; NULL: none. */
struct node;
void admin_set_node(const struct node *n);

#endif
