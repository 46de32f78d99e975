/*
 * app.c - opening an installation (see app.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "record.h"
#include "loader.h"
#include "tls.h"

static void db_path(const char *dir, const struct config *cfg, char out[4096])
{
	if (cfg->database[0] == '/')
		snprintf(out, 4096, "%s", cfg->database);
	else
		snprintf(out, 4096, "%s/%s", dir, cfg->database);
}

/*
 * Opens the store [store] backend names: the SQLite file, or the
 * PostgreSQL database (its passfile relative to the data directory dir), and
 * checks that the database was made with this installation's pseudonym key.
 */
static enum status open_store(struct app *app, const char *dir, struct errbuf *e)
{
	char path[4096] = "", check[65];

	if (strcmp(app->cfg.store_backend, "postgresql") == 0) {
		if (app->cfg.passfile != NULL)
			tls_data_path(dir, app->cfg.passfile, path);
		if (store_open_dsn(app->cfg.dsn, app->cfg.passfile != NULL ? path : NULL,
				   loader_schema_dir(), &app->store, e) != ST_OK)
			return ST_FAIL;
	} else {
		db_path(dir, &app->cfg, path);
		if (store_open(path, loader_schema_dir(), app->cfg.busy_timeout_ms, &app->store,
			       e) != ST_OK || store_cache(app->store, app->cfg.cache_mib, e) != ST_OK)
			return ST_FAIL;
	}
	crypto_key_check(&app->keys, check);
	return store_key_check(app->store, check, e);
}

enum status app_init(const char *dir, bool *conf_created, struct errbuf *e)
{
	struct app app = { 0 };
	char path[4096];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errbuf_set(e, ST_FAIL, "cannot create %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/schakel.conf", dir);
	if (config_write_default(path, conf_created, e) != ST_OK)
		return ST_FAIL;
	if (crypto_keys_create(dir, e) != ST_OK)
		return ST_FAIL;
	if (app_open(&app, dir, e) != ST_OK)
		return ST_FAIL;
	app_close(&app);
	return ST_OK;
}

enum status app_open(struct app *app, const char *dir, struct errbuf *e)
{
	char path[4096];
	struct stat sb;

	memset(app, 0, sizeof(*app));
	snprintf(app->dir, sizeof(app->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/schakel.conf", dir);
	if (stat(path, &sb) != 0)
		return errbuf_set(e, ST_FAIL, "%s is not a schakel data directory (no "
				  "schakel.conf): run `schakel -D %s init`", dir, dir);
	if (config_load(&app->cfg, path, e) != ST_OK)
		return ST_FAIL;
	if (crypto_keys_load(dir, &app->keys, e) != ST_OK)
		goto out_close;
	app->records_schema = xml_schema_load(loader_schema_dir(), "schakel-records.xsd", e);
	if (app->records_schema == NULL)
		goto out_close;
	app->records = record_checker_new(app->records_schema);
	app->adapters = loader_cache_new();
	if (app->records == NULL || app->adapters == NULL) {
		errbuf_set(e, ST_FAIL, "out of memory");
		goto out_close;
	}
	snprintf(path, sizeof(path), "%s/spool", dir);	/* uploads and pulls land here */
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		errbuf_set(e, ST_FAIL, "cannot create %s: %s", path, strerror(errno));
		goto out_close;
	}
	if (open_store(app, dir, e) != ST_OK)
		goto out_close;
	return ST_OK;
out_close:
	app_close(app);
	return ST_FAIL;
}

void app_close(struct app *app)
{
	if (app == NULL)
		return;
	store_close(app->store);
	loader_cache_free(app->adapters);
	record_checker_free(app->records);
	if (app->records_schema != NULL)
		xmlSchemaFree(app->records_schema);
	crypto_keys_wipe(&app->keys);
	config_free(&app->cfg);
	memset(app, 0, sizeof(*app));
}
