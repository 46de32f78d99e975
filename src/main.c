/*
 * main.c - the command line: global options, the commands of product.md,
 * and their help.  Only this file prints results and chooses the exit code.
 *
 * Exit codes: 0 success; 1 failure (nothing changed); 2 usage error;
 * 3 ingest finished but some records were rejected.
 */
#include <getopt.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "esc.h"
#include "cli.h"
#include "deliver.h"
#include "exlog.h"
#include "ingest.h"
#include "inzage.h"
#include "ldv.h"
#include "loader.h"
#include "match.h"
#include "output.h"
#include "pull.h"
#include "purge.h"
#include "receive.h"
#include "tls.h"
#include "trace.h"
#include "serve.h"
#include "xml.h"

#define VERSION "0.1.0"

struct command {
	const char *name;
	const char *args;
	const char *summary;
	const char *help;	/* the options, for `schakel CMD --help` */
	int (*run)(const char *dir, int argc, char **argv);
};

static const struct command *find_command(const char *name);
static int list_signals(struct app *app, int format, const char *rule);

static int usage_error(const char *cmd, const char *fmt, const char *arg)
	__attribute__((format(printf, 2, 0)));
static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	char *shown = esc_dup(arg);	/* the argument may hold anything */

	fprintf(stderr, "schakel %s: ", cmd);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	fprintf(stderr, fmt, shown != NULL ? shown : "?");
#pragma GCC diagnostic pop
	free(shown);
	fprintf(stderr, "\n(see `schakel %s --help`)\n", cmd);
	return ST_USAGE;
}

static int fail(const char *cmd, const struct errbuf *e)
{
	esc_line(stderr, "schakel %s: %s", cmd, e->msg);
	return ST_FAIL;
}

/* Handles --help for a command with no options of its own. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static void print_help(const struct command *c)
{
	printf("usage: schakel [-D DIR] %s %s\n\n%s\n", c->name, c->args, c->summary);
	if (c->help != NULL)
		printf("\n%s", c->help);
}

static int cmd_init(const char *dir, int argc, char **argv)
{
	struct errbuf e;
	bool created;

	if (argc > 1)
		return usage_error("init", "unexpected argument '%s'", argv[1]);
	if (app_init(dir, &created, &e) != ST_OK)
		return fail("init", &e);
	printf("%s: %s, keys and database ready\n", dir,
	       created ? "schakel.conf written" : "schakel.conf kept");
	return ST_OK;
}

static bool progress_shown;

static void print_reject(void *arg, const char *place, const char *reason)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
	esc_line(stdout, "  rejected %s %s: %s", (const char *)arg, place, reason);
}

/* Shows how far a long ingest has come, on a terminal only. */
static void print_progress(void *arg, uint64_t bytes, long records)
{
	char *shown = esc_dup(arg);

	fprintf(stderr, "\r\033[K  %s: %.1f MB, %ld records", shown != NULL ? shown : "?",
		(double)bytes / 1e6, records);
	free(shown);
	progress_shown = true;
}

/* Ingests one file; returns its exit status. */
static int ingest_one(struct app *app, struct loaded_adapter *la, const char *path)
{
	struct ingest_opts opts = { .origin = path, .on_reject = print_reject,
				    .on_progress = isatty(STDERR_FILENO) ? print_progress : NULL,
				    .arg = (void *)path };
	struct ingest_result res;
	struct errbuf e;
	enum status st;

	st = ingest_file(app, la, path, &opts, &res, &e);
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
	if (st == ST_FAIL) {
		if (res.refused)
			esc_line(stdout, "%s: refused, nothing stored: %s", path, e.msg);
		else
			esc_line(stderr, "schakel ingest: %s: %s", path, e.msg);
		return ST_FAIL;
	}
	esc_line(stdout, "%s: %ld accepted (%ld new or changed), %ld rejected", path,
		 res.accepted, res.changed, res.rejected);
	return st;
}

/*
 * Takes a leading --traceparent VALUE (or --traceparent=VALUE) off the
 * command line into *tp; false (after saying why) when it is not valid.
 */
static bool ingest_traceparent(int *argc, char ***argv, const char **tp)
{
	const char *a = *argc > 1 ? (*argv)[1] : "";
	int used = 0;

	*tp = NULL;
	if (strncmp(a, "--traceparent=", 14) == 0)
		*tp = a + 14, used = 1;
	else if (strcmp(a, "--traceparent") == 0 && *argc > 2)
		*tp = (*argv)[2], used = 2;
	else if (strcmp(a, "--traceparent") == 0)
		*tp = "", used = 1;
	if (used > 0) {
		struct trace_ctx tc;

		if (!trace_parse(*tp, &tc)) {
			usage_error("ingest", "--traceparent must be a W3C traceparent "
				    "(00-<32 hex>-<16 hex>-<2 hex>), not '%s'", *tp);
			return false;
		}
		(*argv)[used] = (*argv)[0];	/* the command's name, then the rest */
		*argv += used;
		*argc -= used;
	}
	return true;
}

static int cmd_ingest(const char *dir, int argc, char **argv)
{
	struct loaded_adapter la;
	struct trace_ctx tc;
	const char *tp;
	struct app app;
	struct errbuf e;
	int worst = ST_OK;
	enum status st;

	if (!ingest_traceparent(&argc, &argv, &tp))
		return ST_USAGE;
	if (argc < 3)
		return usage_error("ingest", "%s", "needs an adapter and at least one FILE");
	st = loader_load(argv[1], &la, &e);
	if (st != ST_OK) {
		fprintf(stderr, "schakel ingest: %s\n", e.msg);
		return st;
	}
	if (app_open(&app, dir, &e) != ST_OK) {
		loader_unload(&la);
		return fail("ingest", &e);
	}
	if (trace_start(tp, &tc, &e) != ST_OK) {
		app_close(&app);
		loader_unload(&la);
		return fail("ingest", &e);
	}
	store_trace_set(app.store, tc.trace_id);	/* one trace for the command */
	for (int i = 2; i < argc; i++) {
		int rc = ingest_one(&app, &la, argv[i]);

		if (rc == ST_FAIL || (rc == ST_REJECTED && worst == ST_OK))
			worst = rc;
	}
	app_close(&app);
	loader_unload(&la);
	return worst;
}

/*
 * Reads a command's only option, --as-of YYYY-MM-DD (default today), into
 * as_of; ST_USAGE (after saying why) when the command line is wrong.
 */
static enum status parse_as_of(const char *cmd, int argc, char **argv, char as_of[11])
{
	static const struct option opts[] = {
		{ "as-of", required_argument, NULL, 'a' }, { NULL, 0, NULL, 0 },
	};
	struct errbuf e;
	int c;

	match_today(as_of);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'a')
			return usage_error(cmd, "%s", "unknown option");
		if (norm_date("--as-of", optarg, &e) != ST_OK)
			return usage_error(cmd, "%s", e.msg);
		snprintf(as_of, 11, "%s", optarg);
	}
	if (optind < argc)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	return ST_OK;
}

/* match's options: --as-of (as parse_as_of()) and --changed. */
static enum status parse_match(int argc, char **argv, char as_of[11], enum match_mode *mode)
{
	static const struct option opts[] = {
		{ "as-of", required_argument, NULL, 'a' }, { "changed", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct errbuf e;
	int c;

	match_today(as_of);
	*mode = MATCH_FULL;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c') {
			*mode = MATCH_CHANGED;
			continue;
		}
		if (c != 'a')
			return usage_error("match", "%s", "unknown option");
		if (norm_date("--as-of", optarg, &e) != ST_OK)
			return usage_error("match", "%s", e.msg);
		snprintf(as_of, 11, "%s", optarg);
	}
	if (optind < argc)
		return usage_error("match", "unexpected argument '%s'", argv[optind]);
	return ST_OK;
}

static int cmd_match(const char *dir, int argc, char **argv)
{
	struct match_result res;
	enum match_mode mode;
	char as_of[11];
	struct app app;
	struct errbuf e;
	enum status st;

	if (parse_match(argc, argv, as_of, &mode) != ST_OK)
		return ST_USAGE;
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("match", &e);
	st = match_run_mode(&app, as_of, mode, &res, NULL, NULL, &e);
	app_close(&app);
	if (st != ST_OK)
		return st == ST_USAGE ? usage_error("match", "%s", e.msg) : fail("match", &e);
	printf("match as of %s: %ld addresses, %ld signals hold, %ld new, %ld ended", as_of,
	       res.addresses, res.raised, res.created, res.ended);
	if (mode == MATCH_CHANGED && res.full)
		printf(" (a full run: %s)", res.why);
	else if (mode == MATCH_CHANGED)
		printf(" (%ld addresses marked)", res.marked);
	putchar('\n');
	return ST_OK;
}

struct listing {
	const struct config *cfg;
	xmlTextWriterPtr xml;
	int format;		/* 't', 'j', 'x' */
	long count;
};

static int list_signal(void *arg, const struct signal *sig)
{
	struct listing *l = arg;

	l->count++;
	if (l->format == 't') {
		output_table_row(stdout, l->cfg, sig);
	} else if (l->format == 'j') {
		json_t *o = output_signal_json(sig);

		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0) {
			json_decref(o);
			return -1;
		}
		json_decref(o);
		putchar('\n');
	} else if (output_signal_xml(l->xml, sig, 0, NULL) != 0) {
		return -1;
	}
	return 0;
}

/* Lists signals in the given format; returns an exit status. */
static int list_signals(struct app *app, int format, const char *rule)
{
	struct listing l = { .cfg = &app->cfg, .format = format };
	xmlOutputBufferPtr out = NULL;
	struct errbuf e;
	enum status st;

	if (format == 'x') {
		out = xmlOutputBufferCreateFile(stdout, NULL);
		l.xml = out != NULL ? xmlNewTextWriter(out) : NULL;
		if (l.xml == NULL)
			return errbuf_set(&e, ST_FAIL, "out of memory"), fail("signals", &e);
		xmlTextWriterSetIndent(l.xml, 1);
		xmlTextWriterStartDocument(l.xml, NULL, "UTF-8", NULL);
		xmlTextWriterStartElementNS(l.xml, NULL, (const xmlChar *)"signalen",
					    (const xmlChar *)SIGNAL_NS);
	} else if (format == 't') {
		output_table_header(stdout);
	}
	struct signal_filter f = { .rule = rule };

	st = store_signals(app->store, &f, list_signal, &l, &e);
	if (format == 'x') {
		xmlTextWriterEndDocument(l.xml);
		xmlFreeTextWriter(l.xml);
	} else if (format == 't') {
		printf("%ld signal%s\n", l.count, l.count == 1 ? "" : "s");
	}
	if (st != ST_OK)
		return fail("signals", &e);
	return fflush(stdout) == 0 ? ST_OK : ST_FAIL;
}

static int cmd_signals(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "rule", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	const char *rule = NULL;
	int format = 't', c, rc;
	struct app app;
	struct errbuf e;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f' && strcmp(optarg, "table") == 0)
			format = 't';
		else if (c == 'f' && strcmp(optarg, "json") == 0)
			format = 'j';
		else if (c == 'f' && strcmp(optarg, "xml") == 0)
			format = 'x';
		else if (c == 'f')
			return usage_error("signals", "--format must be table, json or xml, "
					   "not '%s'", optarg);
		else if (c == 'r' && rule_from_name(optarg) >= 0)
			rule = optarg;
		else if (c == 'r')
			return usage_error("signals", "--rule '%s' is no rule (OVERBEWONING, "
					   "ONDERREGISTRATIE, ADRES_AFWIJKING, GEEN_VERGUNNING)",
					   optarg);
		else
			return usage_error("signals", "%s", "unknown option");
	}
	if (optind < argc)
		return usage_error("signals", "unexpected argument '%s'", argv[optind]);
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("signals", &e);
	rc = list_signals(&app, format, rule);
	app_close(&app);
	return rc;
}

struct log_view {
	const char *kind;	/* only this kind, or NULL */
	bool json;
};

static int print_entry(void *arg, const struct exlog_row *r)
{
	const struct log_view *v = arg;

	if (v->kind != NULL && strcmp(v->kind, r->kind) != 0)
		return 0;
	if (v->json) {
		json_t *o = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o*, s:s, s:s, s:s?}",
				      "seq", (json_int_t)r->seq, "at", r->at, "kind", r->kind,
				      "party", r->party, "subject", r->subject,
				      "detail", json_loads(r->detail, 0, NULL),
				      "prev", r->prev, "hash", r->hash, "trace_id", r->trace_id);

		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0) {
			json_decref(o);
			return -1;
		}
		json_decref(o);
		putchar('\n');
		return 0;
	}
	esc_line(stdout, "%6lld  %-24s  %-8s  %-20s  %-28s  %s", (long long)r->seq, r->at,
		 r->kind, r->party ? r->party : "-", r->subject ? r->subject : "-", r->detail);
	return 0;
}

/* `log verify`: the chain, then the signed checkpoints. */
static int log_verify(struct app *app)
{
	struct exlog_proof p;
	char ca[4096];
	struct errbuf e;

	tls_data_path(app->dir, app->cfg.tls_ca != NULL ? app->cfg.tls_ca : "certs/ca.crt", ca);
	if (exlog_prove(app->store, ca, &p, &e) != ST_OK) {
		printf("exchange log BROKEN at %s\n", e.msg);
		return ST_FAIL;
	}
	printf("exchange log intact: %ld entries\n", p.entries);
	if (p.checkpoints == 0)
		printf("no signed checkpoint yet (the daemon signs the chain head every "
		       "[log] checkpoint_interval)\n");
	else
		printf("proven by %ld signed checkpoint%s, the last at entry %lld (%s)%s\n",
		       p.checkpoints, p.checkpoints == 1 ? "" : "s", (long long)p.proven_seq,
		       p.proven_at, p.proven_seq < p.entries ? "; later entries are chained "
		       "but not yet signed" : "");
	return ST_OK;
}

struct log_cli {
	struct log_view v;
	int64_t last;
};

static int print_search(void *arg, const struct exlog_row *r)
{
	struct log_cli *lc = arg;

	lc->last = r->seq;
	return print_entry(&lc->v, r);
}

static int cmd_log(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' }, { "party", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 's' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "status", required_argument, NULL, 't' }, { "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' }, { "id", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' }, { "follow", no_argument, NULL, 'F' },
		{ "trace", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
	};
	struct log_filter f = { 0 };
	struct log_cli lc = { 0 };
	bool follow = false;
	struct app app;
	struct errbuf e;
	int rc = ST_OK, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': f.kind = optarg; break;
		case 'p': f.party = optarg; break;
		case 's': f.source = optarg; break;
		case 'r': f.recipient = optarg; break;
		case 't': f.status = optarg; break;
		case 'S': f.since = optarg; break;
		case 'U': f.until = optarg; break;
		case 'i': f.id = optarg; break;
		case 'T':
			if (!trace_id_valid(optarg))
				return usage_error("log", "--trace must be a trace id (32 lower-case"
						   " hex digits), not '%s'", optarg);
			f.trace = optarg;
			break;
		case 'F': follow = true; break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
				return usage_error("log", "--format must be table or json, not '%s'",
						   optarg);
			lc.v.json = strcmp(optarg, "json") == 0;
			break;
		default:
			return usage_error("log", "%s", "unknown option");
		}
	}
	if (argc - optind > 1 || (argc - optind == 1 && strcmp(argv[optind], "verify") != 0))
		return usage_error("log", "unexpected argument '%s'", argv[optind]);
	if (exlog_filter_check(&f, "--", &e) != ST_OK)
		return usage_error("log", "%s", e.msg);
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("log", &e);
	if (argc - optind == 1) {
		rc = log_verify(&app);
		app_close(&app);
		return rc;
	}
	if (!lc.v.json)
		printf("%6s  %-24s  %-8s  %-20s  %-28s  %s\n", "SEQ", "AT", "KIND", "PARTY",
		       "SUBJECT", "DETAIL");
	do {
		f.after = lc.last;
		if (store_log_search(app.store, &f, print_search, &lc, &e) != ST_OK) {
			rc = fail("log", &e);
			break;
		}
		fflush(stdout);
		if (follow)
			sleep(1);
	} while (follow);
	app_close(&app);
	return rc;
}

static int print_feedback(void *arg, const char *rule, const char *outcome, long n)
{
	(void)arg;
	printf("%-18s %-15s %6ld\n", rule, outcome, n);
	return 0;
}

static int cmd_feedback(const char *dir, int argc, char **argv)
{
	struct app app;
	struct errbuf e;
	int rc = ST_OK;

	if (argc > 1)
		return usage_error("feedback", "unexpected argument '%s'", argv[1]);
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("feedback", &e);
	printf("%-18s %-15s %6s\n", "RULE", "OUTCOME", "COUNT");
	if (store_feedback_counts(app.store, print_feedback, NULL, &e) != ST_OK)
		rc = fail("feedback", &e);
	app_close(&app);
	return rc;
}

static int print_delivery(void *arg, const struct delivery_row *d)
{
	char when[32] = "-";
	time_t t = (time_t)(d->delivered_at ? d->delivered_at : d->next_at);
	struct tm tm;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	esc_line(stdout, "%6lld  %-9s  %-20s  %-32s  %3d  %-20s  %s", (long long)d->id,
		 d->state, d->oin, d->signal_id, d->attempts, when,
		 d->last_error[0] ? d->last_error : "-");
	return 0;
}

static int cmd_deliveries(const char *dir, int argc, char **argv)
{
	bool failed = false, retry = false, all = false;
	long long id = -1;
	struct app app;
	struct errbuf e;
	long n;
	int rc = ST_OK;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--failed") == 0 && !retry)
			failed = true;
		else if (strcmp(argv[i], "retry") == 0 && i == 1)
			retry = true;
		else if (retry && strcmp(argv[i], "--all-failed") == 0)
			all = true;
		else if (retry && id < 0 && strlen(argv[i]) <= 18 &&
			 strspn(argv[i], "0123456789") == strlen(argv[i]) &&
			 (id = strtoll(argv[i], &end, 10)) > 0 && *end == '\0')
			;
		else
			return usage_error("deliveries", "unexpected argument '%s'", argv[i]);
	}
	if (retry && (all == (id > 0)))
		return usage_error("deliveries", "%s", "retry needs one delivery ID or --all-failed");
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("deliveries", &e);
	if (retry) {
		if (deliver_retry(app.store, all ? -1 : id, all ? "all failed" : argv[2], &n,
				  &e) != ST_OK) {
			rc = fail("deliveries", &e);
		} else if (n == 0) {
			printf("no failed delivery %s\n", all ? "to retry" : argv[2]);
			rc = all ? ST_OK : ST_FAIL;
		} else {
			printf("%ld deliver%s queued again; the daemon sends %s\n", n,
			       n == 1 ? "y" : "ies", n == 1 ? "it" : "them");
		}
	} else {
		printf("%6s  %-9s  %-20s  %-32s  %3s  %-20s  %s\n", "ID", "STATE", "RECIPIENT",
		       "SIGNAL", "TRY", "WHEN (next/done)", "LAST ERROR");
		if (store_deliveries(app.store, -1, failed, 0, print_delivery, NULL, &e) != ST_OK)
			rc = fail("deliveries", &e);
	}
	app_close(&app);
	return rc;
}

/* A whole number 0..65535, or -1. */
static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s != '\0' && *end == '\0' && v >= 0 && v <= 65535 ? (int)v : -1;
}

static int cmd_receive(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' }, { "port", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' }, { "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' }, { "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'r' }, { "refuse", required_argument, NULL, 'x' },
		{ "broker-cert", required_argument, NULL, 'b' },
		{ "broker-oin", required_argument, NULL, 'o' },
		{ "delay", required_argument, NULL, 'w' }, { NULL, 0, NULL, 0 },
	};
	struct receive_opts o = { .listen = "127.0.0.1", .port = 9443 };
	struct errbuf e;
	int c;

	(void)dir;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o.dir = optarg; break;
		case 'p': o.port = parse_port(optarg); break;
		case 'l': o.listen = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'r': o.crl = optarg; break;
		case 'x': o.refuse = parse_port(optarg); break;
		case 'b': o.broker_cert = optarg; break;
		case 'o': o.broker_oin = optarg; break;
		case 'w': o.delay_ms = parse_port(optarg); break;
		default: return usage_error("receive", "%s", "unknown option");
		}
	}
	if (o.dir == NULL || o.cert == NULL || o.key == NULL || o.ca == NULL)
		return usage_error("receive", "%s", "--dir, --cert, --key and --ca are required");
	if (o.broker_cert == NULL && o.broker_oin == NULL)
		return usage_error("receive", "%s", "--broker-cert or --broker-oin is required: "
				   "only the broker's signals are accepted");
	if (o.broker_oin != NULL && (strlen(o.broker_oin) != OIN_LEN ||
				     strspn(o.broker_oin, "0123456789") != OIN_LEN))
		return usage_error("receive", "%s", "--broker-oin is not a 20-digit OIN");
	if (o.port < 0 || o.port > 65535 || (o.refuse != 0 && (o.refuse < 200 || o.refuse > 599)) ||
	    o.delay_ms < 0 || o.delay_ms > 60000)
		return usage_error("receive", "%s", "--port, --refuse or --delay out of range");
	if (receive_run(&o, &e) != ST_OK)
		return fail("receive", &e);
	return ST_OK;
}

struct pull_cli {
	struct event_base *base;
	int failures;
};

static void pull_line(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
}

static void pull_done(void *arg, int failures)
{
	struct pull_cli *pc = arg;

	pc->failures = failures;
	event_base_loopexit(pc->base, NULL);
}

static int cmd_pull(const char *dir, int argc, char **argv)
{
	struct pull_cli pc = { 0 };
	char cert[4096], key[4096], ca[4096];
	struct fetcher *f = NULL;
	struct puller *p = NULL;
	struct app app;
	struct errbuf e;
	enum status st = ST_FAIL;

	if (argc > 2)
		return usage_error("pull", "unexpected argument '%s'", argv[2]);
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("pull", &e);
	tls_data_path(dir, app.cfg.tls_cert, cert);
	tls_data_path(dir, app.cfg.tls_key, key);
	tls_data_path(dir, app.cfg.tls_ca, ca);
	pc.base = event_base_new();
	if (pc.base != NULL)
		f = fetcher_new(pc.base, &(struct fetch_tls){ cert, key, ca }, &e);
	if (f != NULL)
		p = puller_new(&app, pc.base, f, NULL, NULL, &e);
	if (p != NULL)
		st = puller_round(p, argc == 2 ? argv[1] : NULL, pull_line, pull_done, &pc, &e);
	if (st == ST_OK) {
		event_base_dispatch(pc.base);
		st = pc.failures > 0 ? ST_FAIL : ST_OK;
		if (pc.failures > 0)
			fprintf(stderr, "schakel pull: %d source%s failed\n", pc.failures,
				pc.failures == 1 ? "" : "s");
	} else {
		fprintf(stderr, "schakel pull: %s\n", e.msg);
	}
	fetcher_free(f);
	puller_free(p);
	if (pc.base != NULL)
		event_base_free(pc.base);
	app_close(&app);
	return st;
}

static int cmd_purge(const char *dir, int argc, char **argv)
{
	struct purge_counts n;
	char as_of[11];
	struct app app;
	struct errbuf e;
	enum status st;

	if (parse_as_of("purge", argc, argv, as_of) != ST_OK)
		return ST_USAGE;
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("purge", &e);
	st = purge_run(&app, as_of, &n, &e);
	app_close(&app);
	if (st != ST_OK)
		return fail("purge", &e);
	printf("purged as of %s: %ld registrations, %ld dwellings, %ld findings, %ld signals, "
	       "%ld delivered messages\n", as_of, n.persons, n.dwellings, n.findings, n.signals,
	       n.deliveries);
	return ST_OK;
}

struct inzage_out {
	json_t *list;		/* with --format json */
	long n;
	const char *subject;	/* the pseudonym, for the processings */
};

static int print_inzage(void *arg, const struct inzage_row *r)
{
	struct inzage_out *o = arg;

	o->n++;
	if (o->list != NULL)
		return json_array_append_new(o->list, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, "
			"s:s?, s:s?, s:s?}", "kind", r->kind, "at", r->at, "what", r->what,
			"address", r->address, "source", r->source, "via", r->via,
			"party", r->party, "signal", r->signal));
	esc_line(stdout, "%-12s  %-24s  %-14s  %-40s  %s%s%s%s", r->kind, r->at ? r->at : "-",
		 r->address ? r->address : "-", r->what ? r->what : "-",
		 r->source ? r->source : "-", r->via ? " (" : "", r->via ? r->via : "",
		 r->via ? ")" : "");
	return 0;
}

/* What an access request asks for beyond the person (inzage --activity, --trace). */
struct inzage_query {
	bool json;
	char activity[LDV_URI_MAX];	/* "" for any */
	const char *trace;		/* or NULL */
};

/* One processing of the person: a line, or a record of the LDV read side. */
static int print_processing(void *arg, const struct ldv_span_row *r)
{
	struct inzage_out *o = arg;
	char at[32];

	o->n++;
	if (o->list != NULL)
		return json_array_append_new(o->list, ldv_span_json(r, o->subject));
	ldv_time(r->start_ns, at);
	esc_line(stdout, "%-12s  %-24s  %-22s  %-32s  %-20s  %s", "processing", at, r->name,
		 r->trace_id, r->party != NULL ? r->party : "-", r->activity);
	return 0;
}

/* The person's processing records (after the exchanges), as text or into doc. */
static enum status show_processings(struct app *app, const uint8_t *pseudonym,
				    const char *hex, const struct inzage_query *q,
				    json_t *doc, struct errbuf *e)
{
	const char *activity = q->activity[0] ? q->activity : NULL;
	struct inzage_out o = { .subject = hex };
	enum status st;

	if (doc != NULL)
		o.list = json_array();
	else
		printf("\nprocessings (Logboek Dataverwerkingen)\n\n%-12s  %-24s  %-22s  %-32s  "
		       "%-20s  %s\n", "", "START", "NAME", "TRACE", "PARTY", "ACTIVITY");
	st = inzage_processings(app, pseudonym, activity, q->trace, print_processing, &o, e);
	if (doc != NULL) {
		json_object_set_new(doc, "dataverwerkingen", json_pack("{s:{s:s, s:s, s:s?, s:s?}, s:o}",
			"query", "dpl.core.data_subject_id", hex, "dpl.core.data_subject_id_type",
			LDV_SUBJECT_ID_TYPE, "dpl.core.processing_activity_id", activity,
			"trace_id", q->trace, "records", o.list));
	} else if (st == ST_OK) {
		printf("\n%ld processing%s of this person\n", o.n, o.n == 1 ? "" : "s");
	}
	return st;
}

/* Reads inzage's options into q; optind is left at the BSN. */
static int inzage_options(int argc, char **argv, struct inzage_query *q, const char **activity)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "activity", required_argument, NULL, 'a' },
		{ "trace", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a') {
			*activity = optarg;
		} else if (c == 't') {
			if (!trace_id_valid(optarg))
				return usage_error("inzage", "%s", "--trace must be 32 lower-case hex digits");
			q->trace = optarg;
		} else if (c != 'f' || (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)) {
			return usage_error("inzage", "%s", "--format must be text or json");
		} else {
			q->json = strcmp(optarg, "json") == 0;
		}
	}
	if (argc - optind != 1)
		return usage_error("inzage", "%s", "needs one BSN");
	return ST_OK;
}

static int cmd_inzage(const char *dir, int argc, char **argv)
{
	uint8_t pseudonym[PSEUDONYM_LEN];
	char bsn[10], hex[2 * PSEUDONYM_LEN + 1];
	struct inzage_query q = { 0 };
	struct inzage_out o = { 0 };
	const char *activity = NULL;
	json_t *doc = NULL;
	struct app app;
	struct errbuf e;
	enum status st;
	int rc = ST_OK;

	if (inzage_options(argc, argv, &q, &activity) != ST_OK)
		return ST_USAGE;
	if (norm_bsn(argv[optind], bsn, &e) != ST_OK)
		return usage_error("inzage", "%s", e.msg);
	if (app_open(&app, dir, &e) != ST_OK)
		return fail("inzage", &e);
	if (activity != NULL && ldv_activity_find(&app.cfg, activity) == LDV_ACTIVITY_COUNT) {
		app_close(&app);
		return usage_error("inzage", "--activity '%s' is no processing activity "
				   "(docs/formats.md)", activity);
	}
	if (activity != NULL)
		ldv_activity_uri(&app.cfg, ldv_activity_find(&app.cfg, activity), q.activity);
	/* The request itself is an exchange: logged, by pseudonym only. */
	st = inzage_request(&app, bsn, pseudonym, &e);
	memset(bsn, 0, sizeof(bsn));
	if (st != ST_OK) {
		app_close(&app);
		return fail("inzage", &e);
	}
	crypto_hex(pseudonym, PSEUDONYM_LEN, hex);
	if (q.json)
		o.list = json_array();
	else
		printf("access request for pseudonym %s\n\n%-12s  %-24s  %-14s  %-40s  %s\n", hex,
		       "KIND", "AT", "ADDRESS", "WHAT", "SOURCE / TO");
	if (inzage_exchanges(&app, pseudonym, print_inzage, &o, &e) != ST_OK) {
		rc = fail("inzage", &e);
		goto out;
	}
	if (q.json)
		doc = json_pack("{s:s, s:o}", "pseudonym", hex, "exchanges", o.list);
	else
		printf("\n%ld exchange%s concerned this person\n", o.n, o.n == 1 ? "" : "s");
	o.list = NULL;
	if (show_processings(&app, pseudonym, hex, &q, doc, &e) != ST_OK)
		rc = fail("inzage", &e);
	else if (q.json && (doc == NULL || json_dumpf(doc, stdout, JSON_COMPACT) != 0))
		rc = ST_FAIL;
	if (q.json && rc == ST_OK)
		putchar('\n');
out:
	json_decref(doc);
	json_decref(o.list);
	app_close(&app);
	return rc;
}

static int cmd_serve(const char *dir, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
	};
	struct errbuf e;
	int c, port = -1;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p')
			return usage_error("serve", "%s", "unknown option");
		port = (int)strtol(optarg, &end, 10);
		if (*end != '\0' || port < 0 || port > 65535)
			return usage_error("serve", "--port '%s' is not a port number", optarg);
	}
	if (optind < argc)
		return usage_error("serve", "unexpected argument '%s'", argv[optind]);
	if (serve_run(dir, port, &e) != ST_OK)
		return fail("serve", &e);
	return ST_OK;
}

static const struct command commands[] = {
	{ "init", "", "Creates DIR with a default schakel.conf (an existing one is kept), the "
	  "database and fresh keys.\nSafe to run twice.", NULL, cmd_init },
	{ "ingest", "[--traceparent TP] ADAPTER FILE...", "Reads FILEs (- is stdin) with ADAPTER "
	  "(brp, huisvesting, inspectie) and stores their records.\nPrints accepted and rejected "
	  "counts and each rejection with its place and reason.\nExit 3 when records were "
	  "rejected, 1 when a file was refused whole (nothing of it stored).",
	  "  --traceparent TP   continue that W3C trace (00-TRACEID-SPANID-FLAGS); default:\n"
	  "                     a new trace.  See `schakel log --trace`\n", cmd_ingest },
	{ "match", "[--as-of YYYY-MM-DD] [--changed]", "Applies the matching rules as of the date "
	  "(default today), stores new signals and\nends those that no longer hold.\nIdempotent: "
	  "the same data and date raise nothing new.",
	  "  --as-of YYYY-MM-DD   the date to match as of\n"
	  "  --changed            only the addresses that changes since the last match marked\n"
	  "                       (a full run when the rules' parameters changed); the daemon\n"
	  "                       runs this after new data. Both give the same signals.\n",
	  cmd_match },
	{ "signals", "[--format table|json|xml] [--rule RULE]", "Lists the signals.",
	  "  --format table|json|xml   table (default), JSON Lines, or XML (signal schema)\n"
	  "  --rule RULE               only OVERBEWONING, ONDERREGISTRATIE, ADRES_AFWIJKING "
	  "or GEEN_VERGUNNING\n", cmd_signals },
	{ "log", "[FILTERS] [--format table|json] [--follow] | verify", "Shows the exchange log, "
	  "or searches it.  `log verify` checks the hash chain and the signed\ncheckpoints, "
	  "names the first entry that does not fit (exit 1), and says up to\nwhich checkpoint "
	  "the log is proven intact.",
	  "  --kind K         ingest, upload, reject, match, signal, ended, pull, delivery,\n"
	  "                   retry, feedback, refusal, disclosure, inzage, purge,\n"
	  "                   recipient_down, recipient_up\n"
	  "  --party OIN      entries in which that party takes part\n"
	  "  --source NAME    a pulled source, or an adapter\n"
	  "  --recipient OIN  deliveries and disclosures to, and signals for, that party\n"
	  "  --status S       an HTTP status (401) or an outcome (delivered, failed, stored)\n"
	  "  --since T, --until T   ISO 8601 times (2026-11-01 or 2026-11-01T08:00:00Z)\n"
	  "  --id ID          a message id, signal id, or upload/ingest number\n"
	  "  --trace ID       one exchange's W3C trace id (32 hex digits): its upload or\n"
	  "                   pull, ingest, match, signals and deliveries\n"
	  "  --format F       table (default) or json (JSON Lines, with the hashes)\n"
	  "  --follow         keep printing new entries as they come\n", cmd_log },
	{ "feedback", "", "Counts the recipients' feedback on signals, per rule and outcome.",
	  NULL, cmd_feedback },
	{ "serve", "[--port N]", "The daemon: the HTTPS API with mutual TLS (docs/api.md).\n"
	  "SIGTERM finishes requests in flight and stops; SIGHUP reloads schakel.conf and the\n"
	  "TLS files.", "  --port N   listen on port N instead of [server] port (0: any free port)\n",
	  cmd_serve },
	{ "purge", "[--as-of YYYY-MM-DD]", "Deletes records, signals and delivered messages past "
	  "their [retention] period\n(the daemon does so daily).  The exchange log keeps its "
	  "metadata and hashes.", "  --as-of D   count the periods back from D (default today)\n",
	  cmd_purge },
	{ "inzage", "BSN [--format text|json] [--activity A] [--trace ID]", "An access request: "
	  "every exchange that concerned the person with this BSN\n(registrations and findings "
	  "received, signals raised, to whom they went and when,\neach disclosure of them, with "
	  "or without the BSN), found through the pseudonym;\nthe BSN is not stored.  Then every "
	  "processing of the person (Logboek\nDataverwerkingen): activity, time, party and trace.",
	  "  --format F     text (default) or json\n"
	  "  --activity A   only processings of this activity (its name or URI)\n"
	  "  --trace ID     only processings of this trace\n", cmd_inzage },
	{ "pull", "[SOURCE]", "Fetches every configured source (or SOURCE) once, now, as the "
	  "daemon does on its\nschedule: paged feeds to their end, with ETag and "
	  "If-Modified-Since.", NULL, cmd_pull },
	{ "deliveries", "[--failed] | retry ID|--all-failed", "Lists the delivery outbox "
	  "(pending, delivered, failed), or puts failed deliveries\nback in the queue; the "
	  "daemon sends them.", "  --failed        only the dead letters\n"
	  "  retry ID        send delivery ID again\n"
	  "  retry --all-failed   send every dead letter again\n", cmd_deliveries },
	{ "receive", "--dir DIR --cert PEM --key PEM --ca PEM --broker-cert PEM|--broker-oin OIN\n"
	  "        [--port N] [--crl PEM] [--delay MS]",
	  "The reference receiver: takes pushed signals over mutual TLS from the broker only,\n"
	  "verifies that the broker signed them and their schema, drops duplicates by\n"
	  "X-Message-Id, and stores each as DIR/<message id>.xml before it answers 201.",
	  "  --dir DIR       where to store signals\n"
	  "  --port N        port on 127.0.0.1 (default 9443; 0: any free port)\n"
	  "  --listen ADDR   address to listen on\n"
	  "  --cert, --key   the receiver's certificate and key (PEM)\n"
	  "  --ca PEM        trusted CA: for TLS clients (and signatures with --broker-oin)\n"
	  "  --broker-cert PEM   the broker's certificate: only a client with exactly this\n"
	  "                  certificate, and only signatures made with its key, are accepted\n"
	  "                  (the certificate a document carries is ignored)\n"
	  "  --broker-oin OIN    the broker's OIN: only a client, and a signer certificate of\n"
	  "                  --ca, with this OIN in the subject serialNumber are accepted\n"
	  "  --crl PEM       revoked certificates\n"
	  "  --refuse STATUS answer every request with STATUS (to test senders)\n"
	  "  --delay MS      hold each answer MS milliseconds (0-60000), and log how many\n"
	  "                  requests are open at once (to test senders)\n",
	  cmd_receive },
	{ "demo", "[--keep]", "Runs the whole pipeline on the bundled sample data in a "
	  "temporary data directory\nand ends with a table of the signals and their reasons.",
	  "  --keep   keep the temporary data directory and print its path\n", cmd_demo },
};

int cli_run(const char *dir, int argc, char **argv)
{
	const struct command *c = find_command(argv[0]);

	optind = 0;	/* GNU getopt: 0 starts a fresh scan */
	return c != NULL ? c->run(dir, argc, argv) : ST_USAGE;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_adapter(void *arg, const char *name)
{
	(void)arg;
	printf(" %s", name);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: schakel [-D DIR] COMMAND [ARGS]\n\n"
		"schakel is an exchange point between supervisory bodies: it ingests BRP,\n"
		"housing-register and inspection data, matches them and raises signals.\n\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].args);
	fprintf(f, "\noptions:\n"
		"  -D DIR     the data directory (default $SCHAKEL_DATA, else ./data)\n"
		"  --help     this text; `schakel COMMAND --help` for one command\n"
		"  --version  the version\n\n"
		"exit codes: 0 success, 1 failure (nothing changed), 2 usage error,\n"
		"3 ingest finished but some records were rejected\n");
	if (f == stdout) {
		printf("\nadapters in %s:", loader_adapter_dir());
		loader_list(print_adapter, NULL);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	const char *dir = getenv("SCHAKEL_DATA");
	const struct command *cmd;
	int c, rc;

	if (dir == NULL || *dir == '\0')
		dir = "data";
	umask(077);	/* the database, spool and keys are for the broker's eyes only */
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	while ((c = getopt_long(argc, argv, "+D:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return ST_OK;
		case 'V':
			printf("schakel %s (adapter ABI %d)\n", VERSION, ADAPTER_ABI_VERSION);
			return ST_OK;
		default:
			usage(stderr);
			return ST_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return ST_USAGE;
	}
	cmd = find_command(argv[optind]);
	if (cmd == NULL) {
		fprintf(stderr, "schakel: unknown command '%s'\n\n", argv[optind]);
		usage(stderr);
		return ST_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (wants_help(argc, argv)) {
		print_help(cmd);
		return ST_OK;
	}
	optind = 0;	/* GNU getopt: 0 starts a fresh scan of the command's arguments */
	/* OpenSSL sets itself up lazily, and a failed allocation there leaves it
	 * broken for the next caller: set it up now, and stop if it fails. */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
			     NULL) != 1 || OSSL_LIB_CTX_get0_global_default() == NULL) {
		fprintf(stderr, "schakel: the TLS library cannot start (out of memory?)\n");
		return ST_FAIL;
	}
	xml_init();
	rc = cmd->run(dir, argc, argv);
	xml_cleanup();
	return rc;
}
