/*
 * portal.h - the analyst's page: the page a party's analyst or clerk opens
 * in a browser that presents the party's client certificate, on the
 * mutual-TLS API of `schakel serve` (docs/api.md, *The analyst's page*).
 *
 *   GET /, /portal   the page (HTML; the party, its grant, the rules'
 *                    thresholds as a JSON data block)
 *   GET /portal.js   its script: reads GET /v1/signals and GET /v1/log,
 *                    posts feedback to POST /v1/signals/{id}/feedback
 *   GET /portal.css  its style; GET /favicon.ico its icon (SVG)
 *
 * Everything the page shows comes through the API, with the party's own
 * grant: the page adds no way to data.  Every reply has a strict
 * Content-Security-Policy (no inline script, nothing from elsewhere, no
 * framing).
 */
#ifndef SCHAKEL_PORTAL_H
#define SCHAKEL_PORTAL_H

#include <stdbool.h>

#include "config.h"
#include "http.h"

/* Whether path is one of the page's resources. */
bool portal_serves(const char *path);

/* Replies to a GET of one of them (portal_serves(path)) for party p. */
void portal_reply(struct http_req *r, const struct config *cfg, const struct party *p);

#endif
