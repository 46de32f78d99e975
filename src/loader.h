/*
 * loader.h - finds, loads and checks adapter modules.
 *
 * Adapter NAME is the shared object NAME.so in the adapter directory
 * ($SCHAKEL_ADAPTER_DIR, else the directory compiled in).  It must export
 * ADAPTER_SYMBOL with the abi_version this program was built with; any
 * other version is refused with a message that says what to rebuild.
 */
#ifndef SCHAKEL_LOADER_H
#define SCHAKEL_LOADER_H

#include <libxml/xmlschemas.h>

#include "adapter.h"
#include "status.h"

struct loaded_adapter {
	void *handle;
	const struct adapter *adapter;
	xmlSchemaPtr schema;	/* the adapter's source schema, or NULL */
};

/* The directories in use: the environment's, else the compiled-in ones. */
const char *loader_adapter_dir(void);
const char *loader_schema_dir(void);
const char *loader_sample_dir(void);

/* Loads adapter name and compiles its source schema. */
enum status loader_load(const char *name, struct loaded_adapter *out, struct errbuf *e);

/* Unloads; accepts a zeroed struct. */
void loader_unload(struct loaded_adapter *la);

/*
 * The adapters a long-running process uses, each loaded and its source
 * schema compiled once, on first use, and kept until loader_cache_free().
 * (Compiling the StUF-BG profile took four fifths of the daemon's time for
 * a small upload.)  A new build of an adapter is used after a restart.
 */
struct loader_cache;

struct loader_cache *loader_cache_new(void);
/* Unloads every adapter in c; accepts NULL. */
void loader_cache_free(struct loader_cache *c);
/* Adapter name, loaded on first use (loader_load()'s errors); *out stays
 * valid until c is freed. */
enum status loader_cache_get(struct loader_cache *c, const char *name,
			     struct loaded_adapter **out, struct errbuf *e);

/*
 * Calls cb with the name of every adapter in the adapter directory, in
 * alphabetical order (for --help).
 */
void loader_list(void (*cb)(void *arg, const char *name), void *arg);

#endif
