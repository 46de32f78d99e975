/*
 * serve.h - the daemon: `schakel serve` runs the HTTPS API on one libevent
 * loop until SIGTERM (or SIGINT), which lets requests in flight finish;
 * SIGHUP reloads schakel.conf (parties, grants, limits) and the TLS files
 * (certificates, CA bundle, CRL) without dropping connections.
 */
#ifndef SCHAKEL_SERVE_H
#define SCHAKEL_SERVE_H

#include "status.h"

/* Serves the installation in dir; port >= 0 overrides [server] port. */
enum status serve_run(const char *dir, int port, struct errbuf *e);

#endif
