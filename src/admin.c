/*
 * admin.c - the operator's page, metrics and health (see admin.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "admin.h"
#include "breaker.h"
#include "crypto.h"
#include "exlog.h"
#include "metrics.h"
#include "node.h"
#include "tls.h"

#define CERT_WARN_DAYS 30

static struct app *the_app;	/* the daemon's installation (one per process) */
static const struct deliverer *the_deliverer;	/* its deliverer, or NULL */
static struct work_pool *the_work;	/* its worker threads, or NULL */
static const struct node *the_node;	/* its node among several, or NULL */

/* Writes s HTML-escaped. */
static void html(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
		}
	}
}

/* Replies with what was written to a memory stream (closing it sets buf, len). */
static void reply_stream(struct http_req *r, int status, const char *type, FILE *f,
			 char **buf, size_t *len)
{
	fclose(f);
	http_reply(r, status, type, *buf, *len);
	free(*buf);
}

/* --- health ------------------------------------------------------------- */

/* The days until the certificate file name (of [server]) expires; path: where it is. */
static enum status cert_days(const char *name, char path[4096], int *days, struct errbuf *e)
{
	tls_data_path(the_app->dir, name, path);
	return tls_cert_days_left(path, days, e);
}

static void check_cert(json_t *failures, json_t *warnings, const char *what, const char *name)
{
	char path[4096], msg[256];
	struct errbuf e;
	int days;

	if (name == NULL)
		return;
	if (cert_days(name, path, &days, &e) != ST_OK) {
		json_array_append_new(failures, json_sprintf("%s: %s", what, e.msg));
		return;
	}
	snprintf(msg, sizeof(msg), "%s expires in %d days", what, days);
	if (days < 0)
		json_array_append_new(failures, json_sprintf("%s has expired", what));
	else if (days < CERT_WARN_DAYS)
		json_array_append_new(warnings, json_string(msg));
}

/* A warning when the data directory has less free space than [store] min_free_mib. */
static void check_space(json_t *warnings)
{
	struct statvfs sv;
	unsigned long long mib;

	if (the_app->cfg.min_free_mib <= 0 || statvfs(the_app->dir, &sv) != 0)
		return;
	mib = (unsigned long long)sv.f_bavail * sv.f_frsize / (1024ULL * 1024ULL);
	if (mib < (unsigned long long)the_app->cfg.min_free_mib)
		json_array_append_new(warnings, json_sprintf("only %llu MiB free in the data "
			"directory (min_free_mib = %d)", mib, the_app->cfg.min_free_mib));
}

/*
 * The checks of /healthz (and of the dashboard's health line): appends a
 * sentence per failure to failures and per warning to warnings.  Returns
 * true when nothing failed.
 */
static bool health_check(json_t *failures, json_t *warnings)
{
	struct keys keys;
	struct errbuf e;
	int held = the_deliverer != NULL ? deliverer_unrecorded(the_deliverer) : 0;

	/* The probe takes the loop's write turn; while a worker writes (an
	 * upload, a match), the daemon's writes are going on, and the probe
	 * would only wait behind them. */
	if (the_work == NULL || work_try_write(the_work)) {
		if (store_check_writable(the_app->store, 250, &e) != ST_OK)
			json_array_append_new(failures, json_string(e.msg));
		if (the_work != NULL)
			work_end_write(the_work);
	}
	if (held > 0)
		json_array_append_new(failures, json_sprintf("%d delivery outcomes cannot be "
			"recorded yet (kept in memory, tried again)", held));
	check_space(warnings);
	if (the_node != NULL && node_refusing(the_node) != NULL)
		json_array_append_new(failures, json_sprintf("refusing parties: %s",
							     node_refusing(the_node)));
	if (crypto_keys_load(the_app->dir, &keys, &e) != ST_OK)
		json_array_append_new(failures, json_string(e.msg));
	crypto_keys_wipe(&keys);
	if (exlog_check_head(the_app->store, &e) != ST_OK)
		json_array_append_new(failures, json_sprintf("exchange log: %s", e.msg));
	check_cert(failures, warnings, "the broker's certificate", the_app->cfg.tls_cert);
	check_cert(failures, warnings, "the CA certificate", the_app->cfg.tls_ca);
	return json_array_size(failures) == 0;
}

static void healthz(struct http_req *r)
{
	json_t *failures = json_array(), *warnings = json_array();
	char node[NODE_NAME_MAX];
	struct errbuf e;
	bool db = store_ping(the_app->store, &e) == ST_OK;
	bool ok = health_check(failures, warnings);

	if (!db) {
		json_array_append_new(failures, json_string(e.msg));
		ok = false;
	}
	node_name(&the_app->cfg, node);
	http_reply_json(r, ok ? 200 : 503, json_pack("{s:s, s:s, s:s, s:o, s:o}",
		"status", ok ? "ok" : "failing", "node", node, "database", db ? "ok" : e.msg,
		"failures", failures, "warnings", warnings));
}

/* --- metrics ------------------------------------------------------------ */

/* Replies the metrics in f (buf, len: its memstream) labelled with the node's name. */
static void reply_labelled(struct http_req *r, FILE *f, char **buf, size_t *len)
{
	char node[NODE_NAME_MAX], *out = NULL;
	size_t n = 0;
	FILE *o;

	fclose(f);
	o = open_memstream(&out, &n);
	if (o == NULL) {
		free(*buf);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	node_name(&the_app->cfg, node);
	metrics_label_node(o, *buf, *len, node);
	free(*buf);
	fclose(o);
	http_reply(r, 200, "text/plain; version=0.0.4", out, n);
	free(out);
}

static void metrics(struct http_req *r)
{
	char *buf = NULL, db[4300];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct errbuf e;

	if (f == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	snprintf(db, sizeof(db), "%s/%s", the_app->dir, the_app->cfg.database);
	if (metrics_write(f, the_app->store, db, &e) != ST_OK ||
	    metrics_write_deliverer(f, the_deliverer) != ST_OK) {
		fclose(f);
		free(buf);
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	metrics_write_work(f, the_work);
	reply_labelled(r, f, &buf, &len);
}

/* --- the log search ------------------------------------------------------ */

/* The value of query parameter name, URL-decoded into out; NULL if absent. */
static const char *param(const char *query, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);

	for (const char *p = query; p != NULL && *p;) {
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t o = 0;

			for (p += nl + 1; *p && *p != '&' && o + 1 < n; p++) {
				if (*p == '%' && p[1] && p[2]) {
					char hex[3] = { p[1], p[2], 0 };

					out[o++] = (char)strtol(hex, NULL, 16);
					p += 2;
				} else {
					out[o++] = *p == '+' ? ' ' : *p;
				}
			}
			out[o] = '\0';
			return o > 0 ? out : NULL;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* The configured name of the party with this OIN; NULL for none (or just the OIN). */
static const char *party_name(const char *oin)
{
	const struct party *p = oin != NULL ? config_party(&the_app->cfg, oin) : NULL;

	return p != NULL && p->name != NULL && strcmp(p->name, p->oin) != 0 ? p->name : NULL;
}

static int log_json(void *arg, const struct exlog_row *row)
{
	return json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s?, s:s*, s:s?, s:o*}",
		"seq", (json_int_t)row->seq, "at", row->at, "kind", row->kind, "party", row->party,
		"party_name", party_name(row->party), "subject", row->subject,
		"detail", json_loads(row->detail, 0, NULL)));
}

/* Whether the search's query is wrong (a 400 is sent): see exlog_filter_check(). */
static bool log_search_refused(struct http_req *r, const struct log_filter *f)
{
	static const char *const names[] = { "kind", "party", "source", "recipient", "status",
					     "since", "until", "id", NULL };
	struct errbuf e;

	if (http_query_check(r, names, 95) != 0)
		return true;
	if (exlog_filter_check(f, "", &e) != ST_OK) {
		http_reply_error(r, 400, "%s", e.msg);
		return true;
	}
	return false;
}

static void log_search(struct http_req *r)
{
	const char *q = http_req_query(r);
	char kind[96], party[96], source[96], recipient[96], status[96], since[96], until[96],
	     id[96];
	struct log_filter f = {
		.kind = param(q, "kind", kind, sizeof(kind)),
		.party = param(q, "party", party, sizeof(party)),
		.source = param(q, "source", source, sizeof(source)),
		.recipient = param(q, "recipient", recipient, sizeof(recipient)),
		.status = param(q, "status", status, sizeof(status)),
		.since = param(q, "since", since, sizeof(since)),
		.until = param(q, "until", until, sizeof(until)),
		.id = param(q, "id", id, sizeof(id)),
		.limit = 200,
		.newest_first = true,
	};
	json_t *list;
	struct errbuf e;

	if (log_search_refused(r, &f))
		return;
	list = json_array();
	if (store_log_search(the_app->store, &f, log_json, list, &e) != ST_OK) {
		json_decref(list);
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", "entries", list));
}

/* --- the dashboard ------------------------------------------------------- */

struct table {
	FILE *f;
	long rows;
	int party_col;		/* the column that holds a party's OIN, or -1 */
	int cut_from;		/* from this column on, long text: cut, whole as the title; or -1 */
};

/*
 * Writes who (a party's OIN, a source or adapter, "local" or
 * "unidentified" from the exchanges report, "-") for a cell: a party's OIN
 * with its configured name beside it.
 */
static void who_html(FILE *f, const char *who)
{
	const char *name = party_name(who);

	html(f, who);
	if (name != NULL) {
		fputs(" <span class=\"name\">", f);
		html(f, name);
		fputs("</span>", f);
	} else if (strcmp(who, "local") == 0) {
		fputs(" <span class=\"name\">(command line)</span>", f);
	} else if (strcmp(who, "unidentified") == 0) {
		fputs(" <span class=\"name\">(no valid client certificate)</span>", f);
	}
}

/* One table row of plain cells (see struct table). */
static int row_cells(void *arg, int n, const char *const *cols)
{
	struct table *t = arg;

	t->rows++;
	fputs("<tr>", t->f);
	for (int i = 0; i < n; i++) {
		const char *v = cols[i] != NULL ? cols[i] : "0";

		if (i == t->party_col && strcmp(v, "-") == 0 && n > 2 && cols[2] != NULL &&
		    strcmp(cols[2], "refusal") == 0)
			v = "unidentified";	/* a refusal without a party: not identified */
		if (t->cut_from >= 0 && i >= t->cut_from) {
			fprintf(t->f, "<td class=\"%s\" title=\"", i == n - 1 ? "cut detail" : "cut");
			html(t->f, v);
			fputs("\">", t->f);
		} else {
			fputs(i == 0 ? "<th scope=\"row\">" : "<td>", t->f);
		}
		if (i == t->party_col)
			who_html(t->f, v);
		else
			html(t->f, v);
		fputs(i == 0 ? "</th>" : "</td>", t->f);
	}
	fputs("</tr>\n", t->f);
	return 0;
}

/* The exchanges table: one row per (party or source, kind), one column per day. */
struct exchanges {
	FILE *f;
	char days[14][11];
	char who[96], kind[16];
	long counts[14];
	bool open;
	long rows;
};

static void exchanges_flush(struct exchanges *x)
{
	long total = 0;

	if (!x->open)
		return;
	fputs("<tr><th scope=\"row\">", x->f);
	who_html(x->f, x->who);
	fputs("</th><td>", x->f);
	html(x->f, x->kind);
	fputs("</td>", x->f);
	for (int d = 0; d < 14; d++) {
		fprintf(x->f, "<td>%ld</td>", x->counts[d]);
		total += x->counts[d];
	}
	fprintf(x->f, "<td class=\"total\">%ld</td></tr>\n", total);
	x->open = false;
	x->rows++;
}

static int exchanges_row(void *arg, int n, const char *const *c)
{
	struct exchanges *x = arg;

	if (n < 4 || c[0] == NULL || c[1] == NULL || c[2] == NULL)
		return 0;
	if (!x->open || strcmp(x->who, c[0]) != 0 || strcmp(x->kind, c[1]) != 0) {
		exchanges_flush(x);
		snprintf(x->who, sizeof(x->who), "%s", c[0]);
		snprintf(x->kind, sizeof(x->kind), "%s", c[1]);
		memset(x->counts, 0, sizeof(x->counts));
		x->open = true;
	}
	for (int d = 0; d < 14; d++)
		if (strcmp(x->days[d], c[2]) == 0)
			x->counts[d] = strtol(c[3], NULL, 10);
	return 0;
}

static void section(FILE *f, const char *id, const char *title, const char *head)
{
	fprintf(f, "<section id=\"%s\"><h2>%s</h2><table><thead><tr>%s</tr></thead><tbody>\n",
		id, title, head);
}

static void section_end(FILE *f, long rows, int cols)
{
	if (rows == 0)
		fprintf(f, "<tr><td colspan=\"%d\" class=\"none\">nothing yet</td></tr>\n", cols);
	fputs("</tbody></table></section>\n", f);
}

/* --- the status lines: what an operator checks first ---------------------- */

/* Keeps the checkpoint it is called with (the last one wins); no pointers. */
static int last_checkpoint(void *arg, const struct checkpoint_row *c)
{
	struct checkpoint_row *last = arg;

	*last = *c;
	last->signature = NULL;
	last->certificate = NULL;
	return 0;
}

/* One status row: a name, a value (with a state class) and a remark. */
static void status_row(FILE *f, const char *what, const char *cls, const char *value,
		       const char *remark)
{
	fprintf(f, "<tr><th scope=\"row\">%s</th><td class=\"%s\">", what, cls);
	html(f, value);
	fputs("</td><td class=\"remark\">", f);
	html(f, remark);
	fputs("</td></tr>\n", f);
}

/* The health line: the checks of /healthz, their failures and warnings. */
static void status_health(FILE *f)
{
	json_t *failures = json_array(), *warnings = json_array(), *v;
	bool ok = health_check(failures, warnings);
	char remark[2048] = "";
	size_t i, o = 0;

	json_array_foreach(failures, i, v)
		o += (size_t)snprintf(remark + o, o < sizeof(remark) ? sizeof(remark) - o : 0,
				      "%s%s", o ? "; " : "", json_string_value(v));
	json_array_foreach(warnings, i, v)
		o += (size_t)snprintf(remark + o, o < sizeof(remark) ? sizeof(remark) - o : 0,
				      "%swarning: %s", o ? "; " : "", json_string_value(v));
	status_row(f, "health (as /healthz)", ok ? "ok" : "failing", ok ? "ok" : "failing",
		   o ? remark : "every check passed");
	json_decref(failures);
	json_decref(warnings);
}

/* A certificate's line: the days until it expires. */
static void status_cert(FILE *f, const char *what, const char *name)
{
	char path[4096], value[64];
	struct errbuf e;
	int days;

	if (name == NULL)
		return;
	if (cert_days(name, path, &days, &e) != ST_OK) {
		status_row(f, what, "failing", "unreadable", e.msg);
		return;
	}
	snprintf(value, sizeof(value), days < 0 ? "expired %d days ago" : "expires in %d days",
		 days < 0 ? -days : days);
	status_row(f, what, days < 0 ? "failing" : days < CERT_WARN_DAYS ? "warn" : "ok", value,
		   path);
}

static int queue_row(void *arg, int n, const char *const *c)
{
	FILE *f = arg;
	char value[96], remark[160];
	long due = n > 3 && c[3] != NULL ? strtol(c[3], NULL, 10) : 0;

	if (n < 4)
		return 0;
	snprintf(value, sizeof(value), "%s pending, %s failed", c[0] ? c[0] : "0",
		 c[1] ? c[1] : "0");
	if (c[2] == NULL)
		snprintf(remark, sizeof(remark), "nothing due");
	else
		snprintf(remark, sizeof(remark), "oldest due %s (%s %ld s)", c[2],
			 due < 0 ? "overdue by" : "in", due < 0 ? -due : due);
	status_row(f, "work queue (outbox)", c[1] != NULL && strcmp(c[1], "0") != 0 ? "warn" : "ok",
		   value, remark);
	return 0;
}

/* The worker threads' line: their queue, and how long its oldest job has waited. */
static void status_work(FILE *f)
{
	struct work_stats w;
	char value[96], remark[160];

	if (the_work == NULL)
		return;
	work_pool_stats(the_work, &w);
	snprintf(value, sizeof(value), "%d waiting (at most %d), %d running", w.queued,
		 w.max_queued, w.running);
	if (w.queued > 0)
		snprintf(remark, sizeof(remark), "oldest waiting %.1f s; %d threads; %lu uploads "
			 "refused (503)", w.oldest_s, w.workers, w.refused);
	else
		snprintf(remark, sizeof(remark), "nothing waiting; %d threads; %lu uploads "
			 "refused (503)", w.workers, w.refused);
	status_row(f, "work queue (workers)", w.queued >= w.max_queued ? "warn" : "ok", value,
		   remark);
}

/* The status table at the top of the page. */
static enum status write_status(FILE *f, struct errbuf *e)
{
	struct checkpoint_row cp = { .seq = -1 };
	char value[64], remark[160];

	fputs("<section id=\"status\"><h2>Status</h2><table class=\"status\"><tbody>\n", f);
	status_health(f);
	if (store_checkpoints(the_app->store, last_checkpoint, &cp, e) != ST_OK)
		return ST_FAIL;
	if (cp.seq < 0) {
		status_row(f, "last signed checkpoint", "warn", "none yet",
			   "the daemon signs the chain head every [log] checkpoint_interval");
	} else {
		snprintf(value, sizeof(value), "%s", cp.at);
		snprintf(remark, sizeof(remark), "entry %lld, hash %.16s…", (long long)cp.seq,
			 cp.hash);
		status_row(f, "last signed checkpoint", "ok", value, remark);
	}
	status_cert(f, "the broker's certificate", the_app->cfg.tls_cert);
	status_cert(f, "the CA certificate", the_app->cfg.tls_ca);
	if (store_report(the_app->store, REPORT_QUEUE, queue_row, f, e) != ST_OK)
		return ST_FAIL;
	status_work(f);
	fputs("</tbody></table></section>\n", f);
	return ST_OK;
}

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n"
	"<title>schakel operator</title>\n<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
	"h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\n"
	"table{border-collapse:collapse;max-width:100%}th,td{border:1px solid #ccc;"
	"padding:2px 6px;text-align:right;overflow-wrap:break-word}"
	"th[scope=row]{text-align:left}td.none{color:#888;text-align:left}"
	"thead th{background:#eee}td.total{font-weight:bold}span.name{color:#555}"
	"td.cut{text-align:left;max-width:30em;white-space:nowrap;overflow:hidden;"
	"text-overflow:ellipsis}td.detail{font-family:monospace;font-size:12px}"
	"table.log{width:100%;table-layout:fixed}table.log td{text-align:left}"
	"table.log td.cut{max-width:none}"
	"table.status td{text-align:left}td.ok{color:#060}td.warn{color:#960;font-weight:bold}"
	"td.failing{color:#b00;font-weight:bold}td.remark{color:#444}"
	"form label{margin-right:.6em}\n</style></head><body>\n"
	"<h1>schakel &mdash; exchange point</h1>\n";

/* The log search: a form, and a little script that fills a table. */
static const char page_search[] =
	"<section id=\"search\"><h2>Log search</h2>\n<form id=\"logform\">"
	"<label>kind <input name=\"kind\" size=\"9\"></label>"
	"<label>party <input name=\"party\" size=\"22\"></label>"
	"<label>source <input name=\"source\" size=\"10\"></label>"
	"<label>status <input name=\"status\" size=\"9\"></label>"
	"<label>since <input name=\"since\" size=\"11\"></label>"
	"<label>id <input name=\"id\" size=\"20\"></label>"
	"<button type=\"submit\">search</button></form>\n"
	"<p>Newest first; the last 200 entries that match. A long value is cut: "
	"hover over it for the whole.</p>\n"
	"<table class=\"log\"><colgroup><col style=\"width:4em\"><col style=\"width:15.5em\">"
	"<col style=\"width:6.5em\"><col style=\"width:20em\"><col style=\"width:17em\"><col>"
	"</colgroup><thead><tr><th>seq</th><th>at</th><th>kind</th><th>party</th><th>subject</th>"
	"<th>detail</th></tr></thead><tbody id=\"logrows\"></tbody></table></section>\n"
	"<script>\n"
	"'use strict';\n"
	"function cell(tr, text, cls) { const td = document.createElement('td');"
	" td.textContent = text === null || text === undefined ? '-' : String(text);"
	" td.title = td.textContent; if (cls) td.className = cls; tr.appendChild(td); }\n"
	"async function search(ev) {\n"
	"  if (ev) ev.preventDefault();\n"
	"  const q = new URLSearchParams();\n"
	"  for (const el of document.getElementById('logform').elements)\n"
	"    if (el.name && el.value) q.set(el.name, el.value);\n"
	"  const res = await fetch('/api/log?' + q.toString());\n"
	"  const data = await res.json();\n"
	"  const body = document.getElementById('logrows');\n"
	"  body.replaceChildren();\n"
	"  for (const e of data.entries) {\n"
	"    const tr = document.createElement('tr');\n"
	"    cell(tr, e.seq); cell(tr, e.at); cell(tr, e.kind);"
	" cell(tr, e.party_name ? e.party + ' ' + e.party_name"
	" : e.party === null && e.kind === 'refusal' ? 'unidentified' : e.party);"
	" cell(tr, e.subject, 'cut'); cell(tr, JSON.stringify(e.detail), 'cut detail');\n"
	"    body.appendChild(tr);\n"
	"  }\n"
	"  document.getElementById('search').dataset.count = String(data.entries.length);\n"
	"}\n"
	"document.getElementById('logform').addEventListener('submit', search);\n"
	"search();\n"
	"</script>\n";

/* One row of the outage table: a recipient held down now. */
static void outage_row(void *arg, const struct breaker_state *st)
{
	struct table *t = arg;
	char since[32], attempts[24], failed[16], probe[24];
	const char *cols[] = { st->oin, since, attempts, failed, probe };
	time_t at = (time_t)st->since;
	struct tm tm;

	if (!st->down)
		return;
	strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%SZ", gmtime_r(&at, &tm));
	snprintf(attempts, sizeof(attempts), "%ld", st->attempts);
	snprintf(failed, sizeof(failed), "%d", st->failures);
	snprintf(probe, sizeof(probe), "%lld",
		 st->next_probe > time(NULL) ? (long long)(st->next_probe - time(NULL)) : 0LL);
	row_cells(t, 5, cols);
}

/* The recipients held down by the deliverer's circuit breaker. */
static void write_outages(FILE *f)
{
	struct table t = { f, 0, 0, -1 };

	section(f, "outages", "Recipients down (probed with one delivery at a time)",
		"<th>recipient</th><th>down since</th><th>attempts since</th>"
		"<th>failed in a row</th><th>next probe in (s)</th>");
	if (the_deliverer != NULL)
		breaker_each(deliverer_breakers(the_deliverer), outage_row, &t);
	section_end(f, t.rows, 5);
}

/* Writes the whole page to f; ST_FAIL when a report cannot be read. */
static enum status write_page(FILE *f, struct errbuf *e)
{
	struct exchanges x = { .f = f };
	struct table t = { f, 0, -1, -1 };
	char head[1024];
	size_t o;

	fputs(page_head, f);
	if (write_status(f, e) != ST_OK)
		return ST_FAIL;
	o = (size_t)snprintf(head, sizeof(head), "<th>party or source</th><th>kind</th>");
	for (int d = 0; d < 14; d++) {
		norm_date_from_days(time(NULL) / 86400 - 13 + d, x.days[d]);
		o += (size_t)snprintf(head + o, sizeof(head) - o, "<th>%s</th>", x.days[d] + 5);
	}
	snprintf(head + o, sizeof(head) - o, "<th>total</th>");
	section(f, "exchanges", "Exchanges per party and source, last 14 days", head);
	if (store_report(the_app->store, REPORT_EXCHANGES, exchanges_row, &x, e) != ST_OK)
		return ST_FAIL;
	exchanges_flush(&x);
	section_end(f, x.rows, 17);

	section(f, "signals", "Signals per rule, and the recipients' feedback", "<th>rule</th>"
		"<th>signals</th><th>bevestigd</th><th>onterecht</th><th>in behandeling</th>");
	if (store_report(the_app->store, REPORT_SIGNALS, row_cells, &t, e) != ST_OK)
		return ST_FAIL;
	section_end(f, t.rows, 5);

	t.rows = 0;
	t.party_col = 0;
	section(f, "backlog", "Delivery backlog per recipient", "<th>recipient</th>"
		"<th>waiting</th><th>oldest waiting (s)</th><th>failed</th><th>delivered</th>");
	if (store_report(the_app->store, REPORT_BACKLOG, row_cells, &t, e) != ST_OK)
		return ST_FAIL;
	section_end(f, t.rows, 5);
	write_outages(f);

	t.rows = 0;
	t.party_col = 3;
	t.cut_from = 4;	/* subject, detail */
	section(f, "failures", "Recent failures and refusals", "<th>seq</th><th>at</th>"
		"<th>kind</th><th>party</th><th>subject</th><th>detail</th>");
	if (store_report(the_app->store, REPORT_FAILURES, row_cells, &t, e) != ST_OK)
		return ST_FAIL;
	section_end(f, t.rows, 6);
	fputs(page_search, f);
	fputs("<p><a href=\"/metrics\">metrics</a> &middot; <a href=\"/healthz\">health</a></p>\n"
	      "</body></html>\n", f);
	return ST_OK;
}

static void dashboard(struct http_req *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct errbuf e;

	if (f == NULL) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	if (write_page(f, &e) != ST_OK) {
		fclose(f);
		free(buf);
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	reply_stream(r, 200, "text/html; charset=utf-8", f, &buf, &len);
}

/* --- routing ------------------------------------------------------------ */

static void on_begin(struct http_req *r)
{
	const char *path = http_req_path(r);

	if (strcmp(http_req_method(r), "GET") != 0)
		http_reply_error(r, 405, "the operator's listener only answers GET");
	else if (strcmp(path, "/") == 0)
		dashboard(r);
	else if (strcmp(path, "/metrics") == 0)
		metrics(r);
	else if (strcmp(path, "/healthz") == 0)
		healthz(r);
	else if (strcmp(path, "/api/log") == 0)
		log_search(r);
	else
		http_reply_error(r, 404, "no such page: %.100s", path);
}

static int on_body(struct http_req *r, const void *buf, size_t len)
{
	(void)buf;
	(void)len;
	http_reply_error(r, 400, "no request here takes a body");
	return -1;
}

static void on_end(struct http_req *r)
{
	(void)r;
}

void admin_set_deliverer(const struct deliverer *d)
{
	the_deliverer = d;
}

void admin_set_work(struct work_pool *p)
{
	the_work = p;
}

void admin_set_node(const struct node *n)
{
	the_node = n;
}

void admin_handler(struct app *app, struct http_handler *h)
{
	the_app = app;
	*h = (struct http_handler){ .begin = on_begin, .body = on_body, .end = on_end };
}
