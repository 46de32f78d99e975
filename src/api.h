/*
 * api.h - the HTTPS API of schakel serve (docs/api.md, docs/openapi.yaml):
 *
 *   POST /v1/uploads/{adapter}         a party supplies a source file
 *   GET  /v1/signals?after=&limit=     the caller's inbox
 *   POST /v1/signals/{id}/feedback     a recipient's outcome
 *   GET  /v1/log?after=&limit=         log entries the caller is a party to
 *   GET  /, /portal, /portal.js, ...   the analyst's page (portal.h)
 *
 * The caller is the party whose OIN is in its verified client certificate;
 * an OIN without a [party.<OIN>] section gets 403, and so does a request
 * its grant does not allow.  Every refusal of a party is an exchange log
 * entry; refusals of clients that are not identified (no certificate, a
 * failed handshake, an OIN that is no party) are counted (noise.h) and
 * written as one entry per source address and cause by api_flush_noise().
 */
#ifndef SCHAKEL_API_H
#define SCHAKEL_API_H

#include "app.h"
#include "http.h"
#include "work.h"

struct api;

/* The API over an open installation.  Returns NULL with e set. */
struct api *api_new(struct app *app, struct errbuf *e);
/* Flushes the counted refusals (api_flush_noise) and frees api. */
void api_free(struct api *api);

/*
 * Uploads are read on work's threads (NULL: on the caller's).  An upload
 * that stored new or changed records calls on_change(arg, matched,
 * marg) on the loop and is answered when the match that covers it calls
 * matched(marg) (on the loop; on_change returns false when it cannot ask
 * for one: then at once), so its signals are in the inboxes when it is
 * answered.
 */
typedef bool api_change_fn(void *arg, void (*matched)(void *marg), void *marg);
void api_set_work(struct api *api, struct work_pool *work, api_change_fn *on_change,
		  void *arg);

/*
 * Answers every request 503 (with Retry-After and why, a sentence) from
 * now on; why NULL: serves them again (node.h: stale grants).
 */
void api_set_refusing(struct api *api, const char *why);

/* Writes the refusals of unidentified clients counted so far to the log. */
void api_flush_noise(struct api *api);

/* The request handlers for http_server_new(); arg is the api. */
void api_handler(struct api *api, struct http_handler *h);

#endif
