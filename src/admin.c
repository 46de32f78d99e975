/*
 * admin.c - the operator's page, metrics and health (see admin.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "crypto.h"
#include "exlog.h"
#include "metrics.h"
#include "tls.h"

#define CERT_WARN_DAYS 30

static struct app *the_app;	/* the daemon's installation (one per process) */

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

static void check_cert(json_t *failures, json_t *warnings, const char *what, const char *name)
{
	char path[4096], msg[256];
	struct errbuf e;
	int days;

	if (name == NULL)
		return;
	tls_data_path(the_app->dir, name, path);
	if (tls_cert_days_left(path, &days, &e) != ST_OK) {
		json_array_append_new(failures, json_sprintf("%s: %s", what, e.msg));
		return;
	}
	snprintf(msg, sizeof(msg), "%s expires in %d days", what, days);
	if (days < 0)
		json_array_append_new(failures, json_sprintf("%s has expired", what));
	else if (days < CERT_WARN_DAYS)
		json_array_append_new(warnings, json_string(msg));
}

static void healthz(struct http_req *r)
{
	json_t *failures = json_array(), *warnings = json_array();
	struct keys keys;
	struct errbuf e;
	bool ok;

	if (store_check_writable(the_app->store, 250, &e) != ST_OK)
		json_array_append_new(failures, json_string(e.msg));
	if (crypto_keys_load(the_app->dir, &keys, &e) != ST_OK)
		json_array_append_new(failures, json_string(e.msg));
	crypto_keys_wipe(&keys);
	if (exlog_check_head(the_app->store, &e) != ST_OK)
		json_array_append_new(failures, json_sprintf("exchange log: %s", e.msg));
	check_cert(failures, warnings, "the broker's certificate", the_app->cfg.tls_cert);
	check_cert(failures, warnings, "the CA certificate", the_app->cfg.tls_ca);
	ok = json_array_size(failures) == 0;
	http_reply_json(r, ok ? 200 : 503, json_pack("{s:s, s:o, s:o}",
		"status", ok ? "ok" : "failing", "failures", failures, "warnings", warnings));
}

/* --- metrics ------------------------------------------------------------ */

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
	if (metrics_write(f, the_app->store, db, &e) != ST_OK) {
		fclose(f);
		free(buf);
		http_reply_error(r, 500, "%s", e.msg);
		return;
	}
	reply_stream(r, 200, "text/plain; version=0.0.4", f, &buf, &len);
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

static int log_json(void *arg, const struct exlog_row *row)
{
	return json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:o*}",
		"seq", (json_int_t)row->seq, "at", row->at, "kind", row->kind, "party", row->party,
		"subject", row->subject, "detail", json_loads(row->detail, 0, NULL)));
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
};

/* One table row of plain cells. */
static int row_cells(void *arg, int n, const char *const *cols)
{
	struct table *t = arg;

	t->rows++;
	fputs("<tr>", t->f);
	for (int i = 0; i < n; i++) {
		fputs(i == 0 ? "<th scope=\"row\">" : "<td>", t->f);
		html(t->f, cols[i] != NULL ? cols[i] : "0");
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
	html(x->f, x->who);
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

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n"
	"<title>schakel operator</title>\n<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
	"h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}\n"
	"table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 6px;"
	"text-align:right}th[scope=row]{text-align:left}td.none{color:#888;text-align:left}"
	"thead th{background:#eee}td.total{font-weight:bold}"
	"td.detail{text-align:left;font-family:monospace;font-size:12px}"
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
	"<table><thead><tr><th>seq</th><th>at</th><th>kind</th><th>party</th><th>subject</th>"
	"<th>detail</th></tr></thead><tbody id=\"logrows\"></tbody></table></section>\n"
	"<script>\n"
	"'use strict';\n"
	"function cell(tr, text, cls) { const td = document.createElement('td');"
	" td.textContent = text === null || text === undefined ? '-' : String(text);"
	" if (cls) td.className = cls; tr.appendChild(td); }\n"
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
	"    cell(tr, e.seq); cell(tr, e.at); cell(tr, e.kind); cell(tr, e.party);"
	" cell(tr, e.subject); cell(tr, JSON.stringify(e.detail), 'detail');\n"
	"    body.appendChild(tr);\n"
	"  }\n"
	"  document.getElementById('search').dataset.count = String(data.entries.length);\n"
	"}\n"
	"document.getElementById('logform').addEventListener('submit', search);\n"
	"search();\n"
	"</script>\n";

/* Writes the whole page to f; ST_FAIL when a report cannot be read. */
static enum status write_page(FILE *f, struct errbuf *e)
{
	struct exchanges x = { .f = f };
	struct table t = { f, 0 };
	char head[1024];
	size_t o;

	fputs(page_head, f);
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
	section(f, "backlog", "Delivery backlog per recipient", "<th>recipient</th>"
		"<th>waiting</th><th>oldest waiting (s)</th><th>failed</th><th>delivered</th>");
	if (store_report(the_app->store, REPORT_BACKLOG, row_cells, &t, e) != ST_OK)
		return ST_FAIL;
	section_end(f, t.rows, 5);

	t.rows = 0;
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

void admin_handler(struct app *app, struct http_handler *h)
{
	the_app = app;
	*h = (struct http_handler){ .begin = on_begin, .body = on_body, .end = on_end };
}
