#!/bin/bash
# The operator's page in a real headless Chromium (Debian's chromium
# package, installed here when missing): the daemon with data (the four
# fixtures uploaded, matched, deliveries to a receiver and retries against
# one answering 503, a refusal, feedback), its page loaded with --dump-dom,
# and the numbers in the DOM compared with what /metrics and /api/log say.
#
# Needs curl, openssl, jq, sqlite3, python3 and chromium; skipped when
# chromium cannot be installed.
. "$(dirname "$0")/lib.sh"

if ! command -v chromium >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y chromium ||
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; } \
		>"$TMP/apt.log" 2>&1 || { echo "# apt-get install chromium failed:"; tail -3 "$TMP/apt.log" | sed 's/^/#   /'; }
fi
# shellcheck disable=SC2034
NEEDS="curl openssl jq sqlite3 python3 chromium node"	# read by operator/common.sh
. "$E2E/operator/common.sh"

DOM() {	# DOM FILE: the page's tables as tab-separated lines (operator/dom.py)
	python3 "$E2E/operator/dom.py" "$1"
}

# chromium_dump URL OUT ERR: headless Chromium's DOM of URL after its
# scripts ran (5 s of virtual time), stderr with the console messages.
chromium_dump() {
	local profile
	profile=$(mktemp -d "$TMP/chromium-XXXXXX")
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --enable-logging=stderr --v=0 \
		--virtual-time-budget=5000 --dump-dom "$1" >"$2" 2>"$3"
}

# console_errors ERR: the console messages and load failures Chromium logged.
console_errors() {
	grep -E 'Uncaught|ERROR:CONSOLE|:CONSOLE|Failed to load resource' "$1"
}

# --- the daemon, its data, the page -------------------------------------------
#
# Built once: the later tests look at what this one saved in $DASH.
DASH=$TMP/dash

test_daemon_with_data_and_the_page_in_chromium() {
	mkdir -p "$DASH"
	D=$DASH/data
	setup
	receiver
	good=$RPORT
	receiver --refuse 503
	busy=$RPORT
	parties "https://127.0.0.1:$good/westland" "https://127.0.0.1:$busy/nla"
	conf_set delivery backoff_initial 3600	# one attempt each: a stable backlog
	conf_set delivery backoff_max 3600
	conf_set log checkpoint_interval 2	# a signed checkpoint for the status lines
	serve
	want 401 - /v1/signals	# a client without a certificate: counted, logged at the
	stop "$SPID"		# stop (at most one entry a minute per source and cause)
	serve
	upload $W brp "$FIX/brp-npsLa01.xml"
	upload $V brp "$FIX/brp-venlo-npsLa01.xml"
	upload $N huisvesting "$FIX/huisvesting.csv"
	upload $N inspectie "$FIX/inspectie.json"
	want 403 $V /v1/uploads/inspectie --data-binary "@$FIX/inspectie.json"
	long=$(printf 'a-very-long-path-segment-%.0s' $(seq 12))
	want 404 $W "/v1/$long"	# a long subject for the log table to fit
	[ "$(db 'SELECT count(*) FROM signal')" -eq 6 ] || fail "$(db 'SELECT count(*) FROM signal') signals, expected 6"
	ob=$(signal_id OVERBEWONING 2671AB)
	gv=$(signal_id GEEN_VERGUNNING 2671AC)
	want 201 $W "/v1/signals/$ob/feedback" -H "Content-Type: application/json" --data '{"outcome": "bevestigd"}'
	want 201 $N "/v1/signals/$ob/feedback" -H "Content-Type: application/json" --data '{"outcome": "onterecht", "note": "te laat"}'
	want 201 $W "/v1/signals/$gv/feedback" -H "Content-Type: application/json" --data '{"outcome": "in_behandeling"}'
	until_ 20 all_delivered_to $W || fail "Westland's deliveries not delivered in 20 s"
	until_ 20 all_attempted $N || fail "the inspectorate's deliveries not attempted in 20 s"
	sleep 0.5
	head_signed() { [ "$(db 'SELECT max(seq) FROM checkpoint')" = "$(db 'SELECT max(seq) FROM exlog')" ]; }
	until_ 20 head_signed || fail "the log's head was not signed in 20 s"
	[ "$(admin / "$DASH/page.html")" = 200 ] || fail "GET /: $(head -c 300 "$DASH/page.html")"
	curl -sS -o /dev/null -D "$DASH/page.headers" "http://127.0.0.1:$APORT/"
	scrape
	cp metrics "$DASH/metrics.before"
	[ "$(admin /api/log "$DASH/apilog.json")" = 200 ] || fail "GET /api/log"
	admin /healthz "$DASH/healthz.json" >/dev/null
	db "SELECT sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) || ' pending, ' || sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) || ' failed' FROM delivery" >"$DASH/queue"
	db "SELECT max(seq) FROM checkpoint" >"$DASH/checkpoint"
	t0=$(date +%s%N)
	chromium_dump "http://127.0.0.1:$APORT/" "$DASH/dom.html" "$DASH/chromium.err"
	rc=$?
	echo "$(( ($(date +%s%N) - t0) / 1000000 ))" >"$DASH/ms"
	echo "$rc" >"$DASH/rc"
	scrape
	cp metrics "$DASH/metrics"
	for q in "kind=upload&party=$W" "kind=upload&party=$V" "kind=upload&party=$N" \
		"kind=refusal&party=$V" "kind=delivery&party=$W" "kind=delivery&party=$N" \
		"kind=feedback&party=$W" "kind=feedback&party=$N" "kind=refusal" "kind=reject" "status=retry"; do
		admin "/api/log?$q" "$DASH/api.${q//[&=]/_}.json" >/dev/null
	done
	db "SELECT oin, count(*) FROM delivery WHERE state = 'pending' GROUP BY oin" >"$DASH/pending"
	# Nothing changed while Chromium looked: the page and the API saw the same
	# (the worker threads' counts move with the checkpoint timer).
	diff <(grep -v '_seconds\|_bytes\|schakel_work_' "$DASH/metrics.before") \
		<(grep -v '_seconds\|_bytes\|schakel_work_' "$DASH/metrics") >/dev/null ||
		fail "the figures changed while Chromium loaded the page"
	NODE_DIR=$ROOT/tests/node
	[ -d "$NODE_DIR/node_modules" ] || (cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$DASH/npm.log" 2>&1
	timeout 120 node "$NODE_DIR/page-shot.mjs" "http://127.0.0.1:$APORT/" "$DASH/dashboard.png" 1400 1900 \
		>"$DASH/fit.json" 2>"$DASH/fit.err" || fail "the page in Playwright: $(tail -5 "$DASH/fit.err")"
	[ -n "${SCHAKEL_SCREENSHOTS:-}" ] && cp "$DASH/dashboard.png" "$SCHAKEL_SCREENSHOTS/dashboard.png"
	touch "$DASH/ready"
}

saved() {	# the saved page is there, or this test fails
	[ -f "$DASH/ready" ] || fail "no page (the first test failed)"
	cd "${D%/data}" || fail "no test directory"
}

# --- the tests -----------------------------------------------------------------

test_console_check_sees_an_error() {
	# Calibration: a page with an uncaught error is seen by console_errors.
	chromium_dump 'data:text/html,<p id="x">x</p><script>document.getElementById("x").dataset.ran = "1"; no_such_function();</script>' dom err ||
		fail "chromium failed on a data: URL: $(grep -v dbus err | tail -3)"
	grep -q 'data-ran="1"' dom || fail "the script did not run: $(cat dom)"
	console_errors err | grep -q 'Uncaught ReferenceError' || fail "the uncaught error was not seen: $(grep -v dbus err | tail -3)"
}

test_page_loads_in_chromium_without_console_errors() {
	saved
	[ "$(cat "$DASH/rc")" -eq 0 ] || fail "chromium exit $(cat "$DASH/rc"): $(grep -v dbus "$DASH/chromium.err" | tail -5)"
	grep -q '</html>' "$DASH/dom.html" || fail "no DOM dumped"
	grep -q '<title>schakel operator</title>' "$DASH/dom.html" || fail "not the operator page"
	if console_errors "$DASH/chromium.err" >errs; then
		fail "console: $(head -5 errs)"
	fi
	grep -qi '^Content-Type: text/html; charset=utf-8' "$DASH/page.headers" || fail "Content-Type: $(grep -i content-type "$DASH/page.headers")"
	note "Chromium dumped the page in $(cat "$DASH/ms") ms, $(wc -c <"$DASH/dom.html") bytes of DOM"
}

test_page_has_no_external_urls_or_assets() {
	saved
	grep -oiE '(https?:)?//[^"'"'"' <>)]+' "$DASH/page.html" | grep -vE "^http://127\.0\.0\.1:[0-9]+/(metrics|healthz)$" >ext &&
		fail "external URLs in the page: $(head -5 ext | xargs)"
	grep -oiE '<(script|img|iframe|link|embed|object|source)[^>]*(src|href)=[^>]*>' "$DASH/page.html" >assets &&
		fail "assets loaded: $(head -3 assets)"
	grep -qiE '@import|url\(' "$DASH/page.html" && fail "the style loads something"
	grep -q 'href="/metrics"' "$DASH/page.html" || fail "no link to /metrics"
	grep -q 'href="/healthz"' "$DASH/page.html" || fail "no link to /healthz"
	# Chromium fetched nothing but the page and /api/log.
	grep -iE 'net::ERR|Failed to load' "$DASH/chromium.err" >neterr && fail "$(head -3 neterr)"
	true
}

test_signals_per_rule_table_equals_metrics() {
	saved
	DOM "$DASH/dom.html" | awk -F'\t' '$1 == "signals"' >rows
	[ -s rows ] || fail "no signals table in the DOM"
	rules=$(grep -c '^schakel_signals_total{' "$DASH/metrics")
	[ "$(wc -l <rows)" -eq "$rules" ] || fail "$(wc -l <rows) rows for $rules rules in /metrics"
	for rule in OVERBEWONING ONDERREGISTRATIE ADRES_AFWIJKING GEEN_VERGUNNING; do
		m=$(metric "schakel_signals_total{rule=\"$rule\"}" "$DASH/metrics")
		r=$(awk -F'\t' -v r="$rule" '$3 == r' rows)
		[ -n "$r" ] || fail "no row for $rule"
		[ "$(echo "$r" | cut -f4)" = "$m" ] || fail "$rule: the page shows $(echo "$r" | cut -f4) signals, /metrics $m"
		col=5
		for outcome in bevestigd onterecht in_behandeling; do
			f=$(metric "schakel_feedback_total{rule=\"$rule\",outcome=\"$outcome\"}" "$DASH/metrics")
			[ "$(echo "$r" | cut -f$col)" = "${f:-0}" ] ||
				fail "$rule $outcome: the page shows $(echo "$r" | cut -f$col), /metrics ${f:-0}"
			col=$((col + 1))
		done
	done
	# And the known feedback: OVERBEWONING 1 bevestigd 1 onterecht, GEEN_VERGUNNING 1 in behandeling.
	grep -qP '^signals\t-\tOVERBEWONING\t2\t1\t1\t0$' rows || fail "OVERBEWONING row: $(grep OVERBEWONING rows)"
	grep -qP '^signals\t-\tGEEN_VERGUNNING\t1\t0\t0\t1$' rows || fail "GEEN_VERGUNNING row: $(grep GEEN_VERGUNNING rows)"
	note "signals table: $(cut -f3- rows | tr '\t' ' ' | paste -sd';')"
}

test_backlog_table_equals_pending_deliveries() {
	saved
	DOM "$DASH/dom.html" | awk -F'\t' '$1 == "backlog"' >rows
	[ "$(wc -l <rows)" -eq 2 ] || fail "$(wc -l <rows) backlog rows, expected Westland and the inspectorate: $(cat rows)"
	for oin in $W $N; do
		r=$(awk -F'\t' -v o="$oin" 'index($3, o " ") == 1' rows)
		[ -n "$r" ] || fail "no backlog row for $oin"
		q=$(metric "schakel_delivery_queue_depth{recipient=\"$oin\"}" "$DASH/metrics")
		[ "$(echo "$r" | cut -f4)" = "${q:-0}" ] || fail "$oin: the page shows $(echo "$r" | cut -f4) waiting, /metrics ${q:-0}"
		d=$(metric "schakel_deliveries{recipient=\"$oin\",state=\"delivered\"}" "$DASH/metrics")
		[ "$(echo "$r" | cut -f7)" = "${d:-0}" ] || fail "$oin: the page shows $(echo "$r" | cut -f7) delivered, /metrics ${d:-0}"
		[ "$(echo "$r" | cut -f6)" = 0 ] || fail "$oin: failed deliveries on the page"
	done
	r=$(awk -F'\t' -v o="$N" 'index($3, o " ") == 1' rows)
	[ "$(echo "$r" | cut -f4)" = "$(awk -v o="$N" -F'|' '$1 == o { print $2 }' "$DASH/pending")" ] ||
		fail "the inspectorate's waiting count is not the outbox's"
	[ "$(echo "$r" | cut -f4)" -gt 0 ] || fail "nothing waiting for the inspectorate"
	age=$(echo "$r" | cut -f5)
	m=$(metric "schakel_delivery_oldest_pending_seconds{recipient=\"$N\"}" "$DASH/metrics")
	[ -n "$age" ] && [ -n "$m" ] && [ $((m - age)) -ge 0 ] && [ $((m - age)) -le 10 ] ||
		fail "oldest waiting: the page $age s, /metrics (later) $m s"
	r=$(awk -F'\t' -v o="$W" '$3 == o " Gemeente Westland"' rows)
	[ "$(echo "$r" | cut -f4)" = 0 ] || fail "Westland: $(echo "$r" | cut -f4) waiting, or no name beside the OIN: $(cut -f3 rows | xargs)"
	note "backlog: $(cut -f3- rows | tr '\t' ' ' | paste -sd';')"
}

test_log_search_table_filled_by_javascript() {
	saved
	n=$(jq '.entries | length' "$DASH/apilog.json")
	[ "$n" -gt 0 ] || fail "/api/log has no entries"
	[ "$n" -eq "$(D=$DASH/data; db 'SELECT count(*) FROM (SELECT seq FROM exlog LIMIT 200) AS newest')" ] || fail "/api/log has $n entries, the log more or fewer"
	# As served the table is empty; in the DOM the script filled it.
	DOM "$DASH/page.html" | awk -F'\t' '$2 == "logrows"' | grep -q . && fail "the served page already has log rows"
	DOM "$DASH/dom.html" | awk -F'\t' '$2 == "logrows"' >rows
	[ "$(wc -l <rows)" -eq "$n" ] || fail "$(wc -l <rows) rows in tbody#logrows, /api/log has $n"
	count=$(DOM "$DASH/dom.html" | awk -F'\t' '$1 == "@count" && $2 == "search" { print $3 }')
	[ "$count" = "$n" ] || fail "section#search data-count '$count', /api/log has $n"
	# Row by row: seq, kind, party, subject.
	jq -r '.entries[] | [.seq, .kind, ((.party // (if .kind == "refusal" then "unidentified" else "-" end)) + (if .party_name then " " + .party_name else "" end)), (.subject // "-")] | @tsv' "$DASH/apilog.json" >want
	cut -f3,5,6,7 rows >got
	diff want got >d || fail "the rows differ from /api/log: $(head -4 d)"
	# Parties by name beside the OIN.
	grep -qP "\t$W Gemeente Westland\t" got || fail "no party name in the log rows"
	note "log search: $n rows in tbody#logrows, data-count $count"
}

test_failures_and_exchanges_tables_equal_the_log() {
	saved
	DOM "$DASH/dom.html" >all.tsv
	awk -F'\t' '$1 == "failures"' all.tsv >fails
	refusals=$(jq '.entries | length' "$DASH/api.kind_refusal.json")
	rejects=$(jq '.entries | length' "$DASH/api.kind_reject.json")
	retries=$(jq '.entries | length' "$DASH/api.status_retry.json")
	[ "$refusals" -ge 1 ] && [ "$rejects" -eq 1 ] && [ "$retries" -gt 0 ] || fail "/api/log: $refusals refusals, $rejects rejects, $retries retries"
	[ "$(wc -l <fails)" -eq $((refusals + rejects + retries)) ] ||
		fail "$(wc -l <fails) failure rows, expected $refusals + $rejects + $retries"
	awk -F'\t' -v v="$V" '$5 == "refusal" && $6 == v " Gemeente Venlo"' fails | grep -q . || fail "Venlo's refusal (with its name) is not among the failures: $(cut -f5,6 fails | xargs)"
	[ "$(awk -F'\t' '$5 == "delivery"' fails | wc -l)" -eq "$retries" ] || fail "not every retry is among the failures"
	# Exchanges per party and kind: the total column equals /api/log's count.
	awk -F'\t' '$1 == "exchanges"' all.tsv >ex.tsv
	[ -s ex.tsv ] || fail "no exchanges table"
	for pk in "$W upload kind_upload_party_$W" "$V upload kind_upload_party_$V" "$N upload kind_upload_party_$N" \
		"$V refusal kind_refusal_party_$V" "$W delivery kind_delivery_party_$W" "$N delivery kind_delivery_party_$N" \
		"$W feedback kind_feedback_party_$W" "$N feedback kind_feedback_party_$N"; do
		set -- $pk
		want=$(jq '.entries | length' "$DASH/api.$3.json")
		r=$(awk -F'\t' -v p="$1" -v k="$2" 'index($3, p " ") == 1 && $4 == k' ex.tsv)
		[ -n "$r" ] || fail "no exchanges row for $1 $2 ($want in /api/log)"
		total=$(echo "$r" | awk -F'\t' '{ print $NF }')
		today=$(echo "$r" | awk -F'\t' '{ print $(NF - 1) }')
		[ "$total" = "$want" ] || fail "$1 $2: total $total on the page, $want in /api/log"
		[ "$today" = "$want" ] || fail "$1 $2: $today today on the page, $want in /api/log"
	done
	cols=$(head -1 ex.tsv | awk -F'\t' '{ print NF }')
	[ "$cols" -eq 19 ] || fail "an exchanges row has $cols cells, expected who, kind, 14 days, total"
}

test_status_lines_health_checkpoint_certificates_queue() {
	saved
	DOM "$DASH/dom.html" | awk -F'\t' '$1 == "status"' >rows
	health=$(awk -F'\t' '$3 == "health (as /healthz)" { print $4 }' rows)
	[ "$health" = "$(jq -r .status "$DASH/healthz.json")" ] || fail "health '$health' on the page, /healthz says $(cat "$DASH/healthz.json")"
	queue=$(awk -F'\t' '$3 == "work queue (outbox)" { print $4 }' rows)
	[ "$queue" = "$(cat "$DASH/queue")" ] || fail "work queue '$queue' on the page, the outbox has $(cat "$DASH/queue")"
	awk -F'\t' '$3 == "work queue (outbox)" { print $5 }' rows | grep -qE '^oldest due 20[0-9-]+T[0-9:]+Z \((in|overdue by) [0-9]+ s\)$' ||
		fail "no oldest due time: $(grep 'work queue' rows)"
	cp=$(awk -F'\t' '$3 == "last signed checkpoint"' rows)
	echo "$cp" | cut -f5 | grep -q "^entry $(cat "$DASH/checkpoint")," || fail "checkpoint: $cp, the database's last is $(cat "$DASH/checkpoint")"
	echo "$cp" | cut -f4 | grep -qE '^20[0-9-]+T[0-9:.]+Z$' || fail "no checkpoint time: $cp"
	for c in "the broker's certificate" "the CA certificate"; do
		awk -F'\t' -v c="$c" '$3 == c { print $4 }' rows | grep -qE '^expires in [0-9]+ days$' || fail "$c: $(grep "$c" rows)"
	done
	note "status: $(cut -f3,4 rows | tr '\t' '=' | paste -sd';')"
}

test_anonymous_refusals_are_unidentified_not_local() {
	saved
	DOM "$DASH/dom.html" >all.tsv
	anon=$(jq '[.entries[] | select(.party == null)] | length' "$DASH/api.kind_refusal.json")
	[ "$anon" -gt 0 ] || fail "no refusal without a party in the log"
	awk -F'\t' '$1 == "exchanges" && $3 ~ /^local/ && $4 == "refusal"' all.tsv | grep -q . && fail "refusals labelled local"
	awk -F'\t' '$1 == "exchanges" && $3 == "unidentified (no valid client certificate)" && $4 == "refusal"' all.tsv | grep -q . ||
		fail "no exchanges row for unidentified clients: $(awk -F'\t' '$1 == "exchanges"' all.tsv | cut -f3,4 | xargs)"
	awk -F'\t' '$1 == "failures" && $5 == "refusal" && index($6, "unidentified") == 1' all.tsv | grep -q . ||
		fail "the anonymous refusal is not labelled unidentified among the failures"
}

test_page_fits_a_1400_pixel_window() {
	saved
	jq -e '.scrollWidth <= .viewport and (.beyond | length) == 0 and (.console | length) == 0' "$DASH/fit.json" >/dev/null ||
		fail "the page does not fit 1400 px: $(cat "$DASH/fit.json")"
	# The long subject is cut or wrapped, and whole in the cell's title.
	grep -q 'a-very-long-path-segment-a-very-long-path-segment' "$DASH/dom.html" || fail "the long subject is not on the page"
	grep -q 'title="/v1/a-very-long-path-segment' "$DASH/dom.html" || fail "no title with the whole subject"
	note "scrollWidth $(jq .scrollWidth "$DASH/fit.json") px in a 1400 px window"
}

test_log_search_lists_newest_first() {
	saved
	DOM "$DASH/dom.html" | awk -F'\t' '$2 == "logrows" { print $3 }' >seqs
	[ "$(wc -l <seqs)" -gt 2 ] || fail "too few rows"
	sort -rn seqs | diff - seqs >/dev/null || fail "not newest first: $(head -5 seqs | xargs)"
	[ "$(head -1 seqs)" = "$(D=$DASH/data; db 'SELECT max(seq) FROM exlog')" ] || fail "the first row is not the newest entry"
}

tt "the daemon with data; its page loaded in headless Chromium" test_daemon_with_data_and_the_page_in_chromium
tt "calibration: the console check sees an uncaught error in Chromium" test_console_check_sees_an_error
tt "the operator page loads in Chromium without console errors" test_page_loads_in_chromium_without_console_errors
tt "the page has no external URLs or assets (links only to /metrics and /healthz)" test_page_has_no_external_urls_or_assets
tt "signals per rule with feedback: the page's numbers are /metrics' numbers" test_signals_per_rule_table_equals_metrics
tt "delivery backlog per recipient: waiting, oldest age and delivered as /metrics says" test_backlog_table_equals_pending_deliveries
tt "log search: tbody#logrows filled by JavaScript, data-count and rows equal /api/log" test_log_search_table_filled_by_javascript
tt "recent failures and exchanges per party: the page's rows equal /api/log's counts" test_failures_and_exchanges_tables_equal_the_log
tt "status: health as /healthz, the last checkpoint, certificate expiry, the work queue" test_status_lines_health_checkpoint_certificates_queue
tt "refusals of unidentified clients are labelled so, not local" test_anonymous_refusals_are_unidentified_not_local
tt "log search: newest entry first" test_log_search_lists_newest_first
tt "the page fits a 1400-pixel window; long log values are cut, whole in their title" test_page_fits_a_1400_pixel_window
