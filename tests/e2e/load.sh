#!/bin/bash
# Load: 50 concurrent mutual-TLS clients (bench/loadgen.c, libcurl multi)
# upload a 20-person BRP file to `schakel serve` on 127.0.0.1 for ~20 s,
# spread over four parties (max_connections_per_party = 32, so 50
# connections are allowed).  Checks: every request got 200 (no transfer
# error, no other status), the daemon's exchange log has one "ingest" entry
# (kind "ingest", or "upload" where the API logs it so) per request the
# client sent, and the daemon's peak RSS (VmHWM) after the
# run is within 1.5x of its VmHWM after a 3 s warm-up with the same 50
# clients (memory flat).  The page cache is set to 2 MiB, which the
# warm-up fills: SQLite's cache grows with the database up to [store]
# cache_mib, and at some 2,000 uploads a second the database grows by tens
# of MB during the run; a bounded cache filling is not a leak.  Prints requests per second and p50/p90/p99
# latency as "# " lines; they are measured, not asserted.
#
#   LOAD_SECONDS=N LOAD_CLIENTS=C tests/e2e/load.sh
. "$(dirname "$0")/lib.sh"
. "$E2E/serve_lib.sh"

SECS=${LOAD_SECONDS:-20}
CLIENTS=${LOAD_CLIENTS:-50}
OINS="00000001000000000011 00000001000000000012 00000001000000000013 00000001000000000014"

MISSING=
for tool in gcc curl-config sqlite3 openssl; do
	command -v $tool >/dev/null || MISSING="$MISSING $tool"
done
if [ -n "$MISSING" ]; then
	echo "1..0 # SKIP missing:$MISSING"
	exit 0
fi

LOADGEN=$TMP/loadgen
gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -o "$LOADGEN" "$ROOT/bench/loadgen.c" -lcurl ||
	{ echo "Bail out! cannot build bench/loadgen.c"; exit 1; }
PKI=$TMP/pki
make_pki "$PKI" $OINS
"$ROOT/tests/tools/gen-brp.sh" 20 >"$TMP/upload-20.xml"

hwm() {	# the daemon's VmHWM in kB
	awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status"
}
ingests() {
	db "SELECT count(*) FROM exlog WHERE kind IN ('ingest', 'upload')"
}
get() {	# get KEY JSON
	echo "$2" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}

test_50_clients_no_request_lost_memory_flat() {
	serve_setup "$PKI"
	section_set server max_connections_per_party 32
	section_set server request_timeout 60
	section_set store cache_mib 2
	for o in $OINS; do
		party "$o" "Gemeente ${o: -2}" gemeenten=1783 supplies=brp receives=all
	done
	serve
	url=https://127.0.0.1:$PORT/v1/uploads/brp
	certs=()
	for o in $OINS; do certs+=("$D/certs/party-$o.crt:$D/certs/party-$o.key"); done
	# warm-up: the first upload stores the 20 persons and matches; then 3 s
	# with all the clients
	"$LOADGEN" "$url" "$TMP/upload-20.xml" "$D/certs/ca.crt" 1 1 10 "${certs[0]}" >warm1.json 2>warm1.err ||
		fail "first upload: $(cat warm1.json warm1.err)"
	"$LOADGEN" "$url" "$TMP/upload-20.xml" "$D/certs/ca.crt" "$CLIENTS" 1000000 3 "${certs[@]}" >warm.json 2>warm.err ||
		fail "warm-up: $(cat warm.json warm.err)"
	h0=$(hwm)
	n0=$(ingests)
	sent0=$(($(get requests "$(cat warm1.json)") + $(get requests "$(cat warm.json)")))
	[ "$n0" -eq "$sent0" ] || fail "warm-up: $sent0 requests, $n0 ingest entries"
	res=$(timeout $((SECS + 90)) "$LOADGEN" "$url" "$TMP/upload-20.xml" "$D/certs/ca.crt" "$CLIENTS" 1000000 "$SECS" "${certs[@]}" 2>run.err)
	rc=$?
	echo "$res"
	h1=$(hwm)
	n1=$(ingests)
	sent=$(get requests "$res")
	errors=$(get errors "$res")
	non200=$(get non_200 "$res")
	note "$CLIENTS clients, $(get seconds "$res") s: $sent requests, $(get rps "$res") req/s; latency p50 $(get p50_ms "$res") ms, p90 $(get p90_ms "$res") ms, p99 $(get p99_ms "$res") ms, max $(get max_ms "$res") ms; $(get connections "$res") connections"
	note "daemon VmHWM: $h0 kB after the warm-up, $h1 kB after the run"
	[ "$rc" -eq 0 ] && [ "$errors" = 0 ] && [ "$non200" = 0 ] ||
		fail "loadgen exit $rc, $errors transfer errors, $non200 not 200: $(head -5 run.err)"
	[ "$sent" -gt 0 ] || fail "no requests"
	[ $((n1 - n0)) -eq "$sent" ] || fail "the client sent $sent uploads, the daemon logged $((n1 - n0))"
	[ $((h1 * 2)) -le $((h0 * 3)) ] || fail "VmHWM grew from $h0 kB to $h1 kB (more than 1.5x)"
	kill -0 "$SPID" || fail "the daemon died"
	grep -q 'level=error' "$SLOG" && fail "errors in the daemon's log: $(grep -m3 'level=error' "$SLOG")"
	sk log verify >/dev/null || fail "log verify fails"
	[ "$(db 'SELECT count(*) FROM person')" -eq 20 ] || fail "not 20 persons"
}

t "$CLIENTS mutual-TLS clients uploading for $SECS s: all 200, none lost, memory flat" test_50_clients_no_request_lost_memory_flat
