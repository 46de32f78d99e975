/*
 * loader.c - adapter modules (see loader.h).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "xml.h"

static const char *env_or(const char *var, const char *fallback)
{
	const char *v = getenv(var);

	return v != NULL && *v != '\0' ? v : fallback;
}

const char *loader_adapter_dir(void)
{
	return env_or("SCHAKEL_ADAPTER_DIR", SCHAKEL_ADAPTER_DIR);
}

const char *loader_schema_dir(void)
{
	return env_or("SCHAKEL_SCHEMA_DIR", SCHAKEL_SCHEMA_DIR);
}

const char *loader_sample_dir(void)
{
	return env_or("SCHAKEL_SAMPLE_DIR", SCHAKEL_SAMPLE_DIR);
}

/* Adapter names are lower-case identifiers: never a path. */
static bool valid_name(const char *name)
{
	if (*name == '\0' || strlen(name) > 32)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

enum status loader_load(const char *name, struct loaded_adapter *out, struct errbuf *e)
{
	const struct adapter *ad;
	char path[4096];

	memset(out, 0, sizeof(*out));
	if (!valid_name(name))
		return errbuf_set(e, ST_USAGE, "'%.40s' is not an adapter name", name);
	snprintf(path, sizeof(path), "%s/%s.so", loader_adapter_dir(), name);
	/* RTLD_NODELETE: a module stays mapped after dlclose().  The brp
	 * adapter parks the validation contexts libxml2 may have left broken
	 * in a static array of its own (brp_close()); unmapped, they would be
	 * lost memory, and nothing else may point into an unloaded module. */
	out->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (out->handle == NULL) {
		/* No such module is the user's mistake (exit 2); a module that is
		 * there but cannot be loaded (out of memory, a library missing)
		 * is a failure (exit 1). */
		const char *why = dlerror();	/* once: it clears the error */

		if (why == NULL)
			why = "dlopen failed";
		if (access(path, F_OK) != 0)
			return errbuf_set(e, ST_USAGE, "no adapter '%s' (%s)", name, why);
		return errbuf_set(e, ST_FAIL, "cannot load adapter '%s' (%s)", name, why);
	}
	ad = dlsym(out->handle, ADAPTER_SYMBOL);
	if (ad == NULL) {
		errbuf_set(e, ST_FAIL, "adapter %s does not export %s", path, ADAPTER_SYMBOL);
		goto out_close;
	}
	if (ad->abi_version != ADAPTER_ABI_VERSION) {
		errbuf_set(e, ST_FAIL, "adapter %s was built for adapter ABI version %u, but "
			   "this schakel speaks version %u: rebuild the adapter against this "
			   "schakel's src/adapter.h", path, ad->abi_version, ADAPTER_ABI_VERSION);
		goto out_close;
	}
	if (ad->name == NULL || strcmp(ad->name, name) != 0 || ad->open == NULL ||
	    ad->feed == NULL || ad->finish == NULL || ad->error == NULL || ad->close == NULL) {
		errbuf_set(e, ST_FAIL, "adapter %s is incomplete (name or functions missing)",
			   path);
		goto out_close;
	}
	if (ad->source_schema != NULL) {
		out->schema = xml_schema_load(loader_schema_dir(), ad->source_schema, e);
		if (out->schema == NULL)
			goto out_close;
	}
	out->adapter = ad;
	return ST_OK;
out_close:
	dlclose(out->handle);
	out->handle = NULL;
	return ST_FAIL;
}

void loader_unload(struct loaded_adapter *la)
{
	if (la == NULL)
		return;
	if (la->schema != NULL)
		xmlSchemaFree(la->schema);
	if (la->handle != NULL)
		dlclose(la->handle);
	memset(la, 0, sizeof(*la));
}

struct loader_cache {
	struct cached {
		struct cached *next;
		struct loaded_adapter la;
	} *first;
};

struct loader_cache *loader_cache_new(void)
{
	return calloc(1, sizeof(struct loader_cache));
}

void loader_cache_free(struct loader_cache *c)
{
	if (c == NULL)
		return;
	for (struct cached *a = c->first, *next; a != NULL; a = next) {
		next = a->next;
		loader_unload(&a->la);
		free(a);
	}
	free(c);
}

enum status loader_cache_get(struct loader_cache *c, const char *name,
			     struct loaded_adapter **out, struct errbuf *e)
{
	struct cached *a;
	enum status st;

	for (a = c->first; a != NULL; a = a->next) {
		if (strcmp(a->la.adapter->name, name) == 0) {
			*out = &a->la;
			return ST_OK;
		}
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	st = loader_load(name, &a->la, e);
	if (st != ST_OK) {	/* not kept: the next use tries again */
		free(a);
		return st;
	}
	a->next = c->first;
	c->first = a;
	*out = &a->la;
	return ST_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

void loader_list(void (*cb)(void *arg, const char *name), void *arg)
{
	struct dirent **ents;
	int n = scandir(loader_adapter_dir(), &ents, NULL, by_name);

	for (int i = 0; i < n; i++) {
		char name[256];
		size_t len = strlen(ents[i]->d_name);

		if (len > 3 && strcmp(ents[i]->d_name + len - 3, ".so") == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(len - 3), ents[i]->d_name);
			cb(arg, name);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}
