/*
 * metrics.h - the daemon's own counters (requests per endpoint, latency
 * histograms), and the Prometheus text exposition of them and of the
 * store's figures (store_gauges).
 */
#ifndef SCHAKEL_METRICS_H
#define SCHAKEL_METRICS_H

#include <stdio.h>

#include "deliver.h"
#include "store.h"
#include "work.h"

/* Counts a finished request: path is turned into its endpoint template. */
void metrics_request(const char *method, const char *path, int status, double seconds);

/* Counts a refusal of a client that is not identified, by cause and address. */
void metrics_unidentified(const char *cause, const char *addr);

/* The endpoint template of a path: "/v1/uploads/{adapter}", ... */
const char *metrics_endpoint(const char *path);

/* Counts a refusal that could not be written to the exchange log. */
void metrics_refusal_unlogged(void);

/* Writes the deliverer's figures (outages, outcomes held); d may be NULL. */
enum status metrics_write_deliverer(FILE *f, const struct deliverer *d);

/* Writes the worker pool's figures (queue length, oldest job's age); p may be NULL. */
void metrics_write_work(FILE *f, struct work_pool *p);

/*
 * Writes the Prometheus text (len bytes) to f with every sample labelled
 * node="node" (several nodes on one database, node.h), comments as they are.
 */
void metrics_label_node(FILE *f, const char *text, size_t len, const char *node);

/* Writes every metric in the Prometheus text format to f. */
enum status metrics_write(FILE *f, struct store *s, const char *db_path, struct errbuf *e);

#endif
