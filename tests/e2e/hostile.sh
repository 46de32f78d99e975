#!/bin/bash
# The hostile input catalogue (tests as data): every line of
# tests/hostile/cases.txt is ingested into a fresh data directory and must
# be refused (or its one record rejected) with the expected exit code and a
# message that names the place, quickly (a 20 s timeout bounds it; it is not
# a timing assertion), with no person, dwelling or finding stored and the
# exchange log intact.  Inputs of 50 MB or more must be refused in far less
# memory than their size (peak RSS printed, below 32 MB).  The http: lines
# are sent to `schakel serve`.
#
#   tests/e2e/hostile.sh                    all cases
#   HOSTILE_CASES=REGEX tests/e2e/hostile.sh  only the matching files
#
# The big inputs are made by tests/hostile/gen.sh at run time (~430 MB in
# the script's temporary directory, removed at the end).
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

HOSTILE=$ROOT/tests/hostile
GEN=$TMP/gen
RSS_LIMIT_KB=$((32 * 1024))

MISSING=
for tool in sqlite3 curl openssl; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
[ -x /usr/bin/time ] || MISSING="$MISSING /usr/bin/time"
if [ -n "$MISSING" ]; then
	echo "1..0 # SKIP missing:$MISSING"
	exit 0
fi

"$HOSTILE/gen.sh" "$GEN" || { echo "Bail out! tests/hostile/gen.sh failed"; exit 1; }
# One initialised data directory, copied for each case.
TEMPLATE=$TMP/template
(D=$TEMPLATE; sk init >/dev/null) || { echo "Bail out! init failed"; exit 1; }

PKI=$TMP/pki
make_pki "$PKI" $W:Westland

# --- files --------------------------------------------------------------------

# no_bsn_shown FILE: FILE does not show the catalogue's BSN 999900006, with
# or without separators (dots, spaces, dashes, mixed).
no_bsn_shown() {
	! tr -d ' .\-_/,\t' <"$1" | grep -q 999900006
}

# stored: every stored record (and the address table), to compare.
stored() {
	db "SELECT * FROM address ORDER BY addr; SELECT pseudonym, begindatum, addr, gemeentecode,
	    digest FROM person ORDER BY pseudonym, begindatum; SELECT * FROM dwelling ORDER BY addr;
	    SELECT * FROM finding ORDER BY id"
}

# adapter_of FILE: the adapter of a file by its extension
adapter_of() {
	case $1 in *.xml) echo brp ;; *.csv) echo huisvesting ;; *.json) echo inspectie ;; esac
}

# ingest_case FILE ADAPTER EXIT TEXT (in a test's subshell).  FILE may be
# BEFORE>FILE: BEFORE (a file of tests/hostile/, its adapter told by its
# extension) is ingested first and must be stored whole; then FILE must
# change nothing of what it stored.
ingest_case() {
	local file=$1 adapter=$2 want=$3 text=$4 path rc size rss before= kept=0 extra=0
	case $want in *+*) extra=${want#*+}; want=${want%%+*} ;; esac
	case $file in *'>'*) before=$HOSTILE/${file%%>*}; file=${file#*>} ;; esac
	case $file in
	gen:*) path=$GEN/${file#gen:} ;;
	*) path=$HOSTILE/$file ;;
	esac
	[ -f "$path" ] || fail "no such file: $path"
	cp -a "$TEMPLATE" "$D" && fresh_db || fail "cannot copy the data directory"
	if [ -n "$before" ]; then
		sk ingest "$(adapter_of "$before")" "$before" >before.out 2>&1 ||
			fail "the file before the case was not stored: $(cat before.out)"
		kept=$(records)
		stored >stored.before
	fi
	size=$(stat -c %s "$path")
	/usr/bin/time -f %M -o rss timeout 20 "$SCHAKEL" -D "$D" ingest "$adapter" "$path" >out 2>&1
	rc=$?
	cat out | cut -c1-400
	[ "$rc" -ne 124 ] || fail "not refused within 20 s"
	[ "$rc" -eq "$want" ] || fail "exit $rc, expected $want"
	grep -qF -- "$text" out || fail "'$text' not in the output"
	! LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' out ||
		fail "a raw control character in the output: $(LC_ALL=C grep -aP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' out | od -c | head -3)"
	if [ "$want" -eq 1 ]; then
		grep -qF "refused, nothing stored" out || fail "no 'refused, nothing stored'"
		[ "$(db 'SELECT count(*) FROM ingest')" -eq $((kept > 0)) ] || fail "an ingest row was kept"
		[ "$(db "SELECT count(*) FROM exlog WHERE kind = 'reject'")" -ge 1 ] || fail "the refusal is not logged"
	elif [ "$want" -eq 0 ]; then
		grep -qF "(0 new or changed)" out || fail "something changed"
	else
		grep -qF ": $extra accepted" out || fail "not $extra accepted"
	fi
	[ "$(records)" -eq $((kept + extra)) ] || fail "$(($(records) - kept)) records were stored"
	if [ -n "$before" ] && [ "$extra" -eq 0 ]; then
		stored >stored.after
		cmp -s stored.before stored.after || fail "what was stored before changed:
$(diff stored.before stored.after)"
	fi
	no_bsn_shown out || fail "the output shows a BSN"
	db "SELECT detail FROM exlog" >exlog.txt
	no_bsn_shown exlog.txt || fail "the exchange log shows a BSN"
	sk log verify >/dev/null || fail "log verify fails"
	if [ "$size" -ge $((50 * 1024 * 1024)) ]; then
		rss=$(tail -1 rss)
		note "$file: $((size / 1048576)) MB input refused with peak RSS $rss kB"
		if [ -z "${SCHAKEL_SANITIZED:-}" ]; then
			[ "$rss" -lt "$RSS_LIMIT_KB" ] || fail "peak RSS $rss kB, limit $RSS_LIMIT_KB kB"
		fi
	fi
	return 0
}

# --- HTTP -----------------------------------------------------------------------

http_setup() {
	serve_setup "$PKI"
	section_set server request_timeout 2
	party $W "Gemeente Westland" gemeenten=1783 supplies=brp receives=all
	serve
}

spool_empty() {
	[ -z "$(ls -A "$D/spool")" ]
}

# slow-body: Content-Length 5000, 21 bytes, then silence for 6 s.
http_slow_body() {
	local want=$1 text=$2 t0 took
	http_setup
	t0=$(date +%s%N)
	{
		printf 'POST /v1/uploads/brp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n'
		printf '<?xml version="1.0"?>'
		sleep 6
	} | tls_raw $W >resp &
	until_ 10 test -s resp
	took=$((($(date +%s%N) - t0) / 1000000))
	wait $!
	head -1 resp | grep -q "^HTTP/1.1 $want " || fail "no $want: $(head -c 300 resp) $(cat s_client.err)"
	grep -qF -- "$text" resp || fail "'$text' not in $(cat resp)"
	[ "$(records)" -eq 0 ] || fail "records were stored"
	[ "$(db 'SELECT count(*) FROM ingest')" -eq 0 ] || fail "an ingest row was kept"
	[ "$(logcount '.detail.status == 408' --kind refusal)" -eq 1 ] ||
		fail "the 408 is not in the log"
	want 200 $W /v1/signals	# and the server goes on
	note "slow body (21 of 5000 bytes, then silence): 408 after $took ms"
	# A body that trickles (8 bytes a second, never silent for
	# request_timeout) is cut off by [server] min_body_rate: the body may
	# take request_timeout + Content-Length / min_body_rate seconds.
	t0=$(date +%s%N)
	{
		printf 'POST /v1/uploads/brp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n'
		for _ in $(seq 8); do printf '<!-- -->'; sleep 1; done
		sleep 4
	} | tls_raw $W >resp2 &
	until_ 20 test -s resp2
	took=$((($(date +%s%N) - t0) / 1000000))
	wait $!
	head -1 resp2 | grep -q "^HTTP/1.1 408 " || fail "no 408 for the trickle either: $(head -c 300 resp2)"
	grep -q "slower than" resp2 || fail "the trickle was not refused for its rate: $(cat resp2)"
	note "trickled body (8 B/s, then silence): 408 for its rate after $took ms"
	# The client has gone: the server must have dropped the half upload.
	until_ 5 spool_empty || fail "the half upload's spool file stayed after the 408s: $(ls -l "$D/spool" |
		tail -n +2) (open in the daemon: $(ls -l /proc/"$SPID"/fd 2>/dev/null | grep -c spool/))"
}

http_10000_headers() {
	local want=$1 text=$2
	http_setup
	for i in $(seq 10000); do echo "header = \"X-H$i: v\""; done >h.cfg
	want "$want" $W /v1/uploads/brp -K h.cfg --data-binary "@$FIX/brp-npsLa01.xml"
	grep -qF -- "$text" body || fail "'$text' not in $(cat body)"
	[ "$(records)" -eq 0 ] || fail "records were stored"
	want 200 $W /v1/signals
}

# A raw request (gen:http-*.req, tests/hostile/gen.sh): an upload framed
# wrongly, then a valid request on the same connection.  One reply, the
# expected status, the connection closed (the second request unanswered),
# nothing stored, no spool file left; the server goes on.
http_raw() {
	local file=$1 want=$2 text=$3
	http_setup
	tls_raw $W <"$GEN/${file#gen:}" >resp
	head -1 resp | grep -q "^HTTP/1.1 $want " || fail "no $want: $(head -c 300 resp) $(cat s_client.err)"
	grep -qF -- "$text" resp || fail "'$text' not in $(cat resp)"
	[ "$(grep -c '^HTTP/1.1 ' resp)" -eq 1 ] ||
		fail "more than one reply (the rest was read as another request): $(grep '^HTTP/1.1 ' resp)"
	grep -qi '^Connection: close' resp || fail "no Connection: close"
	[ "$(records)" -eq 0 ] || fail "records were stored"
	[ "$(db 'SELECT count(*) FROM ingest')" -eq 0 ] || fail "an ingest row was kept"
	until_ 5 spool_empty || fail "a spool file was left"
	want 200 $W /v1/signals
}

# --- the catalogue ------------------------------------------------------------------

n_cases=0
while read -r file adapter want text; do
	case $file in '' | '#'*) continue ;; esac
	[[ $file =~ ${HOSTILE_CASES:-.} ]] || continue
	text=${text#\"}
	text=${text%\"}
	n_cases=$((n_cases + 1))
	case $file in
	http:slow-body)
		_fn() { http_slow_body "$want" "$text"; } ;;
	http:10000-headers)
		_fn() { http_10000_headers "$want" "$text"; } ;;
	http:*)
		_fn() { fail "no such HTTP case: $file"; } ;;
	gen:http-*.req)
		_fn() { http_raw "$file" "$want" "$text"; } ;;
	*)
		_fn() { ingest_case "$file" "$adapter" "$want" "$text"; } ;;
	esac
	if [ "${want%%+*}" -ge 100 ]; then
		t "$file ($adapter): HTTP $want, \"$text\"" _fn
	elif [[ $want == *+* ]]; then
		t "$file ($adapter): exit ${want%%+*}, \"$text\", only the first of it stored" _fn
	else
		t "$file ($adapter): exit $want, \"$text\", nothing stored" _fn
	fi
done <"$HOSTILE/cases.txt"
[ "$n_cases" -gt 0 ] || { echo "not ok - no cases read from cases.txt"; exit 1; }
