/*
 * portal.c - the analyst's page (see portal.h).
 *
 * The page is static: the HTML names the party and carries, as a JSON data
 * block, its grant and the rules' thresholds; the script reads the party's
 * inbox and log through the API with the browser's client certificate and
 * posts feedback as JSON (which a cross-site form cannot send: api.c
 * answers 415 without Content-Type application/json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "portal.h"
#include "rule.h"

/* Every reply: nothing but this origin's script, style and API; no framing. */
#define PORTAL_HEADERS \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'\r\n" \
	"X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n" \
	"Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: same-origin\r\n"

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width\">\n"
	"<title>schakel &mdash; signals</title>\n"
	"<link rel=\"stylesheet\" href=\"/portal.css\"><link rel=\"icon\" href=\"/favicon.ico\">\n"
	"<script src=\"/portal.js\" defer></script>\n"
	"<script type=\"application/json\" id=\"config\">";

static const char page_body[] =
	"</script></head><body>\n"
	"<header><h1>Signals for <span id=\"party\"></span></h1><p id=\"who\"></p></header>\n"
	"<p id=\"error\" role=\"alert\" hidden></p>\n"
	"<main><section id=\"inbox\"><h2>Inbox</h2>\n"
	"<form id=\"filters\"><label>rule <select id=\"rule\"><option value=\"\">all</option>"
	"</select></label><label>state <select id=\"state\"><option value=\"\">all</option>"
	"</select></label></form>\n<p id=\"count\"></p>\n"
	"<table id=\"list\"><thead><tr><th>raised</th><th>rule</th><th>address</th>"
	"<th>registered / found</th><th>state</th></tr></thead><tbody id=\"rows\"></tbody>"
	"</table></section>\n"
	"<section id=\"detail\" hidden></section></main>\n"
	"<noscript><p>This page needs JavaScript; the same data is in GET /v1/signals.</p>"
	"</noscript>\n</body></html>\n";

static const char portal_js[] =
	"'use strict';\n"
	"// The analyst's page (src/portal.c): the party's signals from GET /v1/signals,\n"
	"// its own feedback from GET /v1/log, feedback posted as JSON.  Data is only\n"
	"// ever put in the page as text (textContent), never as HTML.\n"
	"const config = JSON.parse(document.getElementById('config').textContent);\n"
	"const RULE_WORDS = {\n"
	"  OVERBEWONING: 'overcrowding',\n"
	"  ONDERREGISTRATIE: 'under-registration',\n"
	"  ADRES_AFWIJKING: 'address mismatch',\n"
	"  GEEN_VERGUNNING: 'no landlord permit',\n"
	"};\n"
	"// The states of a signal for this party, in the filter's order; stateOf()\n"
	"// works them out.  A new state (a signal that ended) is one more line here\n"
	"// and one more test there.\n"
	"const STATES = [\n"
	"  ['open', 'open (no feedback yet)'],\n"
	"  ['in_behandeling', 'being handled'],\n"
	"  ['bevestigd', 'confirmed'],\n"
	"  ['onterecht', 'unfounded'],\n"
	"];\n"
	"const OUTCOMES = [\n"
	"  ['in_behandeling', 'being handled (in behandeling)'],\n"
	"  ['bevestigd', 'confirmed (bevestigd)'],\n"
	"  ['onterecht', 'unfounded (onterecht)'],\n"
	"];\n"
	"let signals = [];\n"
	"const feedback = new Map();\n"
	"\n"
	"function $(id) { return document.getElementById(id); }\n"
	"\n"
	"function el(tag, text, cls) {\n"
	"  const e = document.createElement(tag);\n"
	"  if (text !== undefined && text !== null) e.textContent = String(text);\n"
	"  if (cls) e.className = cls;\n"
	"  return e;\n"
	"}\n"
	"\n"
	"function option(value, text) {\n"
	"  const o = el('option', text);\n"
	"  o.value = value;\n"
	"  return o;\n"
	"}\n"
	"\n"
	"async function getJSON(url) {\n"
	"  const res = await fetch(url, { headers: { Accept: 'application/json' } });\n"
	"  const body = await res.json();\n"
	"  if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);\n"
	"  return body;\n"
	"}\n"
	"\n"
	"// Every item of a paged list of the API (signals or log entries).\n"
	"async function all(path, key) {\n"
	"  const out = [];\n"
	"  let after = 0;\n"
	"  for (;;) {\n"
	"    const page = await getJSON(path + '?limit=1000&after=' + after);\n"
	"    out.push(...page[key]);\n"
	"    if (page[key].length === 0 || page.next === after) return out;\n"
	"    after = page.next;\n"
	"  }\n"
	"}\n"
	"\n"
	"function stateOf(s) {\n"
	"  if (s.ended_on) return 'ended';\n"
	"  const f = feedback.get(s.id);\n"
	"  return f ? f.outcome : 'open';\n"
	"}\n"
	"\n"
	"function stateWords(st) {\n"
	"  const x = STATES.find((p) => p[0] === st);\n"
	"  return x ? x[1] : st;\n"
	"}\n"
	"\n"
	"function address(a) {\n"
	"  if (!a) return '-';\n"
	"  return a.postcode + ' ' + a.huisnummer + (a.huisletter || '') +\n"
	"    (a.huisnummertoevoeging ? '-' + a.huisnummertoevoeging : '');\n"
	"}\n"
	"\n"
	"function place(a) {\n"
	"  return address(a) + ' (gemeente ' + a.gemeentecode + ')';\n"
	"}\n"
	"\n"
	"function known(n, unit) {\n"
	"  return n === null || n === undefined ? 'unknown' : n + (unit ? ' ' + unit : '');\n"
	"}\n"
	"\n"
	"// Why the rule holds, in sentences, with the rule's thresholds.\n"
	"function reasons(s) {\n"
	"  const r = config.rules[s.rule] || {};\n"
	"  const w = config.window_days;\n"
	"  const out = [];\n"
	"  if (s.rule === 'OVERBEWONING') {\n"
	"    const p = Math.max(s.registered || 0, s.observed || 0);\n"
	"    out.push('Persons at the address: ' + p + ', the larger of ' + known(s.registered) +\n"
	"      ' registered in the BRP and ' + known(s.observed) + ' found by inspection in the ' + w +\n"
	"      ' days before ' + s.as_of + '.');\n"
	"    if (s.oppervlakte_m2 !== null && s.oppervlakte_m2 !== undefined) {\n"
	"      const room = Math.floor(s.oppervlakte_m2 / r.m2_per_person);\n"
	"      out.push('Floor area ' + s.oppervlakte_m2 + ' m²: room for ' + room + ' at ' +\n"
	"        r.m2_per_person + ' m² a person' + (p > room ? ' — ' + p + ' is more.' : '.'));\n"
	"    }\n"
	"    if (s.max_bewoners !== null && s.max_bewoners !== undefined)\n"
	"      out.push('The housing register allows at most ' + s.max_bewoners + ' residents' +\n"
	"        (p > s.max_bewoners ? ' — ' + p + ' is more.' : '.'));\n"
	"  } else if (s.rule === 'ONDERREGISTRATIE') {\n"
	"    out.push(known(s.observed) + ' persons found by inspection in the ' + w + ' days before ' +\n"
	"      s.as_of + ', ' + known(s.registered) + ' registered in the BRP: ' +\n"
	"      ((s.observed || 0) - (s.registered || 0)) + ' more than registered.');\n"
	"    out.push('The rule raises a signal from ' + r.min_gap + ' more on, in municipalities that deliver BRP data.');\n"
	"  } else if (s.rule === 'GEEN_VERGUNNING') {\n"
	"    out.push(known(s.observed) + ' persons found by inspection in the ' + w + ' days before ' +\n"
	"      s.as_of + '; the rule looks at addresses with ' + r.min_persons + ' or more.');\n"
	"    out.push('The housing register has no valid landlord permit for the address on ' + s.as_of +\n"
	"      (r.gemeenten && r.gemeenten.length ? ' (the rule applies in gemeente ' + r.gemeenten.join(', ') + ').' : '.'));\n"
	"  } else if (s.rule === 'ADRES_AFWIJKING') {\n"
	"    out.push('A person found at this address by inspection in the ' + w + ' days before ' +\n"
	"      s.as_of + ' is registered in the BRP at another address: ' + place(s.registered_address) + '.');\n"
	"  }\n"
	"  return out;\n"
	"}\n"
	"\n"
	"// One evidence item in words.\n"
	"function evidence(s, ev) {\n"
	"  if (ev.source === 'inspectie')\n"
	"    return 'Inspection finding ' + ev.record + ' (the inspectorate, at this address).';\n"
	"  if (ev.source === 'brp') {\n"
	"    const [pseudonym, since] = ev.record.split('/');\n"
	"    return 'BRP registration of person ' + pseudonym.slice(0, 12) + '… since ' + since +\n"
	"      (s.rule === 'ADRES_AFWIJKING' ? ' (at ' + address(s.registered_address) + ').' : ' (at this address).');\n"
	"  }\n"
	"  if (ev.source === 'huisvesting')\n"
	"    return 'Housing register entry for ' + ev.record + ': floor area ' +\n"
	"      known(s.oppervlakte_m2, 'm²') + (s.max_bewoners === null || s.max_bewoners === undefined\n"
	"      ? ', no maximum number of residents.' : ', at most ' + s.max_bewoners + ' residents.');\n"
	"  return ev.source + ' record ' + ev.record + '.';\n"
	"}\n"
	"\n"
	"function visible() {\n"
	"  const rule = $('rule').value, state = $('state').value;\n"
	"  return signals.filter((s) => (!rule || s.rule === rule) && (!state || stateOf(s) === state));\n"
	"}\n"
	"\n"
	"function renderList() {\n"
	"  const rows = $('rows'), shown = visible();\n"
	"  rows.replaceChildren();\n"
	"  for (const s of shown) {\n"
	"    const tr = el('tr');\n"
	"    tr.dataset.id = s.id;\n"
	"    tr.dataset.cursor = String(s.cursor);\n"
	"    tr.appendChild(el('td', s.as_of));\n"
	"    tr.appendChild(el('td', s.rule));\n"
	"    const td = el('td'), a = el('a', address(s.address));\n"
	"    a.href = '#signal=' + encodeURIComponent(s.id);\n"
	"    td.appendChild(a);\n"
	"    tr.appendChild(td);\n"
	"    tr.appendChild(el('td', known(s.registered) + ' / ' + known(s.observed), 'num'));\n"
	"    tr.appendChild(el('td', stateWords(stateOf(s)), 'state ' + stateOf(s)));\n"
	"    if (location.hash === '#signal=' + encodeURIComponent(s.id)) tr.className = 'current';\n"
	"    rows.appendChild(tr);\n"
	"  }\n"
	"  $('list').dataset.count = String(shown.length);\n"
	"  $('count').textContent = shown.length + ' of ' + signals.length + ' signals, newest first';\n"
	"}\n"
	"\n"
	"function field(dl, name, value) {\n"
	"  dl.appendChild(el('dt', name));\n"
	"  dl.appendChild(el('dd', value));\n"
	"}\n"
	"\n"
	"function feedbackForm(s) {\n"
	"  const form = el('form');\n"
	"  form.id = 'feedback';\n"
	"  const sel = el('select');\n"
	"  sel.name = 'outcome';\n"
	"  for (const [v, t] of OUTCOMES) sel.appendChild(option(v, t));\n"
	"  const note = el('textarea');\n"
	"  note.name = 'note';\n"
	"  note.maxLength = 2000;\n"
	"  note.rows = 3;\n"
	"  note.placeholder = 'note (optional, at most 2000 characters)';\n"
	"  const label = el('label', 'Outcome ');\n"
	"  label.appendChild(sel);\n"
	"  form.append(label, note, el('button', 'Give feedback'), el('p', '', 'message'));\n"
	"  form.addEventListener('submit', (ev) => {\n"
	"    ev.preventDefault();\n"
	"    give(s, sel.value, note.value, form.querySelector('.message'));\n"
	"  });\n"
	"  return form;\n"
	"}\n"
	"\n"
	"async function give(s, outcome, note, message) {\n"
	"  message.textContent = 'sending…';\n"
	"  try {\n"
	"    const res = await fetch('/v1/signals/' + encodeURIComponent(s.id) + '/feedback', {\n"
	"      method: 'POST',\n"
	"      headers: { 'Content-Type': 'application/json' },\n"
	"      body: JSON.stringify(note ? { outcome, note } : { outcome }),\n"
	"    });\n"
	"    const body = await res.json();\n"
	"    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);\n"
	"    feedback.set(s.id, { outcome, at: new Date().toISOString() });\n"
	"    renderList();\n"
	"    renderDetail();\n"
	"    $('feedback').querySelector('.message').textContent = 'Saved as feedback ' + body.feedback + '.';\n"
	"  } catch (e) {\n"
	"    message.textContent = 'Not saved: ' + e.message;\n"
	"  }\n"
	"}\n"
	"\n"
	"function renderDetail() {\n"
	"  const d = $('detail'), m = /^#signal=(.*)$/.exec(location.hash);\n"
	"  d.replaceChildren();\n"
	"  d.hidden = !m;\n"
	"  if (!m) return;\n"
	"  const id = decodeURIComponent(m[1]);\n"
	"  const s = signals.find((x) => x.id === id);\n"
	"  d.dataset.id = id;\n"
	"  if (!s) {\n"
	"    d.dataset.state = 'missing';\n"
	"    d.appendChild(el('h2', 'No such signal'));\n"
	"    d.appendChild(el('p', 'There is no signal ' + id + ' in the inbox of ' + config.party.name + '.'));\n"
	"    return;\n"
	"  }\n"
	"  d.dataset.state = stateOf(s);\n"
	"  d.appendChild(el('h2', s.rule + ' (' + (RULE_WORDS[s.rule] || s.rule) + ') at ' + address(s.address)));\n"
	"  const dl = el('dl');\n"
	"  field(dl, 'Address', place(s.address) + (s.address.nummeraanduiding_id ? ', BAG ' + s.address.nummeraanduiding_id : ''));\n"
	"  field(dl, 'Raised', s.as_of);\n"
	"  field(dl, 'State', stateWords(stateOf(s)) + (feedback.has(s.id) ? ' (your latest feedback)' : ''));\n"
	"  if (s.person) {\n"
	"    if (s.bsn) field(dl, 'Person (BSN)', s.bsn);\n"
	"    else field(dl, 'Person', 'pseudonym ' + s.person + ' (your grant does not include the BSN)');\n"
	"  }\n"
	"  field(dl, 'Signal', s.id);\n"
	"  field(dl, 'Recipients', s.recipients.join(', '));\n"
	"  d.appendChild(dl);\n"
	"  d.appendChild(el('h3', 'Why'));\n"
	"  const why = el('ul', null, 'why');\n"
	"  for (const t of reasons(s)) why.appendChild(el('li', t));\n"
	"  d.appendChild(why);\n"
	"  d.appendChild(el('h3', 'Evidence'));\n"
	"  const evl = el('ul', null, 'evidence');\n"
	"  for (const ev of s.evidence) evl.appendChild(el('li', evidence(s, ev)));\n"
	"  d.appendChild(evl);\n"
	"  d.appendChild(el('h3', 'Feedback'));\n"
	"  d.appendChild(feedbackForm(s));\n"
	"}\n"
	"\n"
	"function filters() {\n"
	"  for (const r of config.party.receives) $('rule').appendChild(option(r, r + ' (' + (RULE_WORDS[r] || r) + ')'));\n"
	"  for (const [v, t] of STATES) $('state').appendChild(option(v, t));\n"
	"  $('rule').addEventListener('change', renderList);\n"
	"  $('state').addEventListener('change', renderList);\n"
	"}\n"
	"\n"
	"async function main() {\n"
	"  $('party').textContent = config.party.name;\n"
	"  $('who').textContent = 'OIN ' + config.party.oin + (config.party.receive_bsn\n"
	"    ? '; your grant includes the BSN' : '; your grant does not include the BSN');\n"
	"  filters();\n"
	"  try {\n"
	"    const [list, log] = await Promise.all([all('/v1/signals', 'signals'), all('/v1/log', 'entries')]);\n"
	"    for (const e of log)\n"
	"      if (e.kind === 'feedback' && e.party === config.party.oin && e.detail)\n"
	"        feedback.set(e.subject, { outcome: e.detail.outcome, at: e.at });\n"
	"    signals = list.sort((a, b) => b.cursor - a.cursor);\n"
	"  } catch (e) {\n"
	"    $('error').textContent = 'Cannot read the inbox: ' + e.message;\n"
	"    $('error').hidden = false;\n"
	"  }\n"
	"  renderList();\n"
	"  renderDetail();\n"
	"  window.addEventListener('hashchange', () => { renderList(); renderDetail(); });\n"
	"  document.body.dataset.ready = '1';\n"
	"}\n"
	"\n"
	"main();\n";

static const char portal_css[] =
	"body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1d;background:#f6f6f4}\n"
	"header{background:#154273;color:#fff;padding:.8em 1.5em}\n"
	"header h1{font-size:1.3em;margin:0}header p{margin:.2em 0 0;color:#d6e0ec}\n"
	"main{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1.2em;padding:1.2em 1.5em}\n"
	"section{background:#fff;border:1px solid #ddd;padding:.8em 1em;min-width:0}\n"
	"h2{font-size:1.1em;margin:.2em 0 .6em}h3{font-size:1em;margin:1em 0 .3em}\n"
	"form#filters label{margin-right:1em}\n"
	"table{border-collapse:collapse;width:100%;margin-top:.6em}\n"
	"th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:left;overflow-wrap:anywhere}\n"
	"thead th{background:#eef1f5}td.num{text-align:right}\n"
	"tr.current td{background:#fff6d6}\n"
	"td.state.open{font-weight:bold}td.state.bevestigd{color:#0a6b2d}td.state.onterecht{color:#8a1c1c}\n"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em .8em;margin:0}\n"
	"dt{color:#555}dd{margin:0;overflow-wrap:anywhere}\n"
	"ul.why li,ul.evidence li{margin:.2em 0}\n"
	"form#feedback{display:grid;gap:.5em;max-width:32em}\n"
	"textarea{font:inherit;width:100%;box-sizing:border-box}\n"
	"button{font:inherit;padding:.3em 1em;justify-self:start}\n"
	"p.message{margin:0;color:#154273}\n"
	"p#error{color:#8a1c1c;padding:0 1.5em}\n"
	"@media (max-width:900px){main{grid-template-columns:1fr}}\n";


/* The icon (an SVG; browsers ask every origin for /favicon.ico). */
static const char portal_icon[] =
	"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
	"<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#154273\"/>"
	"<path d=\"M4 8h8M8 4v8\" stroke=\"#fff\" stroke-width=\"2\"/></svg>\n";

bool portal_serves(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/portal") == 0 ||
	       strcmp(path, "/portal.js") == 0 || strcmp(path, "/portal.css") == 0 ||
	       strcmp(path, "/favicon.ico") == 0;
}

/*
 * The page's data block: the party, its grant and the rules' thresholds.
 * Returns JSON text safe inside a <script> element (no '<', '>' or '&'),
 * which the caller frees; NULL when out of memory.
 */
static char *page_config(const struct config *cfg, const struct party *p)
{
	json_t *receives = json_array(), *gemeenten = json_array(), *o;
	char *text, *safe;
	size_t n = 0;

	for (int r = 0; r < RULE_COUNT; r++)
		if (p->receives & RULE_BIT(r))
			json_array_append_new(receives, json_string(rule_name((enum rule)r)));
	for (size_t i = 0; i < cfg->permit_gemeenten.n; i++)
		json_array_append_new(gemeenten, json_string(cfg->permit_gemeenten.v[i]));
	o = json_pack("{s:{s:s, s:s, s:b, s:o}, s:i, s:{s:{s:i}, s:{s:i}, s:{s:i, s:o}, s:{}}}",
		"party", "oin", p->oin, "name", p->name != NULL ? p->name : p->oin,
		"receive_bsn", p->receive_bsn, "receives", receives,
		"window_days", cfg->window_days,
		"rules", "OVERBEWONING", "m2_per_person", cfg->m2_per_person,
		"ONDERREGISTRATIE", "min_gap", cfg->min_gap,
		"GEEN_VERGUNNING", "min_persons", cfg->min_persons, "gemeenten", gemeenten,
		"ADRES_AFWIJKING");
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	safe = text != NULL ? malloc(strlen(text) * 6 + 1) : NULL;
	for (const char *c = text; safe != NULL && *c; c++) {
		if (*c == '<' || *c == '>' || *c == '&')
			n += (size_t)sprintf(safe + n, "\\u%04x", (unsigned)*c);
		else
			safe[n++] = *c;
	}
	if (safe != NULL)
		safe[n] = '\0';
	free(text);
	return safe;
}

static void reply_page(struct http_req *r, const struct config *cfg, const struct party *p)
{
	char *data = page_config(cfg, p), *buf = NULL;
	size_t len = 0;
	FILE *f = data != NULL ? open_memstream(&buf, &len) : NULL;

	if (f == NULL) {
		free(data);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	fputs(page_head, f);
	fputs(data, f);
	fputs(page_body, f);
	fclose(f);
	http_reply_headers(r, 200, "text/html; charset=utf-8", PORTAL_HEADERS, buf, len);
	free(buf);
	free(data);
}

void portal_reply(struct http_req *r, const struct config *cfg, const struct party *p)
{
	const char *path = http_req_path(r);

	if (strcmp(path, "/portal.js") == 0)
		http_reply_headers(r, 200, "text/javascript; charset=utf-8", PORTAL_HEADERS,
				   portal_js, sizeof(portal_js) - 1);
	else if (strcmp(path, "/favicon.ico") == 0)
		http_reply_headers(r, 200, "image/svg+xml", PORTAL_HEADERS, portal_icon,
				   sizeof(portal_icon) - 1);
	else if (strcmp(path, "/portal.css") == 0)
		http_reply_headers(r, 200, "text/css; charset=utf-8", PORTAL_HEADERS,
				   portal_css, sizeof(portal_css) - 1);
	else
		reply_page(r, cfg, p);
}
