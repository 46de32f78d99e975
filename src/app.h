/*
 * app.h - one installation, opened: its data directory, configuration,
 * keys, store, the compiled canonical-record schema and the adapters used.  Every command that
 * works on a data directory opens one.
 */
#ifndef SCHAKEL_APP_H
#define SCHAKEL_APP_H

#include <stdbool.h>

#include "config.h"
#include "crypto.h"
#include "status.h"
#include "store.h"
#include "xml.h"

struct app {
	char dir[4096];
	struct config cfg;
	struct store *store;
	struct keys keys;
	xmlSchemaPtr records_schema;
	struct record_checker *records;	/* validates canonical records */
	struct loader_cache *adapters;	/* loaded on first use (loader.h) */
};

/*
 * Makes dir (0700) with a default schakel.conf (an existing one is kept),
 * fresh keys (existing ones are kept) and the database.  Safe to run twice.
 */
enum status app_init(const char *dir, bool *conf_created, struct errbuf *e);

/* Opens the installation in dir.  Close with app_close(). */
enum status app_open(struct app *app, const char *dir, struct errbuf *e);

/* Closes what app_open() opened; accepts a zeroed struct. */
void app_close(struct app *app);

#endif
