#!/bin/bash
# Pulling sources, end to end: `schakel pull` and `schakel serve` against
# tests/tools/testsource (a scripted HTTPS source with mutual TLS) on
# 127.0.0.1 with --port 0.  Paged feeds read to the end and resumed after
# an interruption or a SIGKILL, time-outs, 500s retried with backoff, ETag
# and 304, and refused data.
#
# Needs sqlite3.  The pages are in tests/e2e/pull/: the inspectie fixture
# split in three (feed, feed.p2, feed.p3) and a malformed page.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"

TESTSOURCE=${SCHAKEL_TESTSOURCE:-$ROOT/build/tests/testsource}
PAGES=$E2E/pull

MISSING=
command -v sqlite3 >/dev/null || MISSING=" sqlite3"
[ -x "$TESTSOURCE" ] || MISSING="$MISSING build/tests/testsource(make unit)"

# One PKI per script run, copied into each data directory.
PKI=$TMP/pki
if [ -z "$MISSING" ]; then
	"$ROOT/certs/mkcerts.sh" "$PKI" 00000001003214345000:NLA >/dev/null ||
		{ echo "Bail out! certs/mkcerts.sh failed"; exit 1; }
fi

# --- the installation and its source ---------------------------------------

# setup: a data directory with the PKI, a source directory $SRC with the
# three pages of the inspectie fixture and the register, and the test
# source running on it ($TPORT, its log $TLOG).
setup() {
	cd "${D%/data}" || fail "no test directory"
	sk init >/dev/null || fail "init failed"
	cp -r "$PKI" "$D/certs"
	SRC=$PWD/src
	mkdir -p "$SRC"
	cp "$PAGES"/feed "$PAGES"/feed.p2 "$PAGES"/feed.p3 "$SRC/"
	cp "$FIX/huisvesting.csv" "$SRC/register.csv"
	TLOG=$PWD/testsource.log
	launch "$TLOG" "$TESTSOURCE" --dir "$SRC" --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt"
	TPID=$LPID
	TPORT=$LPORT
}

# source NAME ADAPTER PATH [KEY=VALUE...]: adds [source.NAME] for PATH on the test source
source_() {
	local name=$1 adapter=$2 path=$3 kv; shift 3
	{
		printf '\n[source.%s]\nadapter = %s\nurl = https://127.0.0.1:%s/%s\ninterval = 10\n' \
			"$name" "$adapter" "$TPORT" "$path"
		for kv in "$@"; do
			printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
		done
	} >>"$D/schakel.conf"
}

SPID=
SLOG=
_serves=0
serve() {	# serve: starts the daemon; SPID, SLOG (serve.N.log)
	_serves=$((_serves + 1))
	SLOG=${D%/data}/serve.$_serves.log
	launch "$SLOG" "$SCHAKEL" -D "$D" serve --port 0
	SPID=$LPID
}

count() {	# count TABLE [WHERE]
	db "SELECT count(*) FROM $1 ${2:+WHERE $2}"
}
cursor() {
	db "SELECT coalesce(cursor, '') FROM source_state WHERE name = '${1:-inspectie}'"
}
# pulls OUTCOME [SOURCE]: the number of "pull" log entries with OUTCOME
pulls() {
	logcount ".subject == \"${2:-inspectie}\" and .detail.outcome == \"$1\"" --kind pull
}
is() {	# is WANT CMD...: CMD prints WANT
	[ "$("${@:2}")" = "$1" ]
}
# requests_since N: the test source's log after its line N, requests only
requests_since() {
	tail -n +"$(($1 + 1))" "$TLOG" | grep '^GET '
}

# --- tests -------------------------------------------------------------------

test_paged_feed_read_to_the_end() {
	setup
	source_ inspectie inspectie feed
	expect_rc 0 sk pull >out || fail "pull failed"
	contains out "inspectie: page 3: 1 accepted" || fail "no third page"
	[ "$(grep -c '^GET /feed' "$TLOG")" -eq 3 ] || fail "not 3 requests: $(grep GET "$TLOG")"
	grep -qx 'GET /feed?na=p3 -> 200' "$TLOG" || fail "page p3 not asked for"
	[ "$(count finding)" -eq 5 ] || fail "$(count finding) findings stored, expected 5"
	[ "$(cursor)" = p3 ] || fail "cursor '$(cursor)', expected p3"
	[ "$(pulls stored)" -eq 3 ] || fail "$(pulls stored) pull entries 'stored', expected 3"
	[ "$(count exlog "kind = 'pull'")" -eq 3 ] || fail "other pull entries than the 3"
	sk log verify >/dev/null || fail "log verify failed"
}

test_interrupted_feed_resumes_at_the_first_page_not_stored() {
	setup
	source_ inspectie inspectie feed
	mv "$SRC/feed.p2" "$SRC/feed.p3" .	# page 2 answers 404
	expect_rc 1 sk pull >out || fail "pull did not fail on a missing page"
	contains out "HTTP 404"
	[ "$(count finding)" -eq 2 ] || fail "$(count finding) findings after page 1, expected 2"
	[ "$(cursor)" = p2 ] || fail "cursor '$(cursor)' after page 1, expected p2"
	{ [ "$(pulls stored)" -eq 1 ] && [ "$(pulls failed)" -eq 1 ]; } || fail "log: $(pulls stored) stored, $(pulls failed) failed, expected 1 and 1"
	db "SELECT detail FROM exlog WHERE kind = 'pull' ORDER BY seq DESC LIMIT 1" | grep -q '"status":404' \
		|| fail "the failed pull is not logged with status 404"
	mv feed.p2 feed.p3 "$SRC/"
	n=$(wc -l <"$TLOG")
	expect_rc 0 sk pull >out || fail "the second pull failed"
	requests_since "$n" >second
	head -1 second | grep -qx 'GET /feed?na=p2 -> 200' || fail "the second pull began with $(head -1 second)"
	grep -q '^GET /feed -> ' second && fail "the second pull asked for page 1 again"
	[ "$(wc -l <second)" -eq 2 ] || fail "second pull: $(cat second)"
	[ "$(count finding)" -eq 5 ] || fail "$(count finding) findings, expected 5"
	[ "$(cursor)" = p3 ] || fail "cursor '$(cursor)', expected p3"
	[ "$(count ingest)" -eq 3 ] || fail "$(count ingest) pages stored, expected 3 (one each)"
	sk log verify >/dev/null || fail "log verify failed"
}

test_sigkill_mid_feed_resumes_without_storing_a_page_twice() {
	setup
	source_ inspectie inspectie feed
	echo 2 >"$SRC/feed.delay"	# each page answered after 2 s
	serve
	# Page 1 is stored and page 2 is in flight (asked, not answered yet).
	until_ 20 grep -qx 'GET /feed?na=p2 -> 200' "$TLOG" || fail "page 2 never asked for"
	[ "$(cursor)" = p2 ] || fail "cursor '$(cursor)' with page 2 in flight, expected p2"
	kill -KILL "$SPID"
	wait "$SPID" 2>/dev/null
	[ "$(count finding)" -eq 2 ] || fail "$(count finding) findings at the kill, expected 2"
	[ "$(count ingest)" -eq 1 ] || fail "page 2 was stored before the kill; the test needs it in flight"
	# The test source is restarted on its port before its delayed answer to
	# the dead connection is due: it keeps no abort handler, and answering a
	# request whose connection is gone crashes it (use after free).
	stop "$TPID"
	rm "$SRC/feed.delay"
	launch "$TLOG.2" "$TESTSOURCE" --dir "$SRC" --cert "$D/certs/server.crt" \
		--key "$D/certs/server.key" --ca "$D/certs/ca.crt" --port "$TPORT"
	cat "$TLOG.2" >>"$TLOG"
	TLOG=$TLOG.2
	n=$(wc -l <"$TLOG")
	start=$SECONDS
	serve
	# The restarted daemon waits for the source's next_at (interval 10 s).
	until_ 30 is p3 cursor || fail "the restarted daemon did not reach p3 (cursor '$(cursor)')"
	until_ 10 is 5 count finding || fail "$(count finding) findings, expected 5"
	stop "$SPID"
	note "resumed $((SECONDS - start)) s after the restart (the source's interval is 10 s)"
	requests_since "$n" >second
	head -1 second | grep -qx 'GET /feed?na=p2 -> 200' || fail "after the restart the first request was $(head -1 second)"
	grep -q '^GET /feed -> ' second && fail "page 1 was asked for again"
	# (The digest of each page read is in its "ingest" log entry: the ingest
	# table's digest column is left empty.)
	[ "$(logj .detail.digest --kind ingest | sort -u | wc -l)" -eq "$(count ingest)" ] \
		|| fail "a page was stored twice: $(logj .detail.digest --kind ingest)"
	[ "$(count ingest)" -eq 3 ] || fail "$(count ingest) pages stored, expected 3"
	[ "$(pulls stored)" -eq 3 ] || fail "$(pulls stored) 'stored' pull entries, expected 3"
	sk log verify >/dev/null || fail "log verify failed after the kill"
	note "spool files left by the killed daemon: $(find "$D/spool" -type f | wc -l)"
}

test_timeout_fails_that_source_and_not_the_others() {
	setup
	cp "$SRC/feed" "$SRC/slow"
	echo 3 >"$SRC/slow.delay"
	source_ slow inspectie slow timeout=1
	source_ register huisvesting register.csv
	start=$(date +%s%N)
	expect_rc 1 sk pull >out 2>&1 || fail "pull did not exit 1"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	note "round with a 1 s time-out against a 3 s delay: $ms ms"
	grep -qi 'slow: failed.*time' out || fail "no time-out message for slow"
	contains out "1 source failed"
	contains out "register: page 1: 6 accepted"
	# The register was stored while slow was still waiting.
	[ "$(grep -n 'register: page 1' out | cut -d: -f1)" -lt "$(grep -n 'slow: failed' out | cut -d: -f1)" ] \
		|| fail "the register was stored only after slow timed out"
	[ "$ms" -lt 3000 ] || fail "the round took $ms ms: the 1 s time-out did not hold"
	[ "$(pulls failed slow)" -eq 1 ] || fail "no 'failed' pull entry for slow"
	logj 'select(.subject == "slow") | .detail.error' --kind pull | grep -qi time \
		|| fail "the log entry does not say time-out"
	[ "$(pulls stored register)" -eq 1 ] || fail "no 'stored' pull entry for the register"
	[ "$(count dwelling)" -eq 6 ] || fail "$(count dwelling) dwellings stored, expected 6"
	[ "$(count finding)" -eq 0 ] || fail "slow's findings were stored"
}

test_500_twice_then_stored_by_the_daemon_with_backoff() {
	setup
	source_ register huisvesting register.csv
	echo 2 >"$SRC/register.csv.fail"
	start=$SECONDS
	serve
	until_ 40 is 6 count dwelling || fail "the register was not stored within 40 s ($(count dwelling) dwellings)"
	took=$((SECONDS - start))
	stop "$SPID"
	[ "$(grep -c '^GET /register.csv -> 500' "$TLOG")" -eq 2 ] || fail "not two 500s: $(grep GET "$TLOG")"
	[ "$(grep -c '^GET /register.csv -> 200' "$TLOG")" -eq 1 ] || fail "not one 200: $(grep GET "$TLOG")"
	logj '"\(.detail.outcome) \(.detail.status)"' --kind pull >outcomes
	printf 'failed 500\nfailed 500\nstored 200\n' | cmp -s - outcomes || fail "pull log: $(tr '\n' ',' <outcomes)"
	logj '.at | sub("\\.[0-9]+Z$"; "Z") | fromdate' --kind pull >ats
	gaps=$(awk 'NR > 1 { printf "%s%d", sep, $1 - prev; sep = " " } { prev = $1 }' ats)
	note "stored after $took s; seconds between the attempts: $gaps (backoff 5 s then 10 s, halved by jitter at most)"
	# The waits are whole seconds: 5 s halved by jitter at most (2-4 s), then
	# 10 s (5-10 s); the log's times are whole seconds too (+1).
	read -r g1 g2 <<<"$gaps"
	{ [ "$g1" -ge 2 ] && [ "$g1" -le 5 ]; } || fail "first retry after $g1 s, expected 2-5 s"
	{ [ "$g2" -ge 5 ] && [ "$g2" -le 11 ]; } || fail "second retry after $g2 s, expected 5-11 s"
}

test_etag_unchanged_register_304_reads_nothing() {
	setup
	source_ register huisvesting register.csv
	expect_rc 0 sk pull >out || fail "first pull failed"
	[ "$(count ingest)" -eq 1 ] || fail "the first pull stored nothing"
	[ -n "$(db "SELECT etag FROM source_state WHERE name = 'register'")" ] || fail "no ETag kept"
	expect_rc 0 sk pull >out || fail "second pull failed"
	contains out "register: not modified"
	tail -1 "$TLOG" | grep -qx 'GET /register.csv -> 304' || fail "the source did not answer 304: $(tail -1 "$TLOG")"
	[ "$(count ingest)" -eq 1 ] || fail "the unchanged register was read again"
	[ "$(pulls 'not modified' register)" -eq 1 ] || fail "no 'not modified' pull entry"
	logj .detail.bytes --kind pull | tail -1 | grep -qx 0 \
		|| fail "the 304 logged bytes read"
	echo '1783;;2671AE;1;;;Naaldwijk;70;woonfunctie;;;' >>"$SRC/register.csv"
	expect_rc 0 sk pull >out || fail "third pull failed"
	contains out "register: page 1: 7 accepted (1 new or changed)"
	tail -1 "$TLOG" | grep -qx 'GET /register.csv -> 200' || fail "the changed register was not sent"
	[ "$(count ingest)" -eq 2 ] || fail "the changed register was not read"
	[ "$(count dwelling)" -eq 7 ] || fail "$(count dwelling) dwellings, expected 7"
}

test_malformed_page_refused_nothing_stored_cursor_kept() {
	setup
	source_ inspectie inspectie feed
	cp "$PAGES/malformed" "$SRC/feed.p2"
	expect_rc 1 sk pull >out || fail "pull did not fail on a malformed page"
	grep -q 'inspectie: failed' out || fail "no failure reported"
	[ "$(count finding)" -eq 2 ] || fail "$(count finding) findings, expected page 1's 2 only"
	[ "$(count ingest)" -eq 1 ] || fail "$(count ingest) ingests, expected page 1's only"
	[ "$(cursor)" = p2 ] || fail "cursor '$(cursor)', expected p2 (not advanced)"
	[ "$(pulls failed)" -eq 1 ] || fail "no 'failed' pull entry"
	logj 'select(.detail.outcome == "failed") | .detail.error' --kind pull | grep -q 'line' || fail "the refusal does not say where"
	[ "$(count exlog "kind = 'reject'")" -ge 1 ] || fail "the refusal is not a 'reject' log entry"
	# Refused again, at the same page, next time.
	n=$(wc -l <"$TLOG")
	expect_rc 1 sk pull >out || fail "the second pull did not fail"
	requests_since "$n" | head -1 | grep -qx 'GET /feed?na=p2 -> 200' || fail "the second pull did not ask for p2"
	{ [ "$(count finding)" -eq 2 ] && [ "$(cursor)" = p2 ]; } || fail "the second pull changed the store"
	# And a feed whose very first page is malformed stores nothing at all.
	cp "$PAGES/malformed" "$SRC/first"
	source_ first inspectie first
	expect_rc 1 sk pull first >out || fail "pull first did not fail"
	[ "$(count finding)" -eq 2 ] || fail "the malformed first page stored findings"
	[ -z "$(cursor first)" ] || fail "a cursor was kept for the refused page: '$(cursor first)'"
	sk log verify >/dev/null || fail "log verify failed"
}

tt "a paged feed is read to the end: 5 findings, cursor p3, 3 'stored' pull entries" test_paged_feed_read_to_the_end
tt "an interrupted feed (404 on page 2) resumes at ?na=p2, not at page 1" test_interrupted_feed_resumes_at_the_first_page_not_stored
tt "SIGKILL of the daemon mid-feed: the restart resumes at p2, no page stored twice" test_sigkill_mid_feed_resumes_without_storing_a_page_twice
tt "a source past its time-out fails; the other source of the round is stored" test_timeout_fails_that_source_and_not_the_others
tt "500 twice then 200: the daemon retries with backoff and stores the register" test_500_twice_then_stored_by_the_daemon_with_backoff
tt "ETag: an unchanged register is 304 and read not again; a changed one is read" test_etag_unchanged_register_304_reads_nothing
tt "a malformed page is refused: nothing of it stored, logged, the cursor kept" test_malformed_page_refused_nothing_stored_cursor_kept
