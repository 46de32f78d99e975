/*
 * config.c - DIR/schakel.conf (see config.h and docs/configuration.md).
 *
 * Every key is declared once, in keys[] below: its section, name, type,
 * range, default and place in struct config (or struct party).  The
 * defaults, the checks, the freeing and the commented default file all walk
 * that one table.
 *
 * inih parses the lines; it reads them through load_reader(), which counts
 * lines (inih's handler is not told the line), strips leading blanks (so an
 * indented key is a key, not an inih continuation line), refuses lines
 * longer than inih's buffer (inih would split them silently) and checks
 * every "[section]" header as it goes by (inih never calls the handler for a
 * section without keys, so an unknown empty section would go unseen).
 *
 * A section may appear once, and a key once in its section: a second
 * [party.<OIN>] with the same OIN is an error, not a merge, so a grant is
 * always read in one place.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <libpq-fe.h>

#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum config_sec {
	SEC_MATCH,
	SEC_RULE_OVERBEWONING,
	SEC_RULE_ONDERREGISTRATIE,
	SEC_RULE_ADRES_AFWIJKING,
	SEC_RULE_GEEN_VERGUNNING,
	SEC_INGEST,
	SEC_STORE,
	SEC_LOG,
	SEC_SERVER,
	SEC_ADMIN,
	SEC_DELIVERY,
	SEC_RETENTION,
	SEC_LDV,
	SEC_PARTY,
	SEC_SOURCE,
	SEC_COUNT,
};

struct config_section {
	const char *name;	/* the name; with has_id, the prefix before the id */
	bool has_id;		/* [party.<OIN>]: may occur once per id */
	const char *help;	/* one line for the default file */
};

static const struct config_section sections[SEC_COUNT] = {
	[SEC_MATCH] = { "match", false,
		"Which findings the matcher looks at." },
	[SEC_RULE_OVERBEWONING] = { "rule.OVERBEWONING", false,
		"More people at an address than its floor area or max_bewoners allows." },
	[SEC_RULE_ONDERREGISTRATIE] = { "rule.ONDERREGISTRATIE", false,
		"More people observed at an address than are registered there." },
	[SEC_RULE_ADRES_AFWIJKING] = { "rule.ADRES_AFWIJKING", false,
		"A person found at an address other than the one registered in the BRP." },
	[SEC_RULE_GEEN_VERGUNNING] = { "rule.GEEN_VERGUNNING", false,
		"An address where many are found but that has no valid landlord permit." },
	[SEC_INGEST] = { "ingest", false,
		"Limits on one source file; a file beyond them is rejected." },
	[SEC_STORE] = { "store", false,
		"The database: SQLite in DIR (the default), or PostgreSQL for several nodes." },
	[SEC_LOG] = { "log", false,
		"Logging." },
	[SEC_RETENTION] = { "retention", false,
		"How long data is kept; `schakel purge` and the daemon (daily) delete the rest." },
	[SEC_DELIVERY] = { "delivery", false,
		"Pushing signed signals to the parties with a push_url." },
	[SEC_ADMIN] = { "admin", false,
		"The operator's listener of `schakel serve`: dashboard, /metrics, /healthz." },
	[SEC_SERVER] = { "server", false,
		"The HTTPS API of `schakel serve` (mutual TLS; paths relative to DIR)." },
	[SEC_LDV] = { "ldv", false,
		"Processing records (Logboek Dataverwerkingen) and their OTLP export." },
	[SEC_SOURCE] = { "source.", true,
		"A source the daemon pulls from; see below." },
	[SEC_PARTY] = { "party.", true,
		"A connected authority, named by its OIN; see below." },
};

enum config_type {
	CT_INT,		/* int, from min to max */
	CT_COUNT,	/* size_t, from min to max, digits only */
	CT_BYTES,	/* size_t, from min to max, optional K, M or G */
	CT_BOOL,	/* bool: true/false, yes/no, on/off, 1/0 */
	CT_STRING,	/* char *, not empty */
	CT_URL,		/* char *, "https://..."; empty: NULL */
	CT_PATH,	/* char *, a file name; empty: NULL */
	CT_CHOICE,	/* char *, one of choices */
	CT_GEMEENTEN,	/* struct strlist of 4-digit gemeentecodes */
	CT_NAMES,	/* struct strlist of lowercase identifiers */
	CT_RULES,	/* unsigned RULE_BIT mask; "all" */
};

struct config_key {
	enum config_sec sec;
	const char *name;
	enum config_type type;
	long long min, max;		/* CT_INT, CT_COUNT, CT_BYTES */
	const char *const *choices;	/* CT_CHOICE, NULL-terminated */
	const char *def;		/* default, as written; NULL: set in code */
	const char *example;		/* [party.<OIN>] only: for the default file */
	size_t off;			/* into struct config, or struct party */
	const char *help;		/* one line for the default file */
};

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const log_formats[] = { "logfmt", "json", NULL };
static const char *const store_backends[] = { "sqlite", "postgresql", NULL };

#define CFG(f) offsetof(struct config, f)
#define PTY(f) offsetof(struct party, f)
#define SRC(f) offsetof(struct source, f)
#define RULE_ENABLED(r) {						\
	.sec = SEC_RULE_##r, .name = "enabled", .type = CT_BOOL,	\
	.def = "true", .off = CFG(rule_enabled[RULE_##r]),		\
	.help = "whether the matcher applies this rule",		\
}

static const struct config_key keys[] = {
	{ SEC_MATCH, "window_days", CT_INT, 1, 3650, NULL, "365", NULL,
	  CFG(window_days),
	  "findings older than this many days (before --as-of) are ignored" },
	{ SEC_MATCH, "full_interval", CT_INT, 0, 604800, NULL, "86400", NULL,
	  CFG(full_interval),
	  "the daemon checks its incremental matches with a full run this often (seconds; 0: never)" },

	RULE_ENABLED(OVERBEWONING),
	{ SEC_RULE_OVERBEWONING, "m2_per_person", CT_INT, 1, 1000, NULL, "12",
	  NULL, CFG(m2_per_person),
	  "one person per this many m2 of floor area (Bouwbesluit 2012 art. 7.18)" },

	RULE_ENABLED(ONDERREGISTRATIE),
	{ SEC_RULE_ONDERREGISTRATIE, "min_gap", CT_INT, 1, 1000000, NULL, "2",
	  NULL, CFG(min_gap),
	  "signal when observed minus registered persons is at least this" },

	RULE_ENABLED(ADRES_AFWIJKING),

	RULE_ENABLED(GEEN_VERGUNNING),
	{ SEC_RULE_GEEN_VERGUNNING, "gemeenten", CT_GEMEENTEN, 0, 0, NULL, "",
	  NULL, CFG(permit_gemeenten),
	  "comma-separated gemeentecodes that require a landlord permit" },
	{ SEC_RULE_GEEN_VERGUNNING, "min_persons", CT_INT, 1, 1000000, NULL,
	  "4", NULL, CFG(min_persons),
	  "persons found at an address from which a permit is required" },

	{ SEC_INGEST, "max_field_bytes", CT_BYTES, 1024, 1073741824, NULL,
	  "65536", NULL, CFG(max_field_bytes),
	  "longest value of one field, in bytes (K, M or G multiply by 1024)" },
	{ SEC_INGEST, "max_depth", CT_COUNT, 8, 1000, NULL, "64", NULL,
	  CFG(max_depth), "deepest nesting of elements accepted" },
	{ SEC_INGEST, "max_attributes", CT_COUNT, 1, 100000, NULL, "64", NULL,
	  CFG(max_attributes), "most attributes (namespace declarations included) on one "
	  "XML element" },
	{ SEC_INGEST, "max_records", CT_COUNT, 1, LLONG_MAX, NULL, "10000000",
	  NULL, CFG(max_records), "most records read from one file" },

	{ SEC_STORE, "backend", CT_CHOICE, 0, 0, store_backends, "sqlite", NULL,
	  CFG(store_backend), "sqlite (a file in DIR) or postgresql (dsn, below)" },
	{ SEC_STORE, "dsn", CT_PATH, 0, 0, NULL, "", NULL, CFG(dsn),
	  "postgresql: a libpq connection string, without the password" },
	{ SEC_STORE, "passfile", CT_PATH, 0, 0, NULL, "", NULL, CFG(passfile),
	  "postgresql: the password file (libpq's .pgpass format); relative to DIR" },
	{ SEC_STORE, "database", CT_STRING, 0, 0, NULL, "schakel.db", NULL,
	  CFG(database), "the database file; a relative path is relative to DIR" },
	{ SEC_STORE, "busy_timeout_ms", CT_INT, 0, 600000, NULL, "5000", NULL,
	  CFG(busy_timeout_ms),
	  "how long to wait for a database another process holds, in ms" },
	{ SEC_STORE, "cache_mib", CT_INT, 1, 65536, NULL, "16", NULL, CFG(cache_mib),
	  "most memory the database's page cache takes, in MiB" },
	{ SEC_STORE, "min_free_mib", CT_INT, 0, 1048576, NULL, "256", NULL, CFG(min_free_mib),
	  "free space in DIR under which /healthz warns, in MiB; 0: no warning" },

	{ SEC_LOG, "level", CT_CHOICE, 0, 0, log_levels, "info", NULL,
	  CFG(log_level), "least severe level logged: error, warn, info or debug" },
	{ SEC_LOG, "format", CT_CHOICE, 0, 0, log_formats, "logfmt", NULL,
	  CFG(log_format), "the daemon's log lines on stderr: logfmt or json" },
	{ SEC_LOG, "checkpoint_interval", CT_INT, 0, 604800, NULL, "3600", NULL,
	  CFG(checkpoint_interval),
	  "seconds between signed checkpoints of the exchange log; 0: none" },

	{ SEC_SERVER, "listen", CT_STRING, 0, 0, NULL, "127.0.0.1", NULL,
	  CFG(listen), "the address the API listens on" },
	{ SEC_SERVER, "port", CT_INT, 1, 65535, NULL, "8443", NULL, CFG(port),
	  "the TCP port of the API" },
	{ SEC_SERVER, "certificate", CT_PATH, 0, 0, NULL, "certs/server.crt", NULL,
	  CFG(tls_cert), "the broker's certificate (PEM), with its chain" },
	{ SEC_SERVER, "private_key", CT_PATH, 0, 0, NULL, "certs/server.key", NULL,
	  CFG(tls_key), "the broker's private key (PEM)" },
	{ SEC_SERVER, "ca", CT_PATH, 0, 0, NULL, "certs/ca.crt", NULL, CFG(tls_ca),
	  "the CA bundle that party certificates must chain to (PEM)" },
	{ SEC_SERVER, "crl", CT_PATH, 0, 0, NULL, "", NULL, CFG(tls_crl),
	  "revoked certificates (PEM CRL); empty: no revocation check" },
	{ SEC_SERVER, "max_header_bytes", CT_BYTES, 1024, 1048576, NULL, "16384", NULL,
	  CFG(max_header_bytes), "largest request line plus headers, in bytes" },
	{ SEC_SERVER, "max_headers", CT_COUNT, 1, 10000, NULL, "64", NULL,
	  CFG(max_headers), "most header lines in one request" },
	{ SEC_SERVER, "max_body_bytes", CT_BYTES, 1024, 68719476736LL, NULL, "256M", NULL,
	  CFG(max_body_bytes), "largest upload, in bytes (413 above it)" },
	{ SEC_SERVER, "request_timeout", CT_INT, 1, 86400, NULL, "30", NULL,
	  CFG(request_timeout), "seconds a client may stay silent in a request (408 after)" },
	{ SEC_SERVER, "min_body_rate", CT_COUNT, 0, 1073741824, NULL, "1024", NULL,
	  CFG(min_body_rate),
	  "bytes a second an upload must average, or 408 (a trickle is refused); 0: none" },
	{ SEC_SERVER, "max_connections", CT_COUNT, 1, 100000, NULL, "512", NULL,
	  CFG(max_connections), "most connections at once" },
	{ SEC_SERVER, "max_connections_per_party", CT_COUNT, 1, 100000, NULL, "16", NULL,
	  CFG(max_connections_per_party), "most connections of one party at once (429 above)" },
	{ SEC_SERVER, "workers", CT_INT, 1, 64, NULL, "2", NULL, CFG(workers),
	  "worker threads for ingest, matching, retention and checkpoints" },
	{ SEC_SERVER, "work_queue", CT_INT, 1, 100000, NULL, "128", NULL, CFG(work_queue),
	  "most uploads waiting for a worker (503 with Retry-After above it)" },
	{ SEC_SERVER, "retry_after", CT_INT, 1, 3600, NULL, "5", NULL, CFG(retry_after),
	  "the Retry-After (seconds) of a 503 for a full work queue" },
	{ SEC_SERVER, "node", CT_PATH, 0, 0, NULL, "", NULL, CFG(node),
	  "this node's name among those sharing one database; empty: the host name" },

	{ SEC_ADMIN, "enabled", CT_BOOL, 0, 0, NULL, "true", NULL, CFG(admin_enabled),
	  "whether the daemon opens the operator's listener" },
	{ SEC_ADMIN, "listen", CT_STRING, 0, 0, NULL, "127.0.0.1", NULL, CFG(admin_listen),
	  "its address: plain HTTP, keep it on loopback" },
	{ SEC_ADMIN, "port", CT_INT, 0, 65535, NULL, "8444", NULL, CFG(admin_port),
	  "its port (0: any free port, written in the daemon's log)" },

	{ SEC_DELIVERY, "horizon_hours", CT_INT, 1, 8760, NULL, "120", NULL,
	  CFG(delivery_horizon_hours),
	  "keep retrying a delivery this long (Digikoppeling: 5 days), then dead-letter it" },
	{ SEC_DELIVERY, "timeout", CT_INT, 1, 3600, NULL, "30", NULL, CFG(delivery_timeout),
	  "seconds one delivery attempt may take" },
	{ SEC_DELIVERY, "backoff_initial", CT_INT, 1, 86400, NULL, "10", NULL,
	  CFG(delivery_backoff_initial), "seconds before the first retry; doubles each time" },
	{ SEC_DELIVERY, "backoff_max", CT_INT, 1, 86400, NULL, "3600", NULL,
	  CFG(delivery_backoff_max), "the longest wait between two retries, in seconds" },
	{ SEC_DELIVERY, "max_in_flight", CT_INT, 1, 10000, NULL, "256", NULL,
	  CFG(delivery_max_in_flight), "deliveries under way at once, to all recipients together" },
	{ SEC_DELIVERY, "breaker_failures", CT_INT, 1, 10000, NULL, "5", NULL,
	  CFG(delivery_breaker_failures),
	  "failed attempts in a row after which a recipient is held down and only probed" },
	{ SEC_DELIVERY, "drain_seconds", CT_INT, 0, 3600, NULL, "10", NULL,
	  CFG(delivery_drain_seconds),
	  "how long a stopping daemon waits for the answers of deliveries under way" },

	{ SEC_RETENTION, "records_days", CT_INT, 0, 36500, NULL, "365", NULL,
	  CFG(retention_records_days),
	  "days registrations, dwellings and findings are kept after receipt; 0: always" },
	{ SEC_RETENTION, "signals_days", CT_INT, 0, 36500, NULL, "730", NULL,
	  CFG(retention_signals_days),
	  "days signals (with evidence, recipients, feedback) are kept; 0: always" },
	{ SEC_RETENTION, "delivered_days", CT_INT, 0, 36500, NULL, "30", NULL,
	  CFG(retention_delivered_days),
	  "days delivered messages stay in the outbox; 0: always" },

	{ SEC_LDV, "enabled", CT_BOOL, 0, 0, NULL, "true", NULL, CFG(ldv_enabled),
	  "whether every processing writes its processing record (docs/formats.md)" },
	{ SEC_LDV, "register", CT_STRING, 0, 0, NULL,
	  "https://schakel.example/verwerkingsactiviteiten", NULL, CFG(ldv_register),
	  "URI of the register of processing activities; an activity is REGISTER/NAME/vN" },
	{ SEC_LDV, "otlp_url", CT_URL, 0, 0, NULL, "", NULL, CFG(ldv_otlp_url),
	  "OTLP/HTTP traces endpoint (https, mutual TLS with [server]'s files); empty: no export" },
	{ SEC_LDV, "otlp_batch", CT_INT, 1, 10000, NULL, "512", NULL, CFG(ldv_otlp_batch),
	  "most spans in one export request" },
	{ SEC_LDV, "otlp_timeout", CT_INT, 1, 3600, NULL, "30", NULL, CFG(ldv_otlp_timeout),
	  "seconds one export request may take" },

	{ SEC_SOURCE, "adapter", CT_STRING, 0, 0, NULL, NULL, "inspectie", SRC(adapter),
	  "the adapter that reads what the source serves (required)" },
	{ SEC_SOURCE, "url", CT_URL, 0, 0, NULL, "", "https://data.inspectie.example/bevindingen",
	  SRC(url), "where to fetch it, https:// (required)" },
	{ SEC_SOURCE, "interval", CT_INT, 10, 604800, NULL, "3600", "3600", SRC(interval),
	  "seconds between two pulls" },
	{ SEC_SOURCE, "timeout", CT_INT, 1, 86400, NULL, "300", "300", SRC(timeout),
	  "seconds one request may take" },
	{ SEC_SOURCE, "party", CT_PATH, 0, 0, NULL, "", "00000001003214345000", SRC(party),
	  "OIN of the party the data comes from (its grant applies); empty: none" },
	{ SEC_SOURCE, "certificate", CT_PATH, 0, 0, NULL, "", "certs/server.crt", SRC(tls_cert),
	  "client certificate for this source; empty: [server] certificate" },
	{ SEC_SOURCE, "private_key", CT_PATH, 0, 0, NULL, "", "certs/server.key", SRC(tls_key),
	  "its private key; empty: [server] private_key" },
	{ SEC_SOURCE, "ca", CT_PATH, 0, 0, NULL, "", "certs/ca.crt", SRC(tls_ca),
	  "CA bundle to verify the source with; empty: [server] ca" },
	{ SEC_SOURCE, "max_pages", CT_INT, 1, 1000000, NULL, "1000", "1000", SRC(max_pages),
	  "most pages of a paged feed read in one round" },

	{ SEC_PARTY, "name", CT_STRING, 0, 0, NULL, NULL, "Gemeente Westland",
	  PTY(name), "its name in logs and messages (default: the OIN)" },
	{ SEC_PARTY, "gemeenten", CT_GEMEENTEN, 0, 0, NULL, "", "1783",
	  PTY(gemeenten),
	  "its gemeentecodes: what it may supply and receive; empty: national" },
	{ SEC_PARTY, "supplies", CT_NAMES, 0, 0, NULL, "", "brp",
	  PTY(supplies), "adapters whose data it may supply (brp, huisvesting, inspectie)" },
	{ SEC_PARTY, "receives", CT_RULES, 0, 0, NULL, "",
	  "OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING, GEEN_VERGUNNING",
	  PTY(receives), "rules whose signals it receives, or all; empty: none" },
	{ SEC_PARTY, "receive_bsn", CT_BOOL, 0, 0, NULL, "false", "true",
	  PTY(receive_bsn), "whether its signals carry the BSN itself" },
	{ SEC_PARTY, "push_url", CT_URL, 0, 0, NULL, "",
	  "https://schakel.westland.example/signals",
	  PTY(push_url), "https endpoint signals are pushed to; empty: inbox only" },
	{ SEC_PARTY, "max_in_flight", CT_INT, 1, 1000, NULL, "4", "4", PTY(max_in_flight),
	  "its deliveries under way at once (1: one at a time, in order)" },
};

#define NKEYS ARRAY_SIZE(keys)

/* The state of one config_load() while inih runs. */
struct load {
	struct config *cfg;
	const char *path;
	FILE *fp;
	char *line;			/* getline() buffer */
	size_t cap;
	int lineno;			/* the line inih is working on */
	int sec;			/* current section, -1 before the first */
	size_t party;			/* cfg->parties index, in [party.<OIN>] */
	size_t source;			/* cfg->sources index, in [source.<name>] */
	int sec_line[SEC_COUNT];	/* where each section began */
	int key_line[NKEYS];		/* where a key of this section was set */
	int read_errno;			/* getline() failed other than at EOF */
	bool failed;			/* e holds the first error */
	int fail_line;
	struct errbuf *e;
};

/* Frees the strings of l and empties it; accepts an empty list. */
static void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Appends a copy of the len bytes at s to l.  ST_FAIL: out of memory. */
static enum status strlist_push(struct strlist *l, const char *s, size_t len)
{
	char **v;
	char *copy;

	copy = strndup(s, len);
	if (copy == NULL)
		return ST_FAIL;
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(copy);
		return ST_FAIL;
	}
	v[l->n++] = copy;
	l->v = v;
	return ST_OK;
}

bool strlist_has(const struct strlist *l, const char *s)
{
	if (l == NULL || s == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* Whether s is exactly n ASCII digits. */
static bool is_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return s[i] == '\0';
}

static bool is_gemeentecode(const char *s)
{
	return is_digits(s, 4);
}

/* A lowercase identifier, as adapters are named: [a-z][a-z0-9_]{0,31}. */
static bool is_adapter_name(const char *s)
{
	size_t i;

	if (*s < 'a' || *s > 'z')
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return i <= 32;
}

static bool is_rule_or_all(const char *s)
{
	return strcmp(s, "all") == 0 || rule_from_name(s) >= 0;
}

/* What an item of a list of this type must be, for messages. */
static const char *list_item_what(enum config_type t)
{
	switch (t) {
	case CT_GEMEENTEN:
		return "a gemeentecode (4 digits, such as 1783)";
	case CT_NAMES:
		return "an adapter name (lowercase letters, digits and _, such as brp)";
	default:
		return "a rule (OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING, "
		       "GEEN_VERGUNNING) or all";
	}
}

/*
 * Splits val at commas into *out (which must be empty), trimming blanks;
 * a blank val is the empty list.  Every item must pass the check of k's
 * type.  On ST_FAIL, e says why and *out is empty again.
 */
static enum status list_parse(const struct config_key *k, const char *val,
			      struct strlist *out, struct errbuf *e)
{
	bool (*ok)(const char *) = k->type == CT_GEMEENTEN ? is_gemeentecode :
		k->type == CT_NAMES ? is_adapter_name : is_rule_or_all;
	const char *p = val, *end;
	char *item;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return ST_OK;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		end = p + strcspn(p, ",");
		item = strndup(p, (size_t)(end - p));
		if (item == NULL)
			goto out_nomem;
		for (size_t n = strlen(item); n > 0 && isspace((unsigned char)item[n - 1]); n--)
			item[n - 1] = '\0';
		if (*item == '\0' || !ok(item))
			goto out_bad_item;
		if (strlist_push(out, item, strlen(item)) != ST_OK)
			goto out_free_item;
		free(item);
		if (*end == '\0')
			return ST_OK;
		p = end + 1;
	}

out_bad_item:
	if (*item == '\0')
		errbuf_set(e, ST_FAIL, "%s has an empty item in '%s'", k->name, val);
	else
		errbuf_set(e, ST_FAIL, "%s: '%s' is not %s", k->name, item,
			   list_item_what(k->type));
	free(item);
	strlist_clear(out);
	return ST_FAIL;
out_free_item:
	free(item);
out_nomem:
	strlist_clear(out);
	return errbuf_set(e, ST_FAIL, "out of memory");
}

/* Parses a CT_INT value into *dst; ST_FAIL with a message if out of range. */
static enum status int_parse(const struct config_key *k, const char *val,
			     int *dst, struct errbuf *e)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(val, &end, 10);
	if (isspace((unsigned char)*val) || end == val || *end != '\0' ||
	    errno != 0 || n < k->min || n > k->max)
		return errbuf_set(e, ST_FAIL,
				  "%s must be an integer from %lld to %lld, not '%s'",
				  k->name, k->min, k->max, val);
	*dst = (int)n;
	return ST_OK;
}

/* Parses a CT_COUNT or CT_BYTES value into *dst. */
static enum status size_parse(const struct config_key *k, const char *val,
			      size_t *dst, struct errbuf *e)
{
	unsigned long long n, mul = 1;
	char *end;

	errno = 0;
	n = strtoull(val, &end, 10);
	if (k->type == CT_BYTES && end != val && *end != '\0' && end[1] == '\0') {
		const char *sfx = strchr("KkMmGg", *end);

		if (sfx != NULL) {
			mul = 1ull << (10 * (1 + (sfx - "KkMmGg") / 2));
			end++;
		}
	}
	if (*val < '0' || *val > '9' || *end != '\0' || errno != 0 ||
	    n > ULLONG_MAX / mul || n * mul < (unsigned long long)k->min ||
	    n * mul > (unsigned long long)k->max || n * mul > SIZE_MAX)
		goto out_bad;
	*dst = (size_t)(n * mul);
	return ST_OK;

out_bad:
	if (k->max == LLONG_MAX)
		return errbuf_set(e, ST_FAIL, "%s must be an integer of at least %lld, not '%s'",
				  k->name, k->min, val);
	return errbuf_set(e, ST_FAIL, "%s must be %s from %lld to %lld%s, not '%s'",
			  k->name, k->type == CT_BYTES ? "a number of bytes" : "an integer",
			  k->min, k->max,
			  k->type == CT_BYTES ? " (K, M or G multiply by 1024)" : "", val);
}

/* Parses a CT_BOOL value into *dst. */
static enum status bool_parse(const struct config_key *k, const char *val,
			      bool *dst, struct errbuf *e)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(val, yes[i]) == 0) {
			*dst = true;
			return ST_OK;
		}
		if (strcasecmp(val, no[i]) == 0) {
			*dst = false;
			return ST_OK;
		}
	}
	return errbuf_set(e, ST_FAIL,
			  "%s must be true or false (or yes/no, on/off, 1/0), not '%s'",
			  k->name, val);
}

/* Says in e that val is none of k's choices; returns ST_FAIL. */
static enum status choice_fail(const struct config_key *k, const char *val,
			       struct errbuf *e)
{
	char list[256] = "";
	size_t len = 0;

	for (size_t i = 0; k->choices[i] != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i > 0 ? ", " : "", k->choices[i]);
	return errbuf_set(e, ST_FAIL, "%s must be one of %s, not '%s'",
			  k->name, list, val);
}

/*
 * Checks a CT_STRING, CT_URL or CT_CHOICE value and sets *out to a
 * malloc'd copy (NULL for an empty CT_URL).  The caller frees *out.
 */
static enum status text_parse(const struct config_key *k, const char *val,
			      char **out, struct errbuf *e)
{
	*out = NULL;
	switch (k->type) {
	case CT_STRING:
		if (*val == '\0')
			return errbuf_set(e, ST_FAIL, "%s must not be empty", k->name);
		break;
	case CT_PATH:
		if (*val == '\0')
			return ST_OK;
		break;
	case CT_URL:
		if (*val == '\0')
			return ST_OK;
		if (strncmp(val, "https://", 8) != 0 || val[8] == '\0' ||
		    strpbrk(val, " \t\"<>\\^`{|}") != NULL)
			return errbuf_set(e, ST_FAIL,
					  "%s must be a URL starting with https://, not '%s'",
					  k->name, val);
		break;
	default:
		for (size_t i = 0; k->choices[i] != NULL; i++)
			if (strcmp(val, k->choices[i]) == 0)
				goto out_copy;
		return choice_fail(k, val, e);
	}
out_copy:
	*out = strdup(val);
	if (*out == NULL)
		return errbuf_set(e, ST_FAIL, "out of memory");
	return ST_OK;
}

/* Turns a list of rule names (and "all") into a RULE_BIT mask in *dst. */
static enum status rules_parse(const struct config_key *k, const char *val,
			       unsigned *dst, struct errbuf *e)
{
	struct strlist l = { 0 };
	unsigned mask = 0;

	if (list_parse(k, val, &l, e) != ST_OK)
		return ST_FAIL;
	for (size_t i = 0; i < l.n; i++)
		mask |= strcmp(l.v[i], "all") == 0 ? RULE_ALL :
			RULE_BIT(rule_from_name(l.v[i]));
	strlist_clear(&l);
	*dst = mask;
	return ST_OK;
}

/*
 * Checks val against k and stores it in the struct at base (a struct
 * config, or a struct party for [party.<OIN>] keys), freeing what was
 * there.  On ST_FAIL the old value stays and e says why, without file or
 * line.
 */
static enum status key_set(const struct config_key *k, const char *val,
			   void *base, struct errbuf *e)
{
	void *dst = (char *)base + k->off;
	struct strlist l = { 0 };
	char *s;

	switch (k->type) {
	case CT_INT:
		return int_parse(k, val, dst, e);
	case CT_COUNT:
	case CT_BYTES:
		return size_parse(k, val, dst, e);
	case CT_BOOL:
		return bool_parse(k, val, dst, e);
	case CT_RULES:
		return rules_parse(k, val, dst, e);
	case CT_GEMEENTEN:
	case CT_NAMES:
		if (list_parse(k, val, &l, e) != ST_OK)
			return ST_FAIL;
		strlist_clear(dst);
		*(struct strlist *)dst = l;
		return ST_OK;
	default:
		if (text_parse(k, val, &s, e) != ST_OK)
			return ST_FAIL;
		free(*(char **)dst);
		*(char **)dst = s;
		return ST_OK;
	}
}

/* Frees what k's value holds in the struct at base and zeroes it. */
static void key_release(const struct config_key *k, void *base)
{
	void *dst = (char *)base + k->off;

	switch (k->type) {
	case CT_STRING:
	case CT_URL:
	case CT_PATH:
	case CT_CHOICE:
		free(*(char **)dst);
		*(char **)dst = NULL;
		break;
	case CT_GEMEENTEN:
	case CT_NAMES:
		strlist_clear(dst);
		break;
	default:
		break;
	}
}

/* Frees what p holds (not p itself). */
static void party_release(struct party *p)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_PARTY)
			key_release(&keys[i], p);
}

/* Frees what src holds (not src itself). */
static void source_release(struct source *src)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_SOURCE)
			key_release(&keys[i], src);
}

/*
 * Sets the keys of section sec in the struct at base to their defaults.
 * Keys without a textual default are left alone.  ST_FAIL: out of memory
 * (or a default that fails its own check); what was set stays for the
 * caller to free.
 */
static enum status section_defaults(enum config_sec sec, void *base)
{
	struct errbuf e;

	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && keys[i].def != NULL &&
		    key_set(&keys[i], keys[i].def, base, &e) != ST_OK)
			return ST_FAIL;
	return ST_OK;
}

enum status config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		if (sections[sec].has_id)
			continue;
		if (section_defaults(sec, cfg) != ST_OK) {
			config_free(cfg);
			return ST_FAIL;
		}
	}
	return ST_OK;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (!sections[keys[i].sec].has_id)
			key_release(&keys[i], cfg);
	for (size_t i = 0; i < cfg->nparties; i++)
		party_release(&cfg->parties[i]);
	free(cfg->parties);
	for (size_t i = 0; i < cfg->nsources; i++)
		source_release(&cfg->sources[i]);
	free(cfg->sources);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

const struct party *config_party(const struct config *cfg, const char *oin)
{
	if (cfg == NULL || oin == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->nparties; i++)
		if (strcmp(cfg->parties[i].oin, oin) == 0)
			return &cfg->parties[i];
	return NULL;
}

/*
 * Records the first error of a load as "path:line: ..." in ld->e and stops
 * the load.  Returns 0, which is what inih's handler returns on error.
 */
__attribute__((format(printf, 2, 3)))
static int load_fail(struct load *ld, const char *fmt, ...)
{
	char what[sizeof(ld->e->msg)];
	va_list ap;

	if (ld->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	errbuf_set(ld->e, ST_FAIL, "%s:%d: %s", ld->path, ld->lineno, what);
	ld->failed = true;
	ld->fail_line = ld->lineno;
	return 0;
}

/* Adds [party.<oin>] with its defaults and makes it current.  0: failed. */
static int party_add(struct load *ld, const char *oin)
{
	struct config *cfg = ld->cfg;
	struct party p = { 0 }, *v;

	memcpy(p.oin, oin, OIN_LEN);
	if (section_defaults(SEC_PARTY, &p) != ST_OK)
		goto out_release;
	p.name = strdup(oin);
	if (p.name == NULL)
		goto out_release;
	v = realloc(cfg->parties, (cfg->nparties + 1) * sizeof(*v));
	if (v == NULL)
		goto out_release;
	cfg->parties = v;
	ld->party = cfg->nparties;
	v[cfg->nparties++] = p;
	return 1;

out_release:
	party_release(&p);
	return load_fail(ld, "out of memory");
}

const struct source *config_source(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && name != NULL && i < cfg->nsources; i++)
		if (strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
}

/* Checks the name of [source.<name>] and adds the source.  0: failed. */
static int source_enter(struct load *ld, const char *id, size_t len)
{
	struct config *cfg = ld->cfg;
	struct source src = { 0 }, *v;

	if (len == 0 || len > 32 || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_-") < len)
		return load_fail(ld, "a source section is named by 1 to 32 lower-case letters, "
				 "digits, '_' or '-', as in [source.inspectie], not [source.%.*s]",
				 (int)len, id);
	memcpy(src.name, id, len);
	if (config_source(cfg, src.name) != NULL)
		return load_fail(ld, "[source.%s] appears twice; put all its keys in one section",
				 src.name);
	src.line = ld->lineno;
	if (section_defaults(SEC_SOURCE, &src) != ST_OK)
		goto out_release;
	v = realloc(cfg->sources, (cfg->nsources + 1) * sizeof(*v));
	if (v == NULL)
		goto out_release;
	cfg->sources = v;
	ld->source = cfg->nsources;
	v[cfg->nsources++] = src;
	return 1;
out_release:
	source_release(&src);
	return load_fail(ld, "out of memory");
}

/* Checks the id of [party.<id>] (len bytes at id) and adds the party. */
static int party_enter(struct load *ld, const char *id, size_t len)
{
	char oin[OIN_LEN + 1];

	if (len != OIN_LEN || strspn(id, "0123456789") < OIN_LEN)
		return load_fail(ld, "a party section is named by the party's OIN, "
				 "20 digits, as in [party.00000001000000001783], not [party.%.*s]",
				 (int)len, id);
	memcpy(oin, id, OIN_LEN);
	oin[OIN_LEN] = '\0';
	if (config_party(ld->cfg, oin) != NULL)
		return load_fail(ld, "[party.%s] appears twice; put all its keys in one section",
				 oin);
	return party_add(ld, oin);
}

/* The section whose name is the len bytes at name, or -1. */
static int section_find(const char *name, size_t len)
{
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		size_t n = strlen(sections[sec].name);

		if (sections[sec].has_id ? len >= n : len == n)
			if (memcmp(name, sections[sec].name, n) == 0)
				return sec;
	}
	return -1;
}

/*
 * Writes the sections a file may have, from sections[], into buf: "[match],
 * [rule.<RULE>], ..., [party.<OIN>], [source.<name>]".
 */
static void known_sections(char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int sec = 0; sec < SEC_COUNT && o < n; sec++) {
		const char *name = sections[sec].name;
		bool rule = strncmp(name, "rule.", 5) == 0;

		if (rule && sec > 0 && strncmp(sections[sec - 1].name, "rule.", 5) == 0)
			continue;	/* the rules are one entry */
		o += (size_t)snprintf(buf + o, n - o, "%s[%s%s]", o > 0 ? ", " : "",
				      rule ? "rule.<RULE>" : name,
				      sec == SEC_PARTY ? "<OIN>" : sec == SEC_SOURCE ? "<name>" : "");
	}
}

/*
 * Handles a "[section]" line (blanks already stripped from its start):
 * checks the name, makes it the current section.  0: failed.
 */
static int section_enter(struct load *ld, const char *line)
{
	const char *end = strchr(line, ']'), *rest;
	size_t len;
	int sec;

	if (end == NULL)
		return load_fail(ld, "section header '%s' lacks its closing ']'", line);
	rest = end + 1 + strspn(end + 1, " \t\r\n");
	if (*rest != '\0' && *rest != ';' && *rest != '#')
		return load_fail(ld, "unexpected '%s' after the section header", rest);
	len = (size_t)(end - line - 1);
	sec = section_find(line + 1, len);
	if (sec < 0) {
		char known[512];

		known_sections(known, sizeof(known));
		return load_fail(ld, "unknown section [%.*s] (known: %s)", (int)len, line + 1, known);
	}
	memset(ld->key_line, 0, sizeof(ld->key_line));
	ld->sec = sec;
	if (sections[sec].has_id) {
		size_t n = strlen(sections[sec].name);

		if (sec == SEC_SOURCE)
			return source_enter(ld, line + 1 + n, len - n);
		return party_enter(ld, line + 1 + n, len - n);
	}
	if (ld->sec_line[sec] != 0)
		return load_fail(ld, "section [%s] appears twice (first on line %d); "
				 "put all its keys in one section",
				 sections[sec].name, ld->sec_line[sec]);
	ld->sec_line[sec] = ld->lineno;
	return 1;
}

/*
 * inih's reader: reads the next line of ld->fp into str (num bytes), with
 * leading blanks, a byte order mark and the line end removed, and checks
 * section headers.  NULL at the end, after a read error, or once the load
 * has failed.
 */
static char *load_reader(char *str, int num, void *stream)
{
	struct load *ld = stream;
	ssize_t got;
	char *p;
	size_t n;

	if (ld->failed)
		return NULL;
	errno = 0;
	got = getline(&ld->line, &ld->cap, ld->fp);
	if (got < 0) {
		if (!feof(ld->fp))
			ld->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ld->lineno++;
	if (memchr(ld->line, '\0', (size_t)got) != NULL) {	/* it would end the value unseen */
		load_fail(ld, "a NUL byte in the line");
		return NULL;
	}
	p = ld->line;
	if (ld->lineno == 1 && got >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	p += strspn(p, " \t\r\n\v\f");
	n = strcspn(p, "\r\n");
	p[n] = '\0';
	if (n + 1 > (size_t)num) {
		load_fail(ld, "the line is longer than %d characters", num - 1);
		return NULL;
	}
	if (*p == '[' && !section_enter(ld, p))
		return NULL;
	memcpy(str, p, n + 1);
	return str;
}

/* inih's handler: one "name = value" of the current section.  0: error. */
static int load_handler(void *user, const char *section, const char *name,
			const char *value)
{
	struct load *ld = user;
	struct errbuf why;
	void *base;
	size_t i;

	if (ld->failed)
		return 0;
	if (ld->sec < 0)
		return load_fail(ld, "key '%s' comes before any [section]", name);
	for (i = 0; i < NKEYS; i++)
		if (keys[i].sec == (enum config_sec)ld->sec && strcmp(keys[i].name, name) == 0)
			break;
	if (i == NKEYS)
		return load_fail(ld, "unknown key '%s' in section [%s]", name, section);
	if (ld->key_line[i] != 0)
		return load_fail(ld, "%s is set twice in [%s] (first on line %d)",
				 name, section, ld->key_line[i]);
	ld->key_line[i] = ld->lineno;
	base = ld->sec == SEC_PARTY ? (void *)&ld->cfg->parties[ld->party] :
	       ld->sec == SEC_SOURCE ? (void *)&ld->cfg->sources[ld->source] : (void *)ld->cfg;
	if (key_set(&keys[i], value, base, &why) != ST_OK)
		return load_fail(ld, "%s", why.msg);
	return 1;
}

/* What dsn_check() finds in a dsn. */
enum dsn_fault { DSN_OK, DSN_UNPARSABLE, DSN_PASSWORD };

/* Whether libpq parses dsn, and whether it holds a password; never quotes it. */
static enum dsn_fault dsn_check(const char *dsn)
{
	PQconninfoOption *opts;
	char *err = NULL;
	bool password = false;

	opts = PQconninfoParse(dsn, &err);
	PQfreemem(err);	/* it may quote the dsn: not shown */
	if (opts == NULL)
		return DSN_UNPARSABLE;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			password = true;
	PQconninfoFree(opts);
	return password ? DSN_PASSWORD : DSN_OK;
}

/*
 * Checks [store] as a whole: postgresql needs a dsn that libpq can parse
 * and that holds no password (it would show wherever the configuration
 * does: the password comes from passfile, PGPASSFILE or PGPASSWORD); a
 * dsn or passfile with sqlite is a mistake.  Never quotes the dsn.
 */
/*
 * [server] node: the host name when empty; 1-63 letters, digits, '.', '-'
 * or '_' (it names the node's claims on the outbox, and its figures).
 */
static enum status node_check(struct config *cfg, struct errbuf *e)
{
	char host[256] = "";

	if (cfg->node == NULL) {
		if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "localhost");
		host[63] = '\0';
		cfg->node = strdup(host);
		if (cfg->node == NULL)
			return errbuf_set(e, ST_FAIL, "%s: out of memory", cfg->path);
	}
	if (strlen(cfg->node) > 63 ||
	    strspn(cfg->node, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_")
	    != strlen(cfg->node))
		return errbuf_set(e, ST_FAIL, "%s: [server] node must be 1-63 letters, digits, "
				  "'.', '-' or '_'", cfg->path);
	return ST_OK;
}

static enum status store_check(const struct config *cfg, struct errbuf *e)
{
	enum dsn_fault fault;

	if (strcmp(cfg->store_backend, "postgresql") != 0) {
		if (cfg->dsn != NULL || cfg->passfile != NULL)
			return errbuf_set(e, ST_FAIL, "%s: [store] %s is for backend = postgresql",
					  cfg->path, cfg->dsn != NULL ? "dsn" : "passfile");
		return ST_OK;
	}
	if (cfg->dsn == NULL)
		return errbuf_set(e, ST_FAIL, "%s: [store] backend = postgresql needs a dsn "
				  "(a libpq connection string)", cfg->path);
	fault = dsn_check(cfg->dsn);
	if (fault == DSN_UNPARSABLE)
		return errbuf_set(e, ST_FAIL, "%s: [store] dsn is not a libpq connection string "
				  "(key=value pairs or a postgresql:// URI)", cfg->path);
	if (fault == DSN_PASSWORD)
		return errbuf_set(e, ST_FAIL, "%s: [store] dsn must not hold the password: put it "
				  "in a passfile ([store] passfile, or PGPASSFILE)", cfg->path);
	return ST_OK;
}

/* Runs inih over ld->fp and turns what it returns into a status. */
static enum status load_run(struct load *ld)
{
	int rc = ini_parse_stream(load_reader, ld, load_handler, ld);

	if (rc > 0 && (!ld->failed || rc < ld->fail_line))
		return errbuf_set(ld->e, ST_FAIL, "%s:%d: expected [section], key = value "
				  "or a comment", ld->path, rc);
	if (ld->failed)
		return ST_FAIL;
	if (rc < 0)
		return errbuf_set(ld->e, ST_FAIL, "%s: out of memory", ld->path);
	if (ld->read_errno != 0)
		return errbuf_set(ld->e, ST_FAIL, "%s: cannot read: %s", ld->path,
				  strerror(ld->read_errno));
	for (size_t i = 0; i < ld->cfg->nsources; i++) {
		const struct source *src = &ld->cfg->sources[i];

		if (src->adapter == NULL || src->url == NULL)
			return errbuf_set(ld->e, ST_FAIL, "%s:%d: [source.%s] needs an adapter and "
					  "a url", ld->path, src->line, src->name);
		if (src->party != NULL && config_party(ld->cfg, src->party) == NULL)
			return errbuf_set(ld->e, ST_FAIL, "%s:%d: [source.%s] party %s has no "
					  "[party.%s] section", ld->path, src->line, src->name,
					  src->party, src->party);
	}
	return node_check(ld->cfg, ld->e) != ST_OK ? ST_FAIL : store_check(ld->cfg, ld->e);
}

enum status config_load(struct config *cfg, const char *path, struct errbuf *e)
{
	struct config tmp;
	struct load ld = { .cfg = &tmp, .path = path, .sec = -1, .e = e };
	enum status st;

	memset(cfg, 0, sizeof(*cfg));
	if (config_defaults(&tmp) != ST_OK)
		return errbuf_set(e, ST_FAIL, "%s: out of memory", path);
	tmp.path = strdup(path);
	if (tmp.path == NULL) {
		st = errbuf_set(e, ST_FAIL, "%s: out of memory", path);
		goto out_free_cfg;
	}
	ld.fp = fopen(path, "re");
	if (ld.fp == NULL) {
		st = errbuf_set(e, ST_FAIL, "%s: cannot open: %s", path, strerror(errno));
		goto out_free_cfg;
	}
	st = load_run(&ld);
	free(ld.line);
	fclose(ld.fp);
	if (st != ST_OK)
		goto out_free_cfg;
	*cfg = tmp;
	return ST_OK;

out_free_cfg:
	config_free(&tmp);
	return st;
}

/*
 * The dsn a new default file is written with: $SCHAKEL_INIT_DSN (then
 * [store] says backend = postgresql and dsn = it), or NULL when it is unset
 * or empty.  Refused (ST_FAIL, nothing written) when it is not one line of
 * printable text, not a libpq connection string or holds a password, so
 * that neither the file nor a message ever holds one.  Never quotes it.
 */
static enum status init_dsn(const char **dsn, struct errbuf *e)
{
	const char *v = getenv("SCHAKEL_INIT_DSN");
	enum dsn_fault fault;

	*dsn = NULL;
	if (v == NULL || *v == '\0')
		return ST_OK;
	for (const char *c = v; *c != '\0'; c++)
		if (iscntrl((unsigned char)*c))
			return errbuf_set(e, ST_FAIL, "SCHAKEL_INIT_DSN holds a control character");
	fault = dsn_check(v);
	if (fault == DSN_UNPARSABLE)
		return errbuf_set(e, ST_FAIL, "SCHAKEL_INIT_DSN is not a libpq connection string");
	if (fault == DSN_PASSWORD)
		return errbuf_set(e, ST_FAIL, "SCHAKEL_INIT_DSN must not hold the password: put it "
				  "in a passfile ([store] passfile, or PGPASSFILE)");
	*dsn = v;
	return ST_OK;
}

/* The default written for key k: keys[].def, or what $SCHAKEL_INIT_DSN
 * (init_dsn(), already checked) asks of [store]. */
static const char *write_default_of(const struct config_key *k)
{
	const char *dsn = NULL;
	struct errbuf e;

	if (k->sec != SEC_STORE || init_dsn(&dsn, &e) != ST_OK || dsn == NULL)
		return k->def;
	if (strcmp(k->name, "backend") == 0)
		return "postgresql";
	return strcmp(k->name, "dsn") == 0 ? dsn : k->def;
}

/* Writes "; text" lines for section sec's header and its keys to f. */
static void write_section(FILE *f, enum config_sec sec)
{
	fprintf(f, "\n; %s\n[%s]\n", sections[sec].help, sections[sec].name);
	for (size_t i = 0; i < NKEYS; i++) {
		const char *def = write_default_of(&keys[i]);

		if (keys[i].sec != sec)
			continue;
		fprintf(f, "; %s\n%s =%s%s\n", keys[i].help, keys[i].name,
			*def != '\0' ? " " : "", def);
	}
}

/* Writes the explanation and a commented-out example of [party.<OIN>]. */
static void write_party(FILE *f)
{
	fputs("\n; [party.<OIN>]: one section for each connected authority, named by\n"
	      "; its OIN (20 digits).  Deny by default: a party supplies nothing and\n"
	      "; receives nothing that is not granted here.  A signal goes to every\n"
	      "; party that receives its rule and has no gemeenten, or whose gemeenten\n"
	      "; include the signal's address.  Keys:\n", f);
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_PARTY)
			fprintf(f, ";   %-12s %s\n", keys[i].name, keys[i].help);
	fputs("; For example (remove the ';' to use it):\n;\n;[party.00000001000000001783]\n", f);
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_PARTY)
			fprintf(f, ";%s = %s\n", keys[i].name, keys[i].example);
}

/* Writes the explanation and a commented-out example of [source.<name>]. */
static void write_source(FILE *f)
{
	fputs("\n; [source.<name>]: a source the daemon pulls on a schedule (`schakel pull`\n"
	      "; runs one round by hand).  Keys:\n", f);
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_SOURCE)
			fprintf(f, ";   %-12s %s\n", keys[i].name, keys[i].help);
	fputs("; For example (remove the ';' to use it):\n;\n;[source.inspectie]\n", f);
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_SOURCE)
			fprintf(f, ";%s = %s\n", keys[i].name, keys[i].example);
}

/* Writes the whole default file to f. */
static void write_default(FILE *f)
{
	fputs("; schakel.conf - configuration of schakel (docs/configuration.md).\n"
	      ";\n"
	      "; [section] lines, then key = value lines.  A comment starts with ';'\n"
	      "; or '#' at the start of a line, or with ' ;' after a value.  Every key\n"
	      "; below is set to its default; a key left out also takes its default.\n",
	      f);
	for (int sec = 0; sec < SEC_COUNT; sec++)
		if (!sections[sec].has_id)
			write_section(f, sec);
	write_party(f);
	write_source(f);
}

enum status config_write_default(const char *path, bool *created, struct errbuf *e)
{
	const char *dsn;
	FILE *f;
	int fd, err;

	if (created != NULL)
		*created = false;
	if (access(path, F_OK) != 0 && init_dsn(&dsn, e) != ST_OK)
		return ST_FAIL;	/* a file is kept whatever the variable says */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return ST_OK;
		return errbuf_set(e, ST_FAIL, "%s: cannot create: %s", path, strerror(errno));
	}
	if (fchmod(fd, 0600) != 0 || (f = fdopen(fd, "w")) == NULL) {
		err = errno;
		close(fd);
		goto out_unlink;
	}
	write_default(f);
	err = ferror(f) ? (errno ? errno : EIO) : 0;
	if (fclose(f) != 0 && err == 0)
		err = errno;
	if (err != 0)
		goto out_unlink;
	if (created != NULL)
		*created = true;
	return ST_OK;

out_unlink:
	unlink(path);
	return errbuf_set(e, ST_FAIL, "%s: cannot write: %s", path, strerror(err));
}
