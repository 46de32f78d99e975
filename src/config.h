/*
 * config.h - DIR/schakel.conf: keys, defaults and checks.
 *
 * The file is INI with dotted section names, read with inih.  Every key is
 * declared once in a table in config.c with its default and its check; a
 * file with no keys at all gives the defaults.  Unknown sections or keys, and
 * values that fail their check, are errors that name file and line.
 * Sections whose name carries an identifier ([party.<OIN>],
 * [source.<name>]) may occur several times with different identifiers.
 * docs/configuration.md is the reference and must match the table.
 */
#ifndef SCHAKEL_CONFIG_H
#define SCHAKEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "rule.h"
#include "status.h"

#define OIN_LEN 20

/* A list of strings, such as gemeentecodes or adapter names. */
struct strlist {
	char **v;
	size_t n;
};

/*
 * [party.<OIN>]: an authority connected to the broker, and its grant.
 * Deny by default: a party may supply nothing and receives nothing unless
 * these keys say so.
 */
struct party {
	char oin[OIN_LEN + 1];		/* from the section name, 20 digits */
	char *name;			/* name = ...              (default: the OIN) */
	struct strlist gemeenten;	/* gemeenten = 1783, 1784  (its territory; empty: national) */
	struct strlist supplies;	/* supplies = brp          (adapters it may feed) */
	unsigned receives;		/* receives = OVERBEWONING, ... or "all" (RULE_BIT mask) */
	bool receive_bsn;		/* receive_bsn = false     (may it see the BSN itself) */
	char *push_url;			/* push_url =              (https endpoint; NULL: inbox only) */
	int max_in_flight;		/* max_in_flight = 4       (its deliveries under way at once) */
};

/*
 * [source.<name>]: a source the daemon pulls from on a schedule
 * (`schakel pull` runs one round by hand).
 */
struct source {
	char name[33];			/* from the section name */
	int line;			/* where its section starts, for messages */
	char *adapter;			/* adapter = inspectie      (required) */
	char *url;			/* url = https://...        (required) */
	int interval;			/* interval = 3600 (seconds between pulls) */
	int timeout;			/* timeout = 300 (seconds for one request) */
	char *party;			/* party = OIN the data comes from (for grants) */
	char *tls_cert, *tls_key;	/* certificate, private_key: default [server]'s */
	char *tls_ca;			/* ca: default [server]'s */
	int max_pages;			/* max_pages = 1000 (paged feeds, per round) */
};

struct config {
	char *path;			/* the file read, for messages */

	/* [match] */
	int window_days;		/* window_days = 365 */
	int full_interval;		/* full_interval = 86400 (seconds; 0: none) */

	/* [rule.<NAME>] enabled = true, for every rule */
	bool rule_enabled[RULE_COUNT];
	int m2_per_person;		/* [rule.OVERBEWONING] m2_per_person = 12 */
	int min_gap;			/* [rule.ONDERREGISTRATIE] min_gap = 2 */
	struct strlist permit_gemeenten;/* [rule.GEEN_VERGUNNING] gemeenten = */
	int min_persons;		/* [rule.GEEN_VERGUNNING] min_persons = 4 */

	/* [ingest] */
	size_t max_field_bytes;		/* max_field_bytes = 65536 */
	size_t max_depth;		/* max_depth = 64 */
	size_t max_attributes;		/* max_attributes = 64 (per element) */
	size_t max_records;		/* max_records = 10000000 (per file) */

	/* [store] */
	char *store_backend;		/* backend = sqlite  (sqlite, postgresql) */
	char *dsn;			/* dsn =  (postgresql: libpq connection string; NULL: none) */
	char *passfile;			/* passfile =  (relative to DIR; NULL: libpq's default) */
	char *database;			/* database = schakel.db (relative to DIR) */
	int busy_timeout_ms;		/* busy_timeout_ms = 5000 */
	int cache_mib;			/* cache_mib = 16 */
	int min_free_mib;		/* min_free_mib = 256 (/healthz warns below; 0: never) */

	/* [log] */
	char *log_level;		/* level = info  (error, warn, info, debug) */
	char *log_format;		/* format = logfmt  (logfmt, json) */
	int checkpoint_interval;	/* checkpoint_interval = 3600 (seconds; 0: none) */

	/* [server] */
	char *listen;			/* listen = 127.0.0.1 */
	int port;			/* port = 8443 */
	char *tls_cert, *tls_key;	/* certificate, private_key (relative to DIR) */
	char *tls_ca, *tls_crl;		/* ca, crl (NULL: no revocation check) */
	size_t max_header_bytes;	/* max_header_bytes = 16384 */
	size_t max_headers;		/* max_headers = 64 */
	size_t max_body_bytes;		/* max_body_bytes = 256M */
	int request_timeout;		/* request_timeout = 30 (seconds) */
	size_t min_body_rate;		/* min_body_rate = 1024 (bytes/s; 0: none) */
	size_t max_connections;		/* max_connections = 512 */
	size_t max_connections_per_party;	/* max_connections_per_party = 16 */
	int workers;			/* workers = 2 (threads for the heavy work) */
	int work_queue;			/* work_queue = 128 (uploads waiting; 503 above) */
	int retry_after;		/* retry_after = 5 (seconds, with that 503) */
	char *node;			/* node = the host name: names this node's outbox claims */

	/* [retention] */
	int retention_records_days;	/* records_days = 365 (0: keep) */
	int retention_signals_days;	/* signals_days = 730 */
	int retention_delivered_days;	/* delivered_days = 30 */

	/* [admin] */
	bool admin_enabled;		/* enabled = true */
	char *admin_listen;		/* listen = 127.0.0.1 */
	int admin_port;			/* port = 8444 */

	/* [delivery] */
	int delivery_horizon_hours;	/* horizon_hours = 120 */
	int delivery_timeout;		/* timeout = 30 (seconds) */
	int delivery_backoff_initial;	/* backoff_initial = 10 (seconds) */
	int delivery_backoff_max;	/* backoff_max = 3600 (seconds) */
	int delivery_max_in_flight;	/* max_in_flight = 256 (in all; per party: party.max_in_flight) */
	int delivery_breaker_failures;	/* breaker_failures = 5 (in a row: recipient down) */
	int delivery_drain_seconds;	/* drain_seconds = 10 (waited for at SIGTERM) */

	/* [ldv] */
	bool ldv_enabled;		/* enabled = true (processing records) */
	char *ldv_register;		/* register = https://schakel.example/verwerkingsactiviteiten */
	char *ldv_otlp_url;		/* otlp_url = (NULL: no export) */
	int ldv_otlp_batch;		/* otlp_batch = 512 (spans a request) */
	int ldv_otlp_timeout;		/* otlp_timeout = 30 (seconds) */

	struct party *parties;
	size_t nparties;
	struct source *sources;
	size_t nsources;
};

/* The source called name, or NULL. */
const struct source *config_source(const struct config *cfg, const char *name);

/* Fills cfg with the defaults.  Free with config_free(). */
enum status config_defaults(struct config *cfg);

/*
 * Reads path into cfg (which is first set to the defaults).  A missing file
 * is an error.  On error, e says "path:line: what is wrong" and cfg holds
 * nothing that needs freeing.
 */
enum status config_load(struct config *cfg, const char *path, struct errbuf *e);

/* Frees what cfg holds; accepts a zeroed or already freed struct. */
void config_free(struct config *cfg);

/*
 * Writes the default, commented configuration file to path unless a file
 * is already there (then it is kept and *created is false).  Mode 0600.
 */
enum status config_write_default(const char *path, bool *created, struct errbuf *e);

/* The party with this OIN, or NULL. */
const struct party *config_party(const struct config *cfg, const char *oin);

/* Whether the list holds s. */
bool strlist_has(const struct strlist *l, const char *s);

#endif
